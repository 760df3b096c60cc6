//! Shared by the benches (`csv`, `planner`, `e2e`, `access`): the generated people's
//! names, the demo job, a bench job for the binary, smoke mode, and measuring (median wall and on-CPU
//! time, load average, resident memory; Linux only).
// Each bench uses what it needs.
#![allow(dead_code)]

use std::path::Path;

use sfsync::job::Job;

pub const GIVEN: [&str; 8] = [
    "Michael", "Emily", "David", "Sarah", "José", "Aiko", "Olamide", "Grace",
];
pub const SURNAMES: [&str; 8] = [
    "Johnson", "Williams", "Brown", "Jones", "Núñez", "Tanaka", "Adeyemi", "O'Neil",
];

/// `name` with only its ASCII letters, for e-mail addresses (`Núñez` -> `Nez`).
pub fn ascii(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphabetic).collect()
}

/// CI's smoke run: tiny sizes.
pub fn smoke() -> bool {
    std::env::var_os("SFSYNC_BENCH_SMOKE").is_some()
}

/// `jobs/demo.toml`, the mapping the benches normalize with.
pub fn demo_job() -> Job {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/demo.toml");
    sfsync::job::load(&path).expect("jobs/demo.toml loads")
}

/// Nanoseconds this process's threads have spent on a CPU (user + system,
/// Linux `/proc/self/stat`, 10 ms ticks): with other work on the machine,
/// wall time also counts the waits for a core.
pub fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    ticks * 10_000_000
}

/// Runs `f` `runs` times; prints the median wall and on-CPU time, and the
/// load average, so a figure taken on a busy machine says so.
pub fn median_of<T>(what: &str, runs: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (w, c) = (std::time::Instant::now(), cpu_ns());
        let out = f();
        cpu.push((cpu_ns() - c) as f64 / 1e9);
        wall.push(w.elapsed().as_secs_f64());
        drop(out);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    let (wall, cpu) = (median(&mut wall), median(&mut cpu));
    eprintln!(
        "{what}: median of {runs}: {wall:.3} s wall, {cpu:.3} s on CPU (load average {load})"
    );
    (wall, cpu)
}

/// Resident set size of this process, in bytes (Linux).
pub fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A CSV job for the benches that run the binary: `csv` into `url` with
/// password-flow secrets in files beside it, no safety stop, no API
/// reserve; `limits` goes on inside `[limits]` (more keys, then any other
/// sections). Returns the job file's path.
pub fn bench_job(dir: &Path, url: &str, csv: &Path, limits: &str) -> std::path::PathBuf {
    for (f, v) in [
        ("id", "bench"),
        ("secret", "bench"),
        ("user", "svc@example.com"),
        ("pw", "bench"),
    ] {
        std::fs::write(dir.join(f), v).unwrap();
        // Secret files readable by others are warned about (issue 12).
        std::fs::set_permissions(
            dir.join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }
    let text = format!(
        r#"name = "bench"
[source]
type = "csv"
path = {csv:?}
[salesforce]
instance_url = "{url}"
client_id_file = "id"
client_secret_file = "secret"
username_file = "user"
password_file = "pw"
[mapping]
Username = "{{mail|lower}}"
Email = "{{mail}}"
FirstName = "{{givenName}}"
LastName = "{{sn}}"
Alias = "{{givenName|first:1}}{{sn|first:7}}"
FederationIdentifier = "{{uid}}"
[defaults]
ProfileId = "00e90000001aV2o"
TimeZoneSidKey = "America/Los_Angeles"
LocaleSidKey = "en_US"
EmailEncodingKey = "UTF-8"
LanguageLocaleKey = "en_US"
[safety]
min_source_fraction = 0.0
[limits]
max_creates = 10000000
api_reserve = 0
{limits}
"#,
        csv = csv.display().to_string(),
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, text).unwrap();
    path
}
