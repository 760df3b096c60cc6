//! Text from outside (source values, the job name, Salesforce messages, file
//! names) made safe to show a person: every control character is written as a
//! visible escape, so an ESC/OSC sequence cannot drive the terminal and a CR or
//! LF cannot forge a line in a table, `check`'s output or a text log.
//!
//! Escaped: C0 controls (U+0000..U+001F, tab, CR and LF included), DEL
//! (U+007F), C1 controls (U+0080..U+009F, where CSI and OSC also live), and the
//! Unicode line separators and bidirectional overrides that reorder or break
//! what a reader sees (U+2028, U+2029, U+202A..U+202E, U+2066..U+2069). The
//! escapes read like Rust's: `\n`, `\r`, `\t`, `\x1b`, `\u{9b}`.
//!
//! Machine formats (JSON, CSV, HTML) have their own escaping and do not use this.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is shown escaped by [`escape_controls`].
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Appends `c` as a person should see it: itself, or its visible escape.
pub fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 && is_unsafe(c) => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if is_unsafe(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// `s` with every control character escaped; borrowed when there is none
/// (the common case costs one scan).
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Multi-line text (one line per `\n`) with each line escaped: the line
/// breaks a renderer meant stay, everything else is made visible.
pub fn escape_lines(s: &str) -> String {
    s.split('\n')
        .map(escape_controls)
        .collect::<Vec<_>>()
        .join("\n")
}

/// For a log message of several lines (a job file's problems): line
/// breaks stay, every other control character is escaped, and a line that
/// does not already start with a space is indented by two, so text after a
/// line break (from a server, say) can never pass for a log line of its own.
pub fn escape_log_message(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.starts_with(' ') {
                out.push_str("  ");
            }
        }
        for c in line.chars() {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            escape_controls("Zoë Ångström <zoe@example.com>"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escape_osc_csi_and_line_breaks_become_visible() {
        assert_eq!(
            escape_controls("a\u{1b}]0;pwned\u{7}b\r\nc\u{9b}31m\u{7f}\u{202e}"),
            "a\\x1b]0;pwned\\x07b\\r\\nc\\u{9b}31m\\x7f\\u{202e}"
        );
        assert_eq!(escape_controls("tab\there"), "tab\\there");
    }

    #[test]
    fn log_messages_keep_their_lines_but_cannot_start_one() {
        assert_eq!(
            escape_log_message("2 problems:\n  - a\n  - b"),
            "2 problems:\n  - a\n  - b"
        );
        assert_eq!(
            escape_log_message("bad\r\nERROR forged\u{1b}[0m"),
            "bad\\r\n  ERROR forged\\x1b[0m"
        );
    }

    #[test]
    fn escape_lines_keeps_only_the_line_breaks() {
        assert_eq!(
            escape_lines("one\ntwo\u{1b}[2J\rthree"),
            "one\ntwo\\x1b[2J\\rthree"
        );
    }
}
