//! The diff: candidates against the org's existing users -> one [`Decision`]
//! per source record. Pure and linear: hash indexes, no nested loops.
//!
//! Match keys are tried in order; the first key whose value finds a user
//! decides the match. A match found through a later key is refused when the
//! user carries a *different* value for an earlier (more stable) key: that
//! user is someone else, and the username is a collision.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::normalize::{Candidate, Invalid};
use crate::report::Outcome;
use crate::salesforce::SfUser;

/// Table hashing: see [`Index`].
type Hasher = foldhash::fast::RandomState;

/// Lower-cased match value -> index of the existing user holding it (the
/// last one, should the org hold a value twice).
type Index<'a> = HashMap<Cow<'a, str>, usize, Hasher>;

/// Builds an [`Index`] over the users' values (`None`: the user has none).
/// Values already in lower case are borrowed, not copied: Salesforce stores
/// usernames in lower case, so a million-user org costs no allocation here.
fn index<'a>(values: impl ExactSizeIterator<Item = Option<&'a str>>) -> Index<'a> {
    let mut map = Index::with_capacity_and_hasher(values.len(), Hasher::default());
    for (i, v) in values.enumerate() {
        if let Some(v) = v {
            map.insert(lower(v), i);
        }
    }
    map
}

/// `s` in lower case, borrowed when it already is.
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

    fn because(mut self, code: &str, message: String) -> Self {
        self.error_code = Some(code.into());
        self.message = Some(message.into());
        self
    }
}

/// The plan: `decisions[i]` is for source record `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub decisions: Vec<Decision>,
}

impl Plan {
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
    candidates: &[Candidate],
    invalid: &[Invalid],
    existing: &'a [SfUser],
    match_keys: &[String],
) -> Plan {
    let mut decisions = vec![Decision::new(Outcome::Invalid); records];
    for bad in invalid {
        decisions[bad.record] =
            Decision::new(Outcome::Invalid).because(bad.code, bad.message.clone());
    }

    let dup = duplicates(candidates, match_keys);
    let by_username: Index<'_> = index(existing.iter().map(|u| Some(&*u.username)));
    // The Username key's index is `by_username` whenever the org's key values
    // are its usernames (as the client reads them): one table of a million
    // entries instead of two.
    let own: Vec<Option<Index<'_>>> = (0..match_keys.len())
        .map(|k| {
            let value = |u: &'a SfUser| u.keys.get(k)?.as_deref();
            let same = existing.iter().all(|u| value(u) == Some(&*u.username));
            (!same).then(|| index(existing.iter().map(value)))
        })
        .collect();
    let by_key: Vec<&Index<'_>> = own
        .iter()
        .map(|o| o.as_ref().unwrap_or(&by_username))
        .collect();

    for (ci, c) in candidates.iter().enumerate() {
        decisions[c.record] = match &dup[ci] {
            Some(message) => Decision::new(Outcome::DuplicateInSource)
                .because("DUPLICATE_IN_SOURCE", message.clone()),
            None => decide(c, existing, &by_username, &by_key, match_keys),
        };
    }
    Plan { decisions }
}

fn decide(
    c: &Candidate,
    existing: &[SfUser],
    by_username: &Index<'_>,
    by_key: &[&Index<'_>],
    match_keys: &[String],
) -> Decision {
    let found = c
        .keys
        .iter()
        .enumerate()
        .find_map(|(k, v)| Some((k, *by_key[k].get(v.as_deref()?)?)));
    let Some((k, ui)) = found else {
        // Username may not be a match key; it still cannot be taken twice.
        return match by_username.get(&*c.username) {
            Some(&ui) => collision(&existing[ui], &c.username, None),
            None => Decision::new(Outcome::Create),
        };
    };
    let user = &existing[ui];
    // A user that carries another value for a more stable key is a different person.
    let earlier = user.keys.iter().zip(c.keys.iter()).zip(match_keys).take(k);
    for ((theirs, ours), key) in earlier {
        if let (Some(theirs), Some(ours)) = (theirs.as_deref(), ours.as_deref())
            && !theirs.eq_ignore_ascii_case(ours)
        {
            return collision(user, &c.username, Some((key, theirs, ours)));
        }
    }
    if !user.is_active {
        return Decision::new(Outcome::Inactive).with_user(user).because(
            "INACTIVE",
            format!("matches inactive user {} by {}; reactivate it in Salesforce if this person should have access", user.username, match_keys[k]),
        );
    }
    let same_username = user.username.eq_ignore_ascii_case(&c.username);
    let previous = user.email.as_deref().unwrap_or("");
    let same_email = previous.eq_ignore_ascii_case(&c.email);
    if same_username && same_email {
        return Decision::new(Outcome::Unchanged).with_user(user);
    }
    let mut what = Vec::new();
    if !same_email {
        what.push(format!("e-mail {previous} -> {}", c.email));
    }
    if !same_username {
        what.push(format!("username {} -> {}", user.username, c.username));
        if let Some(&holder) = by_username.get(&*c.username)
            && existing[holder].id != user.id
        {
            what.push(format!(
                "(the new username is held by {})",
                existing[holder].id
            ));
        }
    }
    let mut d = Decision::new(Outcome::EmailChangeSkipped).with_user(user).because(
        "EMAIL_CHANGE",
        format!(
            "{}; Salesforce confirms e-mail changes with the user, so make this change in Setup",
            what.join(", ")
        ),
    );
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

/// For each candidate, a message when it shares its username (or another
/// match key's value) with another candidate. Every member of a group gets it.
///
/// One pass per key numbers the groups (one hash lookup per candidate, no
/// per-group list), a second pass over plain arrays marks the members.
fn duplicates(candidates: &[Candidate], match_keys: &[String]) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = vec![None; candidates.len()];
    let mut group: Vec<u32> = vec![u32::MAX; candidates.len()];
    let mut mark = |value: &dyn Fn(&Candidate) -> Option<&str>,
                    what: &dyn Fn(&str, usize) -> String| {
        let mut groups: HashMap<&str, u32, Hasher> =
            HashMap::with_capacity_and_hasher(candidates.len(), Hasher::default());
        let mut sizes: Vec<u32> = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            group[i] = match value(c) {
                Some(v) => {
                    let g = *groups.entry(v).or_insert_with(|| {
                        sizes.push(0);
                        (sizes.len() - 1) as u32
                    });
                    sizes[g as usize] += 1;
                    g
                }
                None => u32::MAX,
            };
        }
        for (i, c) in candidates.iter().enumerate() {
            let size = sizes.get(group[i] as usize).copied().unwrap_or(0) as usize;
            if size > 1 {
                let v = value(c).expect("grouped candidates have a value");
                out[i].get_or_insert_with(|| what(v, size));
            }
        }
    };
    mark(&|c| Some(&c.username), &|u, n| {
        format!("{n} source records map to username {u}; none is sent until one remains")
    });
    for (k, key) in match_keys.iter().enumerate() {
        if key == "Username" {
            continue;
        }
        mark(&|c| c.keys[k].as_deref(), &|v, n| {
            format!("{n} source records share {key} {v}; none is sent until one remains")
        });
    }
    out
}

#[cfg(test)]
mod tests;
