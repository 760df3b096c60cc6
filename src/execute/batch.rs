//! The ledger of a run's creates: which items wait, which batch goes next,
//! what each per-record verdict does to an item, and whether the API budget
//! allows another call. Pure: no I/O, no clock; the executor drives it.

use std::collections::{HashMap, VecDeque};

use super::CreateResult;
use crate::report::Outcome;
use crate::salesforce::ApiUsage;
use crate::salesforce::retry::RecordVerdict;
use crate::salesforce::retry::StopReason;

/// The most records one sObject Collections call takes.
pub const MAX_BATCH: usize = 200;

/// Per-item bookkeeping, indexed like the executor's item list.
#[derive(Debug, Clone, Default)]
struct Slot {
    /// Sends that ended without a final answer for this item (locks, lost answers).
    retries: u32,
    /// A create for it may already have gone through (an answer was lost), so a
    /// later DUPLICATE_USERNAME may be our own user rather than a collision.
    uncertain: bool,
    /// Settled outcome; `key` is filled in by [`Ledger::finish`].
    result: Option<CreateResult>,
}

/// What happens to the items of a batch whose fate is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemFate {
    /// Salesforce answered for this record.
    Verdict(RecordVerdict),
    /// The answer was lost, and a lookup found the user: it was created (with this Id).
    Recovered(String),
    /// The answer was lost and the lookup found no such user: send it again.
    Resend,
    /// The call never got processed (the run is stopping).
    Unsent,
    /// The answer was lost and could not be checked: it may be applied or not (`unknown`).
    Unknown(String),
}

#[derive(Debug)]
pub struct Ledger {
    slots: Vec<Slot>,
    /// Profile key (Id's first 15 characters) of each item.
    profiles: Vec<String>,
    pending: VecDeque<usize>,
    /// Profiles with no licence left, with the message Salesforce gave.
    exhausted: HashMap<String, String>,
    batch_size: usize,
    max_retries: u32,
    /// Settled items per outcome, kept as items settle: progress asks after
    /// every batch, and counting the slots each time made a run quadratic.
    settled: [usize; Outcome::ALL.len()],
    /// What an applied item becomes (`created`, `updated`, ...).
    done: Outcome,
    /// Per item, the check values (usernames) still to try when Salesforce
    /// answers DUPLICATE_USERNAME (`[collisions] fallback_usernames`).
    alternatives: Vec<VecDeque<String>>,
}

/// Profiles compare by the case-sensitive 15-character Id (18-character Ids add a checksum).
pub fn profile_key(profile_id: Option<&str>) -> String {
    profile_id
        .map(|p| p.get(..15).unwrap_or(p).to_owned())
        .unwrap_or_default()
}

impl Ledger {
    pub fn new(profiles: Vec<String>, batch_size: usize, max_retries: u32) -> Ledger {
        let n = profiles.len();
        Ledger {
            slots: vec![Slot::default(); n],
            profiles,
            pending: (0..n).collect(),
            exhausted: HashMap::new(),
            batch_size: batch_size.clamp(1, MAX_BATCH),
            max_retries,
            settled: [0; Outcome::ALL.len()],
            done: Outcome::Created,
            alternatives: Vec::new(),
        }
    }

    /// Per item, what to try next when its username is held in another org
    /// (empty: nothing; a collision settles it).
    pub fn with_alternatives(mut self, alternatives: Vec<Vec<String>>) -> Ledger {
        self.alternatives = alternatives.into_iter().map(VecDeque::from).collect();
        self
    }

    /// Profiles whose licences ran out, with Salesforce's message, sorted.
    pub fn exhausted(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .exhausted
            .iter()
            .map(|(p, m)| (p.clone(), m.clone()))
            .collect();
        out.sort();
        out
    }

    /// The outcome an applied item settles as (default `created`).
    pub fn done_as(mut self, done: Outcome) -> Ledger {
        self.done = done;
        self
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn is_uncertain(&self, item: usize) -> bool {
        self.slots[item].uncertain
    }

    /// Items settled so far, by outcome (for progress).
    pub fn settled(&self, outcome: Outcome) -> usize {
        self.settled[outcome as usize]
    }

    /// The next batch, in queue order. Items whose profile ran out of licences
    /// are settled as `not_attempted` on the way instead of being sent to fail.
    pub fn next_batch(&mut self) -> Vec<usize> {
        let mut batch = Vec::with_capacity(self.batch_size);
        while batch.len() < self.batch_size {
            let Some(item) = self.pending.pop_front() else {
                break;
            };
            if let Some(msg) = self.exhausted.get(&self.profiles[item]) {
                let msg = format!("not sent: the org has no licence left for this profile ({msg})");
                self.settle(
                    item,
                    Outcome::NotAttempted,
                    None,
                    Some("LICENSE_LIMIT_EXCEEDED".into()),
                    Some(msg),
                );
            } else {
                batch.push(item);
            }
        }
        batch
    }

    /// Applies what became of one sent item. `Some(next)`: the item is a
    /// follow-up now, to be sent again under the check value `next` (a
    /// fallback username), in a later batch.
    pub fn apply(&mut self, item: usize, fate: ItemFate) -> Option<String> {
        if let ItemFate::Verdict(RecordVerdict::Collision { .. }) = fate
            && let Some(next) = self
                .alternatives
                .get_mut(item)
                .and_then(VecDeque::pop_front)
        {
            let slot = &mut self.slots[item];
            if let Some(previous) = slot.result.take() {
                self.settled[previous.outcome as usize] -= 1;
            }
            *slot = Slot::default();
            self.pending.push_back(item);
            return Some(next);
        }
        match fate {
            ItemFate::Verdict(RecordVerdict::Created { id }) => {
                self.settle(item, self.done, id, None, None)
            }
            ItemFate::Recovered(id) => self.settle(item, self.done, Some(id), None, None),
            ItemFate::Verdict(RecordVerdict::Collision { message }) => self.settle(
                item,
                Outcome::Collision,
                None,
                Some("DUPLICATE_USERNAME".into()),
                Some(collision_message(&message)),
            ),
            ItemFate::Verdict(RecordVerdict::RetryLater { code, message }) => {
                self.retry_later(item, code, message)
            }
            ItemFate::Resend => {
                self.slots[item].uncertain = true;
                self.retry_later(
                    item,
                    "ANSWER_LOST".into(),
                    "the answer to every write of this record was lost".into(),
                );
            }
            // The first refusal of a profile is `failed` (a person must act),
            // the rest of that profile's creates `not_attempted`, whether they
            // were in the same batch or not: so the same people get the same
            // outcomes every night until licences are added.
            ItemFate::Verdict(RecordVerdict::LicenseLimit { code, message }) => {
                let profile = self.profiles[item].clone();
                if let Some(first) = self.exhausted.get(&profile) {
                    let msg = format!(
                        "not created: the org has no licence left for this profile ({first})"
                    );
                    self.settle(item, Outcome::NotAttempted, None, Some(code), Some(msg));
                } else {
                    self.exhausted.insert(profile, message.clone());
                    self.settle(item, Outcome::Failed, None, Some(code), Some(message));
                }
            }
            ItemFate::Verdict(RecordVerdict::Failed { code, message }) => {
                self.settle(item, Outcome::Failed, None, Some(code), Some(message))
            }
            ItemFate::Unsent => self.pending.push_front(item),
            // Sent and maybe applied: never `not_attempted` (issue 16).
            ItemFate::Unknown(message) => self.settle(
                item,
                Outcome::Unknown,
                None,
                Some("ANSWER_LOST".into()),
                Some(message),
            ),
        }
        None
    }

    /// UNABLE_TO_LOCK_ROW or a lost answer: back of the queue, so it goes in a
    /// later batch, until `max_retries` is spent.
    fn retry_later(&mut self, item: usize, code: String, message: String) {
        self.slots[item].retries += 1;
        if self.slots[item].retries > self.max_retries {
            let message = format!("{message} (gave up after {} retries)", self.max_retries);
            self.settle(item, Outcome::Failed, None, Some(code), Some(message));
        } else {
            self.pending.push_back(item);
        }
    }

    fn settle(
        &mut self,
        item: usize,
        outcome: Outcome,
        id: Option<String>,
        code: Option<String>,
        message: Option<String>,
    ) {
        if let Some(previous) = &self.slots[item].result {
            self.settled[previous.outcome as usize] -= 1;
        }
        self.settled[outcome as usize] += 1;
        self.slots[item].result = Some(CreateResult {
            key: 0,
            outcome,
            salesforce_id: id,
            error_code: code,
            message,
            tried: Vec::new(),
            sent_as: None,
        });
    }

    /// Settles everything not yet settled as `not_attempted` with `reason`, and
    /// returns one result per item, in item order. `keys[i]` is item i's caller key.
    pub fn finish(mut self, keys: &[usize], reason: Option<&StopReason>) -> Vec<CreateResult> {
        let why = reason.map_or_else(|| "not sent".to_owned(), ToString::to_string);
        for slot in &mut self.slots {
            if slot.result.is_none() {
                slot.result = Some(CreateResult {
                    key: 0,
                    outcome: Outcome::NotAttempted,
                    salesforce_id: None,
                    error_code: None,
                    message: Some(why.clone()),
                    tried: Vec::new(),
                    sent_as: None,
                });
            }
        }
        self.slots
            .into_iter()
            .zip(keys)
            .map(|(slot, &key)| CreateResult {
                key,
                ..slot.result.expect("settled above")
            })
            .collect()
    }
}

fn collision_message(salesforce_says: &str) -> String {
    let first = salesforce_says.split("<br>").next().unwrap_or("").trim();
    if first.is_empty() {
        "username taken in another Salesforce org".to_owned()
    } else {
        format!("username taken in another Salesforce org (Salesforce: {first})")
    }
}

/// Whether the API budget allows one more call while `in_flight` others may
/// still each spend one. `None`: go ahead. No reading yet: go ahead (the first
/// answer brings one).
pub fn budget_stop(
    usage: Option<ApiUsage>,
    in_flight: u64,
    api_reserve: u64,
) -> Option<StopReason> {
    let usage = usage?;
    let remaining = usage.remaining();
    if remaining == 0 {
        Some(StopReason::DailyLimit)
    } else if remaining < in_flight + 1 + api_reserve {
        // With no reserve, running short is the daily limit itself arriving.
        Some(if api_reserve == 0 {
            StopReason::DailyLimit
        } else {
            StopReason::ApiReserve { remaining }
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ledger(n: usize, batch: usize) -> Ledger {
        Ledger::new(vec![String::new(); n], batch, 2)
    }

    fn created() -> ItemFate {
        ItemFate::Verdict(RecordVerdict::Created {
            id: Some("005X".into()),
        })
    }

    #[test]
    fn profiles_compare_by_the_15_character_id() {
        assert_eq!(profile_key(Some("00e90000001aV2oAAE")), "00e90000001aV2o");
        assert_eq!(profile_key(Some("00e90000001aV2o")), "00e90000001aV2o");
        assert_eq!(profile_key(Some("00eX")), "00eX");
        assert_eq!(profile_key(None), "");
    }

    #[test]
    fn settled_counts_follow_each_item_and_a_second_fate_moves_it() {
        let mut l = ledger(3, 3);
        assert!(
            !l.is_uncertain(0),
            "nothing is uncertain before a lost answer"
        );
        let b = l.next_batch();
        l.apply(b[0], created());
        l.apply(b[1], created());
        l.apply(
            b[2],
            ItemFate::Verdict(RecordVerdict::Failed {
                code: "X".into(),
                message: String::new(),
            }),
        );
        assert_eq!(l.settled(Outcome::Created), 2);
        assert_eq!(l.settled(Outcome::Failed), 1);
        assert_eq!(l.settled(Outcome::Collision), 0);
        // An item settled again (its lost answer found after all) counts once, under its new outcome.
        l.apply(b[2], ItemFate::Recovered("005R".into()));
        assert_eq!(l.settled(Outcome::Failed), 0);
        assert_eq!(l.settled(Outcome::Created), 3);
    }

    #[test]
    fn batches_take_items_in_order_up_to_the_size() {
        let mut l = ledger(450, 200);
        assert_eq!(l.next_batch(), (0..200).collect::<Vec<_>>());
        assert_eq!(l.next_batch(), (200..400).collect::<Vec<_>>());
        assert_eq!(l.next_batch(), (400..450).collect::<Vec<_>>());
        assert!(l.next_batch().is_empty());
        assert_eq!(
            Ledger::new(vec![String::new(); 5], 999, 1)
                .next_batch()
                .len(),
            5
        );
        assert_eq!(
            Ledger::new(vec![String::new(); 5], 0, 1).next_batch().len(),
            1
        );
    }

    #[test]
    fn locks_go_to_a_later_batch_then_fail_after_max_retries() {
        let mut l = ledger(3, 2);
        let b = l.next_batch();
        let lock = || {
            ItemFate::Verdict(RecordVerdict::RetryLater {
                code: "UNABLE_TO_LOCK_ROW".into(),
                message: "locked".into(),
            })
        };
        l.apply(b[0], lock());
        l.apply(b[1], created());
        assert_eq!(l.next_batch(), vec![2, 0]);
        l.apply(2, created());
        l.apply(0, lock());
        assert_eq!(l.next_batch(), vec![0]);
        l.apply(0, lock());
        assert!(!l.has_pending());
        let r = l.finish(&[10, 11, 12], None);
        assert_eq!(r[0].outcome, Outcome::Failed);
        assert_eq!(r[0].error_code.as_deref(), Some("UNABLE_TO_LOCK_ROW"));
        assert_eq!((r[1].key, r[1].outcome), (11, Outcome::Created));
        assert_eq!(r[1].salesforce_id.as_deref(), Some("005X"));
    }

    #[test]
    fn licence_shortage_stops_that_profile_only() {
        let profiles = vec![
            "00eA".to_string(),
            "00eA".into(),
            "00eB".into(),
            "00eA".into(),
        ];
        let mut l = Ledger::new(profiles, 1, 3);
        assert_eq!(l.next_batch(), vec![0]);
        l.apply(
            0,
            ItemFate::Verdict(RecordVerdict::LicenseLimit {
                code: "LICENSE_LIMIT_EXCEEDED".into(),
                message: "License Limit Exceeded".into(),
            }),
        );
        // Item 1 (same profile) is skipped without a call; item 2 goes.
        assert_eq!(l.next_batch(), vec![2]);
        l.apply(2, created());
        assert!(l.next_batch().is_empty());
        let r = l.finish(&[0, 1, 2, 3], None);
        assert_eq!(r[0].outcome, Outcome::Failed);
        assert_eq!(r[1].outcome, Outcome::NotAttempted);
        assert!(r[1].message.as_deref().unwrap().contains("no licence left"));
        assert_eq!(r[2].outcome, Outcome::Created);
        assert_eq!(r[3].outcome, Outcome::NotAttempted);
    }

    #[test]
    fn a_collision_with_a_fallback_left_is_a_follow_up_in_a_later_batch() {
        let mut l = ledger(3, 2).with_alternatives(vec![vec!["a2@x.com".into()], vec![], vec![]]);
        let dup = || {
            ItemFate::Verdict(RecordVerdict::Collision {
                message: "Duplicate Username.".into(),
            })
        };
        assert_eq!(l.next_batch(), vec![0, 1]);
        assert_eq!(l.apply(0, dup()), Some("a2@x.com".into()));
        assert_eq!(l.apply(1, dup()), None);
        // Item 0 comes back after the items still waiting, in a later batch.
        assert_eq!(l.next_batch(), vec![2, 0]);
        l.apply(2, created());
        // No fallback left: the second refusal settles it as a collision.
        assert_eq!(l.apply(0, dup()), None);
        assert!(!l.has_pending());
        let r = l.finish(&[0, 1, 2], None);
        let got: Vec<Outcome> = r.iter().map(|x| x.outcome).collect();
        assert_eq!(
            got,
            [Outcome::Collision, Outcome::Collision, Outcome::Created]
        );
        assert_eq!(l_settled_collisions(&r), 2);
    }

    fn l_settled_collisions(r: &[CreateResult]) -> usize {
        r.iter().filter(|x| x.outcome == Outcome::Collision).count()
    }

    #[test]
    fn licence_refusals_in_one_batch_fail_the_first_and_leave_the_rest_not_attempted() {
        let mut l = Ledger::new(vec!["00eA".to_string(); 3], 3, 3);
        assert_eq!(l.next_batch(), vec![0, 1, 2]);
        let refused = || {
            ItemFate::Verdict(RecordVerdict::LicenseLimit {
                code: "LICENSE_LIMIT_EXCEEDED".into(),
                message: "License Limit Exceeded".into(),
            })
        };
        l.apply(0, created());
        l.apply(1, refused());
        l.apply(2, refused());
        assert_eq!(
            l.exhausted(),
            vec![("00eA".to_owned(), "License Limit Exceeded".to_owned())]
        );
        let r = l.finish(&[0, 1, 2], None);
        let got: Vec<(Outcome, Option<&str>)> = r
            .iter()
            .map(|x| (x.outcome, x.error_code.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Outcome::Created, None),
                (Outcome::Failed, Some("LICENSE_LIMIT_EXCEEDED")),
                (Outcome::NotAttempted, Some("LICENSE_LIMIT_EXCEEDED")),
            ]
        );
    }

    #[test]
    fn lost_answers_resend_and_mark_uncertain_and_stop_leaves_the_rest() {
        let mut l = ledger(4, 2);
        let b = l.next_batch();
        l.apply(b[0], ItemFate::Recovered("005R".into()));
        l.apply(b[1], ItemFate::Resend);
        assert!(l.is_uncertain(1));
        let b = l.next_batch();
        assert_eq!(b, vec![2, 3]);
        l.apply(2, ItemFate::Unsent);
        l.apply(3, ItemFate::Unsent);
        let r = l.finish(&[0, 1, 2, 3], Some(&StopReason::DailyLimit));
        assert_eq!(
            (r[0].outcome, r[0].salesforce_id.as_deref()),
            (Outcome::Created, Some("005R"))
        );
        for x in &r[1..] {
            assert_eq!(x.outcome, Outcome::NotAttempted);
            assert!(
                x.message
                    .as_deref()
                    .unwrap()
                    .contains("daily API request limit")
            );
        }
    }

    #[test]
    fn an_unchecked_lost_answer_is_unknown_never_not_attempted_and_done_follows_the_kind() {
        let mut l = ledger(2, 2).done_as(Outcome::Deactivated);
        let b = l.next_batch();
        l.apply(b[0], ItemFate::Unknown("sent, answer lost".into()));
        l.apply(b[1], created());
        let r = l.finish(&[0, 1], Some(&StopReason::ApiReserve { remaining: 10 }));
        assert_eq!(r[0].outcome, Outcome::Unknown);
        assert_eq!(r[0].error_code.as_deref(), Some("ANSWER_LOST"));
        assert_eq!(r[1].outcome, Outcome::Deactivated);
    }

    #[test]
    fn collisions_keep_the_code_and_say_where() {
        let mut l = ledger(1, 1);
        l.next_batch();
        l.apply(
            0,
            ItemFate::Verdict(RecordVerdict::Collision {
                message: "Duplicate Username.<br>The username already exists".into(),
            }),
        );
        let r = l.finish(&[0], None);
        assert_eq!(r[0].outcome, Outcome::Collision);
        assert_eq!(r[0].error_code.as_deref(), Some("DUPLICATE_USERNAME"));
        assert_eq!(
            r[0].message.as_deref(),
            Some("username taken in another Salesforce org (Salesforce: Duplicate Username.)")
        );
    }

    #[test]
    fn budget() {
        let u = |used, max| Some(ApiUsage { used, max });
        assert_eq!(budget_stop(None, 3, 1000), None);
        assert_eq!(budget_stop(u(100, 15000), 0, 1000), None);
        assert_eq!(budget_stop(u(13999, 15000), 0, 1000), None);
        assert_eq!(
            budget_stop(u(14000, 15000), 0, 1000),
            Some(StopReason::ApiReserve { remaining: 1000 })
        );
        assert_eq!(
            budget_stop(u(13998, 15000), 2, 1000),
            Some(StopReason::ApiReserve { remaining: 1002 })
        );
        assert_eq!(
            budget_stop(u(15000, 15000), 0, 0),
            Some(StopReason::DailyLimit)
        );
        assert_eq!(budget_stop(u(14999, 15000), 0, 0), None);
        assert_eq!(
            budget_stop(u(14999, 15000), 1, 0),
            Some(StopReason::DailyLimit)
        );
        assert_eq!(
            budget_stop(u(15000, 15000), 0, 1000),
            Some(StopReason::DailyLimit)
        );
    }

    proptest! {
        /// Whatever the verdicts, every item ends with exactly one result, and
        /// nothing is sent more than 1 + max_retries times.
        #[test]
        fn every_item_settles_once(n in 1usize..60, batch in 1usize..20, verdicts in proptest::collection::vec(0u8..6, 0..400)) {
            let mut l = ledger(n, batch);
            let mut sends = vec![0u32; n];
            let mut v = verdicts.into_iter().cycle();
            let mut rounds = 0;
            while l.has_pending() && rounds < 10_000 {
                rounds += 1;
                for item in l.next_batch() {
                    sends[item] += 1;
                    let fate = match v.next().unwrap_or(0) {
                        0 => created(),
                        1 => ItemFate::Resend,
                        2 => ItemFate::Verdict(RecordVerdict::RetryLater { code: "UNABLE_TO_LOCK_ROW".into(), message: String::new() }),
                        3 => ItemFate::Verdict(RecordVerdict::Failed { code: "X".into(), message: String::new() }),
                        4 => ItemFate::Recovered("005".into()),
                        _ => ItemFate::Verdict(RecordVerdict::Collision { message: String::new() }),
                    };
                    l.apply(item, fate);
                }
            }
            prop_assert!(!l.has_pending());
            prop_assert!(sends.iter().all(|&s| s <= 3));
            let keys: Vec<usize> = (0..n).collect();
            let r = l.finish(&keys, None);
            prop_assert_eq!(r.len(), n);
            prop_assert!(r.iter().all(|x| x.outcome != Outcome::NotAttempted));
        }
    }
}
