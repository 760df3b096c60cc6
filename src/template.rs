//! `{mail|lower}` templates: parsed once when the job loads, rendered per record.
//!
//! Grammar: literal text with `{attribute|filter|filter:N}` placeholders;
//! `{{` and `}}` are literal braces. Filters: `lower`, `upper`, `trim`,
//! `first:N` (N characters, not bytes). Attribute names are case-insensitive,
//! as in LDAP. If any attribute a template uses is missing, the template
//! yields nothing, so the field's `[defaults]` entry applies (SPEC).
//!
//! Directory filters (SPEC "Active Directory"), each first in its placeholder
//! because it decides how the source reads the attribute ([`AttrKind`]):
//! `guid`, `sid`, `base64` and `hex` read the attribute's raw bytes (the
//! source hands them over as lower-case hex text, see [`AttrKind::Binary`]);
//! `smtp` takes the primary address of `proxyAddresses` (`SMTP:` in capitals)
//! without its prefix. A value such a filter cannot read (a GUID that is not
//! 16 bytes, no `SMTP:` value) counts as missing.

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
    /// Raw bytes -> `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (objectGUID).
    Guid,
    /// Raw bytes -> `S-1-5-21-...` (objectSid).
    Sid,
    /// Raw bytes -> standard base64 with padding (the ADFS/Entra "ImmutableID").
    Base64,
    /// Raw bytes -> lower-case hex.
    Hex,
    /// `SMTP:primary@x` -> `primary@x`.
    Smtp,
}

/// How a source must deliver an attribute, decided by the filters templates
/// use on it, never by what its bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttrKind {
    /// Text (UTF-8); several values follow the job's `multi_value` rule.
    #[default]
    Text,
    /// Raw bytes (`guid`, `sid`, `base64`, `hex`), delivered as lower-case hex
    /// text so a record stays one string; the filter decodes it again.
    Binary,
    /// The value of a multi-valued address list that starts with `SMTP:` in
    /// capitals (`smtp`), with its prefix; other values are expected, not noted.
    PrimarySmtp,
    /// Every value, joined with a newline (an `[[access.rules]]` attribute
    /// such as `memberOf`, which matches on any value); no mapping reads it.
    AllValues,
}

impl AttrKind {
    /// The filter names that make an attribute this kind, for messages.
    pub fn filters(self) -> &'static str {
        match self {
            AttrKind::Text => "no directory filter",
            AttrKind::Binary => "guid, sid, base64 or hex",
            AttrKind::PrimarySmtp => "smtp",
            AttrKind::AllValues => "none (an access rule reads every value)",
        }
    }
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
    #[error(
        "unknown filter `{0}` (known: lower, upper, trim, first:N, guid, sid, base64, hex, smtp)"
    )]
    UnknownFilter(String),
    #[error(
        "`{0}` reads how the attribute is stored, so it must come first in its placeholder, as in `{{objectGUID|{0}|upper}}`"
    )]
    DirectoryFilterNotFirst(String),
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
                Part::Attr { index, filters } => {
                    if !value(*index).is_some_and(|raw| push_filtered(out, raw, filters)) {
                        out.truncate(start);
                        return false;
                    }
                }
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

    /// Each attribute use with the kind its filters ask for (an attribute may
    /// appear more than once).
    pub fn attribute_kinds(&self) -> impl Iterator<Item = (usize, AttrKind)> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Attr { index, filters } => Some((*index, kind_of(filters))),
            Part::Literal(_) => None,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

fn kind_of(filters: &[Filter]) -> AttrKind {
    match filters.first() {
        Some(Filter::Guid | Filter::Sid | Filter::Base64 | Filter::Hex) => AttrKind::Binary,
        Some(Filter::Smtp) => AttrKind::PrimarySmtp,
        _ => AttrKind::Text,
    }
}

/// The kind of every attribute in `attributes`, from the templates that use it
/// (`(job-file key, template)`); `Err` lists every attribute read two ways
/// (`{objectGUID|guid}` in one field and `{objectGUID}` in another), naming
/// the keys, since one read cannot give both bytes and text.
pub fn attribute_kinds<'a>(
    attributes: &[String],
    templates: impl IntoIterator<Item = (&'a str, &'a Template)>,
) -> Result<Vec<AttrKind>, Vec<String>> {
    let mut kinds: Vec<Option<(AttrKind, &str)>> = vec![None; attributes.len()];
    let mut problems = Vec::new();
    for (key, template) in templates {
        for (index, kind) in template.attribute_kinds() {
            match kinds[index] {
                None => kinds[index] = Some((kind, key)),
                Some((k, _)) if k == kind => {}
                Some((k, first)) => {
                    let problem = format!(
                        "{key}: `{}` is read with {} here but with {} in {first}; \
                         one attribute is read one way, so use the same kind of filter in both",
                        attributes[index],
                        kind.filters(),
                        k.filters()
                    );
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(kinds
            .into_iter()
            .map(|k| k.map_or(AttrKind::Text, |(k, _)| k))
            .collect())
    } else {
        Err(problems)
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
    let filters: Vec<Filter> = pieces.map(parse_filter).collect::<Result<_, _>>()?;
    if let Some(late) = filters
        .iter()
        .skip(1)
        .find(|f| kind_of(&[**f]) != AttrKind::Text)
    {
        return Err(TemplateError::DirectoryFilterNotFirst(
            filter_name(*late).to_owned(),
        ));
    }
    Ok(Part::Attr { index, filters })
}

fn parse_filter(text: &str) -> Result<Filter, TemplateError> {
    let text = text.trim();
    match text {
        "lower" => Ok(Filter::Lower),
        "upper" => Ok(Filter::Upper),
        "trim" => Ok(Filter::Trim),
        "guid" => Ok(Filter::Guid),
        "sid" => Ok(Filter::Sid),
        "base64" => Ok(Filter::Base64),
        "hex" => Ok(Filter::Hex),
        "smtp" => Ok(Filter::Smtp),
        _ => match text.strip_prefix("first:") {
            Some(n) => match n.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(Filter::First(n)),
                _ => Err(TemplateError::BadCount(n.to_owned())),
            },
            None => Err(TemplateError::UnknownFilter(text.to_owned())),
        },
    }
}

fn filter_name(filter: Filter) -> &'static str {
    match filter {
        Filter::Lower => "lower",
        Filter::Upper => "upper",
        Filter::Trim => "trim",
        Filter::First(_) => "first",
        Filter::Guid => "guid",
        Filter::Sid => "sid",
        Filter::Base64 => "base64",
        Filter::Hex => "hex",
        Filter::Smtp => "smtp",
    }
}

/// Appends `raw` through `filters`; `false`, with `out` as it was, when a
/// directory filter cannot read the value. A last `lower` or `upper` on ASCII
/// text (`{mail|lower}`) changes the copy in `out` instead of making another.
fn push_filtered(out: &mut String, raw: &str, filters: &[Filter]) -> bool {
    let start = out.len();
    let (value, fold) = match filters.split_last() {
        Some((Filter::Lower, rest)) if raw.is_ascii() => (apply(raw, rest), Some(true)),
        Some((Filter::Upper, rest)) if raw.is_ascii() => (apply(raw, rest), Some(false)),
        _ => (apply(raw, filters), None),
    };
    let Some(value) = value else {
        return false;
    };
    out.push_str(&value);
    match fold {
        Some(true) => out[start..].make_ascii_lowercase(),
        Some(false) => out[start..].make_ascii_uppercase(),
        None => {}
    }
    true
}

/// The filters in order; borrows `raw` unless a filter must change characters.
/// `None` when a directory filter cannot read the value.
fn apply<'a>(raw: &'a str, filters: &[Filter]) -> Option<Cow<'a, str>> {
    let (value, text_filters) = match filters.split_first() {
        Some((first, rest)) if kind_of(&[*first]) != AttrKind::Text => {
            (Cow::Owned(directory(raw, *first)?), rest)
        }
        _ => (Cow::Borrowed(raw), filters),
    };
    Some(
        text_filters
            .iter()
            .fold(value, |value, filter| match *filter {
                // ASCII text without the letters to change is already right.
                Filter::Lower
                    if value.is_ascii() && !value.bytes().any(|b| b.is_ascii_uppercase()) =>
                {
                    value
                }
                Filter::Upper
                    if value.is_ascii() && !value.bytes().any(|b| b.is_ascii_lowercase()) =>
                {
                    value
                }
                Filter::Lower => Cow::Owned(value.to_lowercase()),
                Filter::Upper => Cow::Owned(value.to_uppercase()),
                Filter::Trim => narrow(value, str::trim),
                Filter::First(n) => narrow(value, |s| {
                    &s[..s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)]
                }),
                // Only ever first (checked at parse time), handled above.
                Filter::Guid | Filter::Sid | Filter::Base64 | Filter::Hex | Filter::Smtp => value,
            }),
    )
}

/// A directory filter on the value as the source delivered it (hex text for
/// the binary ones, see [`AttrKind::Binary`]).
fn directory(raw: &str, filter: Filter) -> Option<String> {
    use base64::Engine as _;
    match filter {
        Filter::Smtp => raw.strip_prefix("SMTP:").map(|a| a.trim().to_owned()),
        Filter::Hex => decode_hex(raw).map(|_| raw.to_ascii_lowercase()),
        Filter::Base64 => {
            decode_hex(raw).map(|b| base64::engine::general_purpose::STANDARD.encode(b))
        }
        Filter::Guid => format_guid(&decode_hex(raw)?),
        Filter::Sid => format_sid(&decode_hex(raw)?),
        _ => None,
    }
}

/// Lower-case hex of `bytes`: how a source hands raw bytes to the templates.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// AD's string form of a 16-byte GUID: the first three groups are stored
/// little-endian, the last two in byte order (MS-DTYP 2.3.4.2).
fn format_guid(b: &[u8]) -> Option<String> {
    let b: &[u8; 16] = b.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        encode_hex(&b[10..])
    ))
}

/// The `S-1-5-21-...` form of a binary SID (MS-DTYP 2.4.2): revision, count of
/// sub-authorities, a 48-bit big-endian authority, then 32-bit little-endian
/// sub-authorities. An authority of 2^32 or more is written in hex, as Windows does.
fn format_sid(b: &[u8]) -> Option<String> {
    let (&revision, rest) = b.split_first()?;
    let (&count, rest) = rest.split_first()?;
    if rest.len() != 6 + 4 * usize::from(count) {
        return None;
    }
    let authority = rest[..6]
        .iter()
        .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    let mut out = if authority < 1 << 32 {
        format!("S-{revision}-{authority}")
    } else {
        format!("S-{revision}-0x{authority:012X}")
    };
    for sub in rest[6..].chunks_exact(4) {
        let value = u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]]);
        out.push_str(&format!("-{value}"));
    }
    Some(out)
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
    fn attributes_are_indexed_once_in_order_of_first_use_and_the_source_kept() {
        let mut attrs = vec!["uid".to_owned()];
        let src = "{givenName|first:1}.{sn} <{UID}> {givenname}";
        let t = Template::parse(src, &mut attrs).unwrap();
        // Names are lower-cased and shared with the job's list (uid was there).
        assert_eq!(attrs, ["uid", "givenname", "sn"]);
        assert_eq!(t.attributes().collect::<Vec<_>>(), [1, 2, 0, 1]);
        assert_eq!(t.source(), src);
    }

    #[test]
    fn attribute_names_take_letters_digits_hyphen_underscore_and_semicolon_only() {
        // LDAP names (`employee-number`, `jpegPhoto;binary`), CSV headers with `_`.
        for ok in ["{a-b}", "{a_b}", "{cn;lang-en}", "{x9}"] {
            assert!(Template::parse(ok, &mut Vec::new()).is_ok(), "{ok}");
        }
        for bad in ["{a b}", "{a.b}", "{a/b}", "{é}", "{a+b}"] {
            assert!(
                matches!(
                    Template::parse(bad, &mut Vec::new()),
                    Err(TemplateError::BadAttribute(_))
                ),
                "{bad}"
            );
        }
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

    /// objectGUID of MS-DTYP's example `{6B29FC40-CA47-1067-B31D-00DD010662DA}`
    /// as AD stores it (first three groups little-endian), in the source's hex.
    const GUID_BYTES: &str = "40fc296b47ca6710b31d00dd010662da";

    #[test]
    fn guid_gives_ads_string_form_from_the_stored_bytes() {
        let r = |t: &str, v: &str| render(t, &[("objectGUID", v)]);
        assert_eq!(
            r("{objectGUID|guid}", GUID_BYTES).as_deref(),
            Some("6b29fc40-ca47-1067-b31d-00dd010662da")
        );
        assert_eq!(
            r("{objectGUID|guid|upper}", GUID_BYTES).as_deref(),
            Some("6B29FC40-CA47-1067-B31D-00DD010662DA")
        );
        // The same 16 bytes as the "ImmutableID" and as plain hex.
        assert_eq!(
            r("{objectGUID|base64}", GUID_BYTES).as_deref(),
            Some("QPwpa0fKZxCzHQDdAQZi2g==")
        );
        assert_eq!(
            r("{objectGUID|hex}", &GUID_BYTES.to_uppercase()).as_deref(),
            Some(GUID_BYTES)
        );
        // 15 bytes are no GUID, and text that is not the source's hex is nothing.
        assert_eq!(r("{objectGUID|guid}", &GUID_BYTES[2..]), None);
        assert_eq!(r("x{objectGUID|guid}", "not hex at all!!"), None);
    }

    #[test]
    fn sid_gives_the_s_1_form() {
        let r = |v: &str| render("{objectSid|sid}", &[("objectSid", v)]);
        // A domain's Domain Admins group: S-1-5-21-<3 domain parts>-512.
        assert_eq!(
            r("010500000000000515000000dcf4dc3b833d2b46828ba62800020000").as_deref(),
            Some("S-1-5-21-1004336348-1177238915-682003330-512")
        );
        // Well-known SIDs: BUILTIN\Administrators and Everyone.
        assert_eq!(
            r("01020000000000052000000020020000").as_deref(),
            Some("S-1-5-32-544")
        );
        assert_eq!(r("010100000000000100000000").as_deref(), Some("S-1-1-0"));
        // The 48-bit authority is big-endian; from 2^32 on Windows writes it in hex.
        assert_eq!(r("010100000000010000000000").as_deref(), Some("S-1-256-0"));
        assert_eq!(
            r("01010000ffffffff00000000").as_deref(),
            Some("S-1-4294967295-0")
        );
        assert_eq!(
            r("010100010000000000000000").as_deref(),
            Some("S-1-0x000100000000-0")
        );
        // A sub-authority count that disagrees with the length is no SID.
        assert_eq!(r("01030000000000052000000020020000"), None);
        assert_eq!(r(""), None);
    }

    #[test]
    fn smtp_takes_the_primary_address_without_its_prefix() {
        let r = |t: &str, v: &str| render(t, &[("proxyAddresses", v)]);
        assert_eq!(
            r("{proxyAddresses|smtp}", "SMTP:Ada@Example.com").as_deref(),
            Some("Ada@Example.com")
        );
        assert_eq!(
            r("{proxyAddresses|smtp|lower}", "SMTP:Ada@Example.com").as_deref(),
            Some("ada@example.com")
        );
        // A secondary address (lower-case prefix) is not the primary one.
        assert_eq!(r("{proxyAddresses|smtp}", "smtp:alias@example.com"), None);
    }

    #[test]
    fn directory_filters_come_first_and_decide_the_kind() {
        let mut a = Vec::new();
        assert_eq!(
            Template::parse("{objectGUID|upper|guid}", &mut a),
            Err(TemplateError::DirectoryFilterNotFirst("guid".into()))
        );
        let mut attrs = Vec::new();
        let t =
            Template::parse("{mail}-{objectGUID|guid}-{proxyAddresses|smtp}", &mut attrs).unwrap();
        assert_eq!(
            t.attribute_kinds().collect::<Vec<_>>(),
            [
                (0, AttrKind::Text),
                (1, AttrKind::Binary),
                (2, AttrKind::PrimarySmtp)
            ]
        );
        let other = Template::parse("{objectGUID}", &mut attrs).unwrap();
        assert_eq!(
            attribute_kinds(&attrs, [("mapping.A", &t)]),
            Ok(vec![
                AttrKind::Text,
                AttrKind::Binary,
                AttrKind::PrimarySmtp
            ])
        );
        assert_eq!(
            attribute_kinds(&attrs, [("mapping.A", &t), ("mapping.B", &other)]),
            Err(vec![
                "mapping.B: `objectguid` is read with no directory filter here but with \
                 guid, sid, base64 or hex in mapping.A; one attribute is read one way, \
                 so use the same kind of filter in both"
                    .to_owned()
            ])
        );
    }

    proptest! {
        #[test]
        fn hex_round_trips_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let hex = encode_hex(&bytes);
            prop_assert_eq!(decode_hex(&hex), Some(bytes));
        }

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
                    other => unreachable!("{other:?} is not among the picks"),
                };
            }
            prop_assert_eq!(apply(&s, &filters).unwrap(), plain.as_str());
            let mut out = String::from("x");
            prop_assert!(push_filtered(&mut out, &s, &filters));
            prop_assert_eq!(out, format!("x{plain}"));
        }

        #[test]
        fn first_never_exceeds_n(s in "\\PC{0,30}", n in 1usize..10) {
            let out = render(&format!("{{a|first:{n}}}"), &[("a", &s)]).unwrap_or_default();
            prop_assert!(out.chars().count() <= n);
        }
    }
}
