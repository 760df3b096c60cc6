//! The Salesforce REST client: OAuth flows, SOQL reads paged through
//! `nextRecordsUrl`, sObject Collections creates, `Sforce-Limit-Info`.

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
mod stub;
pub use stub::*;
