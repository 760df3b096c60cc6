//! Building the [`Report`] value from a run's facts and its per-record rows. Pure.

use super::{MakeRows, Outcome, Report, ReportContext, ReportUser, Summary, Users};

/// What a run knows besides the per-record rows.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub job: String,
    pub dry_run: bool,
    pub started_at: String,
    pub finished_at: String,
    pub salesforce_users: u64,
    pub api_calls: u64,
    pub context: ReportContext,
    /// The job has `[update]` or `[leavers]` ([`Summary::lifecycle`]).
    pub lifecycle: bool,
    /// The job has `[access]` ([`Summary::access`]).
    pub access: bool,
}

/// Counts every row and keeps those a reader needs: everything but
/// `unchanged`, unless `report_all`. The rows are listed in the report
/// (tests, tools); a run makes its rows on demand with [`build_made`].
pub fn build<'a>(
    facts: RunFacts,
    rows: impl IntoIterator<Item = ReportUser<'a>>,
    report_all: bool,
) -> Report<'a> {
    let mut summary = first_summary(&facts);
    let mut users = Vec::new();
    for row in rows {
        count(&mut summary, &row);
        if listed(&row, report_all) {
            users.push(row);
        }
    }
    report(facts, summary, Users::Listed(users), report_all)
}

/// [`build`] over rows `rows()` makes, as often as asked: counted here in
/// one pass, then made again by each renderer as it writes them, so no
/// more than one row is held at a time (a million-person run's rows are
/// not a second copy of the run).
pub fn build_made<'a, I>(facts: RunFacts, rows: impl Fn() -> I + 'a, report_all: bool) -> Report<'a>
where
    I: Iterator<Item = ReportUser<'a>> + 'a,
{
    let mut summary = first_summary(&facts);
    for row in rows() {
        count(&mut summary, &row);
    }
    let make: MakeRows<'a> =
        Box::new(move || Box::new(rows().filter(move |r| listed(r, report_all))));
    report(facts, summary, Users::Made(make), report_all)
}

fn first_summary(facts: &RunFacts) -> Summary {
    Summary {
        salesforce_users: facts.salesforce_users,
        api_calls: facts.api_calls,
        lifecycle: facts.lifecycle,
        access: facts.access,
        ..Summary::default()
    }
}

fn count(summary: &mut Summary, row: &ReportUser<'_>) {
    // A leaver is an org user and a `not_found` row an `--only` address:
    // neither is a record of the source.
    if !row.outcome.is_leaver() && row.outcome != Outcome::NotFound {
        summary.source_records += 1;
    }
    summary.add(row.outcome);
    if row.access_failed {
        summary.access_failed += 1;
    }
}

/// Whether the report lists `row`: a matched user granted access
/// (`apply_to_existing`) is news too.
fn listed(row: &ReportUser<'_>, report_all: bool) -> bool {
    report_all || row.outcome != Outcome::Unchanged || row.access.is_some()
}

fn report<'a>(facts: RunFacts, summary: Summary, users: Users<'a>, list_all: bool) -> Report<'a> {
    Report {
        report_version: 1,
        job: facts.job,
        dry_run: facts.dry_run,
        started_at: facts.started_at,
        finished_at: facts.finished_at,
        summary,
        users,
        context: facts.context,
        list_all,
    }
}

/// RFC 3339 in UTC with whole seconds, as the report shows times.
pub fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Report<'_> {
    /// SPEC's exit code for a finished run: 3 when someone must act, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.summary.needs_person() > 0 {
            crate::error::exit::NEEDS_PERSON
        } else {
            crate::error::exit::OK
        }
    }

    /// Everything but the rows (job, times, summary, context): what outlives
    /// the run whose data the rows borrow. `users` is left empty, so render
    /// the rows before calling this.
    pub fn without_users(self) -> Report<'static> {
        Report {
            report_version: self.report_version,
            job: self.job,
            dry_run: self.dry_run,
            started_at: self.started_at,
            finished_at: self.finished_at,
            summary: self.summary,
            users: Users::default(),
            context: self.context,
            list_all: self.list_all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: Outcome) -> ReportUser<'static> {
        ReportUser {
            outcome,
            username: Some("a@example.com".into()),
            email: Some("a@example.com".into()),
            source: "people.csv:2".into(),
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

    fn facts() -> RunFacts {
        RunFacts {
            job: "t".into(),
            dry_run: true,
            started_at: "x".into(),
            finished_at: "y".into(),
            salesforce_users: 7,
            api_calls: 3,
            context: ReportContext::default(),
            lifecycle: false,
            access: false,
        }
    }

    #[test]
    fn unchanged_rows_are_counted_but_listed_only_with_report_all() {
        let rows = || {
            [
                row(Outcome::Unchanged),
                row(Outcome::Create),
                row(Outcome::Collision),
            ]
        };
        let r = build(facts(), rows(), false);
        assert_eq!(r.summary.source_records, 3);
        // the run's own figures are carried into the summary
        assert_eq!((r.summary.salesforce_users, r.summary.api_calls), (7, 3));
        assert_eq!(
            (r.summary.unchanged, r.summary.create, r.summary.collision),
            (1, 1, 1)
        );
        assert_eq!(r.users.len(), 2);
        assert_eq!(r.exit_code(), 3);
        assert_eq!(build(facts(), rows(), true).users.len(), 3);
        assert_eq!(
            build(facts(), [row(Outcome::EmailChangeSkipped)], false).exit_code(),
            0
        );
    }

    #[test]
    fn made_rows_give_the_listed_report_and_are_made_again_per_rendering() {
        let passes = std::cell::Cell::new(0);
        let rows = || {
            passes.set(passes.get() + 1);
            [
                row(Outcome::Unchanged),
                row(Outcome::Create),
                ReportUser {
                    message: Some("held by 005B".into()),
                    ..row(Outcome::Collision)
                },
            ]
            .into_iter()
        };
        for report_all in [false, true] {
            let listed = build(facts(), rows(), report_all);
            passes.set(0);
            let made = build_made(facts(), rows, report_all);
            // One pass counts them; no row is kept.
            assert_eq!(passes.get(), 1);
            assert_eq!(made.summary, listed.summary);
            assert_eq!(made.users.len(), listed.users.len());
            let json = |r: &Report<'_>| serde_json::to_string(r).unwrap();
            assert_eq!(json(&made), json(&listed));
            let csv = |r: &Report<'_>| {
                let mut out = Vec::new();
                crate::report::csv::render(r, &mut out).unwrap();
                out
            };
            assert_eq!(csv(&made), csv(&listed));
            let html = |r: &Report<'_>| {
                let mut out = Vec::new();
                crate::report::html::render(r, &mut out).unwrap();
                out
            };
            assert_eq!(html(&made), html(&listed));
            assert_eq!(
                crate::report::table::render(&made),
                crate::report::table::render(&listed)
            );
            assert_eq!(
                crate::report::md::render(&made),
                crate::report::md::render(&listed)
            );
            // Each rendering made them again (len, JSON, CSV, HTML, table, Markdown).
            assert_eq!(passes.get(), 7);
        }
    }

    #[test]
    fn without_users_keeps_the_counts_and_drops_the_borrowed_rows() {
        let source = String::from("people.csv:9");
        let head = {
            let borrowed = ReportUser {
                source: source.as_str().into(),
                ..row(Outcome::Failed)
            };
            build(facts(), [borrowed], false).without_users()
        };
        drop(source);
        assert_eq!((head.summary.failed, head.summary.source_records), (1, 1));
        assert!(head.users.is_empty());
        assert_eq!(head.exit_code(), 3);
    }

    #[test]
    fn timestamps_are_utc_whole_seconds() {
        let t = time::macros::datetime!(2026-11-28 03:00:41.789 +01:00);
        assert_eq!(timestamp(t), "2026-11-28T02:00:41Z");
    }

    #[test]
    fn leavers_and_not_found_rows_are_no_source_records_and_access_is_news() {
        let granted = ReportUser {
            access: Some(vec!["permission set Sales".into()]),
            ..row(Outcome::Unchanged)
        };
        let failed = ReportUser {
            access_failed: true,
            ..row(Outcome::Create)
        };
        let rows = || {
            [
                row(Outcome::Deactivate),
                row(Outcome::NotFound),
                granted.clone(),
                failed.clone(),
                row(Outcome::Unchanged),
            ]
        };
        for r in [
            build(facts(), rows(), false),
            build_made(facts(), || rows().into_iter(), false),
        ] {
            // the org user leaving and the `--only` address are not source records
            assert_eq!(r.summary.source_records, 3);
            assert_eq!((r.summary.deactivate, r.summary.not_found), (1, 1));
            assert_eq!(r.summary.access_failed, 1);
            // an unchanged user granted access is listed; a plain unchanged one is not
            let listed: Vec<Outcome> = r.users.iter().map(|u| u.outcome).collect();
            assert_eq!(
                listed,
                [
                    Outcome::Deactivate,
                    Outcome::NotFound,
                    Outcome::Unchanged,
                    Outcome::Create
                ]
            );
            assert!(!r.users.is_empty());
        }
        let none = build_made(facts(), || [row(Outcome::Unchanged)].into_iter(), false);
        assert_eq!(none.summary.unchanged, 1);
        assert!(none.users.is_empty());
    }

    #[test]
    fn the_jobs_sections_decide_which_zero_counts_the_summary_writes() {
        let with = RunFacts {
            lifecycle: true,
            access: true,
            ..facts()
        };
        let summary = |r: &Report<'_>| serde_json::to_value(&r.summary).unwrap();
        for r in [
            build(with.clone(), [row(Outcome::Create)], false),
            build_made(with, || [row(Outcome::Create)].into_iter(), false),
        ] {
            // [update]/[leavers] and [access]: their counts are written, zero or not
            let s = summary(&r);
            assert_eq!(
                (&s["deactivated"], &s["access_failed"]),
                (&0.into(), &0.into()),
                "{s}"
            );
        }
        let s = summary(&build(facts(), [row(Outcome::Create)], false));
        assert!(
            s.get("deactivated").is_none() && s.get("access_failed").is_none(),
            "{s}"
        );
    }
}
