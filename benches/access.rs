//! Issue 17's figure: 10,000 creates with 2 permission sets and 1 public
//! group each, through the release binary against an in-process emulator.
//! Asserted from the emulator's request log: exactly ceil(10,000/200) = 50
//! User create calls, ceil(20,000/200) = 100 PermissionSetAssignment calls
//! and ceil(10,000/200) = 50 GroupMember calls (150 assignment calls), each
//! call of one object only, and the lookups counted.
//!
//!   cargo bench --bench access                                # full size
//!   SFSYNC_BENCH_SMOKE=1 cargo bench --bench access -- --test # CI smoke: 1,000 people

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use sfsync::emulator::{AccessSeed, OrgConfig, RequestKind};

#[path = "support/common.rs"]
mod common;

const BIN: &str = env!("CARGO_BIN_EXE_sfsync");

fn smoke() -> bool {
    std::env::var_os("SFSYNC_BENCH_SMOKE").is_some() || std::env::args().any(|a| a == "--test")
}

fn people_csv(path: &Path, n: usize) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "uid,givenName,sn,mail").unwrap();
    for i in 0..n {
        writeln!(w, "p{i:07},Given{i},Surname{i},p{i:07}@corp.example.com").unwrap();
    }
}

fn main() {
    let n: usize = if smoke() { 1_000 } else { 10_000 };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    people_csv(&csv, n);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/salesforce-access.toml");
    let cfg = OrgConfig {
        access: AccessSeed::read(&seed).unwrap(),
        daily_api_limit: 100_000_000,
        ..OrgConfig::default()
    };
    let emu = rt.block_on(sfsync::emulator::start(cfg)).unwrap();
    let job = common::bench_job(
        dir.path(),
        &emu.base_url,
        &csv,
        "requests_per_second = 1000.0\nconcurrency = 8\n[access]\npermission_sets = [\"Report_Viewer\", \"Chatter_Extras\"]\npublic_groups = [\"All_Staff\"]\n",
    );
    let start = Instant::now();
    let out = std::process::Command::new(BIN)
        .args(["-q", "sync", "--job", job.to_str().unwrap(), "--report"])
        .arg(dir.path().join("report.json"))
        .output()
        .unwrap();
    let wall = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = emu.org.log();
    let creates: Vec<usize> = log
        .iter()
        .filter(|r| r.kind == RequestKind::CreateCollection)
        .map(|r| r.records)
        .collect();
    let queries = log
        .iter()
        .filter(|r| matches!(r.kind, RequestKind::Query | RequestKind::QueryMore))
        .count();
    let others = log.iter().filter(|r| r.kind.is_api()).count() - creates.len() - queries;
    let user_calls = n.div_ceil(200);
    let assignment_calls = (2 * n).div_ceil(200) + n.div_ceil(200);
    assert_eq!(creates.len(), user_calls + assignment_calls, "{creates:?}");
    assert_eq!(creates.iter().sum::<usize>(), 4 * n);
    // Assignments come after the creates: the first calls carry the users.
    assert_eq!(emu.org.counters().users_created, n as u64);
    let rows = emu.org.access_rows();
    assert_eq!(rows.len(), 3 * n);
    let mut unique = rows.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3 * n, "no duplicate assignment");
    println!(
        "access e2e: {n} creates with 2 permission sets and 1 group each: {} create calls ({user_calls} User + {assignment_calls} assignment), {queries} queries (lookups: PermissionSet, Group by name; the org's users), {others} other API calls, wall {:.2} s",
        creates.len(),
        wall.as_secs_f64()
    );
}
