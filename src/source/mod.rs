//! Where people come from: LDAP (paged search) or a CSV export.
//!
//! Both sources deliver [`SourceRecord`]s whose values line up with
//! [`crate::job::Job::attributes`], so the rest of the program never knows
//! which one it was.

/// One person as read from the source, before mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// LDAP DN, or `FILE:LINE` for CSV (the line the record starts on).
    pub origin: Box<str>,
    /// One slot per job attribute; `None` when the source has no value
    /// (missing attribute, empty cell). Values are trimmed.
    pub values: Box<[Option<Box<str>>]>,
    /// A problem found while reading (ragged row, invalid UTF-8, several values
    /// where one was expected with `multi_value = "invalid"`): the record becomes
    /// `invalid` with this message.
    pub problem: Option<Box<str>>,
    /// Something worth telling that does not make the record invalid
    /// (e.g. "also has mail: a@x, b@y").
    pub note: Option<Box<str>>,
}

impl SourceRecord {
    pub fn value(&self, attr: usize) -> Option<&str> {
        self.values.get(attr).and_then(|v| v.as_deref())
    }
}

pub mod csv;
pub mod ldap;

/// Why a source could not be read at all (as opposed to one bad record).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file is missing, unreadable or has no header: a usage error (exit 2).
    #[error("{0}")]
    Unusable(String),
    /// LDAP unreachable, bind refused, a truncated search...: fatal (exit 1).
    #[error("{0}")]
    Fatal(String),
}
