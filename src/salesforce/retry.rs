//! The retry decisions, as pure functions: one classifier for whole-call
//! failures, one for per-record results, and the backoff delay.
//!
//! Reference §5.4: retry 420/429/500/502/503/504 and connection failures
//! before sending; UNABLE_TO_LOCK_ROW whatever the status; log in again once
//! on 401; stop on the daily REQUEST_LIMIT_EXCEEDED; lower concurrency on the
//! concurrent-request variant; never resend a create whose answer was lost.

use std::time::Duration;

use std::fmt;

use super::{RecordResult, SfError};

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
                "Stopped: the org has {remaining} daily API calls left, at the job's api_reserve."
            ),
            StopReason::Interrupted => f.write_str("Stopped: the run was interrupted."),
            StopReason::Fatal(why) => write!(f, "Stopped: {why}"),
        }
    }
}

/// What to do after a call failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallVerdict {
    /// Nothing was processed (or the server was busy): send again after a pause.
    Retry { after: Option<Duration> },
    /// The request went out and no answer came back. An idempotent read may be
    /// resent; a create must be recovered first (re-query its usernames).
    Lost,
    /// 401: log in again, then send again (once).
    Reauth,
    /// Too many long requests at once: one fewer in flight, pause, send again.
    LowerConcurrency { after: Option<Duration> },
    /// No point going on.
    Stop(StopReason),
}

/// Classifies a failed call. Successful answers never reach here: their
/// per-record results go through [`classify_record`].
pub fn classify_call(err: &SfError) -> CallVerdict {
    if let SfError::Budget { remaining, reserve } | SfError::ReserveReached { remaining, reserve } =
        err
    {
        // With no reserve, running short is the daily limit itself arriving.
        return CallVerdict::Stop(if *reserve == 0 {
            StopReason::DailyLimit
        } else {
            StopReason::ApiReserve {
                remaining: *remaining,
            }
        });
    }
    if err.is_invalid_session() {
        CallVerdict::Reauth
    } else if err.is_daily_limit() {
        CallVerdict::Stop(StopReason::DailyLimit)
    } else if err.is_concurrency_limit() {
        CallVerdict::LowerConcurrency {
            after: err.retry_after(),
        }
    } else if err.is_lost_answer() || matches!(err, SfError::Decode { .. }) {
        // An answer that arrived but cannot be read says as little as no answer:
        // the call may have been processed.
        CallVerdict::Lost
    } else if err.is_retryable() {
        CallVerdict::Retry {
            after: err.retry_after(),
        }
    } else {
        CallVerdict::Stop(StopReason::Fatal(err.to_string()))
    }
}

/// What happened to one record of an sObject Collections create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordVerdict {
    Created {
        id: Option<String>,
    },
    /// DUPLICATE_USERNAME: the username is held in another org (ours did not show it).
    Collision {
        message: String,
    },
    /// UNABLE_TO_LOCK_ROW: send again in a later batch.
    RetryLater {
        code: String,
        message: String,
    },
    /// LICENSE_LIMIT_EXCEEDED: every further create with this profile would fail too.
    LicenseLimit {
        code: String,
        message: String,
    },
    Failed {
        code: String,
        message: String,
    },
}

/// Classifies one per-record result. When a record carries several errors, the
/// one that decides what happens next wins: a lock (temporary) over a license
/// shortage over a duplicate username over anything else.
pub fn classify_record(result: &RecordResult) -> RecordVerdict {
    if result.success {
        return RecordVerdict::Created {
            id: result.id.clone().filter(|id| !id.is_empty()),
        };
    }
    let has = |code: &str| result.errors.iter().any(|e| e.status_code == code);
    let message = result
        .errors
        .iter()
        .map(|e| e.message.as_str())
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if has("UNABLE_TO_LOCK_ROW") {
        RecordVerdict::RetryLater {
            code: "UNABLE_TO_LOCK_ROW".into(),
            message,
        }
    } else if has("LICENSE_LIMIT_EXCEEDED") {
        RecordVerdict::LicenseLimit {
            code: "LICENSE_LIMIT_EXCEEDED".into(),
            message,
        }
    } else if has("DUPLICATE_USERNAME") {
        RecordVerdict::Collision { message }
    } else {
        let code = result
            .errors
            .first()
            .map(|e| e.status_code.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "UNKNOWN_ERROR".into());
        let message = if message.is_empty() {
            "Salesforce refused the record without saying why".into()
        } else {
            message
        };
        RecordVerdict::Failed { code, message }
    }
}

/// First pause before a retry; doubled per attempt (jsforce starts at 0.5 s too).
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// The longest pause backoff itself chooses.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A Retry-After longer than this is treated as this, so a bogus header cannot park a run for hours.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

/// Exponential backoff with full jitter: a delay drawn uniformly from
/// `[0, min(cap, base * 2^attempt)]` using `unit` in `[0, 1)` from the caller's
/// random source, and never shorter than the server's Retry-After.
/// `attempt` is 0 for the first retry.
pub fn backoff(attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
    let ceiling = BACKOFF_BASE
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(BACKOFF_CAP)
        .min(BACKOFF_CAP);
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let jittered = ceiling.mul_f64(unit);
    match retry_after {
        Some(after) => jittered.max(after.min(RETRY_AFTER_CAP)),
        None => jittered,
    }
}

/// Reads a `Retry-After` header given in seconds. (The HTTP-date form is not
/// used by Salesforce's edge; it is ignored and backoff alone decides.)
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e6)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::{RecordError, TransportKind};
    use proptest::prelude::*;

    fn api(status: u16, code: &str, message: &str, retry_after: Option<Duration>) -> SfError {
        SfError::Api {
            url: "https://h/services/data/v62.0/composite/sobjects".into(),
            status,
            code: code.into(),
            message: message.into(),
            retry_after,
        }
    }

    fn rec(success: bool, id: Option<&str>, codes: &[&str]) -> RecordResult {
        RecordResult {
            id: id.map(str::to_owned),
            success,
            errors: codes
                .iter()
                .map(|c| RecordError {
                    status_code: (*c).into(),
                    message: format!("{c} text"),
                    fields: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn whole_call_failures() {
        let ra = Some(Duration::from_secs(2));
        assert_eq!(
            classify_call(&api(503, "SERVER_UNAVAILABLE", "Server too busy", None)),
            CallVerdict::Retry { after: None }
        );
        assert_eq!(
            classify_call(&api(429, "", "slow down", ra)),
            CallVerdict::Retry { after: ra }
        );
        for s in [420, 500, 502, 504] {
            assert_eq!(
                classify_call(&api(s, "", "", None)),
                CallVerdict::Retry { after: None },
                "{s}"
            );
        }
        assert_eq!(
            classify_call(&api(
                500,
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access",
                None
            )),
            CallVerdict::Retry { after: None }
        );
        assert_eq!(
            classify_call(&api(
                401,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
                None
            )),
            CallVerdict::Reauth
        );
        assert_eq!(
            classify_call(&api(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
                None
            )),
            CallVerdict::Stop(StopReason::DailyLimit)
        );
        assert_eq!(
            classify_call(&api(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded",
                None
            )),
            CallVerdict::LowerConcurrency { after: None }
        );
        assert!(matches!(
            classify_call(&api(400, "EXCEEDED_ID_LIMIT", "record limit reached", None)),
            CallVerdict::Stop(StopReason::Fatal(m)) if m.contains("EXCEEDED_ID_LIMIT")
        ));
        assert!(matches!(
            classify_call(&api(
                403,
                "API_DISABLED_FOR_ORG",
                "API is not enabled",
                None
            )),
            CallVerdict::Stop(StopReason::Fatal(_))
        ));
        let t = |kind| SfError::Transport {
            url: "u".into(),
            kind,
            detail: "d".into(),
        };
        assert_eq!(
            classify_call(&t(TransportKind::NotSent)),
            CallVerdict::Retry { after: None }
        );
        assert_eq!(classify_call(&t(TransportKind::Timeout)), CallVerdict::Lost);
        assert_eq!(classify_call(&t(TransportKind::Closed)), CallVerdict::Lost);
        let garbled = SfError::Decode {
            url: "u".into(),
            detail: "cut short".into(),
        };
        assert_eq!(classify_call(&garbled), CallVerdict::Lost);
        let auth = SfError::Auth {
            url: "u".into(),
            error: "invalid_grant".into(),
            description: "authentication failure".into(),
        };
        assert!(matches!(
            classify_call(&auth),
            CallVerdict::Stop(StopReason::Fatal(_))
        ));
    }

    #[test]
    fn per_record_results() {
        assert_eq!(
            classify_record(&rec(true, Some("005A"), &[])),
            RecordVerdict::Created {
                id: Some("005A".into())
            }
        );
        assert!(matches!(
            classify_record(&rec(false, None, &["DUPLICATE_USERNAME"])),
            RecordVerdict::Collision { .. }
        ));
        assert!(matches!(
            classify_record(&rec(false, None, &["UNABLE_TO_LOCK_ROW"])),
            RecordVerdict::RetryLater { .. }
        ));
        assert!(matches!(
            classify_record(&rec(false, None, &["LICENSE_LIMIT_EXCEEDED"])),
            RecordVerdict::LicenseLimit { .. }
        ));
        assert_eq!(
            classify_record(&rec(
                false,
                None,
                &["INVALID_EMAIL_ADDRESS", "STRING_TOO_LONG"]
            )),
            RecordVerdict::Failed {
                code: "INVALID_EMAIL_ADDRESS".into(),
                message: "INVALID_EMAIL_ADDRESS text; STRING_TOO_LONG text".into()
            }
        );
        // A lock is temporary, so it beats a duplicate that might be our own earlier create.
        assert!(matches!(
            classify_record(&rec(
                false,
                None,
                &["DUPLICATE_USERNAME", "UNABLE_TO_LOCK_ROW"]
            )),
            RecordVerdict::RetryLater { .. }
        ));
        assert!(
            matches!(classify_record(&rec(false, None, &[])), RecordVerdict::Failed { code, .. } if code == "UNKNOWN_ERROR")
        );
    }

    #[test]
    fn retry_after_header() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff(0, None, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(1, None, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(3, None, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(20, None, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(u32::MAX, None, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(4, None, 0.0), Duration::ZERO);
    }

    proptest! {
        #[test]
        fn backoff_stays_in_bounds_and_honours_retry_after(
            attempt in 0u32..64,
            unit in 0.0f64..1.0,
            ra_ms in proptest::option::of(0u64..600_000),
        ) {
            let ra = ra_ms.map(Duration::from_millis);
            let d = backoff(attempt, ra, unit);
            let ceiling = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(16)).min(BACKOFF_CAP);
            match ra {
                Some(ra) => {
                    prop_assert!(d >= ra.min(RETRY_AFTER_CAP));
                    prop_assert!(d <= ceiling.max(ra.min(RETRY_AFTER_CAP)));
                }
                None => prop_assert!(d <= ceiling),
            }
        }

        #[test]
        fn jitter_is_monotonic_in_the_random_draw(attempt in 0u32..10, a in 0.0f64..1.0, b in 0.0f64..1.0) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(backoff(attempt, None, lo) <= backoff(attempt, None, hi));
        }
    }
}
