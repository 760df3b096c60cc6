//! `{mail|lower}` templates: parsed once when the job loads, rendered per record.
//!
//! Grammar: literal text with `{attribute|filter|filter:N}` placeholders;
//! `{{` and `}}` are literal braces. Filters: `lower`, `upper`, `trim`,
//! `first:N` (N characters, not bytes). Attribute names are case-insensitive,
//! as in LDAP. If any attribute a template uses is missing, the template
//! yields nothing, so the field's `[defaults]` entry applies (SPEC).

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Attr { index: usize, filters: Vec<Filter> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    Lower,
    Upper,
    Trim,
    First(usize),
}

/// Why a template does not parse. Shown after the job-file key that holds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` at character {0}; write `{{{{` for a literal brace")]
    Unclosed(usize),
    #[error("`}}` at character {0} has no opening `{{`; write `}}}}` for a literal brace")]
    StrayClose(usize),
    #[error("empty attribute name in `{{{0}}}`")]
    EmptyAttribute(String),
    #[error("attribute name `{0}` has characters other than letters, digits, `-` and `_`")]
    BadAttribute(String),
    #[error("unknown filter `{0}` (known: lower, upper, trim, first:N)")]
    UnknownFilter(String),
    #[error("`first` needs a positive count, as in `first:8`, found `{0}`")]
    BadCount(String),
}

impl Template {
    /// Parses `source`, registering the attributes it uses in `attributes`
    /// (lower-cased, first use first) and keeping their indexes.
    pub fn parse(source: &str, attributes: &mut Vec<String>) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::StrayClose(at)),
                '{' => {
                    let rest = &source[at + 1..];
                    let end = rest.find('}').ok_or(TemplateError::Unclosed(at))?;
                    let inner = &rest[..end];
                    if inner.contains('{') {
                        return Err(TemplateError::Unclosed(at));
                    }
                    // Skip the placeholder's characters in the outer iterator.
                    while chars.peek().is_some_and(|&(i, _)| i <= at + end + 1) {
                        chars.next();
                    }
                    if !literal.is_empty() {
                        parts.push(literal_part(std::mem::take(&mut literal)));
                    }
                    parts.push(parse_placeholder(inner, attributes)?);
                }
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(literal_part(literal));
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
        })
    }

    /// Renders against one record's values (indexed like the job's attributes).
    /// `None` when an attribute is missing or the result is empty.
    pub fn render<'a>(&self, value: impl Fn(usize) -> Option<&'a str>) -> Option<String> {
        let mut out = String::new();
        (self.render_into(&mut out, value) && !out.is_empty()).then_some(out)
    }

    /// Appends the rendering to `out` (a buffer reused across records); `false`,
    /// with `out` as it was, when an attribute is missing.
    pub fn render_into<'a>(
        &self,
        out: &mut String,
        value: impl Fn(usize) -> Option<&'a str>,
    ) -> bool {
        let start = out.len();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Attr { index, filters } => match value(*index) {
                    Some(raw) => push_filtered(out, raw, filters),
                    None => {
                        out.truncate(start);
                        return false;
                    }
                },
            }
        }
        true
    }

    /// Indexes of the attributes this template reads, in order of use.
    pub fn attributes(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Attr { index, .. } => Some(*index),
            Part::Literal(_) => None,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Literal text in NFC, like every source value (SPEC), so a rendered value
/// is composed whichever way the job file was typed.
fn literal_part(text: String) -> Part {
    use unicode_normalization::UnicodeNormalization;
    if text.is_ascii() {
        Part::Literal(text)
    } else {
        Part::Literal(text.nfc().collect())
    }
}

fn parse_placeholder(inner: &str, attributes: &mut Vec<String>) -> Result<Part, TemplateError> {
    let mut pieces = inner.split('|');
    let name = pieces.next().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(TemplateError::EmptyAttribute(inner.to_owned()));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ';')
    {
        return Err(TemplateError::BadAttribute(name.to_owned()));
    }
    let name = name.to_ascii_lowercase();
    let index = match attributes.iter().position(|a| *a == name) {
        Some(i) => i,
        None => {
            attributes.push(name);
            attributes.len() - 1
        }
    };
    let filters = pieces.map(parse_filter).collect::<Result<_, _>>()?;
    Ok(Part::Attr { index, filters })
}

fn parse_filter(text: &str) -> Result<Filter, TemplateError> {
    let text = text.trim();
    match text {
        "lower" => Ok(Filter::Lower),
        "upper" => Ok(Filter::Upper),
        "trim" => Ok(Filter::Trim),
        _ => match text.strip_prefix("first:") {
            Some(n) => match n.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(Filter::First(n)),
                _ => Err(TemplateError::BadCount(n.to_owned())),
            },
            None => Err(TemplateError::UnknownFilter(text.to_owned())),
        },
    }
}

/// Appends `raw` through `filters`. A last `lower` or `upper` on ASCII text
/// (`{mail|lower}`) changes the copy in `out` instead of making another.
fn push_filtered(out: &mut String, raw: &str, filters: &[Filter]) {
    let start = out.len();
    match filters.split_last() {
        Some((Filter::Lower, rest)) if raw.is_ascii() => {
            out.push_str(&apply(raw, rest));
            out[start..].make_ascii_lowercase();
        }
        Some((Filter::Upper, rest)) if raw.is_ascii() => {
            out.push_str(&apply(raw, rest));
            out[start..].make_ascii_uppercase();
        }
        _ => out.push_str(&apply(raw, filters)),
    }
}

/// The filters in order; borrows `raw` unless a filter must change characters.
fn apply<'a>(raw: &'a str, filters: &[Filter]) -> Cow<'a, str> {
    filters
        .iter()
        .fold(Cow::Borrowed(raw), |value, filter| match *filter {
            // ASCII text without the letters to change is already right.
            Filter::Lower if value.is_ascii() && !value.bytes().any(|b| b.is_ascii_uppercase()) => {
                value
            }
            Filter::Upper if value.is_ascii() && !value.bytes().any(|b| b.is_ascii_lowercase()) => {
                value
            }
            Filter::Lower => Cow::Owned(value.to_lowercase()),
            Filter::Upper => Cow::Owned(value.to_uppercase()),
            Filter::Trim => narrow(value, str::trim),
            Filter::First(n) => narrow(value, |s| {
                &s[..s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)]
            }),
        })
}

/// A slice of `value`, still borrowed when `value` was.
fn narrow<'a>(value: Cow<'a, str>, part: impl Fn(&str) -> &str) -> Cow<'a, str> {
    match value {
        Cow::Borrowed(s) => Cow::Borrowed(part(s)),
        Cow::Owned(s) => Cow::Owned(part(&s).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn render(src: &str, pairs: &[(&str, &str)]) -> Option<String> {
        let mut attrs = Vec::new();
        let t = Template::parse(src, &mut attrs).unwrap();
        let values: Vec<Option<&str>> = attrs
            .iter()
            .map(|a| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(a))
                    .map(|(_, v)| *v)
            })
            .collect();
        t.render(|i| values[i])
    }

    #[test]
    fn spec_examples_render() {
        let ada = [
            ("mail", "Ada.Lovelace@Example.com"),
            ("givenName", "Ada"),
            ("sn", "Lovelace"),
        ];
        assert_eq!(
            render("{mail|lower}", &ada).as_deref(),
            Some("ada.lovelace@example.com")
        );
        assert_eq!(
            render("{givenName|first:1}{sn|first:7}", &ada).as_deref(),
            Some("ALovelac")
        );
        assert_eq!(
            render("{ sn | upper }!", &ada).as_deref(),
            Some("LOVELACE!")
        );
        assert_eq!(
            render("{{literal}} {sn}", &ada).as_deref(),
            Some("{literal} Lovelace")
        );
    }

    #[test]
    fn first_counts_characters_not_bytes() {
        assert_eq!(
            render("{sn|first:3}", &[("sn", "Ñúñez")]).as_deref(),
            Some("Ñúñ")
        );
    }

    #[test]
    fn literal_text_is_composed_and_first_counts_composed_characters() {
        // A decomposed "É" typed in the job file renders composed.
        assert_eq!(
            render("E\u{301}-{sn|first:1}", &[("sn", "\u{c9}mile")]).as_deref(),
            Some("\u{c9}-\u{c9}")
        );
    }

    #[test]
    fn missing_attribute_or_empty_result_yields_nothing() {
        assert_eq!(render("{givenName|first:1}{sn}", &[("sn", "Doe")]), None);
        assert_eq!(render("{sn|trim}", &[("sn", "   ")]), None);
    }

    #[test]
    fn attribute_names_are_shared_case_insensitively() {
        let mut attrs = Vec::new();
        Template::parse("{Mail|lower}", &mut attrs).unwrap();
        Template::parse("{mail}{sn}", &mut attrs).unwrap();
        assert_eq!(attrs, ["mail", "sn"]);
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let mut a = Vec::new();
        assert_eq!(
            Template::parse("{mail", &mut a),
            Err(TemplateError::Unclosed(0))
        );
        assert_eq!(
            Template::parse("x}", &mut a),
            Err(TemplateError::StrayClose(1))
        );
        assert_eq!(
            Template::parse("{}", &mut a),
            Err(TemplateError::EmptyAttribute(String::new()))
        );
        assert_eq!(
            Template::parse("{mail|shout}", &mut a),
            Err(TemplateError::UnknownFilter("shout".into()))
        );
        assert_eq!(
            Template::parse("{sn|first:0}", &mut a),
            Err(TemplateError::BadCount("0".into()))
        );
        assert_eq!(
            Template::parse("{sn|first:x}", &mut a),
            Err(TemplateError::BadCount("x".into()))
        );
    }

    proptest! {
        #[test]
        fn literal_text_without_braces_renders_as_itself_in_nfc(s in "[^{}]{1,40}") {
            use unicode_normalization::UnicodeNormalization;
            prop_assert_eq!(render(&s, &[]), Some(s.nfc().collect::<String>()));
        }

        #[test]
        fn filters_do_what_their_plain_definitions_do(
            s in "[ a-zA-Z]{0,8}|\\PC{0,20}",
            picks in proptest::collection::vec(0usize..4, 0..4),
        ) {
            let all = [Filter::Lower, Filter::Upper, Filter::Trim, Filter::First(3)];
            let filters: Vec<Filter> = picks.iter().map(|&p| all[p]).collect();
            let mut plain = s.clone();
            for f in &filters {
                plain = match *f {
                    Filter::Lower => plain.to_lowercase(),
                    Filter::Upper => plain.to_uppercase(),
                    Filter::Trim => plain.trim().to_owned(),
                    Filter::First(n) => plain.chars().take(n).collect(),
                };
            }
            prop_assert_eq!(apply(&s, &filters), plain.as_str());
            let mut out = String::from("x");
            push_filtered(&mut out, &s, &filters);
            prop_assert_eq!(out, format!("x{plain}"));
        }

        #[test]
        fn first_never_exceeds_n(s in "\\PC{0,30}", n in 1usize..10) {
            let out = render(&format!("{{a|first:{n}}}"), &[("a", &s)]).unwrap_or_default();
            prop_assert!(out.chars().count() <= n);
        }
    }
}
