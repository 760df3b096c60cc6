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
    /// Lifecycle (SPEC "What the plan decides", opt-in sections): a matched
    /// active user whose `[update] fields` differ (dry run) / were changed.
    Update,
    Updated,
    /// A matched inactive user, with `[leavers] reactivate = true`.
    Reactivate,
    Reactivated,
    /// An active in-scope org user no source record maps to, `action = "report"`.
    Leaver,
    Deactivate,
    Deactivated,
    Freeze,
    Frozen,
    /// Sent, but the answer was lost and the run stopped before it could be
    /// checked: it may or may not have been applied. Run again to confirm
    /// (the rerun finds it, or sends it). Never reported as `not_attempted`.
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 21] = [
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
        Outcome::Update,
        Outcome::Updated,
        Outcome::Reactivate,
        Outcome::Reactivated,
        Outcome::Leaver,
        Outcome::Deactivate,
        Outcome::Deactivated,
        Outcome::Freeze,
        Outcome::Frozen,
        Outcome::Unknown,
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
            Outcome::Update => "update",
            Outcome::Updated => "updated",
            Outcome::Reactivate => "reactivate",
            Outcome::Reactivated => "reactivated",
            Outcome::Leaver => "leaver",
            Outcome::Deactivate => "deactivate",
            Outcome::Deactivated => "deactivated",
            Outcome::Freeze => "freeze",
            Outcome::Frozen => "frozen",
            Outcome::Unknown => "unknown",
        }
    }

    /// Outcomes of org users that no source record maps to (their rows have no source).
    pub fn is_leaver(self) -> bool {
        matches!(
            self,
            Outcome::Leaver
                | Outcome::Deactivate
                | Outcome::Deactivated
                | Outcome::Freeze
                | Outcome::Frozen
        )
    }

    /// Outcomes a summary lists only when they happened: `not_found` (only
    /// `--only` runs have it), the lifecycle ones and `unknown` (only jobs
    /// with the opt-in sections, or a run whose answers were lost).
    pub fn is_optional_in_summaries(self) -> bool {
        self == Outcome::NotFound || (self as usize) >= Outcome::Update as usize
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
/// candidates, the plan), and a run's rows are made as they are written
/// ([`Users::Made`]), so a million-person report is not a second copy of
/// every person; see [`Report::without_users`] for what outlives the run.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub report_version: u32,
    pub job: String,
    pub dry_run: bool,
    /// RFC 3339, UTC, whole seconds.
    pub started_at: String,
    pub finished_at: String,
    pub summary: Summary,
    pub users: Users<'a>,
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
    /// `[salesforce] sandbox`: the sandbox the job targets; absent for production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// Profiles whose licences ran out during the run: the rest of their
    /// creates (and reactivations) were `not_attempted`. One line each:
    /// the profile and Salesforce's message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licence_stops: Vec<String>,
}

/// The report's counts. Written with SPEC's keys in a fixed order: the core
/// ones always; the lifecycle ones (`update` ... `frozen`) whenever the job
/// has `[update]` or `[leavers]` ([`Summary::lifecycle`]), `access_failed`
/// whenever it has `[access]` ([`Summary::access`]), so a script reads them
/// as numbers whether or not anything happened; otherwise (and `unknown`
/// always) only when not zero, so reports of jobs without those sections
/// read as before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    // Lifecycle counts (SPEC "Lifecycle").
    pub update: u64,
    pub updated: u64,
    pub reactivate: u64,
    pub reactivated: u64,
    pub leaver: u64,
    pub deactivate: u64,
    pub deactivated: u64,
    pub freeze: u64,
    pub frozen: u64,
    /// Writes sent whose answer was lost and could not be checked before the run stopped.
    pub unknown: u64,
    /// People (created or, with `apply_to_existing`, matched) an `[access]`
    /// write of whom Salesforce refused (SPEC "Access on create"): exit 3.
    /// Not an outcome: the person keeps `created`.
    pub access_failed: u64,
    /// The job has `[update]` or `[leavers]`: the lifecycle counts are
    /// written even when zero. Not written itself.
    pub lifecycle: bool,
    /// The job has `[access]`: `access_failed` is written even when zero.
    /// Not written itself.
    pub access: bool,
}

impl Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("source_records", &self.source_records)?;
        map.serialize_entry("salesforce_users", &self.salesforce_users)?;
        // Outcome::ALL is in the report's order: the core outcomes and
        // `not_found`, then the lifecycle ones, then `unknown`.
        for o in Outcome::ALL {
            let n = self.count(o);
            let lifecycle = o.is_optional_in_summaries() && o != Outcome::NotFound;
            if lifecycle && o != Outcome::Unknown && !self.lifecycle && n == 0 {
                continue;
            }
            if o == Outcome::Unknown && n == 0 {
                continue;
            }
            map.serialize_entry(o.as_str(), &n)?;
            if o == Outcome::NotFound {
                map.serialize_entry("api_calls", &self.api_calls)?;
            }
        }
        if self.access || self.access_failed > 0 {
            map.serialize_entry("access_failed", &self.access_failed)?;
        }
        map.end()
    }
}

fn null_when_empty<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        s.serialize_str(v)
    }
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
            Outcome::Update => self.update,
            Outcome::Updated => self.updated,
            Outcome::Reactivate => self.reactivate,
            Outcome::Reactivated => self.reactivated,
            Outcome::Leaver => self.leaver,
            Outcome::Deactivate => self.deactivate,
            Outcome::Deactivated => self.deactivated,
            Outcome::Freeze => self.freeze,
            Outcome::Frozen => self.frozen,
            Outcome::Unknown => self.unknown,
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
            Outcome::Update => &mut self.update,
            Outcome::Updated => &mut self.updated,
            Outcome::Reactivate => &mut self.reactivate,
            Outcome::Reactivated => &mut self.reactivated,
            Outcome::Leaver => &mut self.leaver,
            Outcome::Deactivate => &mut self.deactivate,
            Outcome::Deactivated => &mut self.deactivated,
            Outcome::Freeze => &mut self.freeze,
            Outcome::Frozen => &mut self.frozen,
            Outcome::Unknown => &mut self.unknown,
        };
        *slot += 1;
    }

    pub fn needs_person(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.needs_person())
            .map(|&o| self.count(o))
            .sum::<u64>()
            + self.access_failed
    }
}

/// Makes a run's report rows, each time it is called, from what the run
/// holds: boxed so a renderer takes any run's rows.
pub type MakeRows<'a> = Box<dyn Fn() -> Box<dyn Iterator<Item = ReportUser<'a>> + 'a> + 'a>;

/// The report's rows (those it lists: see [`build::build`]).
///
/// A run's rows are [`Users::Made`]: made again by each renderer as it
/// writes them, never all held at once. A 1,000,000 x 1,000,000 plan with
/// updates and leavers lists 1.5 million rows; held in a `Vec` they were
/// about 830 MB of its 1.9 GiB peak (BENCHMARKS.md, issue 15). Tests and
/// tools list theirs ([`Users::Listed`]).
pub enum Users<'a> {
    Listed(Vec<ReportUser<'a>>),
    Made(MakeRows<'a>),
}

impl<'a> Users<'a> {
    /// The rows in order: borrowed when listed, made when made.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, ReportUser<'a>>> + '_> {
        match self {
            Users::Listed(rows) => Box::new(rows.iter().map(Cow::Borrowed)),
            Users::Made(make) => Box::new(make().map(Cow::Owned)),
        }
    }

    /// Every row at once, for renderers that group rows before writing
    /// them (HTML, Markdown): made rows are made here and held.
    pub fn all(&self) -> Cow<'_, [ReportUser<'a>]> {
        match self {
            Users::Listed(rows) => Cow::Borrowed(rows),
            Users::Made(make) => Cow::Owned(make().collect()),
        }
    }

    /// How many rows there are (made rows are made to count them).
    pub fn len(&self) -> usize {
        match self {
            Users::Listed(rows) => rows.len(),
            Users::Made(make) => make().count(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Users::Listed(rows) => rows.is_empty(),
            Users::Made(make) => make().next().is_none(),
        }
    }
}

impl<'a> From<Vec<ReportUser<'a>>> for Users<'a> {
    fn from(rows: Vec<ReportUser<'a>>) -> Self {
        Users::Listed(rows)
    }
}

impl Default for Users<'_> {
    fn default() -> Self {
        Users::Listed(Vec::new())
    }
}

impl std::fmt::Debug for Users<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Users::Listed(rows) => f.debug_tuple("Listed").field(rows).finish(),
            Users::Made(_) => f.write_str("Made(..)"),
        }
    }
}

/// Written as the JSON array of rows, each made as it is written.
impl Serialize for Users<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// One line of the report. A run's rows borrow every value but the ones it
/// composes (a message with the record's note); tests and tools may own them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUser<'a> {
    pub outcome: Outcome,
    pub username: Option<Cow<'a, str>>,
    pub email: Option<Cow<'a, str>>,
    /// LDAP DN or `FILE:LINE`; empty for a leaver, which has no source
    /// record (written as JSON `null`).
    #[serde(serialize_with = "null_when_empty")]
    pub source: Cow<'a, str>,
    pub salesforce_id: Option<Cow<'a, str>>,
    pub error_code: Option<Cow<'a, str>>,
    pub message: Option<Cow<'a, str>>,
    pub previous_email: Option<Cow<'a, str>>,
    /// A dry run's `create`: every field a real run would send, after mapping
    /// and defaults (`{"LastName": "Lovelace", "IsActive": true, ...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ///
    /// Kept as the JSON text, one allocation per row: a million-person dry
    /// run holds half a million of them (a map per row doubled the plan's
    /// peak memory, BENCHMARKS.md).
    pub values: Option<Values>,
    /// Updates: field -> `{"from": org value, "to": source value}`, in the job's field order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes<'a>>,
    /// `[access]`: what was granted (a dry run: would be granted), as
    /// `"PermissionSet:Sales_User"`, `"PermissionSetGroup:Sales_Bundle"`,
    /// `"Group:Sales_Team"`, `"Role:SalesRep"` (SPEC "Access on create").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<Vec<String>>,
    /// An access write for this person was refused (its code and message are
    /// the row's): counted as `access_failed`.
    #[serde(skip)]
    pub access_failed: bool,
    /// Usernames Salesforce refused as held in another org, in the order
    /// they were tried (SPEC `username_tried`); absent when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_tried: Option<Vec<Cow<'a, str>>>,
}

impl ReportUser<'_> {
    /// The values a dry run would send, field by field in the job's order
    /// (empty when there are none).
    pub fn values_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.values
            .as_ref()
            .and_then(|raw| serde_json::from_str(raw.0.get()).ok())
            .unwrap_or_default()
    }

    /// The values a dry run would send, as one line for people:
    /// `FirstName: Ada · LastName: Lovelace · ...` (empty when there are none).
    pub fn values_text(&self) -> String {
        let values = self.values_map();
        let mut out = String::new();
        for (name, value) in values {
            if !out.is_empty() {
                out.push_str(" · ");
            }
            out.push_str(&name);
            out.push_str(": ");
            match value {
                serde_json::Value::String(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            }
        }
        out
    }
}

/// A dry-run create's values as the JSON object text (see [`ReportUser::values`]).
/// Serialized as the object it holds, so a pretty report stays pretty.
#[derive(Debug, Clone)]
pub struct Values(pub Box<serde_json::value::RawValue>);

impl Serialize for Values {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(self.0.get()).map_err(serde::ser::Error::custom)?;
        map.serialize(s)
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Values) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for Values {}

/// The fields an update changes, serialized as `{"Title": {"from": "Analyst", "to": "Manager"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes<'a>(pub Cow<'a, [crate::plan::Change]>);

impl Serialize for Changes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct FromTo<'v> {
            from: Option<&'v str>,
            to: Option<&'v str>,
        }
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for c in self.0.iter() {
            map.serialize_entry(
                &*c.field,
                &FromTo {
                    from: c.from.as_deref(),
                    to: c.to.as_deref(),
                },
            )?;
        }
        map.end()
    }
}

impl Changes<'_> {
    /// `Title: Analyst -> Manager; Department: (empty) -> Sales`, for tables and pages.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(|c| {
                format!(
                    "{}: {} -> {}",
                    c.field,
                    c.from.as_deref().unwrap_or("(empty)"),
                    c.to.as_deref().unwrap_or("(empty)")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
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

pub use build::{RunFacts, build, build_made, timestamp};

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &Summary) -> Vec<String> {
        let json = serde_json::to_value(s).unwrap();
        let map = json.as_object().unwrap();
        map.keys().cloned().collect()
    }

    const CORE: [&str; 14] = [
        "source_records",
        "salesforce_users",
        "create",
        "created",
        "unchanged",
        "email_change_skipped",
        "inactive",
        "invalid",
        "duplicate_in_source",
        "collision",
        "failed",
        "not_attempted",
        "not_found",
        "api_calls",
    ];
    const LIFECYCLE: [&str; 9] = [
        "update",
        "updated",
        "reactivate",
        "reactivated",
        "leaver",
        "deactivate",
        "deactivated",
        "freeze",
        "frozen",
    ];

    #[test]
    fn summary_keys_are_steady_for_the_jobs_sections_and_in_spec_order() {
        // A job without the opt-in sections: SPEC's core keys only, in order.
        let plain = Summary::default();
        assert_eq!(keys(&plain), CORE);
        // With [update] or [leavers]: every lifecycle count, zero or not.
        let lifecycle = Summary {
            lifecycle: true,
            deactivated: 2,
            ..Summary::default()
        };
        let want: Vec<&str> = CORE.iter().chain(&LIFECYCLE).copied().collect();
        assert_eq!(keys(&lifecycle), want);
        let json = serde_json::to_value(&lifecycle).unwrap();
        assert_eq!(
            (json["update"].as_u64(), json["deactivated"].as_u64()),
            (Some(0), Some(2))
        );
        // With [access]: access_failed, zero or not; `unknown` only when it happened.
        let access = Summary {
            access: true,
            unknown: 1,
            ..Summary::default()
        };
        let want: Vec<&str> = CORE
            .iter()
            .copied()
            .chain(["unknown", "access_failed"])
            .collect();
        assert_eq!(keys(&access), want);
        // A count that happened is written whatever the job says (a report
        // built by a tool without the flags).
        let stray = Summary {
            frozen: 1,
            access_failed: 3,
            ..Summary::default()
        };
        let want: Vec<&str> = CORE
            .iter()
            .copied()
            .chain(["frozen", "access_failed"])
            .collect();
        assert_eq!(keys(&stray), want);
        // The flags themselves are never written.
        assert!(
            !keys(&lifecycle)
                .iter()
                .any(|k| k == "lifecycle" || k == "access")
        );
    }
}
