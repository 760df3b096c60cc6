//! CSV: one row per reported user, the same fields as the JSON `users`.

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
        w.write_record([
            u.outcome.as_str(),
            opt(&u.username),
            opt(&u.email),
            &u.source,
            opt(&u.salesforce_id),
            opt(&u.error_code),
            opt(&u.message),
            opt(&u.previous_email),
        ])?;
    }
    w.flush()
}

fn opt<'v>(value: &'v Option<Cow<'_, str>>) -> &'v str {
    value.as_deref().unwrap_or("")
}
