//! In-process emulator harness: start an org on 127.0.0.1:0, talk to it over
//! real HTTP, read its log and state, stop it.
//!
//! ```ignore
//! let emu = Emu::start(OrgConfig::default()).await;
//! let token = emu.token().await;
//! // ... point the code under test at emu.base_url ...
//! assert_eq!(emu.counters().create_collection_calls, 1);
//! emu.stop().await;
//! ```
// Shared by every test module; not each one uses every helper.
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{Value, json};
use sfsync::emulator::{
    self, Counters, EmulatedUser, Org, OrgConfig, RequestRecord, RunningEmulator,
    STANDARD_USER_PROFILE_ID, SeedUser,
};

/// API version the harness uses in paths.
pub const V: &str = "v62.0";

pub struct Emu {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub org: Arc<Org>,
    pub http: reqwest::Client,
    running: RunningEmulator,
}

impl Emu {
    /// Starts an org built from `cfg`.
    pub async fn start(cfg: OrgConfig) -> Emu {
        let running = emulator::start(cfg).await.expect("emulator starts");
        Emu {
            base_url: running.base_url.clone(),
            org: running.org.clone(),
            http: reqwest::Client::new(),
            running,
        }
    }

    /// An empty org with the default profiles and no faults.
    pub async fn empty() -> Emu {
        Emu::start(OrgConfig::default()).await
    }

    /// An org seeded with `n` generated users (`user00001@seed.example.com`, ...).
    pub async fn with_users(n: usize) -> Emu {
        let cfg = OrgConfig {
            users: seed_users(n),
            ..OrgConfig::default()
        };
        Emu::start(cfg).await
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `base_url/services/data/v62.0/` + `rest`.
    pub fn api(&self, rest: &str) -> String {
        format!("{}/services/data/{V}/{rest}", self.base_url)
    }

    /// A fresh access token from the password flow (any credentials unless the config is strict).
    pub async fn token(&self) -> String {
        let resp = self.password_grant("svc@example.com").await;
        assert_eq!(resp.status(), 200, "token request refused");
        let body: Value = resp.json().await.expect("token JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// The password flow's token call for `username` (any other credentials),
    /// answered as it came.
    pub async fn password_grant(&self, username: &str) -> reqwest::Response {
        self.http
            .post(self.url("/services/oauth2/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "test-client"),
                ("client_secret", "test-secret"),
                ("username", username),
                ("password", "pwTOKEN"),
            ])
            .send()
            .await
            .expect("token request")
    }

    /// GET an API path with a token; returns status, `Sforce-Limit-Info`, body.
    pub async fn get(&self, token: &str, rest: &str) -> (u16, Option<String>, Value) {
        let resp = self
            .http
            .get(self.api(rest))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        split(resp).await
    }

    /// POST JSON to an API path with a token.
    pub async fn post(
        &self,
        token: &str,
        rest: &str,
        body: &Value,
    ) -> (u16, Option<String>, Value) {
        let resp = self
            .http
            .post(self.api(rest))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST");
        split(resp).await
    }

    /// Runs SOQL (URL-encoded for you).
    pub async fn query(&self, token: &str, soql: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.api("query"))
            .query(&[("q", soql)])
            .bearer_auth(token)
            .send()
            .await
            .expect("query");
        let (s, _, b) = split(resp).await;
        (s, b)
    }

    pub fn log(&self) -> Vec<RequestRecord> {
        self.org.log()
    }

    pub fn counters(&self) -> Counters {
        self.org.counters()
    }

    pub fn users(&self) -> Vec<EmulatedUser> {
        self.org.users()
    }

    /// The user with this username (case-insensitive), if any.
    pub fn user(&self, username: &str) -> Option<EmulatedUser> {
        self.users()
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
    }

    pub async fn stop(self) {
        self.running.stop().await.expect("emulator stops cleanly");
    }
}

/// Status, `Sforce-Limit-Info` and JSON body (`Null` when empty).
pub async fn split(resp: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = resp.status().as_u16();
    let limit = resp
        .headers()
        .get("sforce-limit-info")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, limit, body)
}

/// `n` seed users: `user00001@seed.example.com` ... with federation ids `fed00001` ...
pub fn seed_users(n: usize) -> Vec<SeedUser> {
    (1..=n)
        .map(|i| {
            SeedUser::new(&format!("user{i:05}@seed.example.com"))
                .with("FederationIdentifier", &format!("fed{i:05}"))
                .with("FirstName", "Seed")
        })
        .collect()
}

/// A create record that passes every rule (Standard User profile).
pub fn new_user(username: &str) -> Value {
    let local = username.split('@').next().unwrap_or(username);
    json!({
        "Username": username,
        "Email": username,
        "LastName": local,
        "Alias": local.chars().take(8).collect::<String>(),
        "TimeZoneSidKey": "America/Los_Angeles",
        "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8",
        "LanguageLocaleKey": "en_US",
        "ProfileId": STANDARD_USER_PROFILE_ID,
    })
}

/// A `composite/sobjects` body for these User records.
pub fn collection(records: &[Value], all_or_none: bool) -> Value {
    collection_of("User", records, all_or_none)
}

/// A `composite/sobjects` body (POST or PATCH) for records of sObject `ty`.
pub fn collection_of(ty: &str, records: &[Value], all_or_none: bool) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r["attributes"] = json!({"type": ty});
            r
        })
        .collect();
    json!({"allOrNone": all_or_none, "records": records})
}
