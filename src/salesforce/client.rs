//! The Salesforce REST client: one token, reused; every call paced through the
//! shared [`Pacer`], counted, and read for `Sforce-Limit-Info`.
//!
//! Reads (SOQL pages, `/limits`) are idempotent and retried here on transient
//! failures. Creates are sent once ([`Client::create_collection`]): whether and
//! how to retry them is the executor's decision, since a lost create answer must
//! be recovered, never blindly resent.
//!
//! What the client refuses, so a token or secret never goes where the job did
//! not say (issue 12): a redirect on a token call (it would re-send the
//! credentials), a redirect of an API call to another host or scheme, a
//! `nextRecordsUrl` that is not a path on the instance, a query whose pages
//! never end (a locator seen twice, more records than `totalSize`), an answer
//! larger than [`MAX_ANSWER_BYTES`], and a proxy for loopback (the emulator).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use tracing::{debug, info};
use url::form_urlencoded;

use super::auth::Credentials;
use super::error::{display_url, transport};
use super::limits::{ApiUsage, parse_limit_info};
use super::pace::Pacer;
use super::retry::{CallVerdict, backoff, classify_call, parse_retry_after};
use super::wire::{
    ApiErrorItem, CollectionRequest, DescribeAnswer, DescribedField, LimitsAnswer, QueryPage,
    RecordResult, TokenAnswer, TokenError,
};
use super::{FieldTable, SfError, SfUser, soql};
use crate::job::{Limits, SalesforceConfig, Secret};

/// Page size asked of SOQL reads (the maximum Salesforce allows).
const QUERY_BATCH_SIZE: u32 = 2000;

/// The largest answer body read, in bytes (64 MiB). A SOQL page of 2,000
/// users is about 1 MB; anything near this cap is not Salesforce.
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Redirects followed on one API call (same host and scheme only).
const MAX_REDIRECTS: usize = 5;

/// How the client paces and retries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// At most this many calls start in any one second (token and query calls included).
    pub requests_per_second: f64,
    /// At most this many calls in flight at once.
    pub concurrency: usize,
    /// Retries of one call after a transient failure.
    pub max_retries: u32,
    /// Per-call timeout, from sending to the last byte of the answer.
    pub timeout: Duration,
    /// Reads stop with [`SfError::ReserveReached`] once the org's remaining
    /// daily API calls (from `Sforce-Limit-Info`) are at or below this.
    pub api_reserve: Option<u64>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            requests_per_second: 5.0,
            concurrency: 4,
            max_retries: 5,
            timeout: Duration::from_secs(120),
            api_reserve: None,
        }
    }
}

impl ClientOptions {
    /// The job's `[limits]`, with the default timeout.
    pub fn from_limits(limits: &Limits) -> Self {
        ClientOptions {
            requests_per_second: limits.requests_per_second,
            concurrency: limits.concurrency,
            max_retries: limits.max_retries,
            api_reserve: Some(limits.api_reserve),
            ..ClientOptions::default()
        }
    }
}

/// A logged-in connection to one org. Cheap to clone; clones share the token,
/// the pacer and the counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// API calls: redirects only to the same scheme, host and port.
    http: reqwest::Client,
    /// Token calls: no redirect at all.
    token_http: reqwest::Client,
    token_url: String,
    api_version: String,
    creds: Credentials,
    opts: ClientOptions,
    pacer: Pacer,
    session: Mutex<Session>,
    /// Serialises re-logins so that a burst of 401s costs one token call.
    relogin: tokio::sync::Mutex<()>,
    calls: AtomicU64,
    logins: AtomicU64,
    usage: Mutex<Option<ApiUsage>>,
    /// The budget gate: `api_reserve + 1`, or 0 while no gate is set.
    gate: AtomicU64,
    /// Calls counted by the gate whose answer has not (yet) brought a
    /// `Sforce-Limit-Info` reading: in flight, or lost (a lost answer counts itself).
    unreported: AtomicU64,
}

#[derive(Clone)]
struct Session {
    token: Secret,
    instance_url: String,
    /// Bumped on every login; a 401 only triggers a login if no one else has
    /// logged in since the failed call started.
    generation: u64,
    /// The API user's Id, from the token answer's identity URL.
    user_id: Option<String>,
}

/// A successful answer, read in full.
struct Answer {
    body: Vec<u8>,
    url: String,
}

impl Client {
    /// Logs in (one token call) and returns a client bound to the org's `instance_url`.
    pub async fn connect(
        cfg: &SalesforceConfig,
        creds: Credentials,
        opts: ClientOptions,
    ) -> Result<Client, SfError> {
        // Loopback (the emulator) never goes through a proxy: `http_proxy`
        // would otherwise receive the token call in clear text.
        let loopback = url::Url::parse(&cfg.login_url).is_ok_and(|u| is_loopback(&u));
        let builder = || {
            let b = reqwest::Client::builder()
                .user_agent(concat!("sfsync/", env!("CARGO_PKG_VERSION")));
            if loopback { b.no_proxy() } else { b }
        };
        let setup = |e: reqwest::Error| SfError::Setup(format!("cannot set up HTTPS: {e}"));
        let http = builder()
            .redirect(reqwest::redirect::Policy::custom(same_origin_redirects))
            .build()
            .map_err(setup)?;
        let token_http = builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(setup)?;
        let inner = Inner {
            http,
            token_http,
            token_url: format!(
                "{}/services/oauth2/token",
                cfg.login_url.trim_end_matches('/')
            ),
            api_version: cfg.api_version.clone(),
            creds,
            pacer: Pacer::new(opts.requests_per_second, opts.concurrency),
            opts,
            session: Mutex::new(Session {
                token: Secret::new(""),
                instance_url: cfg.instance_url.trim_end_matches('/').to_owned(),
                generation: 0,
                user_id: None,
            }),
            relogin: tokio::sync::Mutex::new(()),
            calls: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            usage: Mutex::new(None),
            gate: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
        };
        let client = Client {
            inner: Arc::new(inner),
        };
        client.login().await?;
        Ok(client)
    }

    /// Puts one budget gate in front of every API call from now on (reads
    /// and writes; token calls are not API calls): a call that would leave
    /// the org fewer than `api_reserve` daily calls is not sent and fails
    /// with [`SfError::Budget`]. Calls without a reading yet go ahead.
    pub fn set_api_reserve(&self, api_reserve: u64) {
        self.inner
            .gate
            .store(api_reserve.saturating_add(1), Ordering::SeqCst);
    }

    /// Counts one more call against the budget, or refuses it.
    fn admit_budget(&self) -> Result<(), SfError> {
        let gate = self.inner.gate.load(Ordering::SeqCst);
        let pending = self.inner.unreported.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(usage) = self.last_usage() else {
            return Ok(());
        };
        if gate == 0 {
            return Ok(());
        }
        // `pending` includes this call: what is left once it (and every
        // call not yet reflected in a reading) has been counted.
        let left = usage.remaining().saturating_sub(pending - 1);
        if left < gate {
            self.inner.unreported.fetch_sub(1, Ordering::SeqCst);
            return Err(SfError::Budget {
                remaining: left,
                reserve: gate - 1,
            });
        }
        Ok(())
    }

    /// The API user's Id (18 characters as Salesforce gave it), from the
    /// token answer's identity URL; `None` when the answer had none.
    pub fn api_user_id(&self) -> Option<String> {
        self.session().user_id
    }

    /// The org's API host, as the token answer named it.
    pub fn instance_url(&self) -> String {
        self.session().instance_url
    }

    /// Every HTTP request made so far, token calls and retries included.
    pub fn api_calls(&self) -> u64 {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// Token calls made so far (1 after connect; one more per expiry).
    pub fn logins(&self) -> u64 {
        self.inner.logins.load(Ordering::SeqCst)
    }

    /// The latest `Sforce-Limit-Info` reading, if any answer carried one.
    pub fn last_usage(&self) -> Option<ApiUsage> {
        *self.inner.usage.lock().expect("usage lock")
    }

    /// The current in-flight cap (lowered when Salesforce reports too many long requests).
    pub fn concurrency(&self) -> usize {
        self.inner.pacer.concurrency()
    }

    pub fn max_retries(&self) -> u32 {
        self.inner.opts.max_retries
    }

    /// One fewer call in flight from now on (never below one). Returns the new cap.
    pub fn lower_concurrency(&self) -> usize {
        let now = self.inner.pacer.lower_concurrency();
        info!(
            concurrency = now,
            "Salesforce reports too many concurrent requests; lowering concurrency."
        );
        now
    }

    /// [`Client::lower_concurrency`] for a refusal of too many calls at once
    /// ("ConcurrentPerOrgLongTxn Limit exceeded"), and whether it is progress
    /// rather than a spent retry: the cap went down, or slots taken off it
    /// earlier are still in use (calls admitted before it went down; they are
    /// retired as they are handed back). SPEC: the concurrency form is transient.
    pub fn ease_concurrency(&self) -> bool {
        let before = self.concurrency();
        self.lower_concurrency() < before || self.inner.pacer.retiring() > 0
    }

    /// Every User in the org, active or not: `Id, Username, Email, IsActive` plus
    /// the match keys, paged through `nextRecordsUrl` to the end. `keys[i]` of each
    /// user is the value of `match_keys[i]`.
    pub async fn query_users(&self, match_keys: &[String]) -> Result<Vec<SfUser>, SfError> {
        Ok(self.query_users_with(match_keys, &[]).await?.0)
    }

    /// [`Client::query_users`] that also reads `fields` (the job's
    /// `[update] fields`) into a [`FieldTable`] by user position:
    /// `table.get(i, j)` is user `i`'s value of `fields[j]`.
    pub async fn query_users_with(
        &self,
        match_keys: &[String],
        fields: &[String],
    ) -> Result<(Vec<SfUser>, FieldTable), SfError> {
        let read: Vec<String> = match_keys.iter().chain(fields).cloned().collect();
        let read = soql::user_fields(&read).map_err(SfError::Setup)?;
        let mut users = Vec::new();
        let mut table = FieldTable::new(fields.len());
        self.query_each(&soql::select_users(&read), |r| {
            users.push(user_from_record(&r, match_keys)?);
            if !fields.is_empty() {
                table.push(fields.iter().map(|f| field_text(&r, f)));
            }
            Ok(())
        })
        .await?;
        table.shrink_to_fit();
        Ok((users, table))
    }

    /// The users holding these usernames (compared case-insensitively), looked up
    /// with `Username IN (...)` queries short enough for a URL.
    pub async fn find_users_by_username(
        &self,
        usernames: &[String],
        match_keys: &[String],
    ) -> Result<Vec<SfUser>, SfError> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let fields = soql::user_fields(match_keys).map_err(SfError::Setup)?;
        let prefix = format!("{} WHERE Username IN ", soql::select_users(&fields));
        let mut found: Vec<SfUser> = Vec::new();
        for q in soql::chunk_in(&prefix, usernames, "", self.query_budget()) {
            for r in self.query_all(&q).await? {
                let user = user_from_record(&r, match_keys)?;
                if !found.iter().any(|u| u.id == user.id) {
                    found.push(user);
                }
            }
        }
        let wanted: std::collections::HashSet<String> =
            usernames.iter().map(|u| u.to_lowercase()).collect();
        found.retain(|u| wanted.contains(&u.username.to_lowercase()));
        Ok(found)
    }

    /// Profile Ids by name. Keys are the names as asked; names with no profile are absent.
    pub async fn profile_ids_by_name(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, String>, SfError> {
        let mut out = HashMap::new();
        if names.is_empty() {
            return Ok(out);
        }
        let prefix = "SELECT Id, Name FROM Profile WHERE Name IN ";
        for q in soql::chunk_in(prefix, names, "", self.query_budget()) {
            for r in self.query_all(&q).await? {
                let (Some(id), Some(name)) = (field_text(&r, "Id"), field_text(&r, "Name")) else {
                    continue;
                };
                for asked in names.iter().filter(|n| n.eq_ignore_ascii_case(&name)) {
                    out.insert(asked.clone(), id.clone());
                }
            }
        }
        Ok(out)
    }

    /// Ids of `sobject` records by name: `SELECT Id, <name_field> FROM <sobject>
    /// WHERE <name_field> IN (...) [AND <condition>]`, chunked (one query for
    /// the few names a job gives). Keys are the names as asked; names the org
    /// lacks are absent; names compare ignoring case. Used for
    /// `PermissionSet.Name`, `PermissionSetGroup.DeveloperName`,
    /// `Group.DeveloperName` (`Type = 'Regular'`), `UserRole.DeveloperName`
    /// and `Profile.Name` (reference §3.2).
    pub async fn ids_by_name(
        &self,
        sobject: &str,
        name_field: &str,
        names: &[String],
        condition: Option<&str>,
    ) -> Result<HashMap<String, String>, SfError> {
        let mut out = HashMap::new();
        if names.is_empty() {
            return Ok(out);
        }
        if let Some(bad) = [sobject, name_field]
            .into_iter()
            .find(|n| !soql::is_field_name(n))
        {
            return Err(SfError::Setup(format!(
                "{bad:?} is not a Salesforce API name"
            )));
        }
        let prefix = format!("SELECT Id, {name_field} FROM {sobject} WHERE {name_field} IN ");
        let suffix = condition.map(|c| format!(" AND {c}")).unwrap_or_default();
        for q in soql::chunk_in(&prefix, names, &suffix, self.query_budget()) {
            for r in self.query_all(&q).await? {
                let (Some(id), Some(name)) = (field_text(&r, "Id"), field_text(&r, name_field))
                else {
                    continue;
                };
                for asked in names.iter().filter(|n| n.eq_ignore_ascii_case(&name)) {
                    out.insert(asked.clone(), id.clone());
                }
            }
        }
        Ok(out)
    }

    /// Whether a profile with this Id (15- or 18-character form) exists in the org.
    pub async fn profile_exists(&self, id: &str) -> Result<bool, SfError> {
        if !(id.len() == 15 || id.len() == 18) || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(false);
        }
        // Profiles are few (tens); reading them all avoids depending on how Id
        // literals of either length compare in a WHERE clause.
        let records = self.query_all("SELECT Id, Name FROM Profile").await?;
        Ok(records
            .iter()
            .filter_map(|r| field_text(r, "Id"))
            .any(|have| have.get(..15) == id.get(..15)))
    }

    /// `Organization.IsSandbox` and `Organization.Name`: whether the org is a
    /// sandbox, as it says itself. One query.
    pub async fn organization(&self) -> Result<(bool, String), SfError> {
        let records = self
            .query_all("SELECT Name, IsSandbox FROM Organization")
            .await?;
        let r = records.first();
        let sandbox = r
            .and_then(|r| r.get("IsSandbox"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let name = r.and_then(|r| field_text(r, "Name")).unwrap_or_default();
        Ok((sandbox, name.to_owned()))
    }

    /// The org's daily API allowance from `GET /limits`.
    pub async fn limits(&self) -> Result<ApiUsage, SfError> {
        let path = format!("/services/data/{}/limits", self.inner.api_version);
        let answer = self.read(&path, false).await?;
        let limits: LimitsAnswer = decode(&answer)?;
        let pair = limits.daily_api_requests;
        Ok(ApiUsage {
            used: pair.max.saturating_sub(pair.remaining),
            max: pair.max,
        })
    }

    /// `sobjects/User/describe`: every User field of this org, custom ones
    /// included, with whether a create may set it. One call.
    pub async fn describe_user_fields(&self) -> Result<Vec<DescribedField>, SfError> {
        let path = format!(
            "/services/data/{}/sobjects/User/describe",
            self.inner.api_version
        );
        let answer = self.read(&path, false).await?;
        let describe: DescribeAnswer = decode(&answer)?;
        Ok(describe.fields)
    }

    /// One sObject Collections create (`allOrNone: false`) of up to 200 records,
    /// each already carrying `attributes`. Sent once: a 401 is answered by one
    /// re-login and one resend (nothing was processed), every other failure is
    /// returned for the caller to classify. Results come back in input order.
    pub async fn create_collection(
        &self,
        records: &[Box<serde_json::value::RawValue>],
    ) -> Result<Vec<RecordResult>, SfError> {
        let body = serde_json::to_vec(&CollectionRequest {
            all_or_none: false,
            records,
        })
        .map_err(|e| SfError::Setup(format!("cannot encode the create request: {e}")))?;
        let path = format!(
            "/services/data/{}/composite/sobjects",
            self.inner.api_version
        );
        let answer = self
            .send_authed(Method::POST, &path, Some(body), false)
            .await?;
        let results: Vec<RecordResult> = decode(&answer)?;
        if results.len() != records.len() {
            return Err(SfError::Decode {
                url: display_url(&answer.url),
                detail: format!("{} results for {} records", results.len(), records.len()),
            });
        }
        Ok(results)
    }

    /// One sObject Collections update (`PATCH composite/sobjects`,
    /// `allOrNone: false`) of up to 200 records, each carrying `attributes`
    /// and `Id`. Sent once, like [`Client::create_collection`].
    pub async fn update_collection(
        &self,
        records: &[Box<serde_json::value::RawValue>],
    ) -> Result<Vec<RecordResult>, SfError> {
        let body = serde_json::to_vec(&CollectionRequest {
            all_or_none: false,
            records,
        })
        .map_err(|e| SfError::Setup(format!("cannot encode the update request: {e}")))?;
        let path = format!(
            "/services/data/{}/composite/sobjects",
            self.inner.api_version
        );
        let answer = self
            .send_authed(Method::PATCH, &path, Some(body), false)
            .await?;
        let results: Vec<RecordResult> = decode(&answer)?;
        if results.len() != records.len() {
            return Err(SfError::Decode {
                url: display_url(&answer.url),
                detail: format!("{} results for {} records", results.len(), records.len()),
            });
        }
        Ok(results)
    }

    /// `SELECT Id, <fields> FROM <sobject> WHERE <id_field> IN (...)`, chunked;
    /// every record found, as the answer gave it. `sobject` and the fields
    /// are API names (checked).
    pub async fn read_by_ids(
        &self,
        sobject: &str,
        id_field: &str,
        fields: &[String],
        ids: &[String],
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, SfError> {
        let names = std::iter::once(sobject)
            .chain(std::iter::once(id_field))
            .chain(fields.iter().map(String::as_str));
        if let Some(bad) = names.clone().find(|n| !soql::is_field_name(n)) {
            return Err(SfError::Setup(format!(
                "{bad:?} is not a Salesforce API name"
            )));
        }
        let mut select: Vec<&str> = vec!["Id"];
        for f in std::iter::once(id_field).chain(fields.iter().map(String::as_str)) {
            if !select.iter().any(|s| s.eq_ignore_ascii_case(f)) {
                select.push(f);
            }
        }
        let prefix = format!(
            "SELECT {} FROM {sobject} WHERE {id_field} IN ",
            select.join(", ")
        );
        let mut out = Vec::new();
        for q in soql::chunk_in(&prefix, ids, "", self.query_budget()) {
            out.extend(self.query_all(&q).await?);
        }
        Ok(out)
    }

    /// The active users inside a `[leavers] scope` condition:
    /// `SELECT Id, Username, Email, IsActive FROM User WHERE IsActive = true AND (<scope>)`.
    /// `limit_one`: only check that Salesforce accepts the condition (`check`).
    pub async fn query_scope(&self, scope: &str, limit_one: bool) -> Result<Vec<SfUser>, SfError> {
        let fields = soql::user_fields(&[]).map_err(SfError::Setup)?;
        let mut q = format!(
            "{} WHERE IsActive = true AND ({scope})",
            soql::select_users(&fields)
        );
        if limit_one {
            q.push_str(" LIMIT 1");
        }
        let mut users = Vec::new();
        self.query_each(&q, |r| {
            users.push(user_from_record(&r, &[])?);
            Ok(())
        })
        .await?;
        Ok(users)
    }

    /// The API user's Id: from the identity URL, else by
    /// `SELECT Id FROM User WHERE Username = <login username>`.
    pub async fn find_api_user_id(
        &self,
        login_username: Option<&str>,
    ) -> Result<Option<String>, SfError> {
        if let Some(id) = self.api_user_id() {
            return Ok(Some(id));
        }
        let Some(name) = login_username else {
            return Ok(None);
        };
        let q = format!("SELECT Id FROM User WHERE Username = {}", soql::quote(name));
        Ok(self
            .query_all(&q)
            .await?
            .iter()
            .find_map(|r| field_text(r, "Id")))
    }

    // ---- internals ----

    fn session(&self) -> Session {
        self.inner.session.lock().expect("session lock").clone()
    }

    /// Room left for the `q=` value once the instance URL and query path are counted.
    fn query_budget(&self) -> usize {
        let base = self.instance_url().len()
            + "/services/data/".len()
            + self.inner.api_version.len()
            + "/query?q=".len();
        soql::MAX_URL_LEN.saturating_sub(base).max(200)
    }

    /// A SOQL query, every page.
    async fn query_all(
        &self,
        soql_text: &str,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, SfError> {
        let mut records = Vec::new();
        self.query_each(soql_text, |r| {
            records.push(r);
            Ok(())
        })
        .await?;
        Ok(records)
    }

    /// A SOQL query, every page, each record handed to `each` as its page
    /// arrives (a million-user org is never held as raw JSON all at once).
    async fn query_each(
        &self,
        soql_text: &str,
        mut each: impl FnMut(serde_json::Map<String, serde_json::Value>) -> Result<(), SfError>,
    ) -> Result<(), SfError> {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", soql_text)
            .finish();
        let mut path = format!("/services/data/{}/query?{q}", self.inner.api_version);
        let progress = crate::progress::ReadProgress::start("Reading Salesforce");
        let mut pages = 0;
        // Bounds: every page must bring records, the total may not pass the
        // first page's totalSize, and no locator may come twice.
        let mut seen = std::collections::HashSet::new();
        let mut total: Option<u64> = None;
        let mut read: u64 = 0;
        loop {
            self.check_read_budget()?;
            let answer = self.read(&path, true).await?;
            let page: QueryPage = decode(&answer)?;
            pages += 1;
            progress.page(page.records.len() as u64, pages);
            let refuse = |why: String| SfError::Refused {
                url: display_url(&answer.url),
                why,
            };
            let total = *total.get_or_insert(page.total_size.unwrap_or(u64::MAX));
            read += page.records.len() as u64;
            if read > total {
                return Err(refuse(format!(
                    "the query's pages hold more records ({read}) than its totalSize ({total}); stopped reading"
                )));
            }
            let empty = page.records.is_empty();
            for record in page.records {
                each(record)?;
            }
            match page.next_records_url {
                Some(next) if !page.done => {
                    if empty {
                        return Err(refuse(
                            "a query page with no records points to yet another page; stopped reading".into(),
                        ));
                    }
                    let next = self.locator_path(&next).map_err(refuse)?;
                    if !seen.insert(next.clone()) {
                        return Err(refuse(format!(
                            "the query handed out the locator {} twice (a loop); stopped reading",
                            display_url(&next)
                        )));
                    }
                    path = next;
                }
                _ => return Ok(()),
            }
        }
    }

    /// `nextRecordsUrl` as a path on the instance. Salesforce sends a path
    /// (`/services/data/v62.0/query/01g...-2000`); an absolute URL is taken
    /// only on the instance's own scheme, host and port. Anything else
    /// (`@host:port/x`, `//host/x`, `../`) would send the token elsewhere.
    fn locator_path(&self, next: &str) -> Result<String, String> {
        let shown = crate::printable::escape_controls(next);
        let shown: String = shown.chars().take(120).collect();
        let refused = || {
            format!(
                "refusing the nextRecordsUrl {shown:?}: not a /services/data/ path on the org's instance"
            )
        };
        let base = url::Url::parse(&self.instance_url()).map_err(|_| refused())?;
        let path = if next.starts_with('/') {
            next.to_owned()
        } else {
            let abs = url::Url::parse(next).map_err(|_| refused())?;
            if abs.scheme() != base.scheme()
                || abs.host() != base.host()
                || abs.port_or_known_default() != base.port_or_known_default()
                || !abs.username().is_empty()
                || abs.password().is_some()
            {
                return Err(refused());
            }
            match abs.query() {
                Some(q) => format!("{}?{q}", abs.path()),
                None => abs.path().to_owned(),
            }
        };
        let joined = base.join(&path).map_err(|_| refused())?;
        let clean = path.starts_with("/services/data/")
            && !path.contains("..")
            && !path.contains('\\')
            && !path.contains('#')
            && !path.chars().any(|c| c.is_whitespace() || c.is_control())
            && joined.host() == base.host()
            && joined.scheme() == base.scheme()
            && joined.port_or_known_default() == base.port_or_known_default();
        if clean { Ok(path) } else { Err(refused()) }
    }

    /// With `api_reserve` set: no read once the org's remaining daily calls
    /// (last `Sforce-Limit-Info`) are at or below it.
    fn check_read_budget(&self) -> Result<(), SfError> {
        let (Some(reserve), Some(usage)) = (self.inner.opts.api_reserve, self.last_usage()) else {
            return Ok(());
        };
        let remaining = usage.max.saturating_sub(usage.used);
        if remaining <= reserve {
            return Err(SfError::ReserveReached { remaining, reserve });
        }
        Ok(())
    }

    /// An idempotent GET, retried on transient failures with backoff.
    async fn read(&self, path: &str, query_options: bool) -> Result<Answer, SfError> {
        let mut attempt = 0;
        loop {
            let err = match self
                .send_authed(Method::GET, path, None, query_options)
                .await
            {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            let mut free = false;
            let after = match classify_call(&err) {
                CallVerdict::Retry { after } => after,
                // A read changes nothing, so a lost answer is simply asked again.
                CallVerdict::Lost => None,
                CallVerdict::LowerConcurrency { after } => {
                    free = self.ease_concurrency();
                    after
                }
                // 401 after fresh logins: other calls used the new tokens up
                // (short-lived sessions under load); back off, within max_retries.
                CallVerdict::Reauth => None,
                CallVerdict::Stop(_) => return Err(err),
            };
            if !free && attempt >= self.inner.opts.max_retries {
                return Err(err);
            }
            let delay = backoff(attempt, after, rand::random::<f64>());
            info!(error = %err, attempt = attempt + 1, delay_ms = delay.as_millis() as u64, "Salesforce read failed; will retry.");
            tokio::time::sleep(delay).await;
            if !free {
                attempt += 1;
            }
        }
    }

    /// One call with the current token. On 401 INVALID_SESSION_ID: log in again
    /// (once per expiry, however many calls saw it) and resend. A call is tried
    /// at most three times, so a login that works but whose sessions are refused
    /// ends in an error instead of a loop; the second try only happens when
    /// another call used up the fresh token first (short-lived sessions under load).
    async fn send_authed(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        query_options: bool,
    ) -> Result<Answer, SfError> {
        const TRIES: usize = 3;
        let mut tries = 0;
        loop {
            tries += 1;
            let (generation, result) = self
                .send_once(method.clone(), path, body.clone(), query_options)
                .await;
            match result {
                Err(e) if e.is_invalid_session() && tries < TRIES => {
                    info!("Salesforce session expired; logging in again.");
                    self.relogin(generation).await?;
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        query_options: bool,
    ) -> (u64, Result<Answer, SfError>) {
        // The session is read after waiting for a slot: under load the wait can
        // outlast a token, and a stale one would only earn a 401.
        let admission = self.inner.pacer.admit().await;
        let session = self.session();
        // The gate comes after the wait, so it sees the latest reading.
        if let Err(e) = self.admit_budget() {
            return (session.generation, Err(e));
        }
        (
            session.generation,
            self.send_admitted(method, path, body, query_options, &session, admission)
                .await,
        )
    }

    async fn send_admitted(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        query_options: bool,
        session: &Session,
        admission: super::pace::Admission,
    ) -> Result<Answer, SfError> {
        // `path` is ours or a checked locator; joined as a URL path, never glued.
        let url = url::Url::parse(&session.instance_url)
            .and_then(|base| base.join(path))
            .map(String::from)
            .map_err(|_| SfError::Setup(format!("cannot join {path} to the instance URL")))?;
        let timeout = self.inner.opts.timeout;
        let mut request = self
            .inner
            .http
            .request(method, &url)
            .timeout(timeout)
            .bearer_auth(session.token.expose());
        if query_options {
            request = request.header(
                "Sforce-Query-Options",
                format!("batchSize={QUERY_BATCH_SIZE}"),
            );
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        self.inner.calls.fetch_add(1, Ordering::SeqCst);
        debug!(url = %display_url(&url), "Calling Salesforce.");
        let (status, retry_after, body, _, reported) =
            self.exchange(request, &display_url(&url), timeout).await?;
        drop(admission);
        if reported {
            // The reading counts this call: it no longer needs counting by hand.
            let _ = self
                .inner
                .unreported
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        }
        if (200..300).contains(&status) {
            Ok(Answer { body, url })
        } else {
            Err(api_error(&url, status, &body, retry_after))
        }
    }

    /// Logs in again unless another task already did since `failed_generation`.
    async fn relogin(&self, failed_generation: u64) -> Result<(), SfError> {
        let _one_at_a_time = self.inner.relogin.lock().await;
        if self.session().generation != failed_generation {
            return Ok(());
        }
        self.login().await
    }

    /// A token call (retried on transient failures, never on a refusal).
    async fn login(&self) -> Result<(), SfError> {
        let mut attempt = 0;
        loop {
            let err = match self.token_call().await {
                Ok((token, instance_url, user_id)) => {
                    let mut s = self.inner.session.lock().expect("session lock");
                    s.token = token;
                    s.instance_url = instance_url;
                    if user_id.is_some() {
                        s.user_id = user_id;
                    }
                    s.generation += 1;
                    return Ok(());
                }
                Err(e) => e,
            };
            let retry = matches!(
                classify_call(&err),
                CallVerdict::Retry { .. } | CallVerdict::Lost
            );
            if !retry || attempt >= self.inner.opts.max_retries {
                return Err(err);
            }
            let delay = backoff(attempt, err.retry_after(), rand::random::<f64>());
            info!(error = %err, attempt = attempt + 1, "Salesforce login failed; will retry.");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn token_call(&self) -> Result<(Secret, String, Option<String>), SfError> {
        let url = &self.inner.token_url;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let form = self.inner.creds.token_request(now)?;
        let timeout = self.inner.opts.timeout;
        let mut request = self
            .inner
            .token_http
            .post(url)
            .timeout(timeout)
            .form(&form.form);
        if let Some((user, password)) = &form.basic {
            request = request.basic_auth(user, Some(password));
        }
        let admission = self.inner.pacer.admit().await;
        self.inner.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.logins.fetch_add(1, Ordering::SeqCst);
        debug!(url = %url, flow = self.inner.creds.flow_name(), "Requesting a Salesforce token.");
        let (status, retry_after, body, location, _) = self.exchange(request, url, timeout).await?;
        drop(admission);
        if status == 200 {
            let answer: TokenAnswer =
                serde_json::from_slice(&body).map_err(|e| SfError::Decode {
                    url: url.clone(),
                    detail: format!("not a token answer ({})", e.classify_name()),
                })?;
            let instance_url = checked_instance_url(&answer.instance_url)?;
            let user_id = answer
                .id
                .as_deref()
                .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
                .filter(|id| id.starts_with("005") && soql::is_field_name(id))
                .map(str::to_owned);
            return Ok((Secret::new(answer.access_token), instance_url, user_id));
        }
        if (300..400).contains(&status) {
            return Err(SfError::Refused {
                url: url.clone(),
                why: format!(
                    "the token endpoint answered HTTP {status}, a redirect{}; sfsync never follows a \
                     redirect on a token call (it would send the credentials again, elsewhere): \
                     set salesforce.login_url to the host that answers",
                    location.map(|l| format!(" to {l}")).unwrap_or_default()
                ),
            });
        }
        // Only the documented `{"error", "error_description"}` shape is
        // quoted: anything else may be the request echoed back, secrets and all.
        if let Ok(e) = serde_json::from_slice::<TokenError>(&body)
            && !(500..600).contains(&status)
        {
            return Err(SfError::Auth {
                url: url.clone(),
                error: crate::printable::escape_controls(&e.error).into_owned(),
                description: crate::printable::escape_controls(
                    &e.error_description.unwrap_or_default(),
                )
                .into_owned(),
            });
        }
        Err(api_error(url, status, b"", retry_after))
    }

    /// Sends a request and reads the whole answer, at most
    /// [`MAX_ANSWER_BYTES`]: status, Retry-After, body and (for a redirect)
    /// the Location's origin, noting `Sforce-Limit-Info` on the way.
    /// `shown_url` is what errors name.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        shown_url: &str,
        timeout: std::time::Duration,
    ) -> Result<Exchanged, SfError> {
        let mut response = request.send().await.map_err(|e| {
            if e.is_redirect() {
                SfError::Refused {
                    url: shown_url.to_owned(),
                    why: "the answer redirects to another host or scheme; sfsync does not follow \
                          it (the token would go along)"
                        .into(),
                }
            } else {
                transport(shown_url, &e, timeout)
            }
        })?;
        let status = response.status().as_u16();
        let reported = self.note_usage(response.headers());
        let retry_after = header_text(response.headers(), RETRY_AFTER.as_str())
            .and_then(|v| parse_retry_after(&v));
        let location = header_text(response.headers(), "location")
            .and_then(|l| url::Url::parse(&l).ok())
            .map(|u| {
                crate::printable::escape_controls(&u.origin().ascii_serialization()).into_owned()
            });
        let too_big = || SfError::Refused {
            url: shown_url.to_owned(),
            why: format!(
                "the answer is larger than {} MiB; sfsync stops reading it",
                MAX_ANSWER_BYTES >> 20
            ),
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport(shown_url, &e, timeout))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, retry_after, body, location, reported))
    }

    /// Keeps the reading with the most calls used: answers to concurrent calls
    /// can arrive out of order, and the count only grows within a day.
    fn note_usage(&self, headers: &HeaderMap) -> bool {
        let Some(usage) =
            header_text(headers, "sforce-limit-info").and_then(|v| parse_limit_info(&v))
        else {
            return false;
        };
        let mut slot = self.inner.usage.lock().expect("usage lock");
        match *slot {
            Some(old) if old.max == usage.max && old.used > usage.used => {}
            _ => *slot = Some(usage),
        }
        true
    }
}

/// What [`Client::exchange`] read: status, Retry-After, body, a redirect's origin, and whether the answer
/// carried a `Sforce-Limit-Info` reading.
type Exchanged = (u16, Option<Duration>, Vec<u8>, Option<String>, bool);

/// API calls follow a redirect only to the same scheme, host and port, at
/// most [`MAX_REDIRECTS`] times: the bearer token must not go to another host.
fn same_origin_redirects(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let first = &attempt.previous()[0];
    let next = attempt.url();
    let same = next.scheme() == first.scheme()
        && next.host() == first.host()
        && next.port_or_known_default() == first.port_or_known_default();
    if same && attempt.previous().len() <= MAX_REDIRECTS {
        attempt.follow()
    } else {
        attempt.error("redirect to another host or scheme refused")
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Names a serde_json error's category without quoting the input (it may hold a token).
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "unexpected JSON shape",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn decode<T: serde::de::DeserializeOwned>(answer: &Answer) -> Result<T, SfError> {
    serde_json::from_slice(&answer.body).map_err(|e| SfError::Decode {
        url: display_url(&answer.url),
        detail: format!("{e}"),
    })
}

/// A non-2xx answer as an error naming the URL, errorCode and message.
fn api_error(url: &str, status: u16, body: &[u8], retry_after: Option<Duration>) -> SfError {
    let (code, message) = match serde_json::from_slice::<Vec<ApiErrorItem>>(body) {
        Ok(items) if !items.is_empty() => (items[0].error_code.clone(), items[0].message.clone()),
        _ => match serde_json::from_slice::<ApiErrorItem>(body) {
            Ok(item) if !item.error_code.is_empty() => (item.error_code, item.message),
            _ => {
                let text = String::from_utf8_lossy(body);
                let text: String = text.trim().chars().take(200).collect();
                let reason = reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("unexpected status");
                (
                    String::new(),
                    if text.is_empty() {
                        reason.to_owned()
                    } else {
                        text
                    },
                )
            }
        },
    };
    SfError::Api {
        url: display_url(url),
        status,
        code,
        message,
        retry_after,
    }
}

/// The token answer decides where API calls go; refuse plain http except on
/// loopback (the emulator), as the job loader does for configured URLs.
fn checked_instance_url(raw: &str) -> Result<String, SfError> {
    let trimmed = raw.trim_end_matches('/');
    let parsed = url::Url::parse(trimmed).map_err(|_| {
        SfError::Setup(format!(
            "the token answer's instance_url {trimmed:?} is not a URL"
        ))
    })?;
    let loopback = is_loopback(&parsed);
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SfError::Setup(
            "the token answer's instance_url carries a user name or password; refusing it".into(),
        ));
    }
    match parsed.scheme() {
        "https" => Ok(trimmed.to_owned()),
        "http" if loopback => Ok(trimmed.to_owned()),
        _ => Err(SfError::Setup(format!(
            "the token answer's instance_url {trimmed} is not https; refusing to send the token there"
        ))),
    }
}

/// A field's value as text, found case-insensitively (SOQL field names are).
fn field_text(record: &serde_json::Map<String, serde_json::Value>, name: &str) -> Option<String> {
    let value = record.get(name).or_else(|| {
        record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })?;
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn user_from_record(
    record: &serde_json::Map<String, serde_json::Value>,
    match_keys: &[String],
) -> Result<SfUser, SfError> {
    let missing = |field: &str| SfError::Decode {
        url: "a SOQL answer".into(),
        detail: format!("a User record without {field}"),
    };
    let id = field_text(record, "Id").ok_or_else(|| missing("Id"))?;
    let username = field_text(record, "Username").ok_or_else(|| missing("Username"))?;
    // Users are active unless Salesforce says otherwise; a missing flag must not hide a user.
    let is_active = field_text(record, "IsActive").is_none_or(|v| v != "false");
    Ok(SfUser {
        id: id.into(),
        username: username.into(),
        email: field_text(record, "Email").map(Into::into),
        is_active,
        keys: match_keys
            .iter()
            .map(|k| field_text(record, k).map(Into::into))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_users_with_aligned_keys() {
        let r: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"attributes":{"type":"User"},"Id":"005A","Username":"a@x.com","Email":null,
                "IsActive":false,"FederationIdentifier":"ada","EmployeeNumber":42}"#,
        )
        .unwrap();
        let u = user_from_record(
            &r,
            &[
                "federationidentifier".into(),
                "EmployeeNumber".into(),
                "Title".into(),
            ],
        )
        .unwrap();
        assert_eq!(&*u.id, "005A");
        assert_eq!(u.email, None);
        assert!(!u.is_active);
        assert_eq!(u.keys.len(), 3);
        assert_eq!(u.keys[0].as_deref(), Some("ada"));
        assert_eq!(u.keys[1].as_deref(), Some("42"));
        assert_eq!(u.keys[2], None);
    }

    #[test]
    fn error_bodies_become_sentences() {
        let e = api_error(
            "https://h/services/data/v62.0/query?q=x",
            400,
            br#"[{"message":"unexpected token: FORM","errorCode":"MALFORMED_QUERY"}]"#,
            None,
        );
        assert_eq!(
            e.to_string(),
            "https://h/services/data/v62.0/query?q=x answered HTTP 400 MALFORMED_QUERY: unexpected token: FORM"
        );
        let e = api_error("https://h/x", 503, b"", Some(Duration::from_secs(3)));
        assert_eq!(
            e.to_string(),
            "https://h/x answered HTTP 503: Service Unavailable"
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn instance_url_must_be_https_or_loopback() {
        assert_eq!(
            checked_instance_url("https://acme.my.salesforce.com/").unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert!(checked_instance_url("http://127.0.0.1:4040").is_ok());
        assert!(checked_instance_url("http://[::1]:4040").is_ok());
        assert!(checked_instance_url("http://evil.example.com").is_err());
        assert!(checked_instance_url("nonsense").is_err());
    }
}
