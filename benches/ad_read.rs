//! Active Directory read benchmark: the enabled people of a throwaway Samba AD
//! DC (2,000 generated users) read from the domain root by sfsync's LDAP source
//! versus `ldapsearch -E pr=1000/noprompt` with the same filter and attributes,
//! in the same run, both inside the DC's network namespace.
//!
//! Run: `cargo bench --bench ad_read` (release profile; root, and
//! `.ci/install-samba`). `SFSYNC_BENCH_USERS` changes the number of generated
//! users (default 2000), `SFSYNC_BENCH_RUNS` the timed runs of each reader
//! (default 5). Provisioning the DC takes 20-30 s and is not timed. Without
//! root or a network namespace it prints why and measures nothing.

#[path = "../tests/integration/support/samba.rs"]
mod samba;

use std::process::Stdio;
use std::time::{Duration, Instant};

use samba::{AD_FILTER, BASE, Samba};
use sfsync::source::ldap::{self, Wanted};
use sfsync::template::AttrKind;

const PAGE: i32 = 1_000;
/// What `jobs/nightly-ad.toml` maps, objectGUID read as bytes.
const ATTRIBUTES: [&str; 7] = [
    "mail",
    "givenname",
    "sn",
    "objectguid",
    "employeeid",
    "title",
    "department",
];

/// CI's smoke run (`SFSYNC_BENCH_SMOKE=1 cargo bench -- --test`): tiny sizes.
fn smoke() -> bool {
    std::env::var_os("SFSYNC_BENCH_SMOKE").is_some() || std::env::args().any(|a| a == "--test")
}

fn env_number(name: &str, default: usize, smoke_default: usize) -> usize {
    let default = if smoke() { smoke_default } else { default };
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn summary(name: &str, times: &mut [Duration], count: usize) -> Duration {
    let m = median(times);
    let secs: Vec<String> = times
        .iter()
        .map(|t| format!("{:.3}", t.as_secs_f64()))
        .collect();
    println!(
        "{name:<28} {count:>8} entries  median {:.3} s  (runs: {} s)",
        m.as_secs_f64(),
        secs.join(", ")
    );
    m
}

fn main() {
    let users = env_number("SFSYNC_BENCH_USERS", 2_000, 100);
    let runs = env_number("SFSYNC_BENCH_RUNS", 5, 1).max(1);

    let started = Instant::now();
    let samba = match Samba::start(users) {
        Ok(s) => s,
        Err(why) => {
            println!("ad_read: skipped, the Samba AD DC cannot run here: {why}");
            return;
        }
    };
    println!(
        "Samba AD DC with {users} generated users provisioned and started in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let expected = samba.expected.people.len();

    let mut source = samba.source();
    source.page_size = PAGE;
    let names: Vec<String> = ATTRIBUTES.map(String::from).to_vec();
    let kinds: Vec<AttrKind> = names
        .iter()
        .map(|n| {
            if n == "objectguid" {
                AttrKind::Binary
            } else {
                AttrKind::Text
            }
        })
        .collect();
    let password = Samba::password();

    let mut sfsync_times = Vec::new();
    let mut sfsync_count = 0;
    for _ in 0..runs {
        let (elapsed, count) = samba.in_netns(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let t = Instant::now();
            let read = runtime
                .block_on(ldap::read_all(
                    &source,
                    Some(&password),
                    Wanted {
                        names: &names,
                        kinds: &kinds,
                    },
                ))
                .expect("sfsync AD read");
            let elapsed = t.elapsed();
            assert!(read.references.is_empty(), "domain scope: no references");
            assert!(
                read.records.iter().all(|r| r.value(3).is_some()),
                "every objectGUID"
            );
            (elapsed, read.records.len())
        });
        sfsync_times.push(elapsed);
        sfsync_count = count;
    }

    let mut ldapsearch_times = Vec::new();
    let mut ldapsearch_count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = samba
            .ldapsearch(BASE, AD_FILTER, &ATTRIBUTES, PAGE)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run ldapsearch (install ldap-utils with .ci/install-samba)");
        ldapsearch_times.push(t.elapsed());
        assert!(out.status.success(), "ldapsearch failed");
        ldapsearch_count = out
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"dn: ") || l.starts_with(b"dn:: "))
            .count();
    }

    println!("base {BASE}, page size {PAGE}, attributes {ATTRIBUTES:?}, filter {AD_FILTER}");
    let ours = summary("sfsync source::ldap", &mut sfsync_times, sfsync_count);
    let theirs = summary(
        "ldapsearch -E pr=1000",
        &mut ldapsearch_times,
        ldapsearch_count,
    );
    println!(
        "ratio sfsync / ldapsearch: {:.2}x (target <= 1.5x)",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    assert_eq!(sfsync_count, expected, "sfsync read every enabled person");
    assert_eq!(
        ldapsearch_count, expected,
        "ldapsearch read every enabled person"
    );
}
