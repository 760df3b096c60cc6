//! CSV: one row per reported user, the same fields as the JSON `users`.
//!
//! Every cell goes through [`formula_safe`]: CSV files are opened in
//! spreadsheets, and a source value such as `=HYPERLINK(...)` must stay text.

use std::borrow::Cow;
use std::io::{self, Write};

use super::Report;

pub const HEADER: [&str; 8] = [
    "outcome",
    "username",
    "email",
    "source",
    "salesforce_id",
    "error_code",
    "message",
    "previous_email",
];

pub fn render(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for u in &report.users {
        w.write_record(
            [
                u.outcome.as_str(),
                opt(&u.username),
                opt(&u.email),
                &u.source,
                opt(&u.salesforce_id),
                opt(&u.error_code),
                opt(&u.message),
                opt(&u.previous_email),
            ]
            .map(formula_safe)
            .iter()
            .map(|c| c.as_bytes()),
        )?;
    }
    w.flush()
}

/// A cell a spreadsheet will not run as a formula: one starting with `=`,
/// `+`, `-`, `@`, a tab or a CR gets a leading `'`, as OWASP's CSV-injection
/// guidance advises (<https://owasp.org/www-community/attacks/CSV_Injection>).
/// Spreadsheets show the value without the quote; other readers see it.
pub fn formula_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn opt<'v>(value: &'v Option<Cow<'_, str>>) -> &'v str {
    value.as_deref().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_get_a_quote_and_other_cells_stay() {
        for cell in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(formula_safe(cell), format!("'{cell}"));
        }
        for cell in ["ada@example.com", "", "a=b", "1-2", "'quoted"] {
            assert!(matches!(formula_safe(cell), Cow::Borrowed(c) if c == cell));
        }
    }
}
