//! The terminal table: a summary, then the records that need attention and,
//! for a dry run, who a real run would create (the first [`LIMIT`] of each,
//! all of them with `--report-all`), readable on an 80-column terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

use std::collections::HashMap;

use super::{Outcome, Report, ReportUser};

const WIDTH: usize = 80;
/// Records listed per section before "and N more".
const LIMIT: usize = 40;

pub fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let mode = if report.dry_run { "dry run" } else { "sync" };
    let _ = writeln!(
        out,
        "sfsync {mode} of job \"{}\"",
        crate::printable::escape_controls(&report.job)
    );
    let _ = writeln!(out, "  {} -> {}", report.started_at, report.finished_at);
    if !report.context.source.is_empty() {
        let _ = writeln!(
            out,
            "  source:     {}",
            clip(&report.context.source, WIDTH - 14)
        );
    }
    if let [first, ..] = report.context.source_references.as_slice() {
        let n = report.context.source_references.len();
        let line = format!("{n} continuation reference(s) not followed: {first}");
        let _ = writeln!(out, "  skipped:    {}", clip(&line, WIDTH - 14));
    }
    if !report.context.salesforce.is_empty() {
        let _ = writeln!(
            out,
            "  salesforce: {}",
            clip(&report.context.salesforce, WIDTH - 14)
        );
    }
    if let Some(sandbox) = &report.context.sandbox {
        let _ = writeln!(out, "  sandbox:    {}", clip(sandbox, WIDTH - 14));
    }
    out.push('\n');
    let mut cells: Vec<(String, u64)> = vec![
        ("source records".into(), s.source_records),
        ("salesforce users".into(), s.salesforce_users),
    ];
    for o in Outcome::ALL {
        let n = s.count(o);
        let always = matches!(o, Outcome::Unchanged)
            || (report.dry_run && o == Outcome::Create)
            || (!report.dry_run && o == Outcome::Created);
        if n > 0 || always {
            let mark = if o.needs_person() && n > 0 { " !" } else { "" };
            cells.push((format!("{}{mark}", o.as_str()), n));
        }
    }
    let api = match report.context.api_remaining {
        Some(left) => format!("{} ({left} left today)", s.api_calls),
        None => s.api_calls.to_string(),
    };
    for pair in cells.chunks(2) {
        let mut line = String::new();
        for (name, n) in pair {
            let _ = write!(line, "  {name:<22}{n:>10}    ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "  {:<22}{api:>10}", "api calls");
    if let Some(why) = &report.context.stopped {
        out.push('\n');
        wrap_into(&mut out, &format!("Stopped early: {why}"), "");
    }
    for stop in &report.context.licence_stops {
        out.push('\n');
        wrap_into(&mut out, &format!("Licence limit: {stop}"), "");
    }

    let sections: [(&str, &[Outcome]); 8] = [
        (
            "Needs a person",
            &[
                Outcome::Collision,
                Outcome::Invalid,
                Outcome::DuplicateInSource,
                Outcome::Failed,
                Outcome::NotFound,
            ],
        ),
        (
            "E-mail changes to make by hand in Salesforce",
            &[Outcome::EmailChangeSkipped],
        ),
        (
            "Not attempted (run again to finish)",
            &[Outcome::NotAttempted],
        ),
        (
            "Unknown: sent, answer lost (run again to confirm)",
            &[Outcome::Unknown],
        ),
        (
            "Updates (Salesforce -> directory)",
            &[Outcome::Update, Outcome::Updated],
        ),
        (
            "Reactivations",
            &[Outcome::Reactivate, Outcome::Reactivated],
        ),
        (
            "Leavers",
            &[
                Outcome::Leaver,
                Outcome::Deactivate,
                Outcome::Deactivated,
                Outcome::Freeze,
                Outcome::Frozen,
            ],
        ),
        // The dry run's diff: who a real run would create (SPEC "Report").
        ("Would be created", &[Outcome::Create]),
    ];
    let limit = if report.list_all { usize::MAX } else { LIMIT };
    let shown_rows = Shown::of(report, limit);
    for (title, outcomes) in sections {
        let total: u64 = outcomes.iter().map(|&o| s.count(o)).sum();
        if total == 0 {
            continue;
        }
        let _ = writeln!(out, "\n{title} ({total}):");
        let mut shown = 0;
        for &o in outcomes {
            for u in shown_rows.by_outcome.get(&o).into_iter().flatten() {
                if shown == limit {
                    break;
                }
                shown += 1;
                let who = u
                    .username
                    .as_deref()
                    .or(u.email.as_deref())
                    .unwrap_or("(no username)");
                // A leaver has no source record: name its Salesforce Id instead.
                let from = if u.source.is_empty() {
                    u.salesforce_id.as_deref().unwrap_or("")
                } else {
                    &u.source
                };
                let head = format!("  {:<20} {} ({from})", o.as_str(), who);
                let _ = writeln!(out, "{}", clip(&head, WIDTH));
                let message = u.message.as_deref().unwrap_or("");
                let why = match &u.error_code {
                    Some(code) if o == Outcome::Failed => format!("{code}: {message}").into(),
                    _ => Cow::Borrowed(message),
                };
                if !why.is_empty() {
                    wrap_into(&mut out, &why, "      ");
                }
                if let Some(access) = &u.access {
                    wrap_into(
                        &mut out,
                        &format!("access: {}", access.join(", ")),
                        "      ",
                    );
                }
                if o == Outcome::Create {
                    let keys = key_fields(u);
                    if !keys.is_empty() {
                        wrap_into(&mut out, &keys, "      ");
                    }
                }
            }
        }
        if (shown as u64) < total {
            let _ = writeln!(
                out,
                "  ... and {} more (--report-all lists them all; see the JSON, CSV or HTML report)",
                total - shown as u64
            );
        }
    }
    write_access(report, &shown_rows, &mut out, limit);
    out
}

type Row<'r, 'a> = Cow<'r, ReportUser<'a>>;

/// What the table lists, taken in one pass over the report's rows (a run's
/// rows are made as they are read: one pass, not one per section): the
/// first `limit` rows of each outcome, and of each `[access]` group with
/// the group's size.
struct Shown<'r, 'a> {
    by_outcome: HashMap<Outcome, Vec<Row<'r, 'a>>>,
    /// Refused grants, then grants made: (how many, the first `limit`).
    access: [(usize, Vec<Row<'r, 'a>>); 2],
}

impl<'r, 'a> Shown<'r, 'a> {
    fn of(report: &'r Report<'a>, limit: usize) -> Self {
        let mut shown = Shown {
            by_outcome: HashMap::new(),
            access: Default::default(),
        };
        for u in report.users.iter() {
            let group = match (u.access_failed, u.access.is_some()) {
                _ if report.dry_run => None,
                (true, _) => Some(0),
                (false, true) => Some(1),
                (false, false) => None,
            };
            let of_outcome = shown.by_outcome.entry(u.outcome).or_default();
            let keep = of_outcome.len() < limit;
            let of_group = group.and_then(|g| {
                let (count, rows) = &mut shown.access[g];
                *count += 1;
                (rows.len() < limit).then_some(rows)
            });
            match (keep, of_group) {
                (true, Some(rows)) => {
                    of_outcome.push(u.clone());
                    rows.push(u);
                }
                (true, None) => of_outcome.push(u),
                (false, Some(rows)) => rows.push(u),
                (false, None) => {}
            }
        }
        shown
    }
}

/// `[access]` in a real run: who was granted what, and whose grants were
/// refused (the person is `created`; the code and message say why).
fn write_access(report: &Report<'_>, shown: &Shown<'_, '_>, out: &mut String, limit: usize) {
    if report.dry_run {
        return;
    }
    let titles = ["Access not granted (access_failed)", "Access granted"];
    for (title, (count, rows)) in titles.into_iter().zip(&shown.access) {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title} ({count}):");
        for u in rows.iter().take(limit) {
            let who = u.username.as_deref().unwrap_or("(no username)");
            let head = format!("  {:<20} {who} ({})", u.outcome.as_str(), u.source);
            let _ = writeln!(out, "{}", clip(&head, WIDTH));
            if let Some(access) = &u.access {
                wrap_into(out, &format!("access: {}", access.join(", ")), "      ");
            }
            if u.access_failed {
                let why = format!(
                    "{}: {}",
                    u.error_code.as_deref().unwrap_or(""),
                    u.message.as_deref().unwrap_or("")
                );
                wrap_into(out, &why, "      ");
            }
        }
        if *count > limit {
            let _ = writeln!(
                out,
                "  ... and {} more (--report-all lists them all; see the JSON, CSV or HTML report)",
                count - limit
            );
        }
    }
}

/// The fields that tell a would-be create apart at a glance (the rest are in
/// the JSON, HTML and Markdown reports): `FederationIdentifier: ada01 · Name: Ada Lovelace`.
fn key_fields(u: &super::ReportUser<'_>) -> String {
    let values = u.values_map();
    let text = |k: &str| values.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let mut parts = Vec::new();
    if !text("FederationIdentifier").is_empty() {
        parts.push(format!(
            "FederationIdentifier: {}",
            text("FederationIdentifier")
        ));
    }
    let name = format!("{} {}", text("FirstName"), text("LastName"));
    if !name.trim().is_empty() {
        parts.push(format!("Name: {}", name.trim()));
    }
    parts.join(" · ")
}

/// `s` with control characters made visible ([`crate::printable`]), cut to `width`.
fn clip(s: &str, width: usize) -> String {
    let s = crate::printable::escape_controls(s);
    if s.chars().count() <= width {
        s.into_owned()
    } else {
        let mut c: String = s.chars().take(width - 1).collect();
        c.push('…');
        c
    }
}

/// Word-wraps `text` to the table width behind `indent`.
fn wrap_into(out: &mut String, text: &str, indent: &str) {
    let width = WIDTH - indent.chars().count();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&clip(word, width));
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_values_are_shown_escaped() {
        assert_eq!(clip("ab\u{1b}[2Jc", 80), "ab\\x1b[2Jc");
        let mut out = String::new();
        wrap_into(&mut out, "refused\u{1b}]0;pwned\u{7} now", "  ");
        assert_eq!(out, "  refused\\x1b]0;pwned\\x07 now\n");
    }
}
