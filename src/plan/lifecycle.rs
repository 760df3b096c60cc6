//! The opt-in passes over a core [`Plan`]: updates (movers) and leavers.
//! Pure: values in, the plan amended; no I/O.
//!
//! Updates compare, for each record matched to an active user, the rendered
//! source value of every `[update] fields` entry with the org's (read by the
//! same query that read the match keys, into a [`FieldTable`] by user
//! position), the way Salesforce stores them: text exactly, booleans and
//! picklist values as their values. An empty source value never blanks an
//! org value unless `clear_empty`. Values are rendered into one reused
//! buffer and compared there. Records are compared on one thread per core,
//! like the core pass builds its tables on several (a 1,000,000 x 1,000,000
//! plan renders 8 fields of half a million matches); the changes of those
//! that differ are made on the calling thread, so they can take the memory
//! the org's freed users held.
//!
//! Leavers are the active users inside `[leavers] scope` (the org answered
//! that query) that no source record maps to, never a protected username nor
//! the API user itself. The users the decisions refer to are marked in a
//! bitmap indexed by org position (decisions carry the matched user's
//! position), not looked up by Id in a hash set.

use std::sync::Arc;

use super::{Change, Decision, Hasher, Leaver, NONE, Operation, Plan};
use crate::job::LeaverAction;
use crate::report::Outcome;
use crate::salesforce::{FieldTable, SfUser};

/// What the update pass needs besides the plan.
#[derive(Debug, Clone, Copy)]
pub struct UpdateSpec<'a> {
    /// `[update] fields`, in the job's order (the org's values are a [`FieldTable`]).
    pub fields: &'a [String],
    pub clear_empty: bool,
}

/// Below this many decisions a second thread costs more than it saves.
const PER_THREAD: usize = 20_000;

/// Compares matched active users field by field and turns `unchanged`
/// records whose fields differ into `update`s, appending one
/// [`Operation::Update`] per record (after the creates, before the
/// reactivations: SPEC's order). `desired(record, j, out)` appends the
/// rendered source value of `fields[j]` to `out` (nothing appended, or an
/// empty value: no value). It is called from several threads at once.
///
/// `org` holds the `[update] fields` of the users the plan was made from,
/// by the same positions ([`Decision::matched`]).
pub fn add_updates(
    plan: &mut Plan,
    org: &FieldTable,
    spec: UpdateSpec<'_>,
    desired: impl Fn(usize, usize, &mut String) + Sync,
) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    add_updates_on(plan, org, spec, &desired, cores);
}

/// [`add_updates`] on at most `cores` threads (tests choose, so the
/// threaded path runs whatever machine they run on).
fn add_updates_on(
    plan: &mut Plan,
    org: &FieldTable,
    spec: UpdateSpec<'_>,
    desired: &(impl Fn(usize, usize, &mut String) + Sync),
    cores: usize,
) {
    // Field names shared by every change (a million changes, eight names).
    let names: Vec<Arc<str>> = spec.fields.iter().map(|f| Arc::from(f.as_str())).collect();
    let names = &names[..];
    let mut buf = String::new();
    // A reactivation sends the differing fields with `IsActive = true`.
    for op in &mut plan.operations {
        if let Operation::Reactivate { record, changes } = op {
            let d = &plan.decisions[*record];
            if d.matched != NONE {
                let (user, record) = (d.matched as usize, *record);
                *changes = diff_with(org, user, spec, names, &mut buf, |j, out| {
                    desired(record, j, out)
                })
                .into();
            }
        }
    }
    // The records of one part that differ, `start` being the first one's
    // index. Only found here: their changes are made below, on the calling
    // thread, where the org's freed users left room for them (a thread's
    // allocations take pages of their own; BENCHMARKS.md, issue 15).
    let part = |start: usize, decisions: &[Decision]| {
        let mut buf = String::new();
        let mut differ = Vec::new();
        for (i, d) in decisions.iter().enumerate() {
            // An e-mail change is for a person to make first; an inactive user is reactivated or left.
            if d.outcome != Outcome::Unchanged || d.matched == NONE {
                continue;
            }
            let record = start + i;
            if differs(org, d.matched as usize, spec, &mut buf, |j, out| {
                desired(record, j, out)
            }) {
                differ.push(record);
            }
        }
        differ
    };
    let differ = on_parts(&plan.decisions, cores, part);
    let mut updates = Vec::with_capacity(differ.len());
    for record in differ {
        let d = &mut plan.decisions[record];
        let changes = diff_with(org, d.matched as usize, spec, names, &mut buf, |j, out| {
            desired(record, j, out)
        });
        d.outcome = Outcome::Update;
        updates.push(Operation::Update {
            record,
            changes: changes.into(),
        });
    }
    if updates.is_empty() {
        return;
    }
    // Keep the phases in order: what goes before the updates, the updates,
    // then everything after.
    let at = plan
        .operations
        .iter()
        .position(|o| o.phase() > Operation::UPDATE_PHASE)
        .unwrap_or(plan.operations.len());
    plan.operations.splice(at..at, updates);
}

/// The fields of user `user` of `org` that differ from the source's values;
/// `desired(j, out)` appends the source's value of `spec.fields[j]` to `out`.
pub fn diff(
    org: &FieldTable,
    user: usize,
    spec: UpdateSpec<'_>,
    desired: impl Fn(usize, &mut String),
) -> Vec<Change> {
    let names: Vec<Arc<str>> = spec.fields.iter().map(|f| Arc::from(f.as_str())).collect();
    diff_with(org, user, spec, &names, &mut String::new(), desired)
}

/// [`diff`] rendering each value into `buf` (reused from one user to the
/// next), with the field names made once.
fn diff_with(
    org: &FieldTable,
    user: usize,
    spec: UpdateSpec<'_>,
    names: &[Arc<str>],
    buf: &mut String,
    desired: impl Fn(usize, &mut String),
) -> Vec<Change> {
    let mut changes = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let theirs = org.get(user, j);
        buf.clear();
        desired(j, buf);
        let ours = Some(buf.as_str()).filter(|v| !v.is_empty());
        if changed(theirs, ours, spec.clear_empty) {
            changes.push(Change {
                field: Arc::clone(name),
                from: theirs.map(Into::into),
                to: ours.map(Into::into),
            });
        }
    }
    changes
}

/// Whether any field of user `user` of `org` differs from the source's
/// values ([`diff_with`] without making the changes).
fn differs(
    org: &FieldTable,
    user: usize,
    spec: UpdateSpec<'_>,
    buf: &mut String,
    desired: impl Fn(usize, &mut String),
) -> bool {
    (0..spec.fields.len()).any(|j| {
        buf.clear();
        desired(j, buf);
        let ours = Some(buf.as_str()).filter(|v| !v.is_empty());
        changed(org.get(user, j), ours, spec.clear_empty)
    })
}

/// Whether the org's value `theirs` is to become the source's `ours` (both
/// non-empty or none): an empty source value never blanks an org value
/// unless `clear_empty`.
fn changed(theirs: Option<&str>, ours: Option<&str>, clear_empty: bool) -> bool {
    match (theirs, ours) {
        (Some(t), Some(o)) => t != o,
        (None, None) => false,
        (Some(_), None) => clear_empty,
        (None, Some(_)) => true,
    }
}

/// What the leaver pass needs besides the plan.
#[derive(Debug, Clone, Copy)]
pub struct LeaverSpec<'a> {
    pub action: LeaverAction,
    /// Usernames never touched, lower case.
    pub protect: &'a [String],
    /// The API user's Id (15 or 18 characters): always protected.
    pub api_user_id: Option<&'a str>,
}

/// Which org users the leaver pass considers.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every active user the planner saw (no `[leavers] scope`).
    AllActive,
    /// The users the scope's own query returned (only the active ones count).
    Listed(&'a [SfUser]),
}

/// Why a leaver is one: the report's message unless the run wrote another
/// (a refused deactivation's, a stop's). Not stored per leaver: a
/// million-user org may have hundreds of thousands.
pub const LEAVER_REASON: &str = "no source record maps to this user";

/// Adds the leavers among the users in `scope` (`existing`: the users the
/// plan was made from): the active ones no decision refers to, minus the
/// protected ones. Their operations (deactivate, freeze; none for `report`)
/// go last. A leaver keeps the user's Id, username and e-mail (not its keys).
pub fn add_leavers(plan: &mut Plan, existing: &[SfUser], scope: Scope<'_>, spec: LeaverSpec<'_>) {
    // Decisions name their user by position; any other reference (a
    // collision's holder) by Id.
    let mut referred = vec![0u64; existing.len().div_ceil(64)];
    let mut by_id: std::collections::HashSet<&str, Hasher> = Default::default();
    for d in &plan.decisions {
        if d.matched != NONE {
            let u = d.matched as usize;
            referred[u / 64] |= 1 << (u % 64);
        } else if let Some(id) = d.salesforce_id.as_deref() {
            by_id.insert(id15(id));
        }
    }
    if let Scope::Listed(_) = scope {
        for (i, u) in existing.iter().enumerate() {
            if referred[i / 64] & (1 << (i % 64)) != 0 {
                by_id.insert(id15(&u.id));
            }
        }
    }
    let api = spec.api_user_id.map(id15);
    let outcome = match spec.action {
        LeaverAction::Report => Outcome::Leaver,
        LeaverAction::Deactivate => Outcome::Deactivate,
        LeaverAction::Freeze => Outcome::Freeze,
    };
    let leaves = |user: &SfUser| {
        let id = id15(&user.id);
        user.is_active
            && api != Some(id)
            && !by_id.contains(id)
            && !spec
                .protect
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&user.username))
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // Found on one thread per core; made here, each once, into their place
    // (half a million leavers are as many copies of three strings).
    let (users, found) = match scope {
        Scope::AllActive => {
            plan.in_scope = existing.iter().filter(|u| u.is_active).count() as u64;
            let unreferred = |i: usize| referred[i / 64] & (1 << (i % 64)) == 0;
            let found = leavers_on(existing, cores, |i, u| unreferred(i) && leaves(u));
            (existing, found)
        }
        Scope::Listed(users) => {
            plan.in_scope = users.iter().filter(|u| u.is_active).count() as u64;
            (users, leavers_on(users, cores, |_, u| leaves(u)))
        }
    };
    plan.leavers.reserve_exact(found.len());
    for i in found {
        let leaver = plan.leavers.len();
        match spec.action {
            LeaverAction::Report => {}
            LeaverAction::Deactivate => plan.operations.push(Operation::Deactivate { leaver }),
            LeaverAction::Freeze => plan.operations.push(Operation::Freeze { leaver }),
        }
        plan.leavers.push(self::leaver(&users[i], outcome));
    }
}

/// A leaver: the user's Id, username and e-mail (not its keys); its
/// decision's Id is the user's, not copied.
fn leaver(user: &SfUser, outcome: Outcome) -> Leaver {
    Leaver {
        user: SfUser {
            id: user.id.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            is_active: user.is_active,
            keys: Box::default(),
        },
        decision: Decision::new(outcome),
    }
}

/// Where the leavers are among `users` (`keep(index, user)`), in order,
/// found on one thread per core.
fn leavers_on(
    users: &[SfUser],
    cores: usize,
    keep: impl Fn(usize, &SfUser) -> bool + Sync,
) -> Vec<usize> {
    on_parts(users, cores, |start, users| {
        let kept = users
            .iter()
            .enumerate()
            .filter(|&(i, u)| keep(start + i, u));
        kept.map(|(i, _)| start + i).collect()
    })
}

/// `part(start, items)` over `items` cut in parts run on threads of their
/// own (at most `cores` parts, and one per [`PER_THREAD`] items at most),
/// `start` being a part's first index; the parts' answers, in order.
fn on_parts<T: Sync>(
    items: &[T],
    cores: usize,
    part: impl Fn(usize, &[T]) -> Vec<usize> + Sync,
) -> Vec<usize> {
    let threads = cores.min(items.len().div_ceil(PER_THREAD)).max(1);
    if threads == 1 {
        return part(0, items);
    }
    let chunk = items.len().div_ceil(threads);
    let part = &part;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(k, p)| scope.spawn(move || part(k * chunk, p)))
            .collect();
        let mut found = Vec::new();
        for h in handles {
            found.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        found
    })
}

/// Ids compare by their case-sensitive 15-character form.
fn id15(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::Candidate;
    use proptest::prelude::*;

    fn user(id: &str, name: &str, active: bool, keys: &[Option<&str>]) -> SfUser {
        SfUser {
            id: id.into(),
            username: name.into(),
            email: Some(name.into()),
            is_active: active,
            keys: keys.iter().map(|k| k.map(Into::into)).collect(),
        }
    }

    /// The org's `[update] fields` as the read gives them: here each
    /// user's keys after the first (the match key, Username).
    fn table(existing: &[SfUser], width: usize) -> FieldTable {
        let mut t = FieldTable::new(width);
        for u in existing {
            t.push(u.keys.iter().skip(1).map(|k| k.as_deref()));
        }
        t
    }

    const FIELDS: [&str; 2] = ["Title", "Department"];

    fn spec(fields: &[String], clear_empty: bool) -> UpdateSpec<'_> {
        UpdateSpec {
            fields,
            clear_empty,
        }
    }

    #[test]
    fn only_differing_fields_change_and_empty_never_blanks_unless_asked() {
        let fields: Vec<String> = FIELDS.iter().map(|f| (*f).to_owned()).collect();
        let u = user(
            "005A",
            "a@x.com",
            true,
            &[Some("a@x.com"), Some("Analyst"), Some("Sales")],
        );
        let org = table(&[u], 2);
        let want = |t: Option<&'static str>, d: Option<&'static str>| {
            move |j: usize, out: &mut String| out.push_str([t, d][j].unwrap_or_default())
        };
        assert!(
            diff(
                &org,
                0,
                spec(&fields, false),
                want(Some("Analyst"), Some("Sales"))
            )
            .is_empty()
        );
        let c = diff(&org, 0, spec(&fields, false), want(Some("Manager"), None));
        assert_eq!(
            c,
            vec![Change {
                field: "Title".into(),
                from: Some("Analyst".into()),
                to: Some("Manager".into())
            }]
        );
        // Text compares exactly: a case change is a change.
        assert_eq!(
            diff(
                &org,
                0,
                spec(&fields, false),
                want(Some("analyst"), Some("Sales"))
            )
            .len(),
            1
        );
        let c = diff(
            &org,
            0,
            spec(&fields, true),
            want(Some("Analyst"), Some("")),
        );
        assert_eq!(
            c,
            vec![Change {
                field: "Department".into(),
                from: Some("Sales".into()),
                to: None
            }]
        );
    }

    #[test]
    fn updates_come_from_unchanged_matches_only_and_go_between_creates_and_reactivations() {
        // Given a match (Title differs), a match that agrees, an inactive
        // match (reactivated), a newcomer and an e-mail change that also
        // differs in Title,
        let existing = vec![
            user(
                "005000000000001AAA",
                "a@x.com",
                true,
                &[Some("a@x.com"), Some("Analyst")],
            ),
            user(
                "005000000000002AAA",
                "b@x.com",
                true,
                &[Some("b@x.com"), Some("Manager")],
            ),
            user(
                "005000000000003AAA",
                "c@x.com",
                false,
                &[Some("c@x.com"), Some("Analyst")],
            ),
            SfUser {
                email: Some("old@x.com".into()),
                ..user(
                    "005000000000004AAA",
                    "d@x.com",
                    true,
                    &[Some("d@x.com"), Some("Analyst")],
                )
            },
        ];
        let candidates = vec![
            Candidate::new(0, "a@x.com", "a@x.com", [Some("a@x.com")]),
            Candidate::new(1, "b@x.com", "b@x.com", [Some("b@x.com")]),
            Candidate::new(2, "c@x.com", "c@x.com", [Some("c@x.com")]),
            Candidate::new(3, "new@x.com", "new@x.com", [Some("new@x.com")]),
            Candidate::new(4, "d@x.com", "d@x.com", [Some("d@x.com")]),
        ];
        let mut plan = super::super::plan_with(
            5,
            &candidates,
            &[],
            &existing,
            &["Username".into()],
            super::super::PlanOptions { reactivate: true },
        );
        let fields = vec!["Title".to_owned()];
        let titles = ["Manager", "Manager", "Engineer", "Analyst", "Manager"];

        // when the update pass runs,
        let org = table(&existing, 1);
        add_updates(&mut plan, &org, spec(&fields, false), |r, _, out| {
            out.push_str(titles[r])
        });

        // then only the agreeing-but-different match becomes an update, and
        // the writes go creates, updates, reactivations.
        let outcomes: Vec<Outcome> = plan.decisions.iter().map(|d| d.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Update,
                Outcome::Unchanged,
                Outcome::Reactivate,
                Outcome::Create,
                Outcome::EmailChangeSkipped
            ]
        );
        let title = |from: &str, to: &str| -> Box<[Change]> {
            vec![Change {
                field: "Title".into(),
                from: Some(from.into()),
                to: Some(to.into()),
            }]
            .into()
        };
        assert_eq!(
            plan.operations,
            vec![
                Operation::Create { record: 3 },
                Operation::Update {
                    record: 0,
                    changes: title("Analyst", "Manager")
                },
                Operation::Reactivate {
                    record: 2,
                    changes: title("Analyst", "Engineer")
                },
            ]
        );
    }

    #[test]
    fn leavers_are_in_scope_unmatched_and_never_protected_or_the_api_user() {
        // Given an org of five active users: one matched, one holding a new
        // person's username (a collision), one protected, the API user, and
        // one nobody maps to,
        let existing = vec![
            user("005000000000001AAA", "a@x.com", true, &[Some("a@x.com")]),
            user(
                "005000000000002AAA",
                "gone@x.com",
                true,
                &[Some("gone@x.com")],
            ),
            user(
                "005000000000003AAA",
                "Admin@x.com",
                true,
                &[Some("admin@x.com")],
            ),
            user(
                "005000000000004AAA",
                "api@x.com",
                true,
                &[Some("api@x.com")],
            ),
            user(
                "005000000000005AAA",
                "held@x.com",
                true,
                &[Some("held@x.com")],
            ),
            user(
                "005000000000006AAA",
                "old@x.com",
                false,
                &[Some("old@x.com")],
            ),
        ];
        let candidates = vec![
            Candidate::new(0, "a@x.com", "a@x.com", [Some("a@x.com")]),
            Candidate::new(1, "held@x.com", "held@x.com", [Some("held")]),
        ];
        let keys = ["FederationIdentifier".to_owned()];
        let protect = vec!["admin@x.com".to_owned()];
        let spec = LeaverSpec {
            action: LeaverAction::Deactivate,
            protect: &protect,
            api_user_id: Some("005000000000004"),
        };
        let core = || {
            // (FederationIdentifier: the holder's value is its username, so record 1 collides)
            super::super::plan(2, &candidates, &[], &existing, &keys)
        };
        assert_eq!(core().decisions[1].outcome, Outcome::Collision);

        // when the leaver pass runs over every active user, and over a
        // scope query's answer (the same users in another order),
        let mut all = core();
        add_leavers(&mut all, &existing, Scope::AllActive, spec);
        let listed: Vec<SfUser> = existing.iter().rev().cloned().collect();
        let mut scoped = core();
        add_leavers(&mut scoped, &existing, Scope::Listed(&listed), spec);

        // then only the user nobody maps to leaves, with the Id, username
        // and e-mail the report and the PATCH need, and the reason.
        for plan in [&all, &scoped] {
            assert_eq!(plan.in_scope, 5);
            assert_eq!(plan.leavers.len(), 1, "{:?}", plan.leavers);
            let l = &plan.leavers[0];
            assert_eq!(
                (&*l.user.id, &*l.user.username, l.user.email.as_deref()),
                ("005000000000002AAA", "gone@x.com", Some("gone@x.com"))
            );
            assert_eq!(l.decision.outcome, Outcome::Deactivate);
            assert_eq!(l.message(), "no source record maps to this user");
            assert_eq!(
                plan.operations.last(),
                Some(&Operation::Deactivate { leaver: 0 })
            );
        }
        // A scope lists users the full read may not hold: compared by Id.
        let mut plan = core();
        let outside = [user("005000000000009", "x@x.com", true, &[])];
        add_leavers(&mut plan, &existing, Scope::Listed(&outside), spec);
        assert_eq!(plan.leavers.len(), 1);
        assert_eq!(&*plan.leavers[0].user.username, "x@x.com");
    }

    /// Over the thread threshold: two or three threads plan exactly the
    /// updates one thread does, in record order.
    #[test]
    fn threaded_update_pass_agrees_with_one_thread() {
        let n = 45_001;
        let existing: Vec<SfUser> = (0..n)
            .map(|i| {
                let name = format!("p{i}@x.com");
                let title = ["Analyst", "Manager", "Straße"][i % 3];
                user(
                    &format!("005{i:012}AAA"),
                    &name,
                    true,
                    &[Some(&name), Some(title)],
                )
            })
            .collect();
        let candidates: Vec<Candidate> = (0..n)
            .map(|i| {
                let name = format!("p{i}@x.com");
                Candidate::new(i, &name, &name, [Some(name.as_str())])
            })
            .collect();
        let fields = vec!["Title".to_owned()];
        let plan_on = |cores| {
            let mut plan = super::super::plan(n, &candidates, &[], &existing, &["Username".into()]);
            add_updates_on(
                &mut plan,
                &table(&existing, 1),
                spec(&fields, false),
                &|r: usize, _: usize, out: &mut String| {
                    out.push_str(["Analyst", "Manager", "STRASSE", "Analyst"][r % 4])
                },
                cores,
            );
            plan
        };
        let one = plan_on(1);
        let updates = one.count(Outcome::Update);
        assert!(updates > n as u64 / 2, "{updates}");
        assert!(matches!(
            one.operations[0],
            Operation::Update { record: 2, .. }
        ));
        for cores in [2, 3] {
            assert_eq!(plan_on(cores), one, "{cores} threads");
        }
    }

    /// Over the thread threshold, the leavers found on two or three threads
    /// are the ones one thread finds, in org order.
    #[test]
    fn threaded_leaver_pass_agrees_with_one_thread() {
        let users: Vec<SfUser> = (0..45_001)
            .map(|i| {
                user(
                    &format!("005{i:012}AAA"),
                    &format!("p{i}@x.com"),
                    i % 5 != 0,
                    &[],
                )
            })
            .collect();
        let keep = |i: usize, u: &SfUser| u.is_active && i.is_multiple_of(3);
        let one = leavers_on(&users, 1, keep);
        let want: Vec<usize> = (0..45_001).filter(|i| i % 3 == 0 && i % 5 != 0).collect();
        assert_eq!(one, want);
        for cores in [2, 3] {
            assert_eq!(leavers_on(&users, cores, keep), one, "{cores} threads");
        }
    }

    /// Applies the planned operations to the org the way Salesforce would
    /// (an empty value is stored as none).
    fn apply(
        plan: &Plan,
        existing: &mut Vec<SfUser>,
        candidates: &[Candidate],
        titles: &[Option<&str>],
    ) {
        let stored = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(Box::from);
        for op in &plan.operations {
            match op {
                Operation::Create { record } => {
                    let c = candidates.iter().find(|c| c.record == *record).unwrap();
                    existing.push(SfUser {
                        id: format!("005{:012}AAA", existing.len() + 100).into(),
                        username: c.username().into(),
                        email: Some(c.email().into()),
                        is_active: true,
                        keys: vec![Some(c.username().into()), stored(titles[*record])].into(),
                    });
                }
                Operation::Update { record, changes } => {
                    let id = plan.decisions[*record].salesforce_id.as_deref().unwrap();
                    let u = existing.iter_mut().find(|u| &*u.id == id).unwrap();
                    assert!(u.is_active);
                    for ch in changes.iter() {
                        assert_eq!(&*ch.field, "Title");
                        u.keys[1] = stored(ch.to.as_deref());
                    }
                }
                Operation::Reactivate { record, changes } => {
                    let id = plan.decisions[*record].salesforce_id.as_deref().unwrap();
                    let u = existing.iter_mut().find(|u| &*u.id == id).unwrap();
                    assert!(!u.is_active);
                    u.is_active = true;
                    for ch in changes.iter() {
                        u.keys[1] = stored(ch.to.as_deref());
                    }
                }
                Operation::Deactivate { leaver } | Operation::Freeze { leaver } => {
                    let id = &plan.leavers[*leaver].user.id;
                    let u = existing.iter_mut().find(|u| &u.id == id).unwrap();
                    assert!(u.is_active);
                    u.is_active = false;
                }
                // Access writes change no User field the planner reads.
                _ => {}
            }
        }
    }

    /// The core pass, updates of Title, and leavers (deactivated) over every
    /// active user or over a scope query's answer.
    fn full_plan(
        existing: &[SfUser],
        candidates: &[Candidate],
        titles: &[Option<&str>],
        clear_empty: bool,
        listed: bool,
    ) -> Plan {
        let keys = vec!["Username".to_owned()];
        let fields = vec!["Title".to_owned()];
        let mut plan = super::super::plan_with(
            candidates.len(),
            candidates,
            &[],
            existing,
            &keys,
            super::super::PlanOptions { reactivate: true },
        );
        add_updates(
            &mut plan,
            &table(existing, 1),
            UpdateSpec {
                fields: &fields,
                clear_empty,
            },
            |r, _, out| out.push_str(titles[r].unwrap_or_default()),
        );
        let in_scope: Vec<SfUser> = existing.iter().filter(|u| u.is_active).cloned().collect();
        let scope = match listed {
            true => Scope::Listed(&in_scope),
            false => Scope::AllActive,
        };
        add_leavers(
            &mut plan,
            existing,
            scope,
            LeaverSpec {
                action: LeaverAction::Deactivate,
                protect: &[],
                api_user_id: None,
            },
        );
        plan
    }

    /// Titles as a directory and an org hold them: the same word in other
    /// cases, non-ASCII letters (an `ß` whose upper case is two letters), and
    /// an empty value.
    static TITLES: [&str; 7] = [
        "Analyst",
        "analyst",
        "ANALYST",
        "Ingénieur",
        "INGÉNIEUR",
        "Straße",
        "",
    ];

    fn title() -> impl Strategy<Value = Option<&'static str>> {
        proptest::option::of(proptest::sample::select(&TITLES[..]))
    }

    proptest! {
        /// Applying the planned operations (creates, updates,
        /// reactivations, deactivations) to the org and planning again
        /// gives no operation, with `clear_empty` either way and leavers
        /// from the full read or a scope's answer.
        #[test]
        fn applying_the_plan_then_planning_again_plans_nothing(
            people in proptest::collection::btree_map(0u8..40, title(), 0..25),
            org in proptest::collection::btree_map(0u8..40, (any::<bool>(), any::<bool>(), title()), 0..25),
            clear_empty in any::<bool>(),
            listed in any::<bool>(),
        ) {
            let candidates: Vec<Candidate> = people
                .keys()
                .enumerate()
                .map(|(r, p)| {
                    let name = format!("p{p}@x.com");
                    Candidate::new(r, &name, &name, [Some(name.as_str())])
                })
                .collect();
            let titles: Vec<Option<&str>> = people.values().copied().collect();
            let mut existing: Vec<SfUser> = org
                .iter()
                .enumerate()
                .map(|(i, (p, (active, capital, t)))| {
                    // Usernames as typed in Setup: the org may hold capitals.
                    let name = match capital {
                        true => format!("P{p}@X.com"),
                        false => format!("p{p}@x.com"),
                    };
                    SfUser {
                        id: format!("005{i:012}AAA").into(),
                        username: name.as_str().into(),
                        email: Some(name.as_str().into()),
                        is_active: *active,
                        keys: vec![Some(name.into()), t.filter(|t| !t.is_empty()).map(Into::into)].into(),
                    }
                })
                .collect();
            let first = full_plan(&existing, &candidates, &titles, clear_empty, listed);
            apply(&first, &mut existing, &candidates, &titles);
            let second = full_plan(&existing, &candidates, &titles, clear_empty, listed);
            prop_assert!(second.operations.is_empty(), "{:?}", second.operations);
            // What the first plan deactivated stays off; nobody it kept leaves.
            prop_assert!(second.leavers.is_empty(), "{:?}", second.leavers);
        }
    }
}
