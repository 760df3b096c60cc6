//! Where people come from: LDAP (paged search) or a CSV export.
//!
//! Both sources deliver [`SourceRecord`]s whose values line up with
//! [`crate::job::Job::attributes`], so the rest of the program never knows
//! which one it was.

use std::borrow::Cow;

/// One person as read from the source, before mapping.
///
/// Compact on purpose (an initial migration holds a million of these): every
/// value lives in one string, so a record is two allocations however many
/// attributes the job maps. Build one with [`RecordBuilder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The LDAP DN (empty for CSV), then every value, back to back.
    text: Box<str>,
    /// Where each value ends in `text`; the first starts where the DN ends.
    ends: Box<[u32]>,
    dn_len: u32,
    /// The CSV line the record starts on, from 1; 0 for LDAP.
    line: u32,
    /// A problem found while reading (ragged row, invalid UTF-8, several values
    /// where one was expected with `multi_value = "invalid"`): the record becomes
    /// `invalid` with this message.
    pub problem: Option<Box<str>>,
    /// Something worth telling that does not make the record invalid
    /// (e.g. "also has mail: a@x, b@y").
    pub note: Option<Box<str>>,
}

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    Dn(&'a str),
    /// A CSV line (the line the record starts on).
    Line(u32),
}

impl SourceRecord {
    /// One slot per job attribute; `None` when the source has no value
    /// (missing attribute, empty cell). Values are trimmed.
    pub fn value(&self, attr: usize) -> Option<&str> {
        let end = *self.ends.get(attr)? as usize;
        let start = match attr {
            0 => self.dn_len,
            _ => self.ends[attr - 1],
        } as usize;
        (end > start).then(|| &self.text[start..end])
    }

    /// Every attribute's value, in the job's order.
    pub fn values(&self) -> impl Iterator<Item = Option<&str>> {
        (0..self.ends.len()).map(|i| self.value(i))
    }

    pub fn origin(&self) -> Origin<'_> {
        // CSV lines count from 1; LDAP records have none (and a DN, even an empty one).
        match self.line {
            0 => Origin::Dn(&self.text[..self.dn_len as usize]),
            n => Origin::Line(n),
        }
    }

    /// The origin as reports show it: the DN, or `FILE:LINE` with `file` the
    /// CSV file's display name.
    pub fn origin_text(&self, file: &str) -> Cow<'_, str> {
        match self.origin() {
            Origin::Dn(dn) => Cow::Borrowed(dn),
            Origin::Line(line) => Cow::Owned(format!("{file}:{line}")),
        }
    }

    /// Bytes held on the heap and inline, without allocator overhead (memory figures).
    pub fn payload_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.text.len()
            + std::mem::size_of_val(&*self.ends)
            + self.problem.as_ref().map_or(0, |p| p.len())
            + self.note.as_ref().map_or(0, |n| n.len())
    }
}

/// Builds [`SourceRecord`]s, reusing its buffers from one record to the next.
#[derive(Debug, Default)]
pub struct RecordBuilder {
    text: String,
    ends: Vec<u32>,
    dn_len: u32,
}

impl RecordBuilder {
    /// Starts a record; `dn` is the LDAP DN, empty for a CSV row.
    pub fn start(&mut self, dn: &str) -> &mut Self {
        self.text.clear();
        self.ends.clear();
        self.text.push_str(dn);
        self.dn_len = offset(&self.text);
        self
    }

    /// The next attribute's value (already trimmed); `None` or empty: no value.
    ///
    /// The value is stored in Unicode NFC (SPEC: templates and length checks
    /// see composed text, as Salesforce counts it; macOS exports names
    /// decomposed). ASCII and text already in NFC, nearly every value, are
    /// copied as they are: the quick check answers without normalizing.
    pub fn push(&mut self, value: Option<&str>) -> &mut Self {
        let value = value.unwrap_or_default();
        if value.is_ascii()
            || unicode_normalization::is_nfc_quick(value.chars())
                == unicode_normalization::IsNormalized::Yes
        {
            self.text.push_str(value);
        } else {
            self.text
                .extend(unicode_normalization::UnicodeNormalization::nfc(value));
        }
        self.ends.push(offset(&self.text));
        self
    }

    /// The record, with exactly sized copies of the buffers.
    pub fn finish(
        &mut self,
        line: u32,
        problem: Option<Box<str>>,
        note: Option<Box<str>>,
    ) -> SourceRecord {
        SourceRecord {
            text: self.text.as_str().into(),
            ends: self.ends.as_slice().into(),
            dn_len: self.dn_len,
            line,
            problem,
            note,
        }
    }
}

/// `s` without leading and trailing whitespace, as [`str::trim`] has it,
/// answered without a scan when both ends are ASCII non-space (nearly every
/// value: this runs for every value of every record).
pub(crate) fn trim(s: &str) -> &str {
    let plain = |b: u8| b.is_ascii() && !char::from(b).is_whitespace();
    match s.as_bytes() {
        [first, .., last] if plain(*first) && plain(*last) => s,
        [only] if plain(*only) => s,
        _ => s.trim(),
    }
}

/// A position in a record's text. One record is far below 4 GiB: a CSV file
/// is read whole and an LDAP entry arrives in one message.
fn offset(text: &str) -> u32 {
    u32::try_from(text.len()).expect("a source record holds less than 4 GiB")
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

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn trim_is_str_trim(s in "[ \\ta\\x0b\\u{a0}\\u{3000}é]{0,6}|\\PC{0,8}") {
            proptest::prop_assert_eq!(trim(&s), s.trim());
        }
    }

    #[test]
    fn values_are_stored_in_nfc() {
        // "Émile" as macOS writes it: E + U+0301 COMBINING ACUTE ACCENT.
        let nfd = "E\u{301}mile Zo\u{308}e";
        let r = RecordBuilder::default()
            .start("")
            .push(Some(nfd))
            .push(Some("Ada"))
            .finish(2, None, None);
        assert_eq!(r.value(0), Some("\u{c9}mile Z\u{f6}e"));
        assert_eq!(r.value(0).unwrap().chars().count(), 9);
        assert_eq!(r.value(1), Some("Ada"));
    }

    proptest::proptest! {
        #[test]
        fn every_value_is_its_nfc_form(s in "\\PC{0,12}|[eEaAoO\u{300}-\u{36f}\u{1100}-\u{1175}]{0,8}") {
            use unicode_normalization::UnicodeNormalization;
            let r = RecordBuilder::default().start("").push(Some(&s)).finish(1, None, None);
            let nfc: String = s.nfc().collect();
            proptest::prop_assert_eq!(r.value(0).unwrap_or_default(), nfc.as_str());
        }
    }

    #[test]
    fn a_record_keeps_absent_and_empty_values_apart_from_neighbours() {
        let mut b = RecordBuilder::default();
        let dn = b
            .start("uid=a,dc=x")
            .push(Some("Ada"))
            .push(None)
            .push(Some(""))
            .push(Some("ada@x.com"))
            .finish(0, None, None);
        assert_eq!(
            dn.values().collect::<Vec<_>>(),
            [Some("Ada"), None, None, Some("ada@x.com")]
        );
        assert_eq!(dn.value(4), None, "past the last attribute");
        assert_eq!(dn.origin(), Origin::Dn("uid=a,dc=x"));
        assert_eq!(dn.origin_text("ignored.csv"), "uid=a,dc=x");

        // The builder is reused: nothing of the last record leaks into the next.
        let row = b.start("").push(None).push(Some("B")).finish(7, None, None);
        assert_eq!(row.values().collect::<Vec<_>>(), [None, Some("B")]);
        assert_eq!(row.origin_text("people.csv"), "people.csv:7");

        // An entry with an empty DN is still an entry, not a CSV line.
        let root = b.start("").push(Some("x")).finish(0, None, None);
        assert_eq!(root.origin(), Origin::Dn(""));
    }
}
