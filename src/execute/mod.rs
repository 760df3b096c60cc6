//! Executing the plan's creates: batches through sObject Collections, paced,
//! retried, with lost answers recovered instead of resent.
//!
//! - [`pace`]: the shared rate limiter and in-flight cap (used by every client call).
//! - [`retry`]: the pure classifier and backoff.

pub mod pace;
pub mod retry;

use std::fmt;

/// Why a run stopped before every item was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Salesforce refused further calls today (403 REQUEST_LIMIT_EXCEEDED, or no calls left).
    DailyLimit,
    /// The org's remaining daily calls reached the job's `api_reserve`.
    ApiReserve { remaining: u64 },
    /// Ctrl-C / SIGTERM.
    Interrupted,
    /// Anything else that makes going on pointless (auth refused, unreachable, a bad request).
    Fatal(String),
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::DailyLimit => {
                f.write_str("Stopped: the org's daily API request limit is reached.")
            }
            StopReason::ApiReserve { remaining } => write!(
                f,
                "Stopped: the org has {remaining} daily API calls left, which is the job's api_reserve."
            ),
            StopReason::Interrupted => f.write_str("Stopped: the run was interrupted."),
            StopReason::Fatal(why) => write!(f, "Stopped: {why}"),
        }
    }
}
