//! One LDAP entry -> one [`SourceRecord`] (pure).
//!
//! Attribute names match case-insensitively (servers answer `givenName` when
//! asked for `givenname`), values are trimmed, empty values count as absent,
//! and several values for one attribute follow the job's `multi_value` rule.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::job::MultiValue;
use crate::source::{RecordBuilder, SourceRecord};
use crate::template::{AttrKind, encode_hex};

/// Builds the record for the entry `dn` from its text and binary attributes.
///
/// `attributes` are the job's attribute names, lower-cased; the record's
/// values line up with them. `kinds` says how each is read (missing entries
/// are text): binary attributes become lower-case hex of their bytes whether
/// or not the bytes happen to be UTF-8, and a primary-SMTP attribute gives its
/// `SMTP:` value.
pub(super) fn build(
    dn: String,
    attrs: HashMap<String, Vec<String>>,
    bin_attrs: &HashMap<String, Vec<Vec<u8>>>,
    attributes: &[String],
    kinds: &[AttrKind],
    multi_value: MultiValue,
) -> SourceRecord {
    let mut by_name: HashMap<String, Vec<String>> = HashMap::with_capacity(attrs.len());
    for (name, values) in attrs {
        by_name
            .entry(name.to_ascii_lowercase())
            .or_default()
            .extend(values);
    }

    let mut values: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(attributes.len());
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    for (i, attr) in attributes.iter().enumerate() {
        let binary = bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v);
        let kind = kinds.get(i).copied().unwrap_or_default();
        if kind == AttrKind::Binary {
            // The bytes, whichever map ldap3 put them in: a GUID whose 16
            // bytes happen to be UTF-8 arrives as "text" and must not be read as such.
            let text = by_name.get(attr.as_str()).into_iter().flatten();
            let all: Vec<String> = binary
                .into_iter()
                .flatten()
                .map(|b| encode_hex(b))
                .chain(text.map(|t| encode_hex(t.as_bytes())))
                .filter(|h| !h.is_empty())
                .collect();
            let first = all.first().cloned();
            if all.len() > 1 {
                match multi_value {
                    MultiValue::First => notes.push(format!(
                        "also has {attr}: {} more binary values",
                        all.len() - 1
                    )),
                    MultiValue::Invalid => problems.push(format!(
                        "{attr} has {} values and multi_value = \"invalid\"",
                        all.len()
                    )),
                }
            }
            values.push(first.map(Cow::Owned));
            continue;
        }
        // ldap3 moves an attribute whose values are not all UTF-8 to `bin_attrs`;
        // guessing an encoding would put garbage into Salesforce.
        if binary.is_some() {
            problems.push(format!(
                "{attr} is not valid UTF-8 (for bytes such as objectGUID use a filter: \
                 {{{attr}|guid}}, {{{attr}|base64}} or {{{attr}|hex}})"
            ));
            values.push(None);
            continue;
        }
        let present: Vec<&str> = by_name
            .get(attr.as_str())
            .into_iter()
            .flatten()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        if kind == AttrKind::AllValues {
            // An access rule matches on any value: keep them all.
            values.push((!present.is_empty()).then(|| {
                Cow::Owned(present.join(&crate::job::access::LDAP_VALUE_SEPARATOR.to_string()))
            }));
            continue;
        }
        if kind == AttrKind::PrimarySmtp {
            // Exchange marks the primary address with `SMTP:` in capitals; the
            // others (`smtp:`, `X500:`, `SIP:`...) are expected, not worth a note.
            let primary: Vec<&str> = present
                .iter()
                .copied()
                .filter(|v| v.starts_with("SMTP:"))
                .collect();
            if primary.len() > 1 {
                problems.push(format!(
                    "{attr} has {} primary (SMTP:) addresses: {}",
                    primary.len(),
                    primary.join(", ")
                ));
            }
            values.push(primary.first().map(|v| Cow::Borrowed(*v)));
            continue;
        }
        match present.as_slice() {
            [] => values.push(None),
            [one] => values.push(Some(Cow::Borrowed(one))),
            [first, rest @ ..] => {
                match multi_value {
                    MultiValue::First => {
                        notes.push(format!("also has {attr}: {}", rest.join(", ")));
                    }
                    MultiValue::Invalid => problems.push(format!(
                        "{attr} has {} values ({}) and multi_value = \"invalid\"",
                        present.len(),
                        present.join(", ")
                    )),
                }
                values.push(Some(Cow::Borrowed(first)));
            }
        }
    }

    let mut record = RecordBuilder::default();
    record.start(&dn);
    for v in &values {
        record.push(v.as_deref());
    }
    record.finish(
        0,
        (!problems.is_empty()).then(|| problems.join("; ").into_boxed_str()),
        (!notes.is_empty()).then(|| notes.join("; ").into_boxed_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_match_case_insensitively_and_values_are_trimmed() {
        let r = build(
            "uid=a,dc=x".into(),
            attrs(&[
                ("givenName", &["  Emma "]),
                ("MAIL", &["Emma@X.com"]),
                ("sn", &[" "]),
            ]),
            &HashMap::new(),
            &names(&["mail", "givenname", "sn", "uid"]),
            &[],
            MultiValue::First,
        );
        assert_eq!(r.origin(), crate::source::Origin::Dn("uid=a,dc=x"));
        assert_eq!(r.value(0), Some("Emma@X.com"), "case of the value is kept");
        assert_eq!(r.value(1), Some("Emma"));
        assert_eq!(r.value(2), None, "a blank value is no value");
        assert_eq!(r.value(3), None, "a missing attribute is no value");
        assert_eq!((r.problem, r.note), (None, None));
    }

    #[test]
    fn several_values_use_the_first_and_note_the_rest() {
        let r = build(
            "uid=k".into(),
            attrs(&[("mail", &["k.park@x.com", "kpark@x.com", "kp@x.com"])]),
            &HashMap::new(),
            &names(&["mail"]),
            &[],
            MultiValue::First,
        );
        assert_eq!(r.value(0), Some("k.park@x.com"));
        assert_eq!(
            r.note.as_deref(),
            Some("also has mail: kpark@x.com, kp@x.com")
        );
        assert_eq!(r.problem, None);
    }

    #[test]
    fn several_values_are_a_problem_when_the_job_says_so() {
        let r = build(
            "uid=k".into(),
            attrs(&[("mail", &["a@x.com", "b@x.com"])]),
            &HashMap::new(),
            &names(&["mail"]),
            &[],
            MultiValue::Invalid,
        );
        assert_eq!(
            r.problem.as_deref(),
            Some("mail has 2 values (a@x.com, b@x.com) and multi_value = \"invalid\"")
        );
    }

    #[test]
    fn blank_extra_values_do_not_count_as_values() {
        let r = build(
            "uid=k".into(),
            attrs(&[("mail", &["a@x.com", "  "])]),
            &HashMap::new(),
            &names(&["mail"]),
            &[],
            MultiValue::Invalid,
        );
        assert_eq!((r.value(0), r.problem.as_deref()), (Some("a@x.com"), None));
    }

    #[test]
    fn binary_values_are_a_problem_not_garbage() {
        let mut bin = HashMap::new();
        bin.insert("sn".to_owned(), vec![vec![0xff, 0xfe]]);
        let r = build(
            "uid=b".into(),
            HashMap::new(),
            &bin,
            &names(&["sn"]),
            &[],
            MultiValue::First,
        );
        assert_eq!(r.value(0), None);
        assert_eq!(
            r.problem.as_deref(),
            Some(
                "sn is not valid UTF-8 (for bytes such as objectGUID use a filter: \
                 {sn|guid}, {sn|base64} or {sn|hex})"
            )
        );
    }

    #[test]
    fn binary_is_decided_by_the_kind_not_by_the_bytes() {
        // Given a GUID whose 16 bytes happen to be UTF-8 (ldap3 then hands it
        // over as text) and one that is not,
        let text_guid = "sfsync-guid-0001";
        let mut bin = HashMap::new();
        bin.insert(
            "objectSid".to_owned(),
            vec![vec![1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]],
        );
        let r = build(
            "cn=a".into(),
            attrs(&[("objectGUID", &[text_guid])]),
            &bin,
            &names(&["objectguid", "objectsid"]),
            &[AttrKind::Binary, AttrKind::Binary],
            MultiValue::Invalid,
        );
        // then both arrive as the hex of their bytes, never as text.
        assert_eq!(r.value(0), Some("736673796e632d677569642d30303031"));
        assert_eq!(r.value(1), Some("010100000000000100000000"));
        assert_eq!((r.problem, r.note), (None, None));
    }

    #[test]
    fn primary_smtp_picks_the_capital_prefix_whatever_the_order() {
        let r = build(
            "cn=a".into(),
            attrs(&[(
                "proxyAddresses",
                &[
                    "smtp:alias@x.com",
                    "SMTP:Ada@X.com",
                    "X500:/o=x",
                    "smtp:old@y.com",
                ],
            )]),
            &HashMap::new(),
            &names(&["proxyaddresses"]),
            &[AttrKind::PrimarySmtp],
            MultiValue::Invalid,
        );
        assert_eq!(r.value(0), Some("SMTP:Ada@X.com"));
        assert_eq!(
            (r.problem, r.note),
            (None, None),
            "other addresses are expected"
        );

        let none = build(
            "cn=b".into(),
            attrs(&[("proxyAddresses", &["smtp:alias@x.com"])]),
            &HashMap::new(),
            &names(&["proxyaddresses"]),
            &[AttrKind::PrimarySmtp],
            MultiValue::First,
        );
        assert_eq!(none.value(0), None, "no primary address is no value");
    }
}
