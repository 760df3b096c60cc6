//! Issue 6: safe to leave in cron. Every guard is driven through the real
//! binary against the emulator, and judged by the emulator's request log and
//! final state.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sfsync::emulator::OrgConfig;

use crate::support::emu::Emu;
use crate::support::run::{SECRETS, sample_org, sfsync, write_job};

/// `n` new people `bulkNNNNN@bulk.example.com`.
fn bulk_csv(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("uid,givenName,sn,mail\n");
    for i in 0..n {
        text.push_str(&format!(
            "bulk{i:05},Given{i},Surname{i},bulk{i:05}@bulk.example.com\n"
        ));
    }
    let path = dir.join(format!("bulk-{n}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A job creating `n` bulk people in batches of 50, two calls in flight: a
/// run long enough to interrupt at chosen points.
fn slow_bulk_job(dir: &Path, emu: &Emu, n: usize) -> PathBuf {
    let csv = bulk_csv(dir, n);
    let limits = "[limits]\nbatch_size = 50\nconcurrency = 2\nrequests_per_second = 100.0\nmax_creates = 5000\n";
    write_job(dir, &emu.base_url, Some(&csv), limits)
}

fn slow_org(latency_ms: u64) -> OrgConfig {
    let mut cfg = OrgConfig::default();
    cfg.faults.latency = Duration::from_millis(latency_ms);
    cfg
}

/// Starts `sfsync ARGS` without waiting.
fn spawn(args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("sfsync"))
        .args(args)
        .envs(SECRETS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

async fn wait(child: Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// Waits until the emulator has seen `n` create calls (so a run is mid-write).
async fn until_creates(emu: &Emu, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while emu.counters().create_collection_calls < n {
        assert!(
            Instant::now() < deadline,
            "the run never reached {n} create calls"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn writes(emu: &Emu) -> u64 {
    let c = emu.counters();
    c.create_one_calls + c.create_collection_calls + c.other_calls
}

fn bulk_usernames_in_org(emu: &Emu) -> Vec<String> {
    let mut names: Vec<String> = emu
        .users()
        .into_iter()
        .map(|u| u.username)
        .filter(|u| u.ends_with("@bulk.example.com"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_of_the_same_job_exits_1_naming_the_lock_and_the_holders_pid() {
    let emu = Emu::start(slow_org(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = bulk_csv(dir.path(), 1000);
    let job = write_job(
        dir.path(),
        &emu.base_url,
        Some(&csv),
        "[limits]\nbatch_size = 50\nconcurrency = 1\nrequests_per_second = 50.0\nmax_creates = 5000\n",
    );
    let job = job.to_str().unwrap();

    // given a sync that is writing
    let first = spawn(&["sync", "--job", job]);
    until_creates(&emu, 1).await;
    // when a second one starts
    let second = sfsync(&["sync", "--job", job]).await;
    // then it refuses at once, naming the job, the lock file and the holder
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("job \"demo\" is already running"),
        "{stderr}"
    );
    assert!(
        stderr.contains("demo.lock") && stderr.contains(&format!("pid {}", first.id())),
        "{stderr}"
    );
    let first = wait(first).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(bulk_usernames_in_org(&emu).len(), 1000);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn more_creates_than_max_creates_stops_before_any_write_with_exit_4() {
    let emu = Emu::start(sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(
        dir.path(),
        &emu.base_url,
        None,
        "[limits]\nmax_creates = 5\n",
    );
    let job = job.to_str().unwrap();
    let report = dir.path().join("r.json");
    let metrics = dir.path().join("sfsync.prom");
    let (report_arg, metrics_arg) = (report.to_str().unwrap(), metrics.to_str().unwrap());
    let out = sfsync(&[
        "sync",
        "--job",
        job,
        "--report",
        report_arg,
        "--metrics-file",
        metrics_arg,
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_eq!(writes(&emu), 0, "nothing was written");
    assert!(
        stderr.contains("--max-creates 28"),
        "says how to proceed: {stderr}"
    );
    let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["summary"]["not_attempted"], 28);
    assert_eq!(json["summary"]["created"], 0);
    // the metrics file tells the monitoring what happened
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains("sfsync_exit_code{job=\"demo\"} 4\n"),
        "{prom}"
    );
    assert!(
        prom.contains("sfsync_records{job=\"demo\",outcome=\"not_attempted\"} 28\n"),
        "{prom}"
    );
    assert!(
        !prom.contains("sfsync_last_success_timestamp_seconds"),
        "no success yet: {prom}"
    );

    // and --max-creates lets this one run through
    let out = sfsync(&[
        "sync",
        "--job",
        job,
        "--max-creates",
        "28",
        "--metrics-file",
        metrics_arg,
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(emu.counters().create_collection_calls, 1);
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains("sfsync_exit_code{job=\"demo\"} 3\n"),
        "{prom}"
    );
    assert!(
        prom.contains("sfsync_last_success_timestamp_seconds{job=\"demo\"}"),
        "{prom}"
    );
    assert!(
        prom.contains("sfsync_records{job=\"demo\",outcome=\"created\"} 27\n"),
        "{prom}"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_or_shrunken_source_stops_before_writing() {
    let emu = Emu::start(OrgConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();

    // an empty export: exit 4, nothing written
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "uid,givenName,sn,mail\n").unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&empty), "");
    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no records"));
    assert_eq!(writes(&emu), 0);

    // a normal night with 100 people, then one with 20: the second stops
    let full = bulk_csv(dir.path(), 100);
    let job = write_job(dir.path(), &emu.base_url, Some(&full), "");
    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = writes(&emu);
    let shrunk = bulk_csv(dir.path(), 20);
    let job = write_job(dir.path(), &emu.base_url, Some(&shrunk), "");
    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("20 records") && stderr.contains("100"),
        "{stderr}"
    );
    assert_eq!(writes(&emu), before, "no write after the guard");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_provisions_the_named_people_from_csv() {
    let emu = Emu::start(sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let report = dir.path().join("r.json");
    let out = sfsync(&[
        "sync",
        "--job",
        job.to_str().unwrap(),
        "--only",
        "ETHAN.HALL@example.com",
        "--only",
        "zoe.mueller@example.com",
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["summary"]["source_records"], 2);
    assert_eq!(json["summary"]["created"], 2);
    assert_eq!(emu.users().len(), 23);
    assert!(
        emu.user("ethan.hall@example.com").is_some()
            && emu.user("zoe.mueller@example.com").is_some()
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_output_logs_or_reports_even_at_trace_level() {
    let emu = Emu::start(sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let report = dir.path().join("r.json");
    let html = dir.path().join("r.html");
    let metrics = dir.path().join("m.prom");
    let job = job.to_str().unwrap();
    let out = sfsync(&[
        "-vv",
        "sync",
        "--job",
        job,
        "--report",
        report.to_str().unwrap(),
        "--metrics-file",
        metrics.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(3));
    let plan = sfsync(&[
        "plan",
        "-vv",
        "--job",
        job,
        "--report",
        html.to_str().unwrap(),
        "--log-format",
        "json",
    ])
    .await;
    let check = sfsync(&["check", "--job", job, "-vv"]).await;
    let mut haystack = Vec::new();
    for o in [&out, &plan, &check] {
        haystack.push(String::from_utf8_lossy(&o.stdout).into_owned());
        haystack.push(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    for f in [&report, &html, &metrics] {
        haystack.push(std::fs::read_to_string(f).unwrap());
    }
    assert!(
        haystack[1].len() > 200,
        "-vv produced debug output to search"
    );
    for text in &haystack {
        for (_, secret) in SECRETS.iter().filter(|(k, _)| !k.ends_with("USERNAME")) {
            assert!(!text.contains(secret), "a secret leaked:\n{text}");
        }
        assert!(
            !text.contains("Bearer 00D") && !text.contains("access_token\":\"00D"),
            "a token leaked:\n{text}"
        );
    }
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_every_preflight_and_each_failure_says_what_to_fix() {
    let mut cfg = sample_org();
    cfg.api_calls_used = 14_500; // of 15,000: below the job's reserve of 1,000
    let emu = Emu::start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let job = job.to_str().unwrap();

    let out = sfsync(&["check", "--job", job]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 1, "{stdout}");
    assert!(
        fails[0].contains("api budget") && fails[0].contains("api_reserve"),
        "{stdout}"
    );
    for ok in [
        "job file",
        "secret",
        "required fields",
        "csv source",
        "salesforce token",
        "profile",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(ok)),
            "{ok}: {stdout}"
        );
    }

    // a missing secret and an unknown profile: both reported, the rest still checked
    let text = std::fs::read_to_string(job)
        .unwrap()
        .replace("Chatter Free User", "No Such Profile");
    std::fs::write(job, text).unwrap();
    let out = tokio::task::spawn_blocking({
        let job = job.to_owned();
        move || {
            assert_cmd::Command::cargo_bin("sfsync")
                .unwrap()
                .args(["check", "--job", &job])
                .envs(SECRETS)
                .env_remove("SFSYNC_TEST_PASSWORD")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // A missing secret is a set-up problem: exit 2, as `plan` gives for it (#14).
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.contains("FAIL  secret") && stdout.contains("SFSYNC_TEST_PASSWORD"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("ok") && l.contains("csv source")),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  salesforce token"), "{stdout}");

    // with the secret back, the unknown profile is its own failing line
    let out = sfsync(&["check", "--job", job]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  profile") && stdout.contains("No Such Profile"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    salesforce token"), "{stdout}");

    // and an unreachable org
    emu.stop().await;
    let out = sfsync(&["check", "--job", job]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  salesforce token") && stdout.contains("127.0.0.1"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_several_points_then_rerun_converges_without_duplicates() {
    let emu = Emu::start(slow_org(60)).await;
    let dir = tempfile::tempdir().unwrap();
    let job = slow_bulk_job(dir.path(), &emu, 2000);
    let job = job.to_str().unwrap();
    let report = dir.path().join("r.json");
    let report_arg = report.to_str().unwrap();

    // killed mid-write three times, each later than the last
    for calls in [2, 12, 25] {
        let child = spawn(&["sync", "--job", job, "--report", report_arg]);
        until_creates(&emu, calls).await;
        signal(&child, "-KILL");
        let out = wait(child).await;
        assert_eq!(out.status.code(), None, "killed by a signal");
    }
    let partial = bulk_usernames_in_org(&emu).len();
    assert!(partial > 0 && partial < 2000, "{partial}");
    assert!(!report.exists(), "no half-written report");

    // the rerun finishes the job
    let out = sfsync(&["sync", "--job", job, "--report", report_arg]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = bulk_usernames_in_org(&emu);
    let expected: Vec<String> = (0..2000)
        .map(|i| format!("bulk{i:05}@bulk.example.com"))
        .collect();
    assert_eq!(names, expected, "every person exactly once");
    assert_eq!(
        emu.counters().duplicate_username_attempts,
        0,
        "nothing was sent twice"
    );
    let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        json["summary"]["created"].as_u64().unwrap()
            + json["summary"]["unchanged"].as_u64().unwrap(),
        2000
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_new_calls_writes_the_report_and_exits_1() {
    let emu = Emu::start(slow_org(100)).await;
    let dir = tempfile::tempdir().unwrap();
    let job = slow_bulk_job(dir.path(), &emu, 2000);
    let job = job.to_str().unwrap();
    let report = dir.path().join("r.json");

    let child = spawn(&["sync", "--job", job, "--report", report.to_str().unwrap()]);
    until_creates(&emu, 4).await;
    signal(&child, "-TERM");
    let out = wait(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let s = &json["summary"];
    let created = s["created"].as_u64().unwrap();
    assert!(
        created > 0 && s["not_attempted"].as_u64().unwrap() > 0,
        "{s}"
    );
    assert_eq!(
        created + s["not_attempted"].as_u64().unwrap(),
        2000,
        "every person accounted for: {s}"
    );
    assert_eq!(
        bulk_usernames_in_org(&emu).len() as u64,
        created,
        "the report matches the org"
    );

    let out = sfsync(&["sync", "--job", job]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(bulk_usernames_in_org(&emu).len(), 2000);
    emu.stop().await;
}
