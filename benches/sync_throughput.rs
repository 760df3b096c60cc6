//! Write-path throughput against the emulator with 50 ms of latency per call:
//! for 10,000 users (200 per call), the calls made, the wall time and users per
//! second at concurrency 1, 4 and 8.
//!
//! Full run (release build):   cargo bench --bench sync_throughput
//! Smoke run (CI, 400 users):  SFSYNC_BENCH_SMOKE=1 cargo bench --bench sync_throughput -- --test
//!
//! `requests_per_second` is set high (1,000) so that concurrency and latency,
//! not the rate limit, decide the figure; a job's own limit slows it further.

use std::time::{Duration, Instant};

use sfsync::emulator::{self, OrgConfig};
use sfsync::execute::{self, CreateItem, ExecuteOptions};
use sfsync::job::{AuthConfig, SalesforceConfig, Secret, SecretFrom, SecretRef};
use sfsync::report::Outcome;
use sfsync::salesforce::{Client, ClientOptions, Credentials};

const LATENCY: Duration = Duration::from_millis(50);
const BATCH: usize = 200;

fn items(n: usize) -> Vec<CreateItem> {
    (0..n)
        .map(|i| {
            let username = format!("bench{i:06}@example.com");
            let mut record = serde_json::Map::new();
            for (k, v) in [
                ("Username", username.as_str()),
                ("Email", username.as_str()),
                ("LastName", "Bench"),
                ("Alias", "bench"),
                ("TimeZoneSidKey", "America/Los_Angeles"),
                ("LocaleSidKey", "en_US"),
                ("EmailEncodingKey", "UTF-8"),
                ("LanguageLocaleKey", "en_US"),
                ("ProfileId", "00e90000001aV2oAAE"),
            ] {
                record.insert(k.into(), serde_json::Value::String(v.into()));
            }
            CreateItem {
                key: i,
                username,
                profile_id: Some("00e90000001aV2oAAE".into()),
                record: sfsync::execute::user_record(&record),
            }
        })
        .collect()
}

async fn one_run(n: usize, concurrency: usize) -> (u64, u64, Duration, usize) {
    let mut cfg = OrgConfig::default();
    cfg.faults.latency = LATENCY;
    cfg.daily_api_limit = 1_000_000;
    let running = emulator::start(cfg).await.expect("emulator starts");
    let unused = SecretRef {
        key: "salesforce.client_id_env".into(),
        from: SecretFrom::Env("UNUSED".into()),
    };
    let sf = SalesforceConfig {
        instance_url: running.base_url.clone(),
        login_url: running.base_url.clone(),
        api_version: "v62.0".into(),
        auth: AuthConfig::ClientCredentials {
            client_id: unused.clone(),
            client_secret: unused,
        },
        sandbox: None,
    };
    let creds = Credentials::client_credentials(Secret::new("bench"), Secret::new("bench"));
    let opts = ClientOptions {
        requests_per_second: 1000.0,
        concurrency,
        max_retries: 5,
        timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    };
    let items = items(n);
    let started = Instant::now();
    let client = Client::connect(&sf, creds, opts).await.expect("connects");
    let (_tx, rx) = tokio::sync::watch::channel(0u8);
    let exec = ExecuteOptions {
        batch_size: BATCH,
        api_reserve: 0,
        match_keys: vec!["Username".into()],
    };
    let out = execute::create_users(&client, items, &exec, rx).await;
    let wall = started.elapsed();
    let created = out
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Created)
        .count();
    let create_calls = running.org.counters().create_collection_calls;
    let calls = client.api_calls();
    running.stop().await.expect("emulator stops");
    (calls, create_calls, wall, created)
}

fn main() {
    let smoke =
        std::env::var_os("SFSYNC_BENCH_SMOKE").is_some() || std::env::args().any(|a| a == "--test");
    let n = if smoke { 400 } else { 10_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "sync_throughput: {n} users, {BATCH} per call, {} ms latency, requests_per_second 1000",
        LATENCY.as_millis()
    );
    println!(
        "{:>11} {:>6} {:>12} {:>9} {:>8} {:>9}",
        "concurrency", "calls", "create_calls", "wall_s", "users/s", "created"
    );
    for concurrency in [1, 4, 8] {
        let (calls, create_calls, wall, created) = rt.block_on(one_run(n, concurrency));
        assert_eq!(created, n, "every user must be created");
        // The figures BENCHMARKS.md records (51 / 50 at 10,000 users): one
        // call per batch, plus the one token call; no retry, no extra read.
        assert_eq!(
            create_calls,
            n.div_ceil(BATCH) as u64,
            "one call per {BATCH} users"
        );
        assert_eq!(calls, create_calls + 1, "the creates and one token call");
        println!(
            "{concurrency:>11} {calls:>6} {create_calls:>12} {:>9.2} {:>8.0} {created:>9}",
            wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64()
        );
    }
}
