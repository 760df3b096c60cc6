//! Everything that can go wrong talking to Salesforce, as one enum whose
//! messages are plain sentences naming the URL and Salesforce's own errorCode
//! and message. Call sites ask predicates (`is_retryable()`, `is_lost_answer()`...)
//! instead of matching strings. No variant ever holds a token, password or key.

use std::time::Duration;

/// How a request failed below HTTP, which decides whether it may be resent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The connection could not be made: the request never left, resending is safe.
    NotSent,
    /// No answer within the timeout: the request may have been processed.
    Timeout,
    /// The connection closed after the request went out: it may have been processed.
    Closed,
    /// The host name does not resolve: a wrong URL, not a passing fault, so never retried.
    Unresolvable,
}

#[derive(Debug, thiserror::Error)]
pub enum SfError {
    #[error("no answer from {url}: {detail}")]
    Transport {
        url: String,
        kind: TransportKind,
        detail: String,
    },
    #[error("{url} answered HTTP {status}{}: {message}", code_suffix(.code))]
    Api {
        url: String,
        status: u16,
        /// Salesforce's `errorCode` (empty when the body had none).
        code: String,
        message: String,
        /// From a `Retry-After` header, when sent.
        retry_after: Option<Duration>,
    },
    #[error("Salesforce refused the login at {url}: {error}{}", desc_suffix(.description))]
    Auth {
        url: String,
        /// OAuth `error`, e.g. `invalid_grant`.
        error: String,
        description: String,
    },
    #[error("{url} sent an answer sfsync cannot read: {detail}")]
    Decode { url: String, detail: String },
    /// Local set-up problems found before or instead of a call (bad key file, bad field name).
    #[error("{0}")]
    Setup(String),
    /// Not sent: one more call would cross the job's `api_reserve` (every
    /// call, read or write, is counted before it is made).
    #[error(
        "not sent: the org has {remaining} daily API calls left, at the job's api_reserve of {reserve}"
    )]
    Budget { remaining: u64, reserve: u64 },
    /// An answer sfsync will not act on, for safety: a redirect it does not
    /// follow, a locator to another host, an endless or oversized answer.
    /// Never retried.
    #[error("{url}: {why}")]
    Refused { url: String, why: String },
    /// The org's remaining daily API calls reached `api_reserve` before a read.
    #[error(
        "stopped before a read: the org has {remaining} API calls left today, at or below api_reserve = {reserve}"
    )]
    ReserveReached { remaining: u64, reserve: u64 },
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" {code}")
    }
}

fn desc_suffix(desc: &str) -> String {
    if desc.is_empty() {
        String::new()
    } else {
        format!(" ({desc})")
    }
}

/// HTTP statuses that mean "busy or briefly broken, try again": reference §5.4
/// (jsforce's list; 420 is Salesforce's edge, 429 is treated like 503).
pub const RETRYABLE_STATUSES: [u16; 6] = [420, 429, 500, 502, 503, 504];

impl SfError {
    /// Salesforce's errorCode (or the OAuth `error`), when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            SfError::Api { code, .. } if !code.is_empty() => Some(code),
            SfError::Auth { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            SfError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Safe to send again after a pause: nothing was processed, or the server said "busy".
    pub fn is_retryable(&self) -> bool {
        match self {
            SfError::Transport { kind, .. } => *kind == TransportKind::NotSent,
            SfError::Api { status, code, .. } => {
                RETRYABLE_STATUSES.contains(status) || code == "UNABLE_TO_LOCK_ROW"
            }
            _ => false,
        }
    }

    /// The request went out and no answer came back: it may have been processed.
    pub fn is_lost_answer(&self) -> bool {
        matches!(
            self,
            SfError::Transport {
                kind: TransportKind::Timeout | TransportKind::Closed,
                ..
            }
        )
    }

    /// 401 INVALID_SESSION_ID: the token expired; log in again once.
    pub fn is_invalid_session(&self) -> bool {
        matches!(self, SfError::Api { status: 401, .. })
    }

    fn is_request_limit(&self) -> bool {
        matches!(self, SfError::Api { status: 403, code, .. } if code == "REQUEST_LIMIT_EXCEEDED")
    }

    /// 403 REQUEST_LIMIT_EXCEEDED for too many long-running requests at once
    /// ("ConcurrentPerOrgLongTxn Limit exceeded"): back off with fewer in flight.
    pub fn is_concurrency_limit(&self) -> bool {
        self.is_request_limit()
            && matches!(self, SfError::Api { message, .. } if message.contains("Concurrent"))
    }

    /// 403 REQUEST_LIMIT_EXCEEDED for the daily allowance ("TotalRequests Limit exceeded."):
    /// stop, since every further call is refused and only burns more.
    pub fn is_daily_limit(&self) -> bool {
        self.is_request_limit() && !self.is_concurrency_limit()
    }

    /// Retry-After from the answer, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SfError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Turns a reqwest failure into plain words. reqwest's own text is long and
/// technical; the innermost cause ("Connection refused (os error 111)") is what
/// an operator can act on.
pub(crate) fn transport(url: &str, err: &reqwest::Error, timeout: Duration) -> SfError {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let (kind, detail) = if err.is_connect() && is_dns_failure(err) {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        (
            TransportKind::Unresolvable,
            format!(
                "the host name {host} does not resolve ({cause}); check the URL in the job or --instance-url"
            ),
        )
    } else if err.is_connect() {
        (
            TransportKind::NotSent,
            format!("could not connect ({cause})"),
        )
    } else if err.is_timeout() {
        (
            TransportKind::Timeout,
            format!("no answer within {} s", timeout.as_secs_f64()),
        )
    } else {
        (
            TransportKind::Closed,
            format!("the connection broke before the answer was complete ({cause})"),
        )
    };
    SfError::Transport {
        url: url.to_owned(),
        kind,
        detail,
    }
}

/// hyper-util's resolver wraps every lookup failure as "dns error: ..."; its
/// error type is private, so its text is the one mark there is.
fn is_dns_failure(err: &reqwest::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(c) = cause {
        if c.to_string().starts_with("dns error") {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A URL as shown in messages: SOQL queries can be 2,000 characters long, so the
/// query string is cut; the path (which names the resource) is kept whole.
pub(crate) fn display_url(url: &str) -> String {
    const KEEP: usize = 120;
    match url.split_once('?') {
        Some((path, query)) if query.chars().count() > KEEP => {
            let cut: String = query.chars().take(KEEP).collect();
            format!("{path}?{cut}...")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, message: &str) -> SfError {
        SfError::Api {
            url: "https://x.my.salesforce.com/services/data/v62.0/composite/sobjects".into(),
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn messages_name_url_code_and_text() {
        let e = api(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        );
        assert_eq!(
            e.to_string(),
            "https://x.my.salesforce.com/services/data/v62.0/composite/sobjects answered HTTP 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
        );
        let e = SfError::Auth {
            url: "https://login.salesforce.com/services/oauth2/token".into(),
            error: "invalid_grant".into(),
            description: "authentication failure".into(),
        };
        assert_eq!(
            e.to_string(),
            "Salesforce refused the login at https://login.salesforce.com/services/oauth2/token: invalid_grant (authentication failure)"
        );
    }

    #[test]
    fn predicates_classify_the_documented_cases() {
        assert!(
            api(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded."
            )
            .is_daily_limit()
        );
        let c = api(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded",
        );
        assert!(c.is_concurrency_limit() && !c.is_daily_limit());
        assert!(api(401, "INVALID_SESSION_ID", "Session expired or invalid").is_invalid_session());
        for s in RETRYABLE_STATUSES {
            assert!(api(s, "", "").is_retryable(), "{s}");
        }
        assert!(
            api(
                400,
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access"
            )
            .is_retryable()
        );
        assert!(!api(400, "MALFORMED_QUERY", "unexpected token").is_retryable());
        let lost = SfError::Transport {
            url: "u".into(),
            kind: TransportKind::Closed,
            detail: "d".into(),
        };
        assert!(lost.is_lost_answer() && !lost.is_retryable());
        let refused = SfError::Transport {
            url: "u".into(),
            kind: TransportKind::NotSent,
            detail: "d".into(),
        };
        assert!(refused.is_retryable() && !refused.is_lost_answer());
    }

    #[test]
    fn long_query_strings_are_cut_in_messages() {
        let url = format!("https://h/services/data/v62.0/query?q={}", "a".repeat(5000));
        let shown = display_url(&url);
        assert!(shown.len() < 200 && shown.ends_with("..."), "{shown}");
        assert_eq!(display_url("https://h/p?q=1"), "https://h/p?q=1");
    }
}
