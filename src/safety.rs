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

#[cfg(test)]
mod tests {
    use super::*;

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
