//! CSV: one row per reported user, the same fields as the JSON `users`.
//! The fields that are structured in JSON are text here, for spreadsheets:
//! `changes` as `Title: Analyst -> Manager; Department: (empty) -> Sales`,
//! `access` and `username_tried` as their items joined with `; `.
//!
//! Every cell goes through [`formula_safe`]: CSV files are opened in
//! spreadsheets, and a source value such as `=HYPERLINK(...)` must stay text.

use std::borrow::Cow;
use std::io::{self, Write};

use super::Report;

pub const HEADER: [&str; 11] = [
    "outcome",
    "username",
    "email",
    "source",
    "salesforce_id",
    "error_code",
    "message",
    "previous_email",
    "changes",
    "access",
    "username_tried",
];

pub fn render(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for u in report.users.iter() {
        let changes = u.changes.as_ref().map(|c| c.text()).unwrap_or_default();
        let access = u
            .access
            .as_deref()
            .map(|a| a.join("; "))
            .unwrap_or_default();
        let tried = u
            .username_tried
            .as_deref()
            .map(|t| t.join("; "))
            .unwrap_or_default();
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
                &changes,
                &access,
                &tried,
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

    #[test]
    fn changes_access_and_usernames_tried_are_readable_cells() {
        use crate::plan::Change;
        use crate::report::{Changes, Outcome, ReportContext, ReportUser, Summary};
        let row = ReportUser {
            outcome: Outcome::Created,
            username: Some("ada@acme-sf.example.com".into()),
            email: Some("ada@example.com".into()),
            source: "people.csv:2".into(),
            salesforce_id: Some("005000000000001AAA".into()),
            error_code: None,
            message: None,
            previous_email: None,
            values: None,
            changes: Some(Changes(Cow::Owned(vec![
                Change {
                    field: "Title".into(),
                    from: Some("Analyst".into()),
                    to: Some("=Manager".into()),
                },
                Change {
                    field: "Department".into(),
                    from: None,
                    to: Some("Sales".into()),
                },
            ]))),
            access: Some(vec![
                "PermissionSet:Sales_User".into(),
                "Group:Sales_Team".into(),
            ]),
            access_failed: false,
            username_tried: Some(vec![
                "ada@example.com".into(),
                "ada@example.com.acme".into(),
            ]),
        };
        let report = Report {
            report_version: 1,
            job: "nightly".into(),
            dry_run: false,
            started_at: "2026-11-28T02:00:00Z".into(),
            finished_at: "2026-11-28T02:00:41Z".into(),
            summary: Summary::default(),
            users: vec![row].into(),
            context: ReportContext::default(),
            list_all: false,
        };
        let mut out = Vec::new();
        render(&report, &mut out).unwrap();
        let mut rows = csv::Reader::from_reader(&out[..]);
        assert_eq!(
            rows.headers().unwrap(),
            &csv::StringRecord::from(HEADER.to_vec())
        );
        let row = rows.records().next().unwrap().unwrap();
        assert_eq!(
            &row[8],
            "Title: Analyst -> =Manager; Department: (empty) -> Sales"
        );
        assert_eq!(&row[9], "PermissionSet:Sales_User; Group:Sales_Team");
        assert_eq!(&row[10], "ada@example.com; ada@example.com.acme");
    }
}
