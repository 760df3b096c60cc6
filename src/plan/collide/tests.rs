//! The candidate-username pass: fallbacks matched and skipped, sandbox rules,
//! remembered refusals, nicknames.

use super::*;
use crate::plan::plan_with;

fn keys() -> Vec<String> {
    vec!["FederationIdentifier".into(), "Username".into()]
}

fn cand(record: usize, uid: Option<&str>, username: &str, email: &str) -> Candidate {
    let uid = uid.map(str::to_lowercase);
    Candidate::new(record, username, email, [uid.as_deref(), Some(username)])
}

fn user(id: &str, fed: Option<&str>, username: &str, email: &str, active: bool) -> SfUser {
    SfUser {
        id: id.into(),
        username: username.into(),
        email: Some(email.into()),
        is_active: active,
        keys: Box::new([fed.map(Into::into), Some(username.into())]),
    }
}

fn fallbacks(list: &[&str]) -> OtherUsernames {
    OtherUsernames {
        fallbacks: list.iter().map(|&s| s.into()).collect(),
        plain: Vec::new(),
    }
}

fn run(
    cands: &[Candidate],
    org: &[SfUser],
    others: &[OtherUsernames],
    rules: &Rules,
) -> (Plan, UsernamePlan) {
    let mut plan = plan_with(
        cands.len(),
        cands,
        &[],
        org,
        &keys(),
        PlanOptions::default(),
    );
    let chosen = resolve(
        &mut plan,
        cands,
        org,
        &keys(),
        others,
        rules,
        PlanOptions::default(),
    );
    (plan, chosen)
}

#[test]
fn a_person_created_under_a_fallback_is_unchanged_never_a_second_create() {
    // given Ada was created as ada@x.com.acme (ada@x.com is held in another org)
    let org = [user(
        "005A",
        Some("ada"),
        "ada@x.com.acme",
        "ada@x.com",
        true,
    )];
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        // and without a stable key: the e-mail decides
        cand(1, None, "bo@x.com", "bo@x.com"),
    ];
    let org2 = [
        org[0].clone(),
        user("005B", None, "bo@x.com.acme", "bo@x.com", true),
    ];
    let others = [
        fallbacks(&["ada@x.com.acme"]),
        fallbacks(&["bo@x.com.acme"]),
    ];
    let (plan, chosen) = run(&cands, &org2, &others, &Rules::default());
    assert_eq!(
        plan.decisions[0].outcome,
        Outcome::Unchanged,
        "{:?}",
        plan.decisions[0]
    );
    assert_eq!(
        plan.decisions[1].outcome,
        Outcome::Unchanged,
        "{:?}",
        plan.decisions[1]
    );
    assert_eq!(plan.decisions[1].salesforce_id.as_deref(), Some("005B"));
    assert!(plan.operations.is_empty());
    assert!(chosen.by_record.is_empty());
}

#[test]
fn a_fallback_held_in_the_org_by_someone_else_is_skipped_and_none_left_is_a_collision() {
    let org = [
        // Ada's mapped username is held by another person (other Federation Id)
        user("005X", Some("other"), "ada@x.com", "someone@x.com", true),
        // and so is her first fallback
        user("005Y", Some("else"), "ada@x.com.acme", "else@x.com", true),
        // Bo's only fallback is held by a third person
        user("005Z", None, "bo@x.com.acme", "zed@x.com", true),
        user("005W", Some("w"), "bo@x.com", "w@x.com", true),
    ];
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        cand(1, Some("bo"), "bo@x.com", "bo@x.com"),
    ];
    let others = [
        fallbacks(&["ada@x.com.acme", "ada@acme-sf.example.com"]),
        fallbacks(&["bo@x.com.acme"]),
    ];
    let (plan, chosen) = run(&cands, &org, &others, &Rules::default());
    assert_eq!(plan.decisions[0].outcome, Outcome::Create);
    let ada = &chosen.by_record[&0];
    assert_eq!(&*ada.send, "ada@acme-sf.example.com");
    assert!(ada.next.is_empty() && ada.tried.is_empty());
    assert_eq!(
        plan.decisions[0].message.as_deref(),
        Some(
            "to be created as ada@acme-sf.example.com: ada@x.com is held in this org by user 005X; ada@x.com.acme is held in this org by user 005Y"
        )
    );
    assert_eq!(plan.decisions[1].outcome, Outcome::Collision);
    assert_eq!(
        plan.decisions[1].error_code.as_deref(),
        Some("USERNAME_HELD_IN_ORG")
    );
    assert_eq!(
        plan.decisions[1].message.as_deref(),
        Some(
            "no candidate username is free: bo@x.com is held in this org by user 005W; bo@x.com.acme is held in this org by user 005Z"
        )
    );
    assert_eq!(plan.operations, vec![Operation::Create { record: 0 }]);
}

#[test]
fn refused_usernames_are_tried_no_more_and_fallbacks_queue_in_order() {
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        cand(1, Some("bo"), "bo@x.com", "bo@x.com"),
        cand(2, Some("cy"), "cy@x.com", "cy@x.com"),
    ];
    let others = [
        fallbacks(&["ada@x.com.acme", "ada@acme-sf.example.com"]),
        fallbacks(&[]),
        fallbacks(&["cy@x.com.acme", "cy@acme-sf.example.com"]),
    ];
    let rules = Rules {
        refused: ["ada@x.com", "bo@x.com"]
            .into_iter()
            .map(String::from)
            .collect(),
        ..Rules::default()
    };
    let (plan, chosen) = run(&cands, &[], &others, &rules);
    let ada = &chosen.by_record[&0];
    assert_eq!(&*ada.send, "ada@x.com.acme");
    assert_eq!(ada.next, vec!["ada@acme-sf.example.com".into()]);
    assert_eq!(ada.tried, vec!["ada@x.com".into()]);
    // Bo has no fallback: the same collision as the night Salesforce refused it.
    assert_eq!(plan.decisions[1].outcome, Outcome::Collision);
    assert_eq!(
        plan.decisions[1].error_code.as_deref(),
        Some("DUPLICATE_USERNAME")
    );
    let cy = &chosen.by_record[&2];
    assert_eq!((&*cy.send, cy.next.len()), ("cy@x.com", 2));
    assert_eq!(
        plan.operations,
        vec![
            Operation::Create { record: 0 },
            Operation::Create { record: 2 }
        ]
    );
}

#[test]
fn a_fallback_two_people_share_is_nobodys() {
    let cands = [
        cand(0, Some("a1"), "a1@x.com", "a1@x.com"),
        cand(1, Some("a2"), "a2@x.com", "a2@x.com"),
    ];
    let others = [fallbacks(&["a@x.com", "a1@y.com"]), fallbacks(&["a@x.com"])];
    let (plan, chosen) = run(&cands, &[], &others, &Rules::default());
    assert_eq!(chosen.by_record[&0].next, vec!["a1@y.com".into()]);
    // The second has nothing to try after its own username, and is told why.
    let a2 = &chosen.by_record[&1];
    assert_eq!((&*a2.send, a2.next.len()), ("a2@x.com", 0));
    assert_eq!(plan.decisions[1].outcome, Outcome::Create);
    assert_eq!(
        plan.decisions[1].message.as_deref(),
        Some(
            "no fallback username to try if a2@x.com is taken in another Salesforce org: \
             a@x.com is a candidate of another source person too"
        )
    );
    // The first still has one: nothing to say yet.
    assert_eq!(plan.decisions[0].message, None);
}

#[test]
fn a_sandbox_matches_suffixed_and_plain_usernames_and_invalid_emails_are_no_change() {
    // given the sandbox "uat": a copied user, one created in the sandbox, one with a real e-mail change
    let org = [
        user(
            "005A",
            Some("ada"),
            "ada@x.com.uat",
            "ada@x.com.invalid",
            true,
        ),
        user("005B", None, "bo@x.com", "Bo@X.com.INVALID", true),
        user(
            "005C",
            Some("cy"),
            "cy@x.com.uat",
            "cy@old.com.invalid",
            true,
        ),
    ];
    let cands = [
        cand(0, Some("ada"), "ada@x.com.uat", "Ada@X.com"),
        cand(1, None, "bo@x.com.uat", "bo@x.com"),
        cand(2, Some("cy"), "cy@x.com.uat", "cy@x.com"),
        cand(3, Some("dee"), "dee@x.com.uat", "dee@x.com"),
    ];
    let plain = |p: &str| OtherUsernames {
        fallbacks: Vec::new(),
        plain: vec![p.into()],
    };
    let others = [
        plain("ada@x.com"),
        plain("bo@x.com"),
        plain("cy@x.com"),
        plain("dee@x.com"),
    ];
    let rules = Rules {
        sandbox: true,
        ..Rules::default()
    };
    let (plan, _) = run(&cands, &org, &others, &rules);
    let got: Vec<Outcome> = plan.decisions.iter().map(|d| d.outcome).collect();
    assert_eq!(
        got,
        [
            Outcome::Unchanged,
            Outcome::Unchanged,
            Outcome::EmailChangeSkipped,
            Outcome::Create
        ]
    );
    assert_eq!(
        plan.decisions[2].message.as_deref(),
        Some(
            "e-mail cy@old.com.invalid -> cy@x.com; Salesforce confirms e-mail changes with the user, so make this change in Setup"
        )
    );
    assert_eq!(plan.operations, vec![Operation::Create { record: 3 }]);
    // In production the same `.invalid` e-mail is a change.
    let (prod, _) = run(&cands[..1], &org[..1], &others[..1], &Rules::default());
    assert_eq!(prod.decisions[0].outcome, Outcome::EmailChangeSkipped);
}

#[test]
fn nicknames_clash_with_the_org_and_within_the_source() {
    let mut org = vec![user("005A", Some("ada"), "ada@x.com", "ada@x.com", true)];
    org[0].keys = Box::new([
        Some("ada".into()),
        Some("ada@x.com".into()),
        Some("Ace".into()),
    ]);
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        cand(1, Some("bo"), "bo@x.com", "bo@x.com"),
        cand(2, Some("cy"), "cy@x.com", "cy@x.com"),
        cand(3, Some("dee"), "dee@x.com", "dee@x.com"),
        cand(4, Some("eve"), "eve@x.com", "eve@x.com"),
    ];
    let rules = Rules {
        nicknames: Some(Nicknames {
            slot: 2,
            source: vec![
                Some("Ace".into()),
                Some("ace".into()),
                Some("Twin".into()),
                Some("twin".into()),
                None,
            ],
        }),
        ..Rules::default()
    };
    let (plan, _) = run(&cands, &org, &vec![OtherUsernames::default(); 5], &rules);
    let got: Vec<(Outcome, Option<&str>)> = plan
        .decisions
        .iter()
        .map(|d| (d.outcome, d.error_code.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            // Ada holds "Ace" herself; Bo's "ace" clashes with hers in the source too
            (Outcome::DuplicateInSource, Some("DUPLICATE_IN_SOURCE")),
            (Outcome::DuplicateInSource, Some("DUPLICATE_IN_SOURCE")),
            (Outcome::DuplicateInSource, Some("DUPLICATE_IN_SOURCE")),
            (Outcome::DuplicateInSource, Some("DUPLICATE_IN_SOURCE")),
            (Outcome::Create, None),
        ]
    );
    // One nickname each: Bo's "Ace" is Ada's in the org.
    let rules = Rules {
        nicknames: Some(Nicknames {
            slot: 2,
            source: vec![None, Some("ACE".into()), None, None, Some("Eve".into())],
        }),
        ..Rules::default()
    };
    let (plan, _) = run(&cands, &org, &vec![OtherUsernames::default(); 5], &rules);
    assert_eq!(plan.decisions[1].outcome, Outcome::Collision);
    assert_eq!(
        plan.decisions[1].error_code.as_deref(),
        Some("DUPLICATE_COMM_NICKNAME")
    );
    assert_eq!(
        plan.decisions[1].message.as_deref(),
        Some(
            "CommunityNickname ACE is held in this org by user 005A (ada@x.com); map another nickname"
        )
    );
    assert_eq!(plan.decisions[4].outcome, Outcome::Create);
    assert_eq!(plan.count(Outcome::Create), 3);
}

#[test]
fn a_matched_user_under_a_fallback_whose_email_changed_is_an_email_change_only() {
    // matched by Federation Id; the username is Ada's fallback
    let org = [user(
        "005A",
        Some("ada"),
        "ada@x.com.acme",
        "ada@old.com",
        true,
    )];
    let cands = [cand(0, Some("ada"), "ada@x.com", "ada@x.com")];
    let (plan, _) = run(
        &cands,
        &org,
        &[fallbacks(&["ada@x.com.acme"])],
        &Rules::default(),
    );
    assert_eq!(plan.decisions[0].outcome, Outcome::EmailChangeSkipped);
    assert_eq!(
        plan.decisions[0].message.as_deref(),
        Some(
            "e-mail ada@old.com -> ada@x.com; Salesforce confirms e-mail changes with the user, so make this change in Setup"
        )
    );
    assert_eq!(plan.decisions[0].matched, 0);
}

#[test]
fn the_pass_runs_only_when_the_job_gives_it_something_to_do() {
    let none = Rules::default();
    // nothing: no sandbox, no refusals, no nicknames, no fallback rendered
    assert!(!none.active(&[]));
    assert!(!none.active(&[fallbacks(&[]), fallbacks(&[])]));
    // each reason alone is enough
    assert!(none.active(&[fallbacks(&[]), fallbacks(&["ada@acme-sf.example.com"])]));
    let sandbox = Rules {
        sandbox: true,
        ..Rules::default()
    };
    assert!(sandbox.active(&[]));
    let refused = Rules {
        refused: ["ada@example.com".to_owned()].into_iter().collect(),
        ..Rules::default()
    };
    assert!(refused.active(&[]));
    let nicknames = Rules {
        nicknames: Some(Nicknames {
            slot: 2,
            source: Vec::new(),
        }),
        ..Rules::default()
    };
    assert!(nicknames.active(&[]));
}

fn run_with(
    cands: &[Candidate],
    org: &[SfUser],
    others: &[OtherUsernames],
    rules: &Rules,
    opts: PlanOptions,
) -> (Plan, UsernamePlan) {
    let mut plan = plan_with(cands.len(), cands, &[], org, &keys(), opts);
    let chosen = resolve(&mut plan, cands, org, &keys(), others, rules, opts);
    (plan, chosen)
}

#[test]
fn an_inactive_user_under_a_fallback_is_inactive_or_reactivated_in_source_order() {
    // Ada was created as ada@x.com.acme and left; without a Federation Id on
    // the org side her e-mail says it is her. Bo is matched by the core
    // planner (Federation Id), Cy is new, Dee is active under her fallback.
    let org = [
        user("005A", None, "ada@x.com.acme", "ada@x.com", false),
        user("005B", Some("bo"), "bo@x.com", "bo@x.com", false),
        user("005D", None, "dee@x.com.acme", "dee@x.com", true),
    ];
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        cand(1, Some("bo"), "bo@x.com", "bo@x.com"),
        cand(2, Some("cy"), "cy@x.com", "cy@x.com"),
        cand(3, Some("dee"), "dee@x.com", "dee@x.com"),
    ];
    let others = [
        fallbacks(&["ada@x.com.acme"]),
        fallbacks(&[]),
        fallbacks(&[]),
        fallbacks(&["dee@x.com.acme"]),
    ];
    let rules = Rules::default();
    let outcomes = |p: &Plan| p.decisions.iter().map(|d| d.outcome).collect::<Vec<_>>();

    let (plan, _) = run_with(&cands, &org, &others, &rules, PlanOptions::default());
    assert_eq!(
        outcomes(&plan),
        [
            Outcome::Inactive,
            Outcome::Inactive,
            Outcome::Create,
            Outcome::Unchanged
        ]
    );
    let ada = &plan.decisions[0];
    assert_eq!(
        ada.message.as_deref(),
        Some(
            "matches inactive user ada@x.com.acme by a candidate username; reactivate it in Salesforce if this person should have access"
        )
    );
    assert_eq!(
        (ada.matched, ada.salesforce_id.as_deref()),
        (0, Some("005A"))
    );
    assert_eq!(plan.decisions[3].matched, 2);
    assert_eq!(plan.operations, vec![Operation::Create { record: 2 }]);

    let opts = PlanOptions { reactivate: true };
    let (plan, chosen) = run_with(&cands, &org, &others, &rules, opts);
    assert_eq!(
        outcomes(&plan),
        [
            Outcome::Reactivate,
            Outcome::Reactivate,
            Outcome::Create,
            // active: reactivate = true changes nothing for her
            Outcome::Unchanged
        ]
    );
    assert_eq!(
        plan.decisions[0].message.as_deref(),
        Some(
            "matches inactive user ada@x.com.acme by a candidate username; reactivated because leavers.reactivate = true"
        )
    );
    // Bo's reactivation (the core plan's) is kept once; Ada's is added, in
    // source order within its phase.
    let reactivate = |record| Operation::Reactivate {
        record,
        changes: Box::default(),
    };
    assert_eq!(
        plan.operations,
        vec![
            Operation::Create { record: 2 },
            reactivate(0),
            reactivate(1)
        ]
    );
    assert!(chosen.by_record.is_empty());
}

#[test]
fn a_username_the_core_plan_called_a_change_is_rechecked_against_every_candidate() {
    // All three are matched by Federation Id to a user under another username.
    let org = [
        // a username none of Ada's: only the username differs
        user("005A", Some("ada"), "ada.old@x.com", "ada@x.com", true),
        // Bo's username and e-mail both differ
        user("005B", Some("bo"), "bo.old@x.com", "bo@old.com", true),
        // Cy's fallback (in another case): no change at all
        user("005C", Some("cy"), "CY@x.com.acme", "cy@x.com", true),
    ];
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        cand(1, Some("bo"), "bo@x.com", "bo@x.com"),
        cand(2, Some("cy"), "cy@x.com", "cy@x.com"),
    ];
    let others = [
        fallbacks(&["ada@x.com.acme"]),
        fallbacks(&["bo@x.com.acme"]),
        fallbacks(&["cy@x.com.acme"]),
    ];
    let (plan, _) = run(&cands, &org, &others, &Rules::default());
    let got: Vec<(Outcome, u32, Option<&str>, Option<&str>)> = plan
        .decisions
        .iter()
        .map(|d| {
            (
                d.outcome,
                d.matched,
                d.previous_email.as_deref(),
                d.message.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                Outcome::EmailChangeSkipped,
                0,
                Some("ada@x.com"),
                Some(
                    "username ada.old@x.com -> ada@x.com; Salesforce confirms e-mail changes with the user, so make this change in Setup"
                )
            ),
            (
                Outcome::EmailChangeSkipped,
                1,
                Some("bo@old.com"),
                Some(
                    "e-mail bo@old.com -> bo@x.com, username bo.old@x.com -> bo@x.com; Salesforce confirms e-mail changes with the user, so make this change in Setup"
                )
            ),
            (Outcome::Unchanged, 2, None, None),
        ]
    );
    assert!(plan.operations.is_empty());
}

#[test]
fn a_mapped_username_that_is_another_persons_fallback_stays_its_owners() {
    // Bo's first fallback is Ada's own username: Ada keeps it, Bo skips it.
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        cand(1, Some("bo"), "bo@x.com", "bo@x.com"),
    ];
    let others = [
        fallbacks(&["ada@y.com"]),
        fallbacks(&["ada@x.com", "bo@y.com"]),
    ];
    let (plan, chosen) = run(&cands, &[], &others, &Rules::default());
    let ada = &chosen.by_record[&0];
    assert_eq!(
        (&*ada.send, &ada.next[..]),
        ("ada@x.com", &["ada@y.com".into()][..])
    );
    let bo = &chosen.by_record[&1];
    assert_eq!(
        (&*bo.send, &bo.next[..]),
        ("bo@x.com", &["bo@y.com".into()][..])
    );
    assert_eq!(
        bo.note.as_deref(),
        Some("ada@x.com is a candidate of another source person too")
    );
    // Both are sent under their mapped usernames: nothing to note in the plan.
    assert_eq!(plan.decisions[1].message, None);
    assert_eq!(
        plan.operations,
        vec![
            Operation::Create { record: 0 },
            Operation::Create { record: 1 }
        ]
    );
}

#[test]
fn a_shared_nickname_drops_the_reactivation_of_the_user_who_shares_it() {
    // Ada matches an inactive user (reactivated) and shares her nickname with Bo.
    let org = [user("005A", Some("ada"), "ada@x.com", "ada@x.com", false)];
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        cand(1, Some("bo"), "bo@x.com", "bo@x.com"),
    ];
    let rules = Rules {
        nicknames: Some(Nicknames {
            slot: 2,
            source: vec![Some("Ace".into()), Some("ACE".into())],
        }),
        ..Rules::default()
    };
    let opts = PlanOptions { reactivate: true };
    let others = vec![OtherUsernames::default(); 2];
    let core = plan_with(2, &cands, &[], &org, &keys(), opts);
    assert_eq!(core.decisions[0].outcome, Outcome::Reactivate);
    let (plan, _) = run_with(&cands, &org, &others, &rules, opts);
    assert_eq!(
        plan.decisions.iter().map(|d| d.outcome).collect::<Vec<_>>(),
        [Outcome::DuplicateInSource, Outcome::DuplicateInSource]
    );
    assert!(plan.operations.is_empty(), "{:?}", plan.operations);
}

#[test]
fn the_username_plan_follows_the_final_decisions() {
    // Ada's mapped username was refused by an earlier run, and she shares
    // her nickname with Bo; Cy has a fallback and a nickname of her own;
    // Dee's only username was refused; Eve's and her fallback are held in this org.
    let org = [
        user("005X", Some("x"), "eve@x.com", "x@x.com", true),
        user("005Y", Some("y"), "eve@y.com", "y@x.com", true),
    ];
    let cands = [
        cand(0, Some("ada"), "ada@x.com", "ada@x.com"),
        cand(1, Some("bo"), "bo@x.com", "bo@x.com"),
        cand(2, Some("cy"), "cy@x.com", "cy@x.com"),
        cand(3, Some("dee"), "dee@x.com", "dee@x.com"),
        cand(4, Some("eve"), "eve@x.com", "eve@x.com"),
    ];
    let others = [
        fallbacks(&["ada@y.com"]),
        fallbacks(&[]),
        fallbacks(&["cy@y.com"]),
        fallbacks(&[]),
        fallbacks(&["eve@y.com"]),
    ];
    let rules = Rules {
        refused: ["ada@x.com", "dee@x.com"]
            .into_iter()
            .map(String::from)
            .collect(),
        nicknames: Some(Nicknames {
            slot: 2,
            source: vec![
                Some("Ace".into()),
                Some("ace".into()),
                Some("Cy".into()),
                None,
                None,
            ],
        }),
        ..Rules::default()
    };
    let (plan, chosen) = run(&cands, &org, &others, &rules);
    let got: Vec<(Outcome, Option<&str>)> = plan
        .decisions
        .iter()
        .map(|d| (d.outcome, d.error_code.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Outcome::DuplicateInSource, Some("DUPLICATE_IN_SOURCE")),
            (Outcome::DuplicateInSource, Some("DUPLICATE_IN_SOURCE")),
            (Outcome::Create, None),
            (Outcome::Collision, Some("DUPLICATE_USERNAME")),
            (Outcome::Collision, Some("USERNAME_HELD_IN_ORG")),
        ]
    );
    // Ada is no create any more: the runner gets only Cy's usernames.
    assert_eq!(chosen.by_record.keys().collect::<Vec<_>>(), [&2]);
    assert_eq!(chosen.by_record[&2].next, vec!["cy@y.com".into()]);
    // Dee's collision names the refused username; Eve's refused nothing.
    assert_eq!(
        chosen.refused,
        HashMap::from([(3, vec!["dee@x.com".into()])])
    );
}

#[test]
fn a_username_two_templates_render_is_tried_and_named_once() {
    // Ada's mapped username and her fallback are held by others; a second
    // template renders the same fallback, a third a free one.
    let org = [
        user("005X", Some("other"), "ada@x.com", "someone@x.com", true),
        user("005Y", Some("else"), "ada@x.com.acme", "else@x.com", true),
    ];
    let cands = [cand(0, Some("ada"), "ada@x.com", "ada@x.com")];
    let others = [fallbacks(&[
        "ada@x.com.acme",
        "ada@x.com.acme",
        "ada@acme-sf.example.com",
        "ada@acme-sf.example.com",
    ])];
    let (plan, chosen) = run(&cands, &org, &others, &Rules::default());
    let ada = &chosen.by_record[&0];
    assert_eq!(&*ada.send, "ada@acme-sf.example.com");
    assert!(ada.next.is_empty(), "{:?}", ada.next);
    let message = plan.decisions[0].message.as_deref().unwrap();
    assert_eq!(
        message.matches("ada@x.com.acme is held").count(),
        1,
        "{message}"
    );
    assert_eq!(message.matches("ada@x.com is held").count(), 1, "{message}");
}
