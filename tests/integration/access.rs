//! Access on create end to end (issue 17): the real `sfsync` binary against
//! the emulator over HTTP; assignments read back from the emulator, calls
//! counted from its log.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use sfsync::emulator::{AccessSeed, FaultKind, OrgConfig, RequestKind, SeedUser};

use crate::support::emu::Emu;
use crate::support::run::{repo, sfsync, write_job};

/// `n` people `p00001`...; every third is in sales (`groups` lists
/// `All;Sales`, a CSV cell with two values), the others in `All`.
fn people_csv(dir: &Path, n: usize) -> std::path::PathBuf {
    let mut text = String::from("uid,givenName,sn,mail,employeeNumber,title,groups\n");
    for i in 1..=n {
        let groups = if is_sales(i) { "All;Sales" } else { "All" };
        text.push_str(&format!(
            "p{i:05},Pat,Person{i},p{i:05}@example.com,{i},Analyst,{groups}\n"
        ));
    }
    let path = dir.join("people.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn is_sales(i: usize) -> bool {
    i.is_multiple_of(3)
}

/// Everyone: Report_Viewer and All_Staff; sales: Sales_User (which needs the
/// Salesforce licence, so the rule gives Standard User), Sales_Team, SalesRep.
const ACCESS: &str = r#"
[access]
permission_sets = ["Report_Viewer"]
public_groups = ["All_Staff"]

[[access.rules]]
attribute = "groups"
equals = "sales"
profile = "Standard User"
role = "SalesRep"
permission_sets = ["Sales_User"]
public_groups = ["Sales_Team"]
"#;

fn org(users: Vec<SeedUser>) -> OrgConfig {
    OrgConfig {
        users,
        access: AccessSeed::read(&repo().join("samples/salesforce-access.toml")).unwrap(),
        ..OrgConfig::default()
    }
}

async fn run(args: &[&str], job: &Path) -> (i32, Value, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let report = job.with_file_name(format!("report-{}.json", N.fetch_add(1, Ordering::SeqCst)));
    let mut all: Vec<&str> = args.to_vec();
    let job_s = job.to_str().unwrap();
    let report_s = report.to_str().unwrap().to_owned();
    all.extend(["--job", job_s]);
    if args[0] != "check" {
        all.extend(["--report", &report_s]);
    }
    let out = sfsync(&all).await;
    let code = out.status.code().unwrap_or(-1);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("sfsync {args:?}: exit {code}\n{text}");
    let json = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (code, json, text)
}

fn calls(emu: &Emu, kind: RequestKind) -> usize {
    emu.log().iter().filter(|r| r.kind == kind).count()
}

fn writes(emu: &Emu) -> usize {
    emu.log()
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                RequestKind::CreateCollection
                    | RequestKind::UpdateCollection
                    | RequestKind::CreateOne
                    | RequestKind::UpdateOne
            )
        })
        .count()
}

fn summary(report: &Value, key: &str) -> u64 {
    report["summary"][key].as_u64().unwrap_or(0)
}

/// Every query result's records (the org's own reads; no faults there in these tests).
async fn query_all(emu: &Emu, token: &str, soql: &str) -> Vec<Value> {
    let (s, b) = emu.query(token, soql).await;
    assert_eq!(s, 200, "{soql}: {b}");
    b["records"].as_array().unwrap().clone()
}

/// username -> `PermissionSet:X` / `PermissionSetGroup:X` / `Group:X` the
/// org holds for it, with how many rows hold each (a duplicate shows as 2).
fn held(emu: &Emu) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (user, target) in emu.org.access_rows() {
        *out.entry(user).or_default().entry(target).or_default() += 1;
    }
    out
}

fn expected(i: usize) -> BTreeSet<String> {
    let mut e: BTreeSet<String> = ["PermissionSet:Report_Viewer", "Group:All_Staff"]
        .map(String::from)
        .into();
    if is_sales(i) {
        e.extend(["PermissionSet:Sales_User", "Group:Sales_Team"].map(String::from));
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_users_get_exactly_their_grants_in_calls_of_their_own_and_a_rerun_inserts_nothing()
{
    // Given 30 new people, 10 of them in sales,
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 30);
    let emu = Emu::start(org(Vec::new())).await;
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), ACCESS);

    // the dry run lists what each would be granted and writes nothing;
    let (code, plan, _) = run(&["plan"], &job).await;
    assert_eq!(code, 0, "{plan}");
    let p3 = plan["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "p00003@example.com")
        .unwrap();
    assert_eq!(
        p3["access"],
        serde_json::json!([
            "Role:SalesRep",
            "PermissionSet:Report_Viewer",
            "Group:All_Staff",
            "PermissionSet:Sales_User",
            "Group:Sales_Team"
        ])
    );
    assert_eq!(writes(&emu), 0);

    // when it syncs,
    let (code, report, _) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(summary(&report, "created"), 30);
    assert_eq!(summary(&report, "access_failed"), 0);
    // then one create call, one PermissionSetAssignment call (40) and one
    // GroupMember call (40): assignments never ride with User records;
    let creates: Vec<usize> = emu
        .log()
        .iter()
        .filter(|r| r.kind == RequestKind::CreateCollection)
        .map(|r| r.records)
        .collect();
    assert_eq!(creates, [30, 40, 40]);
    // every user holds exactly the expected grants, once,
    let held = held(&emu);
    for i in 1..=30 {
        let name = format!("p{i:05}@example.com");
        let have = held.get(&name).cloned().unwrap_or_default();
        assert!(have.values().all(|&n| n == 1), "{name}: {have:?}");
        assert_eq!(
            have.keys().cloned().collect::<BTreeSet<_>>(),
            expected(i),
            "{name}"
        );
    }
    // with the rule's role and profile on the user record;
    let token = emu.token().await;
    let (_, u) = emu
        .query(
            &token,
            "SELECT Id, UserRoleId, ProfileId FROM User WHERE Username = 'p00003@example.com'",
        )
        .await;
    let role = query_all(
        &emu,
        &token,
        "SELECT Id FROM UserRole WHERE DeveloperName = 'SalesRep'",
    )
    .await;
    assert_eq!(
        u["records"][0]["UserRoleId"].as_str().map(|s| &s[..15]),
        role[0]["Id"].as_str().map(|s| &s[..15])
    );
    let entry = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "p00003@example.com")
        .unwrap();
    assert_eq!(entry["outcome"], "created");
    assert_eq!(entry["access"], p3["access"]);

    // and a rerun inserts nothing.
    let before = emu.log().len();
    let (code, again, _) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{again}");
    assert!(
        emu.log()[before..]
            .iter()
            .all(|r| r.kind != RequestKind::CreateCollection)
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_to_existing_adds_only_what_is_missing_and_never_removes() {
    // Given 6 matched users: p00001 already holds Report_Viewer and Finance_Team
    // (which the job does not name),
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 6);
    let users = (1..=6)
        .map(|i| {
            SeedUser::new(&format!("p{i:05}@example.com"))
                .with("FederationIdentifier", &format!("p{i:05}"))
                .with("ProfileId", sfsync::emulator::STANDARD_USER_PROFILE_ID)
        })
        .collect();
    let emu = Emu::start(org(users)).await;
    let token = emu.token().await;
    let id = |q: Vec<Value>| q[0]["Id"].as_str().unwrap().to_owned();
    let p1 = emu.user("p00001@example.com").unwrap().id;
    let viewer = id(query_all(
        &emu,
        &token,
        "SELECT Id FROM PermissionSet WHERE Name = 'Report_Viewer'",
    )
    .await);
    let finance = id(query_all(
        &emu,
        &token,
        "SELECT Id FROM Group WHERE DeveloperName = 'Finance_Team'",
    )
    .await);
    let (s, _, _) = emu
        .post(
            &token,
            "sobjects/PermissionSetAssignment",
            &serde_json::json!({"AssigneeId": p1, "PermissionSetId": viewer}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, _) = emu
        .post(
            &token,
            "sobjects/GroupMember",
            &serde_json::json!({"UserOrGroupId": p1, "GroupId": finance}),
        )
        .await;
    assert_eq!(s, 201);
    // Without apply_to_existing nothing is granted to matched users.
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), ACCESS);
    let before = emu.log().len();
    let (code, report, _) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    assert!(
        emu.log()[before..]
            .iter()
            .all(|r| r.kind != RequestKind::CreateCollection)
    );

    // When the job says apply_to_existing = true,
    let extra = ACCESS.replace("[access]\n", "[access]\napply_to_existing = true\n");
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), &extra);
    let (code, report, _) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    // then only what is missing is inserted: 6+2 sets less p00001's viewer, 6+2 groups,
    let sizes: Vec<usize> = emu.log()[before..]
        .iter()
        .filter(|r| r.kind == RequestKind::CreateCollection)
        .map(|r| r.records)
        .collect();
    assert_eq!(sizes, [7, 8]);
    let p1_entry = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "p00001@example.com")
        .unwrap();
    assert_eq!(p1_entry["outcome"], "unchanged");
    assert_eq!(p1_entry["access"], serde_json::json!(["Group:All_Staff"]));
    // nothing was removed, nothing held twice,
    let held = held(&emu);
    let p1_held = &held["p00001@example.com"];
    assert_eq!(p1_held.get("Group:Finance_Team"), Some(&1));
    for i in 1..=6 {
        let have = &held[&format!("p{i:05}@example.com")];
        assert!(have.values().all(|&n| n == 1), "{have:?}");
        assert!(expected(i).iter().all(|e| have.contains_key(e)));
    }
    // and a rerun inserts nothing.
    let before = emu.log().len();
    let (code, _, _) = run(&["sync"], &job).await;
    assert_eq!(code, 0);
    assert!(
        emu.log()[before..]
            .iter()
            .all(|r| r.kind != RequestKind::CreateCollection)
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_name_is_a_job_error_in_check_plan_and_sync_with_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 3);
    let emu = Emu::start(org(Vec::new())).await;
    let extra = ACCESS.replace("\"Sales_Team\"", "\"Sales_Teem\"");
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), &extra);
    for cmd in ["check", "plan", "sync"] {
        let (code, _, text) = run(&[cmd], &job).await;
        assert_eq!(code, 2, "{cmd}: {text}");
        assert!(
            text.contains(
                "access.rules[1].public_groups: the org has no public group named \"Sales_Teem\""
            ),
            "{cmd}: {text}"
        );
    }
    assert_eq!(writes(&emu), 0);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rule_is_a_job_error_naming_the_rule_and_key_before_anything_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 3);
    let extra = ACCESS.replace(
        "equals = \"sales\"",
        "matches = \"(sales\"\ncolour = \"red\"",
    );
    let job = write_job(dir.path(), "http://127.0.0.1:9", Some(&csv), &extra);
    let (code, _, text) = run(&["plan"], &job).await;
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("access.rules[1].matches: \"(sales\" is not a valid regular expression"),
        "{text}"
    );
    assert!(
        text.contains("access.rules[1].colour: unknown key"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_mismatch_is_access_failed_on_that_person_only_and_exit_3() {
    // Given Sales_User (Salesforce licence) granted to everyone created with
    // the Chatter Free profile, except sales people, whose rule gives Standard User,
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 3);
    let emu = Emu::start(org(Vec::new())).await;
    let extra = ACCESS.replace(
        "permission_sets = [\"Report_Viewer\"]",
        "permission_sets = [\"Report_Viewer\", \"Sales_User\"]",
    );
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), &extra);
    let (code, report, text) = run(&["sync"], &job).await;
    // then the two Chatter Free people are created, their Sales_User refused,
    assert_eq!(code, 3, "{report}");
    assert_eq!(summary(&report, "created"), 3);
    assert_eq!(summary(&report, "access_failed"), 2);
    let entry = |n: &str| {
        report["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == n)
            .unwrap()
            .clone()
    };
    let p1 = entry("p00001@example.com");
    assert_eq!(p1["outcome"], "created");
    assert_eq!(p1["error_code"], "FIELD_INTEGRITY_EXCEPTION");
    assert!(
        p1["message"]
            .as_str()
            .unwrap()
            .starts_with("access not granted: PermissionSet:Sales_User: "),
        "{p1}"
    );
    assert_eq!(
        p1["access"],
        serde_json::json!(["PermissionSet:Report_Viewer", "Group:All_Staff"])
    );
    // and the sales person (Standard User) got everything.
    let p3 = entry("p00003@example.com");
    assert_eq!(p3["error_code"], Value::Null);
    assert!(text.contains("2 need a person"), "{text}");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_lost_answers_give_no_duplicate_assignment() {
    // Given 120 new people under 20% faults and 20% lost answers,
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 120);
    let mut cfg = org(Vec::new());
    cfg.faults.seed = 17;
    cfg.faults.fault_rate = 0.2;
    cfg.faults.lost_answer_rate = 0.2;
    cfg.faults.retry_after_secs = 0;
    cfg.faults.kinds = vec![
        FaultKind::ServerUnavailable,
        FaultKind::TooManyRequests,
        FaultKind::LockRow,
    ];
    let emu = Emu::start(cfg).await;
    let extra = format!(
        "[limits]\nrequests_per_second = 200.0\nbatch_size = 20\nmax_retries = 10\nmax_creates = 1000\n{ACCESS}"
    );
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), &extra);
    let (code, report, _) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(summary(&report, "created"), 120);
    assert_eq!(summary(&report, "access_failed"), 0);
    // then every user holds each expected grant exactly once.
    let held = held(&emu);
    for i in 1..=120 {
        let name = format!("p{i:05}@example.com");
        let have = held.get(&name).cloned().unwrap_or_default();
        assert!(have.values().all(|&n| n == 1), "{name}: {have:?}");
        assert_eq!(
            have.keys().cloned().collect::<BTreeSet<_>>(),
            expected(i),
            "{name}"
        );
    }
    assert!(calls(&emu, RequestKind::CreateCollection) >= 3);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ldap_run_against_slapd_assigns_by_memberof() {
    use crate::support::slapd::{self, Options, SERVICE_DN, SERVICE_PASSWORD, Slapd};
    // Given a slapd with the memberof overlay: ann in sales and all-staff, bob in all-staff,
    let person = |uid: &str, groups: &[&str]| {
        let mut e = format!(
            "dn: uid={uid},{}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\ngivenName: {uid}\nsn: Person\nmail: {uid}@example.com\n",
            slapd::PEOPLE_BASE
        );
        for g in groups {
            e.push_str(&format!("memberOf: cn={g},ou=groups,dc=example,dc=com\n"));
        }
        e + "\n"
    };
    let ldif = person("ann", &["all-staff", "sales"]) + &person("bob", &["all-staff"]);
    let server = tokio::task::spawn_blocking(move || {
        Slapd::start_with(Options {
            samples: false,
            extra_ldif: ldif,
            memberof: true,
            ..Options::default()
        })
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("ldap-password");
    std::fs::write(&pw, SERVICE_PASSWORD).unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let emu = Emu::start(org(Vec::new())).await;
    // and a job whose rule names the sales group's DN,
    let csv_job = write_job(dir.path(), &emu.base_url, Some(Path::new("unused.csv")), "");
    let text = std::fs::read_to_string(&csv_job).unwrap();
    let start = text.find("[source]").unwrap();
    let end = text.find("[salesforce]").unwrap();
    let source = format!(
        "[source]\ntype = \"ldap\"\nurl = \"{}\"\nbind_dn = \"{SERVICE_DN}\"\nbind_password_file = \"ldap-password\"\nbase_dn = \"{}\"\nfilter = \"(mail=*)\"\n\n",
        server.ldap_url(),
        slapd::PEOPLE_BASE
    );
    let access = "\n[access]\npublic_groups = [\"All_Staff\"]\n\n[[access.rules]]\nattribute = \"memberOf\"\nequals = \"CN=Sales,ou=groups,dc=example,dc=com\"\nprofile = \"Standard User\"\npermission_sets = [\"Sales_User\"]\n";
    let text = format!("{}{source}{}{access}", &text[..start], &text[end..])
        .replace("FederationIdentifier = \"{uid}\"\nEmployeeNumber = \"{employeeNumber}\"\nTitle = \"{title}\"", "FederationIdentifier = \"{uid}\"");
    std::fs::write(&csv_job, text).unwrap();
    // when it syncs,
    let (code, report, _) = run(&["sync"], &csv_job).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(summary(&report, "created"), 2);
    // then access follows the directory's groups.
    let held = held(&emu);
    assert_eq!(
        held["ann@example.com"].keys().cloned().collect::<Vec<_>>(),
        ["Group:All_Staff", "PermissionSet:Sales_User"]
    );
    assert_eq!(
        held["bob@example.com"].keys().cloned().collect::<Vec<_>>(),
        ["Group:All_Staff"]
    );
    emu.stop().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_grants_the_sales_rule_to_the_sales_people_it_creates() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            assert_cmd::Command::cargo_bin("sfsync")
                .unwrap()
                .arg("demo")
                .current_dir(dir)
                .timeout(std::time::Duration::from_secs(120))
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("access: Role:SalesRep, PermissionSet:Sales_User, Group:Sales_Team"),
        "{stdout}"
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sfsync-demo/report.json")).unwrap())
            .unwrap();
    let granted: Vec<&str> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["access"].is_array())
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        granted,
        [
            "ethan.hall@example.com",
            "daniel.lopez@example.com",
            "jack.gonzalez@example.com",
            "samir.parker@example.com",
            "tara.evans@example.com"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_directory_over_ldap_grants_what_the_sample_csv_grants() {
    use crate::support::slapd::{self, SERVICE_DN, SERVICE_PASSWORD, Slapd};
    // Given the sample company twice, as samples/people.csv and as
    // samples/directory.ldif in a slapd with the memberof overlay,
    let server = tokio::task::spawn_blocking(Slapd::start).await.unwrap();
    let emu = Emu::start(org(Vec::new())).await;
    // and the demo job's [access] rule over memberOf,
    let demo = std::fs::read_to_string(repo().join("jobs/demo.toml")).unwrap();
    let rule = &demo[demo.find("[access]").unwrap()..];
    let dir = tempfile::tempdir().unwrap();
    let csv_job = write_job(dir.path(), &emu.base_url, None, rule);
    let ldap_dir = dir.path().join("ldap");
    std::fs::create_dir(&ldap_dir).unwrap();
    let pw = ldap_dir.join("ldap-password");
    std::fs::write(&pw, SERVICE_PASSWORD).unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let text = std::fs::read_to_string(&csv_job).unwrap();
    let (start, end) = (
        text.find("[source]").unwrap(),
        text.find("[salesforce]").unwrap(),
    );
    let source = format!(
        "[source]\ntype = \"ldap\"\nurl = \"{}\"\nbind_dn = \"{SERVICE_DN}\"\nbind_password_file = \"ldap-password\"\nbase_dn = \"{}\"\nfilter = \"(&(objectClass=person)(mail=*)(!(sn=Service)))\"\n\n",
        server.ldap_url(),
        slapd::PEOPLE_BASE
    );
    let ldap_job = ldap_dir.join("job.toml");
    std::fs::write(
        &ldap_job,
        format!("{}{source}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    // when both are planned,
    let grants = |report: &Value| -> BTreeMap<String, Vec<String>> {
        report["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["outcome"] == "create")
            .map(|u| {
                let access = u["access"].as_array().map_or(Vec::new(), |a| {
                    a.iter().map(|g| g.as_str().unwrap().to_owned()).collect()
                });
                (u["username"].as_str().unwrap().to_owned(), access)
            })
            .collect()
    };
    let (code, from_csv, _) = run(&["plan", "--format", "json"], &csv_job).await;
    assert_eq!(code, 3, "{from_csv}");
    let (code, from_ldap, _) = run(&["plan", "--format", "json"], &ldap_job).await;
    assert_eq!(code, 3, "{from_ldap}");
    // then the directory's groups grant exactly what the CSV column grants:
    // the sales people the sales rule's role, permission set and group.
    let (from_csv, from_ldap) = (grants(&from_csv), grants(&from_ldap));
    assert_eq!(from_ldap, from_csv);
    let sales: Vec<&String> = from_ldap
        .iter()
        .filter(|(_, a)| !a.is_empty())
        .map(|(u, _)| u)
        .collect();
    assert!(sales.len() >= 5, "{from_ldap:?}");
    assert!(
        from_ldap.values().filter(|a| !a.is_empty()).all(|a| a
            == &[
                "Role:SalesRep",
                "PermissionSet:Sales_User",
                "Group:Sales_Team"
            ]),
        "{from_ldap:?}"
    );
    emu.stop().await;
    drop(server);
}
