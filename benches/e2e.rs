//! End-to-end figures for issue 7, through the release binary as a user runs it:
//!
//! 2. `sfsync plan`: a 1,000,000-row CSV against an emulator org of 1,000,000
//!    users (half of the people match): wall time and peak RSS of sfsync.
//! 3. `sfsync sync`: 100,000 new users from CSV, no injected latency: wall
//!    time, create calls, token calls.
//! 4. Pacing: 100 ms latency, concurrency 8, 20 requests/s, 100,000 users:
//!    users/s against min(rps, concurrency / latency) x batch size.
//!
//! The emulator runs as its own process (`sfsync emulator`), so the figures
//! are sfsync's alone. Inputs are generated in a temp folder at bench time.
//!
//!   cargo bench --bench e2e                          # all three, full size
//!   cargo bench --bench e2e -- plan|sync|pacing      # one of them
//!   SFSYNC_BENCH_SMOKE=1 cargo bench --bench e2e -- --test   # CI smoke: tiny sizes

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/common.rs"]
mod common;

const BIN: &str = env!("CARGO_BIN_EXE_sfsync");

fn smoke() -> bool {
    std::env::var_os("SFSYNC_BENCH_SMOKE").is_some() || std::env::args().any(|a| a == "--test")
}

/// People `p0000000@corp.example.com`.. as the CSV source.
fn people_csv(path: &Path, from: usize, to: usize) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "uid,givenName,sn,mail").unwrap();
    for i in from..to {
        writeln!(w, "p{i:07},Given{i},Surname{i},p{i:07}@corp.example.com").unwrap();
    }
}

/// The same people as an org export for `sfsync emulator --users`.
fn org_csv(path: &Path, from: usize, to: usize) {
    org_csv_named(path, from, to, "Surname");
}

/// [`org_csv`] with each LastName `{surname}{i}` (a mover when it is not `Surname`).
fn org_csv_named(path: &Path, from: usize, to: usize, surname: &str) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        w,
        "Username,Email,FirstName,LastName,Alias,IsActive,FederationIdentifier,ProfileId"
    )
    .unwrap();
    for i in from..to {
        let mail = format!("p{i:07}@corp.example.com");
        writeln!(
            w,
            "{mail},{mail},Given{i},{surname}{i},GSurname,true,p{i:07},00e90000001aV2o"
        )
        .unwrap();
    }
}

struct Emulator {
    child: Child,
    url: String,
}

impl Emulator {
    fn start(args: &[&str]) -> Emulator {
        let mut child = Command::new(BIN)
            .args(["-q", "emulator", "--admin-open", "--listen", "127.0.0.1:0"])
            .args(["--daily-api-limit", "100000000"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Emulator {
            child,
            url: line.trim().to_owned(),
        }
    }

    /// `GET /_emulator/counters` over a plain socket (HTTP/1.0: the answer
    /// is the body until the server closes; no `curl` needed on CI).
    fn counters(&self) -> serde_json::Value {
        use std::io::Read;
        let host = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(
            stream,
            "GET /_emulator/counters HTTP/1.0\r\nHost: {host}\r\n\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let at = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        assert!(answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"));
        serde_json::from_slice(&answer[at + 4..]).unwrap()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs sfsync to the end; returns (wall, peak RSS in bytes, exit code).
fn measure(args: &[&str]) -> (Duration, u64, i32) {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let code = loop {
        // VmHWM is the process's own high-water mark; the last read before exit is its peak.
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(v) = s.lines().find_map(|l| l.strip_prefix("VmHWM:"))
        {
            peak_kib = peak_kib.max(v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (start.elapsed(), peak_kib * 1024, code)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `lifecycle`: the job also has `[update]` of 8 fields and `[leavers]`
/// (action "report", every active org user in scope), issue 15's figure.
fn bench_plan(dir: &Path, runs: usize, lifecycle: bool) {
    let n = if smoke() { 2_000 } else { 1_000_000 };
    let csv = dir.join("people.csv");
    let org = dir.join("org.csv");
    // Half the people exist: the org holds the upper half plus as many others.
    people_csv(&csv, 0, n);
    org_csv(&org, n / 2, n + n / 2);
    let emu = Emulator::start(&["--users", org.to_str().unwrap()]);
    // The job's own pacing would decide the read's speed (500 pages at 5 calls/s
    // is 100 s by design); this measures sfsync, so the bucket is wide open.
    let sections = if lifecycle {
        "requests_per_second = 1000.0\n[update]\nfields = [\"FirstName\", \"LastName\", \"Alias\", \"FederationIdentifier\", \"TimeZoneSidKey\", \"LocaleSidKey\", \"EmailEncodingKey\", \"LanguageLocaleKey\"]\nmax_updates = 10000000\n[leavers]\naction = \"report\"\n"
    } else {
        "requests_per_second = 1000.0\n"
    };
    let job = common::bench_job(dir, &emu.url, &csv, sections);
    let report = dir.join("plan.json");
    let mut walls = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..runs {
        let (wall, peak, code) = measure(&[
            "-q",
            "plan",
            "--job",
            job.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "plan failed");
        walls.push(wall.as_secs_f64());
        peaks.push(peak as f64);
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let s = &summary["summary"];
    assert_eq!(s["create"], n / 2);
    let matched = s["unchanged"].as_u64().unwrap_or(0) + s["update"].as_u64().unwrap_or(0);
    assert_eq!(matched, n as u64 / 2);
    if lifecycle {
        // The org's upper half has no source record: every one a leaver.
        assert_eq!(s["leaver"], n / 2);
    }
    let peak = median(peaks);
    let what = if lifecycle {
        " with [update] of 8 fields and [leavers]"
    } else {
        ""
    };
    println!(
        "plan e2e{what}: {n} CSV rows vs {n} org users: wall {:.2} s (median of {runs}), peak RSS {:.0} MiB = {:.0} bytes per source record + org user",
        median(walls),
        peak / 1_048_576.0,
        peak / (2.0 * n as f64)
    );
}

fn bench_sync(dir: &Path, runs: usize) {
    let n = if smoke() { 1_000 } else { 100_000 };
    let csv = dir.join("new.csv");
    people_csv(&csv, 0, n);
    let mut walls = Vec::new();
    for _ in 0..runs {
        let emu = Emulator::start(&[]);
        let job = common::bench_job(
            dir,
            &emu.url,
            &csv,
            "requests_per_second = 1000.0\nconcurrency = 8\n",
        );
        let (wall, _, code) = measure(&[
            "-q",
            "sync",
            "--job",
            job.to_str().unwrap(),
            "--report",
            dir.join("sync.json").to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "sync failed");
        let c = emu.counters();
        assert_eq!(
            c["create_collection_calls"].as_u64(),
            Some(n.div_ceil(200) as u64)
        );
        assert_eq!(c["token_calls"].as_u64(), Some(1));
        assert_eq!(c["users_created"].as_u64(), Some(n as u64));
        walls.push(wall.as_secs_f64());
    }
    println!(
        "sync e2e: {n} new users, no latency, concurrency 8: wall {:.2} s (median of {runs}), {} create calls, 1 token call, {:.0} users/s",
        median(walls.clone()),
        n.div_ceil(200),
        n as f64 / median(walls)
    );
}

/// Issue 15: 100,000 movers (every LastName changed) in exactly 500 PATCH
/// calls of collections and one token call.
fn bench_updates(dir: &Path, runs: usize) {
    let n = if smoke() { 1_000 } else { 100_000 };
    let csv = dir.join("movers.csv");
    people_csv(&csv, 0, n);
    let org = dir.join("movers-org.csv");
    org_csv_named(&org, 0, n, "Maiden");
    let mut walls = Vec::new();
    for _ in 0..runs {
        let emu = Emulator::start(&["--users", org.to_str().unwrap()]);
        let job = common::bench_job(
            dir,
            &emu.url,
            &csv,
            "requests_per_second = 1000.0\nconcurrency = 8\n[update]\nfields = [\"LastName\"]\nmax_updates = 10000000\n",
        );
        let (wall, _, code) = measure(&[
            "-q",
            "sync",
            "--job",
            job.to_str().unwrap(),
            "--report",
            dir.join("updates.json").to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "sync failed");
        let c = emu.counters();
        assert_eq!(
            c["update_collection_calls"].as_u64(),
            Some(n.div_ceil(200) as u64)
        );
        assert_eq!(c["create_collection_calls"].as_u64(), Some(0));
        assert_eq!(c["token_calls"].as_u64(), Some(1));
        assert_eq!(c["users_updated"].as_u64(), Some(n as u64));
        walls.push(wall.as_secs_f64());
    }
    println!(
        "updates e2e: {n} movers, no latency, concurrency 8: wall {:.2} s (median of {runs}), {} PATCH calls, 1 token call, {:.0} users/s",
        median(walls.clone()),
        n.div_ceil(200),
        n as f64 / median(walls)
    );
}

fn bench_pacing(dir: &Path, runs: usize) {
    let n = if smoke() { 2_000 } else { 100_000 };
    let (rps, concurrency, latency_ms) = (20.0, 8usize, 100u64);
    let csv = dir.join("pacing.csv");
    people_csv(&csv, 0, n);
    let allowed = f64::min(rps, concurrency as f64 / (latency_ms as f64 / 1000.0)) * 200.0;
    let mut walls = Vec::new();
    for _ in 0..runs {
        // A fresh org each time: every run creates all n.
        let emu = Emulator::start(&["--latency-ms", &latency_ms.to_string()]);
        let job = common::bench_job(
            dir,
            &emu.url,
            &csv,
            &format!("requests_per_second = {rps}\nconcurrency = {concurrency}\n"),
        );
        let (wall, _, code) = measure(&["-q", "sync", "--job", job.to_str().unwrap()]);
        assert_eq!(code, 0, "sync failed");
        assert_eq!(emu.counters()["users_created"].as_u64(), Some(n as u64));
        let wall = wall.as_secs_f64();
        println!(
            "pacing run: wall {wall:.2} s = {:.1}%",
            100.0 * n as f64 / wall / allowed
        );
        walls.push(wall);
    }
    let wall = median(walls);
    let achieved = n as f64 / wall;
    println!(
        "pacing: {n} users, {latency_ms} ms latency, concurrency {concurrency}, {rps} req/s: {achieved:.0} users/s of {allowed:.0} allowed = {:.1}% (wall {wall:.2} s, median of {runs})",
        100.0 * achieved / allowed,
    );
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    let dir = tempfile::tempdir().unwrap();
    let runs = if smoke() { 1 } else { 3 };
    if want("plan") {
        bench_plan(dir.path(), runs, false);
    }
    if want("plan-lifecycle") {
        bench_plan(dir.path(), runs, true);
    }
    if want("sync") {
        bench_sync(dir.path(), runs);
    }
    if want("updates") {
        bench_updates(dir.path(), runs);
    }
    if want("pacing") {
        bench_pacing(dir.path(), runs);
    }
}
