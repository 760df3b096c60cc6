//! One LDAP entry -> one [`SourceRecord`] (pure).
//!
//! Attribute names match case-insensitively (servers answer `givenName` when
//! asked for `givenname`), values are trimmed, empty values count as absent,
//! and several values for one attribute follow the job's `multi_value` rule.

use std::collections::HashMap;

use crate::job::MultiValue;
use crate::source::{RecordBuilder, SourceRecord};

/// Builds the record for the entry `dn` from its text and binary attributes.
///
/// `attributes` are the job's attribute names, lower-cased; the record's
/// values line up with them.
pub(super) fn build(
    dn: String,
    attrs: HashMap<String, Vec<String>>,
    bin_attrs: &HashMap<String, Vec<Vec<u8>>>,
    attributes: &[String],
    multi_value: MultiValue,
) -> SourceRecord {
    let mut by_name: HashMap<String, Vec<String>> = HashMap::with_capacity(attrs.len());
    for (name, values) in attrs {
        by_name
            .entry(name.to_ascii_lowercase())
            .or_default()
            .extend(values);
    }

    let mut values: Vec<Option<&str>> = Vec::with_capacity(attributes.len());
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    for attr in attributes {
        // ldap3 moves an attribute whose values are not all UTF-8 to `bin_attrs`;
        // guessing an encoding would put garbage into Salesforce.
        if bin_attrs.keys().any(|k| k.eq_ignore_ascii_case(attr)) {
            problems.push(format!("{attr} is not valid UTF-8"));
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
        match present.as_slice() {
            [] => values.push(None),
            [one] => values.push(Some(one)),
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
                values.push(Some(first));
            }
        }
    }

    let mut record = RecordBuilder::default();
    record.start(&dn);
    for v in values {
        record.push(v);
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
            MultiValue::First,
        );
        assert_eq!(r.value(0), None);
        assert_eq!(r.problem.as_deref(), Some("sn is not valid UTF-8"));
    }
}
