//! The one integration test binary. Modules per area; shared harnesses in `support`.

mod support;

mod cli;
mod e2e;
mod emulator;
mod emulator_access;
mod emulator_lifecycle;
mod ldap;
mod lifecycle;
mod plan;
mod report_html;
mod security;
mod sync;
mod unattended;
