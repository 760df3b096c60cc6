//! The run report: what happened to every person, built as a value and
//! rendered as JSON (the reference), CSV, a terminal table, HTML or Markdown.

use std::borrow::Cow;

use serde::Serialize;

/// What the run decided (or did) for one source record. Names are SPEC's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Create,
    Created,
    Unchanged,
    EmailChangeSkipped,
    Inactive,
    Invalid,
    DuplicateInSource,
    Collision,
    Failed,
    NotAttempted,
    /// An `--only` address no source record has: named so a typo or a person
    /// missing from the directory is not a silent success.
    NotFound,
}

impl Outcome {
    pub const ALL: [Outcome; 11] = [
        Outcome::Create,
        Outcome::Created,
        Outcome::Unchanged,
        Outcome::EmailChangeSkipped,
        Outcome::Inactive,
        Outcome::Invalid,
        Outcome::DuplicateInSource,
        Outcome::Collision,
        Outcome::Failed,
        Outcome::NotAttempted,
        Outcome::NotFound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Create => "create",
            Outcome::Created => "created",
            Outcome::Unchanged => "unchanged",
            Outcome::EmailChangeSkipped => "email_change_skipped",
            Outcome::Inactive => "inactive",
            Outcome::Invalid => "invalid",
            Outcome::DuplicateInSource => "duplicate_in_source",
            Outcome::Collision => "collision",
            Outcome::Failed => "failed",
            Outcome::NotAttempted => "not_attempted",
            Outcome::NotFound => "not_found",
        }
    }

    /// Outcomes a person must act on (exit 3).
    pub fn needs_person(self) -> bool {
        matches!(
            self,
            Outcome::Invalid
                | Outcome::DuplicateInSource
                | Outcome::Collision
                | Outcome::Failed
                | Outcome::NotFound
        )
    }
}

/// SPEC's report, `report_version` 1.
///
/// Its rows borrow from what the run already holds (source records,
/// candidates, the plan), so a million-person report is not a second copy of
/// every person; see [`Report::without_users`] for what outlives the run.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    pub report_version: u32,
    pub job: String,
    pub dry_run: bool,
    /// RFC 3339, UTC, whole seconds.
    pub started_at: String,
    pub finished_at: String,
    pub summary: Summary,
    pub users: Vec<ReportUser<'a>>,
    /// Extra context for people reading the report (not in SPEC's minimum).
    pub context: ReportContext,
    /// `--report-all`: the table and Markdown list every row, not the first few.
    #[serde(skip)]
    pub list_all: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportContext {
    /// e.g. `csv samples/people.csv` or `ldap ldaps://ldap.example.com ou=people,...`.
    pub source: String,
    /// The org's instance URL.
    pub salesforce: String,
    /// Remaining daily API calls from the last `Sforce-Limit-Info`, when known.
    pub api_remaining: Option<u64>,
    pub api_max: Option<u64>,
    /// Why the run stopped early, when it did.
    pub stopped: Option<String>,
    /// LDAP continuation references the read skipped (SPEC "Active
    /// Directory"): URLs as the server gave them; absent when there were none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_references: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub source_records: u64,
    pub salesforce_users: u64,
    pub create: u64,
    pub created: u64,
    pub unchanged: u64,
    pub email_change_skipped: u64,
    pub inactive: u64,
    pub invalid: u64,
    pub duplicate_in_source: u64,
    pub collision: u64,
    pub failed: u64,
    pub not_attempted: u64,
    /// `--only` addresses that matched no source record (not source records).
    pub not_found: u64,
    pub api_calls: u64,
}

impl Summary {
    pub fn count(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Create => self.create,
            Outcome::Created => self.created,
            Outcome::Unchanged => self.unchanged,
            Outcome::EmailChangeSkipped => self.email_change_skipped,
            Outcome::Inactive => self.inactive,
            Outcome::Invalid => self.invalid,
            Outcome::DuplicateInSource => self.duplicate_in_source,
            Outcome::Collision => self.collision,
            Outcome::Failed => self.failed,
            Outcome::NotAttempted => self.not_attempted,
            Outcome::NotFound => self.not_found,
        }
    }

    pub fn add(&mut self, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Create => &mut self.create,
            Outcome::Created => &mut self.created,
            Outcome::Unchanged => &mut self.unchanged,
            Outcome::EmailChangeSkipped => &mut self.email_change_skipped,
            Outcome::Inactive => &mut self.inactive,
            Outcome::Invalid => &mut self.invalid,
            Outcome::DuplicateInSource => &mut self.duplicate_in_source,
            Outcome::Collision => &mut self.collision,
            Outcome::Failed => &mut self.failed,
            Outcome::NotAttempted => &mut self.not_attempted,
            Outcome::NotFound => &mut self.not_found,
        };
        *slot += 1;
    }

    pub fn needs_person(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.needs_person())
            .map(|&o| self.count(o))
            .sum()
    }
}

/// One line of the report. A run's rows borrow every value but the ones it
/// composes (a message with the record's note); tests and tools may own them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUser<'a> {
    pub outcome: Outcome,
    pub username: Option<Cow<'a, str>>,
    pub email: Option<Cow<'a, str>>,
    /// LDAP DN or `FILE:LINE`.
    pub source: Cow<'a, str>,
    pub salesforce_id: Option<Cow<'a, str>>,
    pub error_code: Option<Cow<'a, str>>,
    pub message: Option<Cow<'a, str>>,
    pub previous_email: Option<Cow<'a, str>>,
    /// A dry run's `create`: every field a real run would send, after mapping
    /// and defaults (`{"LastName": "Lovelace", "IsActive": true, ...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ReportUser<'_> {
    /// The values a dry run would send, as one line for people:
    /// `FirstName: Ada · LastName: Lovelace · ...` (empty when there are none).
    pub fn values_text(&self) -> String {
        let Some(values) = &self.values else {
            return String::new();
        };
        let mut out = String::new();
        for (name, value) in values {
            if !out.is_empty() {
                out.push_str(" · ");
            }
            out.push_str(name);
            out.push_str(": ");
            match value {
                serde_json::Value::String(s) => out.push_str(s),
                other => out.push_str(&other.to_string()),
            }
        }
        out
    }
}

pub mod build;
pub mod csv;
pub mod html;
pub mod json;
pub mod md;
pub mod metrics;
pub mod results;
pub mod table;
pub mod write;

pub use build::{RunFacts, build, timestamp};
