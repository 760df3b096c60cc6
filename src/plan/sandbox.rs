//! Sandbox rules (SPEC "Collisions and sandboxes"; lifecycle reference §5):
//! a sandbox copies every production user with `.NAME` appended to the
//! username and `.invalid` to the e-mail. Pure functions over text; the
//! planner ([`super::collide`]) and the normalizer use them.
//!
//! Comparisons ignore case the way usernames do (Unicode lower case, so
//! `JÖRG@X.COM.invalid` is `jörg@x.com.invalid`); whether Salesforce treats
//! the sandbox suffix case-sensitively is unknown (reference §5), so it is
//! compared without case too.

use std::borrow::Cow;

/// The `.invalid` a sandbox appends to every copied e-mail.
pub const SCRAMBLED: &str = ".invalid";

/// `s` in lower case (borrowed when it already is).
fn lower(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether two addresses are equal without regard to case (Unicode lower case).
pub fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || (!(a.is_ascii() && b.is_ascii()) && lower(a) == lower(b))
}

/// The username a user has in sandbox `sandbox`: `username.sandbox`, in
/// lower case (`Ada@X.com`, `UAT` -> `ada@x.com.uat`).
pub fn suffixed(username: &str, sandbox: &str) -> String {
    let mut out = lower(username).into_owned();
    out.push('.');
    out.push_str(&lower(sandbox));
    out
}

/// `username` without its `.sandbox` suffix, when it has it (any case).
pub fn plain<'a>(username: &'a str, sandbox: &str) -> Option<&'a str> {
    let cut = username.len().checked_sub(sandbox.len() + 1)?;
    let (head, tail) = (username.get(..cut)?, username.get(cut..)?);
    (tail.starts_with('.') && eq_ci(&tail[1..], sandbox) && !head.is_empty()).then_some(head)
}

/// Whether the org's e-mail is the source's, seen through a sandbox copy
/// (`sandbox`: the job targets one): the same address, or the same address
/// plus `.invalid`. In production only the same address counts.
pub fn same_email(org: &str, source: &str, sandbox: bool) -> bool {
    if eq_ci(org, source) {
        return true;
    }
    sandbox
        && org.len() == source.len() + SCRAMBLED.len()
        && org
            .get(source.len()..)
            .is_some_and(|t| t.eq_ignore_ascii_case(SCRAMBLED))
        && org.get(..source.len()).is_some_and(|h| eq_ci(h, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn suffix_is_appended_in_lower_case_and_stripped_in_any_case() {
        assert_eq!(suffixed("Ada@Example.com", "UAT"), "ada@example.com.uat");
        assert_eq!(suffixed("JÖRG@Müller.de", "uat"), "jörg@müller.de.uat");
        assert_eq!(plain("ada@example.com.uat", "uat"), Some("ada@example.com"));
        assert_eq!(plain("ada@example.com.UAT", "uat"), Some("ada@example.com"));
        assert_eq!(plain("jörg@müller.de.Uat", "uat"), Some("jörg@müller.de"));
        assert_eq!(plain("ada@example.com", "uat"), None);
        assert_eq!(plain("ada@example.comuat", "uat"), None);
        assert_eq!(plain(".uat", "uat"), None);
        assert_eq!(plain("uat", "uat"), None);
        // A multi-byte character just before the cut is not split.
        assert_eq!(plain("é.uat", "uat"), Some("é"));
        assert_eq!(plain("éuat", "uat"), None);
    }

    #[test]
    fn an_invalid_suffixed_email_is_the_same_only_in_a_sandbox() {
        assert!(same_email("ada@example.com", "Ada@Example.com", false));
        assert!(same_email(
            "ada@example.com.invalid",
            "Ada@Example.com",
            true
        ));
        assert!(same_email(
            "Ada@Example.com.INVALID",
            "ada@example.com",
            true
        ));
        assert!(!same_email(
            "ada@example.com.invalid",
            "ada@example.com",
            false
        ));
        assert!(same_email("jörg@müller.de.invalid", "JÖRG@MÜLLER.DE", true));
        assert!(!same_email(
            "jörg@müller.de.invalid",
            "jorg@muller.de",
            true
        ));
        assert!(!same_email(
            "bob@example.com.invalid",
            "ada@example.com",
            true
        ));
        assert!(!same_email(
            "ada@example.com.invalidx",
            "ada@example.com",
            true
        ));
        assert!(!same_email(
            "ada@example.com.inval",
            "ada@example.com",
            true
        ));
        assert!(!same_email(
            "ada@example.co.invalid",
            "ada@example.com",
            true
        ));
    }

    proptest! {
        /// Whatever the address and the sandbox name (capitals, non-ASCII),
        /// the suffixed username strips back to the address in lower case,
        /// and the scrambled e-mail is the same e-mail in a sandbox only.
        #[test]
        fn suffix_and_scramble_round_trip(local in "[a-zA-ZÄÖÜäöü0-9._]{1,12}", domain in "[a-zA-Zé]{1,8}\\.(com|de)", sandbox in "[a-zA-Z][a-zA-Z0-9]{0,9}") {
            let address = format!("{local}@{domain}");
            let s = suffixed(&address, &sandbox);
            let lowered = address.to_lowercase();
            prop_assert_eq!(plain(&s, &sandbox), Some(lowered.as_str()));
            prop_assert_eq!(plain(&s.to_uppercase(), &sandbox).map(str::to_lowercase), Some(address.to_lowercase()));
            let scrambled = format!("{}{SCRAMBLED}", address.to_uppercase());
            prop_assert!(same_email(&scrambled, &address, true));
            prop_assert!(!same_email(&scrambled, &address, false));
        }
    }

    #[test]
    fn an_ascii_address_equals_its_unicode_spelling_in_lower_case() {
        // The Kelvin sign K (U+212A) lower-cases to an ASCII k: only one side is ASCII.
        assert!(eq_ci("kim@x.com", "\u{212A}im@x.com"));
        assert!(eq_ci("\u{212A}IM@X.COM", "kim@x.com"));
        assert!(!eq_ci("kim@x.com", "\u{212A}am@x.com"));
    }
}
