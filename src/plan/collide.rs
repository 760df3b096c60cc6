//! Candidate usernames, sandboxes and nicknames (SPEC "Collisions and
//! sandboxes"): a pass over the core plan, run only when the job asks for it
//! (`[collisions]`, `[salesforce] sandbox`, a mapped `CommunityNickname`, or
//! usernames an earlier run learnt are held in another org), so the core
//! planner's hot path stays as it is.
//!
//! Each person has candidate usernames: the mapped one, then each
//! `fallback_usernames` template's (in a sandbox all `.NAME`-suffixed), and,
//! in a sandbox, the same addresses without the suffix, which match but are
//! never created. The pass:
//!
//! - matches a person the core plan would create (or call a collision) to an
//!   org user holding one of their other candidate usernames, when that user
//!   is the same person (a stable match key agrees, or, with none to compare,
//!   the e-mail does): `unchanged`, never a second create;
//! - skips candidate usernames held in this org by someone else, shared with
//!   another source person, or refused as held in another org by an earlier
//!   run; none left is `collision` before any call;
//! - does not call a matched user's username or a sandbox's `.invalid`
//!   e-mail an e-mail change;
//! - checks `CommunityNickname` against the org and within the source.
//!
//! What a create starts with and what it tries next is returned as a
//! [`UsernamePlan`] for the runner, beside the plan.

use std::collections::{HashMap, HashSet};

use super::sandbox::{eq_ci, same_email};
use super::{Decision, NONE, Operation, Plan, PlanOptions, lower};
use crate::normalize::Candidate;
use crate::report::Outcome;
use crate::salesforce::SfUser;

/// One person's other candidate usernames (lower case), besides
/// [`Candidate::username`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherUsernames {
    /// `fallback_usernames` rendered, in order (sandbox-suffixed in a
    /// sandbox): a create may use them.
    pub fallbacks: Vec<Box<str>>,
    /// In a sandbox, the mapped username and the fallbacks without the
    /// suffix: an org user holding one (created in the sandbox) matches, but
    /// nothing is created under them.
    pub plain: Vec<Box<str>>,
}

/// `CommunityNickname`, when the mapping sets it.
#[derive(Debug, Clone)]
pub struct Nicknames {
    /// Where the org users' nickname is in [`SfUser::keys`].
    pub slot: usize,
    /// Per candidate (indexed like the candidates), its nickname.
    pub source: Vec<Option<Box<str>>>,
}

/// What the pass needs besides the plan.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The job targets a sandbox: an org e-mail that is the source's plus
    /// `.invalid` is the same e-mail.
    pub sandbox: bool,
    /// Usernames (lower case) Salesforce refused as held in another org on
    /// an earlier run (the job's state file): never sent again.
    pub refused: HashSet<String>,
    /// `CommunityNickname` values, when the mapping sets it.
    pub nicknames: Option<Nicknames>,
}

impl Rules {
    /// Whether the pass has anything to do for these candidates.
    pub fn active(&self, others: &[OtherUsernames]) -> bool {
        self.sandbox
            || !self.refused.is_empty()
            || self.nicknames.is_some()
            || others.iter().any(|o| !o.fallbacks.is_empty())
    }
}

/// The usernames a create goes through, for records that have a choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chosen {
    /// Sent first (the mapped username unless it was skipped).
    pub send: Box<str>,
    /// Tried next, in order, each in a later batch, when Salesforce answers
    /// DUPLICATE_USERNAME.
    pub next: Vec<Box<str>>,
    /// Refused as held in another org by an earlier run (`username_tried`).
    pub tried: Vec<Box<str>>,
    /// Why usernames before `send` were skipped (held in this org, shared).
    pub note: Option<Box<str>>,
}

/// Per source record with a create that has a choice of usernames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsernamePlan {
    /// Per source record index, the usernames its create goes through.
    pub by_record: HashMap<usize, Chosen>,
    /// Per source record planned as `collision` with usernames refused by
    /// earlier runs among its candidates: those usernames (`username_tried`).
    pub refused: HashMap<usize, Vec<Box<str>>>,
}

/// Runs the pass over `plan` (the core plan of the same inputs). `others`
/// is indexed like `candidates`.
pub fn resolve(
    plan: &mut Plan,
    candidates: &[Candidate],
    existing: &[SfUser],
    match_keys: &[String],
    others: &[OtherUsernames],
    rules: &Rules,
    opts: PlanOptions,
) -> UsernamePlan {
    let mut out = UsernamePlan::default();
    let by_username: HashMap<std::borrow::Cow<'_, str>, usize> = existing
        .iter()
        .enumerate()
        .map(|(i, u)| (lower(&u.username), i))
        .collect();
    // How many people each fallback is a candidate of: one shared is nobody's.
    let mut shared: HashMap<&str, u32> = HashMap::new();
    for (c, o) in candidates.iter().zip(others) {
        let mut mine: Vec<&str> = vec![c.username()];
        for f in &o.fallbacks {
            if !mine.contains(&&**f) {
                mine.push(f);
            }
        }
        for u in mine {
            *shared.entry(u).or_default() += 1;
        }
    }
    let empty = OtherUsernames::default();
    for (ci, c) in candidates.iter().enumerate() {
        let o = others.get(ci).unwrap_or(&empty);
        let d = &mut plan.decisions[c.record];
        match d.outcome {
            Outcome::Create => {}
            Outcome::Collision if d.error_code.as_deref() == Some("USERNAME_HELD_IN_ORG") => {}
            Outcome::EmailChangeSkipped if d.matched != NONE => {
                let user = &existing[d.matched as usize];
                *d = recheck(c, o, user, d.matched, rules.sandbox);
                continue;
            }
            _ => continue,
        }
        // Someone the core plan did not match may hold another of their usernames.
        let mine = o.fallbacks.iter().chain(&o.plain);
        let found = mine
            .filter_map(|u| by_username.get(&**u))
            .find(|&&h| same_person(c, &existing[h], match_keys, rules.sandbox));
        if let Some(&h) = found {
            *d = matched(c, &existing[h], h, opts, rules.sandbox);
            continue;
        }
        if d.outcome == Outcome::Collision && o.fallbacks.is_empty() {
            continue;
        }
        let mut skipped: Vec<String> = Vec::new();
        let mut tried: Vec<Box<str>> = Vec::new();
        let mut left: Vec<Box<str>> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (i, u) in std::iter::once(c.username())
            .chain(o.fallbacks.iter().map(|f| &**f))
            .enumerate()
        {
            // A template that renders a username already listed says nothing new.
            if seen.contains(&u) {
                continue;
            }
            seen.push(u);
            if let Some(&h) = by_username.get(u) {
                skipped.push(format!(
                    "{u} is held in this org by user {}",
                    existing[h].id
                ));
            } else if i > 0 && shared.get(u).is_some_and(|&n| n > 1) {
                skipped.push(format!("{u} is a candidate of another source person too"));
            } else if rules.refused.contains(u) {
                tried.push(u.into());
            } else {
                left.push(u.into());
            }
        }
        let note = (!skipped.is_empty()).then(|| skipped.join("; "));
        if left.is_empty() {
            let taken: Vec<&str> = tried.iter().map(|t| &**t).collect();
            *d = if skipped.is_empty() {
                Decision::new(Outcome::Collision).because(
                    "DUPLICATE_USERNAME",
                    format!(
                        "username {} taken in another Salesforce org (refused by an earlier run; no fallback username left)",
                        taken.join(", ")
                    ),
                )
            } else {
                let mut why = note.clone().unwrap_or_default();
                if !taken.is_empty() {
                    why.push_str(&format!(
                        "; {} taken in another Salesforce org (refused by an earlier run)",
                        taken.join(", ")
                    ));
                }
                // Refused by Salesforce once: the same code as that night.
                let code = if taken.is_empty() {
                    "USERNAME_HELD_IN_ORG"
                } else {
                    "DUPLICATE_USERNAME"
                };
                Decision::new(Outcome::Collision)
                    .because(code, format!("no candidate username is free: {why}"))
            };
            if !tried.is_empty() {
                out.refused.insert(c.record, tried);
            }
            continue;
        }
        let send = left.remove(0);
        if *send != *c.username() || !left.is_empty() || !tried.is_empty() || note.is_some() {
            let mut create = Decision::new(Outcome::Create);
            if *send != *c.username() {
                create = create.noting(format!(
                    "to be created as {send}: {}",
                    note.clone().unwrap_or_else(|| format!(
                        "{} taken in another Salesforce org (refused by an earlier run)",
                        tried.iter().map(|t| &**t).collect::<Vec<_>>().join(", ")
                    ))
                ));
            } else if let (true, Some(why)) = (left.is_empty(), &note) {
                // Every fallback was skipped: said now, not only if Salesforce refuses this one.
                create = create.noting(format!(
                    "no fallback username to try if {send} is taken in another Salesforce org: {why}"
                ));
            }
            *d = create;
            out.by_record.insert(
                c.record,
                Chosen {
                    send,
                    next: left,
                    tried,
                    note: note.map(Into::into),
                },
            );
        } else {
            *d = Decision::new(Outcome::Create);
        }
    }
    if let Some(n) = &rules.nicknames {
        nicknames(plan, candidates, existing, n);
        out.by_record
            .retain(|r, _| plan.decisions[*r].outcome == Outcome::Create);
    }
    rebuild_operations(plan);
    out
}

/// Whether `user` (holding one of `c`'s other usernames) is `c`: the first
/// stable match key both carry agrees; with none to compare, the e-mail does.
fn same_person(c: &Candidate, user: &SfUser, match_keys: &[String], sandbox: bool) -> bool {
    for (k, key) in match_keys.iter().enumerate() {
        if key == "Username" {
            continue;
        }
        if let (Some(ours), Some(Some(theirs))) = (c.key(k), user.keys.get(k)) {
            return eq_ci(ours, theirs);
        }
    }
    user.email
        .as_deref()
        .is_some_and(|e| same_email(e, c.email(), sandbox))
}

/// `c` matched `user` through one of its other candidate usernames.
fn matched(c: &Candidate, user: &SfUser, ui: usize, opts: PlanOptions, sandbox: bool) -> Decision {
    let mut d = if !user.is_active && opts.reactivate {
        Decision::new(Outcome::Reactivate).with_user(user).noting(format!(
            "matches inactive user {} by a candidate username; reactivated because leavers.reactivate = true",
            user.username
        ))
    } else if !user.is_active {
        Decision::new(Outcome::Inactive).with_user(user).noting(format!(
            "matches inactive user {} by a candidate username; reactivate it in Salesforce if this person should have access",
            user.username
        ))
    } else {
        email_decision(c, user, sandbox)
    };
    d.matched = ui as u32;
    d
}

/// A matched active user whose username is one of `c`'s: `unchanged`, or an
/// e-mail change when the e-mail differs (a sandbox's `.invalid` does not).
fn email_decision(c: &Candidate, user: &SfUser, sandbox: bool) -> Decision {
    let previous = user.email.as_deref().unwrap_or("");
    if same_email(previous, c.email(), sandbox) {
        return Decision::new(Outcome::Unchanged).with_user(user);
    }
    let mut d = Decision::new(Outcome::EmailChangeSkipped)
        .with_user(user)
        .noting(format!(
            "e-mail {previous} -> {}; Salesforce confirms e-mail changes with the user, so make this change in Setup",
            c.email()
        ));
    d.previous_email = user.email.clone();
    d
}

/// The core plan called a matched user an e-mail change: with every
/// candidate username and the sandbox's e-mail rule, it may not be one.
fn recheck(c: &Candidate, o: &OtherUsernames, user: &SfUser, ui: u32, sandbox: bool) -> Decision {
    let username_ok = std::iter::once(c.username())
        .chain(o.fallbacks.iter().map(|f| &**f))
        .chain(o.plain.iter().map(|p| &**p))
        .any(|u| eq_ci(u, &user.username));
    let email_ok = same_email(user.email.as_deref().unwrap_or(""), c.email(), sandbox);
    let mut d = match (username_ok, email_ok) {
        (true, _) => email_decision(c, user, sandbox),
        (false, true) => {
            // Only the username differs: say so without an e-mail line.
            Decision::new(Outcome::EmailChangeSkipped).with_user(user).noting(format!(
                "username {} -> {}; Salesforce confirms e-mail changes with the user, so make this change in Setup",
                user.username,
                c.username()
            ))
        }
        (false, false) => {
            let previous = user.email.as_deref().unwrap_or("");
            Decision::new(Outcome::EmailChangeSkipped).with_user(user).noting(format!(
                "e-mail {previous} -> {}, username {} -> {}; Salesforce confirms e-mail changes with the user, so make this change in Setup",
                c.email(),
                user.username,
                c.username()
            ))
        }
    };
    if d.outcome == Outcome::EmailChangeSkipped {
        d.previous_email = user.email.clone();
    }
    d.matched = ui;
    d
}

/// `CommunityNickname` is unique in the org: shared within the source is
/// `duplicate_in_source` (for all who share it), held by an org user is a
/// `collision` for a create. Compared without case.
fn nicknames(plan: &mut Plan, candidates: &[Candidate], existing: &[SfUser], n: &Nicknames) {
    let org: HashMap<std::borrow::Cow<'_, str>, usize> = existing
        .iter()
        .enumerate()
        .filter_map(|(i, u)| Some((lower(u.keys.get(n.slot)?.as_deref()?), i)))
        .collect();
    let mut count: HashMap<std::borrow::Cow<'_, str>, u32> = HashMap::new();
    for v in n.source.iter().flatten() {
        *count.entry(lower(v)).or_default() += 1;
    }
    for (ci, c) in candidates.iter().enumerate() {
        let Some(Some(nick)) = n.source.get(ci) else {
            continue;
        };
        let d = &mut plan.decisions[c.record];
        let key = lower(nick);
        let shared = count.get(&key).copied().unwrap_or(0);
        if shared > 1 && d.outcome != Outcome::Invalid {
            *d = Decision::new(Outcome::DuplicateInSource).because(
                "DUPLICATE_IN_SOURCE",
                format!("{shared} source records share CommunityNickname {nick}; none is sent until one remains"),
            );
        } else if d.outcome == Outcome::Create
            && let Some(&h) = org.get(&key)
        {
            *d = Decision::new(Outcome::Collision).with_user(&existing[h]).because(
                "DUPLICATE_COMM_NICKNAME",
                format!(
                    "CommunityNickname {nick} is held in this org by user {} ({}); map another nickname",
                    existing[h].id, existing[h].username
                ),
            );
        }
    }
}

/// Creates and reactivations follow the decisions again (the pass may have
/// turned a create into a match or a collision, or a collision into a
/// create); other operations stay, in SPEC's phase order.
fn rebuild_operations(plan: &mut Plan) {
    let decisions = &plan.decisions;
    plan.operations.retain(|op| match op {
        Operation::Create { record } => decisions[*record].outcome == Outcome::Create,
        Operation::Reactivate { record, .. } => decisions[*record].outcome == Outcome::Reactivate,
        _ => true,
    });
    let have: HashSet<(u8, usize)> = plan
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::Create { record } => Some((0, *record)),
            Operation::Reactivate { record, .. } => Some((2, *record)),
            _ => None,
        })
        .collect();
    for (record, d) in plan.decisions.iter().enumerate() {
        let op = match d.outcome {
            Outcome::Create if !have.contains(&(0, record)) => Operation::Create { record },
            Outcome::Reactivate if !have.contains(&(2, record)) => Operation::Reactivate {
                record,
                changes: Box::default(),
            },
            _ => continue,
        };
        plan.operations.push(op);
    }
    // Stable: within a phase, records keep source order.
    plan.operations.sort_by_key(|op| {
        let record = match op {
            Operation::Create { record } | Operation::Reactivate { record, .. } => *record,
            _ => usize::MAX,
        };
        (op.phase(), record)
    });
}

#[cfg(test)]
mod tests;
