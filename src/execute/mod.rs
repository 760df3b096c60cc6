//! TEMPORARY stand-in for the executor API (replaced by the client branch).
#![allow(dead_code, clippy::unused_async)]

use crate::report::Outcome;
use crate::salesforce::Client;

pub struct CreateItem {
    pub key: usize,
    pub username: String,
    pub profile_id: Option<String>,
    pub record: serde_json::Map<String, serde_json::Value>,
}
pub struct CreateResult {
    pub key: usize,
    pub outcome: Outcome,
    pub salesforce_id: Option<String>,
    pub error_code: Option<String>,
    pub message: Option<String>,
}
pub struct ExecuteOptions {
    pub batch_size: usize,
    pub api_reserve: u64,
    pub match_keys: Vec<String>,
}
#[derive(Debug)]
pub enum StopReason {
    DailyLimit,
    ApiReserve { remaining: u64 },
    Interrupted,
    Fatal(String),
}
impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
pub struct ExecuteOutcome {
    pub results: Vec<CreateResult>,
    pub stopped: Option<StopReason>,
}
pub async fn create_users(
    _c: &Client,
    _i: Vec<CreateItem>,
    _o: &ExecuteOptions,
    _cancel: tokio::sync::watch::Receiver<bool>,
) -> ExecuteOutcome {
    ExecuteOutcome {
        results: Vec::new(),
        stopped: None,
    }
}
