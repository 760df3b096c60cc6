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

async fn interrupt_mid_run(sig: &str) {
    let mut cfg = OrgConfig::default();
    cfg.faults.latency = Duration::from_millis(100);
    let emu = Emu::start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = people_csv(dir.path(), 1000);
    let limits = "[limits]\nbatch_size = 20\nconcurrency = 2\nrequests_per_second = 100.0\nmax_creates = 5000\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), limits);
    let report = dir.path().join("r.json");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("sfsync"))
        .args(["sync", "--job", job.to_str().unwrap()])
        .args(["--report", report.to_str().unwrap()])
        .envs(SECRETS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stderr read on a thread (the child must never block on a full pipe);
    // the channel says when the run has logged the interrupt
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
