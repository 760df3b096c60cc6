//! Movers and leavers end to end: the real `sfsync` binary against the
//! emulator over HTTP, counts from the emulator's log and state (issue 15),
//! and the three executor faults of issue 16.

use std::path::Path;

use serde_json::Value;
use sfsync::emulator::{FaultKind, OrgConfig, RequestKind, SeedUser};

use crate::support::emu::Emu;
use crate::support::run::{sfsync, write_job};

/// `n` people `p00001` ... with `title` as their title.
fn people_csv(dir: &Path, n: usize, title: impl Fn(usize) -> String) -> std::path::PathBuf {
    let mut text = String::from("uid,givenName,sn,mail,employeeNumber,title,departmentNumber\n");
    for i in 1..=n {
        text.push_str(&format!(
            "p{i:05},Pat,Person{i},p{i:05}@example.com,{i},{},100\n",
            title(i)
        ));
    }
    let path = dir.join("people.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The org user a source person `i` matches, with this title.
fn seeded(i: usize, title: &str) -> SeedUser {
    SeedUser::new(&format!("p{i:05}@example.com"))
        .with("FederationIdentifier", &format!("p{i:05}"))
        .with("FirstName", "Pat")
        .with("LastName", &format!("Person{i}"))
        .with("Title", title)
}

/// An org user no source person maps to, inside the usual scope.
fn stranger(name: &str) -> SeedUser {
    SeedUser::new(name).with("FederationIdentifier", name)
}

async fn run(args: &[&str], job: &Path) -> (i32, Value) {
    let report = job.with_file_name(format!("report-{}.json", rand_suffix()));
    let mut all: Vec<&str> = args.to_vec();
    let job_s = job.to_str().unwrap();
    let report_s = report.to_str().unwrap().to_owned();
    all.extend(["--job", job_s, "--report", &report_s]);
    let out = sfsync(&all).await;
    let code = out.status.code().unwrap_or(-1);
    // Shown when a test fails.
    eprintln!(
        "sfsync {args:?}: exit {code}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    assert!(
        json != Value::Null || code == 1 || code == 2,
        "no report; exit {code}; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, json)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn calls(emu: &Emu, kind: RequestKind) -> usize {
    emu.log().iter().filter(|r| r.kind == kind).count()
}

fn writes(emu: &Emu) -> usize {
    calls(emu, RequestKind::CreateCollection)
        + calls(emu, RequestKind::UpdateCollection)
        + calls(emu, RequestKind::UpdateOne)
        + calls(emu, RequestKind::CreateOne)
}

fn summary(report: &Value, key: &str) -> u64 {
    report["summary"][key].as_u64().unwrap_or(0)
}

const UPDATE: &str =
    "[update]\nfields = [\"Title\", \"FirstName\", \"LastName\"]\nmax_updates = 1000\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_send_only_changed_fields_in_ceil_u_over_200_calls_and_a_rerun_sends_nothing() {
    // Given 450 people whose titles changed in the directory, and 10 that did not.
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 460, |i| {
        if i <= 450 {
            "Manager".into()
        } else {
            "Analyst".into()
        }
    });
    let users = (1..=460).map(|i| seeded(i, "Analyst")).collect();
    let emu = Emu::start(OrgConfig {
        users,
        ..OrgConfig::default()
    })
    .await;
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), UPDATE);

    // The dry run shows every update with its changes and writes nothing.
    let (code, plan) = run(&["plan"], &job).await;
    assert_eq!(code, 0, "{plan}");
    assert_eq!(summary(&plan, "update"), 450);
    let first = plan["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["outcome"] == "update")
        .unwrap();
    assert_eq!(
        first["changes"],
        serde_json::json!({"Title": {"from": "Analyst", "to": "Manager"}})
    );
    assert_eq!(writes(&emu), 0);

    // When it syncs: 3 PATCH calls of collections (ceil(450/200)), no create.
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(summary(&report, "updated"), 450);
    assert_eq!(calls(&emu, RequestKind::UpdateCollection), 3);
    assert_eq!(calls(&emu, RequestKind::CreateCollection), 0);
    assert_eq!(emu.counters().users_updated, 450);
    // Only the title changed: names and the e-mail were never sent.
    let u = emu.user("p00001@example.com").unwrap();
    assert_eq!(u.first_name.as_deref(), Some("Pat"));
    assert_eq!(emu.org.pending_email("p00001@example.com"), None);
    let titles: Vec<_> = emu
        .users()
        .into_iter()
        .filter(|u| u.username.starts_with('p'))
        .collect();
    assert_eq!(titles.len(), 460);

    // Then a rerun sends nothing.
    let before = emu.log().len();
    let (code, again) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{again}");
    assert_eq!(summary(&again, "updated"), 0);
    assert!(emu.log()[before..].iter().all(|r| !matches!(
        r.kind,
        RequestKind::UpdateCollection | RequestKind::CreateCollection
    )));
    emu.stop().await;
}

const LEAVERS: &str = "[leavers]\naction = \"deactivate\"\nscope = \"FederationIdentifier != null\"\nprotect = [\"keeper@example.com\"]\nmax_deactivations = 10\nmax_deactivation_fraction = 0.5\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leavers_are_active_in_scope_never_protected_nor_the_api_user_and_a_refusal_fails_alone() {
    // Given 10 people in the directory and, in the org, their users plus 4
    // strangers: one protected, one undeactivatable, two plain leavers; the
    // API user (in scope too); an out-of-scope user; an inactive stranger.
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 10, |_| "Analyst".into());
    let mut users: Vec<SeedUser> = (1..=10).map(|i| seeded(i, "Analyst")).collect();
    users.extend([
        stranger("keeper@example.com"),
        stranger("stuck@example.com"),
        stranger("gone1@example.com"),
        stranger("gone2@example.com"),
        stranger("svc@example.com"),
        SeedUser::new("outside@example.com"),
        stranger("already@example.com").inactive(),
    ]);
    let emu = Emu::start(OrgConfig {
        users,
        undeactivatable: vec!["stuck@example.com".into()],
        ..OrgConfig::default()
    })
    .await;
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), LEAVERS);

    let (code, plan) = run(&["plan"], &job).await;
    assert_eq!(code, 0, "{plan}");
    assert_eq!(summary(&plan, "deactivate"), 3);
    assert_eq!(summary(&plan, "source_records"), 10);
    let leaver = plan["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "gone1@example.com")
        .unwrap();
    assert_eq!(leaver["source"], Value::Null);
    assert_eq!(leaver["email"], "gone1@example.com");
    assert!(leaver["salesforce_id"].as_str().unwrap().starts_with("005"));

    // When it syncs: two deactivated, the undeactivatable one failed with Salesforce's code.
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 3, "{report}");
    assert_eq!(summary(&report, "deactivated"), 2);
    assert_eq!(summary(&report, "failed"), 1);
    let stuck = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "stuck@example.com")
        .unwrap();
    assert_eq!(stuck["outcome"], "failed");
    assert!(stuck["error_code"].as_str().is_some_and(|c| !c.is_empty()));
    let active = |name: &str| emu.user(name).unwrap().is_active;
    assert!(!active("gone1@example.com") && !active("gone2@example.com"));
    assert!(active("keeper@example.com"), "protected");
    assert!(active("svc@example.com"), "the API user");
    assert!(active("outside@example.com"), "out of scope");
    assert!(active("stuck@example.com"));
    assert!((1..=10).all(|i| active(&format!("p{i:05}@example.com"))));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_creates_then_updates_then_reactivations_then_leavers() {
    // Given a new person, a mover, a returner (inactive in the org) and a leaver.
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 4, |_| "Manager".into());
    let users = vec![
        seeded(2, "Analyst"),
        seeded(3, "Manager").inactive(),
        seeded(4, "Manager"),
        stranger("gone@example.com"),
    ];
    let emu = Emu::start(OrgConfig {
        users,
        ..OrgConfig::default()
    })
    .await;
    let extra = format!(
        "[limits]\nrequests_per_second = 100.0\nbatch_size = 1\nconcurrency = 1\n{UPDATE}{}reactivate = true\n",
        LEAVERS
    );
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), &extra);
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    for (key, n) in [
        ("created", 1),
        ("updated", 1),
        ("reactivated", 1),
        ("deactivated", 1),
    ] {
        assert_eq!(summary(&report, key), n, "{key}: {report}");
    }
    // By the log's times: the create ended before the first PATCH began, and
    // there are three PATCH calls (update, reactivation, deactivation, in that order).
    let log = emu.log();
    let create_end = log
        .iter()
        .filter(|r| r.kind == RequestKind::CreateCollection)
        .map(|r| r.finished_us)
        .max()
        .unwrap();
    let patches: Vec<_> = log
        .iter()
        .filter(|r| r.kind == RequestKind::UpdateCollection)
        .collect();
    assert_eq!(patches.len(), 3);
    assert!(patches.iter().all(|p| p.started_us >= create_end));
    assert!(
        patches
            .windows(2)
            .all(|w| w[0].finished_us <= w[1].started_us)
    );
    assert!(emu.user("p00003@example.com").unwrap().is_active);
    assert!(!emu.user("gone@example.com").unwrap().is_active);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_threshold_stops_plan_and_sync_with_exit_4_and_zero_writes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 10, |_| "Manager".into());
    let mut users: Vec<SeedUser> = (1..=10).map(|i| seeded(i, "Analyst")).collect();
    users.extend((1..=6).map(|i| stranger(&format!("gone{i}@example.com"))));
    let emu = Emu::start(OrgConfig {
        users,
        ..OrgConfig::default()
    })
    .await;
    let cases = [
        (
            "[update]\nfields = [\"Title\"]\nmax_updates = 9\n",
            "update.max_updates = 9",
        ),
        (
            "[leavers]\naction = \"deactivate\"\nscope = \"FederationIdentifier != null\"\nmax_deactivations = 5\nmax_deactivation_fraction = 1.0\n",
            "leavers.max_deactivations = 5",
        ),
        (
            "[leavers]\naction = \"freeze\"\nscope = \"FederationIdentifier != null\"\nmax_deactivations = 50\nmax_deactivation_fraction = 0.25\n",
            "max_deactivation_fraction = 0.25",
        ),
    ];
    for (extra, named) in cases {
        let job = write_job(dir.path(), &emu.base_url, Some(&csv), extra);
        for cmd in ["plan", "sync"] {
            let (code, report) = run(&[cmd], &job).await;
            assert_eq!(code, 4, "{cmd} {extra}: {report}");
            let why = report["context"]["stopped"].as_str().unwrap_or_default();
            assert!(why.contains(named), "{cmd}: {why}");
        }
    }
    assert_eq!(writes(&emu), 0);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_source_a_failed_read_and_an_only_run_deactivate_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let mut users: Vec<SeedUser> = (1..=10).map(|i| seeded(i, "Analyst")).collect();
    users.push(stranger("gone@example.com"));
    let emu = Emu::start(OrgConfig {
        users,
        ..OrgConfig::default()
    })
    .await;
    let generous = "[leavers]\naction = \"deactivate\"\nscope = \"FederationIdentifier != null\"\nmax_deactivations = 100\nmax_deactivation_fraction = 1.0\n";

    // An empty source: the guard stops before any write.
    let empty = dir.path().join("empty.csv");
    std::fs::write(
        &empty,
        "uid,givenName,sn,mail,employeeNumber,title,departmentNumber\n",
    )
    .unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&empty), generous);
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 4, "{report}");

    // A failed read (the file is gone): exit 1, nothing written.
    let job = write_job(
        dir.path(),
        &emu.base_url,
        Some(&dir.path().join("missing.csv")),
        generous,
    );
    let (code, _) = run(&["sync"], &job).await;
    assert_ne!(code, 0);

    // --only: one person provisioned, no leaver acted on.
    let csv = people_csv(dir.path(), 10, |_| "Analyst".into());
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), generous);
    let (code, report) = run(&["sync", "--only", "p00001@example.com"], &job).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(summary(&report, "deactivated"), 0);

    assert_eq!(writes(&emu), 0);
    assert!(emu.user("gone@example.com").unwrap().is_active);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_lost_answers_apply_every_operation_once_and_a_rerun_converges() {
    // Given creates, updates and leavers under 20% faults and 20% lost answers.
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 300, |i| {
        if i % 2 == 0 {
            "Manager".into()
        } else {
            "Analyst".into()
        }
    });
    let mut users: Vec<SeedUser> = (1..=200).map(|i| seeded(i, "Analyst")).collect();
    users.extend((1..=20).map(|i| stranger(&format!("gone{i}@example.com"))));
    let mut cfg = OrgConfig {
        users,
        ..OrgConfig::default()
    };
    cfg.faults.seed = 15;
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
        "[limits]\nrequests_per_second = 200.0\nbatch_size = 20\nmax_retries = 10\nmax_creates = 1000\n{UPDATE}[leavers]\naction = \"deactivate\"\nscope = \"FederationIdentifier != null\"\nmax_deactivations = 100\nmax_deactivation_fraction = 1.0\n"
    );
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), &extra);
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(summary(&report, "created"), 100);
    assert_eq!(summary(&report, "updated"), 100);
    assert_eq!(summary(&report, "deactivated"), 20);
    assert_eq!(emu.counters().users_created, 100);
    assert_eq!(emu.counters().duplicate_username_attempts, 0);

    let before = emu.log().len();
    let (code, again) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{again}");
    for key in [
        "created",
        "updated",
        "deactivated",
        "create",
        "update",
        "deactivate",
    ] {
        assert_eq!(summary(&again, key), 0, "{key}");
    }
    assert!(emu.log()[before..].iter().all(|r| !matches!(
        r.kind,
        RequestKind::UpdateCollection | RequestKind::CreateCollection
    )));
    emu.stop().await;
}

/// Issue 16 (a) and (b): a create whose answer is lost when the budget has
/// room for it but not for the check is reported `unknown`, never
/// `not_attempted`, and the reserve is never crossed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_the_budget_cannot_check_is_unknown_and_the_reserve_holds() {
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 5, |_| "Analyst".into());
    let mut cfg = OrgConfig::default();
    cfg.faults.lost_answer_rate = 1.0;
    // Reads before the writes: the profile and the users (2 calls). Room for
    // one more call above the reserve of 10: the create, then nothing.
    cfg.daily_api_limit = 13;
    let emu = Emu::start(cfg).await;
    let extra = "[limits]\nrequests_per_second = 100.0\napi_reserve = 10\nconcurrency = 1\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), extra);
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 4, "{report}");
    assert_eq!(emu.counters().users_created, 5, "the lost create committed");
    assert_eq!(summary(&report, "unknown"), 5, "{report}");
    assert_eq!(summary(&report, "not_attempted"), 0, "{report}");
    let entry = &report["users"][0];
    assert!(
        entry["message"]
            .as_str()
            .unwrap()
            .contains("run again to confirm")
    );
    // The reserve is a promise: calls counted by the org never passed limit - reserve.
    assert!(emu.counters().api_calls <= 3, "{:?}", emu.counters());
    emu.stop().await;
}

/// Issue 16 (c): the daily limit met on the lookup path exits 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_limit_met_by_the_lost_answer_lookup_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 3, |_| "Analyst".into());
    let mut cfg = OrgConfig::default();
    cfg.faults.lost_answer_rate = 1.0;
    cfg.daily_api_limit = 3;
    let emu = Emu::start(cfg).await;
    let extra = "[limits]\nrequests_per_second = 100.0\napi_reserve = 0\nconcurrency = 1\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), extra);
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 4, "{report}");
    assert_eq!(summary(&report, "unknown"), 3, "{report}");
    assert_eq!(summary(&report, "not_attempted"), 0);
    emu.stop().await;
}

/// Issue 16 (c): "ConcurrentPerOrgLongTxn Limit exceeded" is transient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_form_of_request_limit_exceeded_backs_off_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 40, |_| "Analyst".into());
    let mut cfg = OrgConfig::default();
    cfg.max_in_flight = 1;
    cfg.faults.latency = std::time::Duration::from_millis(30);
    let emu = Emu::start(cfg).await;
    let extra =
        "[limits]\nrequests_per_second = 200.0\nconcurrency = 4\nbatch_size = 2\nmax_retries = 0\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), extra);
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(summary(&report, "created"), 40);
    assert!(
        emu.counters().limit_refusals > 0,
        "the test must meet the refusal"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_sets_userlogin_isfrozen_and_leaves_the_user_active() {
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 3, |_| "Analyst".into());
    let mut users: Vec<SeedUser> = (1..=3).map(|i| seeded(i, "Analyst")).collect();
    users.push(stranger("gone@example.com"));
    let emu = Emu::start(OrgConfig {
        users,
        ..OrgConfig::default()
    })
    .await;
    let extra = "[leavers]\naction = \"freeze\"\nscope = \"FederationIdentifier != null\"\nmax_deactivations = 5\nmax_deactivation_fraction = 0.5\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), extra);
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(summary(&report, "frozen"), 1, "{report}");
    assert_eq!(emu.org.is_frozen("gone@example.com"), Some(true));
    assert_eq!(emu.org.is_frozen("p00001@example.com"), Some(false));
    assert!(emu.user("gone@example.com").unwrap().is_active);
    assert_eq!(calls(&emu, RequestKind::UpdateCollection), 1);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reactivation_without_a_licence_fails_and_that_profile_stops_reactivating() {
    // Given three returners (inactive in the org) and one free Standard User licence.
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 4, |_| "Analyst".into());
    let users = vec![
        seeded(1, "Analyst"),
        seeded(2, "Analyst").inactive(),
        seeded(3, "Analyst").inactive(),
        seeded(4, "Analyst").inactive(),
    ];
    let mut profiles = sfsync::emulator::default_profiles();
    for p in &mut profiles {
        p.licenses = Some(2);
    }
    let emu = Emu::start(OrgConfig {
        users,
        profiles,
        ..OrgConfig::default()
    })
    .await;
    let extra = "[limits]\nrequests_per_second = 100.0\nbatch_size = 1\nconcurrency = 1\n[leavers]\nreactivate = true\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), extra);
    let (code, report) = run(&["sync"], &job).await;
    assert_eq!(code, 3, "{report}");
    assert_eq!(summary(&report, "reactivated"), 1, "{report}");
    assert_eq!(summary(&report, "failed"), 1, "{report}");
    assert_eq!(summary(&report, "not_attempted"), 1, "{report}");
    let failed = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["outcome"] == "failed")
        .unwrap();
    assert_eq!(failed["error_code"], "LICENSE_LIMIT_EXCEEDED");
    // Two PATCH calls: the one that worked and the one refused; the third was never sent.
    assert_eq!(calls(&emu, RequestKind::UpdateCollection), 2);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_company_plan_shows_its_movers_and_leavers() {
    // Given the sample org and directory with the sections samples/README.md shows.
    let emu = Emu::start(crate::support::run::sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "[update]\nfields = [\"Title\"]\n[leavers]\naction = \"report\"\nscope = \"FederationIdentifier != null\"\n";
    let job = write_job(dir.path(), &emu.base_url, None, extra);
    let (code, report) = run(&["plan"], &job).await;
    assert_eq!(code, 3, "{report}");
    let users = report["users"].as_array().unwrap();
    let with = |outcome: &str| -> Vec<String> {
        let mut v: Vec<String> = users
            .iter()
            .filter(|u| u["outcome"] == outcome)
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        with("update"),
        ["david.brown@example.com", "sarah.jones@example.com"]
    );
    assert_eq!(
        with("leaver"),
        ["amy.former@example.com", "ben.gone@example.com"]
    );
    let brown = users
        .iter()
        .find(|u| u["username"] == "david.brown@example.com")
        .unwrap();
    assert_eq!(
        brown["changes"],
        serde_json::json!({"Title": {"from": "Sales Director", "to": "VP Sales"}})
    );
    // Each with its reason: the change for a mover, why a leaver is one.
    assert_eq!(brown["message"], "Title: Sales Director -> VP Sales");
    for u in users.iter().filter(|u| u["outcome"] == "leaver") {
        assert_eq!(u["message"], "no source record maps to this user", "{u}");
        assert!(u["salesforce_id"].is_string(), "{u}");
    }
    // The newcomers are planned as creates alongside (samples/README.md's table).
    let creates = with("create");
    assert_eq!(summary(&report, "create"), creates.len() as u64);
    assert!(
        creates.contains(&"jose.nunez@example.com".to_owned()),
        "{creates:?}"
    );
    assert_eq!(creates.len(), 28, "{creates:?}");
    assert_eq!(summary(&report, "unchanged"), 10);
    assert_eq!(summary(&report, "source_records"), 50);
    assert_eq!(writes(&emu), 0);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_validates_the_leaver_scope_with_one_limit_1_query() {
    let emu = Emu::start(crate::support::run::sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    for (scope, ok) in [
        ("FederationIdentifier != null", true),
        ("FederationIdentifer = 'x'", false),
    ] {
        let extra = format!("[leavers]\naction = \"deactivate\"\nscope = \"{scope}\"\n");
        let job = write_job(dir.path(), &emu.base_url, None, &extra);
        let before = calls(&emu, RequestKind::Query);
        let out = sfsync(&["check", "--job", job.to_str().unwrap()]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.contains("leavers scope"))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert_eq!(line.starts_with("FAIL"), !ok, "{stdout}");
        assert_eq!(out.status.code(), Some(if ok { 0 } else { 1 }), "{stdout}");
        if !ok {
            assert!(line.contains("leavers.scope"), "{line}");
        }
        assert!(calls(&emu, RequestKind::Query) > before);
    }
    assert_eq!(writes(&emu), 0);
    emu.stop().await;
}
