//! Issue 18: usernames held in another org resolved by fallback usernames,
//! sandboxes, CommunityNickname clashes, and outcomes that stay the same
//! from one night to the next. The real binary against the emulator over
//! HTTP; counts from the emulator's request log and counters.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sfsync::emulator::{FaultPlan, OrgConfig, SeedUser};

use crate::support::emu::Emu;
use crate::support::run::{expected_sample_outcomes, outcomes_by_uid, repo, sfsync, write_job};

const FALLBACKS: &str = "[collisions]\nfallback_usernames = [\"{mail|lower}.acme\", \"{uid|lower}@acme-sf.example.com\"]\n";

/// A people CSV (uid, givenName, sn, mail) beside the job.
fn people(dir: &Path, rows: &[(&str, &str, &str)]) -> std::path::PathBuf {
    let mut text = String::from("uid,givenName,sn,mail,employeeNumber,title,departmentNumber\n");
    for (uid, given, mail) in rows {
        text.push_str(&format!("{uid},{given},Tester,{mail},1,Engineer,100\n"));
    }
    let path = dir.join("people.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `sfsync COMMAND --job JOB --report R.json` and returns (exit code, report).
async fn run(command: &str, job: &Path, name: &str) -> (i32, Value) {
    let report = job.parent().unwrap().join(format!("{name}.json"));
    let out = sfsync(&[
        command,
        "--job",
        job.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    let text = std::fs::read_to_string(&report).unwrap_or_else(|_| {
        panic!(
            "no report; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap(),
        serde_json::from_str(&text).unwrap(),
    )
}

/// Report rows by username's source line: (outcome, username, error_code, username_tried).
fn rows(report: &Value) -> BTreeMap<String, (String, String, String, Vec<String>)> {
    report["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let text = |k: &str| u[k].as_str().unwrap_or_default().to_owned();
            let tried = u["username_tried"]
                .as_array()
                .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            (
                text("email"),
                (text("outcome"), text("username"), text("error_code"), tried),
            )
        })
        .collect()
}

fn foreign(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn foreign_usernames_force_the_fallback_created_once_and_a_rerun_is_all_unchanged() {
    // given Ada's address and first fallback are held in other orgs, Bo's is free
    let emu = Emu::start(OrgConfig {
        foreign_usernames: foreign(&["ada@example.com", "ada@example.com.acme"]),
        ..OrgConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = people(
        dir.path(),
        &[
            ("ada", "Ada", "ada@example.com"),
            ("bo", "Bo", "bo@example.com"),
        ],
    );
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), FALLBACKS);

    // when the first night runs
    let (code, report) = run("sync", &job, "night1").await;

    // then Ada is created once, under her second fallback, each in a later batch
    assert_eq!(code, 0, "{report}");
    let r = rows(&report);
    assert_eq!(
        r["ada@example.com"],
        (
            "created".into(),
            "ada@acme-sf.example.com".into(),
            String::new(),
            vec!["ada@example.com".into(), "ada@example.com.acme".into()],
        )
    );
    let ada = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ada@example.com")
        .unwrap();
    assert_eq!(
        ada["message"],
        "created as ada@acme-sf.example.com; ada@example.com, ada@example.com.acme taken in another Salesforce org"
    );
    assert_eq!(r["bo@example.com"].0, "created");
    let c = emu.org.counters();
    assert_eq!(
        c.create_collection_calls, 3,
        "one batch, then one per fallback"
    );
    assert_eq!(c.users_created, 2);
    let adas: Vec<_> = emu
        .users()
        .into_iter()
        .filter(|u| u.federation_identifier.as_deref() == Some("ada"))
        .collect();
    assert_eq!(adas.len(), 1);
    assert_eq!(adas[0].username, "ada@acme-sf.example.com");

    // when the next night runs, then everyone is unchanged and nothing is written
    let (code, report) = run("sync", &job, "night2").await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["summary"]["unchanged"], 2, "{report}");
    assert_eq!(report["users"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(emu.org.counters().create_collection_calls, 3);
    emu.stop().await;
}

#[tokio::test]
async fn fallbacks_held_in_the_org_are_skipped_and_none_left_is_a_collision_before_any_call() {
    // given Ada's address and her only fallback are held in this org by other
    // people, and Cy's address is held in another org while his fallback is
    // held in this one
    let other = |u: &str, fed: &str| {
        SeedUser::new(u)
            .with("Email", &format!("{fed}@elsewhere.example.com"))
            .with("FederationIdentifier", fed)
    };
    let emu = Emu::start(OrgConfig {
        users: vec![
            other("ada@example.com", "ada-other"),
            other("ada@example.com.acme", "someone"),
            other("cy@example.com.acme", "cyrus"),
        ],
        foreign_usernames: foreign(&["cy@example.com"]),
        ..OrgConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = people(
        dir.path(),
        &[
            ("ada", "Ada", "ada@example.com"),
            ("cy", "Cy", "cy@example.com"),
        ],
    );
    let job = write_job(
        dir.path(),
        &emu.base_url,
        Some(&csv),
        "[collisions]\nfallback_usernames = [\"{mail|lower}.acme\"]\n",
    );

    // when planning, then Ada is a collision already; Cy's fallback is skipped
    let (code, plan) = run("plan", &job, "plan").await;
    assert_eq!(code, 3, "{plan}");
    let r = rows(&plan);
    assert_eq!(
        (
            r["ada@example.com"].0.as_str(),
            r["ada@example.com"].2.as_str()
        ),
        ("collision", "USERNAME_HELD_IN_ORG")
    );
    assert_eq!(r["cy@example.com"].0, "create");
    let ada = plan["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ada@example.com")
        .unwrap();
    assert!(
        ada["message"]
            .as_str()
            .unwrap()
            .contains("ada@example.com.acme is held in this org by user"),
        "{ada}"
    );

    // when syncing, then only Cy is sent, once; refused, he has nothing left
    let (code, report) = run("sync", &job, "night1").await;
    assert_eq!(code, 3, "{report}");
    let r = rows(&report);
    assert_eq!(r["ada@example.com"].0, "collision");
    assert_eq!(
        r["cy@example.com"],
        (
            "collision".into(),
            "cy@example.com".into(),
            "DUPLICATE_USERNAME".into(),
            vec!["cy@example.com".into()],
        )
    );
    let creates: Vec<usize> = emu
        .log()
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("composite/sobjects"))
        .map(|e| e.records)
        .collect();
    assert_eq!(creates, vec![1]);

    // and the next night reports both the same way without sending anything
    let (code, again) = run("sync", &job, "night2").await;
    assert_eq!(code, 3);
    assert_eq!(rows(&again), r);
    assert_eq!(emu.org.counters().create_collection_calls, 1);
    emu.stop().await;
}

/// The sample org as the sandbox `uat` copies it (samples/salesforce-users-sandbox.csv).
fn sandbox_org() -> OrgConfig {
    use clap::Parser;
    let users = repo().join("samples/salesforce-users-sandbox.csv");
    let cli = sfsync::cli::Cli::try_parse_from([
        "sfsync".as_ref(),
        "emulator".as_ref(),
        "--sandbox".as_ref(),
        "UAT".as_ref(),
        "--users".as_ref(),
        users.as_os_str(),
    ])
    .unwrap();
    match cli.command {
        sfsync::cli::Command::Emulator(args) => OrgConfig::from_args(&args).unwrap(),
        _ => unreachable!(),
    }
}

/// The demo job with `sandbox = NAME` (and the emulator as its login host:
/// a sandbox's default login host is test.salesforce.com, never contacted by tests).
fn sandbox_job(dir: &Path, base_url: &str, sandbox: Option<&str>) -> std::path::PathBuf {
    let job = write_job(dir, base_url, None, "");
    let text = std::fs::read_to_string(&job).unwrap();
    let line = match sandbox {
        Some(s) => format!("[salesforce]\nsandbox = \"{s}\"\nlogin_url = \"{base_url}\"\n"),
        None => format!("[salesforce]\nlogin_url = \"{base_url}\"\n"),
    };
    std::fs::write(&job, text.replacen("[salesforce]\n", &line, 1)).unwrap();
    job
}

#[tokio::test]
async fn a_sandbox_copy_plans_as_production_does_and_newcomers_get_the_suffix() {
    // given the sample org as the sandbox uat copied it (suffixed usernames,
    // `.invalid` e-mails, one user created in the sandbox with a plain address)
    let emu = Emu::start(sandbox_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = sandbox_job(dir.path(), &emu.base_url, Some("uat"));

    // when planning, then every person gets the outcome production gives them
    let (code, plan) = run("plan", &job, "plan").await;
    assert_eq!(code, 3, "{plan}");
    assert_eq!(plan["context"]["sandbox"], "uat");
    let got = outcomes_by_uid(&plan);
    for (uid, expected, _) in expected_sample_outcomes() {
        let outcome = got.get(&uid).map_or("unchanged", String::as_str);
        assert_eq!(outcome, expected, "{uid}: {plan}");
    }
    // when syncing, then every newcomer is created with the suffix
    let (_, report) = run("sync", &job, "sync").await;
    let created: Vec<&str> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["outcome"] == "created")
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(!created.is_empty(), "{report}");
    for u in &created {
        assert!(u.ends_with(".uat"), "{u}");
        assert!(emu.user(u).is_some(), "{u} is in the org");
    }
    // and the next plan creates nobody
    let (_, again) = run("plan", &job, "again").await;
    assert_eq!(again["summary"]["create"], 0, "{again}");

    // and `check` agrees with the job, and warns for a job that forgot the sandbox
    let out = sfsync(&["check", "--job", job.to_str().unwrap()]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ok    sandbox")
            && text.contains("is a sandbox, as salesforce.sandbox = \"uat\" says"),
        "{text}"
    );
    let prod = tempfile::tempdir().unwrap();
    let job = sandbox_job(prod.path(), &emu.base_url, None);
    let out = sfsync(&["check", "--job", job.to_str().unwrap()]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL  sandbox") && text.contains("Organization.IsSandbox = true"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(2));
    emu.stop().await;
}

#[tokio::test]
async fn nickname_clashes_are_predicted_by_plan_and_sync_sends_none_of_them() {
    // given the org's Bo holds the nickname "bob", and two source people would both be "ann"
    let emu = Emu::start(OrgConfig {
        users: vec![
            SeedUser::new("bob.org@example.com")
                .with("CommunityNickname", "bob")
                .with("FederationIdentifier", "boborg"),
        ],
        ..OrgConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = people(
        dir.path(),
        &[
            ("ann1", "Ann", "ann1@example.com"),
            ("ann2", "ANN", "ann2@example.com"),
            ("bob", "Bob", "bob@example.com"),
            ("cy", "Cy", "cy@example.com"),
        ],
    );
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(
        &job,
        text.replacen(
            "[mapping]\n",
            "[mapping]\nCommunityNickname = \"{givenName}\"\n",
            1,
        ),
    )
    .unwrap();

    let (code, plan) = run("plan", &job, "plan").await;
    assert_eq!(code, 3, "{plan}");
    let r = rows(&plan);
    let seen: Vec<(&str, &str)> = ["ann1", "ann2", "bob", "cy"]
        .iter()
        .map(|p| {
            let row = &r[&format!("{p}@example.com")];
            (row.0.as_str(), row.2.as_str())
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("duplicate_in_source", "DUPLICATE_IN_SOURCE"),
            ("duplicate_in_source", "DUPLICATE_IN_SOURCE"),
            ("collision", "DUPLICATE_COMM_NICKNAME"),
            ("create", ""),
        ]
    );

    let (code, report) = run("sync", &job, "sync").await;
    assert_eq!(code, 3);
    assert_eq!(report["summary"]["created"], 1, "{report}");
    let sent: usize = emu
        .log()
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("composite/sobjects"))
        .map(|e| e.records)
        .sum();
    assert_eq!(sent, 1, "only Cy is sent");
    emu.stop().await;
}

#[tokio::test]
async fn a_licence_limited_run_gives_the_same_outcomes_two_nights_running() {
    // given the Chatter Free licence has room for one more user, and four newcomers
    let mut cfg = OrgConfig {
        users: vec![SeedUser::new("seated@example.com").with("ProfileId", "00e90000001aV2o")],
        ..OrgConfig::default()
    };
    for p in &mut cfg.profiles {
        p.licenses = Some(2);
    }
    let emu = Emu::start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = people(
        dir.path(),
        &[
            ("p1", "P", "p1@example.com"),
            ("p2", "P", "p2@example.com"),
            ("p3", "P", "p3@example.com"),
            ("p4", "P", "p4@example.com"),
        ],
    );
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");

    let (code1, night1) = run("sync", &job, "night1").await;
    let (code2, night2) = run("sync", &job, "night2").await;

    let r1 = rows(&night1);
    let r2 = rows(&night2);
    assert_eq!(r1["p1@example.com"].0, "created");
    let outcome = |r: &BTreeMap<_, (String, String, String, Vec<String>)>, p: &str| {
        let row = &r[&format!("{p}@example.com")];
        (row.0.clone(), row.2.clone())
    };
    for night in [&r1, &r2] {
        assert_eq!(
            ["p2", "p3", "p4"].map(|p| outcome(night, p)),
            [
                ("failed".to_owned(), "LICENSE_LIMIT_EXCEEDED".to_owned()),
                (
                    "not_attempted".to_owned(),
                    "LICENSE_LIMIT_EXCEEDED".to_owned()
                ),
                (
                    "not_attempted".to_owned(),
                    "LICENSE_LIMIT_EXCEEDED".to_owned()
                ),
            ]
        );
    }
    assert_eq!((code1, code2), (3, 3));
    for report in [&night1, &night2] {
        let stops = report["context"]["licence_stops"].as_array().unwrap();
        assert_eq!(stops.len(), 1, "{report}");
        assert!(
            stops[0]
                .as_str()
                .unwrap()
                .starts_with("profile 00e90000001aV2o has no licence left"),
            "{report}"
        );
    }
    emu.stop().await;
}

#[tokio::test]
async fn faults_and_lost_answers_with_fallbacks_never_create_anyone_twice() {
    // given 40 people, every third one's address held in another org, and an
    // org that fails 20% of calls and loses 20% of create answers
    let mut rows_in: Vec<(String, String)> = Vec::new();
    let mut taken = Vec::new();
    for i in 0..40 {
        let mail = format!("person{i:02}@example.com");
        if i % 3 == 0 {
            taken.push(mail.clone());
        }
        rows_in.push((format!("u{i:02}"), mail));
    }
    let emu = Emu::start(OrgConfig {
        foreign_usernames: taken.clone(),
        faults: FaultPlan {
            seed: 18,
            fault_rate: 0.2,
            lost_answer_rate: 0.2,
            ..FaultPlan::default()
        },
        ..OrgConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let borrowed: Vec<(&str, &str, &str)> = rows_in
        .iter()
        .map(|(u, m)| (u.as_str(), "P", m.as_str()))
        .collect();
    let csv = people(dir.path(), &borrowed);
    let job = write_job(
        dir.path(),
        &emu.base_url,
        Some(&csv),
        &format!(
            "{FALLBACKS}[limits]\nrequests_per_second = 100.0\nbatch_size = 7\nmax_creates = 1000\nmax_retries = 8\n"
        ),
    );

    // when nights run until the org has converged
    let mut last = Value::Null;
    for night in 0..4 {
        let (_, report) = run("sync", &job, &format!("night{night}")).await;
        last = report;
        if last["summary"]["unchanged"] == 40 {
            break;
        }
    }

    // then everyone exists exactly once, the taken ones under their first fallback
    assert_eq!(last["summary"]["unchanged"], 40, "{last}");
    let users = emu.users();
    for (uid, mail) in &rows_in {
        let theirs: Vec<_> = users
            .iter()
            .filter(|u| u.federation_identifier.as_deref() == Some(uid.as_str()))
            .collect();
        assert_eq!(theirs.len(), 1, "{uid}: {theirs:?}");
        let expected = if taken.contains(mail) {
            format!("{mail}.acme")
        } else {
            mail.clone()
        };
        assert_eq!(theirs[0].username, expected);
    }
    let c = emu.org.counters();
    assert_eq!(c.users_created, 40);
    assert!(c.lost_answers > 0, "the faults must have lost some answers");
    emu.stop().await;
}

#[tokio::test]
async fn in_a_sandbox_a_newcomer_is_linked_to_the_manager_the_sandbox_holds() {
    // Given the sandbox copy of the sample org (David Brown is
    // david.brown@example.com.uat there), and three newcomers: one managed by
    // David (named by his directory address), one managed by a newcomer,
    let emu = Emu::start(sandbox_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("newcomers.csv");
    std::fs::write(
        &csv,
        "uid,givenName,sn,mail,employeeNumber,title,departmentNumber,memberOf,manager\n\
         nhire,Nia,Hire,nia.hire@example.com,20001,Engineer,100,,david.brown@example.com\n\
         nlead,Ned,Lead,ned.lead@example.com,20002,Lead,100,,\n\
         jjunior,Jo,Junior,jo.junior@example.com,20003,Engineer,100,,Ned.Lead@example.com\n",
    )
    .unwrap();
    let access = "[access]\nmanager = \"{manager|lower}\"\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), access);
    let text = std::fs::read_to_string(&job).unwrap().replacen(
        "[salesforce]\n",
        &format!(
            "[salesforce]\nsandbox = \"uat\"\nlogin_url = \"{}\"\n",
            emu.base_url
        ),
        1,
    );
    std::fs::write(&job, text).unwrap();

    // when the plan and the sync run,
    let (code, plan) = run("plan", &job, "plan").await;
    assert_eq!(code, 0, "{plan}");
    let (code, report) = run("sync", &job, "sync").await;
    assert_eq!(code, 0, "{report}");

    // then each is linked to the user the sandbox holds (no "no manager
    // linked" message), the copied manager in the create, the new one after.
    for r in [&plan, &report] {
        assert!(!r.to_string().contains("no manager linked"), "{r}");
    }
    let token = emu.token().await;
    let manager_of = |username: &str| {
        let q = format!("SELECT ManagerId FROM User WHERE Username = '{username}'");
        let emu = &emu;
        let token = token.clone();
        async move { emu.query(&token, &q).await.1["records"][0]["ManagerId"].clone() }
    };
    assert_eq!(
        manager_of("nia.hire@example.com.uat").await,
        serde_json::json!("005000000000004AAA")
    );
    let ned = emu
        .user("ned.lead@example.com.uat")
        .expect("Ned is created")
        .id;
    assert_eq!(
        manager_of("jo.junior@example.com.uat").await,
        serde_json::json!(ned)
    );
    emu.stop().await;
}

#[tokio::test]
async fn a_fallback_two_people_share_is_skipped_for_both_and_said_in_plan_and_sync() {
    // Given two Sams whose only fallback is the same address, and Sam One's
    // mapped username held in another org,
    let emu = Emu::start(OrgConfig {
        foreign_usernames: foreign(&["sam.one@example.com"]),
        ..OrgConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = people(
        dir.path(),
        &[
            ("sam1", "Sam", "sam.one@example.com"),
            ("sam2", "Sam", "sam.two@example.com"),
        ],
    );
    let shared = "[collisions]\nfallback_usernames = [\"{givenName|lower}@acme-sf.example.com\"]\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), shared);
    let why = "sam@acme-sf.example.com is a candidate of another source person too";
    let message = |report: &Value, email: &str| {
        report["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .map(|u| u["message"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };

    // when planning, then both are creates told they have no fallback, and why
    let (code, plan) = run("plan", &job, "plan").await;
    assert_eq!(code, 0, "{plan}");
    assert_eq!(plan["summary"]["create"], 2, "{plan}");
    for (email, username) in [
        ("sam.one@example.com", "sam.one@example.com"),
        ("sam.two@example.com", "sam.two@example.com"),
    ] {
        assert_eq!(
            message(&plan, email),
            format!(
                "no fallback username to try if {username} is taken in another Salesforce org: {why}"
            )
        );
    }

    // when syncing, then Sam One is a collision that says why no fallback
    // was tried, Sam Two is created, and the shared address is never sent.
    let (code, report) = run("sync", &job, "sync").await;
    assert_eq!(code, 3, "{report}");
    let r = rows(&report);
    assert_eq!(
        (
            r["sam.one@example.com"].0.as_str(),
            r["sam.one@example.com"].2.as_str()
        ),
        ("collision", "DUPLICATE_USERNAME")
    );
    assert!(
        message(&report, "sam.one@example.com")
            .ends_with(&format!("fallback usernames skipped: {why}")),
        "{report}"
    );
    assert_eq!(r["sam.two@example.com"].0, "created");
    assert!(emu.user("sam@acme-sf.example.com").is_none());
    assert_eq!(emu.org.counters().create_collection_calls, 1);
    emu.stop().await;
}
