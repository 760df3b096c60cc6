//! The diff: candidates against the org's existing users -> one [`Decision`]
//! per source record, and the writes as a list of typed [`Operation`]s (in
//! SPEC's order: creates, updates, reactivations, leavers). Pure and linear:
//! hash indexes, no nested loops.
//!
//! [`plan`] decides creates and (with [`PlanOptions::reactivate`])
//! reactivations; [`lifecycle`] adds the opt-in passes: updates (a diff of
//! `[update] fields`) and leavers (org users in scope that no record maps to).
//!
//! Each value space (usernames, and each match key's values) gets one hash
//! table holding the org's values and the candidates' together, so one pass
//! answers both "who in the org holds this value" and "how many candidates
//! share it". The tables are independent, so they are built on scoped
//! threads, one per table (a 1,000,000 x 1,000,000 plan is two tables of a
//! couple of million entries each; see BENCHMARKS.md).
//!
//! Match keys are tried in order; the first key whose value finds a user
//! decides the match. A match found through a later key is refused when the
//! user carries a *different* value for an earlier (more stable) key: that
//! user is someone else, and the username is a collision. A person with no
//! value for any match key (keys that leave out Username) is found by
//! username instead: nothing else names them.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::normalize::{Candidate, Invalid};
use crate::report::Outcome;
use crate::salesforce::SfUser;

/// Table hashing. foldhash, not std's SipHash: the tables hash millions of
/// short strings and SipHash was a fifth of the planner's time. Its seed is
/// random per process, and keys come from the company directory and the org
/// (not from the internet), so crafted collisions are not a practical attack.
type Hasher = foldhash::fast::RandomState;

/// "Nobody" / "no group" in the `u32` index columns below.
const NONE: u32 = u32::MAX;

/// What one value space says about each candidate (columns, indexed like
/// the candidates).
#[derive(Debug)]
struct Lookup {
    /// The existing user holding the candidate's value (the last one, should
    /// the org hold a value twice), or [`NONE`].
    holder: Vec<u32>,
    /// How many candidates carry the candidate's value (0: it has none).
    shared: Vec<u32>,
}

impl Lookup {
    fn holder(&self, ci: usize) -> Option<usize> {
        let u = self.holder[ci];
        (u != NONE).then_some(u as usize)
    }
}

/// One table entry: the user holding the value and the candidates' group.
#[derive(Clone, Copy)]
struct Slot {
    user: u32,
    group: u32,
}

/// Runs the org's values (lower-cased here) and then the candidates' values
/// (already lower case) through one table.
fn lookup<'a>(
    users: impl Iterator<Item = Option<&'a str>>,
    candidates: &'a [Candidate],
    value: impl Fn(&'a Candidate) -> Option<&'a str>,
) -> Lookup {
    let empty = Slot {
        user: NONE,
        group: NONE,
    };
    let mut table: HashMap<Cow<'a, str>, Slot, Hasher> = HashMap::with_capacity_and_hasher(
        users.size_hint().0.max(candidates.len()),
        Hasher::default(),
    );
    for (i, v) in users.enumerate() {
        if let Some(v) = v {
            table.entry(lower(v)).or_insert(empty).user = i as u32;
        }
    }
    let mut holder = Vec::with_capacity(candidates.len());
    let mut group = Vec::with_capacity(candidates.len());
    let mut sizes: Vec<u32> = Vec::new();
    for c in candidates {
        let Some(v) = value(c) else {
            holder.push(NONE);
            group.push(NONE);
            continue;
        };
        let slot = table.entry(Cow::Borrowed(v)).or_insert(empty);
        if slot.group == NONE {
            slot.group = sizes.len() as u32;
            sizes.push(0);
        }
        sizes[slot.group as usize] += 1;
        holder.push(slot.user);
        group.push(slot.group);
    }
    let shared = group
        .into_iter()
        .map(|g| if g == NONE { 0 } else { sizes[g as usize] })
        .collect();
    Lookup { holder, shared }
}

/// `s` in lower case, borrowed when it already is: Salesforce stores
/// usernames in lower case, so a big org costs no allocation here.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// What the plan decided for one source record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Index (into the planner's `existing`) of the user this record matched
    /// (unchanged, e-mail change, inactive, reactivate, update); [`NONE`] otherwise.
    pub matched: u32,
    /// The matched (or blocking) Salesforce user.
    pub salesforce_id: Option<Box<str>>,
    pub previous_email: Option<Box<str>>,
    pub error_code: Option<Box<str>>,
    pub message: Option<Box<str>>,
}

impl Decision {
    fn new(outcome: Outcome) -> Self {
        Decision {
            outcome,
            matched: NONE,
            salesforce_id: None,
            previous_email: None,
            error_code: None,
            message: None,
        }
    }

    fn with_user(mut self, user: &SfUser) -> Self {
        self.salesforce_id = Some(user.id.clone());
        self
    }

    /// An informational outcome: a message for the reader, no error code.
    fn noting(mut self, message: String) -> Self {
        self.message = Some(message.into());
        self
    }

    fn because(mut self, code: &str, message: String) -> Self {
        self.error_code = Some(code.into());
        self.message = Some(message.into());
        self
    }
}

/// One field an update changes: the org's value and the source's (`None`: empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The field's API name, shared by every change of that field.
    pub field: std::sync::Arc<str>,
    pub from: Option<Box<str>>,
    pub to: Option<Box<str>>,
}

/// One write the plan asks for: a plain value the executor runs and the
/// report shows. Records are source record indexes; leavers index
/// [`Plan::leavers`]. New kinds (an assignment, a create under another
/// username) are new variants here and a kind module in `execute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Create {
        record: usize,
    },
    /// Only the fields that differ.
    Update {
        record: usize,
        changes: Box<[Change]>,
    },
    /// PATCH `IsActive = true` of the matched inactive user, with the
    /// `[update] fields` that differ (none without `[update]`).
    Reactivate {
        record: usize,
        changes: Box<[Change]>,
    },
    /// PATCH `IsActive = false`.
    Deactivate {
        leaver: usize,
    },
    /// PATCH `UserLogin.IsFrozen = true`.
    Freeze {
        leaver: usize,
    },
    /// PATCH `ManagerId` of a user created in this run whose manager is
    /// created in this run too (`manager`: the manager's source record).
    LinkManager {
        record: usize,
        manager: usize,
    },
    /// Insert a `PermissionSetAssignment` (a permission set or a permission
    /// set group: [`access::Resolved::targets`]`[target]`).
    AssignPermissionSet {
        record: usize,
        target: u32,
    },
    /// Insert a `GroupMember` of a public group.
    AddToGroup {
        record: usize,
        target: u32,
    },
}

impl Operation {
    /// SPEC's write order: creates, updates, reactivations, then leavers, so a
    /// run that stops early never removed access before granting it.
    /// Access (issue 17) follows the creates: the new users' Ids are known then.
    pub fn phase(&self) -> u8 {
        match self {
            Operation::Create { .. } => 0,
            Operation::LinkManager { .. } => 1,
            Operation::AssignPermissionSet { .. } => 2,
            Operation::AddToGroup { .. } => 3,
            Operation::Update { .. } => Self::UPDATE_PHASE,
            Operation::Reactivate { .. } => 5,
            Operation::Deactivate { .. } | Operation::Freeze { .. } => 6,
        }
    }

    /// The last [`Operation::phase`].
    pub const LAST_PHASE: u8 = 6;

    /// [`Operation::Update`]'s phase: after the creates and their access,
    /// before reactivations and leavers.
    pub const UPDATE_PHASE: u8 = 4;

    /// An access write (manager link, assignment, membership): its person
    /// keeps the outcome of the create or match it follows.
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            Operation::LinkManager { .. }
                | Operation::AssignPermissionSet { .. }
                | Operation::AddToGroup { .. }
        )
    }
}

/// An org user no source record maps to, inside `[leavers] scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaver {
    /// Id, username and e-mail (no `keys`).
    pub user: SfUser,
    /// `leaver`, `deactivate` or `freeze` (then what the run did). Its
    /// `message` is set only by the run: see [`Leaver::message`].
    pub decision: Decision,
}

impl Leaver {
    /// The report's message: what the run said, else
    /// [`lifecycle::LEAVER_REASON`].
    pub fn message(&self) -> &str {
        self.decision
            .message
            .as_deref()
            .unwrap_or(lifecycle::LEAVER_REASON)
    }
}

/// Choices the core pass needs from the job's lifecycle sections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// `[leavers] reactivate = true`: a match on an inactive user is `reactivate`, not `inactive`.
    pub reactivate: bool,
}

/// The plan: `decisions[i]` is for source record `i`; `operations` are the
/// writes in SPEC's order; `leavers` the org users without a record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub decisions: Vec<Decision>,
    pub operations: Vec<Operation>,
    pub leavers: Vec<Leaver>,
    /// Active users inside `[leavers] scope` (the fraction guard's denominator).
    pub in_scope: u64,
    /// `[access]`: what each person is granted ([`access`]).
    pub access: access::AccessPlan,
}

impl Plan {
    /// Planned operations of one phase ([`Operation::phase`]), in order.
    pub fn operations_in(&self, phase: u8) -> impl Iterator<Item = &Operation> + '_ {
        self.operations.iter().filter(move |o| o.phase() == phase)
    }

    /// How many planned operations have this outcome's kind (dry-run names).
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.operations
            .iter()
            .filter(|o| match o {
                Operation::Create { .. } => outcome == Outcome::Create,
                Operation::Update { .. } => outcome == Outcome::Update,
                Operation::Reactivate { .. } => outcome == Outcome::Reactivate,
                Operation::Deactivate { .. } => outcome == Outcome::Deactivate,
                Operation::Freeze { .. } => outcome == Outcome::Freeze,
                Operation::LinkManager { .. }
                | Operation::AssignPermissionSet { .. }
                | Operation::AddToGroup { .. } => false,
            })
            .count() as u64
    }

    /// Source record indexes the plan would create, in source order.
    pub fn creates(&self) -> impl Iterator<Item = usize> + '_ {
        self.decisions
            .iter()
            .enumerate()
            .filter(|(_, d)| d.outcome == Outcome::Create)
            .map(|(i, _)| i)
    }
}

/// Plans `records` source records given their candidates and invalid ones.
/// `match_keys` names the fields behind `Candidate::keys` / `SfUser::keys`
/// (for messages); `Username` must be one of them or it is checked anyway.
pub fn plan<'a>(
    records: usize,
    candidates: &'a [Candidate],
    invalid: &[Invalid],
    existing: &'a [SfUser],
    match_keys: &[String],
) -> Plan {
    plan_with(
        records,
        candidates,
        invalid,
        existing,
        match_keys,
        PlanOptions::default(),
    )
}

/// [`plan`] with the lifecycle choices of the core pass. `existing[i].keys`
/// may hold more values than `match_keys` (a mapped `CommunityNickname`
/// follows them).
pub fn plan_with<'a>(
    records: usize,
    candidates: &'a [Candidate],
    invalid: &[Invalid],
    existing: &'a [SfUser],
    match_keys: &[String],
    opts: PlanOptions,
) -> Plan {
    // Username's slot in `keys` holds the username on both sides (the client
    // and the normalizer fill it so): the username table answers for it.
    let key_value = |k: usize| move |c: &'a Candidate| c.key(k);
    let user_value = |k: usize| move |u: &'a SfUser| u.keys.get(k)?.as_deref();
    debug_assert!(match_keys.iter().enumerate().all(|(k, key)| {
        key != "Username"
            || (existing
                .iter()
                .all(|u| user_value(k)(u) == Some(&*u.username))
                && candidates
                    .iter()
                    .all(|c| key_value(k)(c) == Some(c.username())))
    }));
    let (decisions, by_username, own) = std::thread::scope(|scope| {
        let usernames = scope.spawn(|| {
            lookup(
                existing.iter().map(|u| Some(&*u.username)),
                candidates,
                |c| Some(c.username()),
            )
        });
        let keys: Vec<_> = match_keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                (key != "Username").then(|| {
                    scope.spawn(move || {
                        lookup(existing.iter().map(user_value(k)), candidates, key_value(k))
                    })
                })
            })
            .collect();
        // Meanwhile, this thread lays out the decisions.
        let mut decisions = vec![Decision::new(Outcome::Invalid); records];
        for bad in invalid {
            decisions[bad.record] =
                Decision::new(Outcome::Invalid).because(bad.code, bad.message.clone());
        }
        fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        }
        let own: Vec<Option<Lookup>> = keys.into_iter().map(|h| h.map(join)).collect();
        (decisions, join(usernames), own)
    });
    let by_key: Vec<&Lookup> = own
        .iter()
        .map(|o| o.as_ref().unwrap_or(&by_username))
        .collect();

    let mut decisions = decisions;
    for (ci, c) in candidates.iter().enumerate() {
        decisions[c.record] = match duplicate(ci, c, &by_username, &by_key, match_keys) {
            Some(message) => {
                Decision::new(Outcome::DuplicateInSource).because("DUPLICATE_IN_SOURCE", message)
            }
            None => decide(ci, c, existing, &by_username, &by_key, match_keys, opts),
        };
    }
    let operations = decisions
        .iter()
        .enumerate()
        .filter_map(|(record, d)| match d.outcome {
            Outcome::Create => Some(Operation::Create { record }),
            _ => None,
        })
        .chain(
            decisions
                .iter()
                .enumerate()
                .filter(|(_, d)| d.outcome == Outcome::Reactivate)
                .map(|(record, _)| Operation::Reactivate {
                    record,
                    changes: Box::default(),
                }),
        )
        .collect();
    Plan {
        decisions,
        operations,
        leavers: Vec::new(),
        in_scope: 0,
        access: access::AccessPlan::default(),
    }
}

fn decide(
    ci: usize,
    c: &Candidate,
    existing: &[SfUser],
    by_username: &Lookup,
    by_key: &[&Lookup],
    match_keys: &[String],
    opts: PlanOptions,
) -> Decision {
    let found = by_key
        .iter()
        .enumerate()
        .find_map(|(k, l)| Some((k, l.holder(ci)?)));
    let Some((k, ui)) = found else {
        // Username may not be a match key; it still cannot be taken twice.
        return match by_username.holder(ci) {
            // No value for any match key: the username is all that names
            // this person (it compares case-insensitively, SPEC), so its
            // holder is them, as if Username were the last key. Otherwise
            // the person this run created would be a collision on the next.
            Some(ui) if (0..match_keys.len()).all(|k| c.key(k).is_none()) => {
                let mut d = decide_matched(
                    c,
                    &existing[ui],
                    ci,
                    existing,
                    by_username,
                    "Username",
                    opts,
                );
                d.matched = ui as u32;
                d
            }
            Some(ui) => collision(&existing[ui], c.username(), None),
            None => Decision::new(Outcome::Create),
        };
    };
    let user = &existing[ui];
    // A user that carries another value for a more stable key is a different person.
    let earlier = user
        .keys
        .iter()
        .zip((0..).map(|i| c.key(i)))
        .zip(match_keys)
        .take(k);
    for ((theirs, ours), key) in earlier {
        if let (Some(theirs), Some(ours)) = (theirs.as_deref(), ours)
            && !theirs.eq_ignore_ascii_case(ours)
        {
            return collision(user, c.username(), Some((key, theirs, ours)));
        }
    }
    let mut d = decide_matched(c, user, ci, existing, by_username, &match_keys[k], opts);
    d.matched = ui as u32;
    d
}

fn decide_matched(
    c: &Candidate,
    user: &SfUser,
    ci: usize,
    existing: &[SfUser],
    by_username: &Lookup,
    key: &str,
    opts: PlanOptions,
) -> Decision {
    if !user.is_active && opts.reactivate {
        return Decision::new(Outcome::Reactivate)
            .with_user(user)
            .noting(format!(
                "matches inactive user {} by {key}; reactivated because leavers.reactivate = true",
                user.username
            ));
    }
    if !user.is_active {
        return Decision::new(Outcome::Inactive).with_user(user).noting(
            format!("matches inactive user {} by {}; reactivate it in Salesforce if this person should have access", user.username, key),
        );
    }
    let same_username = user.username.eq_ignore_ascii_case(c.username());
    let previous = user.email.as_deref().unwrap_or("");
    let same_email = previous.eq_ignore_ascii_case(c.email());
    if same_username && same_email {
        return Decision::new(Outcome::Unchanged).with_user(user);
    }
    let mut what = Vec::new();
    if !same_email {
        what.push(format!("e-mail {previous} -> {}", c.email()));
    }
    if !same_username {
        what.push(format!("username {} -> {}", user.username, c.username()));
        if let Some(holder) = by_username.holder(ci)
            && existing[holder].id != user.id
        {
            what.push(format!(
                "(the new username is held by {})",
                existing[holder].id
            ));
        }
    }
    let mut d = Decision::new(Outcome::EmailChangeSkipped)
        .with_user(user)
        .noting(format!(
            "{}; Salesforce confirms e-mail changes with the user, so make this change in Setup",
            what.join(", ")
        ));
    d.previous_email = user.email.clone();
    d
}

fn collision(holder: &SfUser, username: &str, stable: Option<(&str, &str, &str)>) -> Decision {
    let why = match stable {
        Some((key, theirs, ours)) => {
            format!(" whose {key} is {theirs}, not {ours}: a different person")
        }
        None => String::new(),
    };
    // Not DUPLICATE_USERNAME: that code means another org holds it (Salesforce's answer).
    Decision::new(Outcome::Collision).with_user(holder).because(
        "USERNAME_HELD_IN_ORG",
        format!(
            "username {username} is held in this org by user {}{why}",
            holder.id
        ),
    )
}

/// A message when candidate `ci` shares its username (or another match
/// key's value) with another candidate. Every member of a group gets it.
fn duplicate(
    ci: usize,
    c: &Candidate,
    by_username: &Lookup,
    by_key: &[&Lookup],
    match_keys: &[String],
) -> Option<String> {
    let n = by_username.shared[ci];
    if n > 1 {
        return Some(format!(
            "{n} source records map to username {}; none is sent until one remains",
            c.username()
        ));
    }
    let shared = match_keys
        .iter()
        .zip(by_key)
        .zip((0..).map(|i| c.key(i)))
        .filter(|((key, _), _)| *key != "Username");
    for ((key, lookup), value) in shared {
        let n = lookup.shared[ci];
        if let (true, Some(v)) = (n > 1, value) {
            return Some(format!(
                "{n} source records share {key} {v}; none is sent until one remains"
            ));
        }
    }
    None
}

pub mod access;
pub mod collide;
pub mod lifecycle;
pub mod sandbox;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
