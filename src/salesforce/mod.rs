//! The Salesforce REST client: OAuth flows, SOQL reads paged through
//! `nextRecordsUrl`, sObject Collections creates, `Sforce-Limit-Info`.
//!
//! - [`auth`]: the three login flows; [`Credentials`] that never print.
//! - [`client`]: [`Client`], paced and counted; reads retried, creates sent once.
//! - [`soql`]: query text with escaped literals, chunked `IN (...)` lookups.
//! - [`wire`]: the JSON shapes.
//! - [`limits`]: `Sforce-Limit-Info` and [`ApiUsage`].
//! - [`error`]: [`SfError`] and its predicates.
//! - [`user_fields`]: the standard User fields (lengths, createable), one table.
//! - [`retry`]: the pure classifier of failed calls and records, and backoff
//!   (transport policy shared by reads and writes).
//! - [`pace`]: the rate schedule and in-flight cap every call goes through.

pub mod auth;
pub mod client;
pub mod error;
pub mod limits;
pub mod pace;
pub mod retry;
pub mod soql;
pub mod user_fields;
pub mod wire;

pub use auth::Credentials;
pub use client::{Client, ClientOptions};
pub use error::{SfError, TransportKind};
pub use limits::{ApiUsage, parse_limit_info};
pub use wire::{DescribedField, RecordError, RecordResult};

/// An existing Salesforce user, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfUser {
    /// 18-character Id.
    pub id: Box<str>,
    pub username: Box<str>,
    pub email: Option<Box<str>>,
    pub is_active: bool,
    /// One slot per [`crate::job::Job::match_keys`] entry: that field's value.
    pub keys: Box<[Option<Box<str>>]>,
}
