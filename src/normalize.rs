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

/// Field lengths from the User field table ([`crate::salesforce::user_fields`]);
/// fields without a documented length are not checked here.
pub fn max_length(field: &str) -> Option<usize> {
    crate::salesforce::user_fields::max_length(field)
}

/// Whether `s` is an address Salesforce takes in `Username` and `Email`. The
/// rule, written down here and only here (Salesforce Help 000384328 "Email
/// Address Format Technical Standards Validation" and knowledge article
/// 000001145; reference sheet §4.3):
///
/// - exactly one `@`, a local part before it and a domain after it;
/// - the local part: ASCII letters and digits, ``!#$%&'*+/=?^_`{|}~-`` and
///   dots. A dot may not come first, but dots may follow one another
///   (`a..b@`) and may end the local part (`a.@`): Salesforce allows both,
///   unlike RFC 5322, for Japanese mobile carriers' addresses;
/// - the domain: at least two labels of ASCII letters, digits and `-`,
///   separated by single dots; no label starts or ends with `-`;
/// - nothing else: no space, quote, comment or non-ASCII character.
///   Internationalized addresses need the org's EAI setting, which is off
///   unless an admin turns it on, so they are refused here.
///
/// Capitals are allowed (`Email` keeps them; usernames are lower-cased
/// before this check). Lengths are the fields' own limits, checked apart.
pub fn is_email(s: &str) -> bool {
    // One pass over bytes (every allowed character is ASCII): this runs twice per record.
    let Some(at) = s.bytes().position(|b| b == b'@') else {
        return false;
    };
    local_part(&s.as_bytes()[..at]) && domain(&s.as_bytes()[at + 1..])
}

/// Not empty, no leading dot; dots anywhere else (see [`is_email`]).
fn local_part(part: &[u8]) -> bool {
    part.first().is_some_and(|&b| b != b'.')
        && part
            .iter()
            .all(|&b| matches!(b, b'.' | b'-') || ATOM[usize::from(b)] != 0)
}

/// Labels of letters, digits and inner hyphens, single dots between, two at least.
fn domain(part: &[u8]) -> bool {
    // As if a dot came first: a leading dot or hyphen fails like one after a dot.
    let mut prev = b'.';
    let mut dots = 0;
    for &b in part {
        let ok = match b {
            b'.' => prev != b'.' && prev != b'-',
            b'-' => prev != b'.',
            _ => ATOM[usize::from(b)] == WORD,
        };
        if !ok {
            return false;
        }
        dots += usize::from(b == b'.');
        prev = b;
    }
    prev != b'.' && prev != b'-' && dots > 0
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

/// Characters that hide in an address or pass for another one, by their
/// Unicode names: what a person cannot see in a message they are named.
const HIDDEN: &[(char, &str)] = &[
    ('\u{0}', "NULL"),
    ('\t', "CHARACTER TABULATION"),
    ('\n', "LINE FEED"),
    ('\r', "CARRIAGE RETURN"),
    (' ', "SPACE"),
    ('\u{a0}', "NO-BREAK SPACE"),
    ('\u{ad}', "SOFT HYPHEN"),
    ('\u{34f}', "COMBINING GRAPHEME JOINER"),
    ('\u{3bf}', "GREEK SMALL LETTER OMICRON"),
    ('\u{430}', "CYRILLIC SMALL LETTER A"),
    ('\u{435}', "CYRILLIC SMALL LETTER IE"),
    ('\u{43e}', "CYRILLIC SMALL LETTER O"),
    ('\u{440}', "CYRILLIC SMALL LETTER ER"),
    ('\u{441}', "CYRILLIC SMALL LETTER ES"),
    ('\u{445}', "CYRILLIC SMALL LETTER HA"),
    ('\u{455}', "CYRILLIC SMALL LETTER DZE"),
    ('\u{456}', "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I"),
    ('\u{458}', "CYRILLIC SMALL LETTER JE"),
    ('\u{61c}', "ARABIC LETTER MARK"),
    ('\u{115f}', "HANGUL CHOSEONG FILLER"),
    ('\u{1160}', "HANGUL JUNGSEONG FILLER"),
    ('\u{180e}', "MONGOLIAN VOWEL SEPARATOR"),
    ('\u{2000}', "EN QUAD"),
    ('\u{2001}', "EM QUAD"),
    ('\u{2002}', "EN SPACE"),
    ('\u{2003}', "EM SPACE"),
    ('\u{2004}', "THREE-PER-EM SPACE"),
    ('\u{2005}', "FOUR-PER-EM SPACE"),
    ('\u{2006}', "SIX-PER-EM SPACE"),
    ('\u{2007}', "FIGURE SPACE"),
    ('\u{2008}', "PUNCTUATION SPACE"),
    ('\u{2009}', "THIN SPACE"),
    ('\u{200a}', "HAIR SPACE"),
    ('\u{200b}', "ZERO WIDTH SPACE"),
    ('\u{200c}', "ZERO WIDTH NON-JOINER"),
    ('\u{200d}', "ZERO WIDTH JOINER"),
    ('\u{200e}', "LEFT-TO-RIGHT MARK"),
    ('\u{200f}', "RIGHT-TO-LEFT MARK"),
    ('\u{2010}', "HYPHEN"),
    ('\u{2011}', "NON-BREAKING HYPHEN"),
    ('\u{2012}', "FIGURE DASH"),
    ('\u{2013}', "EN DASH"),
    ('\u{2014}', "EM DASH"),
    ('\u{2018}', "LEFT SINGLE QUOTATION MARK"),
    ('\u{2019}', "RIGHT SINGLE QUOTATION MARK"),
    ('\u{2024}', "ONE DOT LEADER"),
    ('\u{2028}', "LINE SEPARATOR"),
    ('\u{2029}', "PARAGRAPH SEPARATOR"),
    ('\u{202a}', "LEFT-TO-RIGHT EMBEDDING"),
    ('\u{202b}', "RIGHT-TO-LEFT EMBEDDING"),
    ('\u{202c}', "POP DIRECTIONAL FORMATTING"),
    ('\u{202d}', "LEFT-TO-RIGHT OVERRIDE"),
    ('\u{202e}', "RIGHT-TO-LEFT OVERRIDE"),
    ('\u{202f}', "NARROW NO-BREAK SPACE"),
    ('\u{205f}', "MEDIUM MATHEMATICAL SPACE"),
    ('\u{2060}', "WORD JOINER"),
    ('\u{2061}', "FUNCTION APPLICATION"),
    ('\u{2062}', "INVISIBLE TIMES"),
    ('\u{2063}', "INVISIBLE SEPARATOR"),
    ('\u{2064}', "INVISIBLE PLUS"),
    ('\u{2066}', "LEFT-TO-RIGHT ISOLATE"),
    ('\u{2067}', "RIGHT-TO-LEFT ISOLATE"),
    ('\u{2068}', "FIRST STRONG ISOLATE"),
    ('\u{2069}', "POP DIRECTIONAL ISOLATE"),
    ('\u{2212}', "MINUS SIGN"),
    ('\u{3000}', "IDEOGRAPHIC SPACE"),
    ('\u{3002}', "IDEOGRAPHIC FULL STOP"),
    ('\u{3164}', "HANGUL FILLER"),
    ('\u{fe0f}', "VARIATION SELECTOR-16"),
    ('\u{feff}', "ZERO WIDTH NO-BREAK SPACE (byte-order mark)"),
    ('\u{ff0e}', "FULLWIDTH FULL STOP"),
    ('\u{ff20}', "FULLWIDTH COMMERCIAL AT"),
    ('\u{ffa0}', "HALFWIDTH HANGUL FILLER"),
    ('\u{fffd}', "REPLACEMENT CHARACTER"),
];

/// The name of a character a person may not see or may take for another.
fn hidden_name(c: char) -> Option<&'static str> {
    HIDDEN
        .binary_search_by_key(&c, |&(h, _)| h)
        .ok()
        .map(|i| HIDDEN[i].1)
}

/// `s` with every hidden or confusable character written `<U+200B>`, so a
/// quoted address shows what is really there.
fn shown(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii_graphic()) {
        return s.into();
    }
    s.chars()
        .map(|c| match hidden_name(c) {
            Some(_) => format!("<U+{:04X}>", u32::from(c)),
            None if c.is_control() => format!("<U+{:04X}>", u32::from(c)),
            None => c.to_string(),
        })
        .collect::<String>()
        .into()
}

/// `"; it holds U+200B ZERO WIDTH SPACE at position 5"`, naming every
/// character of `s` no address may hold that a reader could miss or mistake:
/// the hidden ones by name, other non-ASCII ones by code point. Positions
/// count characters from 1. Empty when there is none.
fn hidden(s: &str) -> String {
    let found: Vec<String> = s
        .chars()
        .enumerate()
        .filter_map(|(i, c)| {
            let name = match hidden_name(c) {
                Some(name) => name.to_owned(),
                None if c.is_control() => "(a control character)".to_owned(),
                None if !c.is_ascii() => format!("'{c}' (not allowed: addresses are ASCII)"),
                None => return None,
            };
            Some(format!(
                "U+{:04X} {name} at position {}",
                u32::from(c),
                i + 1
            ))
        })
        .collect();
    match found.as_slice() {
        [] => String::new(),
        _ => format!("; it holds {}", found.join(", ")),
    }
}

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
        // A sandbox holds its users as `address.NAME` (SPEC "Collisions and sandboxes").
        let username = match (&self.job.salesforce.sandbox, username) {
            (Some(sandbox), Some(u)) => {
                Some(Cow::Owned(crate::plan::sandbox::suffixed(&u, sandbox)))
            }
            (_, u) => u,
        };
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
                format!(
                    "Username must be in the form of an email address, found \"{}\"{}",
                    shown(username),
                    hidden(username)
                ),
            );
        }
        if !is_email(email) {
            return invalid(
                "INVALID_EMAIL_ADDRESS",
                format!(
                    "Email: invalid email address: {}{}",
                    shown(email),
                    hidden(email)
                ),
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

    /// [`Normalizer::value`] appended to `out` (nothing appended: no value),
    /// so a caller comparing a million records' fields reuses one buffer
    /// instead of allocating a string per field (the update pass).
    pub fn push_value(&self, i: usize, source: &SourceRecord, out: &mut String) {
        let start = out.len();
        match self.render_into(i, source, out) {
            Some((a, b)) => {
                out.truncate(b);
                out.drain(start..a);
            }
            // `defaults` holds a boolean default as `true`/`false` too.
            None => out.push_str(self.defaults[i].as_deref().unwrap_or_default()),
        }
    }

    /// A candidate's other usernames (SPEC "Collisions and sandboxes"): each
    /// `fallback_usernames` template rendered (trimmed, lower case, suffixed
    /// in a sandbox; one that gives nothing, no address or the mapped
    /// username again is left out), and in a sandbox the addresses without
    /// the suffix.
    pub fn other_usernames(
        &self,
        c: &Candidate,
        source: &SourceRecord,
    ) -> crate::plan::collide::OtherUsernames {
        let sandbox = self.job.salesforce.sandbox.as_deref();
        let mut out = crate::plan::collide::OtherUsernames::default();
        let templates = self
            .job
            .collisions
            .iter()
            .flat_map(|c| &c.fallback_usernames);
        for t in templates {
            let Some(v) = t.render(|a| source.value(a)) else {
                continue;
            };
            let v = lower(crate::source::trim(&v));
            if v.is_empty() || !is_email(&v) {
                continue;
            }
            let v: Box<str> = match sandbox {
                Some(s) => crate::plan::sandbox::suffixed(&v, s).into(),
                None => v.into(),
            };
            if *v != *c.username() && !out.fallbacks.contains(&v) {
                out.fallbacks.push(v);
            }
        }
        if let Some(s) = sandbox {
            out.plain = std::iter::once(c.username())
                .chain(out.fallbacks.iter().map(|f| &**f))
                .filter_map(|u| crate::plan::sandbox::plain(u, s))
                .map(Into::into)
                .collect();
        }
        out
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

    /// Issue 18: the candidate usernames of a person, in a sandbox and out,
    /// with capitals and non-ASCII in the source.
    #[test]
    fn other_usernames_are_the_fallbacks_then_in_a_sandbox_the_plain_addresses() {
        let text = JOB.replace(
            "[salesforce]\n",
            "[salesforce]\nsandbox = \"UAT\"\nlogin_url = \"http://127.0.0.1:1\"\n",
        ) + "[collisions]\nfallback_usernames = [\"{mail}.acme\", \"{sn}@acme-sf.example.com\", \"{uid}@acme-sf.example.com\", \"{title}@x.com\", \"{givenName}\"]\n";
        let job = crate::job::parse(&text, Path::new("/jobs/t.toml")).unwrap();
        let n = Normalizer::new(&job, None);
        let r = rec(
            &job,
            &[
                ("mail", "Jorg.Muller@Example.COM"),
                ("givenName", "Jörg"),
                ("sn", "Müller"),
                ("uid", "JMuller"),
            ],
        );
        let Normalized::Candidate(c) = n.normalize(0, &r) else {
            panic!("valid")
        };
        assert_eq!(c.username(), "jorg.muller@example.com.uat");
        let o = n.other_usernames(&c, &r);
        // `{sn}` is not ASCII (no username), `{title}` gives nothing and
        // `{givenName}` no address: all three are left out.
        assert_eq!(
            o.fallbacks,
            vec![
                "jorg.muller@example.com.acme.uat".into(),
                "jmuller@acme-sf.example.com.uat".into()
            ]
        );
        assert_eq!(
            o.plain,
            vec![
                "jorg.muller@example.com".into(),
                "jorg.muller@example.com.acme".into(),
                "jmuller@acme-sf.example.com".into()
            ]
        );
        let sent: Vec<(&str, String)> = n
            .fields(&c, &r)
            .filter(|(f, _)| *f == "Username")
            .map(|(f, v)| (f, format!("{v:?}")))
            .collect();
        assert!(
            sent[0].1.contains("jorg.muller@example.com.uat"),
            "{sent:?}"
        );
        // Without a sandbox: the fallbacks as rendered, nothing plain.
        let job = crate::job::parse(
            &(JOB.to_owned() + "[collisions]\nfallback_usernames = [\"{mail}.acme\"]\n"),
            Path::new("/jobs/t.toml"),
        )
        .unwrap();
        let n = Normalizer::new(&job, None);
        let r = rec(
            &job,
            &[("mail", "Ada@X.com"), ("sn", "L"), ("givenName", "A")],
        );
        let Normalized::Candidate(c) = n.normalize(0, &r) else {
            panic!("valid")
        };
        let o = n.other_usernames(&c, &r);
        assert_eq!(
            (c.username(), o.fallbacks, o.plain),
            ("ada@x.com", vec!["ada@x.com.acme".into()], vec![])
        );
    }

    /// Issue 21: more records than one thread takes (20,000), on 1, 2, 3
    /// and 8 threads: every candidate and every invalid record keeps its own
    /// record index, in record order, and the slices' results agree.
    #[test]
    fn normalize_all_over_the_thread_threshold_keeps_order_and_record_indexes() {
        use crate::commands::run::normalize_on;
        let job = job();
        let n = Normalizer::new(&job, None);
        const N: usize = 45_001;
        let records: Vec<SourceRecord> = (0..N)
            .map(|i| {
                let mail = format!("P{i}@Example.com");
                let uid = format!("U{i}");
                // every 7th person has no surname: invalid, naming LastName
                let sn = if i % 7 == 0 { "" } else { "Surname" };
                rec(
                    &job,
                    &[
                        ("mail", &mail),
                        ("givenName", "Given"),
                        ("sn", sn),
                        ("uid", &uid),
                    ],
                )
            })
            .collect();
        let one = normalize_on(&n, &records, 1);
        for cores in [2, 3, 8] {
            let (cands, invalid) = normalize_on(&n, &records, cores);
            assert_eq!(cands.len(), N - N.div_ceil(7), "{cores} threads");
            let mut wanted = (0..N).filter(|i| i % 7 != 0);
            for c in &cands {
                let i = wanted.next().unwrap();
                assert_eq!(c.record, i, "{cores} threads");
                assert_eq!(c.username(), format!("p{i}@example.com"));
                assert_eq!(c.email(), format!("P{i}@Example.com"));
                assert_eq!(c.key(0), Some(format!("u{i}").as_str()));
            }
            let bad: Vec<usize> = invalid.iter().map(|b| b.record).collect();
            assert_eq!(
                bad,
                (0..N).step_by(7).collect::<Vec<_>>(),
                "{cores} threads"
            );
            for b in &invalid {
                assert_eq!(
                    b.username.as_deref(),
                    Some(format!("p{}@example.com", b.record).as_str())
                );
            }
            assert_eq!((cands, invalid), one, "{cores} threads agree with one");
        }
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

    /// Issue 15: the update pass's `push_value` appends exactly what `value`
    /// returns (trimmed rendering, else the default, booleans as text).
    #[test]
    fn push_value_appends_what_value_returns() {
        let job = job();
        let n = Normalizer::new(&job, None);
        let r = rec(
            &job,
            &[("mail", "Ada@X.com"), ("givenName", "  Ada "), ("sn", "")],
        );
        let mut out = String::from("before|");
        for i in 0..job.fields.len() {
            out.truncate("before|".len());
            n.push_value(i, &r, &mut out);
            let want = n.value(i, &r).unwrap_or_default();
            assert_eq!(
                &out["before|".len()..],
                want,
                "field {}",
                job.fields[i].name
            );
        }
        let at = |name: &str| job.field_index(name).unwrap();
        let mut out = String::new();
        n.push_value(at("FirstName"), &r, &mut out);
        n.push_value(at("LastName"), &r, &mut out);
        n.push_value(at("UserPermissionsMarketingUser"), &r, &mut out);
        n.push_value(at("LocaleSidKey"), &r, &mut out);
        assert_eq!(out, "Adafalseen_US");
    }

    /// The e-mail rule written plainly, to check the one-pass [`is_email`].
    fn is_email_plainly(s: &str) -> bool {
        let Some((local, domain)) = s.split_once('@') else {
            return false;
        };
        let local_ok = !local.is_empty()
            && !local.starts_with('.')
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        local_ok && domain_ok
    }

    /// Addresses to try: half of them address-shaped with a non-ASCII
    /// character somewhere (a letter with an accent, `ß`, `İ`, final sigma,
    /// a fullwidth `＠`, an NFD combining accent, an emoji), the rest ASCII
    /// near-misses and anything printable.
    fn addresses() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            1 => "[a-cA-C.@+_~-]{0,12}",
            1 => "[a-zA-Z.]{1,6}@[a-zA-Z.-]{1,8}",
            1 => "[a-zé.Ü]{0,5}\\.\\.?@[a-z]{1,4}\\.jp",
            1 => "\\PC{0,10}",
            3 => "[a-z]{0,3}[éßİςÅ\u{301}\u{FF20}😀][a-z]{0,3}@[a-z]{1,4}\\.[a-z]{2,3}",
            3 => "[a-z]{1,4}@[a-z]{0,3}[éßİςÅ\u{301}\u{FF20}😀-][a-z]{0,3}\\.[a-z]{2,3}",
        ]
    }

    proptest::proptest! {
        #[test]
        fn is_email_agrees_with_the_plain_rule(s in addresses()) {
            proptest::prop_assert_eq!(is_email(&s), is_email_plainly(&s), "{}", s);
        }

        /// Salesforce's Japanese-carrier allowance: dots may repeat and may end
        /// the local part, in any case; never lead it.
        #[test]
        fn consecutive_and_trailing_dots_pass_a_leading_dot_fails(
            words in proptest::collection::vec("[a-zA-Z0-9_+-]{1,5}", 1..4),
            dots in proptest::collection::vec(1usize..4, 1..4),
            trailing in 0usize..3,
            domain in "[a-zA-Z0-9]{1,6}\\.(jp|co\\.jp|COM)",
        ) {
            let mut local = String::new();
            for (i, w) in words.iter().enumerate() {
                local.push_str(w);
                if i + 1 < words.len() {
                    local.push_str(&".".repeat(dots[i % dots.len()]));
                }
            }
            local.push_str(&".".repeat(trailing));
            let address = format!("{local}@{domain}");
            proptest::prop_assert!(is_email(&address), "{}", address);
            let leading = format!(".{address}");
            proptest::prop_assert!(!is_email(&leading), "{}", leading);
        }

        /// A non-ASCII character anywhere refuses the address, and the message
        /// names it by code point and position.
        #[test]
        fn non_ascii_is_refused_and_named(
            before in "[a-z]{1,5}",
            c in "[\\u{80}-\\u{10ffff}]",
            after in "[a-z]{0,5}@example\\.com",
        ) {
            let address = format!("{before}{c}{after}");
            proptest::prop_assert!(!is_email(&address));
            let ch = c.chars().next().unwrap();
            let named = format!("U+{:04X} ", u32::from(ch));
            let at = format!("at position {}", before.chars().count() + 1);
            let said = hidden(&address);
            proptest::prop_assert!(said.contains(&named) && said.contains(&at), "{}", said);
        }
    }

    #[test]
    fn email_shapes() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "o'neil@example.ie",
            "Ada.Lovelace@Example.COM",
            // Japanese carrier addresses, as Salesforce documents them.
            "a..a@test.jp",
            "a..@test.jp",
            "taro.@docomo.ne.jp",
            "-x-@example.com",
            "a@my-host.example.com",
            "x@a--b.c-d.de",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            ".a@test.jp",
            "a@.com",
            "a@b..com",
            "a@b.com.",
            "a b@c.com",
            "a@b@c.com",
            "a@-b.com",
            "a@b-.com",
            "jos\u{e9}@example.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn the_hidden_character_table_is_sorted_for_its_binary_search() {
        assert!(HIDDEN.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn an_address_with_a_hidden_character_names_it() {
        let job = job();
        let n = Normalizer::new(&job, None);
        let message = |mail: &str| match n.normalize(
            0,
            &rec(&job, &[("mail", mail), ("givenName", "A"), ("sn", "B")]),
        ) {
            Normalized::Invalid(i) => (i.code, i.message),
            Normalized::Candidate(c) => panic!("expected invalid, got {c:?}"),
        };
        let (code, m) = message("adam\u{200b}@example.com");
        assert_eq!(code, "FIELD_INTEGRITY_EXCEPTION");
        assert_eq!(
            m,
            "Username must be in the form of an email address, found \"adam<U+200B>@example.com\"; it holds U+200B ZERO WIDTH SPACE at position 5"
        );
        let (_, m) = message("\u{feff}bob@example.com");
        assert!(
            m.ends_with("U+FEFF ZERO WIDTH NO-BREAK SPACE (byte-order mark) at position 1"),
            "{m}"
        );
        let (_, m) = message("p\u{430}ul@example.com");
        assert!(
            m.ends_with("U+0430 CYRILLIC SMALL LETTER A at position 2"),
            "{m}"
        );
    }
    fn sent(n: &Normalizer<'_>, c: &Candidate, r: &SourceRecord) -> Value {
        Value::Object(
            n.fields(c, r)
                .map(|(k, v)| (k.to_owned(), v.into()))
                .collect(),
        )
    }

    #[test]
    fn values_are_trimmed_wherever_they_lie_in_the_record() {
        // given values padded on both sides (a template or an export can do that)
        let job = job();
        let n = Normalizer::new(&job, None);
        let r = rec(
            &job,
            &[
                ("mail", "  Ada@Example.com  "),
                ("givenName", "  Ada  "),
                ("sn", "\tLovelace\u{3000}"),
                ("uid", "  ADA "),
            ],
        );
        let Normalized::Candidate(c) = n.normalize(0, &r) else {
            panic!("invalid")
        };
        // then every value is itself, without its padding
        assert_eq!(
            (c.username(), c.email(), c.key(0)),
            ("ada@example.com", "Ada@Example.com", Some("ada"))
        );
        let sent = sent(&n, &c, &r);
        assert_eq!(
            [
                &sent["FirstName"],
                &sent["LastName"],
                &sent["FederationIdentifier"]
            ],
            ["Ada", "Lovelace", "ADA"]
        );
        // the alias "{givenName|first:1}{sn|first:7}" is " " + "\tLovela": trimmed
        assert_eq!(sent["Alias"], "Lovela");
        let first = job.field_index("FirstName").unwrap();
        assert_eq!(n.value(first, &r).as_deref(), Some("Ada"));
    }

    #[test]
    fn value_and_profile_id_fall_back_to_the_defaults_as_text() {
        let job = job();
        let n = Normalizer::new(&job, None);
        let r = rec(&job, &[("mail", "a@example.com"), ("sn", "B")]);
        let at = |name: &str| job.field_index(name).unwrap();
        assert_eq!(n.value(at("LastName"), &r).as_deref(), Some("B"));
        assert_eq!(n.value(at("FirstName"), &r), None, "no value, no default");
        assert_eq!(
            n.value(at("TimeZoneSidKey"), &r).as_deref(),
            Some("America/Los_Angeles")
        );
        assert_eq!(
            n.value(at("UserPermissionsMarketingUser"), &r).as_deref(),
            Some("false")
        );
        assert_eq!(n.profile_id(&r).as_deref(), Some("00e90000001aV2o"));
        // a profile named in the job: the Id resolved for the run
        let named = JOB.replace(
            r#"ProfileId = "00e90000001aV2o""#,
            r#"Profile = "Chatter Free User""#,
        );
        let job = crate::job::parse(&named, Path::new("/jobs/t.toml")).unwrap();
        let n = Normalizer::new(&job, Some("00e000000000042"));
        let r = rec(
            &job,
            &[("mail", "a@example.com"), ("givenName", "A"), ("sn", "B")],
        );
        assert_eq!(n.profile_id(&r).as_deref(), Some("00e000000000042"));
        let Normalized::Candidate(c) = n.normalize(0, &r) else {
            panic!("invalid")
        };
        assert_eq!(sent(&n, &c, &r)["ProfileId"], "00e000000000042");
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        // FirstName takes 40 characters: 40 two-byte letters fit, 41 do not.
        let job = job();
        let n = Normalizer::new(&job, None);
        let person = |given: &str| {
            n.normalize(
                0,
                &rec(
                    &job,
                    &[("mail", "a@example.com"), ("givenName", given), ("sn", "B")],
                ),
            )
        };
        assert!(matches!(person(&"é".repeat(40)), Normalized::Candidate(_)));
        let Normalized::Invalid(bad) = person(&"é".repeat(41)) else {
            panic!("41 characters fit in FirstName")
        };
        assert_eq!(bad.code, "STRING_TOO_LONG");
        assert_eq!(
            bad.message,
            format!(
                "FirstName: 41 characters, more than the field's 40: {}",
                "é".repeat(41)
            )
        );
    }

    #[test]
    fn an_address_with_a_control_character_or_nothing_hidden_reads_plainly() {
        let job = job();
        let n = Normalizer::new(&job, None);
        let message = |mail: &str| match n.normalize(
            0,
            &rec(&job, &[("mail", mail), ("givenName", "A"), ("sn", "B")]),
        ) {
            Normalized::Invalid(i) => (i.code, i.message),
            Normalized::Candidate(c) => panic!("expected invalid, got {c:?}"),
        };
        assert_eq!(
            message("not-an-address"),
            (
                "FIELD_INTEGRITY_EXCEPTION",
                "Username must be in the form of an email address, found \"not-an-address\""
                    .to_owned()
            )
        );
        // BEL is in no table of hidden characters: named as a control character
        assert_eq!(
            message("a\u{7}b@example.com").1,
            "Username must be in the form of an email address, found \"a<U+0007>b@example.com\"; it holds U+0007 (a control character) at position 2"
        );
        // a visible non-ASCII letter is shown as it is, and named
        assert_eq!(
            message("Zoë@example.com").1,
            "Username must be in the form of an email address, found \"zoë@example.com\"; it holds U+00EB 'ë' (not allowed: addresses are ASCII) at position 3"
        );
    }

    #[test]
    fn a_candidate_reports_its_own_size_for_the_memory_figures() {
        // text "a@b.co" + "x" (the e-mail repeats the username), four spans
        let c = Candidate::new(0, "a@b.co", "a@b.co", [Some("x"), None]);
        let spans = 4 * std::mem::size_of::<(u32, u32)>();
        assert_eq!(
            c.payload_bytes(),
            std::mem::size_of::<Candidate>() + 7 + spans
        );
        assert_eq!(spans, 32);
    }

    /// Match key values as a directory holds them: capitals, accents typed
    /// composed or decomposed, `ß`, Turkish `İ`, Greek with its final sigma,
    /// the Kelvin sign, a title-case digraph, padding.
    fn wild_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::strategy::Strategy;
        proptest::prop_oneof![
            "[ a-zA-ZßİıΣσςΟΔΥÉéЖж\u{301}\u{212A}ǅ]{0,12}",
            proptest::sample::select(vec![
                "ΟΔΥΣΣΕΥΣ",
                "İLKER",
                "STRASSE",
                "straße",
                "E\u{301}LODIE",
                "\u{212A}ELVIN",
                "ǄEMAL",
            ])
            .prop_map(String::from),
        ]
    }

    proptest::proptest! {
        /// A match key's value reaches the planner in NFC, trimmed and in
        /// lower case (`str::to_lowercase`: final sigma, `İ` -> `i̇`), or not
        /// at all when nothing is left.
        #[test]
        fn match_key_values_are_nfc_trimmed_and_lower_case(uid in wild_value()) {
            use unicode_normalization::UnicodeNormalization;
            let job = job();
            let n = Normalizer::new(&job, None);
            let r = rec(
                &job,
                &[("mail", "A@Example.com"), ("givenName", "A"), ("sn", "B"), ("uid", &uid)],
            );
            let c = match n.normalize(0, &r) {
                Normalized::Candidate(c) => c,
                Normalized::Invalid(i) => panic!("invalid: {}", i.message),
            };
            let nfc: String = uid.nfc().collect();
            let expected = Some(nfc.trim().to_lowercase()).filter(|v| !v.is_empty());
            proptest::prop_assert_eq!(c.key(0), expected.as_deref());
            proptest::prop_assert_eq!(c.username(), "a@example.com");
            // and it is sent as the directory spelled it (in NFC, trimmed)
            let sent = sent(&n, &c, &r);
            let fed = sent.get("FederationIdentifier").and_then(Value::as_str);
            proptest::prop_assert_eq!(fed, Some(nfc.trim()).filter(|v| !v.is_empty()));
        }
    }
}
