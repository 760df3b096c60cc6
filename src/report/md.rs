//! The Markdown report: the HTML page's summary in a form that pastes into a
//! ticket or a chat message.
//!
//! It says what the run was, counts every outcome, and lists the records a
//! person must act on (needs-a-person outcomes, then e-mail changes to make
//! by hand), capped at [`ATTENTION_ROWS`] with "and N more" so a paste stays
//! readable; the HTML, JSON or CSV report has them all. A dry run also lists
//! who would be created with the values that would be sent. Values are escaped so
//! a `|`, `*` or `<` in a name cannot break the table or inject markup.

use std::fmt::Write as _;

use super::html::{Sections, api_left, by_hand, duration, label, thousands};
use super::{Outcome, Report, ReportUser};

/// Records listed in the "needs attention" table before "and N more".
pub const ATTENTION_ROWS: usize = 50;

/// Renders `report` as GitHub-flavoured Markdown.
pub fn render(report: &Report<'_>) -> String {
    let mut md = String::new();
    // `write!` into a String cannot fail; the results are ignored for brevity.
    let mode = if report.dry_run { "dry run" } else { "run" };
    let _ = writeln!(md, "## sfsync {mode}: {}\n", escape(&report.job));
    let when = match duration(report) {
        Some(took) => format!("{} to {} ({took})", report.started_at, report.finished_at),
        None => format!("{} to {}", report.started_at, report.finished_at),
    };
    let _ = writeln!(
        md,
        "- **{}** {}",
        if report.dry_run {
            "Dry run:"
        } else {
            "Real run:"
        },
        escape(&when)
    );
    let ctx = &report.context;
    if !ctx.source.is_empty() {
        let _ = writeln!(md, "- **Source:** {}", escape(&ctx.source));
    }
    if !ctx.salesforce.is_empty() {
        let _ = writeln!(md, "- **Salesforce org:** {}", escape(&ctx.salesforce));
    }
    if let Some(sandbox) = &ctx.sandbox {
        let _ = writeln!(md, "- **Sandbox:** {}", escape(sandbox));
    }
    let _ = writeln!(
        md,
        "- **API calls:** {} used, {} left today",
        thousands(report.summary.api_calls),
        api_left(report)
    );
    if let Some(stopped) = &ctx.stopped {
        let _ = writeln!(md, "- **Stopped early:** {}", escape(stopped));
    }
    for stop in &ctx.licence_stops {
        let _ = writeln!(md, "- **Licence limit:** {}", escape(stop));
    }
    md.push('\n');

    let needs = report.summary.needs_person();
    if needs == 0 {
        md.push_str("Nothing needs a person.\n\n");
    } else {
        let _ = writeln!(
            md,
            "**{} {} a person.**\n",
            thousands(needs),
            if needs == 1 {
                "record needs"
            } else {
                "records need"
            }
        );
    }

    md.push_str("| Outcome | Records |\n|---|---:|\n");
    for outcome in super::html::summary_outcomes(&report.summary) {
        let count = thousands(report.summary.count(outcome));
        if outcome.needs_person() && report.summary.count(outcome) > 0 {
            let _ = writeln!(
                md,
                "| **{}** (`{}`) | **{count}** |",
                label(outcome),
                outcome.as_str()
            );
        } else {
            let _ = writeln!(
                md,
                "| {} (`{}`) | {count} |",
                label(outcome),
                outcome.as_str()
            );
        }
    }
    let _ = writeln!(
        md,
        "| Source records | {} |\n| Salesforce users | {} |",
        thousands(report.summary.source_records),
        thousands(report.summary.salesforce_users)
    );

    let rows = report.users.all();
    let sections = Sections::of(&rows);
    let attention: Vec<&ReportUser<'_>> = sections
        .0
        .iter()
        .filter(|(o, _)| o.needs_person() || by_hand(*o))
        .flat_map(|(_, users)| users.iter().copied())
        .collect();
    if !attention.is_empty() {
        needs_attention(&mut md, &attention);
    }
    let refused: Vec<&ReportUser<'_>> = rows.iter().filter(|u| u.access_failed).collect();
    if !refused.is_empty() {
        access_not_granted(&mut md, &refused);
    }
    if report.dry_run {
        would_create(&mut md, report, &rows);
    }
    md
}

fn needs_attention(md: &mut String, attention: &[&ReportUser<'_>]) {
    md.push_str("\n### Needs attention\n\n| Outcome | Username | E-mail | Source | Details |\n|---|---|---|---|---|\n");
    for user in attention.iter().take(ATTENTION_ROWS) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            label(user.outcome),
            escape(user.username.as_deref().unwrap_or("")),
            escape(user.email.as_deref().unwrap_or("")),
            escape(&user.source),
            escape(&details(user)),
        );
    }
    if attention.len() > ATTENTION_ROWS {
        let _ = writeln!(
            md,
            "\n_…and {} more; the HTML, JSON or CSV report lists every record._",
            thousands((attention.len() - ATTENTION_ROWS) as u64)
        );
    }
}

/// A dry run's diff: who a real run would create and every value it would
/// send; the first [`ATTENTION_ROWS`], or all of them with `--report-all`.
fn would_create(md: &mut String, report: &Report<'_>, rows: &[ReportUser<'_>]) {
    let creates: Vec<&ReportUser<'_>> = rows
        .iter()
        .filter(|u| u.outcome == Outcome::Create)
        .collect();
    if creates.is_empty() {
        return;
    }
    let limit = if report.list_all {
        usize::MAX
    } else {
        ATTENTION_ROWS
    };
    // `[access]`: a column of what each would be granted, only when a job grants anything.
    let grants = creates.iter().any(|u| u.access.is_some());
    let _ = writeln!(
        md,
        "\n### Would be created ({})\n\n| Username | Source | Values to send |{}\n|---|---|---|{}",
        thousands(creates.len() as u64),
        if grants { " Access to grant |" } else { "" },
        if grants { "---|" } else { "" },
    );
    for user in creates.iter().take(limit) {
        let access = match (grants, &user.access) {
            (false, _) => String::new(),
            (true, Some(a)) => format!(" {} |", escape(&a.join(", "))),
            (true, None) => " |".to_owned(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} |{access}",
            escape(user.username.as_deref().unwrap_or("")),
            escape(&user.source),
            escape(&user.values_text()),
        );
    }
    if creates.len() > limit {
        let _ = writeln!(
            md,
            "\n_…and {} more; `--report-all` lists them all, and the JSON report has every value._",
            thousands((creates.len() - limit) as u64)
        );
    }
}

/// `access_failed`: created people whose grants Salesforce refused, with what
/// was granted and the refusal.
fn access_not_granted(md: &mut String, users: &[&ReportUser<'_>]) {
    let _ = writeln!(
        md,
        "\n### Access not granted ({})\n\n| Username | Granted | Details |\n|---|---|---|",
        thousands(users.len() as u64)
    );
    for user in users.iter().take(ATTENTION_ROWS) {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            escape(user.username.as_deref().unwrap_or("")),
            escape(&user.access.as_deref().unwrap_or_default().join(", ")),
            escape(&details(user)),
        );
    }
    if users.len() > ATTENTION_ROWS {
        let _ = writeln!(
            md,
            "\n_…and {} more; the JSON report has them all._",
            thousands((users.len() - ATTENTION_ROWS) as u64)
        );
    }
}

/// The one cell that tells a reader what is wrong.
fn details(user: &ReportUser<'_>) -> String {
    // Salesforce's literal `<br>` line breaks read better as spaces in a table cell.
    let message = user.message.as_deref().unwrap_or("").replace("<br>", " ");
    let message = message.as_str();
    let mut text = match (user.outcome, user.error_code.as_deref()) {
        (Outcome::EmailChangeSkipped, _) => format!(
            "{} → {}",
            user.previous_email.as_deref().unwrap_or("?"),
            user.email.as_deref().unwrap_or("?")
        ),
        (_, Some(code)) if !message.is_empty() => format!("{code}: {message}"),
        (_, Some(code)) => code.to_owned(),
        (_, None) => message.to_owned(),
    };
    if user.outcome == Outcome::Collision
        && user.error_code.as_deref() == Some("DUPLICATE_USERNAME")
    {
        text.push_str(" (taken in another org: choose a different username)");
    }
    text
}

/// Makes text inert in Markdown: every ASCII punctuation mark that Markdown
/// reads is backslash-escaped (CommonMark allows that for any of them) and
/// line breaks, which would end a table row, become spaces; other control
/// characters (ESC, OSC, C1) are shown escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            // Other control characters become visible escapes, their
            // backslash escaped for Markdown (the reader sees `\x1b`).
            c if crate::printable::is_unsafe(c) => {
                let mut shown = String::new();
                crate::printable::push_escaped(&mut shown, c);
                out.push_str(&shown.replace('\\', "\\\\"));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ReportContext, Summary};

    fn user(outcome: Outcome, name: &str) -> ReportUser<'static> {
        ReportUser {
            outcome,
            username: Some(name.to_owned().into()),
            email: Some(name.to_owned().into()),
            source: format!("people.csv:{}", name.len()).into(),
            salesforce_id: None,
            error_code: None,
            message: None,
            previous_email: None,
            values: None,
            changes: None,
            access: None,
            access_failed: false,
            username_tried: None,
        }
    }

    fn report(users: Vec<ReportUser<'static>>) -> Report<'static> {
        let mut summary = Summary::default();
        for u in &users {
            summary.add(u.outcome);
        }
        Report {
            report_version: 1,
            job: "nightly".into(),
            dry_run: true,
            started_at: "2026-11-28T02:00:00Z".into(),
            finished_at: "2026-11-28T02:00:41Z".into(),
            summary,
            users: users.into(),
            context: ReportContext::default(),
            list_all: false,
        }
    }

    #[test]
    fn escape_shows_terminal_control_sequences_as_text() {
        assert_eq!(
            escape("a\u{1b}]0;x\u{7}\u{9b}"),
            "a\\\\x1b\\]0;x\\\\x07\\\\u{9b}"
        );
    }

    #[test]
    fn escape_neutralises_table_and_markup_characters() {
        assert_eq!(
            escape("a|b <script>*x*\nnext"),
            r"a\|b \<script\>\*x\* next"
        );
    }

    #[test]
    fn attention_list_is_capped_with_a_count_of_the_rest() {
        let users = (0..ATTENTION_ROWS + 7)
            .map(|i| user(Outcome::Failed, &format!("u{i}@example.com")))
            .collect();
        let md = render(&report(users));
        assert!(md.contains("…and 7 more"), "{md}");
        assert_eq!(md.matches("| Failed |").count(), ATTENTION_ROWS);
        assert!(md.contains("| **Failed** (`failed`) | **57** |"), "{md}");
    }

    #[test]
    fn nothing_to_do_has_no_attention_table() {
        let md = render(&report(vec![user(Outcome::Create, "a@example.com")]));
        assert!(md.contains("Nothing needs a person."));
        assert!(!md.contains("Needs attention"));
    }

    #[test]
    fn grants_show_beside_would_be_creates_and_refused_grants_get_their_own_table() {
        // a dry run: a column of grants, only because some create has one
        let mut granted = user(Outcome::Create, "ada@example.com");
        granted.access = Some(vec![
            "PermissionSet:Sales_User".into(),
            "Group:Sales_Team".into(),
        ]);
        let plain = user(Outcome::Create, "bob@example.com");
        let md = render(&report(vec![granted, plain.clone()]));
        assert!(
            md.contains(
                "| Username | Source | Values to send | Access to grant |\n|---|---|---|---|"
            ),
            "{md}"
        );
        assert!(
            md.contains("| PermissionSet:Sales\\_User, Group:Sales\\_Team |"),
            "{md}"
        );
        assert!(
            md.contains("| bob@example.com | people.csv:15 |  | |"),
            "{md}"
        );
        // without [access] the table is as before
        let md = render(&report(vec![plain]));
        assert!(md.contains("| Values to send |\n|---|---|---|\n"), "{md}");
        assert!(!md.contains("Access"), "{md}");
        // a real run: a refused grant is listed with what was granted and why
        let mut refused = user(Outcome::Created, "cy@example.com");
        refused.access = Some(vec!["Group:Sales_Team".into()]);
        refused.access_failed = true;
        refused.error_code = Some("FIELD_INTEGRITY_EXCEPTION".into());
        refused.message = Some("licence mismatch".into());
        let mut r = report(vec![refused]);
        r.dry_run = false;
        let md = render(&r);
        assert!(md.contains("### Access not granted (1)"), "{md}");
        assert!(
            md.contains("| cy@example.com | Group:Sales\\_Team |"),
            "{md}"
        );
        assert!(md.contains("FIELD\\_INTEGRITY\\_EXCEPTION"), "{md}");
    }
}
