//! Mapping + defaults: a source record becomes a [`Candidate`] (ready to
//! compare and to send) or an [`Invalid`] with the reason. Pure.
//!
//! Usernames are trimmed and lower-cased here, once, so every later
//! comparison (duplicates, matching, the emulator) sees one spelling.

use std::borrow::Cow;
use std::cell::RefCell;

use serde_json::Value;

use crate::job::{DefaultValue, Job, REQUIRED_FIELDS};
use crate::source::SourceRecord;

/// A record that can be planned: every required field has a value.
///
/// Compact (an initial migration holds a million): the username, the e-mail
/// and the match keys share one string, and a value equal to an earlier one
/// is stored once (the `Username` match key is the username).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the source record.
    pub record: usize,
    text: Box<str>,
    /// Where each value lies in `text`: the username, the e-mail, then one
    /// per match key ([`ABSENT`] when it has no value).
    spans: Box<[(u32, u32)]>,
}

const ABSENT: (u32, u32) = (u32::MAX, u32::MAX);

impl Candidate {
    /// `username` as normalized (trimmed, lower case); `keys` lower-cased,
    /// one per match key.
    pub fn new<S: AsRef<str>>(
        record: usize,
        username: &str,
        email: &str,
        keys: impl IntoIterator<Item = Option<S>>,
    ) -> Candidate {
        thread_local! {
            /// Built here, then copied once at its exact size: growing and
            /// shrinking a fresh string per candidate cost two reallocations.
            static BUFFERS: RefCell<(String, Vec<(u32, u32)>)> = RefCell::default();
        }
        BUFFERS.with_borrow_mut(|(text, spans)| {
            text.clear();
            spans.clear();
            let mut place = |value: Option<&str>| {
                let span = match value {
                    None => ABSENT,
                    Some(v) => match spans.iter().find(|&&(a, b)| {
                        (a, b) != ABSENT && text.get(a as usize..b as usize) == Some(v)
                    }) {
                        Some(&same) => same,
                        None => {
                            let start = text.len();
                            text.push_str(v);
                            (to_u32(start), to_u32(text.len()))
                        }
                    },
                };
                spans.push(span);
            };
            place(Some(username));
            place(Some(email));
            for k in keys {
                place(k.as_ref().map(AsRef::as_ref));
            }
            Candidate {
                record,
                text: text.as_str().into(),
                spans: spans.as_slice().into(),
            }
        })
    }

    fn span(&self, i: usize) -> Option<&str> {
        match *self.spans.get(i)? {
            ABSENT => None,
            (a, b) => Some(&self.text[a as usize..b as usize]),
        }
    }

    /// Trimmed and lower-cased.
    pub fn username(&self) -> &str {
        self.span(0).unwrap_or_default()
    }

    pub fn email(&self) -> &str {
        self.span(1).unwrap_or_default()
    }

    /// Match key `k`'s value, lower-cased for comparison (`None`: no value).
    pub fn key(&self, k: usize) -> Option<&str> {
        self.span(2 + k)
    }

    /// Bytes held on the heap and inline, without allocator overhead (memory figures).
    pub fn payload_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.text.len() + std::mem::size_of_val(&*self.spans)
    }
}

/// Values are short (the longest, FederationIdentifier, is 512 characters).
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a candidate's values are far below 4 GiB")
}

/// One field's value as sent: text, or a boolean default (`IsActive = true`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Sent<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
}

impl From<Sent<'_>> for Value {
    fn from(v: Sent<'_>) -> Value {
        match v {
            Sent::Text(s) => Value::String(s.into_owned()),
            Sent::Bool(b) => Value::Bool(b),
        }
    }
}

/// A record that cannot be sent, and why, in the words a person fixes it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub record: usize,
    pub username: Option<Box<str>>,
    pub email: Option<Box<str>>,
    /// Salesforce's code for the same refusal, so reports read alike.
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalized {
    Candidate(Candidate),
    Invalid(Invalid),
}

/// Field lengths from the reference (4.2); fields not listed are not checked here.
pub fn max_length(field: &str) -> Option<usize> {
    Some(match field {
        "Username" | "LastName" | "Title" | "Department" | "CompanyName" | "State" | "Country" => {
            80
        }
        "Email" => 128,
        "FirstName" | "MiddleName" | "Suffix" | "CommunityNickname" | "City" | "Phone"
        | "MobilePhone" | "Fax" | "TimeZoneSidKey" | "LocaleSidKey" | "EmailEncodingKey"
        | "LanguageLocaleKey" => 40,
        "Alias" => 8,
        "FederationIdentifier" => 512,
        "EmployeeNumber" | "PostalCode" => 20,
        _ => return None,
    })
}

/// Whether `s` has the shape of an e-mail address as Salesforce checks it:
/// one `@`, a dot-atom local part, and a domain of at least two labels.
pub fn is_email(s: &str) -> bool {
    // One pass over bytes (every allowed character is ASCII): this runs twice per record.
    let Some(at) = s.bytes().position(|b| b == b'@') else {
        return false;
    };
    dot_atom(&s.as_bytes()[..at], false) && dot_atom(&s.as_bytes()[at + 1..], true)
}

/// A local part (`domain` false) or a domain: not empty, dots only between
/// other characters; a domain has a dot and no label starting or ending with `-`.
fn dot_atom(part: &[u8], domain: bool) -> bool {
    // As if a dot came first: a leading dot or hyphen fails like one after a dot.
    let mut prev = b'.';
    let mut dots = 0;
    for &b in part {
        let ok = match b {
            b'.' => prev != b'.' && !(domain && prev == b'-'),
            b'-' => !(domain && prev == b'.'),
            _ => ATOM[usize::from(b)] == WORD || (!domain && ATOM[usize::from(b)] == LOCAL),
        };
        if !ok {
            return false;
        }
        dots += usize::from(b == b'.');
        prev = b;
    }
    !part.is_empty() && prev != b'.' && (!domain || (prev != b'-' && dots > 0))
}

/// Per byte: a letter or digit ([`WORD`]), a character allowed only in a
/// local part ([`LOCAL`]), or neither (0). One lookup instead of a search.
const ATOM: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        if (b as u8).is_ascii_alphanumeric() {
            table[b] = WORD;
        }
        b += 1;
    }
    let local = b"!#$%&'*+/=?^_`{|}~";
    let mut i = 0;
    while i < local.len() {
        table[local[i] as usize] = LOCAL;
        i += 1;
    }
    table
};
const WORD: u8 = 1;
const LOCAL: u8 = 2;

/// `s` in lower case, borrowed when it already is (no second copy per value).
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        s.to_lowercase().into()
    } else {
        s.into()
    }
}

/// Buffers [`Normalizer::normalize_with`] reuses: one per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    text: String,
    /// Per job field, where its rendered value lies in `text`.
    spans: Vec<Option<(usize, usize)>>,
}

/// Turns source records into candidates for one job. Build once per run.
#[derive(Debug)]
pub struct Normalizer<'j> {
    job: &'j Job,
    username: usize,
    email: usize,
    keys: Vec<usize>,
    /// Defaults as text (booleans included), per job field.
    defaults: Vec<Option<String>>,
    /// Per job field, its maximum length (reference 4.2), looked up once.
    max_lengths: Vec<Option<usize>>,
    /// `REQUIRED_FIELDS` with their index in the job's fields.
    required: Vec<(&'static str, Option<usize>)>,
}

impl<'j> Normalizer<'j> {
    /// `profile_id` is the resolved Id when the job names its profile (`Profile = "..."`).
    pub fn new(job: &'j Job, profile_id: Option<&str>) -> Self {
        let index = |name: &str| {
            job.field_index(name)
                .expect("validated jobs map every required field")
        };
        let defaults = job
            .fields
            .iter()
            .map(|f| match &f.default {
                Some(DefaultValue::Text(s)) => Some(s.clone()),
                Some(DefaultValue::Bool(b)) => Some(b.to_string()),
                Some(DefaultValue::ProfileName(_)) => profile_id.map(str::to_owned),
                None => None,
            })
            .collect();
        Normalizer {
            job,
            username: index("Username"),
            email: index("Email"),
            keys: job.match_keys.iter().map(|k| index(k)).collect(),
            defaults,
            max_lengths: job.fields.iter().map(|f| max_length(&f.name)).collect(),
            required: REQUIRED_FIELDS
                .iter()
                .map(|&name| (name, job.field_index(name)))
                .collect(),
        }
    }

    /// One field's template rendered against a record, trimmed; `None` when it yields nothing.
    fn render(&self, field: usize, source: &SourceRecord) -> Option<String> {
        let mut text = String::new();
        let (a, b) = self.render_into(field, source, &mut text)?;
        text.truncate(b);
        text.replace_range(..a, "");
        Some(text)
    }

    /// [`Normalizer::render`] appended to `text`: where the trimmed value lies.
    fn render_into(
        &self,
        field: usize,
        source: &SourceRecord,
        text: &mut String,
    ) -> Option<(usize, usize)> {
        let t = self.job.fields[field].template.as_ref()?;
        let start = text.len();
        if !t.render_into(text, |a| source.value(a)) {
            return None;
        }
        let v = &text[start..];
        let trimmed = crate::source::trim(v);
        if trimmed.is_empty() {
            text.truncate(start);
            return None;
        }
        let a = match trimmed.len() == v.len() {
            true => start,
            false => start + (v.len() - v.trim_start().len()),
        };
        Some((a, a + trimmed.len()))
    }

    pub fn normalize(&self, record: usize, source: &SourceRecord) -> Normalized {
        self.normalize_with(&mut Scratch::default(), record, source)
    }

    /// [`Normalizer::normalize`] rendering into `scratch`, reused from one
    /// record to the next (a million records would otherwise mean a million
    /// short-lived strings per field).
    pub fn normalize_with(
        &self,
        scratch: &mut Scratch,
        record: usize,
        source: &SourceRecord,
    ) -> Normalized {
        // Rendered values live only while checking: a candidate keeps what the
        // plan compares, and the record to send is rendered again for creates.
        let Scratch { text, spans } = scratch;
        text.clear();
        spans.clear();
        for i in 0..self.job.fields.len() {
            let span = self.render_into(i, source, text);
            spans.push(span);
        }
        let text = &*text;
        let effective = |i: usize| -> Option<&str> {
            spans[i]
                .map(|(a, b)| &text[a..b])
                .or(self.defaults[i].as_deref())
        };
        let username = effective(self.username).map(lower);
        let email = effective(self.email);
        let invalid = |code: &'static str, message: String| {
            Normalized::Invalid(Invalid {
                record,
                username: username.as_deref().map(Into::into),
                email: email.map(Into::into),
                code,
                message,
            })
        };

        if let Some(problem) = &source.problem {
            return invalid("SOURCE_RECORD", problem.to_string());
        }
        let missing: Vec<&str> = self
            .required
            .iter()
            .filter(|(_, i)| i.and_then(effective).is_none())
            .map(|&(name, _)| name)
            .collect();
        if !missing.is_empty() {
            let sources: Vec<String> = missing
                .iter()
                .filter_map(|&name| {
                    let f = &self.job.fields[self.job.field_index(name)?];
                    f.template.as_ref().map(|t| format!("{name} from \"{t}\""))
                })
                .collect();
            let from = if sources.is_empty() {
                String::new()
            } else {
                format!(" (the source gave nothing for {})", sources.join(", "))
            };
            return invalid(
                "REQUIRED_FIELD_MISSING",
                format!(
                    "Required fields are missing: [{}]{from}",
                    missing.join(", ")
                ),
            );
        }
        let (Some(username), Some(email)) = (username.as_deref(), email) else {
            unreachable!("Username and Email are required fields")
        };
        if !is_email(username) {
            return invalid(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("Username must be in the form of an email address, found \"{username}\""),
            );
        }
        if !is_email(email) {
            return invalid(
                "INVALID_EMAIL_ADDRESS",
                format!("Email: invalid email address: {email}"),
            );
        }
        for (i, field) in self.job.fields.iter().enumerate() {
            if let (Some(max), Some(value)) = (self.max_lengths[i], effective(i)) {
                // No more bytes than the limit: no more characters either.
                if value.len() <= max {
                    continue;
                }
                let len = value.chars().count();
                if len > max {
                    return invalid(
                        "STRING_TOO_LONG",
                        format!(
                            "{}: {len} characters, more than the field's {max}: {value}",
                            field.name
                        ),
                    );
                }
            }
        }
        let keys = self.keys.iter().map(|&i| {
            if i == self.username {
                Some(Cow::Borrowed(username))
            } else {
                effective(i).map(lower)
            }
        });
        Normalized::Candidate(Candidate::new(record, username, email, keys))
    }

    /// The fields to send for a candidate made from `source`, in the job's
    /// order: every field with a value, the username as normalized.
    pub fn fields<'a>(
        &'a self,
        c: &'a Candidate,
        source: &'a SourceRecord,
    ) -> impl Iterator<Item = (&'a str, Sent<'a>)> + 'a {
        self.job
            .fields
            .iter()
            .enumerate()
            .filter_map(move |(i, field)| {
                let value = if i == self.username {
                    Sent::Text(Cow::Borrowed(c.username()))
                } else if let Some(v) = self.render(i, source) {
                    Sent::Text(Cow::Owned(v))
                } else if let Some(DefaultValue::Bool(b)) = field.default {
                    Sent::Bool(b)
                } else {
                    Sent::Text(Cow::Borrowed(self.defaults[i].as_deref()?))
                };
                Some((field.name.as_str(), value))
            })
    }

    /// Field `i`'s value for `source` as it would be sent, as text: the
    /// rendered template, else the default (booleans as `true`/`false`).
    /// `None`: no value. Updates compare this with the org's value.
    pub fn value(&self, i: usize, source: &SourceRecord) -> Option<String> {
        if let Some(v) = self.render(i, source) {
            return Some(v);
        }
        match self.job.fields.get(i)?.default {
            Some(DefaultValue::Bool(b)) => Some(b.to_string()),
            _ => self.defaults[i].clone(),
        }
    }

    /// The profile a candidate is created with (to stop per profile on LICENSE_LIMIT_EXCEEDED).
    pub fn profile_id(&self, source: &SourceRecord) -> Option<String> {
        let i = self.job.field_index("ProfileId")?;
        self.render(i, source).or_else(|| self.defaults[i].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    pub(crate) const JOB: &str = r#"
name = "t"
[source]
type = "csv"
path = "people.csv"
[salesforce]
instance_url = "http://127.0.0.1:1"
client_id_env = "A"
client_secret_env = "B"
username_env = "C"
password_env = "D"
[mapping]
Username = "{mail|lower}"
Email = "{mail}"
FirstName = "{givenName}"
LastName = "{sn}"
Alias = "{givenName|first:1}{sn|first:7}"
FederationIdentifier = "{uid}"
[defaults]
ProfileId = "00e90000001aV2o"
TimeZoneSidKey = "America/Los_Angeles"
LocaleSidKey = "en_US"
EmailEncodingKey = "UTF-8"
LanguageLocaleKey = "en_US"
UserPermissionsMarketingUser = false
"#;

    fn job() -> Job {
        crate::job::parse(JOB, Path::new("/jobs/t.toml")).unwrap()
    }

    fn rec(job: &Job, pairs: &[(&str, &str)]) -> SourceRecord {
        let mut b = crate::source::RecordBuilder::default();
        b.start("");
        for a in &job.attributes {
            b.push(
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(a))
                    .map(|(_, v)| *v),
            );
        }
        b.finish(2, None, None)
    }

    #[test]
    fn a_complete_person_becomes_a_candidate_with_the_record_to_send() {
        let job = job();
        let n = Normalizer::new(&job, None);
        let r = rec(
            &job,
            &[
                ("mail", "Ada@Example.com"),
                ("givenName", "Ada"),
                ("sn", "Lovelace"),
                ("uid", "ADA"),
            ],
        );
        let Normalized::Candidate(c) = n.normalize(0, &r) else {
            panic!("invalid")
        };
        assert_eq!(c.username(), "ada@example.com");
        assert_eq!(c.email(), "Ada@Example.com");
        assert_eq!(
            [c.key(0), c.key(1), c.key(2)],
            [Some("ada"), Some("ada@example.com"), None]
        );
        let sent: serde_json::Map<String, Value> = n
            .fields(&c, &r)
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect();
        let sent = Value::Object(sent);
        assert_eq!(
            sent,
            serde_json::json!({
                "Username": "ada@example.com", "Email": "Ada@Example.com", "FirstName": "Ada",
                "LastName": "Lovelace", "Alias": "ALovelac", "FederationIdentifier": "ADA",
                "ProfileId": "00e90000001aV2o", "TimeZoneSidKey": "America/Los_Angeles",
                "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
                "UserPermissionsMarketingUser": false
            })
        );
        // On the wire: the same fields in the job's order, after `attributes`.
        let wire = crate::execute::user_record(n.fields(&c, &r));
        assert!(
            wire.get().starts_with(
                r#"{"attributes":{"type":"User"},"Username":"ada@example.com","Email""#
            ),
            "{wire}"
        );
        let Value::Object(mut decoded) = serde_json::from_str(wire.get()).unwrap() else {
            panic!("not an object: {wire}")
        };
        assert_eq!(
            decoded.remove("attributes"),
            Some(serde_json::json!({"type": "User"}))
        );
        assert_eq!(Value::Object(decoded), sent);
    }

    #[test]
    fn each_kind_of_bad_record_is_invalid_with_its_reason() {
        let job = job();
        let n = Normalizer::new(&job, None);
        let code = |pairs: &[(&str, &str)]| match n.normalize(0, &rec(&job, pairs)) {
            Normalized::Invalid(i) => (i.code, i.message),
            Normalized::Candidate(c) => panic!("expected invalid, got {c:?}"),
        };
        let (c, m) = code(&[("mail", "a@example.com"), ("givenName", "A")]);
        assert_eq!(c, "REQUIRED_FIELD_MISSING");
        assert!(
            m.contains("[LastName, Alias]") && m.contains("LastName from \"{sn}\""),
            "{m}"
        );
        assert_eq!(
            code(&[("mail", "not-an-address"), ("givenName", "A"), ("sn", "B")]).0,
            "FIELD_INTEGRITY_EXCEPTION"
        );
        let long = format!("{}@example.com", "x".repeat(80));
        let (c, m) = code(&[("mail", &long), ("givenName", "A"), ("sn", "B")]);
        assert_eq!(c, "STRING_TOO_LONG");
        assert!(
            m.starts_with("Username: 92 characters, more than the field's 80"),
            "{m}"
        );
        let mut r = rec(
            &job,
            &[("mail", "a@example.com"), ("givenName", "A"), ("sn", "B")],
        );
        r.problem = Some("row has 3 fields, the header has 5".into());
        assert!(matches!(n.normalize(0, &r), Normalized::Invalid(i) if i.code == "SOURCE_RECORD"));
    }

    #[test]
    fn a_candidate_stores_a_repeated_value_once() {
        let c = Candidate::new(
            3,
            "ada@x.com",
            "ada@x.com",
            [Some("ada"), None, Some("ada@x.com")],
        );
        assert_eq!(
            (c.record, c.username(), c.email()),
            (3, "ada@x.com", "ada@x.com")
        );
        assert_eq!(
            [c.key(0), c.key(1), c.key(2), c.key(3)],
            [Some("ada"), None, Some("ada@x.com"), None]
        );
        assert_eq!(&*c.text, "ada@x.comada", "username once, then the new key");
    }

    /// The e-mail rule written plainly, to check the one-pass [`is_email`].
    fn is_email_plainly(s: &str) -> bool {
        let Some((local, domain)) = s.split_once('@') else {
            return false;
        };
        let atom_ok = |part: &str, extra: &str| {
            !part.is_empty()
                && !part.starts_with('.')
                && !part.ends_with('.')
                && !part.contains("..")
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || extra.contains(c))
        };
        let labels_ok = domain.split('.').count() >= 2
            && domain
                .split('.')
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        atom_ok(local, "!#$%&'*+/=?^_`{|}~-") && atom_ok(domain, "-") && labels_ok
    }

    proptest::proptest! {
        #[test]
        fn is_email_agrees_with_the_plain_rule(s in "[a-c.@+_~-]{0,12}|[a-z]{1,4}@[a-z.-]{1,8}|\\PC{0,10}") {
            proptest::prop_assert_eq!(is_email(&s), is_email_plainly(&s), "{}", s);
        }
    }

    #[test]
    fn email_shapes() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "o'neil@example.ie",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a@.com",
            "a..b@c.com",
            "a b@c.com",
            "a@b@c.com",
            "a@-b.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
