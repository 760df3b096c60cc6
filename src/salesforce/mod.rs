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
    /// One slot per [`crate::job::Job::match_keys`] entry: that field's value
    /// (then, when the mapping sets it, the user's `CommunityNickname`).
    pub keys: Box<[Option<Box<str>>]>,
}

/// Some fields' values for every user of a list, by position: the org's
/// `[update] fields`, read with the users ([`Client::query_users_with`]).
///
/// A column, not a part of [`SfUser`]: a million-user org holds eight
/// values per user, and here they are three allocations in all (the text,
/// the ends, each user's start) instead of eight strings per user among its
/// match keys, which cost the plan about 220 MB and the planner its locality
/// (BENCHMARKS.md, issue 15). An empty value is no value: Salesforce stores
/// no empty strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldTable {
    /// Values per user.
    width: usize,
    /// Every value, back to back, user after user.
    text: String,
    /// Where each user's values start in `text`.
    starts: Vec<usize>,
    /// Where value `j` of user `i` ends, from the user's start: `width` per user.
    ends: Vec<u32>,
}

impl FieldTable {
    /// An empty table of `width` values per user.
    pub fn new(width: usize) -> FieldTable {
        FieldTable {
            width,
            ..FieldTable::default()
        }
    }

    /// Appends the next user's values: the first `width` of `values`, a
    /// missing one as none (`None` and `""` are both no value).
    pub fn push<S: AsRef<str>>(&mut self, values: impl IntoIterator<Item = Option<S>>) {
        let start = self.text.len();
        self.starts.push(start);
        let mut values = values.into_iter();
        for _ in 0..self.width {
            if let Some(Some(v)) = values.next() {
                self.text.push_str(v.as_ref());
            }
            // One user's values are far below 4 GiB.
            self.ends
                .push(u32::try_from(self.text.len() - start).unwrap_or(u32::MAX));
        }
    }

    /// Value `j` of user `i`: `None` when it is empty, or past the table.
    pub fn get(&self, i: usize, j: usize) -> Option<&str> {
        if j >= self.width {
            return None;
        }
        let start = *self.starts.get(i)?;
        let end = start + self.ends[i * self.width + j] as usize;
        let from = match j {
            0 => start,
            _ => start + self.ends[i * self.width + j - 1] as usize,
        };
        self.text.get(from..end).filter(|v| !v.is_empty())
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Values per user.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Bytes held (inline and heap, without allocator overhead; memory figures).
    pub fn payload_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.text.len()
            + std::mem::size_of_val(&*self.starts)
            + std::mem::size_of_val(&*self.ends)
    }

    /// Frees the spare capacity left by reading.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.starts.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::FieldTable;
    use proptest::prelude::*;

    proptest! {
        /// Any values, non-ASCII and empty ones too, come back as given for
        /// each user (an empty one as none), a short row padded with none,
        /// and nothing past the table.
        #[test]
        fn a_field_table_gives_back_each_value(
            width in 0usize..5,
            users in proptest::collection::vec(
                proptest::collection::vec(proptest::option::of("\\PC{0,6}"), 0..6),
                0..8,
            ),
        ) {
            let mut table = FieldTable::new(width);
            for values in &users {
                table.push(values.iter().map(|v| v.as_deref()));
            }
            prop_assert_eq!(table.len(), users.len());
            for (i, values) in users.iter().enumerate() {
                for j in 0..width + 1 {
                    let want = values.get(j).and_then(|v| v.as_deref()).filter(|v| !v.is_empty() && j < width);
                    prop_assert_eq!(table.get(i, j), want, "user {} value {}", i, j);
                }
            }
            prop_assert_eq!(table.get(users.len(), 0), None);
        }
    }

    /// Width, length and emptiness as pushed, and the bytes held counted
    /// exactly: the struct, the text, one `usize` start per user and one
    /// `u32` end per value (the memory figures of BENCHMARKS.md add these).
    #[test]
    fn a_field_table_counts_its_users_values_and_bytes() {
        let mut table = FieldTable::new(3);
        assert_eq!((table.width(), table.len(), table.is_empty()), (3, 0, true));
        table.push([Some("Sales"), None, Some("Zürich")]);
        table.push([Some(""), Some("x")]);
        assert_eq!(
            (table.width(), table.len(), table.is_empty()),
            (3, 2, false)
        );
        assert_eq!(table.get(0, 2), Some("Zürich"));
        assert_eq!(table.get(1, 1), Some("x"));
        assert_eq!(table.get(1, 0), None);
        let text = "Sales".len() + "Zürich".len() + "x".len();
        let want = std::mem::size_of::<FieldTable>()
            + text
            + 2 * std::mem::size_of::<usize>()
            + 6 * std::mem::size_of::<u32>();
        assert_eq!(table.payload_bytes(), want);
        // Freeing the spare capacity keeps every value.
        let before = table.clone();
        table.shrink_to_fit();
        assert_eq!(table, before);
        assert_eq!(table.text.capacity(), text);
        assert_eq!(table.ends.capacity(), 6);
    }
}
