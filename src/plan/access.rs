//! Access on create (SPEC "Access on create"): per person, what `[access]`
//! and its rules grant, and the writes that grant it. Pure.
//!
//! Two passes, because what a matched user already holds is read from the
//! org in between (only with `apply_to_existing = true`):
//! 1. [`decide`]: per created person (and, with `apply_to_existing`, per
//!    matched active user) the permission sets, permission set groups and
//!    public groups the job grants, the role and profile of the create
//!    record, and the manager link;
//! 2. [`add_operations`]: one [`Operation`] per grant not already held
//!    ([`Operation::AssignPermissionSet`], [`Operation::AddToGroup`]), and a
//!    [`Operation::LinkManager`] for a manager created in the same run.
//!
//! Nothing is ever removed: a grant the org holds is left alone, one the job
//! no longer names is not taken away.

use std::collections::{HashMap, HashSet};

use super::{Operation, Plan};
use crate::job::access::{AccessConfig, Grants};
use crate::normalize::Candidate;
use crate::report::Outcome;
use crate::salesforce::SfUser;

/// The three kinds of grant that are records of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantKind {
    /// A `PermissionSetAssignment` with `PermissionSetId`.
    PermissionSet,
    /// A `PermissionSetAssignment` with `PermissionSetGroupId`.
    PermissionSetGroup,
    /// A `GroupMember` of a public group.
    Group,
}

impl GrantKind {
    /// The prefix of the report's `access` entries: `PermissionSet:Sales_User`,
    /// `PermissionSetGroup:Sales_Bundle`, `Group:Sales_Team` (and `Role:` for the role).
    pub fn prefix(self) -> &'static str {
        match self {
            GrantKind::PermissionSet => "PermissionSet",
            GrantKind::PermissionSetGroup => "PermissionSetGroup",
            GrantKind::Group => "Group",
        }
    }
}

/// One permission set, permission set group or public group, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: GrantKind,
    /// As the job names it.
    pub name: String,
    /// The org's Id.
    pub id: String,
}

/// The org's Ids for every name an `[access]` section uses (resolved once
/// per run, one query per kind). Names compare ignoring case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub targets: Vec<Target>,
    /// `(UserRole.DeveloperName as the job names it, Id)`.
    pub roles: Vec<(String, String)>,
    /// Rule profiles: `(Profile.Name as the job names it, Id)`.
    pub profiles: Vec<(String, String)>,
}

impl Resolved {
    fn target(&self, kind: GrantKind, name: &str) -> Option<u32> {
        self.targets
            .iter()
            .position(|t| t.kind == kind && t.name.eq_ignore_ascii_case(name))
            .map(|i| i as u32)
    }

    fn role(&self, name: &str) -> Option<u32> {
        self.roles
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|i| i as u32)
    }

    fn profile(&self, name: &str) -> Option<u32> {
        self.profiles
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|i| i as u32)
    }
}

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Planned (a dry run's answer), or not reached by a run that stopped.
    Planned,
    /// Inserted (or found already there after a lost answer).
    Granted,
    /// Salesforce refused it (the person's `error_code` and `message` say why).
    Failed,
    /// Not sent: the person's create did not succeed.
    Skipped,
}

/// The manager link of a person being created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// No `[access] manager`, or the template gave nothing.
    None,
    /// The manager is an org user: `ManagerId` goes in the create record.
    Existing(Box<str>),
    /// The manager is created in this run (this source record): a PATCH after the creates.
    InRun(usize),
    /// No org user and no one created in this run has this username.
    Unknown(Box<str>),
}

/// What the job gives one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonAccess {
    /// Indexes into [`Resolved::targets`], with where each stands.
    pub grants: Vec<(u32, Fate)>,
    /// Index into [`Resolved::roles`] (creates only: `UserRoleId`).
    pub role: Option<u32>,
    /// Index into [`Resolved::profiles`]: the first matching rule's profile (creates only).
    pub profile: Option<u32>,
    pub manager: Manager,
    /// An access write for this person was refused (`access_failed`).
    pub failed: bool,
}

/// The access part of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPlan {
    pub resolved: Resolved,
    /// Per source record (empty without `[access]`).
    pub people: Vec<Option<Box<PersonAccess>>>,
}

impl AccessPlan {
    /// The person's access, if the job gives them any.
    pub fn person(&self, record: usize) -> Option<&PersonAccess> {
        self.people.get(record)?.as_deref()
    }

    fn person_mut(&mut self, record: usize) -> Option<&mut PersonAccess> {
        self.people.get_mut(record)?.as_deref_mut()
    }

    /// Notes that an access write of this person was refused.
    pub fn mark_failed(&mut self, record: usize) {
        if let Some(p) = self.person_mut(record) {
            p.failed = true;
        }
    }

    /// Whether an access write of this person was refused (`access_failed`).
    pub fn failed(&self, record: usize) -> bool {
        self.person(record).is_some_and(|p| p.failed)
    }

    /// Sets where a grant stands.
    pub fn set_fate(&mut self, record: usize, target: u32, fate: Fate) {
        if let Some(p) = self.person_mut(record)
            && let Some(slot) = p.grants.iter_mut().find(|(t, _)| *t == target)
        {
            slot.1 = fate;
        }
    }

    /// The report's `access` list of one person: with `planned`, what would
    /// be granted (a dry run); otherwise what was granted. The role is listed
    /// when the create record carries it (`created`, or `create` planned).
    /// `None` when there is nothing to list.
    pub fn listed(&self, record: usize, outcome: Outcome, planned: bool) -> Option<Vec<String>> {
        let p = self.person(record)?;
        let mut out = Vec::new();
        let create = matches!(outcome, Outcome::Create | Outcome::Created);
        if create && let Some(r) = p.role {
            out.push(format!("Role:{}", self.resolved.roles[r as usize].0));
        }
        for &(t, fate) in &p.grants {
            let show = if planned {
                fate == Fate::Planned
            } else {
                fate == Fate::Granted
            };
            if show {
                let t = &self.resolved.targets[t as usize];
                out.push(format!("{}:{}", t.kind.prefix(), t.name));
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The role and profile Ids a create record carries (`UserRoleId`, the
    /// rule's `ProfileId`), and an org manager's `ManagerId`.
    pub fn create_fields(&self, record: usize) -> CreateFields<'_> {
        let Some(p) = self.person(record) else {
            return CreateFields::default();
        };
        CreateFields {
            role_id: p.role.map(|r| self.resolved.roles[r as usize].1.as_str()),
            profile_id: p
                .profile
                .map(|r| self.resolved.profiles[r as usize].1.as_str()),
            manager_id: match &p.manager {
                Manager::Existing(id) => Some(id),
                _ => None,
            },
        }
    }
}

/// Fields [`AccessPlan::create_fields`] adds to (or replaces in) a create record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreateFields<'a> {
    pub role_id: Option<&'a str>,
    pub profile_id: Option<&'a str>,
    pub manager_id: Option<&'a str>,
}

/// What [`decide`] reads besides the plan.
pub struct Inputs<'a, V, M> {
    pub config: &'a AccessConfig,
    pub resolved: Resolved,
    pub candidates: &'a [Candidate],
    /// The org's users (managers are looked up among them by username).
    pub existing: &'a [SfUser],
    /// A record's value of a job attribute (index into `Job::attributes`).
    pub value: V,
    /// A record's manager username (the `[access] manager` template), lower case.
    pub manager: M,
    /// `[salesforce] sandbox`: a manager is looked up under the username the
    /// sandbox holds (`address.NAME`, as the people created in it are), then
    /// as written (a user created in the sandbox by hand), SPEC "Collisions
    /// and sandboxes".
    pub sandbox: Option<&'a str>,
}

/// The manager named `name` (lower case): an org user, or a person this run
/// creates; in sandbox `sandbox` first under `name.sandbox` (unless `name`
/// already ends so), then as written. Unknown names the username looked for
/// first.
fn find_manager(
    name: &str,
    sandbox: Option<&str>,
    org: &HashMap<String, &SfUser>,
    created: &HashMap<&str, usize>,
) -> Manager {
    let in_sandbox = sandbox
        .filter(|s| super::sandbox::plain(name, s).is_none())
        .map(|s| super::sandbox::suffixed(name, s));
    for n in in_sandbox.as_deref().into_iter().chain([name]) {
        if let Some(u) = org.get(n) {
            return Manager::Existing(u.id.clone());
        }
        if let Some(&r) = created.get(n) {
            return Manager::InRun(r);
        }
    }
    Manager::Unknown(in_sandbox.as_deref().unwrap_or(name).into())
}

/// Whether any value of the attribute (several are joined with the
/// config's separator) passes the rule's test.
fn rule_matches(config: &AccessConfig, test: &crate::job::access::RuleTest, value: &str) -> bool {
    value
        .split(config.separator)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .any(|v| test.test(v))
}

/// Pass 1: per created person (and matched active user with
/// `apply_to_existing`), what the job grants. Every grant starts [`Fate::Planned`].
pub fn decide<'a, V, M>(plan: &mut Plan, inputs: Inputs<'a, V, M>)
where
    V: Fn(usize, usize) -> Option<&'a str>,
    M: Fn(usize) -> Option<String>,
{
    let cfg = inputs.config;
    let resolved = inputs.resolved;
    let mut people: Vec<Option<Box<PersonAccess>>> = vec![None; plan.decisions.len()];
    let wants_manager = cfg.manager.is_some();
    let org_by_username: HashMap<String, &SfUser> = if wants_manager {
        inputs
            .existing
            .iter()
            .map(|u| (u.username.to_lowercase(), u))
            .collect()
    } else {
        HashMap::new()
    };
    let created_by_username: HashMap<&str, usize> = if wants_manager {
        inputs
            .candidates
            .iter()
            .filter(|c| plan.decisions[c.record].outcome == Outcome::Create)
            .map(|c| (c.username(), c.record))
            .collect()
    } else {
        HashMap::new()
    };
    for (record, d) in plan.decisions.iter().enumerate() {
        let create = d.outcome == Outcome::Create;
        let existing = cfg.apply_to_existing
            && matches!(
                d.outcome,
                Outcome::Unchanged
                    | Outcome::EmailChangeSkipped
                    | Outcome::Update
                    | Outcome::Reactivate
            );
        if !(create || existing) {
            continue;
        }
        let mut grants: Vec<(u32, Fate)> = Vec::new();
        let mut role = cfg.grants.role.as_deref().and_then(|r| resolved.role(r));
        let mut profile = None;
        let mut rule_role = None;
        let mut add = |g: &Grants| {
            let all = g
                .permission_sets
                .iter()
                .map(|n| (GrantKind::PermissionSet, n))
                .chain(
                    g.permission_set_groups
                        .iter()
                        .map(|n| (GrantKind::PermissionSetGroup, n)),
                )
                .chain(g.public_groups.iter().map(|n| (GrantKind::Group, n)));
            for (kind, name) in all {
                if let Some(t) = resolved.target(kind, name)
                    && !grants.iter().any(|(have, _)| *have == t)
                {
                    grants.push((t, Fate::Planned));
                }
            }
        };
        add(&cfg.grants);
        for rule in &cfg.rules {
            let Some(v) = (inputs.value)(record, rule.attribute) else {
                continue;
            };
            if !rule_matches(cfg, &rule.test, v) {
                continue;
            }
            add(&rule.grants);
            if profile.is_none() {
                profile = rule.profile.as_deref().and_then(|p| resolved.profile(p));
            }
            if rule_role.is_none() {
                rule_role = rule.grants.role.as_deref().and_then(|r| resolved.role(r));
            }
        }
        role = rule_role.or(role);
        let manager = match (create, (inputs.manager)(record)) {
            (true, Some(name)) => find_manager(
                &name,
                inputs.sandbox,
                &org_by_username,
                &created_by_username,
            ),
            _ => Manager::None,
        };
        if !create {
            // A matched user keeps their role, profile and manager.
            role = None;
            profile = None;
        }
        if grants.is_empty() && role.is_none() && profile.is_none() && manager == Manager::None {
            continue;
        }
        people[record] = Some(Box::new(PersonAccess {
            grants,
            role,
            profile,
            manager,
            failed: false,
        }));
    }
    plan.access = AccessPlan { resolved, people };
}

/// The matched users whose grants depend on what they already hold: their
/// Salesforce Ids (read what they hold with one query per kind, then call
/// [`add_operations`]).
pub fn matched_users_to_read(plan: &Plan) -> Vec<String> {
    plan.decisions
        .iter()
        .enumerate()
        .filter(|(i, d)| {
            d.outcome != Outcome::Create
                && plan.access.person(*i).is_some_and(|p| !p.grants.is_empty())
        })
        .filter_map(|(_, d)| d.salesforce_id.as_deref().map(str::to_owned))
        .collect()
}

/// The first 15 characters of an Id: 15- and 18-character forms compare alike.
pub fn id15(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

/// Pass 2: the operations. `held` holds `(user Id, target Id)` pairs (15
/// characters each, [`id15`]) the org already has; those are dropped from the
/// person's grants (never sent, never listed). Assignments follow the
/// creates ([`Operation::phase`]).
pub fn add_operations(plan: &mut Plan, held: &HashSet<(String, String)>) {
    let mut ops = Vec::new();
    let mut managers = Vec::new();
    for record in 0..plan.access.people.len() {
        let user_id = plan.decisions[record].salesforce_id.clone();
        let create = plan.decisions[record].outcome == Outcome::Create;
        let targets = &plan.access.resolved.targets;
        let Some(p) = plan.access.people[record].as_deref_mut() else {
            continue;
        };
        if let (false, Some(uid)) = (create, &user_id) {
            p.grants.retain(|(t, _)| {
                !held.contains(&(
                    id15(uid).to_owned(),
                    id15(&targets[*t as usize].id).to_owned(),
                ))
            });
        }
        for &(target, _) in &p.grants {
            ops.push(match targets[target as usize].kind {
                GrantKind::Group => Operation::AddToGroup { record, target },
                _ => Operation::AssignPermissionSet { record, target },
            });
        }
        if let Manager::InRun(manager) = p.manager {
            managers.push(Operation::LinkManager { record, manager });
        }
    }
    plan.operations.extend(managers);
    plan.operations.extend(ops);
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
