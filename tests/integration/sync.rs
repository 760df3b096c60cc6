//! Integration tests: the Salesforce client and the executor against the
//! emulator in-process, over real HTTP. Counts come from the emulator's
//! request log and counters, never from timings.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sfsync::emulator::{FaultKind, OrgConfig, ProfileSeed, RequestKind, SeedUser};
use sfsync::execute::{self, CreateItem, ExecuteOptions, ExecuteOutcome, StopReason};
use sfsync::job::{AuthConfig, SalesforceConfig, Secret, SecretFrom, SecretRef};
use sfsync::report::Outcome;
use sfsync::salesforce::{Client, ClientOptions, Credentials};
use tokio::sync::watch;

use crate::support::emu::Emu;

const PROFILE: &str = "00e90000001aV2oAAE";

fn unused_ref(key: &str) -> SecretRef {
    SecretRef {
        key: key.into(),
        from: SecretFrom::Env("SFSYNC_TEST_UNUSED".into()),
    }
}

fn config(base_url: &str) -> SalesforceConfig {
    SalesforceConfig {
        instance_url: base_url.into(),
        login_url: base_url.into(),
        api_version: "v62.0".into(),
        auth: AuthConfig::ClientCredentials {
            client_id: unused_ref("salesforce.client_id_env"),
            client_secret: unused_ref("salesforce.client_secret_env"),
        },
        sandbox: None,
    }
}

fn creds() -> Credentials {
    Credentials::password(
        Secret::new("test-client"),
        Secret::new("test-secret"),
        Secret::new("svc@example.com"),
        Secret::new("pw-and-token"),
    )
}

fn opts(rps: f64, concurrency: usize) -> ClientOptions {
    ClientOptions {
        requests_per_second: rps,
        concurrency,
        max_retries: 8,
        timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    }
}

async fn connect(emu: &Emu, o: ClientOptions) -> Client {
    Client::connect(&config(&emu.base_url), creds(), o)
        .await
        .expect("connects to the emulator")
}

fn item(key: usize, username: &str, profile: &str) -> CreateItem {
    let local = username.split('@').next().unwrap_or("u");
    let mut record = Map::new();
    for (k, v) in [
        ("Username", username),
        ("Email", username),
        ("LastName", local),
        ("Alias", &local[..local.len().min(8)]),
        ("TimeZoneSidKey", "America/Los_Angeles"),
        ("LocaleSidKey", "en_US"),
        ("EmailEncodingKey", "UTF-8"),
        ("LanguageLocaleKey", "en_US"),
        ("ProfileId", profile),
    ] {
        record.insert(k.into(), Value::String(v.into()));
    }
    record.insert("UserPermissionsMarketingUser".into(), json!(false));
    CreateItem {
        key,
        username: username.into(),
        profile_id: Some(profile.into()),
        record: execute::user_record(&record),
    }
}

fn people(n: usize) -> Vec<CreateItem> {
    (0..n)
        .map(|i| item(i, &format!("person{i:05}@example.com"), PROFILE))
        .collect()
}

fn exec_opts(batch_size: usize) -> ExecuteOptions {
    ExecuteOptions {
        batch_size,
        api_reserve: 0,
        match_keys: vec!["Username".into()],
    }
}

async fn run(client: &Client, items: Vec<CreateItem>, o: &ExecuteOptions) -> ExecuteOutcome {
    let (_tx, rx) = watch::channel(0u8);
    execute::create_users(client, items, o, rx).await
}

fn count(out: &ExecuteOutcome, outcome: Outcome) -> usize {
    out.results.iter().filter(|r| r.outcome == outcome).count()
}

fn calls(emu: &Emu, kind: RequestKind) -> usize {
    emu.org.log().iter().filter(|r| r.kind == kind).count()
}

/// Every created result's Id is a user of the org with that username, and no
/// username is held twice.
fn assert_created_exactly_once(emu: &Emu, out: &ExecuteOutcome, usernames: &[String]) {
    let users = emu.org.users();
    let mut seen = HashSet::new();
    for u in &users {
        assert!(
            seen.insert(u.username.to_lowercase()),
            "{} held twice",
            u.username
        );
    }
    for r in &out.results {
        assert_eq!(r.outcome, Outcome::Created, "{r:?}");
        let id = r.salesforce_id.as_deref().expect("created with an Id");
        let u = users
            .iter()
            .find(|u| u.id == id)
            .expect("the Id exists in the org");
        assert_eq!(u.username, usernames[r.key]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_creates_cost_ceil_n_over_batch_calls_and_one_token() {
    // Given an empty org and 450 people to create, 200 per call.
    let emu = Emu::empty().await;
    let client = connect(&emu, opts(100.0, 4)).await;
    let items = people(450);
    let names: Vec<String> = items.iter().map(|i| i.username.clone()).collect();

    // When they are created,
    let out = run(&client, items, &exec_opts(200)).await;

    // then 3 create calls and 1 token call were made, and all 450 exist once.
    assert_eq!(out.stopped, None);
    assert_eq!(out.results.len(), 450);
    assert_created_exactly_once(&emu, &out, &names);
    assert_eq!(calls(&emu, RequestKind::CreateCollection), 3);
    assert_eq!(calls(&emu, RequestKind::Token), 1);
    assert_eq!(emu.org.users().len(), 450);
    assert_eq!(client.api_calls(), 4, "token + 3 creates, nothing else");
    assert_eq!(client.last_usage().map(|u| u.used), Some(3));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_side_pages_chunks_and_resolves_profiles() {
    // Given an org with 4,500 users (three SOQL pages of up to 2,000),
    let mut cfg = OrgConfig::default();
    cfg.users = (0..4500)
        .map(|i| {
            let u = SeedUser::new(&format!("seed{i:05}@example.com"))
                .with("FederationIdentifier", &format!("fed{i}"));
            if i % 10 == 0 { u.inactive() } else { u }
        })
        .collect();
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(200.0, 4)).await;

    // when every user is read, all come back with their match keys aligned,
    let keys = vec!["FederationIdentifier".to_owned(), "Username".to_owned()];
    let users = client.query_users(&keys).await.unwrap();
    assert_eq!(users.len(), 4500);
    assert_eq!(users.iter().filter(|u| !u.is_active).count(), 450);
    let u7 = users
        .iter()
        .find(|u| &*u.username == "seed00007@example.com")
        .unwrap();
    assert_eq!(u7.keys[0].as_deref(), Some("fed7"));
    assert_eq!(u7.keys[1].as_deref(), Some("seed00007@example.com"));
    assert_eq!(calls(&emu, RequestKind::Query), 1);
    assert_eq!(calls(&emu, RequestKind::QueryMore), 2);

    // a lookup of 300 usernames (one with a quote, mixed case) is cut into short queries,
    let mut wanted: Vec<String> = (0..300)
        .map(|i| format!("SEED{:05}@example.com", i * 15))
        .collect();
    wanted.push("o'brien@example.com".into());
    let before = calls(&emu, RequestKind::Query);
    let found = client.find_users_by_username(&wanted, &keys).await.unwrap();
    assert_eq!(found.len(), 300);
    assert!(
        calls(&emu, RequestKind::Query) - before > 1,
        "chunked into several queries"
    );

    // and profiles resolve by name and by Id (15 or 18 characters).
    let names = vec!["chatter free user".to_owned(), "No Such Profile".to_owned()];
    let ids = client.profile_ids_by_name(&names).await.unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(&ids["chatter free user"][..15], "00e90000001aV2o");
    assert!(client.profile_exists("00e90000001aV2o").await.unwrap());
    assert!(client.profile_exists(PROFILE).await.unwrap());
    assert!(!client.profile_exists("00e000000000000").await.unwrap());
    let usage = client.limits().await.unwrap();
    assert_eq!(usage.max, 15_000);
    assert!(usage.used >= 5);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_at_20_percent_create_everyone_exactly_once() {
    for seed in [1, 2, 3] {
        // Given an org where 20% of API calls meet a fault of every kind (seeded),
        let mut cfg = OrgConfig::default();
        cfg.faults.seed = seed;
        cfg.faults.fault_rate = 0.2;
        cfg.faults.kinds = vec![
            FaultKind::ServerUnavailable,
            FaultKind::TooManyRequests,
            FaultKind::Dropped,
            FaultKind::LockRow,
            FaultKind::LostAnswer,
        ];
        cfg.faults.retry_after_secs = 0;
        let emu = Emu::start(cfg).await;
        let client = connect(&emu, opts(200.0, 4)).await;
        let items = people(300);
        let names: Vec<String> = items.iter().map(|i| i.username.clone()).collect();

        // when 300 people are created 20 per call,
        let out = run(&client, items, &exec_opts(20)).await;

        // then every one exists exactly once, and no create was ever resent for a user that existed.
        assert_eq!(out.stopped, None, "seed {seed}");
        assert_created_exactly_once(&emu, &out, &names);
        assert_eq!(emu.org.users().len(), 300, "seed {seed}");
        let c = emu.org.counters();
        assert_eq!(
            c.duplicate_username_attempts, 0,
            "seed {seed}: a create was resent blindly"
        );
        assert!(
            c.faults_503 + c.faults_429 + c.faults_dropped + c.faults_lock_row + c.lost_answers > 0,
            "seed {seed}: the faults must actually happen for this test to mean anything"
        );
        emu.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_recovered_without_duplicates() {
    // Given an org that commits 20% of creates and then drops the connection,
    let mut cfg = OrgConfig::default();
    cfg.faults.lost_answer_rate = 0.2;
    cfg.faults.seed = 7;
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(200.0, 4)).await;
    let items = people(1000);
    let names: Vec<String> = items.iter().map(|i| i.username.clone()).collect();

    // when 1,000 people are created 50 per call,
    let out = run(&client, items, &exec_opts(50)).await;

    // then all exist once, the lost ones were found by lookup, not resent.
    assert_eq!(out.stopped, None);
    assert_created_exactly_once(&emu, &out, &names);
    let c = emu.org.counters();
    assert!(c.lost_answers > 0, "some answers must be lost");
    assert_eq!(c.duplicate_username_attempts, 0);
    assert_eq!(c.users_created, 1000);
    // 20 batches plus no resends: a lost batch's users were all committed.
    assert_eq!(calls(&emu, RequestKind::CreateCollection), 20);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_costs_one_login_per_expiry() {
    // Given tokens that answer 4 API calls each,
    let mut cfg = OrgConfig::default();
    cfg.token_ttl_calls = 4;
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(200.0, 1)).await;
    let items = people(500);
    let names: Vec<String> = items.iter().map(|i| i.username.clone()).collect();

    // when 500 people are created 50 per call (10 calls),
    let out = run(&client, items, &exec_opts(50)).await;

    // then the run completes and each expiry cost exactly one token call.
    assert_eq!(out.stopped, None);
    assert_created_exactly_once(&emu, &out, &names);
    let c = emu.org.counters();
    assert!(c.unauthorized >= 2, "tokens must expire during the run");
    assert_eq!(c.token_calls, c.unauthorized + 1);
    assert_eq!(client.logins(), c.token_calls);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_401s_share_one_login() {
    let mut cfg = OrgConfig::default();
    cfg.token_ttl_calls = 6;
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(500.0, 4)).await;
    let out = run(&client, people(400), &exec_opts(10)).await;
    assert_eq!(count(&out, Outcome::Created), 400, "{:?}", out.stopped);
    let c = emu.org.counters();
    // 40 create calls over tokens good for 6 each: at most ceil(40/6) logins after the first,
    // however many calls in flight saw the same expiry.
    assert!(c.token_calls <= 1 + 7, "token calls {}", c.token_calls);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_limit_stops_before_any_refused_call() {
    // Given an org with 10 API calls left today,
    let mut cfg = OrgConfig::default();
    cfg.daily_api_limit = 1000;
    cfg.api_calls_used = 990;
    let emu = Emu::start(cfg).await;
    // One in flight, so the count is exact: with more, the run may stop a call early
    // (it counts calls in flight against what is left), never late.
    let client = connect(&emu, opts(200.0, 1)).await;

    // when 1,000 people are to be created 50 per call (20 calls needed),
    let out = run(&client, people(1000), &exec_opts(50)).await;

    // then the run stops on the daily limit, 500 are created, 500 not attempted,
    // and no call went past the limit.
    assert_eq!(out.stopped, Some(StopReason::DailyLimit));
    assert_eq!(count(&out, Outcome::Created), 500);
    assert_eq!(count(&out, Outcome::NotAttempted), 500);
    assert_eq!(emu.org.counters().limit_refusals, 0);
    assert!(emu.org.log().iter().all(|r| r.status != Some(403)));
    let na = out
        .results
        .iter()
        .find(|r| r.outcome == Outcome::NotAttempted)
        .unwrap();
    assert!(
        na.message
            .as_deref()
            .unwrap()
            .contains("daily API request limit")
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_reserve_stops_cleanly_and_a_403_mid_run_is_a_daily_limit() {
    // Given 20 calls left and a reserve of 15: only 5 create calls may go.
    let mut cfg = OrgConfig::default();
    cfg.daily_api_limit = 1000;
    cfg.api_calls_used = 980;
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(200.0, 1)).await;
    let mut o = exec_opts(10);
    o.api_reserve = 15;
    let out = run(&client, people(100), &o).await;
    assert_eq!(out.stopped, Some(StopReason::ApiReserve { remaining: 15 }));
    assert_eq!(count(&out, Outcome::Created), 50);
    assert_eq!(count(&out, Outcome::NotAttempted), 50);
    assert_eq!(client.last_usage().unwrap().remaining(), 15);
    emu.stop().await;

    // Given an org whose limit is already spent (the client has no reading yet),
    let mut cfg = OrgConfig::default();
    cfg.daily_api_limit = 100;
    cfg.api_calls_used = 100;
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(200.0, 1)).await;
    let out = run(&client, people(30), &exec_opts(10)).await;
    // the first refusal stops the run: one 403, nothing else sent.
    assert_eq!(out.stopped, Some(StopReason::DailyLimit));
    assert_eq!(count(&out, Outcome::NotAttempted), 30);
    assert_eq!(emu.org.counters().limit_refusals, 1);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_usernames_collide_and_the_rest_are_created() {
    let mut cfg = OrgConfig::default();
    cfg.foreign_usernames = vec![
        "person00003@example.com".into(),
        "PERSON00007@example.com".into(),
    ];
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(200.0, 2)).await;
    let out = run(&client, people(10), &exec_opts(4)).await;
    assert_eq!(out.stopped, None);
    for r in &out.results {
        if r.key == 3 || r.key == 7 {
            assert_eq!(r.outcome, Outcome::Collision, "{r:?}");
            assert_eq!(r.error_code.as_deref(), Some("DUPLICATE_USERNAME"));
            assert!(
                r.message
                    .as_deref()
                    .unwrap()
                    .contains("another Salesforce org")
            );
        } else {
            assert_eq!(r.outcome, Outcome::Created, "{r:?}");
        }
    }
    assert_eq!(emu.org.users().len(), 8);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_limit_stops_that_profile_only() {
    // Given a profile with 5 licences and another without a cap,
    let limited = "00eEM0000000009AAA";
    let mut cfg = OrgConfig::default();
    let mut p = ProfileSeed::new(limited, "Limited Licence User");
    p.licenses = Some(5);
    cfg.profiles.push(p);
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(200.0, 1)).await;
    let mut items: Vec<CreateItem> = (0..20)
        .map(|i| item(i, &format!("lim{i:02}@example.com"), limited))
        .collect();
    items.extend((20..25).map(|i| item(i, &format!("std{i:02}@example.com"), PROFILE)));

    // when 25 people are created 5 per call,
    let out = run(&client, items, &exec_opts(5)).await;

    // then 5 limited users are created, the next call fails for lack of licences
    // (the first refused is `failed`, its batch-mates `not_attempted` as the
    // 10 limited users never sent: the same outcomes every night, #18), and
    // the other profile goes on.
    assert_eq!(out.stopped, None);
    let of = |range: std::ops::Range<usize>, o: Outcome| {
        out.results[range].iter().filter(|r| r.outcome == o).count()
    };
    assert_eq!(of(0..5, Outcome::Created), 5);
    assert_eq!(of(5..6, Outcome::Failed), 1);
    assert_eq!(
        out.results[5].error_code.as_deref(),
        Some("LICENSE_LIMIT_EXCEEDED")
    );
    assert_eq!(of(6..20, Outcome::NotAttempted), 14);
    assert_eq!(
        out.results[7].error_code.as_deref(),
        Some("LICENSE_LIMIT_EXCEEDED")
    );
    assert_eq!(out.exhausted.len(), 1);
    assert!(
        out.results[12]
            .message
            .as_deref()
            .unwrap()
            .contains("licence")
    );
    assert_eq!(of(20..25, Outcome::Created), 5);
    assert_eq!(calls(&emu, RequestKind::CreateCollection), 3);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_holds_in_every_window_and_reaches_the_rate() {
    // Given R = 8 per second and 2 in flight against 50 ms of latency
    // (so the limiter, not the server, is what binds),
    let mut cfg = OrgConfig::default();
    cfg.faults.latency = Duration::from_millis(50);
    let emu = Emu::start(cfg).await;
    let rate = 8.0;
    let client = connect(&emu, opts(rate, 2)).await;

    // when 32 one-record creates are sent,
    let out = run(&client, people(32), &exec_opts(1)).await;
    assert_eq!(count(&out, Outcome::Created), 32);

    // then no 1-second window (including the first, with the token call) holds more
    // than R + 1 calls, never more than 2 are in flight, and the rate is >= 80% of R.
    let log = emu.org.log();
    let mut starts: Vec<u64> = log
        .iter()
        .filter(|r| r.kind == RequestKind::Token || r.kind.is_api())
        .map(|r| r.started_us)
        .collect();
    starts.sort_unstable();
    assert_eq!(starts.len(), 33);
    for (i, &s) in starts.iter().enumerate() {
        let in_window = starts[i..]
            .iter()
            .take_while(|&&t| t < s + 1_000_000)
            .count();
        assert!(
            in_window <= rate as usize + 1,
            "{in_window} calls in the second from {s} us"
        );
    }
    let max_in_flight = log.iter().map(|r| r.in_flight).max().unwrap();
    assert!(max_in_flight <= 2, "in flight {max_in_flight}");
    let span_s = (starts[starts.len() - 1] - starts[0]) as f64 / 1e6;
    let achieved = (starts.len() - 1) as f64 / span_s;
    assert!(
        achieved >= 0.8 * rate,
        "achieved {achieved:.2}/s of {rate}/s"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_never_exceeds_concurrency() {
    // Given 150 ms per call and a generous rate, concurrency is what binds.
    let mut cfg = OrgConfig::default();
    cfg.faults.latency = Duration::from_millis(150);
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(1000.0, 3)).await;
    let out = run(&client, people(24), &exec_opts(1)).await;
    assert_eq!(count(&out, Outcome::Created), 24);
    let max_in_flight = emu.org.log().iter().map(|r| r.in_flight).max().unwrap();
    assert_eq!(max_in_flight, 3, "the cap is used and never exceeded");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_stops_launching_and_reports_the_rest() {
    let mut cfg = OrgConfig::default();
    cfg.faults.latency = Duration::from_millis(100);
    let emu = Emu::start(cfg).await;
    let client = connect(&emu, opts(1000.0, 1)).await;
    let (tx, rx) = watch::channel(0u8);
    let c2 = client.clone();
    let task =
        tokio::spawn(
            async move { execute::create_users(&c2, people(200), &exec_opts(10), rx).await },
        );
    // Interrupt once the first create has been answered.
    while emu.org.counters().create_collection_calls < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tx.send(1).unwrap();
    let out = task.await.unwrap();
    assert_eq!(out.stopped, Some(StopReason::Interrupted));
    let created = count(&out, Outcome::Created);
    assert!((10..200).contains(&created), "created {created}");
    assert_eq!(created + count(&out, Outcome::NotAttempted), 200);
    assert_eq!(emu.org.users().len(), created, "the report matches the org");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_logins_work_and_refusals_never_show_secrets() {
    use sfsync::emulator::Credentials as EmuCreds;
    let pem = include_str!("../../src/salesforce/testdata/jwt-test-key.pem");
    let public = include_bytes!("../../src/salesforce/testdata/jwt-test-key.pub.pem");
    let mut cfg = OrgConfig::default();
    cfg.credentials = EmuCreds {
        client_id: Some("cid".into()),
        client_secret: Some(Secret::new("right-secret")),
        username: Some("svc@example.com".into()),
        password: Some(Secret::new("right-password")),
    };
    cfg.jwt_public_key = Some(public.to_vec());
    let emu = Emu::start(cfg).await;
    let sf = config(&emu.base_url);

    // Client credentials (HTTP Basic) and JWT bearer (RS256) log in.
    let cc = Credentials::client_credentials(Secret::new("cid"), Secret::new("right-secret"));
    let c = Client::connect(&sf, cc, opts(100.0, 1))
        .await
        .expect("client_credentials");
    assert_eq!(c.instance_url(), emu.base_url);
    let jwt = Credentials::jwt(
        Secret::new("cid"),
        Secret::new("svc@example.com"),
        Secret::new(pem),
        emu.base_url.clone(),
    );
    Client::connect(&sf, jwt, opts(100.0, 1))
        .await
        .expect("jwt");
    let pw = Credentials::password(
        Secret::new("cid"),
        Secret::new("right-secret"),
        Secret::new("svc@example.com"),
        Secret::new("right-password"),
    );
    Client::connect(&sf, pw, opts(100.0, 1))
        .await
        .expect("password");

    // A wrong password is refused with Salesforce's words and without the secret.
    let bad = Credentials::password(
        Secret::new("cid"),
        Secret::new("right-secret"),
        Secret::new("svc@example.com"),
        Secret::new("WRONG-pw-distinctive"),
    );
    let err = Client::connect(&sf, bad, opts(100.0, 1))
        .await
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("invalid_grant") && msg.contains("/services/oauth2/token"),
        "{msg}"
    );
    assert!(
        !msg.contains("WRONG-pw-distinctive")
            && !format!("{err:?}").contains("WRONG-pw-distinctive")
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_org_is_a_plain_sentence() {
    // A port nothing listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut o = opts(100.0, 1);
    o.max_retries = 1;
    let err = Client::connect(&config(&base), creds(), o)
        .await
        .err()
        .expect("fails");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{base}/services/oauth2/token")) && msg.contains("could not connect"),
        "{msg}"
    );
}
