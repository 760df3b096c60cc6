//! The one integration test binary. Modules per area; shared harnesses in `support`.

mod support;

mod cli;
mod e2e;
mod emulator;
mod exit_codes;
mod ldap;
mod plan;
mod report_html;
mod signals;
mod sync;
mod unattended;
