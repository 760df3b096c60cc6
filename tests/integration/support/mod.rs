//! Test harnesses: an in-process emulator, a throwaway slapd, helpers to run the binary.

pub mod emu;
pub mod hostile;
pub mod hostile_ldap;
pub mod run;
pub mod slapd;
