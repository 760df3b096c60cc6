//! Test harnesses: an in-process emulator, a throwaway slapd, a throwaway Samba AD DC, helpers to run the binary.

pub mod chaos;
pub mod emu;
pub mod hostile;
pub mod hostile_ldap;
pub mod run;
pub mod samba;
pub mod slapd;
pub mod stall;
