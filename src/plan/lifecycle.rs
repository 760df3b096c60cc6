//! The opt-in passes over a core [`Plan`]: updates (movers) and leavers.
//! Pure: values in, the plan amended; no I/O.
//!
//! Updates compare, for each record matched to an active user, the rendered
//! source value of every `[update] fields` entry with the org's (read by the
//! same query that read the match keys), the way Salesforce stores them:
//! text exactly, booleans and picklist values as their values. An empty
//! source value never blanks an org value unless `clear_empty`.
//!
//! Leavers are the active users inside `[leavers] scope` (the org answered
//! that query) that no source record maps to, never a protected username nor
//! the API user itself.

use std::borrow::Cow;
use std::collections::HashSet;

use super::{Change, Decision, Leaver, NONE, Operation, Plan};
use crate::job::LeaverAction;
use crate::report::Outcome;
use crate::salesforce::SfUser;

/// What the update pass needs besides the plan.
#[derive(Debug, Clone, Copy)]
pub struct UpdateSpec<'a> {
    /// `[update] fields`, in the job's order.
    pub fields: &'a [String],
    /// Where the first update field's value sits in [`SfUser::keys`] (after the match keys).
    pub first_key: usize,
    pub clear_empty: bool,
}

/// Compares matched active users field by field and turns `unchanged`
/// records whose fields differ into `update`s, appending one
/// [`Operation::Update`] per record (after the creates, before the
/// reactivations: SPEC's order). `desired(record, j)` is the rendered source
/// value of `fields[j]` (`None` or empty: no value).
pub fn add_updates<'v>(
    plan: &mut Plan,
    existing: &[SfUser],
    spec: UpdateSpec<'_>,
    desired: impl Fn(usize, usize) -> Option<Cow<'v, str>>,
) {
    let mut updates = Vec::new();
    // A reactivation sends the differing fields with `IsActive = true`.
    for op in &mut plan.operations {
        if let Operation::Reactivate { record, changes } = op {
            let d = &plan.decisions[*record];
            if d.matched != NONE {
                let user = &existing[d.matched as usize];
                *changes = diff(user, spec, |j| desired(*record, j)).into();
            }
        }
    }
    for (record, d) in plan.decisions.iter_mut().enumerate() {
        // An e-mail change is for a person to make first; an inactive user is reactivated or left.
        if d.outcome != Outcome::Unchanged || d.matched == NONE {
            continue;
        }
        let user = &existing[d.matched as usize];
        let changes = diff(user, spec, |j| desired(record, j));
        if !changes.is_empty() {
            d.outcome = Outcome::Update;
            updates.push(Operation::Update {
                record,
                changes: changes.into(),
            });
        }
    }
    if updates.is_empty() {
        return;
    }
    // Keep the phases in order: creates, updates, then everything after.
    let at = plan
        .operations
        .iter()
        .position(|o| o.phase() > 1)
        .unwrap_or(plan.operations.len());
    plan.operations.splice(at..at, updates);
}

/// The fields of `user` that differ from the source's values.
pub fn diff<'v>(
    user: &SfUser,
    spec: UpdateSpec<'_>,
    desired: impl Fn(usize) -> Option<Cow<'v, str>>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for (j, field) in spec.fields.iter().enumerate() {
        let theirs = user
            .keys
            .get(spec.first_key + j)
            .and_then(|v| v.as_deref())
            .filter(|v| !v.is_empty());
        let ours = desired(j);
        let ours = ours.as_deref().filter(|v| !v.is_empty());
        match (theirs, ours) {
            (Some(t), Some(o)) if t == o => {}
            (None, None) => {}
            (Some(_), None) if !spec.clear_empty => {}
            (t, o) => changes.push(Change {
                field: field.as_str().into(),
                from: t.map(Into::into),
                to: o.map(Into::into),
            }),
        }
    }
    changes
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

/// Adds the leavers among `in_scope` (active users inside the scope): those
/// no decision refers to, minus the protected ones. Their operations
/// (deactivate, freeze; none for `report`) go last.
pub fn add_leavers(plan: &mut Plan, in_scope: &[SfUser], spec: LeaverSpec<'_>) {
    plan.in_scope = in_scope.iter().filter(|u| u.is_active).count() as u64;
    let referred: HashSet<&str> = plan
        .decisions
        .iter()
        .filter_map(|d| d.salesforce_id.as_deref())
        .map(id15)
        .collect();
    let api = spec.api_user_id.map(id15);
    let mut leavers = Vec::new();
    for user in in_scope {
        let id = id15(&user.id);
        if !user.is_active
            || referred.contains(id)
            || api == Some(id)
            || spec
                .protect
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&user.username))
        {
            continue;
        }
        let outcome = match spec.action {
            LeaverAction::Report => Outcome::Leaver,
            LeaverAction::Deactivate => Outcome::Deactivate,
            LeaverAction::Freeze => Outcome::Freeze,
        };
        let mut decision = Decision::new(outcome).with_user(user);
        decision.message = Some("no source record maps to this user".into());
        leavers.push(Leaver {
            user: user.clone(),
            decision,
        });
    }
    drop(referred);
    let first = plan.leavers.len();
    for (i, _) in leavers.iter().enumerate() {
        let leaver = first + i;
        match spec.action {
            LeaverAction::Report => {}
            LeaverAction::Deactivate => plan.operations.push(Operation::Deactivate { leaver }),
            LeaverAction::Freeze => plan.operations.push(Operation::Freeze { leaver }),
        }
    }
    plan.leavers.extend(leavers);
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

    const FIELDS: [&str; 2] = ["Title", "Department"];

    fn spec(fields: &[String], clear_empty: bool) -> UpdateSpec<'_> {
        UpdateSpec {
            fields,
            first_key: 1,
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
        let want = |t: Option<&'static str>, d: Option<&'static str>| {
            move |j: usize| [t, d][j].map(Cow::Borrowed)
        };
        assert!(
            diff(
                &u,
                spec(&fields, false),
                want(Some("Analyst"), Some("Sales"))
            )
            .is_empty()
        );
        let c = diff(&u, spec(&fields, false), want(Some("Manager"), None));
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
                &u,
                spec(&fields, false),
                want(Some("analyst"), Some("Sales"))
            )
            .len(),
            1
        );
        let c = diff(&u, spec(&fields, true), want(Some("Analyst"), Some("")));
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
        add_updates(&mut plan, &existing, spec(&fields, false), |r, _| {
            Some(Cow::Borrowed(titles[r]))
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
        let existing = vec![user(
            "005000000000001AAA",
            "a@x.com",
            true,
            &[Some("a@x.com")],
        )];
        let candidates = vec![Candidate::new(0, "a@x.com", "a@x.com", [Some("a@x.com")])];
        let mut plan = super::super::plan(1, &candidates, &[], &existing, &["Username".into()]);
        let scope = vec![
            user("005000000000001AAA", "a@x.com", true, &[]),
            user("005000000000002AAA", "gone@x.com", true, &[]),
            user("005000000000003AAA", "admin@x.com", true, &[]),
            user("005000000000004AAA", "api@x.com", true, &[]),
        ];
        let protect = vec!["admin@x.com".to_owned()];
        add_leavers(
            &mut plan,
            &scope,
            LeaverSpec {
                action: LeaverAction::Deactivate,
                protect: &protect,
                api_user_id: Some("005000000000004"),
            },
        );
        assert_eq!(plan.in_scope, 4);
        assert_eq!(plan.leavers.len(), 1);
        assert_eq!(&*plan.leavers[0].user.username, "gone@x.com");
        assert_eq!(plan.leavers[0].decision.outcome, Outcome::Deactivate);
        assert_eq!(
            plan.operations.last(),
            Some(&Operation::Deactivate { leaver: 0 })
        );
    }

    /// Applies the planned operations to the org the way Salesforce would.
    fn apply(
        plan: &Plan,
        existing: &mut Vec<SfUser>,
        candidates: &[Candidate],
        titles: &[Option<String>],
    ) {
        for op in &plan.operations {
            match op {
                Operation::Create { record } => {
                    let c = candidates.iter().find(|c| c.record == *record).unwrap();
                    existing.push(SfUser {
                        id: format!("005{:012}AAA", existing.len() + 100).into(),
                        username: c.username().into(),
                        email: Some(c.email().into()),
                        is_active: true,
                        keys: vec![
                            Some(c.username().into()),
                            titles[*record].clone().map(Into::into),
                        ]
                        .into(),
                    });
                }
                Operation::Update { record, changes } => {
                    let id = plan.decisions[*record].salesforce_id.as_deref().unwrap();
                    let u = existing.iter_mut().find(|u| &*u.id == id).unwrap();
                    for ch in changes.iter() {
                        assert_eq!(&*ch.field, "Title");
                        u.keys[1] = ch.to.clone();
                    }
                }
                Operation::Reactivate { record, changes } => {
                    let id = plan.decisions[*record].salesforce_id.as_deref().unwrap();
                    let u = existing.iter_mut().find(|u| &*u.id == id).unwrap();
                    u.is_active = true;
                    for ch in changes.iter() {
                        u.keys[1] = ch.to.clone();
                    }
                }
                Operation::Deactivate { leaver } | Operation::Freeze { leaver } => {
                    let id = &plan.leavers[*leaver].user.id;
                    existing.iter_mut().find(|u| &u.id == id).unwrap().is_active = false;
                }
                // Access writes change no User field the planner reads.
                _ => {}
            }
        }
    }

    fn full_plan(
        existing: &[SfUser],
        candidates: &[Candidate],
        titles: &[Option<String>],
        n: usize,
    ) -> Plan {
        let keys = vec!["Username".to_owned()];
        let fields = vec!["Title".to_owned()];
        let mut plan = super::super::plan_with(
            n,
            candidates,
            &[],
            existing,
            &keys,
            super::super::PlanOptions { reactivate: true },
        );
        add_updates(
            &mut plan,
            existing,
            UpdateSpec {
                fields: &fields,
                first_key: 1,
                clear_empty: false,
            },
            |r, _| titles[r].as_deref().map(Cow::Borrowed),
        );
        let scope: Vec<SfUser> = existing.iter().filter(|u| u.is_active).cloned().collect();
        add_leavers(
            &mut plan,
            &scope,
            LeaverSpec {
                action: LeaverAction::Deactivate,
                protect: &[],
                api_user_id: None,
            },
        );
        plan
    }

    proptest! {
        /// Applying the planned operations to the org and planning again gives no operation.
        #[test]
        fn applying_the_plan_then_planning_again_plans_nothing(
            people in proptest::collection::btree_map(0u8..40, (0u8..3, proptest::option::of(0u8..3)), 0..25),
            org in proptest::collection::btree_map(0u8..40, (any::<bool>(), proptest::option::of(0u8..3)), 0..25),
        ) {
            let candidates: Vec<Candidate> = people
                .keys()
                .enumerate()
                .map(|(r, p)| {
                    let name = format!("p{p}@x.com");
                    Candidate::new(r, &name, &name, [Some(name.as_str())])
                })
                .collect();
            let titles: Vec<Option<String>> = people.values().map(|(_, t)| t.map(|t| format!("T{t}"))).collect();
            let mut existing: Vec<SfUser> = org
                .iter()
                .enumerate()
                .map(|(i, (p, (active, t)))| SfUser {
                    id: format!("005{i:012}AAA").into(),
                    username: format!("p{p}@x.com").into(),
                    email: Some(format!("p{p}@x.com").into()),
                    is_active: *active,
                    keys: vec![Some(format!("p{p}@x.com").into()), t.map(|t| format!("T{t}").into())].into(),
                })
                .collect();
            let n = candidates.len();
            let first = full_plan(&existing, &candidates, &titles, n);
            apply(&first, &mut existing, &candidates, &titles);
            let second = full_plan(&existing, &candidates, &titles, n);
            prop_assert!(second.operations.is_empty(), "{:?}", second.operations);
        }
    }
}
