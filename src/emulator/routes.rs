//! HTTP handling: one axum fallback handler that classifies the path itself
//! (Salesforce matches `sobjects/User` case-insensitively and with or
//! without a trailing slash), then runs the common pipeline for API calls:
//! session check, concurrency cap, daily allowance, seeded latency and
//! faults, the operation, `Sforce-Limit-Info`, and a request-log entry.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::ConnKill;
use super::access;
use super::auth::{self, Grant};
use super::faults::FaultKind;
use super::ids;
use super::lifecycle;
use super::log::{RequestKind, RequestRecord};
use super::org::{Org, Session};
use super::query;
use super::schema;
use super::soql::{self, Cursor, Select};
use super::validate::{self, RecError};
use super::wire::{CollectionIn, RecordIn};
use super::{composite, describe, organization, soap};

/// Oldest version still served; older ones answer 410 (reference §6.4).
const OLDEST_VERSION: u32 = 31;
/// Newest version listed by `GET /services/data/`.
pub const LATEST_VERSION: u32 = 66;
/// Salesforce's limit on URI (and URI plus headers) size.
const MAX_URI: usize = 16_384;
/// Records per collection call.
const MAX_COLLECTION: usize = 200;

pub(crate) fn router(org: Arc<Org>) -> Router {
    Router::new().fallback(handle).with_state(org)
}

/// What a request is, decided from method and path alone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Route {
    Token,
    Versions,
    Inspect(&'static str),
    Gone,
    NotFound,
    MethodNotAllowed(&'static str),
    VersionRoot(String),
    Limits,
    Query {
        all: bool,
    },
    QueryMore(String),
    CreateOne,
    CreateCollection,
    GetUser(String),
    PatchUser(String),
    UpdateCollection,
    PatchUserLogin(String),
    /// `POST sobjects/PermissionSetAssignment` or `sobjects/GroupMember`.
    CreateAccess(access::InsertKind),
    DescribeUser,
    /// `GET sobjects/User`: the basic-information shape.
    UserBasicInfo,
    /// `GET sobjects`: describe global.
    DescribeGlobal,
    /// `POST /composite`.
    Composite,
    /// `POST /services/Soap/u/NN.N`: the partner API login.
    SoapLogin(String),
    /// `/services/oauth2/userinfo`.
    UserInfo,
    /// `/id/00D.../005...`: the identity URL handed out with each token.
    Identity(String, String),
}

impl Route {
    fn kind(&self) -> RequestKind {
        match self {
            Route::Token => RequestKind::Token,
            Route::Versions => RequestKind::Versions,
            Route::Inspect(_) => RequestKind::Inspect,
            Route::Limits => RequestKind::Limits,
            Route::Query { .. } => RequestKind::Query,
            Route::QueryMore(_) => RequestKind::QueryMore,
            Route::CreateOne | Route::CreateAccess(_) => RequestKind::CreateOne,
            Route::CreateCollection => RequestKind::CreateCollection,
            Route::PatchUser(_) | Route::PatchUserLogin(_) => RequestKind::UpdateOne,
            Route::UpdateCollection => RequestKind::UpdateCollection,
            Route::SoapLogin(_) => RequestKind::Token,
            Route::UserInfo | Route::Identity(..) => RequestKind::Inspect,
            _ => RequestKind::Other,
        }
    }
}

/// Splits `/services/data/vNN.N/rest` into the version and the rest.
pub(crate) fn classify(method: &Method, path: &str) -> (Route, String) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let v = format!("v{LATEST_VERSION}.0");
    let only = |m: Method, r: Route, allowed: &'static str| {
        // HEAD is GET without the body (hyper drops it).
        if *method == m || (m == Method::GET && *method == Method::HEAD) {
            r
        } else {
            Route::MethodNotAllowed(allowed)
        }
    };
    match l.as_slice() {
        ["services", "oauth2", "token"] => (only(Method::POST, Route::Token, "POST"), v),
        ["services", "oauth2", "userinfo"] => match *method {
            Method::GET | Method::HEAD | Method::POST => (Route::UserInfo, v),
            _ => (Route::MethodNotAllowed("GET, HEAD, POST"), v),
        },
        ["services", "soap", "u", ver, ..] => {
            let known = ver
                .split_once('.')
                .and_then(|(a, _)| a.parse::<u32>().ok())
                .is_some_and(|n| (OLDEST_VERSION..=LATEST_VERSION).contains(&n));
            if !known {
                return (Route::NotFound, v);
            }
            (
                only(Method::POST, Route::SoapLogin(ver.to_string()), "POST"),
                v,
            )
        }
        ["id", _, _] => match *method {
            Method::GET | Method::HEAD | Method::POST => {
                (Route::Identity(segs[1].to_string(), segs[2].to_string()), v)
            }
            _ => (Route::MethodNotAllowed("GET, HEAD, POST"), v),
        },
        ["services", "data"] => (only(Method::GET, Route::Versions, "GET, HEAD"), v),
        ["_emulator", what @ ("log" | "counters" | "users")] => {
            let what: &'static str = match *what {
                "log" => "log",
                "counters" => "counters",
                _ => "users",
            };
            (only(Method::GET, Route::Inspect(what), "GET, HEAD"), v)
        }
        ["services", "data", ver, rest @ ..] => {
            let number = if *ver == "latest" {
                Some(LATEST_VERSION)
            } else {
                ver.strip_prefix('v')
                    .and_then(|n| n.strip_suffix(".0"))
                    .and_then(|n| n.parse::<u32>().ok())
            };
            let Some(number) = number else {
                return (Route::NotFound, v);
            };
            let ver = format!("v{number}.0");
            if number < OLDEST_VERSION {
                return (Route::Gone, ver);
            }
            if number > LATEST_VERSION {
                return (Route::NotFound, ver);
            }
            let original_rest = &segs[3..];
            let route = match rest {
                [] => only(Method::GET, Route::VersionRoot(ver.clone()), "GET, HEAD"),
                ["limits"] => only(Method::GET, Route::Limits, "GET, HEAD"),
                ["query"] => only(Method::GET, Route::Query { all: false }, "GET, HEAD"),
                ["queryall"] => only(Method::GET, Route::Query { all: true }, "GET, HEAD"),
                ["query" | "queryall", _] => only(
                    Method::GET,
                    Route::QueryMore(original_rest[1].to_string()),
                    "GET, HEAD",
                ),
                ["sobjects"] => only(Method::GET, Route::DescribeGlobal, "GET, HEAD"),
                ["sobjects", "user"] => match *method {
                    Method::POST => Route::CreateOne,
                    Method::GET | Method::HEAD => Route::UserBasicInfo,
                    _ => Route::MethodNotAllowed("GET, HEAD, POST"),
                },
                ["sobjects", "user", "describe"] => {
                    only(Method::GET, Route::DescribeUser, "GET, HEAD")
                }
                ["sobjects", "user", _] => {
                    let id = original_rest[2].to_string();
                    match *method {
                        Method::GET | Method::HEAD => Route::GetUser(id),
                        Method::PATCH => Route::PatchUser(id),
                        _ => Route::MethodNotAllowed("GET, HEAD, PATCH"),
                    }
                }
                ["composite"] => only(Method::POST, Route::Composite, "POST"),
                ["composite", "sobjects"] => match *method {
                    Method::POST => Route::CreateCollection,
                    Method::PATCH => Route::UpdateCollection,
                    _ => Route::MethodNotAllowed("PATCH, POST"),
                },
                [
                    "sobjects",
                    obj @ ("permissionsetassignment" | "groupmember"),
                ] => only(
                    Method::POST,
                    Route::CreateAccess(
                        access::InsertKind::parse(obj).expect("matched a known name"),
                    ),
                    "GET, HEAD, POST",
                ),
                // UserLogin: update only (no create, no delete; lifecycle reference §2.3).
                ["sobjects", "userlogin", _] => only(
                    Method::PATCH,
                    Route::PatchUserLogin(original_rest[2].to_string()),
                    "GET, HEAD, PATCH",
                ),
                _ => Route::NotFound,
            };
            (route, ver)
        }
        _ => (Route::NotFound, v),
    }
}

pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

/// A top-level error array: `[{"message","errorCode"[,"fields"]}]`.
pub(crate) fn error_array(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!([{"message": message, "errorCode": code}]).to_string(),
    )
}

pub(crate) fn rec_errors_top(errors: &[RecError]) -> String {
    Value::Array(
        errors
            .iter()
            .map(|e| json!({"message": e.message, "errorCode": e.code, "fields": e.fields}))
            .collect(),
    )
    .to_string()
}

pub(crate) fn rec_errors_per_record(errors: &[RecError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| json!({"statusCode": e.code, "message": e.message, "fields": e.fields}))
            .collect(),
    )
}

fn not_found() -> Response {
    error_array(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// 204 with no body (a PATCH that succeeded).
pub(crate) fn no_content() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// The outcome of one request.
pub(crate) enum Reply {
    /// Answer with this response; `records` goes to the log.
    Http(Response, usize),
    /// Close the connection without an answer.
    Drop(usize),
}

struct InFlight(Arc<Org>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(State(org): State<Arc<Org>>, req: Request) -> Response {
    let seq = org.req_seq.fetch_add(1, Ordering::SeqCst);
    let started_us = org.micros();
    let kill = req.extensions().get::<ConnKill>().cloned();
    let uri = req.uri().clone();
    // The log keeps the method as sent.
    let wire_method = req.method().to_string();
    // `POST ...?_HttpMethod=PATCH` is a PATCH for clients that cannot send one
    // (lifecycle reference §1.1).
    let method = if req.method() == Method::POST
        && uri.query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .any(|(k, v)| k == "_HttpMethod" && v.eq_ignore_ascii_case("PATCH"))
        }) {
        Method::PATCH
    } else {
        req.method().clone()
    };
    let path = uri.path().to_string();
    let (route, version) = classify(&method, &path);
    let kind = route.kind();
    let rest_api = is_rest_path(&path);
    let mut record = RequestRecord {
        seq,
        method: wire_method,
        path: path.clone(),
        kind,
        status: None,
        records: 0,
        started_us,
        finished_us: 0,
        in_flight: 0,
        fault: None,
    };
    org.counters_mut().count_kind(kind);

    let _guard = if kind.is_api() {
        let n = org.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        record.in_flight = n;
        let mut c = org.counters_mut();
        c.max_in_flight = c.max_in_flight.max(n);
        Some(InFlight(org.clone()))
    } else {
        None
    };

    let reply = process(&org, route, &version, req, &mut record).await;
    match reply {
        Reply::Http(mut resp, records) => {
            // REST resources only: not the token, SOAP, identity or /_emulator answers,
            // nor the versions list (reference §6.1).
            if rest_api {
                let used = org.api_used.load(Ordering::SeqCst);
                let v = format!("api-usage={used}/{}", org.cfg.daily_api_limit);
                if let Ok(h) = HeaderValue::from_str(&v) {
                    resp.headers_mut().insert("sforce-limit-info", h);
                }
            }
            record.status = Some(resp.status().as_u16());
            record.records = records;
            record.finished_us = org.micros();
            org.push_log(record);
            resp
        }
        Reply::Drop(records) => {
            record.records = records;
            record.finished_us = org.micros();
            org.push_log(record);
            match kill {
                Some(k) => {
                    k.0.notify_one();
                    // The connection task drops this future with the socket.
                    std::future::pending::<()>().await;
                    unreachable!("the connection was closed")
                }
                // Served by something other than `serve` (no way to close the
                // socket): the nearest thing is an empty 502.
                None => {
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::BAD_GATEWAY;
                    r
                }
            }
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn base_url(org: &Org, headers: &HeaderMap) -> String {
    if let Some(b) = org.base_url.get() {
        return b.clone();
    }
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(h) => format!("http://{h}"),
        None => "http://127.0.0.1".to_string(),
    }
}

async fn process(
    org: &Arc<Org>,
    route: Route,
    version: &str,
    req: Request,
    record: &mut RequestRecord,
) -> Reply {
    let uri = req.uri().clone();
    let uri_len = uri.to_string().len();
    if uri_len > MAX_URI {
        return Reply::Http(
            error_array(StatusCode::URI_TOO_LONG, "URI_TOO_LONG", "URI Too Long"),
            0,
        );
    }
    let header_len: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if uri_len + header_len > MAX_URI {
        return Reply::Http(
            error_array(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "REQUEST_HEADER_FIELDS_TOO_LARGE",
                "Request Header Fields Too Large",
            ),
            0,
        );
    }
    let headers = req.headers().clone();
    // The size cap comes before anything else, the session check included:
    // an anonymous client cannot make the emulator buffer a large body.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > org.cfg.max_body as u64) {
        return Reply::Http(body_too_large(org.cfg.max_body), 0);
    }
    let body = req.into_body();
    match route {
        Route::Versions => return Reply::Http(versions(), 0),
        Route::NotFound => return Reply::Http(not_found(), 0),
        Route::Gone => {
            return Reply::Http(
                error_array(
                    StatusCode::GONE,
                    "API_VERSION_RETIRED",
                    "This API version has been retired. Use a newer version.",
                ),
                0,
            );
        }
        Route::MethodNotAllowed(allowed) => {
            let msg = format!(
                "HTTP Method '{}' not allowed. Allowed are {allowed}",
                record.method
            );
            let mut r = error_array(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", &msg);
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allowed));
            return Reply::Http(r, 0);
        }
        Route::Token => {
            let body = match read_body(org, body).await {
                Ok(b) => b,
                Err(r) => return Reply::Http(*r, 0),
            };
            return Reply::Http(token(org, &headers, uri.query(), &body), 0);
        }
        Route::SoapLogin(ver) => {
            let body = match read_body(org, body).await {
                Ok(b) => b,
                Err(r) => return Reply::Http(*r, 0),
            };
            return Reply::Http(soap_login(org, &headers, &ver, &body), 0);
        }
        Route::Inspect(what) => {
            if !org.cfg.admin_open && session_user(org, &headers).is_none() {
                org.counters_mut().unauthorized += 1;
                return Reply::Http(invalid_session(), 0);
            }
            let body = match what {
                "log" => serde_json::to_string(&org.log()),
                "counters" => serde_json::to_string(&org.counters()),
                _ => serde_json::to_string(&org.users()),
            }
            .unwrap_or_default();
            return Reply::Http(json_response(StatusCode::OK, body), 0);
        }
        Route::UserInfo | Route::Identity(..) => {
            let Some(username) = session_user(org, &headers) else {
                org.counters_mut().unauthorized += 1;
                return Reply::Http(invalid_session(), 0);
            };
            let base = base_url(org, &headers);
            let reply = match &route {
                Route::Identity(o, u) => identity(org, &base, &username, o, u),
                _ => userinfo(org, &base, &username),
            };
            return Reply::Http(reply, 0);
        }
        _ => {}
    }

    // The API pipeline: session, concurrency, allowance, faults, operation.
    let mut api_user: Option<String> = None;
    let session_ok = match bearer(&headers) {
        None => false,
        Some(tok) => {
            let mut sessions = org.sessions.lock().unwrap_or_else(|p| p.into_inner());
            let expired = match sessions.get_mut(tok) {
                None => true,
                Some(s) => {
                    let by_calls =
                        org.cfg.token_ttl_calls > 0 && s.calls >= org.cfg.token_ttl_calls;
                    let by_age = org
                        .cfg
                        .token_ttl
                        .is_some_and(|ttl| s.issued.elapsed() >= ttl);
                    if !(by_calls || by_age) {
                        s.calls += 1;
                    }
                    api_user.clone_from(&s.user_id);
                    by_calls || by_age
                }
            };
            if expired {
                sessions.remove(tok);
            }
            !expired
        }
    };
    if !session_ok {
        org.counters_mut().unauthorized += 1;
        return Reply::Http(invalid_session(), 0);
    }
    let body = match read_body(org, body).await {
        Ok(b) => b,
        Err(r) => return Reply::Http(*r, 0),
    };
    if org.cfg.max_in_flight > 0 && record.in_flight > org.cfg.max_in_flight {
        org.counters_mut().limit_refusals += 1;
        return Reply::Http(
            error_array(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded.",
            ),
            0,
        );
    }
    let limit = org.cfg.daily_api_limit;
    if org
        .api_used
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
            (u < limit).then_some(u + 1)
        })
        .is_err()
    {
        org.counters_mut().limit_refusals += 1;
        return Reply::Http(
            error_array(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            ),
            0,
        );
    }

    let is_write = matches!(
        route,
        Route::CreateOne
            | Route::CreateCollection
            | Route::CreateAccess(_)
            | Route::PatchUser(_)
            | Route::UpdateCollection
            | Route::PatchUserLogin(_)
    );
    let n = org.api_seq.fetch_add(1, Ordering::SeqCst);
    let decision = org.cfg.faults.decide(n, is_write);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    record.fault = decision.fault;
    if let Some(f) = decision.fault {
        org.counters_mut().count_fault(f);
    }
    match decision.fault {
        Some(FaultKind::ServerUnavailable) => {
            return Reply::Http(
                error_array(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVER_UNAVAILABLE",
                    "Server too busy",
                ),
                0,
            );
        }
        Some(FaultKind::TooManyRequests) => {
            // Not REQUEST_LIMIT_EXCEEDED: that is the daily-limit code, which
            // clients treat as "stop". Salesforce documents no 429 body.
            let mut r = error_array(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Too many requests. Try again later.",
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(org.cfg.faults.retry_after_secs),
            );
            return Reply::Http(r, 0);
        }
        Some(FaultKind::Dropped) => return Reply::Drop(0),
        _ => {}
    }
    let locked = decision.fault == Some(FaultKind::LockRow);
    let lost = decision.fault == Some(FaultKind::LostAnswer);

    let reply = match route {
        Route::Composite => {
            composite::run(org, &headers, &body, version, api_user.as_deref()).await
        }
        route => operate(
            org,
            route,
            &headers,
            uri.query(),
            &body,
            version,
            locked,
            n,
            api_user.as_deref(),
        ),
    };
    match reply {
        Reply::Http(_, records) if lost => Reply::Drop(records),
        other => other,
    }
}

/// Runs one REST operation (also a `/composite` subrequest). `locked` and
/// `n` are the fault plan's per-record lock decision and the call's position.
#[allow(clippy::too_many_arguments)]
pub(crate) fn operate(
    org: &Org,
    route: Route,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
    version: &str,
    locked: bool,
    n: u64,
    api_user: Option<&str>,
) -> Reply {
    match route {
        Route::VersionRoot(ver) => Reply::Http(version_root(&ver), 0),
        Route::Limits => Reply::Http(limits(org), 0),
        Route::Query { .. } => run_query(org, headers, query, version),
        Route::QueryMore(loc) => query_more(org, headers, &loc, version),
        Route::CreateOne => create_one(org, body, locked, version),
        Route::CreateCollection => create_collection(org, body, locked, n),
        Route::GetUser(id) => get_user(org, headers, &id, version),
        Route::PatchUser(id) => lifecycle::patch_user(org, &id, body, locked, api_user),
        Route::UpdateCollection => {
            let plan = &org.cfg.faults;
            lifecycle::update_collection(
                org,
                body,
                &|i| locked && plan.record_locked(n, i),
                api_user,
            )
        }
        Route::PatchUserLogin(id) => lifecycle::patch_login(org, &id, body, locked),
        Route::CreateAccess(kind) => access::insert_one(org, kind, body, locked),
        Route::DescribeUser => {
            Reply::Http(json_response(StatusCode::OK, describe::user(version)), 0)
        }
        Route::DescribeGlobal => {
            Reply::Http(json_response(StatusCode::OK, describe::global(version)), 0)
        }
        Route::UserBasicInfo => Reply::Http(
            json_response(StatusCode::OK, describe::user_basic_info(version)),
            0,
        ),
        Route::MethodNotAllowed(allowed) => Reply::Http(
            error_array(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                &format!("HTTP Method not allowed. Allowed are {allowed}"),
            ),
            0,
        ),
        _ => Reply::Http(not_found(), 0),
    }
}

/// `/services/data/vNN.N/...` (or `latest`): the REST resources that carry
/// `Sforce-Limit-Info`.
fn is_rest_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower
        .strip_prefix("/services/data/")
        .is_some_and(|rest| !rest.is_empty() && rest != "/")
}

fn body_too_large(max: usize) -> Response {
    error_array(
        StatusCode::PAYLOAD_TOO_LARGE,
        "REQUEST_ENTITY_TOO_LARGE",
        &format!("The request body exceeds the limit of {max} bytes."),
    )
}

fn invalid_session() -> Response {
    error_array(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    )
}

/// Reads the body, at most `max_body` bytes (413 past it) and within
/// `body_timeout` (408 when the client stalls).
async fn read_body(org: &Org, body: Body) -> Result<axum::body::Bytes, Box<Response>> {
    match tokio::time::timeout(
        org.cfg.body_timeout,
        axum::body::to_bytes(body, org.cfg.max_body),
    )
    .await
    {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(Box::new(if too_large {
                body_too_large(org.cfg.max_body)
            } else {
                error_array(
                    StatusCode::BAD_REQUEST,
                    "JSON_PARSER_ERROR",
                    "could not read the request body",
                )
            }))
        }
        Err(_) => {
            let mut r = error_array(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "The request body did not arrive in time.",
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(Box::new(r))
        }
    }
}

/// The username of a live session named by the bearer token, without
/// spending one of its calls; `None` when there is no valid session.
fn session_user(org: &Org, headers: &HeaderMap) -> Option<String> {
    let tok = bearer(headers)?;
    let sessions = org.sessions.lock().unwrap_or_else(|p| p.into_inner());
    let s = sessions.get(tok)?;
    let by_calls = org.cfg.token_ttl_calls > 0 && s.calls >= org.cfg.token_ttl_calls;
    let by_age = org
        .cfg
        .token_ttl
        .is_some_and(|ttl| s.issued.elapsed() >= ttl);
    (!(by_calls || by_age)).then(|| s.username.clone())
}

/// The user a session acts as: the login user's Id when that user is one of
/// the org's users (the lifecycle's API-user protection depends on it), else
/// a fixed integration user outside the org's user list.
fn session_user_id(org: &Org, username: &str) -> String {
    org.api_user_id(Some(username))
        .unwrap_or_else(|| ids::make("005", 0))
}

fn new_session(org: &Org, username: &str) -> String {
    let token = auth::new_token(&org.org_id);
    org.sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            token.clone(),
            Session {
                issued: Instant::now(),
                calls: 0,
                user_id: org.api_user_id(Some(username)),
                username: username.to_string(),
            },
        );
    token
}

fn xml_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=UTF-8"),
    );
    r
}

fn soap_login(org: &Org, headers: &HeaderMap, version: &str, body: &[u8]) -> Response {
    let Some((username, password)) = soap::parse_login(body) else {
        return xml_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            soap::fault(
                "INVALID_LOGIN",
                "Invalid username, password, security token; or user locked out.",
                "LoginFault",
            ),
        );
    };
    if !auth::login_allowed(&org.cfg, &username, &password) {
        return xml_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            soap::invalid_login_fault(),
        );
    }
    let base = base_url(org, headers);
    let session = new_session(org, &username);
    let user_id = session_user_id(org, &username);
    let answer = soap::LoginAnswer {
        base_url: &base,
        version,
        session_id: &session,
        org_id: &org.org_id,
        org_name: &org_name(org),
        user_id: &user_id,
        username: &username,
        profile_id: super::config::SYSTEM_ADMIN_PROFILE_ID,
        sandbox: org.cfg.sandbox.is_some(),
        session_seconds: org.cfg.token_ttl.map_or(7200, |d| d.as_secs()),
    };
    xml_response(StatusCode::OK, soap::login_response(&answer))
}

/// The emulated org's name (Organization.Name, userInfo.organizationName).
pub(crate) const ORG_NAME: &str = "sfsync emulator";

/// [`ORG_NAME`], with the sandbox's name for `--sandbox` (`sfsync emulator (sandbox uat)`).
fn org_name(org: &Org) -> String {
    match &org.cfg.sandbox {
        Some(s) => format!("{ORG_NAME} (sandbox {s})"),
        None => ORG_NAME.to_owned(),
    }
}

fn userinfo(org: &Org, base: &str, username: &str) -> Response {
    let user_id = session_user_id(org, username);
    let id_url = format!("{base}/id/{}/{user_id}", org.org_id);
    let v = format!("v{LATEST_VERSION}.0");
    let body = json!({
        "sub": id_url,
        "user_id": user_id,
        "organization_id": org.org_id,
        "preferred_username": username,
        "nickname": username.split('@').next().unwrap_or(username),
        "name": "Integration User",
        "email": username,
        "email_verified": true,
        "given_name": "Integration",
        "family_name": "User",
        "zoneinfo": "America/Los_Angeles",
        "profile": format!("{base}/{user_id}"),
        "urls": identity_urls(org, base, &user_id, &v),
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": -28_800_000,
        "is_app_installed": true
    });
    json_response(StatusCode::OK, body.to_string())
}

fn identity_urls(org: &Org, base: &str, user_id: &str, v: &str) -> Value {
    let data = format!("{base}/services/data/{v}");
    let num = v.trim_start_matches('v');
    json!({
        "enterprise": format!("{base}/services/Soap/c/{num}/{}", org.org_id),
        "metadata": format!("{base}/services/Soap/m/{num}/{}", org.org_id),
        "partner": format!("{base}/services/Soap/u/{num}/{}", org.org_id),
        "rest": format!("{data}/"),
        "sobjects": format!("{data}/sobjects/"),
        "search": format!("{data}/search/"),
        "query": format!("{data}/query/"),
        "recent": format!("{data}/recent/"),
        "profile": format!("{base}/{user_id}"),
        "custom_domain": base
    })
}

fn identity(org: &Org, base: &str, username: &str, org_id: &str, user_id: &str) -> Response {
    let same_org = ids::to18(org_id).is_some_and(|o| o == org.org_id);
    let uid = session_user_id(org, username);
    let same_user = ids::to18(user_id).is_some_and(|u| u == uid);
    if !same_org || !same_user {
        return error_array(StatusCode::FORBIDDEN, "Bad_Id", "Bad_Id");
    }
    let v = format!("v{LATEST_VERSION}.0");
    let body = json!({
        "id": format!("{base}/id/{}/{uid}", org.org_id),
        "asserted_user": true,
        "user_id": uid,
        "organization_id": org.org_id,
        "username": username,
        "nick_name": username.split('@').next().unwrap_or(username),
        "display_name": "Integration User",
        "email": username,
        "email_verified": true,
        "first_name": "Integration",
        "last_name": "User",
        "timezone": "America/Los_Angeles",
        "status": {"created_date": null, "body": null},
        "urls": identity_urls(org, base, &uid, &v),
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": -28_800_000,
        "last_modified_date": "2025-01-01T00:00:00.000+0000",
        "is_app_installed": true
    });
    json_response(StatusCode::OK, body.to_string())
}

fn release_label(v: u32) -> String {
    let k = v as i64 - 62;
    let year = 25 + k.div_euclid(3);
    let season = ["Winter", "Spring", "Summer"][k.rem_euclid(3) as usize];
    format!("{season} '{year:02}")
}

fn versions() -> Response {
    let list: Vec<Value> = (OLDEST_VERSION..=LATEST_VERSION)
        .map(|v| json!({"label": release_label(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
        .collect();
    json_response(StatusCode::OK, Value::Array(list).to_string())
}

fn version_root(ver: &str) -> Response {
    let p = |r: &str| format!("/services/data/{ver}/{r}");
    json_response(
        StatusCode::OK,
        json!({"limits": p("limits"), "query": p("query"), "queryAll": p("queryAll"), "sobjects": p("sobjects"), "composite": p("composite")}).to_string(),
    )
}

fn limits(org: &Org) -> Response {
    let max = org.cfg.daily_api_limit;
    let used = org.api_used.load(Ordering::SeqCst);
    json_response(
        StatusCode::OK,
        json!({
            "DailyApiRequests": {"Max": max, "Remaining": max.saturating_sub(used)},
            "DailyBulkApiRequests": {"Max": 5000, "Remaining": 5000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "ConcurrentSyncReportRuns": {"Max": 20, "Remaining": 20}
        })
        .to_string(),
    )
}

fn token(org: &Org, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Response {
    let mut form: HashMap<String, String> =
        url::form_urlencoded::parse(body).into_owned().collect();
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()).into_owned() {
            form.entry(k).or_insert(v);
        }
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(auth::parse_basic);
    let base = base_url(org, headers);
    match auth::decide(&org.cfg, &form, basic, &base, now_secs()) {
        Err(e) => json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": e.error, "error_description": e.description}).to_string(),
        ),
        Ok(grant) => {
            let username = auth::granted_username(&org.cfg, &form, &grant);
            let token = new_session(org, &username);
            let id = format!(
                "{base}/id/{}/{}",
                org.org_id,
                session_user_id(org, &username)
            );
            let issued_at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
                .to_string();
            let body = match grant {
                Grant::Password => json!({
                    "access_token": token, "instance_url": base, "id": id, "token_type": "Bearer",
                    "issued_at": issued_at, "signature": auth::new_signature()
                }),
                Grant::ClientCredentials => json!({
                    "access_token": token, "signature": auth::new_signature(), "scope": "api",
                    "instance_url": base, "id": id, "token_type": "Bearer", "issued_at": issued_at
                }),
                Grant::Jwt => json!({
                    "access_token": token, "scope": "api", "instance_url": base, "id": id, "token_type": "Bearer"
                }),
            };
            json_response(StatusCode::OK, body.to_string())
        }
    }
}

fn batch_size(headers: &HeaderMap) -> Option<usize> {
    let v = headers.get("sforce-query-options")?.to_str().ok()?;
    v.split(',').find_map(|part| {
        let (k, n) = part.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("batchSize") {
            return None;
        }
        n.trim().parse::<usize>().ok().map(|n| n.clamp(200, 2000))
    })
}

fn run_query(org: &Org, headers: &HeaderMap, query: Option<&str>, version: &str) -> Reply {
    let q = query.and_then(|qs| {
        url::form_urlencoded::parse(qs.as_bytes())
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.into_owned())
    });
    let Some(q) = q.filter(|q| !q.trim().is_empty()) else {
        return Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "MALFORMED_QUERY",
                "A query string has to be specified",
            ),
            0,
        );
    };
    let name = org_name(org);
    let facts = organization::OrgFacts {
        id: &org.org_id,
        name: &name,
        sandbox: org.cfg.sandbox.is_some(),
    };
    if let Some(answer) = organization::answer(&q, &facts, version) {
        return match answer {
            Ok(page) => Reply::Http(json_response(StatusCode::OK, page), 1),
            Err((code, msg)) => Reply::Http(error_array(StatusCode::BAD_REQUEST, code, &msg), 0),
        };
    }
    let parsed = match soql::parse(&q) {
        Ok(p) => p,
        Err(e) => return Reply::Http(error_array(StatusCode::BAD_REQUEST, e.code, &e.message), 0),
    };
    let columns = query.is_some_and(|qs| {
        url::form_urlencoded::parse(qs.as_bytes())
            .any(|(k, v)| k == "columns" && v.eq_ignore_ascii_case("true"))
    });
    if columns {
        return Reply::Http(
            json_response(StatusCode::OK, query::column_metadata(&parsed)),
            0,
        );
    }
    let batch = batch_size(headers)
        .unwrap_or(2000)
        .min(org.cfg.max_query_page.max(1));
    let users = org.read_users();
    let rows = query::execute(&users, &parsed);
    let cols = match &parsed.select {
        Select::Count => {
            let body = format!(
                "{{\"totalSize\":{},\"done\":true,\"records\":[]}}",
                rows.len()
            );
            return Reply::Http(json_response(StatusCode::OK, body), 0);
        }
        Select::Fields(c) => c.clone(),
    };
    let total = rows.len();
    if total <= batch {
        let body = query::write_page(&users, parsed.object, &cols, &rows, total, None, version);
        return Reply::Http(json_response(StatusCode::OK, body), total);
    }
    let loc = ids::make("01g", org.next_cursor.fetch_add(1, Ordering::SeqCst));
    let next = format!("/services/data/{version}/query/{loc}-{batch}");
    let body = query::write_page(
        &users,
        parsed.object,
        &cols,
        &rows[..batch],
        total,
        Some(&next),
        version,
    );
    drop(users);
    let cursor = Cursor {
        object: parsed.object,
        cols,
        rows,
        created: Instant::now(),
        batch,
    };
    let mut cursors = org.cursors.lock().unwrap_or_else(|p| p.into_inner());
    let lifetime = org.cfg.cursor_lifetime;
    cursors.retain(|_, c| c.created.elapsed() < lifetime);
    cursors.insert(loc, Arc::new(cursor));
    Reply::Http(json_response(StatusCode::OK, body), batch)
}

fn query_more(org: &Org, headers: &HeaderMap, locator: &str, version: &str) -> Reply {
    let bad = || {
        Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "INVALID_QUERY_LOCATOR",
                "invalid query locator",
            ),
            0,
        )
    };
    let Some((loc, offset)) = locator.rsplit_once('-') else {
        return bad();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return bad();
    };
    let cursor = {
        let cursors = org.cursors.lock().unwrap_or_else(|p| p.into_inner());
        match cursors.get(loc) {
            Some(c) if c.created.elapsed() < org.cfg.cursor_lifetime => c.clone(),
            _ => return bad(),
        }
    };
    let total = cursor.rows.len();
    if offset == 0 || offset >= total {
        return bad();
    }
    let batch = batch_size(headers)
        .unwrap_or(cursor.batch)
        .min(org.cfg.max_query_page.max(1));
    let end = (offset + batch).min(total);
    let next = (end < total).then(|| format!("/services/data/{version}/query/{loc}-{end}"));
    let users = org.read_users();
    let body = query::write_page(
        &users,
        cursor.object,
        &cursor.cols,
        &cursor.rows[offset..end],
        total,
        next.as_deref(),
        version,
    );
    Reply::Http(json_response(StatusCode::OK, body), end - offset)
}

fn count_results(org: &Org, results: &[Result<String, Vec<RecError>>]) {
    let mut c = org.counters_mut();
    for r in results {
        match r {
            Ok(_) => c.users_created += 1,
            Err(errs) => {
                c.creates_refused += 1;
                if errs.iter().any(|e| e.code == "DUPLICATE_USERNAME") {
                    c.duplicate_username_attempts += 1;
                }
            }
        }
    }
}

pub(crate) fn parse_error(e: serde_json::Error) -> Response {
    error_array(
        StatusCode::BAD_REQUEST,
        "JSON_PARSER_ERROR",
        &format!("The request body is not valid: {e}"),
    )
}

fn profile_exists(org: &Org, id18: &str) -> bool {
    org.cfg.profiles.iter().any(|p| p.id == id18)
}

fn create_one(org: &Org, body: &[u8], locked: bool, version: &str) -> Reply {
    let obj: RecordIn = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return Reply::Http(parse_error(e), 0),
    };
    if locked {
        return Reply::Http(
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                rec_errors_top(&[RecError::new(
                    "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record or 1 records: 00DEM0000000001",
                    &[],
                )]),
            ),
            1,
        );
    }
    // An Id in a single create refuses the request, in the REST guide's words
    // (in a collection it stays a per-record error).
    if obj.fields.iter().any(|(k, _)| k.eq_ignore_ascii_case("Id")) {
        return Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                "The Id field should not be specified in the sobject data.",
            ),
            1,
        );
    }
    // Record-level checks need no lock: profiles never change after start.
    let checked = match validate::validate_create(&obj, &|p| profile_exists(org, p)) {
        Err(e) => return Reply::Http(error_array(StatusCode::BAD_REQUEST, e.code, &e.message), 1),
        Ok(r) => r,
    };
    let mut users = org.write_users();
    let results = users.create(vec![checked], false, &|_| false);
    drop(users);
    count_results(org, &results);
    let resp = match &results[0] {
        Ok(id) => {
            let mut r = json_response(
                StatusCode::CREATED,
                json!({"id": id, "success": true, "errors": []}).to_string(),
            );
            if let Ok(loc) =
                HeaderValue::from_str(&format!("/services/data/{version}/sobjects/User/{id}"))
            {
                r.headers_mut().insert(header::LOCATION, loc);
            }
            r
        }
        Err(errs) => json_response(StatusCode::BAD_REQUEST, rec_errors_top(errs)),
    };
    Reply::Http(resp, 1)
}

fn create_collection(org: &Org, body: &[u8], locked: bool, n: u64) -> Reply {
    let parsed: CollectionIn = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return Reply::Http(parse_error(e), 0),
    };
    let all_or_none = parsed.all_or_none.unwrap_or(false);
    let Some(records) = parsed.records else {
        return Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "records is required and must be an array",
            ),
            0,
        );
    };
    let count = records.len();
    // PermissionSetAssignments and GroupMembers have their own calls.
    if let Some(kind) = records
        .first()
        .and_then(|r| r.attributes_type.as_ref())
        .and_then(|t| t.as_deref())
        .and_then(access::InsertKind::parse)
        && count <= MAX_COLLECTION
    {
        let plan = &org.cfg.faults;
        return access::insert_collection(org, kind, &records, all_or_none, &|i| {
            locked && plan.record_locked(n, i)
        });
    }
    if count > MAX_COLLECTION {
        return Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            ),
            count,
        );
    }
    let mut batch = Vec::with_capacity(count);
    for obj in &records {
        match obj.attributes_type.as_ref().and_then(|t| t.as_deref()) {
            Some(t) if t.eq_ignore_ascii_case("User") => {}
            Some(t) => {
                let msg = format!(
                    "sObject type '{t}' is not supported by this emulator; send Users alone."
                );
                return Reply::Http(
                    error_array(StatusCode::BAD_REQUEST, "INVALID_TYPE", &msg),
                    count,
                );
            }
            None => {
                return Reply::Http(
                    error_array(
                        StatusCode::BAD_REQUEST,
                        "INVALID_TYPE",
                        "Must send a concrete entity type.",
                    ),
                    count,
                );
            }
        }
        match validate::validate_create(obj, &|p| profile_exists(org, p)) {
            Err(e) => {
                return Reply::Http(
                    error_array(StatusCode::BAD_REQUEST, e.code, &e.message),
                    count,
                );
            }
            Ok(r) => batch.push(r),
        }
    }
    let plan = &org.cfg.faults;
    // Check and insert under one write lock: two calls racing for one
    // username cannot both win.
    let mut users = org.write_users();
    let results = users.create(batch, all_or_none, &|i| locked && plan.record_locked(n, i));
    drop(users);
    count_results(org, &results);
    let out: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(id) => json!({"id": id, "success": true, "errors": []}),
            Err(errs) => json!({"success": false, "errors": rec_errors_per_record(errs)}),
        })
        .collect();
    Reply::Http(
        json_response(StatusCode::OK, Value::Array(out).to_string()),
        count,
    )
}

fn get_user(org: &Org, headers: &HeaderMap, id: &str, version: &str) -> Reply {
    let users = org.read_users();
    let Some(rec) = users.by_id(id) else {
        drop(users);
        // The user every session acts as is not in the org's user list (it
        // would change every count), but clients read it after logging in
        // (the Salesforce CLI does): answer it from the session.
        let me = ids::make("005", 0);
        if ids::to18(id).is_some_and(|i| i == me)
            && let Some(username) = session_user(org, headers)
        {
            let body = json!({
                "attributes": {"type": "User", "url": format!("/services/data/{version}/sobjects/User/{me}")},
                "Id": me,
                "Username": username,
                "Email": username,
                "FirstName": "Integration",
                "LastName": "User",
                "Name": "Integration User",
                "IsActive": true,
                "ProfileId": super::config::SYSTEM_ADMIN_PROFILE_ID,
                "UserType": "Standard",
                "TimeZoneSidKey": "America/Los_Angeles",
                "LocaleSidKey": "en_US",
                "LanguageLocaleKey": "en_US"
            });
            return Reply::Http(json_response(StatusCode::OK, body.to_string()), 1);
        }
        return Reply::Http(not_found(), 0);
    };
    let cols: Vec<soql::Col> = schema::USER_FIELDS.iter().map(soql::Col::User).collect();
    let idx = users
        .recs
        .iter()
        .position(|r| std::ptr::eq(r, rec))
        .unwrap_or(0) as u32;
    let page = query::write_page(&users, soql::Object::User, &cols, &[idx], 1, None, version);
    // The single-record resource is the record itself, not a page.
    let v: Value = serde_json::from_str(&page).unwrap_or(Value::Null);
    let record = v["records"][0].clone();
    Reply::Http(json_response(StatusCode::OK, record.to_string()), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_classify_like_salesforce() {
        let c = |m: Method, p: &str| classify(&m, p).0;
        assert_eq!(
            c(Method::POST, "/services/data/v62.0/sobjects/user/"),
            Route::CreateOne
        );
        assert_eq!(
            c(Method::POST, "/services/data/v62.0/sobjects/User"),
            Route::CreateOne
        );
        assert_eq!(
            c(Method::POST, "/services/data/v62.0/composite/sobjects"),
            Route::CreateCollection
        );
        assert_eq!(c(Method::GET, "/services/data/"), Route::Versions);
        assert_eq!(c(Method::GET, "/services/data/v30.0/limits"), Route::Gone);
        assert_eq!(
            c(Method::GET, "/services/data/v99.0/limits"),
            Route::NotFound
        );
        assert_eq!(
            c(Method::GET, "/services/data/v62.0/query/01gX-2000"),
            Route::QueryMore("01gX-2000".into())
        );
        assert_eq!(
            c(Method::DELETE, "/services/data/v62.0/sobjects/User/005x"),
            Route::MethodNotAllowed("GET, HEAD, PATCH")
        );
        assert_eq!(
            c(Method::GET, "/services/data/v62.0/nothing"),
            Route::NotFound
        );
    }

    #[test]
    fn release_labels() {
        assert_eq!(release_label(62), "Winter '25");
        assert_eq!(release_label(66), "Spring '26");
        assert_eq!(release_label(31), "Summer '14");
    }
}
