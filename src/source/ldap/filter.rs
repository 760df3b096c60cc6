//! RFC 4515 escaping of values placed into LDAP filters, and the one filter
//! sfsync builds itself (`--only`: the job filter AND one mail address).

/// Escapes a value for use inside an LDAP filter (RFC 4515 section 3).
///
/// `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c` and `\00`, so an
/// address such as `a*)(uid=*` matches only itself and can never widen a search.
/// Everything else, non-ASCII included, is passed through: RFC 4515 allows
/// UTF-8 in filter values and ldap3 sends the bytes as they are.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// `(&<job filter>(<mail_attr>=<escaped address>))`.
pub(super) fn only_filter(job_filter: &str, mail_attr: &str, address: &str) -> String {
    // The job loader insists on a parenthesised filter; be lenient anyway so a
    // bare `objectClass=person` cannot turn into a malformed AND.
    let job_filter = job_filter.trim();
    let (open, close) = if job_filter.starts_with('(') {
        ("", "")
    } else {
        ("(", ")")
    };
    format!(
        "(&{open}{job_filter}{close}({mail_attr}={}))",
        escape_filter_value(address)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(escape_filter_value("a*b"), "a\\2ab");
        assert_eq!(
            escape_filter_value("x)(uid=*"),
            "x\\29\\28uid=\\2a",
            "an injection attempt stays one value"
        );
        assert_eq!(escape_filter_value("back\\slash"), "back\\5cslash");
        assert_eq!(escape_filter_value("nul\0byte"), "nul\\00byte");
        assert_eq!(escape_filter_value("zoë@example.com"), "zoë@example.com");
    }

    #[test]
    fn only_filter_ands_the_job_filter_with_the_address() {
        assert_eq!(
            only_filter("(objectClass=person)", "mail", "a*b@x.com"),
            "(&(objectClass=person)(mail=a\\2ab@x.com))"
        );
        assert_eq!(
            only_filter("objectClass=person", "mail", "a@x.com"),
            "(&(objectClass=person)(mail=a@x.com))"
        );
    }

    proptest::proptest! {
        #[test]
        fn escaped_values_hold_no_filter_metacharacters(s in "\\PC{0,40}") {
            let e = escape_filter_value(&s);
            proptest::prop_assert!(!e.contains(['*', '(', ')', '\0']));
            // Every backslash starts a two-hex-digit escape.
            let bytes = e.as_bytes();
            for (i, b) in bytes.iter().enumerate() {
                if *b == b'\\' {
                    proptest::prop_assert!(bytes.len() >= i + 3);
                    proptest::prop_assert!(bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit());
                }
            }
        }
    }
}
