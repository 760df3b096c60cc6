//! Executing the plan's operations: one runner for every kind ([`kind`]),
//! batches through sObject Collections, paced, retried, with lost answers
//! checked instead of blindly resent.
//!
//! - [`kind`]: what differs per operation kind: how it is sent, how a lost answer is checked.
//! - [`batch`]: the ledger (what goes next, what each verdict does) and the budget check; pure.
//! - [`recover`]: lost answers: look the usernames up, resend only the absent.
//!
//! Retry classification and pacing are transport policy and live below, in
//! [`crate::salesforce::retry`] and [`crate::salesforce::pace`].
//! - [`progress`]: a bar on a terminal, INFO lines otherwise.
//!
//! [`create_users`] keeps up to `concurrency` batch calls in flight. Each batch
//! task retries its own call on transient failures; per-record verdicts come
//! back to the one coordinating loop, which alone touches the ledger.

pub mod batch;
pub mod kind;
pub mod progress;
pub mod recover;

use std::cell::Cell;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::report::Outcome;
use crate::salesforce::Client;
pub use crate::salesforce::retry::StopReason;
use crate::salesforce::retry::{self, CallVerdict, backoff, classify_call, classify_record};
use batch::{ItemFate, Ledger, budget_stop, profile_key};
pub use kind::Kind;
use progress::{Progress, Tally};

/// One user to create.
#[derive(Debug, Clone)]
pub struct CreateItem {
    /// The caller's identifier for this item (echoed in [`CreateResult::key`]).
    pub key: usize,
    /// As sent (the planner lower-cases it); used to look the user up after a lost answer.
    pub username: String,
    /// Items sharing a profile stop together when its licences run out.
    pub profile_id: Option<String>,
    /// The User record as sent, `attributes` included ([`user_record`]).
    /// Encoded once: batches and retries copy bytes, not JSON trees.
    pub record: Box<RawValue>,
}

/// One write of any kind for [`run`].
#[derive(Debug, Clone)]
pub struct WriteItem {
    /// The caller's identifier for this item (echoed in [`CreateResult::key`]).
    pub key: usize,
    /// What a lost answer is checked by: the username for a create, the record's Id otherwise.
    pub check: String,
    /// Items sharing a profile stop together when its licences run out (creates, reactivations).
    pub profile_id: Option<String>,
    /// The record as sent, `attributes` included ([`user_record`], [`sobject_record`]).
    pub record: Box<RawValue>,
}

impl From<CreateItem> for WriteItem {
    fn from(c: CreateItem) -> Self {
        WriteItem {
            key: c.key,
            check: c.username,
            profile_id: c.profile_id,
            record: c.record,
        }
    }
}

/// Encodes a User record for [`CreateItem::record`]: `attributes` first, then
/// `fields` in their order, without building a JSON tree.
pub fn user_record<K: AsRef<str>, V: Serialize>(
    fields: impl IntoIterator<Item = (K, V)>,
) -> Box<RawValue> {
    sobject_record("User", fields)
}

/// Encodes a record of `sobject` (`attributes: {type}` first, then `fields`
/// in order; a PATCH record lists `Id` among them).
pub fn sobject_record<K: AsRef<str>, V: Serialize>(
    sobject: &'static str,
    fields: impl IntoIterator<Item = (K, V)>,
) -> Box<RawValue> {
    // Serialize takes &self; the fields are walked once, so the iterator is taken out.
    struct Record<I>(Cell<Option<I>>, &'static str);
    impl<K: AsRef<str>, V: Serialize, I: Iterator<Item = (K, V)>> Serialize for Record<I> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("attributes", &Type { r#type: self.1 })?;
            for (k, v) in self.0.take().into_iter().flatten() {
                map.serialize_entry(k.as_ref(), &v)?;
            }
            map.end()
        }
    }
    #[derive(Serialize)]
    struct Type {
        r#type: &'static str,
    }
    serde_json::value::to_raw_value(&Record(Cell::new(Some(fields.into_iter())), sobject))
        .expect("text keys and plain values always encode")
}

/// What became of one [`CreateItem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateResult {
    pub key: usize,
    /// The kind's done outcome (`Created`, `Updated`, ...), `Collision`,
    /// `Failed`, `Unknown` (sent, answer lost, not checked) or `NotAttempted`.
    pub outcome: Outcome,
    pub salesforce_id: Option<String>,
    pub error_code: Option<String>,
    pub message: Option<String>,
    /// Check values (usernames) Salesforce refused as held in another org
    /// before the last one, in order (`username_tried`); empty for most.
    pub tried: Vec<String>,
    /// The check value (username) last sent, when it is not the item's first.
    pub sent_as: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// Records per call, 1..=200.
    pub batch_size: usize,
    /// Stop before the org's remaining daily calls fall below this.
    pub api_reserve: u64,
    /// The job's match keys (lost-answer lookups read the same fields as the plan).
    pub match_keys: Vec<String>,
}

/// One result per item, in item order, and why the run stopped early (if it did).
#[derive(Debug, Clone)]
pub struct ExecuteOutcome {
    pub results: Vec<CreateResult>,
    pub stopped: Option<StopReason>,
    /// Profiles (15-character Id) whose licences ran out, with Salesforce's
    /// message: the rest of their writes were `not_attempted`.
    pub exhausted: Vec<(String, String)>,
}

/// What one batch task hands back to the coordinator.
struct BatchReport {
    fates: Vec<(usize, ItemFate)>,
    stop: Option<StopReason>,
}

/// Creates the users, `batch_size` per call, up to the client's concurrency in
/// flight, until done, stopped by a limit, or interrupted (see [`run`] for
/// `cancel`). Calls already in flight finish and are accounted for; nothing is
/// left half-known except when a lost answer could not be checked (then that
/// item says so).
pub async fn create_users(
    client: &Client,
    items: Vec<CreateItem>,
    opts: &ExecuteOptions,
    cancel: watch::Receiver<u8>,
) -> ExecuteOutcome {
    run(
        client,
        Kind::Create,
        items.into_iter().map(WriteItem::from).collect(),
        opts,
        cancel,
    )
    .await
}

/// Runs writes of one kind, `batch_size` per call, up to the client's
/// concurrency in flight, until done, stopped by a limit, or interrupted.
/// The budget gate is set on the client first, so every call of the run (the
/// lost-answer checks included) is counted against `api_reserve`.
///
/// `cancel` counts interrupts (SIGINT/SIGTERM): at 1 no call is launched any
/// more, and the calls in flight finish (their lost answers checked); at 2 the
/// run stops waiting for them too: each write still in flight or unchecked
/// is `unknown` (it may have been applied), each one waiting to be retried
/// `not_attempted`.
pub async fn run(
    client: &Client,
    kind: Kind,
    items: Vec<WriteItem>,
    opts: &ExecuteOptions,
    cancel: watch::Receiver<u8>,
) -> ExecuteOutcome {
    run_with(client, kind, items, Vec::new(), opts, cancel).await
}

/// [`run`] where item `i` has `alternatives[i]` to try next, in order, when
/// Salesforce refuses it as held in another org (fallback usernames): the
/// kind's [`Kind::follow_up`] rewrites the record and it goes back in the
/// queue, in a later batch; a lost answer is then checked under the value
/// actually sent. `alternatives` may be shorter than `items` (none).
pub async fn run_with(
    client: &Client,
    kind: Kind,
    items: Vec<WriteItem>,
    alternatives: Vec<Vec<String>>,
    opts: &ExecuteOptions,
    mut cancel: watch::Receiver<u8>,
) -> ExecuteOutcome {
    client.set_api_reserve(opts.api_reserve);
    // One pass that moves each record (no copies: a migration holds 100,000s).
    let mut keys = Vec::with_capacity(items.len());
    let mut profiles = Vec::with_capacity(items.len());
    let mut usernames = Vec::with_capacity(items.len());
    let mut records = Vec::with_capacity(items.len());
    for item in items {
        keys.push(item.key);
        profiles.push(profile_key(item.profile_id.as_deref()));
        usernames.push(item.check);
        records.push(item.record);
    }
    let mut ledger = Ledger::new(profiles, opts.batch_size, client.max_retries())
        .done_as(kind.done())
        .with_alternatives(alternatives);
    let mut tried: Vec<Vec<String>> = vec![Vec::new(); keys.len()];

    let mut progress = Progress::new(keys.len() as u64);
    let mut tasks: JoinSet<BatchReport> = JoinSet::new();
    let mut stopped: Option<StopReason> = None;
    let mut cancel_open = true;
    let mut tally = Tally::default();

    loop {
        while stopped.is_none() && ledger.has_pending() && tasks.len() < client.concurrency() {
            if *cancel.borrow() > 0 {
                stopped = Some(StopReason::Interrupted);
                break;
            }
            if let Some(reason) =
                budget_stop(client.last_usage(), tasks.len() as u64, opts.api_reserve)
            {
                stopped = Some(reason);
                break;
            }
            let batch = ledger.next_batch();
            if batch.is_empty() {
                break;
            }
            let job = BatchJob {
                kind,
                client: client.clone(),
                uncertain: batch.iter().map(|&i| ledger.is_uncertain(i)).collect(),
                records: batch.iter().map(|&i| records[i].clone()).collect(),
                usernames: batch.iter().map(|&i| usernames[i].clone()).collect(),
                items: batch,
                match_keys: opts.match_keys.clone(),
                api_reserve: opts.api_reserve,
                cancel: cancel.clone(),
            };
            tasks.spawn(job.run());
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            joined = tasks.join_next() => {
                let report = match joined {
                    Some(Ok(report)) => report,
                    // A panicking task is a bug; its items stay pending and the run stops.
                    Some(Err(e)) => BatchReport { fates: Vec::new(), stop: Some(StopReason::Fatal(format!("a batch task failed: {e}"))) },
                    None => continue,
                };
                for (item, fate) in report.fates {
                    let Some(next) = ledger.apply(item, fate) else { continue };
                    // A follow-up: the same item under its next check value.
                    if let Some(record) = kind.follow_up(&records[item], &next) {
                        records[item] = record;
                        info!(refused = %usernames[item], next = %next, "Username held in another org; will try the next fallback.");
                        tried[item].push(std::mem::replace(&mut usernames[item], next));
                    }
                }
                if let Some(reason) = report.stop
                    && stopped.is_none()
                {
                    warn!(reason = %reason, "Stopping the run; calls in flight will finish.");
                    stopped = Some(reason);
                }
                tally = Tally {
                    created: ledger.settled(kind.done()) as u64,
                    collisions: ledger.settled(Outcome::Collision) as u64,
                    failed: ledger.settled(Outcome::Failed) as u64,
                    done: 0,
                };
                tally.done = tally.created + tally.collisions + tally.failed + ledger.settled(Outcome::NotAttempted) as u64 + ledger.settled(Outcome::Unknown) as u64;
                progress.update(tally);
            }
            changed = cancel.changed(), if cancel_open && stopped.is_none() => {
                match changed {
                    Ok(()) if *cancel.borrow() > 0 => stopped = Some(StopReason::Interrupted),
                    Ok(()) => {}
                    Err(_) => cancel_open = false,
                }
            }
        }
    }
    progress.finish();
    let exhausted = ledger.exhausted();
    let mut results = ledger.finish(&keys, stopped.as_ref());
    for ((r, tried), sent) in results.iter_mut().zip(tried).zip(usernames) {
        if !tried.is_empty() {
            r.tried = tried;
            r.sent_as = Some(sent);
        }
    }
    // The run's one INFO line is the command's summary; this detail is for -v.
    debug!(
        created = tally.created,
        collisions = tally.collisions,
        failed = tally.failed,
        api_calls = client.api_calls(),
        kind = kind.name(),
        "Writes finished."
    );
    ExecuteOutcome {
        results,
        stopped,
        exhausted,
    }
}

/// Resolves once `cancel` has counted `n` interrupts; never, if its sender is gone.
async fn interrupts(cancel: &mut watch::Receiver<u8>, n: u8) {
    if cancel.wait_for(|c| *c >= n).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The message of a write abandoned by a second interrupt.
const ABANDONED: &str = "the run was interrupted a second time while this write was in flight or its lost answer was being checked: it may or may not have been applied; run again to confirm: the next run finds it if it was applied";

/// One batch call with its own retries; owns clones so it can run as a task.
struct BatchJob {
    kind: Kind,
    client: Client,
    items: Vec<usize>,
    uncertain: Vec<bool>,
    records: Vec<Box<RawValue>>,
    usernames: Vec<String>,
    match_keys: Vec<String>,
    api_reserve: u64,
    /// A backoff pause ends early on the first interrupt; a call already sent
    /// is abandoned only on the second.
    cancel: watch::Receiver<u8>,
}

impl BatchJob {
    fn unsent(&self, stop: StopReason) -> BatchReport {
        BatchReport {
            fates: self.items.iter().map(|&i| (i, ItemFate::Unsent)).collect(),
            stop: Some(stop),
        }
    }

    /// A second interrupt: the items' writes may have been applied, nobody
    /// waits to find out.
    fn abandoned(&self) -> BatchReport {
        BatchReport {
            fates: self
                .items
                .iter()
                .map(|&i| (i, ItemFate::Unknown(ABANDONED.to_owned())))
                .collect(),
            stop: Some(StopReason::Interrupted),
        }
    }

    async fn run(mut self) -> BatchReport {
        let mut attempt: u32 = 0;
        loop {
            let mut cancel = self.cancel.clone();
            if *cancel.borrow() >= 2 {
                // Not sent yet: nothing to be unsure about.
                return self.unsent(StopReason::Interrupted);
            }
            let sent = tokio::select! {
                sent = self.kind.send(&self.client, &self.records) => sent,
                () = interrupts(&mut cancel, 2) => return self.abandoned(),
            };
            let err = match sent {
                Ok(results) => return self.settle(results).await,
                Err(e) => e,
            };
            let mut free = false;
            let after = match classify_call(&err) {
                CallVerdict::Retry { after } => after,
                CallVerdict::LowerConcurrency { after } => {
                    // Progress (the cap went down, or is still going down),
                    // not a spent retry: the concurrency form is transient (SPEC).
                    free = self.client.ease_concurrency();
                    after
                }
                CallVerdict::Lost => return self.recover(&err).await,
                // 401 again after fresh logins: the other calls in flight may
                // have used the new tokens up (short-lived sessions under
                // load, issue 16). Nothing was processed: back off and send
                // again, within max_retries; a login whose sessions never
                // work still ends the run below.
                CallVerdict::Reauth => None,
                CallVerdict::Stop(reason) => return self.unsent(reason),
            };
            if !free && attempt >= self.client.max_retries() {
                return self.unsent(StopReason::Fatal(format!(
                    "{err} (still failing after {attempt} retries)"
                )));
            }
            // A retry is one more call: it must fit the budget like any other.
            if let Some(reason) = budget_stop(self.client.last_usage(), 0, self.api_reserve) {
                return self.unsent(reason);
            }
            let delay = backoff(attempt, after, rand::random::<f64>());
            info!(error = %err, kind = self.kind.name(), attempt = attempt + 1, delay_ms = delay.as_millis() as u64, "Write call failed; will retry.");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = interrupts(&mut self.cancel, 1) => return self.unsent(StopReason::Interrupted),
            }
            if !free {
                attempt += 1;
            }
        }
    }

    /// Per-record verdicts; a DUPLICATE_USERNAME for a user whose earlier create
    /// lost its answer may be that very create, so those are looked up first.
    async fn settle(&self, results: Vec<crate::salesforce::RecordResult>) -> BatchReport {
        let mut fates: Vec<(usize, ItemFate)> = Vec::with_capacity(results.len());
        let mut check: Vec<(usize, String)> = Vec::new();
        for (pos, result) in results.iter().enumerate() {
            let verdict = classify_record(result);
            if matches!(verdict, retry::RecordVerdict::Collision { .. })
                && self.uncertain[pos]
                && self.kind.rechecks_duplicates()
            {
                check.push((self.items[pos], self.usernames[pos].clone()));
            }
            fates.push((self.items[pos], ItemFate::Verdict(verdict)));
        }
        if check.is_empty() {
            return BatchReport { fates, stop: None };
        }
        let mut cancel = self.cancel.clone();
        let looked_up = tokio::select! {
            found = recover::recover(&self.client, &check, &self.match_keys) => found,
            () = interrupts(&mut cancel, 2) => {
                for (item, _) in &check {
                    if let Some(slot) = fates.iter_mut().find(|(i, _)| i == item) {
                        slot.1 = ItemFate::Unknown(ABANDONED.to_owned());
                    }
                }
                return BatchReport { fates, stop: Some(StopReason::Interrupted) };
            }
        };
        match looked_up {
            Ok(found) => {
                for (item, fate) in found {
                    if let ItemFate::Recovered(id) = fate
                        && let Some(slot) = fates.iter_mut().find(|(i, _)| *i == item)
                    {
                        slot.1 = ItemFate::Recovered(id);
                    }
                }
                BatchReport { fates, stop: None }
            }
            // The duplicate may be our own create whose answer was lost: say so, never `collision`.
            Err(lookup) => {
                let why = unknown_message(self.kind, &lookup);
                for (item, _) in &check {
                    if let Some(slot) = fates.iter_mut().find(|(i, _)| i == item) {
                        slot.1 = ItemFate::Unknown(why.clone());
                    }
                }
                BatchReport {
                    fates,
                    stop: Some(lookup_stop(&lookup)),
                }
            }
        }
    }

    async fn recover(&self, err: &crate::salesforce::SfError) -> BatchReport {
        info!(error = %err, kind = self.kind.name(), users = self.items.len(), "Write answer lost; checking what was applied before resending.");
        let asked: Vec<(usize, String)> = self
            .items
            .iter()
            .copied()
            .zip(self.usernames.iter().cloned())
            .collect();
        let mut cancel = self.cancel.clone();
        let checked = tokio::select! {
            checked = self.kind.check(&self.client, &asked, &self.records, &self.match_keys) => checked,
            () = interrupts(&mut cancel, 2) => return self.abandoned(),
        };
        match checked {
            Ok(fates) => BatchReport { fates, stop: None },
            Err(lookup) => {
                let why = unknown_message(self.kind, &lookup);
                BatchReport {
                    fates: self
                        .items
                        .iter()
                        .map(|&i| (i, ItemFate::Unknown(why.clone())))
                        .collect(),
                    stop: Some(lookup_stop(&lookup)),
                }
            }
        }
    }
}

/// The message of an `unknown` item: sent, answer lost, the check impossible.
fn unknown_message(kind: Kind, lookup: &crate::salesforce::SfError) -> String {
    format!(
        "sent, but the answer to this {} was lost and it could not be checked ({lookup}); run again to confirm: the next run finds it if it was applied",
        kind.name()
    )
}

/// Why the run stops when the check after a lost answer failed: the daily
/// limit and the API reserve are limits (exit 4) on this path as on any other.
fn lookup_stop(lookup: &crate::salesforce::SfError) -> StopReason {
    match classify_call(lookup) {
        CallVerdict::Stop(reason @ (StopReason::DailyLimit | StopReason::ApiReserve { .. })) => {
            reason
        }
        _ => StopReason::Fatal(format!(
            "could not check writes after a lost answer: {lookup}"
        )),
    }
}
