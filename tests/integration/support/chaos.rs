//! Issue 16's randomized chaos schedules, shared by the integration test
//! (`tests/integration/chaos.rs`, a fixed number in CI) and the bench-style
//! command (`benches/chaos.rs`, any number: `--schedules N`).
//!
//! One schedule, generated from its seed: an org and a source with creates,
//! movers (`[update]`), reactivations and leavers (`[leavers] action =
//! "deactivate"`, scoped to users with a FederationIdentifier); an in-process
//! emulator with a random fault mix and rate (0-40%), lost answers (0-30%),
//! token expiry (down to every call), latency and short query pages; a job
//! with batch size 1-200, concurrency 1-8 and maybe a budget near the API
//! reserve (or the daily limit itself); and maybe a kill -9 or SIGTERM of
//! the `sfsync sync` child once the org has answered N API calls.
//!
//! Then `sfsync sync` runs again ("the next night": the daily allowance
//! starts afresh; faults and lost answers stay on, no more kills or budget
//! squeeze) until a run exits 0 having sent no write, at most [`MAX_RUNS`].
//! After every run the emulator's own record (its users before and after the
//! run, its counters, its API usage) judges it:
//!
//! - duplicates: no create met an existing username (the emulator counts
//!   DUPLICATE_USERNAME answers; no foreign usernames are seeded, so every
//!   one would be a second create of someone) and no username is held twice;
//! - wrong writes: every change the org committed is one the plan names (a
//!   created source person, a mover's new names, a reactivation, a leaver's
//!   deactivation); nobody else is touched;
//! - wrong reports: the report is valid JSON and every entry `created`,
//!   `updated`, `reactivated`, `deactivated` was committed in that run, and
//!   every change committed in that run is reported as done or `unknown`,
//!   never `not_attempted` or `failed`; the summary counts its entries;
//! - exit codes: -9 leaves no code and no report; SIGTERM is 1 with a
//!   report; otherwise 4 exactly when the report says a limit stopped it, 1
//!   only for a fatal stop the report names, 3 when entries need a person,
//!   else 0;
//! - reserve crossings: the org's remaining daily calls never fell below the
//!   job's `api_reserve`.
//!
//! After convergence the org must equal the expected set exactly.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sfsync::emulator::{self, EmulatedUser, FaultKind, Org, OrgConfig, RequestKind, SeedUser};

/// Runs of one schedule before it counts as not converging.
pub const MAX_RUNS: usize = 10;

/// Secrets the generated job reads from the child's environment.
const ENV: [(&str, &str); 4] = [
    ("SFSYNC_CHAOS_CLIENT_ID", "chaos-client"),
    ("SFSYNC_CHAOS_CLIENT_SECRET", "chaos-secret"),
    ("SFSYNC_CHAOS_USERNAME", "svc@chaos.example.com"),
    ("SFSYNC_CHAOS_PASSWORD", "chaos-password-TOKEN"),
];

/// How the first run is stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `kill -9` once the org has answered this many API calls of the run.
    Kill9(u64),
    /// `kill -TERM` likewise.
    Term(u64),
}

/// The API budget of the first run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The job's `api_reserve` (0: the daily limit itself is met).
    pub reserve: u64,
    /// Calls left above the reserve when the run starts (at least 1: the
    /// first call is made before any `Sforce-Limit-Info` tells the usage).
    pub headroom: u64,
}

/// One generated schedule: everything a run depends on, from its seed.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    pub creates: usize,
    pub unchanged: usize,
    pub movers: usize,
    pub reactivations: usize,
    pub leavers: usize,
    /// Active users outside the leaver scope (no FederationIdentifier).
    pub strangers: usize,
    pub fault_rate: f64,
    pub fault_kinds: Vec<FaultKind>,
    pub lost_answer_rate: f64,
    /// 0 = tokens never expire.
    pub token_ttl_calls: u64,
    pub latency_ms: u64,
    pub max_query_page: usize,
    pub batch_size: usize,
    pub concurrency: usize,
    pub budget: Option<Budget>,
    pub stop: Option<Stop>,
}

impl Schedule {
    /// The schedule of `seed`; populations between `min_people` and `max_people`.
    pub fn generate(seed: u64, min_people: usize, max_people: usize) -> Schedule {
        let mut rng = StdRng::seed_from_u64(seed);
        let people = rng.random_range(min_people..=max_people);
        // Shares of the source: creates, unchanged, movers, reactivations.
        let creates = rng.random_range(people / 5..=people * 3 / 5);
        let movers = rng.random_range(0..=(people - creates) / 2);
        let reactivations = rng.random_range(0..=(people - creates - movers) / 4);
        let unchanged = people - creates - movers - reactivations;
        let leavers = rng.random_range(0..=people / 5);
        let strangers = rng.random_range(0..=5);
        let all = [
            FaultKind::ServerUnavailable,
            FaultKind::TooManyRequests,
            FaultKind::Dropped,
            FaultKind::LockRow,
            FaultKind::LostAnswer,
        ];
        let fault_kinds: Vec<FaultKind> = all
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.6))
            .collect();
        let fault_rate = if fault_kinds.is_empty() || rng.random_bool(0.1) {
            0.0
        } else {
            rng.random_range(0.0..=0.4)
        };
        let lost_answer_rate = if rng.random_bool(0.2) {
            0.0
        } else {
            rng.random_range(0.0..=0.3)
        };
        let token_ttl_calls = *[0, 0, 1, 2, 3, 5, 20]
            .get(rng.random_range(0..7))
            .unwrap_or(&0);
        let latency_ms = *[0, 0, 1, 5, 20].get(rng.random_range(0..5)).unwrap_or(&0);
        let max_query_page = *[2000, 2000, 7, 50]
            .get(rng.random_range(0..4))
            .unwrap_or(&2000);
        // Log-uniform over 1..=200: small batches (many calls) as often as big ones.
        let batch_size = (200f64.powf(rng.random_range(0.0..=1.0)).round() as usize).clamp(1, 200);
        let concurrency = rng.random_range(1..=8);
        let budget = match rng.random_range(0..6) {
            0 => Some(Budget {
                reserve: rng.random_range(5..=200),
                headroom: rng.random_range(1..=80),
            }),
            1 => Some(Budget {
                reserve: 0,
                headroom: rng.random_range(1..=80),
            }),
            _ => None,
        };
        let stop = match rng.random_range(0..6) {
            0 => Some(Stop::Kill9(rng.random_range(1..=30))),
            1 => Some(Stop::Term(rng.random_range(1..=30))),
            _ => None,
        };
        Schedule {
            seed,
            creates,
            unchanged,
            movers,
            reactivations,
            leavers,
            strangers,
            fault_rate,
            fault_kinds,
            lost_answer_rate,
            token_ttl_calls,
            latency_ms,
            max_query_page,
            batch_size,
            concurrency,
            budget,
            stop,
        }
    }

    fn source_people(&self) -> Vec<Person> {
        let mut v = Vec::new();
        let mut add = |prefix: &str, n: usize, role: Role| {
            for i in 0..n {
                v.push(Person::new(prefix, i, role));
            }
        };
        add("c", self.creates, Role::Create);
        add("u", self.unchanged, Role::Unchanged);
        add("m", self.movers, Role::Mover);
        add("r", self.reactivations, Role::Reactivate);
        v
    }

    fn org_config(&self) -> OrgConfig {
        let mut users: Vec<SeedUser> = Vec::new();
        for p in self.source_people() {
            match p.role {
                Role::Create => {}
                Role::Unchanged => users.push(p.seed(&p.last)),
                Role::Mover => users.push(p.seed(&format!("Old{}", p.last))),
                Role::Reactivate => users.push(p.seed(&p.last).inactive()),
                Role::Leaver | Role::Stranger => unreachable!(),
            }
        }
        for i in 0..self.leavers {
            let p = Person::new("l", i, Role::Leaver);
            users.push(p.seed(&p.last));
        }
        for i in 0..self.strangers {
            let p = Person::new("s", i, Role::Stranger);
            users.push(SeedUser::new(&p.mail).with("FirstName", &p.given));
        }
        let mut cfg = OrgConfig {
            users,
            ..OrgConfig::default()
        };
        cfg.faults.seed = self.seed;
        cfg.faults.fault_rate = self.fault_rate;
        cfg.faults.kinds = self.fault_kinds.clone();
        cfg.faults.lost_answer_rate = self.lost_answer_rate;
        cfg.faults.latency = Duration::from_millis(self.latency_ms);
        // Retry-After: 0 keeps a schedule quick; backoff and jitter still apply.
        cfg.faults.retry_after_secs = 0;
        cfg.token_ttl_calls = self.token_ttl_calls;
        cfg.max_query_page = self.max_query_page;
        cfg.daily_api_limit = 1_000_000;
        if let Some(b) = self.budget {
            cfg.api_calls_used = cfg.daily_api_limit - b.reserve - b.headroom;
        }
        cfg
    }

    fn job_text(&self, base_url: &str, csv: &Path) -> String {
        let reserve = self.budget.map_or(0, |b| b.reserve);
        let [(id, _), (secret, _), (user, _), (pw, _)] = ENV;
        format!(
            r#"name = "chaos"

[source]
type = "csv"
path = {csv:?}

[salesforce]
instance_url = "{base_url}"
api_version = "v62.0"
auth = "password"
client_id_env = "{id}"
client_secret_env = "{secret}"
username_env = "{user}"
password_env = "{pw}"

[mapping]
Username = "{{mail|lower}}"
Email = "{{mail}}"
FirstName = "{{givenName}}"
LastName = "{{sn}}"
Alias = "{{givenName|first:1}}{{sn|first:7}}"
FederationIdentifier = "{{uid}}"

[defaults]
Profile = "Chatter Free User"
TimeZoneSidKey = "America/Los_Angeles"
LocaleSidKey = "en_US"
EmailEncodingKey = "UTF-8"
LanguageLocaleKey = "en_US"

[match]
keys = ["FederationIdentifier", "Username"]

[update]
fields = ["FirstName", "LastName"]
max_updates = 100000

[leavers]
action = "deactivate"
scope = "FederationIdentifier != null"
max_deactivations = 100000
max_deactivation_fraction = 1.0
reactivate = true

[limits]
requests_per_second = 1000.0
concurrency = {concurrency}
batch_size = {batch}
max_creates = 100000
api_reserve = {reserve}
max_retries = 8
"#,
            csv = csv.display().to_string(),
            concurrency = self.concurrency,
            batch = self.batch_size,
        )
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.fault_kinds.iter().map(|k| k.cli_name()).collect();
        write!(
            f,
            "seed {} | people: {} create, {} unchanged, {} movers, {} reactivations; org: {} leavers, {} strangers | faults {:.0}% of [{}], lost answers {:.0}%, token ttl {} calls, latency {} ms, query page {} | batch {}, concurrency {} | budget {} | stop {}",
            self.seed,
            self.creates,
            self.unchanged,
            self.movers,
            self.reactivations,
            self.leavers,
            self.strangers,
            self.fault_rate * 100.0,
            kinds.join(","),
            self.lost_answer_rate * 100.0,
            self.token_ttl_calls,
            self.latency_ms,
            self.max_query_page,
            self.batch_size,
            self.concurrency,
            self.budget.map_or("none".into(), |b| format!(
                "reserve {} + {} calls",
                b.reserve, b.headroom
            )),
            match self.stop {
                None => "none".into(),
                Some(Stop::Kill9(n)) => format!("kill -9 after {n} calls"),
                Some(Stop::Term(n)) => format!("SIGTERM after {n} calls"),
            },
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Create,
    Unchanged,
    Mover,
    Reactivate,
    Leaver,
    Stranger,
}

#[derive(Debug, Clone)]
struct Person {
    uid: String,
    mail: String,
    given: String,
    last: String,
    role: Role,
}

impl Person {
    fn new(prefix: &str, i: usize, role: Role) -> Person {
        let uid = format!("{prefix}{i:04}");
        Person {
            mail: format!("{uid}@chaos.example.com"),
            given: format!("Given{prefix}{i}"),
            last: format!("Last{prefix}{i}"),
            uid,
            role,
        }
    }

    fn seed(&self, last: &str) -> SeedUser {
        SeedUser::new(&self.mail)
            .with("FederationIdentifier", &self.uid)
            .with("FirstName", &self.given)
            .with("LastName", last)
    }
}

/// What one user looks like, for before/after comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    active: bool,
    first: Option<String>,
    last: Option<String>,
}

fn snapshot(org: &Org) -> (BTreeMap<String, Seen>, usize) {
    let users: Vec<EmulatedUser> = org.users();
    let n = users.len();
    let map = users
        .into_iter()
        .map(|u| {
            (
                u.username.to_lowercase(),
                Seen {
                    active: u.is_active,
                    first: u.first_name,
                    last: u.last_name,
                },
            )
        })
        .collect();
    (map, n)
}

/// Totals over schedules.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub schedules: u64,
    pub runs: u64,
    pub faults: u64,
    pub lost_answers: u64,
    pub kills_9: u64,
    pub kills_term: u64,
    pub budget_stops: u64,
    /// Runs that gave up on a transient fault after `max_retries` (exit 1,
    /// as SPEC says for a run stopped part way): the statistical tail of
    /// 30-40% faults, not a problem; the next run goes on.
    pub gave_up: u64,
    pub unknown_entries: u64,
    pub duplicates: u64,
    pub wrong_writes: u64,
    pub wrong_reports: u64,
    pub wrong_exits: u64,
    pub reserve_crossings: u64,
    pub not_converged: u64,
    pub runs_to_converge_max: u64,
    pub runs_to_converge_sum: u64,
}

impl Totals {
    pub fn add(&mut self, o: &Totals) {
        self.schedules += o.schedules;
        self.runs += o.runs;
        self.faults += o.faults;
        self.lost_answers += o.lost_answers;
        self.kills_9 += o.kills_9;
        self.kills_term += o.kills_term;
        self.budget_stops += o.budget_stops;
        self.gave_up += o.gave_up;
        self.unknown_entries += o.unknown_entries;
        self.duplicates += o.duplicates;
        self.wrong_writes += o.wrong_writes;
        self.wrong_reports += o.wrong_reports;
        self.wrong_exits += o.wrong_exits;
        self.reserve_crossings += o.reserve_crossings;
        self.not_converged += o.not_converged;
        self.runs_to_converge_max = self.runs_to_converge_max.max(o.runs_to_converge_max);
        self.runs_to_converge_sum += o.runs_to_converge_sum;
    }

    /// Problems of any kind.
    pub fn problems(&self) -> u64 {
        self.duplicates
            + self.wrong_writes
            + self.wrong_reports
            + self.wrong_exits
            + self.reserve_crossings
            + self.not_converged
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mean = if self.schedules == 0 {
            0.0
        } else {
            self.runs_to_converge_sum as f64 / self.schedules as f64
        };
        write!(
            f,
            "schedules {} | runs {} | faults injected {} | lost answers {} | kills: -9 {}, TERM {} | budget stops {} | gave up after max_retries {} | unknown entries {} | duplicates {} | wrong writes {} | wrong reports {} | wrong exit codes {} | reserve crossings {} | not converged {} | runs to converge: max {}, mean {mean:.2}",
            self.schedules,
            self.runs,
            self.faults,
            self.lost_answers,
            self.kills_9,
            self.kills_term,
            self.budget_stops,
            self.gave_up,
            self.unknown_entries,
            self.duplicates,
            self.wrong_writes,
            self.wrong_reports,
            self.wrong_exits,
            self.reserve_crossings,
            self.not_converged,
            self.runs_to_converge_max,
        )
    }
}

/// The outcome of one schedule: its totals and, when something was wrong,
/// a description to print with the schedule (empty when all held).
pub struct Verdict {
    pub totals: Totals,
    pub problems: Vec<String>,
}

/// How one run ended.
enum Ended {
    Code(i32),
    /// Killed by a signal (no exit code).
    Signal,
    /// Still running after [`RUN_TIMEOUT`]: killed by the harness.
    Hung,
}

/// One run longer than this is a hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `sfsync sync` once; stops it from outside when `stop` says, once the
/// org has answered that many API calls of this run. Returns how it ended,
/// its stderr, and the stop actually delivered (the run may end first).
async fn run_once(
    bin: &Path,
    job: &Path,
    report: &Path,
    org: &Arc<Org>,
    stop: Option<Stop>,
) -> (Ended, String, Option<Stop>) {
    let mut child = Command::new(bin)
        .args(["sync", "--job"])
        .arg(job)
        .arg("--report")
        .arg(report)
        .envs(ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sfsync starts");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut s);
        s
    });
    let calls_before = org.counters().api_calls;
    let started = Instant::now();
    let mut delivered = None;
    let ended = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break match status.code() {
                Some(c) => Ended::Code(c),
                None => Ended::Signal,
            };
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break Ended::Hung;
        }
        if delivered.is_none()
            && let Some(st) = stop
        {
            let (Stop::Kill9(n) | Stop::Term(n)) = st;
            if org.counters().api_calls - calls_before >= n {
                let sig = if matches!(st, Stop::Kill9(_)) {
                    "-KILL"
                } else {
                    "-TERM"
                };
                let sent = Command::new("kill")
                    .args([sig, &child.id().to_string()])
                    .status()
                    .is_ok_and(|s| s.success());
                if sent {
                    delivered = Some(st);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let stderr = tokio::task::spawn_blocking(move || reader.join().unwrap_or_default())
        .await
        .unwrap_or_default();
    (ended, stderr, delivered)
}

/// A problem found after a run, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Duplicate,
    WrongWrite,
    WrongReport,
    WrongExit,
    ReserveCrossed,
}

/// Runs one schedule to convergence with the `sfsync` binary at `bin`,
/// checking every run. Call on a multi-threaded tokio runtime.
pub async fn run_schedule(s: &Schedule, bin: &Path) -> Verdict {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = emulator::start(s.org_config())
        .await
        .expect("emulator starts");
    let org = running.org.clone();
    let csv = dir.path().join("people.csv");
    let mut text = String::from("uid,givenName,sn,mail\n");
    for p in s.source_people() {
        let _ = writeln!(text, "{},{},{},{}", p.uid, p.given, p.last, p.mail);
    }
    std::fs::write(&csv, text).expect("csv");
    let job = dir.path().join("job.toml");
    std::fs::write(&job, s.job_text(&running.base_url, &csv)).expect("job");
    let expected = expected_final(s);

    let mut t = Totals {
        schedules: 1,
        ..Totals::default()
    };
    let mut problems: Vec<String> = Vec::new();
    let mut converged_after = None;
    for run in 1..=MAX_RUNS {
        let first = run == 1;
        if !first {
            // The next night: a fresh daily allowance.
            org.set_api_used(0);
        }
        let report = dir.path().join(format!("report-{run}.json"));
        let (before, _) = snapshot(&org);
        let counters_before = org.counters();
        let log_before = org.log().len();
        let (ended, stderr, delivered) =
            run_once(bin, &job, &report, &org, if first { s.stop } else { None }).await;
        let (after, users_after) = snapshot(&org);
        let counters_after = org.counters();
        let log = org.log();
        let writes_sent = log[log_before.min(log.len())..]
            .iter()
            .filter(|r| {
                matches!(
                    r.kind,
                    RequestKind::CreateCollection
                        | RequestKind::CreateOne
                        | RequestKind::UpdateCollection
                        | RequestKind::UpdateOne
                )
            })
            .count();
        t.runs += 1;
        match delivered {
            Some(Stop::Kill9(_)) => t.kills_9 += 1,
            Some(Stop::Term(_)) => t.kills_term += 1,
            None => {}
        }
        let mut found: Vec<(Kind, String)> = Vec::new();

        // No username created twice.
        let dup = counters_after.duplicate_username_attempts
            - counters_before.duplicate_username_attempts;
        if dup > 0 {
            found.push((
                Kind::Duplicate,
                format!("{dup} create(s) met an existing username (DUPLICATE_USERNAME)"),
            ));
        }
        if users_after != after.len() {
            found.push((
                Kind::Duplicate,
                format!("{users_after} users hold {} usernames", after.len()),
            ));
        }

        // What the org committed in this run, and whether the plan named it.
        let mut committed: BTreeMap<String, &'static str> = BTreeMap::new();
        for (name, now) in &after {
            let change = match before.get(name) {
                None => "created",
                Some(w) if w.active && !now.active => "deactivated",
                Some(w) if !w.active && now.active => "reactivated",
                Some(w) if w.first != now.first || w.last != now.last => "updated",
                Some(_) => continue,
            };
            committed.insert(name.clone(), change);
            let asked = expected.get(name).is_some_and(|want| {
                want.active == now.active
                    && want.first == now.first
                    && want.last == now.last
                    && (change != "created" || want.created)
            });
            if !asked {
                found.push((
                    Kind::WrongWrite,
                    format!("{name}: {change} to {now:?}, which the plan never asked for"),
                ));
            }
        }
        for name in before.keys().filter(|n| !after.contains_key(*n)) {
            found.push((Kind::WrongWrite, format!("{name} vanished from the org")));
        }

        // The reserve (first run only: later nights have the whole allowance).
        if first && let Some(b) = s.budget {
            let limit = org.config().daily_api_limit;
            let left = limit.saturating_sub(org.api_used());
            if left < b.reserve {
                found.push((
                    Kind::ReserveCrossed,
                    format!(
                        "{left} daily calls left after the run, below the reserve of {}",
                        b.reserve
                    ),
                ));
            }
        }

        // The report against the org's record, and the exit code.
        let report_json: Option<Result<Value, String>> = std::fs::read(&report)
            .ok()
            .map(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
        let mut stopped_by_limit = false;
        let mut stopped_at_all = false;
        match (&ended, delivered, &report_json) {
            (Ended::Hung, _, _) => found.push((
                Kind::WrongExit,
                format!("still running after {RUN_TIMEOUT:?}"),
            )),
            (Ended::Signal, Some(Stop::Kill9(_)), None) => stopped_at_all = true,
            // The -9 landed after the run had written its report (it was
            // exiting): the report must still be true.
            (Ended::Signal, Some(Stop::Kill9(_)), Some(r)) => match r {
                Ok(r) => found.extend(
                    check_report(r, &committed)
                        .into_iter()
                        .map(|m| (Kind::WrongReport, m)),
                ),
                Err(e) => found.push((Kind::WrongReport, format!("the report is not JSON: {e}"))),
            },
            (Ended::Signal, _, _) => found.push((
                Kind::WrongExit,
                "the run died of a signal it was not sent".into(),
            )),
            // The budget met by the reads: stopped before any write, exit 4.
            (Ended::Code(4), _, None) if first && s.budget.is_some() && committed.is_empty() => {
                stopped_at_all = true;
                stopped_by_limit = true;
            }
            // SIGTERM while reading: stopped before any write, exit 1 (SPEC).
            (Ended::Code(1), Some(Stop::Term(_)), None) if committed.is_empty() => {
                stopped_at_all = true;
            }
            // Retries spent on transient faults while reading: nothing written.
            (Ended::Code(1), _, None) if committed.is_empty() && gave_up(&stderr) => {
                stopped_at_all = true;
                t.gave_up += 1;
            }
            (Ended::Code(code), _, None) => {
                stopped_at_all = true;
                // Only a run stopped before it planned writes no report.
                found.push((Kind::WrongExit, format!("exit {code} and no report")));
                if !committed.is_empty() {
                    found.push((
                        Kind::WrongReport,
                        format!(
                            "no report, but the org committed {} change(s)",
                            committed.len()
                        ),
                    ));
                }
            }
            (Ended::Code(_), _, Some(Err(e))) => {
                stopped_at_all = true;
                found.push((Kind::WrongReport, format!("the report is not JSON: {e}")));
            }
            (Ended::Code(code), delivered, Some(Ok(r))) => {
                let stopped = r["context"]["stopped"].as_str().unwrap_or("");
                stopped_at_all = !stopped.is_empty();
                stopped_by_limit =
                    stopped.contains("daily API request limit") || stopped.contains("api_reserve");
                let interrupted = stopped.contains("interrupted");
                t.unknown_entries += r["summary"]["unknown"].as_u64().unwrap_or(0);
                found.extend(
                    check_report(r, &committed)
                        .into_iter()
                        .map(|m| (Kind::WrongReport, m)),
                );
                let needs_person = [
                    "invalid",
                    "duplicate_in_source",
                    "collision",
                    "failed",
                    "not_found",
                ]
                .iter()
                .any(|k| r["summary"][k].as_u64().unwrap_or(0) > 0);
                let want = if interrupted && matches!(delivered, Some(Stop::Term(_))) {
                    1
                } else if stopped.contains("still failing after") && gave_up(stopped) {
                    t.gave_up += 1;
                    1
                } else if stopped_by_limit && first && s.budget.is_some() {
                    4
                } else if stopped_at_all {
                    // A fatal stop, an interrupt nobody sent, or a limit with the budget untouched.
                    -1
                } else if needs_person {
                    3
                } else {
                    0
                };
                if *code != want {
                    found.push((
                        Kind::WrongExit,
                        format!("exit {code}, expected {want} (stopped: {stopped:?})"),
                    ));
                }
            }
        }
        if stopped_by_limit {
            t.budget_stops += 1;
        }
        if !found.is_empty() {
            let tail: String = stderr
                .lines()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n    ");
            for (kind, msg) in &found {
                match kind {
                    Kind::Duplicate => t.duplicates += 1,
                    Kind::WrongWrite => t.wrong_writes += 1,
                    Kind::WrongReport => t.wrong_reports += 1,
                    Kind::WrongExit => t.wrong_exits += 1,
                    Kind::ReserveCrossed => t.reserve_crossings += 1,
                }
                problems.push(format!("run {run}: {kind:?}: {msg}"));
            }
            problems.push(format!("run {run}: stderr (last lines):\n    {tail}"));
        }
        if matches!(ended, Ended::Code(0)) && !stopped_at_all && writes_sent == 0 {
            converged_after = Some(run as u64);
            break;
        }
    }
    t.faults = (counters_total_faults(&org.counters())) as u64;
    t.lost_answers = org.counters().lost_answers;
    match converged_after {
        Some(n) => {
            t.runs_to_converge_max = n;
            t.runs_to_converge_sum = n;
            // The org is exactly the expected set, and nobody else was touched.
            let (now, _) = snapshot(&org);
            for (name, want) in &expected {
                let ok = now.get(name).is_some_and(|u| {
                    u.active == want.active && u.first == want.first && u.last == want.last
                });
                if !ok {
                    t.wrong_writes += 1;
                    problems.push(format!(
                        "after convergence {name} is {:?}, expected {want:?}",
                        now.get(name)
                    ));
                }
            }
            for i in 0..s.strangers {
                let p = Person::new("s", i, Role::Stranger);
                let ok = now
                    .get(&p.mail)
                    .is_some_and(|u| u.active && u.first.as_deref() == Some(&p.given));
                if !ok {
                    t.wrong_writes += 1;
                    problems.push(format!(
                        "after convergence the stranger {} was touched",
                        p.mail
                    ));
                }
            }
            if now.len() != expected.len() + s.strangers {
                t.wrong_writes += 1;
                problems.push(format!(
                    "after convergence the org holds {} users, expected {}",
                    now.len(),
                    expected.len() + s.strangers
                ));
            }
        }
        None => {
            t.not_converged += 1;
            problems.push(format!(
                "no clean run (exit 0, no write) in {MAX_RUNS} runs"
            ));
        }
    }
    let _ = running.stop().await;
    Verdict {
        totals: t,
        problems,
    }
}

/// Whether a run's last error is a transient fault it gave up on after
/// `max_retries` (503, 429, a locked row, a dropped connection), as opposed
/// to a refusal or a bug.
fn gave_up(text: &str) -> bool {
    let last = text
        .lines()
        .rev()
        .find(|l| l.contains("ERROR") || l.contains("Stopped:"))
        .unwrap_or(text);
    [
        "503 SERVER_UNAVAILABLE",
        "429 TOO_MANY_REQUESTS",
        "UNABLE_TO_LOCK_ROW",
        "connection",
        "no answer",
    ]
    .iter()
    .any(|k| last.contains(k))
}

fn counters_total_faults(c: &sfsync::emulator::Counters) -> u64 {
    c.faults_503 + c.faults_429 + c.faults_dropped + c.faults_lock_row
}

/// Every entry against what the org committed in the run, and the summary
/// against the entries. Returns what is wrong.
fn check_report(r: &Value, committed: &BTreeMap<String, &'static str>) -> Vec<String> {
    let mut wrong = Vec::new();
    let Some(users) = r["users"].as_array() else {
        return vec!["no `users` array".into()];
    };
    let mut by_name: HashMap<String, &str> = HashMap::new();
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for u in users {
        let outcome = u["outcome"].as_str().unwrap_or("?");
        *counts.entry(outcome).or_default() += 1;
        let Some(name) = u["username"].as_str() else {
            wrong.push(format!("an entry without a username: {u}"));
            continue;
        };
        if by_name.insert(name.to_lowercase(), outcome).is_some() {
            wrong.push(format!("{name} is listed twice"));
        }
        if matches!(
            outcome,
            "created" | "updated" | "reactivated" | "deactivated"
        ) && committed.get(&name.to_lowercase()) != Some(&outcome)
        {
            wrong.push(format!(
                "{name} is reported {outcome}, but the org committed {:?} in this run",
                committed.get(&name.to_lowercase())
            ));
        }
    }
    for (name, change) in committed {
        match by_name.get(name) {
            Some(o) if o == change || *o == "unknown" => {}
            got => wrong.push(format!(
                "the org committed {name} ({change}) in this run, but the report says {got:?}"
            )),
        }
    }
    for (outcome, n) in counts {
        let said = r["summary"][outcome].as_u64();
        if said != Some(n) {
            wrong.push(format!("summary {outcome} = {said:?}, but {n} entries"));
        }
    }
    wrong
}

/// The org every schedule must end with: per username, active or not and the names.
#[derive(Debug, Clone)]
struct Want {
    active: bool,
    first: Option<String>,
    last: Option<String>,
    /// A source person the org did not hold: the only users created.
    created: bool,
}

fn expected_final(s: &Schedule) -> HashMap<String, Want> {
    let mut m = HashMap::new();
    for p in s.source_people() {
        m.insert(
            p.mail.clone(),
            Want {
                active: true,
                first: Some(p.given.clone()),
                last: Some(p.last.clone()),
                created: p.role == Role::Create,
            },
        );
    }
    for i in 0..s.leavers {
        let p = Person::new("l", i, Role::Leaver);
        m.insert(
            p.mail.clone(),
            Want {
                active: false,
                first: Some(p.given.clone()),
                last: Some(p.last.clone()),
                created: false,
            },
        );
    }
    m
}

/// Runs `count` schedules from `first_seed` (seed, seed+1, ...), `parallel`
/// at a time, printing a line per schedule that found a problem (with the
/// schedule, so `SFSYNC_CHAOS_SEED=<seed>` replays it). Returns the totals
/// and the failures' descriptions.
pub async fn run_many(
    first_seed: u64,
    count: u64,
    parallel: usize,
    min_people: usize,
    max_people: usize,
    bin: PathBuf,
) -> (Totals, Vec<String>) {
    let bin = Arc::new(bin);
    let mut totals = Totals::default();
    let mut failures = Vec::new();
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0u64;
    let mut done = 0u64;
    let started = Instant::now();
    loop {
        while next < count && set.len() < parallel.max(1) {
            let seed = first_seed.wrapping_add(next);
            let bin = bin.clone();
            set.spawn(async move {
                let s = Schedule::generate(seed, min_people, max_people);
                let v = run_schedule(&s, &bin).await;
                (s, v)
            });
            next += 1;
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (s, v) = joined.expect("a schedule task panicked");
        done += 1;
        totals.add(&v.totals);
        if !v.problems.is_empty() {
            let text = format!(
                "FAILED schedule (replay: SFSYNC_CHAOS_SEED={} SFSYNC_CHAOS_MAX_PEOPLE={max_people} cargo test --test integration chaos::random):\n  {s}\n  {}",
                s.seed,
                v.problems.join("\n  ")
            );
            eprintln!("{text}");
            failures.push(text);
        }
        if done.is_multiple_of(50) || done == count {
            eprintln!(
                "chaos: {done}/{count} schedules in {:.0?}: {totals}",
                started.elapsed()
            );
        }
    }
    (totals, failures)
}
