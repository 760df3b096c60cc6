//! LDAP read benchmark: 100,000 people read by sfsync's LDAP source versus
//! `ldapsearch -E pr=1000/noprompt` for the same filter and attributes on the
//! same throwaway slapd.
//!
//! Run: `cargo bench --bench ldap_read` (release profile; needs `.ci/install-slapd`).
//! `SFSYNC_BENCH_ENTRIES` changes the number of generated people (default 100000),
//! `SFSYNC_BENCH_RUNS` the number of timed runs of each reader (default 3).
//! The LDIF is generated at bench time, never committed.

#[path = "../tests/integration/support/slapd.rs"]
mod slapd;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slapd::{Options, SERVICE_DN, SERVICE_PASSWORD, Slapd};

const PAGE: i32 = 1_000;
const ATTRIBUTES: [&str; 4] = ["mail", "givenname", "sn", "uid"];

/// CI's smoke run (`SFSYNC_BENCH_SMOKE=1 cargo bench -- --test`): tiny sizes.
fn smoke() -> bool {
    std::env::var_os("SFSYNC_BENCH_SMOKE").is_some() || std::env::args().any(|a| a == "--test")
}

fn env_number(name: &str, default: usize) -> usize {
    let default = if smoke() { default.min(2_000) } else { default };
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn summary(name: &str, times: &mut [Duration], count: usize) {
    times.sort();
    let median = times[times.len() / 2];
    let secs: Vec<String> = times
        .iter()
        .map(|t| format!("{:.3}", t.as_secs_f64()))
        .collect();
    println!(
        "{name:<28} {count:>8} entries  median {:.3} s  (runs: {} s)",
        median.as_secs_f64(),
        secs.join(", ")
    );
}

fn main() {
    // `cargo bench` passes `--bench` (and CI `--test`, see `smoke`).
    let entries = env_number("SFSYNC_BENCH_ENTRIES", 100_000);
    let runs = env_number("SFSYNC_BENCH_RUNS", 3).max(1);

    let started = Instant::now();
    let server = Slapd::start_with(Options {
        samples: false,
        extra_ldif: slapd::bulk_people(entries),
        unlimited_service_account: true,
        ..Options::default()
    });
    println!(
        "slapd with {entries} generated people loaded (slapadd -q) and started in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut source = server.source();
    source.page_size = PAGE;
    source.timeout_secs = 60;
    let attributes: Vec<String> = ATTRIBUTES.map(String::from).to_vec();
    let password = Slapd::password();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut sfsync_times = Vec::new();
    let mut sfsync_count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let records = runtime
            .block_on(sfsync::source::ldap::read_all(
                &source,
                Some(&password),
                sfsync::source::ldap::Wanted::text(&attributes),
            ))
            .expect("sfsync LDAP read")
            .records;
        sfsync_times.push(t.elapsed());
        sfsync_count = records.len();
        assert!(records.iter().all(|r| r.values().all(|v| v.is_some())));
    }

    let pwfile = server.dir().join("bench-password");
    std::fs::write(&pwfile, SERVICE_PASSWORD).expect("write password file");
    // ldapsearch warns about (and admins rightly frown at) readable password files.
    std::fs::set_permissions(&pwfile, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod password file");
    let mut ldapsearch_times = Vec::new();
    let mut ldapsearch_count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-H",
                &server.ldap_url(),
                "-D",
                SERVICE_DN,
                "-y",
            ])
            .arg(&pwfile)
            .args([
                "-b",
                slapd::PEOPLE_BASE,
                "-E",
                &format!("pr={PAGE}/noprompt"),
            ])
            .arg(slapd::FILTER)
            .args(ATTRIBUTES)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run ldapsearch (install ldap-utils with .ci/install-slapd)");
        ldapsearch_times.push(t.elapsed());
        assert!(out.status.success(), "ldapsearch failed");
        ldapsearch_count = out
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"dn: "))
            .count();
    }

    println!(
        "page size {PAGE}, attributes {ATTRIBUTES:?}, filter {}",
        slapd::FILTER
    );
    summary("sfsync source::ldap", &mut sfsync_times, sfsync_count);
    summary(
        "ldapsearch -E pr=1000",
        &mut ldapsearch_times,
        ldapsearch_count,
    );
    assert_eq!(sfsync_count, entries, "sfsync read every generated person");
    assert_eq!(
        ldapsearch_count, entries,
        "ldapsearch read every generated person"
    );
}
