//! Safety guards checked on the plan before any write. Pure.
//!
//! They stop a run (exit 4) whose plan looks like a mistake: more creates
//! than the job allows, or a source that came back empty or much smaller
//! than last time (a broken LDAP read must never become mass creates, nor,
//! one day, mass deactivations).

/// Refuses a plan with more creates than allowed.
pub fn check_max_creates(creates: u64, max: u64) -> Result<(), String> {
    if creates <= max {
        return Ok(());
    }
    Err(format!(
        "the plan would create {creates} users, more than max_creates = {max}; nothing was created. \
         Check the plan (`sfsync plan`), then raise `limits.max_creates` or run once with `--max-creates {creates}`"
    ))
}

/// Refuses a source that is empty, or smaller than `min_fraction` of the
/// previous successful run's count.
pub fn check_source_size(
    current: u64,
    previous: Option<u64>,
    min_fraction: f64,
) -> Result<(), String> {
    if current == 0 {
        return Err("the source returned no records; nothing was written. \
                    If the directory really is empty, fix the filter or the source first"
            .to_owned());
    }
    match previous {
        Some(prev) if (current as f64) < prev as f64 * min_fraction => Err(format!(
            "the source returned {current} records, fewer than {:.0}% of the {prev} the last run read; \
             nothing was written. If that shrink is real, lower `safety.min_source_fraction` or delete the \
             state file to accept it",
            min_fraction * 100.0
        )),
        _ => Ok(()),
    }
}

/// Refuses a plan with more updates than `[update] max_updates`.
pub fn check_max_updates(updates: u64, max: u64) -> Result<(), String> {
    if updates <= max {
        return Ok(());
    }
    Err(format!(
        "the plan would update {updates} users, more than update.max_updates = {max}; nothing was written. \
         Check the plan (`sfsync plan`), then raise `update.max_updates` if the changes are real"
    ))
}

/// Refuses a plan that deactivates (or freezes) more leavers than
/// `max_deactivations`, or a bigger share than `max_fraction` of the
/// `in_scope` active users: a truncated source read must never lock a
/// company out.
pub fn check_leavers(
    leavers: u64,
    in_scope: u64,
    max: u64,
    max_fraction: f64,
) -> Result<(), String> {
    if leavers > max {
        return Err(format!(
            "the plan would act on {leavers} leavers, more than leavers.max_deactivations = {max}; nothing was written. \
             Check the leavers in the plan (`sfsync plan`): a source read that missed people looks like this"
        ));
    }
    if in_scope > 0 && leavers as f64 > in_scope as f64 * max_fraction {
        return Err(format!(
            "the plan would act on {leavers} of the {in_scope} active users in the leavers' scope, more than \
             leavers.max_deactivation_fraction = {max_fraction}; nothing was written. \
             Check the leavers in the plan (`sfsync plan`) before raising the limit"
        ));
    }
    Ok(())
}

/// What every guard looks at: the plan's counts and the job's limits.
#[derive(Debug, Clone, Default)]
pub struct PlanFacts {
    pub source_records: u64,
    /// The last successful run's count (the state file), when known.
    pub previous_source_records: Option<u64>,
    pub min_source_fraction: f64,
    /// A `--only` run: small by design, so the source-size guard does not apply.
    pub only: bool,
    pub creates: u64,
    pub max_creates: u64,
    pub updates: u64,
    /// `None`: no `[update]` section.
    pub max_updates: Option<u64>,
    /// Planned deactivations and freezes.
    pub leaver_writes: u64,
    pub in_scope: u64,
    /// `(max_deactivations, max_deactivation_fraction)`; `None`: no `[leavers]` acting.
    pub leaver_limits: Option<(u64, f64)>,
}

/// Every guard, in one place, on the plan: `plan` and `sync` call it alike,
/// so a dry run names the stop a real run would hit. The first guard that
/// refuses gives the reason.
pub fn check_plan(f: &PlanFacts) -> Result<(), String> {
    if !f.only {
        check_source_size(
            f.source_records,
            f.previous_source_records,
            f.min_source_fraction,
        )?;
    }
    check_max_creates(f.creates, f.max_creates)?;
    if let Some(max) = f.max_updates {
        check_max_updates(f.updates, max)?;
    }
    if let Some((max, fraction)) = f.leaver_limits {
        check_leavers(f.leaver_writes, f.in_scope, max, fraction)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guard_on_the_plan_names_its_key() {
        let ok = PlanFacts {
            source_records: 100,
            previous_source_records: Some(100),
            min_source_fraction: 0.9,
            creates: 5,
            max_creates: 5,
            updates: 10,
            max_updates: Some(10),
            leaver_writes: 5,
            in_scope: 100,
            leaver_limits: Some((5, 0.05)),
            ..PlanFacts::default()
        };
        assert_eq!(check_plan(&ok), Ok(()));
        let why = |f: PlanFacts| check_plan(&f).unwrap_err();
        assert!(
            why(PlanFacts {
                creates: 6,
                ..ok.clone()
            })
            .contains("max_creates = 5")
        );
        assert!(
            why(PlanFacts {
                updates: 11,
                ..ok.clone()
            })
            .contains("update.max_updates = 10")
        );
        assert!(
            why(PlanFacts {
                leaver_writes: 6,
                ..ok.clone()
            })
            .contains("leavers.max_deactivations = 5")
        );
        assert!(
            why(PlanFacts {
                leaver_writes: 5,
                in_scope: 99,
                ..ok.clone()
            })
            .contains("max_deactivation_fraction")
        );
        assert!(
            why(PlanFacts {
                source_records: 0,
                ..ok.clone()
            })
            .contains("no records")
        );
        assert!(
            why(PlanFacts {
                source_records: 50,
                ..ok.clone()
            })
            .contains("fewer than 90%")
        );
        // --only runs skip the size guard; the others still apply.
        assert_eq!(
            check_plan(&PlanFacts {
                source_records: 1,
                only: true,
                ..ok.clone()
            }),
            Ok(())
        );
        // No sections, no lifecycle guards.
        assert_eq!(
            check_plan(&PlanFacts {
                updates: 1_000_000,
                max_updates: None,
                leaver_writes: 99,
                leaver_limits: None,
                ..ok
            }),
            Ok(())
        );
    }

    #[test]
    fn max_creates_allows_the_limit_and_refuses_one_more_with_the_way_forward() {
        assert!(check_max_creates(500, 500).is_ok());
        let why = check_max_creates(501, 500).unwrap_err();
        assert!(
            why.contains("create 501 users") && why.contains("--max-creates 501"),
            "{why}"
        );
    }

    #[test]
    fn source_size_guard() {
        assert!(
            check_source_size(0, None, 0.9)
                .unwrap_err()
                .contains("no records")
        );
        assert!(check_source_size(10, None, 0.9).is_ok());
        assert!(check_source_size(90, Some(100), 0.9).is_ok());
        let why = check_source_size(89, Some(100), 0.9).unwrap_err();
        assert!(
            why.contains("89 records") && why.contains("90%") && why.contains("100"),
            "{why}"
        );
        assert!(
            check_source_size(1, Some(100), 0.0).is_ok(),
            "0 disables the shrink check"
        );
    }
}
