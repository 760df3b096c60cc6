//! sfsync: keeps Salesforce users in step with a company directory.
//!
//! # Layout
//! - [`cli`]: the command line (clap derive); doc comments are `--help`.
//! - [`error`]: the top-level error and SPEC's exit codes.
//! - [`logging`]: tracing set-up (text or JSON, -q/-v), dependencies kept quiet.
//! - [`printable`]: control characters escaped in everything shown to a person.
//! - [`harden`]: process-wide hardening at start (core dumps off).
//! - [`job`]: job file TOML -> validated [`job::Job`]; secrets that never print.
//! - [`template`]: `{mail|lower}` templates.
//! - [`source`]: people from LDAP or CSV as [`source::SourceRecord`]s.
//! - [`normalize`]: mapping + defaults -> candidate or invalid (pure).
//! - [`plan`]: the diff against existing users (pure).
//! - [`salesforce`]: the REST client (auth, SOQL, collections, limits).
//! - [`execute`]: batching, pacing, retries, lost-answer recovery.
//! - [`report`]: the report value and its renderers; metrics; atomic writes.
//! - [`safety`]: guards on the plan before any write (max creates, shrunken source).
//! - [`state`]: the per-job run lock and the last run's state file.
//! - [`commands`]: one file per subcommand, the only place I/O is wired.
//! - [`emulator`]: the local Salesforce (axum) used by tests, benchmarks and the demo.

/// A run holds millions of short strings (records, candidates, the org's
/// users): mimalloc serves them with less overhead per allocation than
/// glibc's malloc (BENCHMARKS.md has the figures). Declared here so the
/// binary, the tests and the benchmarks all measure the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod cli;
pub mod commands;
pub mod emulator;
pub mod error;
pub mod execute;
pub mod harden;
pub mod job;
pub mod logging;
pub mod normalize;
pub mod plan;
pub mod printable;
pub mod report;
pub mod safety;
pub mod salesforce;
pub mod source;
pub mod state;
pub mod template;

pub use error::Error;
