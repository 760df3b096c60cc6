//! The HTML report: one self-contained page for people who do not read JSON.
//!
//! The page carries everything inline (CSS, a little JS, an SVG bar chart) and
//! fetches nothing, so it opens offline and survives being attached to an
//! e-mail or a ticket. What a reader sees first, top to bottom:
//!
//! 1. the job, dry run or real, when and how long, source and org, API calls
//!    used and left, and why the run stopped if it did;
//! 2. every outcome's count beside a bar chart, the ones that need a person
//!    in red (hand-made e-mail changes in amber);
//! 3. one section per outcome, "needs a person" first: collisions (reason,
//!    and a hint for usernames taken in another org), invalid records (field
//!    and why), duplicates in source (each group together), failed, e-mail
//!    changes to make by hand, then the rest.
//!
//! Big reports stay usable because the rows travel once, as compact JSON in
//! a `<script type="application/json">` block, and the script renders one
//! page of rows at a time with sorting and filtering over all of them. The
//! first [`FALLBACK_ROWS`] rows of each section are also written as plain
//! HTML, so the page still says the essentials with scripts blocked.
//!
//! Every value is escaped: as HTML text in the markup, and in the JSON block
//! `<`, `>` and `&` become `\u003c`-style escapes so no value can close the
//! script element. The script puts values in the page with `textContent`
//! only. This renderer is pure: no clock, no environment.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Outcome, Report, ReportUser};

/// Rows per section written as plain HTML for readers without JavaScript
/// (and shown until the script takes over).
pub const FALLBACK_ROWS: usize = 100;

/// The order sections appear in: what needs a person first, then hand work,
/// then what went (or would go) through.
pub const SECTION_ORDER: [Outcome; 21] = [
    Outcome::Collision,
    Outcome::Invalid,
    Outcome::DuplicateInSource,
    Outcome::Failed,
    Outcome::NotFound,
    Outcome::Unknown,
    Outcome::EmailChangeSkipped,
    Outcome::NotAttempted,
    Outcome::Leaver,
    Outcome::Deactivate,
    Outcome::Deactivated,
    Outcome::Freeze,
    Outcome::Frozen,
    Outcome::Create,
    Outcome::Created,
    Outcome::Update,
    Outcome::Updated,
    Outcome::Reactivate,
    Outcome::Reactivated,
    Outcome::Inactive,
    Outcome::Unchanged,
];

/// The outcomes a summary lists: SPEC's core ones always; `not_found` (it
/// exists only in `--only` runs), the lifecycle ones and `unknown` only when
/// they happened, so the report of a job without `[update]` or `[leavers]`
/// reads as before.
pub(crate) fn summary_outcomes(summary: &super::Summary) -> Vec<Outcome> {
    SECTION_ORDER
        .into_iter()
        .filter(|&o| summary.count(o) > 0 || !o.is_optional_in_summaries())
        .collect()
}

/// The error code Salesforce gives for a username held in another org.
const DUPLICATE_USERNAME: &str = "DUPLICATE_USERNAME";

/// Writes `report` as one self-contained HTML page.
pub fn render(report: &Report<'_>, out: &mut impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let rows = report.users.all();
    let sections = Sections::of(&rows);
    write_head(report, &mut out)?;
    write_facts(report, &mut out)?;
    write_summary(report, &sections, &mut out)?;
    for (outcome, users) in &sections.0 {
        write_section(*outcome, users, &mut out)?;
    }
    writeln!(
        out,
        "<footer>Written by sfsync (report_version {}). The JSON report holds the same records for scripts.</footer>\n</main>",
        report.report_version
    )?;
    write_data(&sections, &mut out)?;
    out.write_all(SCRIPT.as_bytes())?;
    out.write_all(b"</body>\n</html>\n")?;
    out.flush()
}

/// The report's users grouped by outcome, in [`SECTION_ORDER`], empty ones
/// left out; duplicates in source sorted so each group's members sit together.
pub(crate) struct Sections<'a>(pub(crate) Vec<(Outcome, Vec<&'a ReportUser<'a>>)>);

impl<'a> Sections<'a> {
    /// `rows`: the report's rows ([`super::Users::all`]).
    pub(crate) fn of(rows: &'a [ReportUser<'a>]) -> Self {
        let mut by_outcome: HashMap<Outcome, Vec<&'a ReportUser<'a>>> = HashMap::new();
        for user in rows {
            by_outcome.entry(user.outcome).or_default().push(user);
        }
        let mut sections = Vec::new();
        for outcome in SECTION_ORDER {
            let Some(mut users) = by_outcome.remove(&outcome) else {
                continue;
            };
            if outcome == Outcome::DuplicateInSource {
                // A reader resolves a duplicate by comparing its members, so
                // each group's records sit together (stable: source order within).
                users.sort_by_cached_key(|u| u.username.as_deref().unwrap_or("").to_lowercase());
            }
            sections.push((outcome, users));
        }
        Sections(sections)
    }

    fn listed(&self, outcome: Outcome) -> usize {
        self.0
            .iter()
            .find(|(o, _)| *o == outcome)
            .map_or(0, |(_, users)| users.len())
    }
}

/// A table column: one field of [`ReportUser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Username,
    Email,
    PreviousEmail,
    Source,
    SalesforceId,
    ErrorCode,
    Message,
    /// A dry run's create: the values a real run would send.
    Values,
    /// `[access]`: what was (or would be) granted.
    Access,
}

impl Column {
    /// The name the script knows the column by (the JSON report's field name).
    fn key(self) -> &'static str {
        match self {
            Column::Username => "username",
            Column::Email => "email",
            Column::PreviousEmail => "previous_email",
            Column::Source => "source",
            Column::SalesforceId => "salesforce_id",
            Column::ErrorCode => "error_code",
            Column::Message => "message",
            Column::Values => "values",
            Column::Access => "access",
        }
    }

    fn value<'u>(self, user: &'u ReportUser<'_>) -> Cow<'u, str> {
        let value = match self {
            Column::Values => return Cow::Owned(user.values_text()),
            Column::Access => {
                return Cow::Owned(user.access.as_deref().unwrap_or_default().join(", "));
            }
            Column::Username => user.username.as_deref(),
            Column::Email => user.email.as_deref(),
            Column::PreviousEmail => user.previous_email.as_deref(),
            Column::Source => Some(&*user.source),
            Column::SalesforceId => user.salesforce_id.as_deref(),
            Column::ErrorCode => user.error_code.as_deref(),
            Column::Message => user.message.as_deref(),
        };
        Cow::Borrowed(value.unwrap_or(""))
    }

    /// Codes and Ids are read (and copied) whole; everything else may wrap.
    fn nowrap(self) -> bool {
        matches!(self, Column::SalesforceId | Column::ErrorCode)
    }

    fn title(self, outcome: Outcome) -> &'static str {
        match (self, outcome) {
            (Column::Username, _) => "Username",
            (Column::Email, Outcome::EmailChangeSkipped) => "New e-mail (directory)",
            (Column::Email, _) => "E-mail",
            (Column::PreviousEmail, _) => "Previous e-mail (Salesforce)",
            (Column::Source, _) => "Source (DN or FILE:LINE)",
            (Column::SalesforceId, Outcome::Collision) => "Held by (Salesforce Id)",
            (Column::SalesforceId, _) => "Salesforce Id",
            (Column::ErrorCode, _) => "Error code",
            (Column::Message, Outcome::Collision) => "Reason",
            (Column::Message, Outcome::Invalid) => "Why (field and reason)",
            (Column::Message, Outcome::Update | Outcome::Updated) => {
                "Changes (Salesforce -> directory)"
            }
            (Column::Message, _) => "Message",
            (Column::Values, _) => "Values to send",
            (Column::Access, Outcome::Create) => "Access to grant",
            (Column::Access, _) => "Access granted",
        }
    }
}

/// [`columns`] without the access ones when no row of the section has
/// access (a job without `[access]` reads as before).
fn columns_for(outcome: Outcome, users: &[&ReportUser<'_>]) -> Vec<Column> {
    let any = users.iter().any(|u| u.access.is_some() || u.access_failed);
    columns(outcome)
        .iter()
        .copied()
        .filter(|c| {
            any || !(*c == Column::Access || (outcome == Outcome::Created && *c == Column::Message))
        })
        .collect()
}

fn columns(outcome: Outcome) -> &'static [Column] {
    use Column::*;
    match outcome {
        Outcome::Collision | Outcome::Failed => {
            &[Username, Email, Source, SalesforceId, ErrorCode, Message]
        }
        Outcome::Invalid => &[Username, Email, Source, ErrorCode, Message],
        Outcome::DuplicateInSource => &[Username, Email, Source, Message],
        Outcome::EmailChangeSkipped => &[Username, PreviousEmail, Email, SalesforceId, Source],
        Outcome::NotAttempted | Outcome::Unknown => &[Username, Email, Source, Message],
        Outcome::NotFound => &[Username, Message],
        Outcome::Update | Outcome::Updated => &[Username, SalesforceId, Source, Message],
        Outcome::Leaver
        | Outcome::Deactivate
        | Outcome::Deactivated
        | Outcome::Freeze
        | Outcome::Frozen => &[Username, Email, SalesforceId, Message],
        Outcome::Create => &[Username, Email, Source, Values, Access],
        Outcome::Created => &[Username, Email, Source, SalesforceId, Access, Message],
        Outcome::Inactive | Outcome::Unchanged | Outcome::Reactivate | Outcome::Reactivated => {
            &[Username, Email, Source, SalesforceId]
        }
    }
}

/// A reader's name for an outcome.
pub(crate) fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Create => "To create",
        Outcome::Created => "Created",
        Outcome::Unchanged => "Unchanged",
        Outcome::EmailChangeSkipped => "E-mail change skipped",
        Outcome::Inactive => "Inactive in Salesforce",
        Outcome::Invalid => "Invalid",
        Outcome::DuplicateInSource => "Duplicate in source",
        Outcome::Collision => "Collision",
        Outcome::Failed => "Failed",
        Outcome::NotAttempted => "Not attempted",
        Outcome::NotFound => "Not found in the source",
        Outcome::Update => "To update",
        Outcome::Updated => "Updated",
        Outcome::Reactivate => "To reactivate",
        Outcome::Reactivated => "Reactivated",
        Outcome::Leaver => "Leavers (report only)",
        Outcome::Deactivate => "To deactivate",
        Outcome::Deactivated => "Deactivated",
        Outcome::Freeze => "To freeze",
        Outcome::Frozen => "Frozen",
        Outcome::Unknown => "Unknown (answer lost)",
    }
}

/// What the reader should know (or do) about a section.
fn guidance(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Collision => {
            "The username is held by someone else, so the person was not created. \
             Code DUPLICATE_USERNAME means another Salesforce org holds it: usernames are unique \
             across every org, so choose a different username for this person (for example a \
             company-specific suffix in the Username mapping) and run again. Without that code, a \
             user in this org already holds it but was matched to a different person: check which \
             of the two is right."
        }
        Outcome::Invalid => {
            "The record cannot be sent as it is. The message names the field and why; fix it in \
             the directory (or the job's mapping and defaults) and run again."
        }
        Outcome::DuplicateInSource => {
            "Several source records map to one username, so none of them was sent. Each group is \
             shown together: keep one person per username in the directory."
        }
        Outcome::Failed => {
            "Salesforce refused these records for another reason; the error code and message \
             are Salesforce's own."
        }
        Outcome::EmailChangeSkipped => {
            "The directory has a new e-mail for a person Salesforce already knows. Salesforce does \
             not take e-mail changes from a provisioning job: an admin changes it by hand (the user \
             confirms it). Nothing needs to happen for the rest of the run."
        }
        Outcome::NotAttempted => {
            "The run stopped before reaching these records; running again picks them up."
        }
        Outcome::NotFound => {
            "These addresses were asked for with --only, but no source record has them: check \
             the spelling, or whether the person is in the directory (and the job's filter) yet."
        }
        Outcome::Create => "A real run would create these users.",
        Outcome::Created => "Created in Salesforce by this run.",
        Outcome::Inactive => {
            "Matched a Salesforce user that is deactivated; left alone. Reactivate by hand if wanted."
        }
        Outcome::Unchanged => "Already in Salesforce and in step.",
        Outcome::Update => {
            "A real run would change these fields of matched users (only the fields shown)."
        }
        Outcome::Updated => "Fields changed in Salesforce by this run (only the fields shown).",
        Outcome::Reactivate => "Matched deactivated users that a real run would reactivate.",
        Outcome::Reactivated => "Deactivated users this run reactivated.",
        Outcome::Leaver => {
            "Active users in the job's scope that no directory record maps to. Nothing was sent \
             (leavers.action = \"report\")."
        }
        Outcome::Deactivate => "Leavers a real run would deactivate.",
        Outcome::Deactivated => "Leavers deactivated by this run.",
        Outcome::Freeze => {
            "Leavers a real run would freeze (they cannot log in; nothing else changes)."
        }
        Outcome::Frozen => "Leavers frozen by this run.",
        Outcome::Unknown => {
            "These writes were sent, but their answer was lost and the run stopped before it could \
             check them: they may or may not have been applied. Run again to confirm; the next run \
             finds what was applied and sends the rest."
        }
    }
}

/// Outcomes a person handles by hand without them failing the run.
pub(crate) fn by_hand(outcome: Outcome) -> bool {
    outcome == Outcome::EmailChangeSkipped
}

fn class(outcome: Outcome) -> &'static str {
    if outcome.needs_person() {
        "attention"
    } else if by_hand(outcome) {
        "by-hand"
    } else if matches!(
        outcome,
        Outcome::Create
            | Outcome::Created
            | Outcome::Update
            | Outcome::Updated
            | Outcome::Reactivate
            | Outcome::Reactivated
    ) {
        "good"
    } else {
        "plain"
    }
}

/// HTML-escapes text for element content and quoted attribute values.
fn esc(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `12345` -> `12,345`: the same in every locale, so snapshots and tests agree.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How long the run took, from the report's two RFC 3339 times.
pub(crate) fn duration(report: &Report<'_>) -> Option<String> {
    let start = OffsetDateTime::parse(&report.started_at, &Rfc3339).ok()?;
    let end = OffsetDateTime::parse(&report.finished_at, &Rfc3339).ok()?;
    let secs = (end - start).whole_seconds();
    if secs < 0 {
        return None;
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    Some(match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    })
}

/// "12 of 15,000" style text for the org's remaining daily API calls.
pub(crate) fn api_left(report: &Report<'_>) -> String {
    match (report.context.api_remaining, report.context.api_max) {
        (Some(left), Some(max)) => format!("{} of {}", thousands(left), thousands(max)),
        (Some(left), None) => thousands(left),
        _ => "unknown".to_owned(),
    }
}

fn write_head(report: &Report<'_>, out: &mut impl Write) -> io::Result<()> {
    let mode = if report.dry_run { "dry run" } else { "run" };
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         <title>sfsync {mode}: {job}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        job = esc(&report.job),
    )
}

fn write_facts(report: &Report<'_>, out: &mut impl Write) -> io::Result<()> {
    let ctx = &report.context;
    let (mode_class, mode) = if report.dry_run {
        ("dry", "Dry run: nothing was written to Salesforce")
    } else {
        ("real", "Real run: changes were written to Salesforce")
    };
    writeln!(
        out,
        "<header>\n<h1>sfsync report: <span id=\"job\">{}</span></h1>\n<p class=\"mode {mode_class}\" id=\"mode\">{mode}</p>",
        esc(&report.job)
    )?;
    if let Some(stopped) = &ctx.stopped {
        writeln!(
            out,
            "<p class=\"stopped\" id=\"stopped\"><strong>The run stopped early:</strong> {}</p>",
            esc(stopped)
        )?;
    }
    if let Some(sandbox) = &ctx.sandbox {
        writeln!(
            out,
            "<p class=\"sandbox\" id=\"sandbox\"><strong>Sandbox:</strong> {}</p>",
            esc(sandbox)
        )?;
    }
    for stop in &ctx.licence_stops {
        writeln!(
            out,
            "<p class=\"stopped\"><strong>Licence limit:</strong> {}</p>",
            esc(stop)
        )?;
    }
    let or_unknown = |s: &str| {
        if s.is_empty() {
            "unknown".to_owned()
        } else {
            s.to_owned()
        }
    };
    // Source and org first and wide: they say which run this is at a glance.
    let facts: [(&str, &str, String); 9] = [
        ("source", "Source", or_unknown(&ctx.source)),
        ("org", "Salesforce org", or_unknown(&ctx.salesforce)),
        ("started", "Started", report.started_at.clone()),
        ("finished", "Finished", report.finished_at.clone()),
        (
            "duration",
            "Duration",
            duration(report).unwrap_or_else(|| "unknown".to_owned()),
        ),
        (
            "source-records",
            "Source records",
            thousands(report.summary.source_records),
        ),
        (
            "salesforce-users",
            "Salesforce users",
            thousands(report.summary.salesforce_users),
        ),
        (
            "api-calls",
            "API calls used",
            thousands(report.summary.api_calls),
        ),
        ("api-left", "API calls left today", api_left(report)),
    ];
    out.write_all(b"<dl class=\"facts\">\n")?;
    for (id, name, value) in &facts {
        let wide = if matches!(*id, "source" | "org") {
            " class=\"wide\""
        } else {
            ""
        };
        writeln!(
            out,
            "<div{wide}><dt>{name}</dt><dd id=\"fact-{id}\">{}</dd></div>",
            esc(value)
        )?;
    }
    out.write_all(b"</dl>\n</header>\n")
}

fn write_summary(
    report: &Report<'_>,
    sections: &Sections<'_>,
    out: &mut impl Write,
) -> io::Result<()> {
    let summary = &report.summary;
    let needs = summary.needs_person();
    out.write_all(b"<section id=\"summary\">\n<h2>Summary</h2>\n")?;
    if needs > 0 {
        writeln!(
            out,
            "<p class=\"verdict attention\" id=\"needs-person\"><strong>{}</strong> {} a person: see the red sections below.</p>",
            thousands(needs),
            if needs == 1 {
                "record needs"
            } else {
                "records need"
            }
        )?;
    } else {
        out.write_all(
            b"<p class=\"verdict good\" id=\"needs-person\">Nothing needs a person.</p>\n",
        )?;
    }
    let hand = summary.email_change_skipped;
    if hand > 0 {
        writeln!(
            out,
            "<p class=\"verdict by-hand\"><strong>{}</strong> e-mail {} to make by hand in Salesforce.</p>",
            thousands(hand),
            if hand == 1 { "change" } else { "changes" }
        )?;
    }

    out.write_all(b"<div class=\"summary-grid\">\n<table class=\"counts\">\n<thead><tr><th scope=\"col\">Outcome</th><th scope=\"col\" class=\"n\">Records</th></tr></thead>\n<tbody>\n")?;
    for outcome in summary_outcomes(summary) {
        let count = summary.count(outcome);
        let listed = sections.listed(outcome);
        let name = if listed > 0 {
            format!(
                "<a href=\"#section-{key}\">{label}</a>",
                key = outcome.as_str(),
                label = label(outcome)
            )
        } else {
            label(outcome).to_owned()
        };
        let note = if count > 0 && listed == 0 && outcome == Outcome::Unchanged {
            " <span class=\"muted\">(not listed; <code>--report-all</code> lists them)</span>"
        } else {
            ""
        };
        writeln!(
            out,
            "<tr class=\"{class}\"><th scope=\"row\">{name}{note} <code class=\"key\">{key}</code></th><td class=\"n\" id=\"count-{key}\">{count}</td></tr>",
            class = class(outcome),
            key = outcome.as_str(),
            count = thousands(count),
        )?;
    }
    out.write_all(b"</tbody>\n</table>\n")?;
    write_chart(report, out)?;
    out.write_all(b"</div>\n")?;

    // A reader acting on the report jumps straight to the work.
    let todo: Vec<_> = sections
        .0
        .iter()
        .filter(|(o, _)| o.needs_person() || by_hand(*o))
        .collect();
    if !todo.is_empty() {
        out.write_all(
            b"<nav class=\"todo\" aria-label=\"Sections to act on\"><strong>Act on:</strong>",
        )?;
        for (outcome, users) in todo {
            write!(
                out,
                " <a class=\"{}\" href=\"#section-{}\">{} ({})</a>",
                class(*outcome),
                outcome.as_str(),
                label(*outcome),
                thousands(users.len() as u64)
            )?;
        }
        out.write_all(b"</nav>\n")?;
    }
    out.write_all(b"</section>\n")
}

/// An inline SVG bar chart of every outcome's count.
fn write_chart(report: &Report<'_>, out: &mut impl Write) -> io::Result<()> {
    const LABEL_W: u64 = 170;
    const BAR_W: u64 = 260;
    const ROW_H: u64 = 24;
    let shown = summary_outcomes(&report.summary);
    let max = shown
        .iter()
        .map(|&o| report.summary.count(o))
        .max()
        .unwrap_or(0)
        .max(1);
    let height = ROW_H * shown.len() as u64 + 8;
    writeln!(
        out,
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"chart-title\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\n<title id=\"chart-title\">Records per outcome</title>",
        w = LABEL_W + BAR_W + 70,
    )?;
    for (i, outcome) in shown.iter().enumerate() {
        let count = report.summary.count(*outcome);
        let y = 4 + ROW_H * i as u64;
        // A non-zero count always shows a sliver, so three collisions beside
        // 100,000 unchanged are still visible.
        let width = if count == 0 {
            0
        } else {
            (count * BAR_W / max).max(3)
        };
        writeln!(
            out,
            "<g class=\"{class}\"><text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text><rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{width}\" height=\"{bh}\" rx=\"2\"/><text x=\"{cx}\" y=\"{ty}\" class=\"count\">{count}</text></g>",
            class = class(*outcome),
            lx = LABEL_W - 8,
            ty = y + 14,
            label = label(*outcome),
            bh = ROW_H - 8,
            cx = LABEL_W + width + 6,
            count = thousands(count),
        )?;
    }
    out.write_all(b"</svg>\n")
}

fn write_section(
    outcome: Outcome,
    users: &[&ReportUser<'_>],
    out: &mut impl Write,
) -> io::Result<()> {
    let key = outcome.as_str();
    let cols = columns_for(outcome, users);
    let total = users.len();
    writeln!(
        out,
        "<section class=\"outcome {class}\" id=\"section-{key}\">\n<h2>{label} <span class=\"badge\">{n}</span></h2>\n<p class=\"guidance\">{guide}</p>",
        class = class(outcome),
        label = label(outcome),
        n = thousands(total as u64),
        guide = guidance(outcome),
    )?;
    if outcome == Outcome::DuplicateInSource {
        let mut groups = 0;
        let mut last: Option<String> = None;
        for user in users {
            let name = user.username.as_deref().unwrap_or("").to_lowercase();
            if last.as_deref() != Some(name.as_str()) {
                groups += 1;
                last = Some(name);
            }
        }
        writeln!(
            out,
            "<p class=\"muted\">{} records in {} {}.</p>",
            thousands(total as u64),
            thousands(groups),
            if groups == 1 { "group" } else { "groups" }
        )?;
    }
    // Hidden until the script runs: without it they could not work.
    writeln!(
        out,
        "<div class=\"controls\" hidden><label>Filter <input type=\"search\" placeholder=\"any column\" aria-label=\"Filter {label}\"></label> \
         <label>Rows per page <select><option>25</option><option selected>100</option><option>500</option></select></label> \
         <button type=\"button\" class=\"prev\">&larr; Previous</button> <button type=\"button\" class=\"next\">Next &rarr;</button> \
         <span class=\"status\" aria-live=\"polite\"></span></div>",
        label = label(outcome),
    )?;
    write!(
        out,
        "<div class=\"scroll\"><table data-outcome=\"{key}\">\n<thead><tr>"
    )?;
    for col in &cols {
        write!(
            out,
            "<th scope=\"col\" data-col=\"{}\"{}>{}</th>",
            col.key(),
            if col.nowrap() { " class=\"nw\"" } else { "" },
            col.title(outcome)
        )?;
    }
    out.write_all(b"</tr></thead>\n<tbody>\n")?;
    let mut previous_group: Option<String> = None;
    for user in users.iter().take(FALLBACK_ROWS) {
        let group_start = if outcome == Outcome::DuplicateInSource {
            let name = user.username.as_deref().unwrap_or("").to_lowercase();
            let start = previous_group.as_ref().is_some_and(|p| *p != name);
            previous_group = Some(name);
            start
        } else {
            false
        };
        out.write_all(if group_start {
            b"<tr class=\"group-start\">"
        } else {
            b"<tr>"
        })?;
        for col in &cols {
            let open = if col.nowrap() {
                "<td class=\"nw\">"
            } else {
                "<td>"
            };
            out.write_all(open.as_bytes())?;
            if *col == Column::Message {
                write_message(&col.value(user), out)?;
            } else {
                out.write_all(esc(&col.value(user)).as_bytes())?;
            }
            if *col == Column::Message && wants_username_hint(outcome, user) {
                out.write_all(HINT.as_bytes())?;
            }
            out.write_all(b"</td>")?;
        }
        out.write_all(b"</tr>\n")?;
    }
    out.write_all(b"</tbody>\n</table></div>\n")?;
    if total > FALLBACK_ROWS {
        writeln!(
            out,
            "<p class=\"nojs-note\">Showing the first {} of {} rows. Open this page with JavaScript enabled to see, sort and filter all of them, or read the JSON or CSV report.</p>",
            FALLBACK_ROWS,
            thousands(total as u64)
        )?;
    }
    out.write_all(b"</section>\n")
}

/// Salesforce's messages carry literal `<br>` line breaks: shown as breaks,
/// with every piece between them escaped. The script does the same.
fn write_message(message: &str, out: &mut impl Write) -> io::Result<()> {
    for (i, piece) in message.split(SALESFORCE_BREAK).enumerate() {
        if i > 0 {
            out.write_all(b"<br>")?;
        }
        out.write_all(esc(piece).as_bytes())?;
    }
    Ok(())
}

const SALESFORCE_BREAK: &str = "<br>";

/// The per-row advice for a username another org holds; the script adds the same.
const HINT: &str = "<span class=\"hint\">Taken in another org: choose a different username.</span>";

fn wants_username_hint(outcome: Outcome, user: &ReportUser<'_>) -> bool {
    outcome == Outcome::Collision && user.error_code.as_deref() == Some(DUPLICATE_USERNAME)
}

/// Writes every section's rows as one JSON document for the script.
///
/// The rows are compact so that 100,000 of them stay a few MB. Each row is
/// an array with one cell per column of its section's table, and a cell is:
/// `0` (empty), `1` (the same as the row's username: the usual e-mail),
/// `"text"`, `["head", k]` (`head` + `tails[k]`, e.g. `@example.com` or
/// `,ou=people,dc=example,dc=com`) or `[k, "rest"]` (`tails[k]` + `rest`, e.g.
/// `people.csv:` + a line number).
fn write_data(sections: &Sections<'_>, out: &mut impl Write) -> io::Result<()> {
    let mut tails = Tails::default();
    let mut body = String::new();
    body.push_str("\"sections\":{");
    for (i, (outcome, users)) in sections.0.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push('"');
        body.push_str(outcome.as_str());
        body.push_str("\":[");
        let cols = columns_for(*outcome, users);
        for (r, user) in users.iter().enumerate() {
            if r > 0 {
                body.push(',');
            }
            body.push('[');
            for (c, col) in cols.iter().enumerate() {
                if c > 0 {
                    body.push(',');
                }
                let value = col.value(user);
                let same_as_username = matches!(col, Column::Email | Column::PreviousEmail)
                    && !value.is_empty()
                    && user.username.as_deref() == Some(&*value);
                if value.is_empty() {
                    body.push('0');
                } else if same_as_username {
                    body.push('1');
                } else {
                    tails.encode(&value, &mut body);
                }
            }
            body.push(']');
        }
        body.push(']');
    }
    body.push_str("}}");

    let mut head = String::from("{\"tails\":");
    head.push_str(&serde_json::to_string(&tails.list).map_err(io::Error::other)?);
    head.push(',');
    out.write_all(b"<script type=\"application/json\" id=\"sfsync-data\">")?;
    out.write_all(script_safe(&head).as_bytes())?;
    out.write_all(script_safe(&body).as_bytes())?;
    out.write_all(b"</script>\n")
}

/// Makes JSON safe inside a `<script>` element: no value may close it
/// (`</script>`) or open a comment (`<!--`) that changes how it is parsed.
/// `<`, `>` and `&` only ever occur inside JSON strings, where `\u003c` and
/// friends mean the same characters.
fn script_safe(json: &str) -> Cow<'_, str> {
    if !json.contains(['<', '>', '&']) {
        return Cow::Borrowed(json);
    }
    Cow::Owned(
        json.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    )
}

/// The shared ends of values (address domains, DN suffixes, CSV file names),
/// stored once and referred to by index.
#[derive(Default)]
struct Tails {
    list: Vec<String>,
    index: HashMap<String, usize>,
}

impl Tails {
    /// Shorter shared parts cost more as an index than they save.
    const MIN_LEN: usize = 4;

    fn id(&mut self, tail: &str) -> usize {
        if let Some(&i) = self.index.get(tail) {
            return i;
        }
        let i = self.list.len();
        self.list.push(tail.to_owned());
        self.index.insert(tail.to_owned(), i);
        i
    }

    fn encode(&mut self, value: &str, out: &mut String) {
        let quoted = |s: &str| serde_json::to_string(s).expect("a str always serializes");
        match split_shared(value) {
            Some(Split::Suffix(head, tail)) if tail.len() >= Self::MIN_LEN => {
                let k = self.id(tail);
                out.push('[');
                out.push_str(&quoted(head));
                out.push(',');
                out.push_str(&k.to_string());
                out.push(']');
            }
            Some(Split::Prefix(prefix, rest)) if prefix.len() >= Self::MIN_LEN => {
                let k = self.id(prefix);
                out.push('[');
                out.push_str(&k.to_string());
                out.push(',');
                out.push_str(&quoted(rest));
                out.push(']');
            }
            _ => out.push_str(&quoted(value)),
        }
    }
}

enum Split<'a> {
    /// `head` then a shared tail.
    Suffix(&'a str, &'a str),
    /// A shared prefix then the rest.
    Prefix(&'a str, &'a str),
}

/// Finds the part of a value that many rows share: the DN after its first
/// RDN, the domain of an address, the file of a `FILE:LINE`.
fn split_shared(value: &str) -> Option<Split<'_>> {
    if let Some(comma) = value.find(',')
        && value[..comma].contains('=')
    {
        return Some(Split::Suffix(&value[..comma], &value[comma..]));
    }
    if let Some(at) = value.rfind('@') {
        return Some(Split::Suffix(&value[..at], &value[at..]));
    }
    if let Some(colon) = value.rfind(':') {
        let line = &value[colon + 1..];
        if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Split::Prefix(&value[..=colon], line));
        }
    }
    None
}

const STYLE: &str = r#"
:root{--fg:#1d2125;--muted:#5f6b76;--line:#d9dee3;--bg:#fff;--soft:#f4f6f8;--red:#b3261e;--red-bg:#fdecea;--amber:#a85d00;--amber-bg:#fff4e0;--green:#2e7d32;--blue:#1f5fbf;--grey:#8a97a3}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 6px}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
.mode{display:inline-block;margin:0 0 12px;padding:3px 10px;border-radius:12px;font-weight:600}
.mode.dry{background:#e8f0fe;color:var(--blue)}.mode.real{background:#e6f4ea;color:var(--green)}
.stopped{background:var(--amber-bg);border-left:4px solid var(--amber);padding:8px 12px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:6px 16px;margin:0;padding:12px 14px;background:var(--soft);border-radius:8px}
.facts div{min-width:0}.facts .wide{grid-column:span 2}.facts dt{color:var(--muted);font-size:12px}.facts dd{margin:0;font-weight:600;overflow-wrap:break-word}
.verdict{padding:8px 12px;border-radius:6px;margin:8px 0}
.verdict.attention{background:var(--red-bg);color:var(--red)}.verdict.by-hand{background:var(--amber-bg);color:var(--amber)}.verdict.good{background:#e6f4ea;color:var(--green)}
.summary-grid{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.counts{border-collapse:collapse;min-width:300px}.counts th,.counts td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left}
.counts .n{text-align:right;font-variant-numeric:tabular-nums}
.counts tr.attention th,.counts tr.attention td{color:var(--red);font-weight:600}.counts tr.by-hand th,.counts tr.by-hand td{color:var(--amber);font-weight:600}
.key{color:var(--muted);font-weight:400}.muted{color:var(--muted);font-weight:400}
.chart text{font-size:12px;fill:var(--fg)}.chart .count{fill:var(--muted)}
.chart .attention rect{fill:var(--red)}.chart .attention text{fill:var(--red);font-weight:600}.chart .by-hand rect{fill:#e08a00}.chart .good rect{fill:var(--green)}.chart .plain rect{fill:var(--grey)}
.todo{margin-top:14px}.todo a{margin-left:8px;font-weight:600}.todo a.attention{color:var(--red)}.todo a.by-hand{color:var(--amber)}
.outcome{border-top:1px solid var(--line);margin-top:24px}
.outcome.attention h2{color:var(--red)}.outcome.by-hand h2{color:var(--amber)}
.badge{display:inline-block;min-width:24px;padding:0 8px;border-radius:10px;background:var(--soft);color:var(--fg);font-size:13px;text-align:center}
.outcome.attention .badge{background:var(--red-bg);color:var(--red)}
.guidance{max-width:860px;color:var(--muted);margin:4px 0 10px}
.controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:6px 0}
.controls input{padding:4px 6px;min-width:220px}.status{color:var(--muted)}
.scroll{overflow-x:auto}
table[data-outcome]{border-collapse:collapse;width:100%}
table[data-outcome] th,table[data-outcome] td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:anywhere;min-width:8em}
table[data-outcome] td.nw{white-space:nowrap;min-width:0}
table[data-outcome] thead th{background:var(--soft);white-space:nowrap;position:sticky;top:0}
table[data-outcome] thead th.sortable{cursor:pointer}table[data-outcome] thead th.sortable:hover{text-decoration:underline}
th[aria-sort=ascending]::after{content:" \25B2";font-size:10px}th[aria-sort=descending]::after{content:" \25BC";font-size:10px}
tr.group-start td{border-top:2px solid var(--muted)}
.hint{display:block;color:var(--red);font-weight:600;font-size:12px}
.nojs-note{color:var(--muted);font-style:italic}
footer{margin-top:32px;color:var(--muted);font-size:12px}
@media print{.controls{display:none}thead th{position:static}}
"#;

const SCRIPT: &str = r#"<script>
(function () {
  "use strict";
  var dataEl = document.getElementById("sfsync-data");
  if (!dataEl || !window.JSON) return;
  var data = JSON.parse(dataEl.textContent);
  var tails = data.tails;
  // A link can open the page on a view: #q=TEXT&sort=COLUMN (or -COLUMN)&page=N.
  var params = new URLSearchParams(location.hash.replace(/^#/, ""));
  var initial = params.get("q") || "", initialSort = params.get("sort") || "";
  var initialPage = Math.max(0, (parseInt(params.get("page"), 10) || 1) - 1);

  function fmt(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function cell(c, user) {
    if (c === 0) return "";
    if (c === 1) return user;
    if (typeof c === "string") return c;
    return typeof c[0] === "number" ? tails[c[0]] + c[1] : c[0] + tails[c[1]];
  }

  var tables = document.querySelectorAll("table[data-outcome]");
  for (var t = 0; t < tables.length; t++) setUp(tables[t]);

  function setUp(table) {
    var outcome = table.getAttribute("data-outcome");
    var raw = data.sections[outcome];
    if (!raw) return;
    var heads = table.tHead.rows[0].cells, cols = [];
    var nowrap = [];
    for (var h = 0; h < heads.length; h++) {
      cols.push(heads[h].getAttribute("data-col"));
      nowrap.push(heads[h].classList.contains("nw"));
    }
    var userAt = cols.indexOf("username"), codeAt = cols.indexOf("error_code"), msgAt = cols.indexOf("message");
    var rows = new Array(raw.length);
    for (var r = 0; r < raw.length; r++) {
      var src = raw[r], user = userAt >= 0 ? cell(src[userAt], "") : "", row = new Array(cols.length);
      for (var c = 0; c < cols.length; c++) row[c] = cell(src[c], user);
      rows[r] = row;
    }
    var section = table.closest("section");
    var controls = section.querySelector(".controls");
    var box = controls.querySelector("input"), size = controls.querySelector("select");
    var prev = controls.querySelector(".prev"), next = controls.querySelector(".next");
    var status = controls.querySelector(".status");
    var note = section.querySelector(".nojs-note");
    var tbody = table.tBodies[0];
    var all = new Array(rows.length);
    for (var i = 0; i < rows.length; i++) all[i] = i;
    var view = all, hay = null, query = "", sortAt = -1, dir = 1, page = 0, timer = 0;

    function sortView() {
      if (sortAt < 0) return;
      var keys = new Array(rows.length);
      for (var k = 0; k < rows.length; k++) keys[k] = rows[k][sortAt].toLowerCase();
      view = view.slice().sort(function (a, b) {
        return keys[a] < keys[b] ? -dir : keys[a] > keys[b] ? dir : a - b;
      });
    }
    function filter() {
      query = box.value.trim().toLowerCase();
      if (!query) { view = all; }
      else {
        if (!hay) {
          hay = new Array(rows.length);
          for (var k = 0; k < rows.length; k++) hay[k] = rows[k].join("\u0001").toLowerCase();
        }
        var words = query.split(/\s+/), hits = [];
        outer: for (var k2 = 0; k2 < rows.length; k2++) {
          for (var w = 0; w < words.length; w++) if (hay[k2].indexOf(words[w]) < 0) continue outer;
          hits.push(k2);
        }
        view = hits;
      }
      sortView();
    }
    function draw() {
      var per = parseInt(size.value, 10) || 100;
      var pages = Math.max(1, Math.ceil(view.length / per));
      if (page >= pages) page = pages - 1;
      var from = page * per, to = Math.min(view.length, from + per);
      var frag = document.createDocumentFragment(), last = null;
      for (var v = from; v < to; v++) {
        var row = rows[view[v]], tr = document.createElement("tr");
        if (outcome === "duplicate_in_source") {
          var group = row[userAt].toLowerCase();
          if (last !== null && group !== last) tr.className = "group-start";
          last = group;
        }
        for (var c = 0; c < row.length; c++) {
          var td = document.createElement("td");
          if (nowrap[c]) td.className = "nw";
          if (c === msgAt) {
            var pieces = row[c].split("<br>");
            for (var p = 0; p < pieces.length; p++) {
              if (p > 0) td.appendChild(document.createElement("br"));
              td.appendChild(document.createTextNode(pieces[p]));
            }
          } else {
            td.textContent = row[c];
          }
          if (c === msgAt && outcome === "collision" && row[codeAt] === "DUPLICATE_USERNAME") {
            var hint = document.createElement("span");
            hint.className = "hint";
            hint.textContent = "Taken in another org: choose a different username.";
            td.appendChild(hint);
          }
          tr.appendChild(td);
        }
        frag.appendChild(tr);
      }
      tbody.textContent = "";
      tbody.appendChild(frag);
      status.textContent = !view.length ? "No matching rows (of " + fmt(rows.length) + ")" :
        "Rows " + fmt(from + 1) + "\u2013" + fmt(to) + " of " + fmt(view.length) +
        (query ? " matching (filtered from " + fmt(rows.length) + ")" : "");
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }

    for (var hh = 0; hh < heads.length; hh++) (function (at, th) {
      th.classList.add("sortable");
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      function go() {
        sortBy(at, sortAt === at ? -dir : 1);
        draw();
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
    })(hh, heads[hh]);
    function sortBy(at, direction) {
      sortAt = at;
      dir = direction;
      for (var x = 0; x < heads.length; x++) heads[x].setAttribute("aria-sort", "none");
      heads[at].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      sortView();
    }
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { filter(); page = 0; draw(); }, 150);
    });
    size.addEventListener("change", function () { page = 0; draw(); });
    prev.addEventListener("click", function () { page--; draw(); });
    next.addEventListener("click", function () { page++; draw(); });

    controls.hidden = false;
    if (note) note.hidden = true;
    table.setAttribute("data-rendered", "script");
    var desc = initialSort.charAt(0) === "-", sortKey = desc ? initialSort.slice(1) : initialSort;
    if (cols.indexOf(sortKey) >= 0) sortBy(cols.indexOf(sortKey), desc ? -1 : 1);
    box.value = initial;
    filter();
    page = initialPage;
    draw();
  }
})();
</script>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert!(matches!(esc("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn script_data_cannot_close_the_script_element() {
        let json = serde_json::to_string("</script><!-- & -->").unwrap();
        let safe = script_safe(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "</script><!-- & -->");
    }

    #[test]
    fn shared_parts_are_found() {
        let cases = [
            (
                "uid=ada,ou=people,dc=example,dc=com",
                "S:uid=ada|,ou=people,dc=example,dc=com",
            ),
            ("ada@example.com", "S:ada|@example.com"),
            ("samples/people.csv:42", "P:samples/people.csv:|42"),
            ("samples/people.csv:x", "-"),
            ("no shared part", "-"),
        ];
        for (value, want) in cases {
            let got = match split_shared(value) {
                Some(Split::Suffix(a, b)) => format!("S:{a}|{b}"),
                Some(Split::Prefix(a, b)) => format!("P:{a}|{b}"),
                None => "-".to_owned(),
            };
            assert_eq!(got, want, "{value}");
        }
    }

    #[test]
    fn duration_reads_rfc3339() {
        let mut report = Report {
            report_version: 1,
            job: "j".into(),
            dry_run: true,
            started_at: "2026-11-28T02:00:00Z".into(),
            finished_at: "2026-11-28T02:00:41Z".into(),
            summary: Default::default(),
            users: Default::default(),
            context: Default::default(),
            list_all: false,
        };
        assert_eq!(duration(&report).as_deref(), Some("41 s"));
        report.finished_at = "2026-11-28T02:03:05Z".into();
        assert_eq!(duration(&report).as_deref(), Some("3 min 5 s"));
        report.finished_at = "2026-11-28T04:10:00Z".into();
        assert_eq!(duration(&report).as_deref(), Some("2 h 10 min"));
        report.finished_at = "not a time".into();
        assert_eq!(duration(&report), None);
    }
}
