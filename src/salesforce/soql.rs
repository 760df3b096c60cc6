//! SOQL text built from values: string literals escaped, field names checked,
//! and `Username IN (...)` lookups cut into chunks that keep each URL short.
//!
//! Everything here is pure; the client sends what these functions return.

use url::form_urlencoded;

/// Salesforce recommends URIs of at most 2,000 characters (the hard cap is
/// 16,384 bytes for URI plus headers, then 414/431). Chunked lookups aim under it.
pub const MAX_URL_LEN: usize = 2000;

/// Fields every User read needs, whatever the job maps.
pub const USER_BASE_FIELDS: [&str; 4] = ["Id", "Username", "Email", "IsActive"];

/// A SOQL string literal: single quotes around the value, with the escapes SOQL
/// defines (`\'`, `\\`, `\"`, `\n`, `\r`, `\t`, `\b`, `\f`). A username such as
/// `o'brien@x.com` must stay one literal, never end the string early.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A field API name as SOQL accepts it unquoted (`FederationIdentifier`, `Custom__c`).
/// Field names are interpolated, so anything else is refused rather than sent.
pub fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 80
}

/// The select list for User reads: the base fields, then each match key not
/// already there (compared case-insensitively, as SOQL does).
pub fn user_fields(match_keys: &[String]) -> Result<Vec<String>, String> {
    let mut fields: Vec<String> = USER_BASE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    for key in match_keys {
        if !is_field_name(key) {
            return Err(format!(
                "match key {key:?} is not a Salesforce field name (letters, digits and _ only)"
            ));
        }
        if !fields.iter().any(|f| f.eq_ignore_ascii_case(key)) {
            fields.push(key.clone());
        }
    }
    Ok(fields)
}

/// `SELECT <fields> FROM User`, every user, active or not (inactive users still hold their usernames).
pub fn select_users(fields: &[String]) -> String {
    format!("SELECT {} FROM User", fields.join(", "))
}

/// Length of `q` once form-encoded into the query string.
fn encoded_len(s: &str) -> usize {
    form_urlencoded::byte_serialize(s.as_bytes())
        .map(str::len)
        .sum()
}

/// Builds `{prefix}IN ({v1}, {v2}, ...){suffix}` queries over `values`, as few as
/// possible, each staying within `max_encoded` characters once URL-encoded.
/// A single value longer than the budget still gets its own query (it must be
/// looked up; Salesforce tolerates long URIs up to its hard cap).
pub fn chunk_in(prefix: &str, values: &[String], suffix: &str, max_encoded: usize) -> Vec<String> {
    let fixed = encoded_len(prefix) + encoded_len("()") + encoded_len(suffix);
    let sep = encoded_len(", ");
    let mut queries = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut len = fixed;
    for value in values {
        let lit = quote(value);
        let add = encoded_len(&lit) + if current.is_empty() { 0 } else { sep };
        if !current.is_empty() && len + add > max_encoded {
            queries.push(format!("{prefix}({}){suffix}", current.join(", ")));
            current.clear();
            len = fixed;
        }
        len += encoded_len(&lit) + if current.is_empty() { 0 } else { sep };
        current.push(lit);
    }
    if !current.is_empty() {
        queries.push(format!("{prefix}({}){suffix}", current.join(", ")));
    }
    queries
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads a literal back the way a SOQL lexer does; used to prove escaping round-trips.
    fn unquote(lit: &str) -> Option<(String, &str)> {
        let mut chars = lit.strip_prefix('\'')?.char_indices();
        let mut out = String::new();
        let body = &lit[1..];
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => return Some((out, &body[i + 1..])),
                '\\' => {
                    let (_, e) = chars.next()?;
                    out.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        other => other,
                    });
                }
                c => out.push(c),
            }
        }
        None
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quote("o'brien@x.com"), r"'o\'brien@x.com'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
        assert_eq!(quote(r"x\' OR Id != null"), r"'x\\\' OR Id != null'");
    }

    #[test]
    fn field_names_are_checked() {
        assert!(is_field_name("FederationIdentifier"));
        assert!(is_field_name("Employee_Id__c"));
        for bad in ["", "1Id", "Id, Name", "Id FROM User--", "Usérname"] {
            assert!(!is_field_name(bad), "{bad:?}");
        }
        assert_eq!(
            user_fields(&["federationidentifier".into(), "Username".into()]).unwrap(),
            [
                "Id",
                "Username",
                "Email",
                "IsActive",
                "federationidentifier"
            ]
        );
        assert!(user_fields(&["Id) FROM Profile".into()]).is_err());
    }

    #[test]
    fn chunks_cover_every_value_in_order() {
        let values: Vec<String> = (0..300).map(|i| format!("user{i}@example.com")).collect();
        let qs = chunk_in("SELECT Id FROM User WHERE Username IN ", &values, "", 1500);
        assert!(qs.len() > 1);
        let joined = qs.join(" ");
        for v in &values {
            assert!(joined.contains(&quote(v)), "{v}");
        }
        for q in &qs {
            assert!(encoded_len(q) <= 1500, "{}", encoded_len(q));
        }
    }

    proptest! {
        #[test]
        fn quote_round_trips(s in any::<String>()) {
            let lit = quote(&s);
            let (back, rest) = unquote(&lit).expect("a closed literal");
            prop_assert_eq!(back, s);
            prop_assert_eq!(rest, "");
        }

        #[test]
        fn chunks_stay_short_and_lose_nothing(
            values in proptest::collection::vec("[a-z'\\\\%&+ ]{1,40}@x\\.com", 0..120),
            max in 200usize..2000,
        ) {
            let prefix = "SELECT Id FROM User WHERE Username IN ";
            let qs = chunk_in(prefix, &values, " ORDER BY Id", max);
            let mut seen = Vec::new();
            for q in &qs {
                let inner = q.strip_prefix(prefix).unwrap().strip_suffix(" ORDER BY Id").unwrap();
                let mut rest = inner.strip_prefix('(').unwrap().strip_suffix(')').unwrap();
                let mut n = 0;
                while !rest.is_empty() {
                    let (v, after) = unquote(rest).unwrap();
                    seen.push(v);
                    n += 1;
                    rest = after.strip_prefix(", ").unwrap_or(after);
                }
                // Over budget only when a single literal alone does not fit.
                prop_assert!(encoded_len(q) <= max || n == 1);
            }
            prop_assert_eq!(seen, values);
        }
    }
}
