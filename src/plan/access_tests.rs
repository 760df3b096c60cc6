//! The access passes: rules over attributes, first profile wins, roles,
//! managers, what matched users already hold.

use super::*;
use crate::job::access::{AccessRule, RuleTest};
use crate::plan::plan;

fn keys() -> Vec<String> {
    vec!["Username".to_owned()]
}

fn cand(record: usize, mail: &str) -> Candidate {
    Candidate::new(record, mail, mail, [Some(mail)])
}

fn user(id: &str, username: &str) -> SfUser {
    SfUser {
        id: id.into(),
        username: username.into(),
        email: Some(username.into()),
        is_active: true,
        keys: Box::new([Some(username.into())]),
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn resolved() -> Resolved {
    let t = |kind, name: &str, id: &str| Target {
        kind,
        name: name.into(),
        id: id.into(),
    };
    Resolved {
        targets: vec![
            t(GrantKind::PermissionSet, "Report_Viewer", "0PS000000000001"),
            t(GrantKind::PermissionSet, "Sales_User", "0PS000000000002"),
            t(
                GrantKind::PermissionSetGroup,
                "Sales_Bundle",
                "0PG000000000001",
            ),
            t(GrantKind::Group, "Sales_Team", "00G000000000001"),
        ],
        roles: vec![
            ("CEO".into(), "00E000000000001".into()),
            ("SalesRep".into(), "00E000000000002".into()),
        ],
        profiles: vec![("Standard User".into(), "00e000000000009".into())],
    }
}

/// `[access]`: Report_Viewer and role CEO for all; memberOf sales adds the
/// sales grants, role SalesRep and profile Standard User; a department
/// regex adds the group.
fn config(apply_to_existing: bool) -> AccessConfig {
    AccessConfig {
        grants: Grants {
            permission_sets: names(&["Report_Viewer"]),
            role: Some("CEO".into()),
            ..Grants::default()
        },
        manager: None,
        apply_to_existing,
        rules: vec![
            AccessRule {
                attribute: 0,
                test: RuleTest::Equals("cn=sales,ou=groups,dc=acme,dc=com".into()),
                profile: Some("Standard User".into()),
                grants: Grants {
                    permission_sets: names(&["Sales_User"]),
                    permission_set_groups: names(&["Sales_Bundle"]),
                    role: Some("SalesRep".into()),
                    ..Grants::default()
                },
            },
            AccessRule {
                attribute: 1,
                test: RuleTest::Matches(regex::Regex::new("^Sales").unwrap()),
                profile: None,
                grants: Grants {
                    public_groups: names(&["Sales_Team"]),
                    permission_sets: names(&["Sales_User"]),
                    ..Grants::default()
                },
            },
        ],
        separator: '\n',
    }
}

/// Records: [memberOf, department] per person.
fn run(
    cfg: &AccessConfig,
    people: &[(&str, Option<&str>, Option<&str>)],
    org: &[SfUser],
    held: &HashSet<(String, String)>,
) -> Plan {
    let candidates: Vec<Candidate> = people
        .iter()
        .enumerate()
        .map(|(i, (mail, _, _))| cand(i, mail))
        .collect();
    let mut p = plan(people.len(), &candidates, &[], org, &keys());
    let values: Vec<[Option<&str>; 2]> = people.iter().map(|(_, m, d)| [*m, *d]).collect();
    decide(
        &mut p,
        Inputs {
            config: cfg,
            resolved: resolved(),
            candidates: &candidates,
            existing: org,
            value: |r: usize, a: usize| values[r][a],
            manager: |_| None,
            sandbox: None,
        },
    );
    add_operations(&mut p, held);
    p
}

#[test]
fn rules_add_to_the_base_grants_on_any_value_and_the_first_role_and_profile_win() {
    // Given a sales member (second of two memberOf values, other case) in
    // Sales Ops, and a finance person with no matching rule,
    let p = run(
        &config(false),
        &[
            (
                "sam@acme.com",
                Some("cn=all,ou=groups,dc=acme,dc=com\nCN=Sales,ou=groups,dc=acme,dc=com"),
                Some("Sales Ops"),
            ),
            ("fay@acme.com", None, Some("Finance")),
        ],
        &[],
        &HashSet::new(),
    );
    // then Sam gets the base set, the sales rule's and the group (Sales_User once),
    assert_eq!(
        p.access.listed(0, Outcome::Create, true).unwrap(),
        [
            "Role:SalesRep",
            "PermissionSet:Report_Viewer",
            "PermissionSet:Sales_User",
            "PermissionSetGroup:Sales_Bundle",
            "Group:Sales_Team"
        ]
    );
    let fields = p.access.create_fields(0);
    assert_eq!(fields.role_id, Some("00E000000000002"));
    assert_eq!(fields.profile_id, Some("00e000000000009"));
    // and Fay only the base grants, the [defaults] profile kept.
    assert_eq!(
        p.access.listed(1, Outcome::Create, true).unwrap(),
        ["Role:CEO", "PermissionSet:Report_Viewer"]
    );
    assert_eq!(p.access.create_fields(1).profile_id, None);
    // One operation per grant, after the creates.
    let assign = |o: &&Operation| matches!(o, Operation::AssignPermissionSet { .. });
    let group = |o: &&Operation| matches!(o, Operation::AddToGroup { .. });
    assert_eq!(p.operations.iter().filter(assign).count(), 4);
    assert_eq!(p.operations.iter().filter(group).count(), 1);
    assert!(
        p.operations
            .iter()
            .filter(|o| o.is_access())
            .all(|o| o.phase() > 0)
    );
}

#[test]
fn matched_users_get_only_what_they_lack_and_only_with_apply_to_existing() {
    let org = [user("005000000000001AAA", "sam@acme.com")];
    let people = [(
        "sam@acme.com",
        Some("cn=sales,ou=groups,dc=acme,dc=com"),
        None,
    )];
    // Without apply_to_existing a matched user is left alone.
    let p = run(&config(false), &people, &org, &HashSet::new());
    assert!(p.operations.is_empty());
    assert!(matched_users_to_read(&p).is_empty());
    // With it, Sam is read, and what he holds (Report_Viewer) is not sent again.
    let held: HashSet<(String, String)> =
        [("005000000000001".to_owned(), "0PS000000000001".to_owned())].into();
    let p = run(&config(true), &people, &org, &held);
    assert_eq!(matched_users_to_read(&p), ["005000000000001AAA"]);
    assert_eq!(
        p.access.listed(0, Outcome::Unchanged, true).unwrap(),
        [
            "PermissionSet:Sales_User",
            "PermissionSetGroup:Sales_Bundle"
        ],
        "no role or profile for a matched user, nothing already held"
    );
    assert_eq!(p.operations.len(), 2);
}

/// The core plan and `[access] manager = "{m}"` for `people` (their
/// usernames), `managers[r]` being person `r`'s rendered manager.
fn plan_managers(
    org: &[SfUser],
    people: &[&str],
    managers: &[Option<&str>],
    sandbox: Option<&str>,
) -> Plan {
    let mut cfg = config(false);
    cfg.manager = Some(crate::template::Template::parse("{m}", &mut vec![]).unwrap());
    let candidates: Vec<Candidate> = people.iter().enumerate().map(|(i, m)| cand(i, m)).collect();
    let mut p = plan(people.len(), &candidates, &[], org, &keys());
    decide(
        &mut p,
        Inputs {
            config: &cfg,
            resolved: resolved(),
            candidates: &candidates,
            existing: org,
            value: |_, _| None,
            manager: |r: usize| managers[r].map(str::to_owned),
            sandbox,
        },
    );
    p
}

#[test]
fn a_manager_in_the_org_goes_in_the_create_one_created_now_is_linked_after() {
    let org = [user("005000000000009AAA", "boss@acme.com")];
    let people = ["ann@acme.com", "new.boss@acme.com", "bo@acme.com"];
    let managers = [Some("boss@acme.com"), None, Some("nobody@acme.com")];
    let p = plan_managers(&org, &people, &managers, None);
    assert_eq!(
        p.access.create_fields(0).manager_id,
        Some("005000000000009AAA")
    );
    assert_eq!(
        p.access.person(2).unwrap().manager,
        Manager::Unknown("nobody@acme.com".into())
    );
    // A manager created in the same run: a PATCH after the creates.
    let mut p2 = p.clone();
    p2.access.people[0].as_mut().unwrap().manager = Manager::InRun(1);
    add_operations(&mut p2, &HashSet::new());
    assert!(p2.operations.contains(&Operation::LinkManager {
        record: 0,
        manager: 1
    }));
}

#[test]
fn csv_cells_list_values_with_semicolons() {
    let mut cfg = config(false);
    cfg.separator = ';';
    let p = run(
        &cfg,
        &[(
            "sam@acme.com",
            Some("All; cn=sales,ou=groups,dc=acme,dc=com"),
            None,
        )],
        &[],
        &HashSet::new(),
    );
    assert!(
        p.access
            .listed(0, Outcome::Create, true)
            .unwrap()
            .contains(&"PermissionSet:Sales_User".to_owned())
    );
}

#[test]
fn the_report_lists_granted_grants_after_a_run_and_planned_ones_before() {
    let mut p = run(
        &config(false),
        &[("fay@acme.com", None, None)],
        &[],
        &HashSet::new(),
    );
    p.access.set_fate(0, 0, Fate::Failed);
    assert_eq!(
        p.access.listed(0, Outcome::Created, false).unwrap(),
        ["Role:CEO"]
    );
    p.access.set_fate(0, 0, Fate::Granted);
    assert_eq!(
        p.access.listed(0, Outcome::Created, false).unwrap(),
        ["Role:CEO", "PermissionSet:Report_Viewer"]
    );
    assert!(!p.access.failed(0));
    p.access.mark_failed(0);
    assert!(p.access.failed(0));
}

#[test]
fn in_a_sandbox_a_manager_is_found_under_the_sandbox_username_then_as_written() {
    // Given sandbox uat: a manager copied from production (boss@acme.com.uat),
    // one created in the sandbox by hand (plain lead@acme.com), one created
    // in this run (its username suffixed like every create), and one nobody holds,
    let org = [
        user("005000000000009AAA", "Boss@acme.com.UAT"),
        user("005000000000008AAA", "lead@acme.com"),
    ];
    let people = [
        "ann@acme.com.uat",
        "cy@acme.com.uat",
        "new.boss@acme.com.uat",
        "dee@acme.com.uat",
        "eve@acme.com.uat",
    ];
    let managers = [
        Some("boss@acme.com"),
        Some("lead@acme.com"),
        None,
        Some("new.boss@acme.com"),
        Some("ghost@acme.com"),
    ];
    let p = plan_managers(&org, &people, &managers, Some("uat"));
    // then each is linked to the user the sandbox holds,
    let manager = |r: usize| p.access.person(r).unwrap().manager.clone();
    assert_eq!(manager(0), Manager::Existing("005000000000009AAA".into()));
    assert_eq!(manager(1), Manager::Existing("005000000000008AAA".into()));
    assert_eq!(manager(3), Manager::InRun(2));
    // and an unknown one is named as the sandbox would hold it.
    assert_eq!(manager(4), Manager::Unknown("ghost@acme.com.uat".into()));
    // Outside a sandbox the copied user is not the production address.
    let q = plan_managers(&org, &people, &managers, None);
    assert_eq!(
        q.access.person(0).unwrap().manager,
        Manager::Unknown("boss@acme.com".into())
    );
}

#[test]
fn a_manager_alone_is_access_and_a_rules_profile_is_the_one_it_names() {
    // Given [access] with only a manager, and a rule giving contractors the
    // second of two profiles,
    let cfg = AccessConfig {
        grants: Grants::default(),
        manager: Some(crate::template::Template::parse("{m}", &mut vec![]).unwrap()),
        apply_to_existing: false,
        rules: vec![AccessRule {
            attribute: 0,
            test: RuleTest::Equals("contractor".into()),
            profile: Some("CONTRACTOR".into()),
            grants: Grants::default(),
        }],
        separator: '\n',
    };
    let mut resolved = resolved();
    resolved
        .profiles
        .push(("Contractor".into(), "00e000000000007".into()));
    let org = [user("005000000000009AAA", "boss@acme.com")];
    let people = ["ann@acme.com", "bo@acme.com", "cy@acme.com"];
    let candidates: Vec<Candidate> = people.iter().enumerate().map(|(i, m)| cand(i, m)).collect();
    let mut p = plan(people.len(), &candidates, &[], &org, &keys());
    decide(
        &mut p,
        Inputs {
            config: &cfg,
            resolved,
            candidates: &candidates,
            existing: &org,
            value: |r: usize, _| (r == 2).then_some("contractor"),
            manager: |r: usize| (r == 0).then(|| "boss@acme.com".to_owned()),
            sandbox: None,
        },
    );
    // then Ann's manager is her whole access, Bo (no manager, no rule) has none,
    assert_eq!(
        p.access.create_fields(0).manager_id,
        Some("005000000000009AAA")
    );
    assert_eq!(p.access.person(1), None);
    // and Cy's create carries the contractor profile.
    assert_eq!(
        p.access.create_fields(2).profile_id,
        Some("00e000000000007")
    );
    assert_eq!(p.access.person(2).unwrap().grants, []);
}
