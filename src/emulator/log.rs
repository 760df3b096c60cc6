//! The request log and counters that tests, benchmarks and scripts read.
//!
//! One [`RequestRecord`] per HTTP request (token calls and `/_emulator` reads
//! included, each with its [`RequestKind`]), kept in arrival order in a bounded
//! ring so a long rehearsal cannot exhaust memory. [`Counters`] are totals that
//! never roll over.

use std::collections::VecDeque;

use serde::Serialize;

use super::faults::FaultKind;

/// What a request was, as far as the emulator's routing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RequestKind {
    Token,
    Versions,
    Limits,
    Query,
    QueryMore,
    CreateOne,
    CreateCollection,
    /// `PATCH sobjects/User/{Id}` or `sobjects/UserLogin/{Id}` (also `POST ?_HttpMethod=PATCH`).
    UpdateOne,
    /// `PATCH composite/sobjects`.
    UpdateCollection,
    /// `GET`/`DELETE` on one User, describe, and anything else under the API.
    Other,
    /// `/_emulator/...`: the emulator's own inspection endpoints.
    Inspect,
}

impl RequestKind {
    /// Requests that count against the daily API allowance and can meet faults.
    pub fn is_api(self) -> bool {
        !matches!(
            self,
            RequestKind::Token | RequestKind::Versions | RequestKind::Inspect
        )
    }
}

/// One HTTP request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Arrival order, from 0, over all requests.
    pub seq: u64,
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub kind: RequestKind,
    /// HTTP status sent; `None` when the connection was closed without an answer.
    pub status: Option<u16>,
    /// Records in the request body (creates) or in the answered page (queries).
    pub records: usize,
    /// Microseconds since the org was created.
    pub started_us: u64,
    pub finished_us: u64,
    /// API requests in flight when this one arrived, itself included.
    pub in_flight: usize,
    /// The fault injected into this request, if any.
    pub fault: Option<FaultKind>,
}

/// Totals since the org was created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Every HTTP request, of any kind.
    pub requests: u64,
    /// Requests that counted against the daily allowance (what `Sforce-Limit-Info` reports).
    pub api_calls: u64,
    pub token_calls: u64,
    pub versions_calls: u64,
    pub limits_calls: u64,
    pub query_calls: u64,
    pub query_more_calls: u64,
    pub create_one_calls: u64,
    pub create_collection_calls: u64,
    pub update_one_calls: u64,
    pub update_collection_calls: u64,
    pub other_calls: u64,
    /// Users committed by create calls (seeded users not included).
    pub users_created: u64,
    /// Records refused by create calls, any reason (rolled-back records included).
    pub creates_refused: u64,
    /// Records updated by PATCH calls (User only; rolled-back records not included).
    pub users_updated: u64,
    /// User records refused by PATCH calls, any reason (rolled-back records included).
    pub updates_refused: u64,
    /// Create attempts refused with DUPLICATE_USERNAME.
    pub duplicate_username_attempts: u64,
    /// Answers with 401 INVALID_SESSION_ID.
    pub unauthorized: u64,
    /// Answers with 403 REQUEST_LIMIT_EXCEEDED (daily or concurrency).
    pub limit_refusals: u64,
    /// Faults injected, by kind.
    pub faults_503: u64,
    pub faults_429: u64,
    pub faults_dropped: u64,
    pub faults_lock_row: u64,
    pub lost_answers: u64,
    /// Highest number of API requests in flight at once.
    pub max_in_flight: usize,
}

impl Counters {
    pub(crate) fn count_kind(&mut self, kind: RequestKind) {
        self.requests += 1;
        let slot = match kind {
            RequestKind::Token => &mut self.token_calls,
            RequestKind::Versions => &mut self.versions_calls,
            RequestKind::Limits => &mut self.limits_calls,
            RequestKind::Query => &mut self.query_calls,
            RequestKind::QueryMore => &mut self.query_more_calls,
            RequestKind::CreateOne => &mut self.create_one_calls,
            RequestKind::CreateCollection => &mut self.create_collection_calls,
            RequestKind::UpdateOne => &mut self.update_one_calls,
            RequestKind::UpdateCollection => &mut self.update_collection_calls,
            RequestKind::Other | RequestKind::Inspect => &mut self.other_calls,
        };
        *slot += 1;
    }

    pub(crate) fn count_fault(&mut self, fault: FaultKind) {
        let slot = match fault {
            FaultKind::ServerUnavailable => &mut self.faults_503,
            FaultKind::TooManyRequests => &mut self.faults_429,
            FaultKind::Dropped => &mut self.faults_dropped,
            FaultKind::LockRow => &mut self.faults_lock_row,
            FaultKind::LostAnswer => &mut self.lost_answers,
        };
        *slot += 1;
    }
}

/// A bounded log: the oldest records go first once `capacity` is reached.
#[derive(Debug)]
pub(crate) struct RequestLog {
    records: VecDeque<RequestRecord>,
    capacity: usize,
}

impl RequestLog {
    pub(crate) fn new(capacity: usize) -> Self {
        RequestLog {
            records: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn push(&mut self, record: RequestRecord) {
        if self.capacity == 0 {
            return;
        }
        if self.records.len() == self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    pub(crate) fn snapshot(&self) -> Vec<RequestRecord> {
        let mut v: Vec<RequestRecord> = self.records.iter().cloned().collect();
        // Records are pushed when requests finish; readers want arrival order.
        v.sort_by_key(|r| r.seq);
        v
    }
}
