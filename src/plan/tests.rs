//! Planner tests: one per outcome, then the invariants as properties.

use proptest::prelude::*;

use super::*;

const KEYS: [&str; 2] = ["FederationIdentifier", "Username"];

fn keys() -> Vec<String> {
    KEYS.iter().map(|k| k.to_string()).collect()
}

fn cand(record: usize, uid: Option<&str>, mail: &str) -> Candidate {
    let username = mail.trim().to_lowercase();
    let uid = uid.map(str::to_lowercase);
    Candidate::new(record, &username, mail, [uid.as_deref(), Some(&username)])
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

fn outcomes(p: &Plan) -> Vec<Outcome> {
    p.decisions.iter().map(|d| d.outcome).collect()
}

#[test]
fn every_outcome_the_planner_decides() {
    // given an org and a source covering each case
    let org = [
        user(
            "005A",
            Some("ada"),
            "ada@example.com",
            "ada@example.com",
            true,
        ),
        user(
            "005B",
            Some("bob"),
            "bob@example.com",
            "bob@old.example.com",
            true,
        ),
        user(
            "005C",
            Some("cy"),
            "cy@example.com",
            "cy@example.com",
            false,
        ),
        user(
            "005D",
            Some("dana"),
            "shared@example.com",
            "dana@example.com",
            true,
        ),
        user("005E", None, "eve@example.com", "eve@example.com", true),
    ];
    let cands = [
        cand(0, Some("ADA"), "Ada@Example.com"), // unchanged (key case ignored)
        cand(1, Some("bob"), "bob@example.com"), // e-mail changed
        cand(2, Some("cy"), "cy@example.com"),   // inactive
        cand(3, Some("zed"), "shared@example.com"), // username held by dana: collision
        cand(4, Some("eve"), "eve@example.com"), // legacy user without Federation ID: match by username
        cand(5, Some("new"), "new@example.com"), // create
        cand(6, Some("d1"), "Dup@example.com"),  // duplicates (case-insensitive)
        cand(7, Some("d2"), " dup@example.com"),
    ];
    let invalid = [Invalid {
        record: 8,
        username: None,
        email: None,
        code: "REQUIRED_FIELD_MISSING",
        message: "Required fields are missing: [LastName]".into(),
    }];
    // when
    let p = plan(9, &cands, &invalid, &org, &keys());
    // then
    use Outcome as O;
    assert_eq!(
        outcomes(&p),
        [
            O::Unchanged,
            O::EmailChangeSkipped,
            O::Inactive,
            O::Collision,
            O::Unchanged,
            O::Create,
            O::DuplicateInSource,
            O::DuplicateInSource,
            O::Invalid
        ]
    );
    assert_eq!(
        p.decisions[1].previous_email.as_deref(),
        Some("bob@old.example.com")
    );
    assert_eq!(p.decisions[1].salesforce_id.as_deref(), Some("005B"));
    assert_eq!(p.decisions[3].salesforce_id.as_deref(), Some("005D"));
    assert!(
        p.decisions[3]
            .message
            .as_deref()
            .unwrap()
            .contains("FederationIdentifier is dana, not zed")
    );
    assert_eq!(
        p.decisions[8].error_code.as_deref(),
        Some("REQUIRED_FIELD_MISSING")
    );
    assert_eq!(p.creates().collect::<Vec<_>>(), [5]);
}

#[test]
fn username_held_by_an_unmatched_user_is_a_collision_even_without_a_username_key() {
    let org = [SfUser {
        id: "005X".into(),
        username: "x@example.com".into(),
        email: None,
        is_active: true,
        keys: Box::new([Some("someone".into())]),
    }];
    let c = Candidate::new(0, "x@example.com", "X@example.com", [Some("x")]);
    let p = plan(1, &[c], &[], &org, &["FederationIdentifier".into()]);
    assert_eq!(outcomes(&p), [Outcome::Collision]);
}

/// Issue 21: with match keys that leave out Username, a person with no value
/// for any of them was created, then a collision with themselves on every
/// later run. The username is all that names them: it finds them.
#[test]
fn a_person_without_any_match_key_value_is_found_by_username_on_the_next_run() {
    let keys = ["FederationIdentifier".to_owned()];
    // given a source person without a Federation Id
    let c = Candidate::new(0, "x@example.com", "X@Example.com", [None::<&str>]);
    // when the org does not hold the username: create
    let first = plan(1, std::slice::from_ref(&c), &[], &[], &keys);
    assert_eq!(outcomes(&first), [Outcome::Create]);
    // then, once created (Salesforce keeps the username as sent, here in
    // capitals to show the case is ignored), the next run finds that user
    let created = |active: bool| SfUser {
        id: "005NEW".into(),
        username: "X@EXAMPLE.COM".into(),
        email: Some("X@Example.com".into()),
        is_active: active,
        keys: Box::new([None]),
    };
    let second = plan(1, std::slice::from_ref(&c), &[], &[created(true)], &keys);
    assert_eq!(outcomes(&second), [Outcome::Unchanged]);
    assert_eq!(second.decisions[0].salesforce_id.as_deref(), Some("005NEW"));
    assert_eq!(second.decisions[0].matched, 0, "matched: never a leaver");
    assert_eq!(second.creates().count(), 0);
    // and an inactive holder is that person too, matched "by Username"
    let third = plan(1, std::slice::from_ref(&c), &[], &[created(false)], &keys);
    assert_eq!(outcomes(&third), [Outcome::Inactive]);
    let message = third.decisions[0].message.as_deref().unwrap();
    assert!(message.contains("by Username"), "{message}");
    let fourth = plan_with(
        1,
        std::slice::from_ref(&c),
        &[],
        &[created(false)],
        &keys,
        PlanOptions { reactivate: true },
    );
    assert_eq!(outcomes(&fourth), [Outcome::Reactivate]);
    assert_eq!(
        fourth.operations,
        [Operation::Reactivate {
            record: 0,
            changes: Box::default()
        }]
    );
    // but a person who has a Federation Id the holder does not carry is
    // still someone else: the username is a collision
    let d = Candidate::new(0, "x@example.com", "x@example.com", [Some("x")]);
    let p = plan(1, &[d], &[], &[created(true)], &keys);
    assert_eq!(outcomes(&p), [Outcome::Collision]);
}

#[test]
fn a_shared_federation_id_is_a_duplicate_too() {
    let p = plan(
        2,
        &[
            cand(0, Some("same"), "a@example.com"),
            cand(1, Some("SAME"), "b@example.com"),
        ],
        &[],
        &[],
        &keys(),
    );
    assert_eq!(outcomes(&p), [Outcome::DuplicateInSource; 2]);
    assert!(
        p.decisions[0]
            .message
            .as_deref()
            .unwrap()
            .contains("FederationIdentifier same")
    );
}

#[test]
fn operations_are_listed_by_phase_and_counted_by_outcome() {
    use Outcome as O;
    let p = Plan {
        operations: vec![
            Operation::Create { record: 0 },
            Operation::Create { record: 2 },
            Operation::Update {
                record: 1,
                changes: Box::default(),
            },
            Operation::Reactivate {
                record: 3,
                changes: Box::default(),
            },
            Operation::Deactivate { leaver: 0 },
            Operation::Freeze { leaver: 1 },
        ],
        ..Plan::default()
    };
    // each operation's phase lists it and the others of its kind, in order
    let phase = |i: usize| {
        p.operations_in(p.operations[i].phase())
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(phase(0), p.operations[..2]);
    assert_eq!(phase(2), p.operations[2..3]);
    assert_eq!(phase(3), p.operations[3..4]);
    assert_eq!(phase(4), p.operations[4..]);
    let counts = [
        O::Create,
        O::Update,
        O::Reactivate,
        O::Deactivate,
        O::Freeze,
        O::Unchanged,
    ]
    .map(|o| p.count(o));
    assert_eq!(counts, [2, 1, 1, 1, 1, 0]);
}

/// Source people drawn from a small pool so that duplicates, matches and
/// case variants happen often.
fn people() -> impl Strategy<Value = Vec<(u8, u8, bool, bool)>> {
    // (uid pool index, mail pool index, upper-case the mail?, pad with spaces?)
    prop::collection::vec((0u8..12, 0u8..12, any::<bool>(), any::<bool>()), 0..30)
}

fn org_from(pool: &[(u8, u8, bool)]) -> Vec<SfUser> {
    let mut seen = std::collections::HashSet::new();
    pool.iter()
        .filter(|(_, m, _)| seen.insert(*m))
        .enumerate()
        .map(|(i, &(u, m, active))| {
            let mail = format!("p{m}@example.com");
            user(
                &format!("005{i:015}"),
                Some(&format!("u{u}")),
                &mail,
                &mail,
                active,
            )
        })
        .collect()
}

fn cands_from(people: &[(u8, u8, bool, bool)]) -> Vec<Candidate> {
    people
        .iter()
        .enumerate()
        .map(|(i, &(u, m, upper, pad))| {
            let mut mail = format!("p{m}@example.com");
            if upper {
                mail = mail.to_uppercase();
            }
            if pad {
                mail = format!("  {mail} ");
            }
            cand(i, Some(&format!("u{u}")), &mail)
        })
        .collect()
}

proptest! {
    #[test]
    fn every_record_gets_one_outcome_and_no_username_is_created_twice(
        people in people(),
        org in prop::collection::vec((0u8..12, 0u8..12, any::<bool>()), 0..12),
    ) {
        let cands = cands_from(&people);
        let org = org_from(&org);
        let p = plan(cands.len(), &cands, &[], &org, &keys());
        prop_assert_eq!(p.decisions.len(), cands.len());
        let mut created = std::collections::HashSet::new();
        for i in p.creates() {
            prop_assert!(created.insert(cands[i].username()), "two creates for {}", cands[i].username());
            // a username planned for creation is not also anything else
            let others = cands.iter().enumerate()
                .filter(|(j, c)| *j != i && c.username() == cands[i].username())
                .count();
            prop_assert_eq!(others, 0);
            prop_assert!(!org.iter().any(|u| u.username.eq_ignore_ascii_case(cands[i].username())));
        }
    }

    #[test]
    fn applying_the_creates_then_planning_again_creates_nothing(
        people in people(),
        org in prop::collection::vec((0u8..12, 0u8..12, any::<bool>()), 0..12),
    ) {
        let cands = cands_from(&people);
        let mut org = org_from(&org);
        let first = plan(cands.len(), &cands, &[], &org, &keys());
        for (n, i) in first.creates().enumerate() {
            let c = &cands[i];
            org.push(SfUser {
                id: format!("005NEW{n:012}").into(),
                username: c.username().into(),
                email: Some(c.email().into()),
                is_active: true,
                keys: (0..KEYS.len()).map(|k| c.key(k).map(Into::into)).collect(),
            });
        }
        let second = plan(cands.len(), &cands, &[], &org, &keys());
        prop_assert_eq!(second.creates().count(), 0);
        // and what was created is now unchanged
        for i in first.creates() {
            prop_assert_eq!(second.decisions[i].outcome, Outcome::Unchanged);
        }
    }
}

#[test]
fn an_email_change_says_what_changed_and_who_holds_the_new_username() {
    // given people matched by Federation ID whose e-mail, username or both differ
    let org = [
        user(
            "005B",
            Some("bob"),
            "bob@example.com",
            "bob@old.example.com",
            true,
        ),
        user(
            "005F",
            Some("fay"),
            "fay@old.example.com",
            "fay@example.com",
            true,
        ),
        user(
            "005G",
            Some("gus"),
            "gus@old.example.com",
            "gus@old.example.com",
            true,
        ),
        user(
            "005H",
            Some("hal"),
            "gus@example.com",
            "hal@example.com",
            true,
        ),
    ];
    let cands = [
        cand(0, Some("bob"), "bob@example.com"), // e-mail only
        cand(1, Some("fay"), "fay@example.com"), // username only
        cand(2, Some("gus"), "gus@example.com"), // both; the new username is 005H's
        cand(3, Some("hal"), "hal@example.com"), // hal's username is not his address
    ];
    // when planned
    let p = plan(4, &cands, &[], &org, &keys());
    let message = |r: usize| p.decisions[r].message.as_deref().unwrap_or("");
    // then each says exactly what differs, and names the holder only when another user holds it
    assert_eq!(p.decisions[0].outcome, Outcome::EmailChangeSkipped);
    assert_eq!(
        message(0),
        "e-mail bob@old.example.com -> bob@example.com; Salesforce confirms e-mail changes with the user, so make this change in Setup"
    );
    assert_eq!(p.decisions[1].outcome, Outcome::EmailChangeSkipped);
    assert_eq!(
        message(1),
        "username fay@old.example.com -> fay@example.com; Salesforce confirms e-mail changes with the user, so make this change in Setup"
    );
    assert_eq!(p.decisions[2].outcome, Outcome::EmailChangeSkipped);
    assert_eq!(
        message(2),
        "e-mail gus@old.example.com -> gus@example.com, username gus@old.example.com -> gus@example.com, (the new username is held by 005H); Salesforce confirms e-mail changes with the user, so make this change in Setup"
    );
    assert_eq!(p.decisions[3].outcome, Outcome::EmailChangeSkipped);
    assert!(
        !message(3).contains("held by"),
        "hal holds his own old username: {}",
        message(3)
    );
}
