//! Emulator throughput against issue 2's targets, on this machine, no latency:
//! - a 1,000,000-user org's full SOQL read (500 pages of 2,000) in under 5 s;
//! - 100,000 creates through 500 `composite/sobjects` calls in under 5 s;
//! - 100,000 updates (issue 15) through 500 `PATCH composite/sobjects` calls.
//!
//! Run: `cargo bench --bench emulator` (release). Sizes can be lowered for a
//! quick look: `EMU_BENCH_USERS=100000 EMU_BENCH_CREATES=20000 cargo bench --bench emulator`.
//! The org and the records are generated here; nothing is read from disk.
//! CI smoke run (4,000 of each): `SFSYNC_BENCH_SMOKE=1 cargo bench --bench emulator -- --test`.

use std::time::Instant;

use serde_json::{Value, json};
use sfsync::emulator::{self, OrgConfig, STANDARD_USER_PROFILE_ID, SeedUser};

/// CI's smoke run (`SFSYNC_BENCH_SMOKE=1 cargo bench -- --test`): tiny sizes.
fn smoke() -> bool {
    std::env::var_os("SFSYNC_BENCH_SMOKE").is_some() || std::env::args().any(|a| a == "--test")
}

fn env_usize(name: &str, default: usize) -> usize {
    let default = if smoke() { default.min(4_000) } else { default };
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The value of `"nextRecordsUrl":"..."` near the start of a page, without parsing the page.
fn next_url(page: &[u8]) -> Option<String> {
    let head = &page[..page.len().min(400)];
    let text = std::str::from_utf8(head).ok()?;
    let start = text.find("\"nextRecordsUrl\":\"")? + "\"nextRecordsUrl\":\"".len();
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_string())
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

async fn token(http: &reqwest::Client, base: &str) -> String {
    let body: Value = http
        .post(format!("{base}/services/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "c"),
            ("client_secret", "s"),
            ("username", "u@x.com"),
            ("password", "p"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Resident memory from /proc (Linux), for the record; "?" elsewhere.
fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l[6..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let users = env_usize("EMU_BENCH_USERS", 1_000_000);
    let creates = env_usize("EMU_BENCH_CREATES", 100_000);
    let updates = env_usize("EMU_BENCH_UPDATES", 100_000).min(users);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let t = Instant::now();
        let seed: Vec<SeedUser> = (0..users)
            .map(|i| {
                SeedUser::new(&format!("person{i:07}@bench.example.com"))
                    .with("FirstName", "Bench")
                    .with("FederationIdentifier", &format!("p{i:07}"))
                    .with("EmployeeNumber", &format!("{i}"))
            })
            .collect();
        let cfg = OrgConfig { users: seed, daily_api_limit: 10_000_000, ..OrgConfig::default() };
        let emu = emulator::start(cfg).await.unwrap();
        println!(
            "org of {users} users built in {:.2} s (process RSS {})",
            t.elapsed().as_secs_f64(),
            rss()
        );

        let http = reqwest::Client::new();
        let tok = token(&http, &emu.base_url).await;
        let soql = "SELECT Id,Username,Email,FirstName,LastName,Alias,IsActive,FederationIdentifier,ProfileId,UserType,CommunityNickname,EmployeeNumber,LastModifiedDate FROM User ORDER BY Id";
        let t = Instant::now();
        let mut url = format!("{}/services/data/v62.0/query?q={}", emu.base_url, url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>());
        let (mut pages, mut records, mut bytes) = (0usize, 0usize, 0usize);
        loop {
            let page = http.get(&url).bearer_auth(&tok).send().await.unwrap().bytes().await.unwrap();
            pages += 1;
            bytes += page.len();
            records += count(&page, b"\"attributes\"");
            match next_url(&page) {
                Some(next) => url = format!("{}{next}", emu.base_url),
                None => break,
            }
        }
        let read = t.elapsed().as_secs_f64();
        assert_eq!(records, users, "every user read once");
        println!(
            "full read: {records} users, {pages} pages, {:.0} MB in {read:.2} s ({:.0} users/s)",
            bytes as f64 / 1e6,
            records as f64 / read
        );

        let calls = creates.div_ceil(200);
        let bodies: Vec<String> = (0..calls)
            .map(|c| {
                let records: Vec<Value> = (0..200.min(creates - c * 200))
                    .map(|k| {
                        let i = c * 200 + k;
                        json!({"attributes": {"type": "User"}, "Username": format!("new{i:07}@bench.example.com"),
                            "Email": format!("new{i:07}@bench.example.com"), "LastName": "New", "FirstName": "Bench",
                            "Alias": format!("n{}", i % 1_000_000), "TimeZoneSidKey": "America/Los_Angeles",
                            "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
                            "ProfileId": STANDARD_USER_PROFILE_ID, "FederationIdentifier": format!("n{i:07}")})
                    })
                    .collect();
                json!({"allOrNone": false, "records": records}).to_string()
            })
            .collect();
        let t = Instant::now();
        let url = format!("{}/services/data/v62.0/composite/sobjects", emu.base_url);
        let mut ok = 0usize;
        for body in bodies {
            let page = http
                .post(&url)
                .bearer_auth(&tok)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            ok += count(&page, b"\"success\":true");
        }
        let write = t.elapsed().as_secs_f64();
        assert_eq!(ok, creates, "every create succeeded");
        assert_eq!(emu.org.counters().users_created as usize, creates);
        let server_us: u64 = emu
            .org
            .log()
            .iter()
            .filter(|r| r.kind == sfsync::emulator::RequestKind::CreateCollection)
            .map(|r| r.finished_us - r.started_us)
            .sum();
        println!(
            "creates: {creates} users in {calls} calls in {write:.2} s ({:.0} users/s; {:.2} s inside the emulator's handlers)",
            creates as f64 / write,
            server_us as f64 / 1e6
        );

        // Updates: two fields of the first seeded users, 200 per PATCH call.
        let calls = updates.div_ceil(200);
        let bodies: Vec<String> = (0..calls)
            .map(|c| {
                let records: Vec<Value> = (0..200.min(updates - c * 200))
                    .map(|k| {
                        let i = c * 200 + k;
                        // Seed users get Ids in order: person i has counter i + 1.
                        json!({"attributes": {"type": "User"}, "id": emulator::ids::make("005", i as u64 + 1),
                            "Title": format!("Title {i}"), "Department": "Bench"})
                    })
                    .collect();
                json!({"allOrNone": false, "records": records}).to_string()
            })
            .collect();
        let t = Instant::now();
        let mut ok = 0usize;
        for body in bodies {
            let page = http
                .patch(&url)
                .bearer_auth(&tok)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            ok += count(&page, b"\"success\":true");
        }
        let write = t.elapsed().as_secs_f64();
        assert_eq!(ok, updates, "every update succeeded");
        let c = emu.org.counters();
        assert_eq!((c.users_updated as usize, c.update_collection_calls as usize), (updates, calls));
        println!(
            "updates: {updates} users in {calls} PATCH calls in {write:.2} s ({:.0} users/s)",
            updates as f64 / write
        );
        emu.stop().await.unwrap();
    });
}
