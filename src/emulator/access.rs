//! Access objects (issue 17; `reference/salesforce-lifecycle.md` §3): seeded
//! `PermissionSet`, `PermissionSetGroup`, `Group` and `UserRole`, and the two
//! objects a provisioning client inserts, `PermissionSetAssignment` and
//! `GroupMember` (single `POST sobjects/...` and `POST composite/sobjects`,
//! one type per call).
//!
//! Rules, as the reference gives them:
//! - an assignment names exactly one of `PermissionSetId` / `PermissionSetGroupId`;
//! - a duplicate assignment is refused: `DUPLICATE_VALUE` "Duplicate PermissionSetAssignment";
//! - a permission set with a license must match the license of the user's
//!   profile, else `FIELD_INTEGRITY_EXCEPTION` with the UI's message (the API
//!   code is a guess, §3.1);
//! - a profile-owned permission set is refused with `INVALID_CROSS_REFERENCE_KEY`;
//! - a duplicate group membership answers with the existing record (§3.4);
//! - inactive assignees are allowed.
//!
//! Seeds come from a TOML file (`--access FILE`, [`AccessSeed`]).

use std::collections::HashMap;
use std::path::Path;

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;

use super::ids;
use super::org::{Org, Users};
use super::routes::{Reply, error_array, json_response, rec_errors_per_record, rec_errors_top};
use super::schema::{self, FieldKind, ObjField};
use super::soql::Val;
use super::validate::{RecError, RequestError};
use super::wire::{FieldIn, RecordIn};

/// A permission set the org starts with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSetSeed {
    /// API name (`PermissionSet.Name`).
    pub name: String,
    /// Defaults to the name.
    #[serde(default)]
    pub label: Option<String>,
    /// The user license it requires (a license name as in `--profiles`, e.g.
    /// `Salesforce`); `None` = usable with any license.
    #[serde(default)]
    pub license: Option<String>,
    /// Owned by a profile (such sets cannot be assigned directly).
    #[serde(default)]
    pub owned_by_profile: bool,
}

/// A record with a developer name (`PermissionSetGroup`, `Group`, `UserRole`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedSeed {
    pub developer_name: String,
    /// `MasterLabel` / `Name`; defaults to the developer name.
    #[serde(default)]
    pub label: Option<String>,
}

/// The access objects an org starts with (`--access FILE`, TOML):
///
/// ```toml
/// [[permission_set]]
/// name = "Sales_User"
/// license = "Salesforce"
/// [[permission_set_group]]
/// developer_name = "Sales_Bundle"
/// [[group]]
/// developer_name = "Sales_Team"
/// [[role]]
/// developer_name = "SalesRep"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSeed {
    #[serde(default)]
    pub permission_set: Vec<PermissionSetSeed>,
    #[serde(default)]
    pub permission_set_group: Vec<NamedSeed>,
    /// Public groups (`Type = 'Regular'`).
    #[serde(default)]
    pub group: Vec<NamedSeed>,
    #[serde(default)]
    pub role: Vec<NamedSeed>,
}

impl AccessSeed {
    /// Reads `--access FILE`; errors name the file (and line, from the TOML parser).
    pub fn read(path: &Path) -> Result<AccessSeed, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        let seed: AccessSeed =
            toml::from_str(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        let mut seen = std::collections::HashSet::new();
        for (kind, name) in seed
            .permission_set
            .iter()
            .map(|p| ("permission_set", &p.name))
            .chain(
                seed.permission_set_group
                    .iter()
                    .map(|p| ("permission_set_group", &p.developer_name)),
            )
            .chain(seed.group.iter().map(|p| ("group", &p.developer_name)))
            .chain(seed.role.iter().map(|p| ("role", &p.developer_name)))
        {
            if !seen.insert((kind, name.to_ascii_lowercase())) {
                return Err(Error::Usage(format!(
                    "{}: {kind} `{name}` appears twice",
                    path.display()
                )));
            }
        }
        Ok(seed)
    }
}

/// A seeded record, with its Id.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub id: String,
    pub name: String,
    pub label: String,
    /// PermissionSet: the license name it requires.
    pub license: Option<String>,
    /// PermissionSet: owned by a profile.
    pub owned: bool,
}

/// One PermissionSetAssignment or GroupMember row.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub id: String,
    /// AssigneeId / UserOrGroupId.
    pub user: String,
    /// PermissionSetId / GroupId.
    pub target: Option<String>,
    /// PermissionSetGroupId (assignments only).
    pub group: Option<String>,
}

/// The org's access objects.
#[derive(Debug, Default)]
pub(crate) struct Access {
    pub permission_sets: Vec<Named>,
    pub permission_set_groups: Vec<Named>,
    pub groups: Vec<Named>,
    pub roles: Vec<Named>,
    pub assignments: Vec<Link>,
    pub members: Vec<Link>,
    by_id: HashMap<String, (Kind, usize)>,
    /// (AssigneeId, PermissionSetId or PermissionSetGroupId) of every assignment,
    /// so a duplicate is found without a scan (10,000 users x 3 assignments is a benchmark).
    assignment_keys: std::collections::HashSet<(String, String)>,
    /// (UserOrGroupId, GroupId) -> position in `members`.
    member_index: HashMap<(String, String), usize>,
    next: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PermissionSet,
    PermissionSetGroup,
    Group,
    Role,
}

fn named(prefix: &str, n: u64, name: &str, label: Option<&str>) -> Named {
    Named {
        id: ids::make(prefix, n),
        name: name.to_string(),
        label: label.unwrap_or(name).to_string(),
        license: None,
        owned: false,
    }
}

impl Access {
    pub(crate) fn new(seed: &AccessSeed) -> Access {
        let mut a = Access::default();
        for (i, p) in seed.permission_set.iter().enumerate() {
            let mut n = named("0PS", i as u64 + 1, &p.name, p.label.as_deref());
            n.license.clone_from(&p.license);
            n.owned = p.owned_by_profile;
            a.permission_sets.push(n);
        }
        for (i, p) in seed.permission_set_group.iter().enumerate() {
            a.permission_set_groups.push(named(
                "0PG",
                i as u64 + 1,
                &p.developer_name,
                p.label.as_deref(),
            ));
        }
        for (i, p) in seed.group.iter().enumerate() {
            a.groups.push(named(
                "00G",
                i as u64 + 1,
                &p.developer_name,
                p.label.as_deref(),
            ));
        }
        for (i, p) in seed.role.iter().enumerate() {
            a.roles.push(named(
                "00E",
                i as u64 + 1,
                &p.developer_name,
                p.label.as_deref(),
            ));
        }
        for (kind, list) in [
            (Kind::PermissionSet, &a.permission_sets),
            (Kind::PermissionSetGroup, &a.permission_set_groups),
            (Kind::Group, &a.groups),
            (Kind::Role, &a.roles),
        ] {
            for (i, n) in list.iter().enumerate() {
                a.by_id.insert(n.id.clone(), (kind, i));
            }
        }
        a.next = 1;
        a
    }

    fn find(&self, id: &str, kind: Kind) -> Option<&Named> {
        let id18 = ids::to18(id)?;
        let &(k, i) = self.by_id.get(&id18)?;
        if k != kind {
            return None;
        }
        Some(match k {
            Kind::PermissionSet => &self.permission_sets[i],
            Kind::PermissionSetGroup => &self.permission_set_groups[i],
            Kind::Group => &self.groups[i],
            Kind::Role => &self.roles[i],
        })
    }

    /// Whether `id` names a seeded UserRole.
    pub(crate) fn role_exists(&self, id: &str) -> bool {
        self.find(id, Kind::Role).is_some()
    }

    /// Drops the assignments and memberships added after the first `a` and `m`
    /// (an `allOrNone` roll-back), with their index entries.
    fn truncate(&mut self, a: usize, m: usize) {
        for l in self.assignments.drain(a..) {
            let t = l.target.or(l.group).unwrap_or_default();
            self.assignment_keys.remove(&(l.user, t));
        }
        for l in self.members.drain(m..) {
            self.member_index
                .remove(&(l.user, l.target.unwrap_or_default()));
        }
    }

    fn new_id(&mut self, prefix: &str) -> String {
        let id = ids::make(prefix, self.next);
        self.next += 1;
        id
    }
}

/// The sObjects this module inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertKind {
    Assignment,
    Member,
}

impl InsertKind {
    /// From an sObject name (case-insensitive).
    pub(crate) fn parse(name: &str) -> Option<InsertKind> {
        if name.eq_ignore_ascii_case("PermissionSetAssignment") {
            Some(InsertKind::Assignment)
        } else if name.eq_ignore_ascii_case("GroupMember") {
            Some(InsertKind::Member)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            InsertKind::Assignment => "PermissionSetAssignment",
            InsertKind::Member => "GroupMember",
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            InsertKind::Assignment => &["AssigneeId", "PermissionSetId", "PermissionSetGroupId"],
            InsertKind::Member => &["GroupId", "UserOrGroupId"],
        }
    }
}

fn cross_ref(field: &str) -> RecError {
    RecError::new(
        "INVALID_CROSS_REFERENCE_KEY",
        "invalid cross reference id",
        &[field],
    )
}

/// Parses one insert record into `(field, value)` pairs of its known fields.
fn parse_insert(
    kind: InsertKind,
    rec: &RecordIn<'_>,
) -> Result<HashMap<&'static str, String>, RequestError> {
    let mut out = HashMap::new();
    for (key, value) in &rec.fields {
        let Some(&f) = kind.fields().iter().find(|f| f.eq_ignore_ascii_case(key)) else {
            return Err(RequestError {
                code: "INVALID_FIELD",
                message: format!("No such column '{key}' on sobject of type {}", kind.name()),
            });
        };
        match value {
            FieldIn::Null => {}
            FieldIn::Str(s) if !s.is_empty() => {
                out.insert(f, s.to_string());
            }
            FieldIn::Str(_) => {}
            other => {
                return Err(RequestError {
                    code: "JSON_PARSER_ERROR",
                    message: format!(
                        "Cannot deserialize instance of reference from {} value for field {f}",
                        match other {
                            FieldIn::Bool(_) => "boolean",
                            FieldIn::Other(t) => t,
                            _ => "string",
                        }
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Result of one insert: the record's Id (new, or the existing membership's),
/// or why not; plus whether a row was added (for undo under `allOrNone`).
type Inserted = (Result<String, Vec<RecError>>, bool);

impl Users {
    fn user_license(&self, user_idx: u32) -> Option<&str> {
        let p = self.recs[user_idx as usize]
            .text(schema::PROFILE_ID)
            .and_then(|p| self.profile(p))?;
        Some(self.licenses[self.profiles[p].license].name.as_str())
    }

    fn insert_one(&mut self, kind: InsertKind, f: &HashMap<&'static str, String>) -> Inserted {
        let missing: Vec<&str> = match kind {
            InsertKind::Assignment => ["AssigneeId"]
                .into_iter()
                .filter(|k| !f.contains_key(k))
                .collect(),
            InsertKind::Member => ["GroupId", "UserOrGroupId"]
                .into_iter()
                .filter(|k| !f.contains_key(k))
                .collect(),
        };
        if !missing.is_empty() {
            return (
                Err(vec![RecError {
                    code: "REQUIRED_FIELD_MISSING",
                    message: format!("Required fields are missing: [{}]", missing.join(", ")),
                    fields: missing.iter().map(|s| s.to_string()).collect(),
                }]),
                false,
            );
        }
        match kind {
            InsertKind::Assignment => self.insert_assignment(f),
            InsertKind::Member => self.insert_member(f),
        }
    }

    fn insert_assignment(&mut self, f: &HashMap<&'static str, String>) -> Inserted {
        let Some(user) = self.index_of(&f["AssigneeId"]) else {
            return (Err(vec![cross_ref("AssigneeId")]), false);
        };
        let user_id = self.recs[user as usize]
            .text(schema::ID)
            .unwrap_or_default()
            .to_string();
        let (ps, psg) = (f.get("PermissionSetId"), f.get("PermissionSetGroupId"));
        let (target, group) = match (ps, psg) {
            (Some(_), Some(_)) | (None, None) => {
                return (
                    Err(vec![RecError::new(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "Specify either a permission set or a permission set group, but not both.",
                        &["PermissionSetId", "PermissionSetGroupId"],
                    )]),
                    false,
                );
            }
            (Some(ps), None) => {
                let Some(set) = self.access.find(ps, Kind::PermissionSet) else {
                    return (Err(vec![cross_ref("PermissionSetId")]), false);
                };
                if set.owned {
                    return (Err(vec![cross_ref("PermissionSetId")]), false);
                }
                if let Some(lic) = &set.license
                    && self.user_license(user) != Some(lic.as_str())
                {
                    let username = self.recs[user as usize]
                        .text(schema::USERNAME)
                        .unwrap_or_default();
                    return (
                        Err(vec![RecError::new(
                            "FIELD_INTEGRITY_EXCEPTION",
                            format!(
                                "Can't assign permission set {} to user {username}. The user license doesn't allow the permission: {lic}",
                                set.label
                            ),
                            &["PermissionSetId"],
                        )]),
                        false,
                    );
                }
                (Some(set.id.clone()), None)
            }
            (None, Some(g)) => {
                let Some(grp) = self.access.find(g, Kind::PermissionSetGroup) else {
                    return (Err(vec![cross_ref("PermissionSetGroupId")]), false);
                };
                (None, Some(grp.id.clone()))
            }
        };
        let key = (
            user_id.clone(),
            target.clone().or_else(|| group.clone()).unwrap_or_default(),
        );
        if !self.access.assignment_keys.insert(key) {
            return (
                Err(vec![RecError::new(
                    "DUPLICATE_VALUE",
                    "Duplicate PermissionSetAssignment",
                    &[],
                )]),
                false,
            );
        }
        let id = self.access.new_id("0Pa");
        self.access.assignments.push(Link {
            id: id.clone(),
            user: user_id,
            target,
            group,
        });
        (Ok(id), true)
    }

    fn insert_member(&mut self, f: &HashMap<&'static str, String>) -> Inserted {
        let Some(group) = self
            .access
            .find(&f["GroupId"], Kind::Group)
            .map(|g| g.id.clone())
        else {
            return (Err(vec![cross_ref("GroupId")]), false);
        };
        let member = &f["UserOrGroupId"];
        let member_id = match self.index_of(member) {
            Some(i) => self.recs[i as usize]
                .text(schema::ID)
                .unwrap_or_default()
                .to_string(),
            None => match self.access.find(member, Kind::Group) {
                Some(g) => g.id.clone(),
                None => return (Err(vec![cross_ref("UserOrGroupId")]), false),
            },
        };
        // A membership that exists already is answered with its record (reference §3.4).
        let key = (member_id.clone(), group.clone());
        if let Some(&i) = self.access.member_index.get(&key) {
            return (Ok(self.access.members[i].id.clone()), false);
        }
        self.access
            .member_index
            .insert(key, self.access.members.len());
        let id = self.access.new_id("011");
        self.access.members.push(Link {
            id: id.clone(),
            user: member_id,
            target: Some(group),
            group: None,
        });
        (Ok(id), true)
    }
}

/// `POST sobjects/PermissionSetAssignment` or `sobjects/GroupMember`: 201
/// `{"id","success","errors"}` or 400 with the record's errors.
pub(crate) fn insert_one(org: &Org, kind: InsertKind, body: &[u8], locked: bool) -> Reply {
    let rec: RecordIn = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return Reply::Http(super::routes::parse_error(e), 0),
    };
    let fields = match parse_insert(kind, &rec) {
        Ok(f) => f,
        Err(e) => return Reply::Http(error_array(StatusCode::BAD_REQUEST, e.code, &e.message), 0),
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
    let (result, _) = org.write_users().insert_one(kind, &fields);
    match result {
        Ok(id) => Reply::Http(
            json_response(
                StatusCode::CREATED,
                json!({"id": id, "success": true, "errors": []}).to_string(),
            ),
            1,
        ),
        Err(errs) => Reply::Http(
            json_response(StatusCode::BAD_REQUEST, rec_errors_top(&errs)),
            1,
        ),
    }
}

/// `POST composite/sobjects` of PermissionSetAssignments or GroupMembers (one
/// type per call): per-record results in order, `allOrNone` both ways.
pub(crate) fn insert_collection(
    org: &Org,
    kind: InsertKind,
    records: &[RecordIn<'_>],
    all_or_none: bool,
    locked: &dyn Fn(usize) -> bool,
) -> Reply {
    let n = records.len();
    let mut parsed = Vec::with_capacity(n);
    for r in records {
        let same = r
            .attributes_type
            .as_ref()
            .and_then(|t| t.as_deref())
            .and_then(InsertKind::parse)
            == Some(kind);
        if !same {
            return Reply::Http(
                error_array(
                    StatusCode::BAD_REQUEST,
                    "INVALID_BATCH",
                    "A collection may not mix setup objects with other types; send one type per call.",
                ),
                n,
            );
        }
        match parse_insert(kind, r) {
            Ok(f) => parsed.push(f),
            Err(e) => {
                return Reply::Http(error_array(StatusCode::BAD_REQUEST, e.code, &e.message), n);
            }
        }
    }
    let mut users = org.write_users();
    let (a0, m0) = (users.access.assignments.len(), users.access.members.len());
    let mut results = Vec::with_capacity(n);
    for (i, f) in parsed.iter().enumerate() {
        if locked(i) {
            results.push(Err(vec![RecError::new(
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access to this record or 1 records: 00DEM0000000001",
                &[],
            )]));
            continue;
        }
        results.push(users.insert_one(kind, f).0);
    }
    let failed = results.iter().any(Result::is_err);
    if all_or_none && failed {
        users.access.truncate(a0, m0);
    }
    drop(users);
    let out: Vec<Value> = results
        .iter()
        .map(|r| match (r, all_or_none && failed) {
            (Ok(id), false) => json!({"id": id, "success": true, "errors": []}),
            (Ok(id), true) => json!({"id": id, "success": false, "errors": [{
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                "fields": []
            }]}),
            (Err(errs), _) => json!({"success": false, "errors": rec_errors_per_record(errs)}),
        })
        .collect();
    Reply::Http(
        json_response(StatusCode::OK, Value::Array(out).to_string()),
        n,
    )
}

// ---------- SOQL ----------

const fn of(name: &'static str, kind: FieldKind, idx: usize) -> ObjField {
    ObjField { name, kind, idx }
}

pub static PERMISSION_SET_FIELDS: &[ObjField] = &[
    of("Id", FieldKind::Id, 0),
    of("Name", FieldKind::Text, 1),
    of("Label", FieldKind::Text, 2),
    of("LicenseId", FieldKind::Id, 3),
    of("IsOwnedByProfile", FieldKind::Bool, 4),
    of("NamespacePrefix", FieldKind::Text, 5),
];
pub static PERMISSION_SET_GROUP_FIELDS: &[ObjField] = &[
    of("Id", FieldKind::Id, 0),
    of("DeveloperName", FieldKind::Text, 1),
    of("MasterLabel", FieldKind::Text, 2),
];
pub static GROUP_FIELDS: &[ObjField] = &[
    of("Id", FieldKind::Id, 0),
    of("DeveloperName", FieldKind::Text, 1),
    of("Name", FieldKind::Text, 2),
    of("Type", FieldKind::Text, 3),
];
pub static USER_ROLE_FIELDS: &[ObjField] = &[
    of("Id", FieldKind::Id, 0),
    of("DeveloperName", FieldKind::Text, 1),
    of("Name", FieldKind::Text, 2),
];
pub static ASSIGNMENT_FIELDS: &[ObjField] = &[
    of("Id", FieldKind::Id, 0),
    of("AssigneeId", FieldKind::Id, 1),
    of("PermissionSetId", FieldKind::Id, 2),
    of("PermissionSetGroupId", FieldKind::Id, 3),
];
pub static MEMBER_FIELDS: &[ObjField] = &[
    of("Id", FieldKind::Id, 0),
    of("GroupId", FieldKind::Id, 1),
    of("UserOrGroupId", FieldKind::Id, 2),
];

/// The license Id of a license name: `100` + its position (stable per org).
pub(crate) fn license_id(users: &Users, name: &str) -> Option<String> {
    users
        .licenses
        .iter()
        .position(|l| l.name == name)
        .map(|i| ids::make("100", i as u64 + 1))
}

fn text(s: &str) -> Val<'_> {
    Val::Text(std::borrow::Cow::Borrowed(s))
}

fn opt(s: Option<&str>) -> Val<'_> {
    s.map_or(Val::Null, text)
}

/// One field of a seeded record (PermissionSet, PermissionSetGroup, Group, UserRole).
pub(crate) fn named_value<'a>(users: &'a Users, n: &'a Named, field: &str) -> Val<'a> {
    match field {
        "Id" => text(&n.id),
        "Name" | "DeveloperName" => text(&n.name),
        "Label" | "MasterLabel" => text(&n.label),
        "LicenseId" => match n.license.as_deref().and_then(|l| license_id(users, l)) {
            Some(id) => Val::Text(std::borrow::Cow::Owned(id)),
            None => Val::Null,
        },
        "IsOwnedByProfile" => Val::Bool(n.owned),
        "Type" => text("Regular"),
        _ => Val::Null,
    }
}

/// One field of an assignment or membership row.
pub(crate) fn link_value<'a>(l: &'a Link, field: &str) -> Val<'a> {
    match field {
        "Id" => text(&l.id),
        "AssigneeId" | "UserOrGroupId" => text(&l.user),
        "PermissionSetId" | "GroupId" => opt(l.target.as_deref()),
        "PermissionSetGroupId" => opt(l.group.as_deref()),
        _ => Val::Null,
    }
}
