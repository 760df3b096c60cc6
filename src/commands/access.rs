//! `[access]` against the org (issue 17): every name resolved to its Id once
//! per run, one query per kind, before anything is written; and what matched
//! users already hold, one query per kind over them.

use std::collections::HashSet;

use crate::job::access::AccessConfig;
use crate::plan::access::{GrantKind, Resolved, Target, id15};
use crate::salesforce::{Client, SfError};

/// Why the names could not be resolved.
#[derive(Debug)]
pub enum ResolveError {
    /// Names the org does not have, one message each (a job error, exit 2).
    Unknown(Vec<String>),
    /// The org could not be asked.
    Salesforce(SfError),
}

/// One kind of name: its sObject, the field that holds the name, a
/// condition, and what people call it.
struct NameKind {
    sobject: &'static str,
    field: &'static str,
    condition: Option<&'static str>,
    what: &'static str,
    key: &'static str,
}

const PERMISSION_SET: NameKind = NameKind {
    sobject: "PermissionSet",
    field: "Name",
    condition: None,
    what: "permission set",
    key: "permission_sets",
};
const PERMISSION_SET_GROUP: NameKind = NameKind {
    sobject: "PermissionSetGroup",
    field: "DeveloperName",
    condition: None,
    what: "permission set group",
    key: "permission_set_groups",
};
const PUBLIC_GROUP: NameKind = NameKind {
    sobject: "Group",
    field: "DeveloperName",
    condition: Some("Type = 'Regular'"),
    what: "public group",
    key: "public_groups",
};
const ROLE: NameKind = NameKind {
    sobject: "UserRole",
    field: "DeveloperName",
    condition: None,
    what: "role",
    key: "role",
};
const PROFILE: NameKind = NameKind {
    sobject: "Profile",
    field: "Name",
    condition: None,
    what: "profile",
    key: "profile",
};

/// The keys of the job file that name `name` for `kind` (`access.role`,
/// `access.rules[2].permission_sets`), for messages.
fn keys_naming(cfg: &AccessConfig, kind: &NameKind, name: &str) -> Vec<String> {
    let names = |g: &crate::job::access::Grants, rule_profile: Option<&String>| -> Vec<String> {
        match kind.key {
            "permission_sets" => g.permission_sets.clone(),
            "permission_set_groups" => g.permission_set_groups.clone(),
            "public_groups" => g.public_groups.clone(),
            "role" => g.role.iter().cloned().collect(),
            _ => rule_profile.into_iter().cloned().collect(),
        }
    };
    let mut keys = Vec::new();
    if names(&cfg.grants, None)
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
    {
        keys.push(format!("access.{}", kind.key));
    }
    for (i, r) in cfg.rules.iter().enumerate() {
        if names(&r.grants, r.profile.as_ref())
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            keys.push(format!("access.rules[{}].{}", i + 1, kind.key));
        }
    }
    keys
}

/// Resolves every name `[access]` uses: one query per kind that has names
/// (none for a kind the job does not use). Every unknown name is reported.
pub async fn resolve(cfg: &AccessConfig, client: &Client) -> Result<Resolved, ResolveError> {
    let names = cfg.names();
    let mut unknown = Vec::new();
    let mut resolved = Resolved::default();
    let kinds: [(&NameKind, &Vec<String>, Option<GrantKind>); 5] = [
        (
            &PERMISSION_SET,
            &names.permission_sets,
            Some(GrantKind::PermissionSet),
        ),
        (
            &PERMISSION_SET_GROUP,
            &names.permission_set_groups,
            Some(GrantKind::PermissionSetGroup),
        ),
        (&PUBLIC_GROUP, &names.public_groups, Some(GrantKind::Group)),
        (&ROLE, &names.roles, None),
        (&PROFILE, &names.profiles, None),
    ];
    for (kind, asked, grant) in kinds {
        if asked.is_empty() {
            continue;
        }
        let ids = client
            .ids_by_name(kind.sobject, kind.field, asked, kind.condition)
            .await
            .map_err(ResolveError::Salesforce)?;
        for name in asked {
            let Some(id) = ids.get(name) else {
                unknown.push(format!(
                    "{}: the org has no {} named \"{name}\" ({}.{}{}); check the name in Setup",
                    keys_naming(cfg, kind, name).join(", "),
                    kind.what,
                    kind.sobject,
                    kind.field,
                    kind.condition.map(|c| format!(", {c}")).unwrap_or_default(),
                ));
                continue;
            };
            match (grant, kind.key) {
                (Some(kind), _) => resolved.targets.push(Target {
                    kind,
                    name: name.clone(),
                    id: id.clone(),
                }),
                (None, "role") => resolved.roles.push((name.clone(), id.clone())),
                (None, _) => resolved.profiles.push((name.clone(), id.clone())),
            }
        }
    }
    if unknown.is_empty() {
        Ok(resolved)
    } else {
        Err(ResolveError::Unknown(unknown))
    }
}

/// What `users` already hold of `targets`: `(user Id, target Id)` pairs, 15
/// characters each. One query per kind (chunked to keep each SOQL statement
/// short): `PermissionSetAssignment` by `AssigneeId`, `GroupMember` by
/// `UserOrGroupId`; a kind no target needs is not read.
pub async fn read_held(
    client: &Client,
    targets: &[Target],
    users: &[String],
) -> Result<HashSet<(String, String)>, SfError> {
    let mut held = HashSet::new();
    if users.is_empty() {
        return Ok(held);
    }
    let assigns = targets.iter().any(|t| t.kind != GrantKind::Group);
    let groups = targets.iter().any(|t| t.kind == GrantKind::Group);
    let reads: [(bool, &str, &str, &[&str]); 2] = [
        (
            assigns,
            "PermissionSetAssignment",
            "AssigneeId",
            &["PermissionSetId", "PermissionSetGroupId"],
        ),
        (groups, "GroupMember", "UserOrGroupId", &["GroupId"]),
    ];
    for (wanted, sobject, user_field, target_fields) in reads {
        if !wanted {
            continue;
        }
        let fields: Vec<String> = target_fields.iter().map(|f| (*f).to_owned()).collect();
        for row in client
            .read_by_ids(sobject, user_field, &fields, users)
            .await?
        {
            let Some(user) = row.get(user_field).and_then(|v| v.as_str()) else {
                continue;
            };
            for f in target_fields {
                if let Some(t) = row.get(*f).and_then(|v| v.as_str()) {
                    held.insert((id15(user).to_owned(), id15(t).to_owned()));
                }
            }
        }
    }
    Ok(held)
}
