//! The one integration test binary. Modules per area; shared harnesses in `support`.

mod support;

mod access;
mod ad;
mod chaos;
mod cli;
mod clients;
mod collisions;
mod e2e;
mod emulator;
mod emulator_access;
mod emulator_any_client;
mod emulator_lifecycle;
mod exit_codes;
mod inputs;
mod ldap;
mod lifecycle;
mod operator;
mod plan;
mod readme;
mod report_html;
mod security;
mod signals;
mod sync;
mod unattended;
