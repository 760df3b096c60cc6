//! Issue 21: SIGTERM and SIGINT stop new calls. Judged by the emulator's
//! request log: once the run has said it was interrupted, only the calls
//! it had already launched (at most `concurrency`) reach the org; they
//! finish; the report accounts for everyone.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sfsync::emulator::{OrgConfig, RequestKind};

use crate::exit_codes::people_csv;
use crate::support::emu::Emu;
use crate::support::run::{SECRETS, write_job};

/// `sfsync sync` of `job` as a child writing `report`. Its stderr is read on
/// a thread (the child must never block on a full pipe) that returns it
/// all; the channel says when the run has logged the interrupt.
fn spawn_sync(
    job: &std::path::Path,
    report: &std::path::Path,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<()>,
    std::thread::JoinHandle<String>,
) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("sfsync"))
        .args(["sync", "--job", job.to_str().unwrap()])
        .args(["--report", report.to_str().unwrap()])
        .envs(SECRETS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (said, heard) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("Interrupted") {
                let _ = said.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (child, heard, reader)
}

async fn interrupt_mid_run(sig: &str) {
    let mut cfg = OrgConfig::default();
    cfg.faults.latency = Duration::from_millis(100);
    let emu = Emu::start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 1000);
    let limits = "[limits]\nbatch_size = 20\nconcurrency = 2\nrequests_per_second = 100.0\nmax_creates = 5000\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), limits);
    let report = dir.path().join("r.json");
    let (mut child, heard, reader) = spawn_sync(&job, &report);

    // mid-write: a few create calls answered
    let deadline = Instant::now() + Duration::from_secs(60);
    while emu.counters().create_collection_calls < 3 {
        assert!(
            Instant::now() < deadline,
            "the run never reached its writes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    tokio::task::spawn_blocking(move || heard.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("no 'Interrupted' log line after {sig}"));
    // A request of our own marks "after the run knew": the emulator logs it too.
    let mark = reqwest::get(emu.url("/services/data")).await.unwrap();
    assert_eq!(mark.status(), 200);

    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(1), "{sig}: {stderr}");

    let log = emu.log();
    let mark = log
        .iter()
        .rfind(|r| r.kind == RequestKind::Versions)
        .expect("the mark is in the log");
    // Calls the run had launched may still arrive after the mark (a task
    // spawned just before the flag, scheduled late on a busy machine), but
    // none is launched after it: every call not answered by the mark is one
    // of the at most `concurrency` (2) launched before. A run that kept
    // sending would show dozens here.
    let after: Vec<_> = log
        .iter()
        .filter(|r| r.kind.is_api() && r.finished_us > mark.started_us)
        .map(|r| (r.seq, r.kind, r.started_us, r.finished_us))
        .collect();
    assert!(
        after.len() <= 2,
        "{sig}: calls reached the org after the interrupt (mark at {}us): {after:?}\n{stderr}",
        mark.started_us
    );
    let s = &serde_json::from_slice::<Value>(&std::fs::read(&report).unwrap()).unwrap()["summary"];
    let created = s["created"].as_u64().unwrap();
    let not_attempted = s["not_attempted"].as_u64().unwrap();
    assert!(created >= 60 && not_attempted > 0, "{sig}: {s}");
    assert_eq!(
        created + not_attempted,
        1000,
        "{sig}: everyone accounted for"
    );
    assert_eq!(
        emu.users().len() as u64,
        created,
        "{sig}: the report matches the org"
    );
    let creates = log
        .iter()
        .filter(|r| r.kind == RequestKind::CreateCollection)
        .count() as u64;
    assert_eq!(
        creates,
        created.div_ceil(20),
        "{sig}: one call per batch of 20"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_new_calls_by_the_request_log() {
    interrupt_mid_run("-TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_stops_new_calls_by_the_request_log() {
    interrupt_mid_run("-INT").await;
}

/// Issue 16: a second SIGTERM while the first stop waits for lost answers to
/// be checked must not hang or lie. Every create loses its answer (after the
/// org committed it), and a stalling proxy holds every check query, the way
/// a wedged org would, for the client's whole timeout. After the second
/// signal the run ends at once: the writes it could not confirm are
/// `unknown` (and the org holds every one of them), the rest
/// `not_attempted`, the report is written and the exit is 1, as for any
/// interrupt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_while_lost_answers_are_checked_reports_them_unknown_and_exits_1() {
    use crate::support::stall::StallProxy;
    let mut proxy = StallProxy::bind().await;
    let mut cfg = OrgConfig::default();
    cfg.faults.lost_answer_rate = 1.0;
    cfg.public_url = Some(proxy.url.clone());
    let emu = Emu::start(cfg).await;
    // Hold every query sent after the first write: the lost answers' checks.
    proxy.forward_to(
        &emu.base_url,
        Box::new(|line, before| {
            line.contains("/query")
                && before
                    .iter()
                    .any(|l| l.starts_with("POST ") && l.contains("composite/sobjects"))
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 30);
    let limits = "[limits]\nbatch_size = 10\nconcurrency = 2\nrequests_per_second = 100.0\nmax_creates = 100\n";
    let job = write_job(dir.path(), &proxy.url, Some(&csv), limits);
    let report = dir.path().join("r.json");
    let (mut child, heard, reader) = spawn_sync(&job, &report);

    // Given a check of a lost answer that hangs ...
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.held() < 1 {
        assert!(Instant::now() < deadline, "no lost answer was checked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ... when the first SIGTERM comes, the run waits for it (a call sent is
    // not abandoned on the first signal) ...
    let term = |pid: u32| {
        let ok = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    term(child.id());
    let wait_line = |heard: &std::sync::mpsc::Receiver<()>| {
        heard
            .recv_timeout(Duration::from_secs(30))
            .expect("an 'Interrupted' log line")
    };
    wait_line(&heard);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first signal alone already ended the run: the check did not hang"
    );
    // ... and the second ends it without waiting for the check.
    term(child.id());
    wait_line(&heard);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run hung after the second SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Interrupted again"), "{stderr}");

    // The report is written and tells the truth, entry by entry, against the org.
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let s = &r["summary"];
    let in_org = |u: &Value| emu.user(u["username"].as_str().unwrap()).is_some();
    let users = r["users"].as_array().unwrap();
    let unknown: Vec<&Value> = users.iter().filter(|u| u["outcome"] == "unknown").collect();
    assert!(
        !unknown.is_empty() && unknown.len().is_multiple_of(10),
        "whole batches unconfirmed: {s}"
    );
    assert!(unknown.iter().all(|u| in_org(u)), "{r}");
    assert!(
        unknown.iter().all(|u| u["message"]
            .as_str()
            .unwrap()
            .contains("interrupted a second time")),
        "{r}"
    );
    assert_eq!(s["unknown"].as_u64(), Some(unknown.len() as u64), "{s}");
    assert_eq!(s["created"], 0, "no answer ever came back: {s}");
    let not_attempted: Vec<&Value> = users
        .iter()
        .filter(|u| u["outcome"] == "not_attempted")
        .collect();
    assert!(not_attempted.iter().all(|u| !in_org(u)), "{r}");
    assert_eq!(unknown.len() + not_attempted.len(), 30, "{r}");
    assert_eq!(
        emu.users().len(),
        unknown.len(),
        "the org holds exactly the unknown ones"
    );
    emu.stop().await;
}
