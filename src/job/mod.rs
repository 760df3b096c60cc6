//! The job file: TOML in, one validated [`Job`] out.
//!
//! Two stages: `raw` mirrors the file with serde (unknown keys refused), then
//! `validate` turns it into the types below, collecting every problem with its
//! key path so a user fixes the file in one pass. Nothing here touches the
//! network; secrets are only located here ([`SecretRef`]) and read by the
//! command that needs them.

pub mod access;
pub mod load;
pub mod preflight;
pub mod secret;

use std::path::PathBuf;

pub use load::{JobError, REQUIRED_FIELDS, load, parse};
pub use preflight::PreflightError;
pub use secret::{Secret, SecretError, SecretFrom, SecretRef};

use crate::template::{AttrKind, Template};

/// A validated job. Every path in it is already absolute (resolved against the job file's folder).
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    /// The job file itself.
    pub path: PathBuf,
    pub source: SourceConfig,
    pub salesforce: SalesforceConfig,
    /// Source attribute names the templates use, lower-cased, in first-use order.
    /// Sources deliver each record's values in this order ([`crate::source::SourceRecord`]).
    pub attributes: Vec<String>,
    /// How each of `attributes` is read (same order), from the filters that use
    /// it: text, raw bytes (`guid`, `sid`, ...) or the primary `SMTP:` address.
    pub attribute_kinds: Vec<AttrKind>,
    /// Every User field the job sends: the union of `[mapping]` and `[defaults]`.
    pub fields: Vec<FieldSpec>,
    /// `[match] keys`: User field names, tried in order.
    pub match_keys: Vec<String>,
    pub limits: Limits,
    pub safety: Safety,
    /// `[update]`: movers. `None`: no field of a matched user is ever changed.
    pub update: Option<UpdateConfig>,
    /// `[leavers]`: `None`: no org user without a source record is ever touched.
    pub leavers: Option<LeaversConfig>,
    /// `[access]`: `None`: users are created with the profile alone.
    pub access: Option<access::AccessConfig>,
    /// `[collisions]` (SPEC "Collisions and sandboxes"): usernames to try when
    /// Salesforce says the mapped one is held in another org. `None`: none.
    pub collisions: Option<CollisionsConfig>,
}

/// `[collisions]`: what to do when a username is held in another org.
#[derive(Debug, Clone)]
pub struct CollisionsConfig {
    /// `fallback_usernames`, in order: templates over the same source
    /// attributes as `[mapping]` (parsed with them, so sources read what they
    /// need). Each renders, per person, one more candidate username.
    pub fallback_usernames: Vec<Template>,
}

/// `[update]` (SPEC "Lifecycle"): which fields of matched active users follow the source.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateConfig {
    /// User field API names as [`Job::fields`] spells them; never `Username` or `Email`.
    /// Each is mapped or defaulted (validated).
    pub fields: Vec<String>,
    /// More planned updates than this stop the run before any write (exit 4).
    pub max_updates: u64,
    /// `true`: an empty source value blanks the org's value; `false` (default): it is left alone.
    pub clear_empty: bool,
}

/// What happens to an active in-scope org user that no source record maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaverAction {
    /// Listed in the report as `leaver`; nothing is sent.
    Report,
    /// PATCH `IsActive = false`.
    Deactivate,
    /// PATCH `UserLogin.IsFrozen = true`.
    Freeze,
}

/// `[leavers]` (SPEC "Lifecycle").
#[derive(Debug, Clone, PartialEq)]
pub struct LeaversConfig {
    pub action: LeaverAction,
    /// A SOQL condition over User, ANDed with `IsActive = true`; required unless `action = report`.
    pub scope: Option<String>,
    /// Usernames (lower case) never touched.
    pub protect: Vec<String>,
    /// More leavers than this stop the run before any write (exit 4).
    pub max_deactivations: u64,
    /// ... or more than this share (0..=1) of the active in-scope users.
    pub max_deactivation_fraction: f64,
    /// A source person matching an inactive user is reactivated (PATCH `IsActive = true`).
    pub reactivate: bool,
}

#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// Salesforce User field API name, e.g. `Username`.
    pub name: String,
    pub template: Option<Template>,
    /// Used when the template yields nothing (or there is none).
    pub default: Option<DefaultValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Text(String),
    Bool(bool),
    /// `Profile = "Chatter Free User"`: resolved to a ProfileId by name before planning.
    ProfileName(String),
}

#[derive(Debug, Clone)]
pub enum SourceConfig {
    Csv(CsvSource),
    Ldap(LdapSource),
}

#[derive(Debug, Clone)]
pub struct CsvSource {
    pub path: PathBuf,
    /// The path as the job file wrote it: `source` in reports reads `people.csv:12`.
    pub display: String,
    pub delimiter: u8,
    /// `encoding = "windows-1252"` (a WHATWG label): the file's character set.
    /// `None`: UTF-8, or UTF-16 when the file starts with its byte-order mark.
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiValue {
    /// Use the first value; the others are noted in the record's detail.
    First,
    /// A record with several values for a mapped attribute is `invalid`.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct LdapSource {
    /// `ldap://` or `ldaps://`.
    pub url: String,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    /// None: anonymous bind.
    pub bind_dn: Option<String>,
    pub bind_password: Option<SecretRef>,
    pub base_dn: String,
    pub filter: String,
    pub page_size: i32,
    pub multi_value: MultiValue,
    /// Connect and per-page timeout.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone)]
pub struct SalesforceConfig {
    /// Where API calls go until a token answer names its own `instance_url`.
    pub instance_url: String,
    /// Token endpoint host; defaults to `instance_url`.
    pub login_url: String,
    /// With the `v`, e.g. `v62.0`.
    pub api_version: String,
    pub auth: AuthConfig,
    /// `sandbox = "NAME"`: the org is the sandbox NAME (lower case, as
    /// Salesforce appends it: `.NAME` after every copied username).
    /// `None`: production (or a sandbox the job treats as one).
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone)]
pub enum AuthConfig {
    Password {
        client_id: SecretRef,
        client_secret: SecretRef,
        username: SecretRef,
        /// Password followed by the security token.
        password: SecretRef,
    },
    ClientCredentials {
        client_id: SecretRef,
        client_secret: SecretRef,
    },
    Jwt {
        client_id: SecretRef,
        username: SecretRef,
        /// PEM RSA private key (RS256).
        private_key: SecretRef,
        /// JWT `aud`; defaults to `login_url`.
        audience: String,
    },
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub requests_per_second: f64,
    pub concurrency: usize,
    pub batch_size: usize,
    pub max_creates: u64,
    pub api_reserve: u64,
    pub max_retries: u32,
}

/// Guards against a broken source read (issue 6).
#[derive(Debug, Clone)]
pub struct Safety {
    /// Stop before writing when the source shrinks below this fraction of the previous run's count.
    pub min_source_fraction: f64,
    /// Where the lock and the small state file live (default: beside the job file).
    pub state_dir: PathBuf,
}

impl Job {
    /// Every field the job sends with the job-file key that names it
    /// (`mapping.Title`, `defaults.Profile`), for messages about fields.
    pub fn field_keys(&self) -> Vec<(String, &str)> {
        self.fields
            .iter()
            .map(|f| {
                let key = match (&f.template, &f.default) {
                    (Some(_), _) => format!("mapping.{}", f.name),
                    (None, Some(DefaultValue::ProfileName(_))) => "defaults.Profile".to_owned(),
                    (None, _) => format!("defaults.{}", f.name),
                };
                (key, f.name.as_str())
            })
            .collect()
    }

    /// Per attribute in [`Job::attributes`], the required field (SPEC: required
    /// on create) whose template needs it and that has no `[defaults]` entry to
    /// fall back on; `None` when no such field reads it. A source without such
    /// an attribute cannot give anyone that field: a job error, not a row error.
    pub fn required_attributes(&self) -> Vec<Option<&str>> {
        let mut needed = vec![None; self.attributes.len()];
        for f in &self.fields {
            let Some(t) = &f.template else { continue };
            if f.default.is_some() || !REQUIRED_FIELDS.contains(&f.name.as_str()) {
                continue;
            }
            for a in t.attributes() {
                needed[a].get_or_insert(f.name.as_str());
            }
        }
        needed
    }

    /// Index of a User field in [`Job::fields`], by API name (case-insensitive).
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    }
}
