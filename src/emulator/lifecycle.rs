//! Movers and leavers: `PATCH sobjects/User/{Id}`, `PATCH composite/sobjects`,
//! `UserLogin` (freeze), and the rules Salesforce applies to an update
//! (`reference/salesforce-lifecycle.md` §1, §2):
//!
//! - read-only fields refused with `INVALID_FIELD_FOR_INSERT_UPDATE` (§1.1);
//! - an `Email` change on an active user is accepted and held pending, never
//!   applied (the owner must confirm it, §1.3); on an inactive user it is
//!   refused with `FIELD_INTEGRITY_EXCEPTION` (the reference's default guess);
//! - a username, nickname or Federation ID change is unique against everyone
//!   but the record itself;
//! - a `ProfileId` change to another license is refused (§1.4);
//! - deactivating the API user (the token's user) or a user named in
//!   `--undeactivatable` is refused, one blocker per attempt (§2.2), and a
//!   refused deactivation discards the rest of that record's changes;
//! - reactivating needs a free license of the profile's license
//!   (`LICENSE_LIMIT_EXCEEDED`, §2.4); deactivating frees one.
//!
//! Collections (`allOrNone` both ways) apply each record at once and keep its
//! previous state, so a failure under `allOrNone` undoes the earlier ones.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::config::UNDEACTIVATABLE_MESSAGE;
use super::ids;
use super::org::{Org, UserRec, Users, id_key, lower, sf_datetime};
use super::routes::{
    Reply, error_array, json_response, no_content, parse_error, rec_errors_per_record,
    rec_errors_top,
};
use super::schema::{self, Ty};
use super::validate::{self, RecError, RequestError};
use super::wire::{CollectionIn, FieldIn, RecordIn};

/// Key prefix of `UserLogin` Ids (lifecycle reference, key prefixes).
pub const USER_LOGIN_PREFIX: &str = "0Yw";

/// What Salesforce-like answer refuses deactivating the API user itself.
/// Whether Salesforce allows it is unconfirmed (reference §2.2); the emulator
/// takes the safe reading and refuses.
pub const SELF_DEACTIVATION_MESSAGE: &str = "You can't deactivate your own user record.";

/// The message of a refused `Email` change on an inactive user (reference
/// §1.3: only active users' e-mail can be changed; the API answer is a guess).
pub const INACTIVE_EMAIL_MESSAGE: &str = "You can't change the email address of an inactive user.";

/// Records per collection call.
const MAX_COLLECTION: usize = 200;

/// Rows in a collection call whose lock is taken (fault injection).
type Locked<'a> = &'a dyn Fn(usize) -> bool;

/// A record's Id as sent in a collection, and its parsed changes or errors.
type Parsed<T> = (Option<String>, Result<T, Vec<RecError>>);

/// One User update as sent: text slots to set (`None` = null) and booleans.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct UserPatch {
    pub texts: Vec<(usize, Option<String>)>,
    pub bools: Vec<(u8, bool)>,
}

fn locked_error() -> RecError {
    RecError::new(
        "UNABLE_TO_LOCK_ROW",
        "unable to obtain exclusive access to this record or 1 records: 00DEM0000000001",
        &[],
    )
}

fn read_only_error(fields: &[&str]) -> RecError {
    RecError {
        code: "INVALID_FIELD_FOR_INSERT_UPDATE",
        message: format!(
            "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
            fields.join(", ")
        ),
        fields: fields.iter().map(|s| s.to_string()).collect(),
    }
}

fn json_type(v: &FieldIn<'_>) -> &'static str {
    match v {
        FieldIn::Null => "null",
        FieldIn::Bool(_) => "boolean",
        FieldIn::Str(_) => "string",
        FieldIn::Other(t) => t,
    }
}

/// Parses one User update record. In a collection, `id` names the record and
/// is returned; in a single PATCH the URL does, and `Id` in the body is a
/// read-only field.
///
/// `Err` is a request-level problem (unknown field, wrong JSON type): the
/// whole call answers 400.
pub(crate) fn parse_user_patch(
    rec: &RecordIn<'_>,
    in_collection: bool,
) -> Result<Parsed<UserPatch>, RequestError> {
    let mut patch = UserPatch::default();
    let mut id = None;
    let mut read_only: Vec<&str> = Vec::new();
    let mut errors = Vec::new();
    for (key, value) in &rec.fields {
        if in_collection && key.eq_ignore_ascii_case("id") {
            if let FieldIn::Str(s) = value {
                id = Some(s.to_string());
            }
            continue;
        }
        let Some(f) = schema::user_field(key) else {
            return Err(RequestError {
                code: "INVALID_FIELD",
                message: format!("No such column '{key}' on sobject of type User"),
            });
        };
        if !f.createable {
            read_only.push(f.name);
            continue;
        }
        match (f.ty, value) {
            (Ty::Text { slot, .. }, FieldIn::Null) => patch.texts.push((slot, None)),
            // Salesforce stores an empty string as null.
            (Ty::Text { slot, .. }, FieldIn::Str(s)) => patch
                .texts
                .push((slot, (!s.is_empty()).then(|| s.to_string()))),
            (Ty::Bool { bit }, FieldIn::Bool(b)) => patch.bools.push((bit, *b)),
            (Ty::Bool { .. }, FieldIn::Null) => {}
            (ty, v) => {
                let want = if matches!(ty, Ty::Bool { .. }) {
                    "boolean"
                } else {
                    "string"
                };
                return Err(RequestError {
                    code: "JSON_PARSER_ERROR",
                    message: format!(
                        "Cannot deserialize instance of {want} from {} value for field {}",
                        json_type(v),
                        f.name
                    ),
                });
            }
        }
    }
    if !read_only.is_empty() {
        errors.push(read_only_error(&read_only));
    }
    let missing: Vec<&str> = patch
        .texts
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(slot, _)| schema::slot_field(*slot))
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    if !missing.is_empty() {
        errors.push(RecError {
            code: "REQUIRED_FIELD_MISSING",
            message: format!("Required fields are missing: [{}]", missing.join(", ")),
            fields: missing.iter().map(|s| s.to_string()).collect(),
        });
    }
    for (slot, v) in &mut patch.texts {
        let Some(v) = v else { continue };
        let f = schema::slot_field(*slot);
        let Ty::Text { max, .. } = f.ty else { continue };
        if v.chars().count() > max {
            errors.push(RecError::new(
                "STRING_TOO_LONG",
                format!("{}: data value too large: {v} (max length={max})", f.label),
                &[f.name],
            ));
            continue;
        }
        match f.name {
            "Username" if !validate::email_shaped(v) => errors.push(RecError::new(
                "FIELD_INTEGRITY_EXCEPTION",
                "Username must be in the form of an email address (for example, john@acme.com)",
                &["Username"],
            )),
            "Email" if !validate::email_shaped(v) => errors.push(RecError::new(
                "INVALID_EMAIL_ADDRESS",
                format!("Email: invalid email address: {v}"),
                &["Email"],
            )),
            "TimeZoneSidKey" | "LocaleSidKey" | "EmailEncodingKey" | "LanguageLocaleKey"
                if !validate::picklist_ok(f, v) =>
            {
                errors.push(RecError::new(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    format!("{}: bad value for restricted picklist field: {v}", f.label),
                    &[f.name],
                ))
            }
            "UserRoleId" | "ManagerId" => {
                let (prefix, label) = if f.name == "ManagerId" {
                    ("005", "Manager ID")
                } else {
                    ("00E", "Role ID")
                };
                match ids::to18(v).filter(|id| id.starts_with(prefix)) {
                    Some(id18) => *v = id18,
                    None => errors.push(RecError::new(
                        "MALFORMED_ID",
                        format!("{label}: id value of incorrect type: {v}"),
                        &[f.name],
                    )),
                }
            }
            "ProfileId" => match ids::to18(v).filter(|id| id.starts_with("00e")) {
                Some(id18) => *v = id18,
                None => errors.push(RecError::new(
                    "MALFORMED_ID",
                    format!("Profile ID: id value of incorrect type: {v}"),
                    &["ProfileId"],
                )),
            },
            _ => {}
        }
    }
    Ok((
        id,
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        },
    ))
}

/// A checked update, ready to replace the stored record.
struct Checked {
    rec: UserRec,
    pending_email: Option<String>,
}

/// What [`Users::replace`] needs to undo an applied update.
struct Undo {
    idx: u32,
    rec: UserRec,
    pending_email: Option<String>,
}

impl Users {
    /// Index of a user by Id (15 or 18 characters).
    pub(crate) fn index_of(&self, id: &str) -> Option<u32> {
        let id = ids::to18(id)?;
        self.by_id.get(&id_key(&id)).copied()
    }

    fn taken_by_other(&self, index: usize, key: &str, idx: u32) -> bool {
        let map = match index {
            0 => &self.by_username,
            1 => &self.by_nickname,
            _ => &self.by_federation_id,
        };
        map.get(key).is_some_and(|&i| i != idx) || (index == 0 && self.foreign.contains(key))
    }

    fn license_of(&self, profile_id: Option<&str>) -> Option<usize> {
        profile_id
            .and_then(|p| self.profile(p))
            .map(|p| self.profiles[p].license)
    }

    /// Checks one update of user `idx` against the org as it is now.
    fn check_update(
        &self,
        idx: u32,
        patch: &UserPatch,
        api_user: Option<&str>,
    ) -> Result<Checked, Vec<RecError>> {
        let old = &self.recs[idx as usize];
        let mut texts: Vec<Option<&str>> = old.unpack();
        let mut pending_email = None;
        let mut errors = Vec::new();
        for (slot, v) in &patch.texts {
            if *slot == schema::EMAIL {
                let changed = v
                    .as_deref()
                    .is_some_and(|e| Some(e) != old.text(slot.to_owned()));
                if changed && !old.is_active() {
                    errors.push(RecError::new(
                        "FIELD_INTEGRITY_EXCEPTION",
                        INACTIVE_EMAIL_MESSAGE,
                        &["Email"],
                    ));
                } else if changed {
                    pending_email = v.clone();
                }
                continue;
            }
            texts[*slot] = v.as_deref();
        }
        let mut bools = old.bools;
        for (bit, b) in &patch.bools {
            bools = if *b {
                bools | (1 << bit)
            } else {
                bools & !(1 << bit)
            };
        }
        let now_active = bools & (1 << schema::IS_ACTIVE_BIT) != 0;
        for (slot, index, field) in [
            (schema::USERNAME, 0, "Username"),
            (schema::NICKNAME, 1, "CommunityNickname"),
            (schema::FEDERATION_ID, 2, "FederationIdentifier"),
        ] {
            let Some(new) = texts[slot] else { continue };
            if Some(new) == old.text(slot) {
                continue;
            }
            let key = if index == 0 {
                self.username_key(new)
            } else {
                lower(new)
            };
            if self.taken_by_other(index, &key, idx) {
                errors.push(match field {
                    "Username" => RecError::new("DUPLICATE_USERNAME", DUPLICATE_USERNAME, &[field]),
                    "CommunityNickname" => RecError::new(
                        "DUPLICATE_COMM_NICKNAME",
                        "Duplicate Nickname.<br>Another user has already selected this nickname.<br>Please select another.",
                        &[field],
                    ),
                    _ => RecError::new(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "This Federation ID is already in use. Use a different Federation ID.",
                        &[field],
                    ),
                });
            }
        }
        let old_license = self.license_of(old.text(schema::PROFILE_ID));
        let new_profile = texts[schema::PROFILE_ID];
        if new_profile != old.text(schema::PROFILE_ID) {
            match self.license_of(new_profile) {
                None => errors.push(RecError::new(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    &["ProfileId"],
                )),
                Some(l) if Some(l) != old_license => errors.push(RecError::new(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "You can only reassign this user to a profile of the current license.",
                    &["ProfileId"],
                )),
                Some(_) => {}
            }
        }
        if let Some(r) = texts[schema::USER_ROLE_ID]
            && Some(r) != old.text(schema::USER_ROLE_ID)
            && !self.access.role_exists(r)
        {
            errors.push(RecError::new(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &["UserRoleId"],
            ));
        }
        if let Some(m) = texts[schema::MANAGER_ID]
            && Some(m) != old.text(schema::MANAGER_ID)
            && let Some(e) = self.manager_error(idx, m)
        {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Deactivation blockers and licenses: one blocker per attempt, and a
        // blocked deactivation discards the whole record (reference §2.2, §2.5).
        if old.is_active() && !now_active {
            let id = old.text(schema::ID).unwrap_or_default();
            if api_user == Some(id) {
                return Err(vec![RecError::new(
                    "FIELD_INTEGRITY_EXCEPTION",
                    SELF_DEACTIVATION_MESSAGE,
                    &[],
                )]);
            }
            let username = old.text(schema::USERNAME).unwrap_or_default();
            if self.undeactivatable.contains(&self.username_key(username)) {
                return Err(vec![RecError::new(
                    "FIELD_INTEGRITY_EXCEPTION",
                    UNDEACTIVATABLE_MESSAGE,
                    &[],
                )]);
            }
        }
        if !old.is_active()
            && now_active
            && let Some(l) = old_license
            && let Some(max) = self.licenses[l].total
            && self.licenses[l].used >= max
        {
            return Err(vec![RecError::new(
                "LICENSE_LIMIT_EXCEEDED",
                "License Limit Exceeded",
                &[],
            )]);
        }
        let now = sf_datetime(time::OffsetDateTime::now_utc());
        texts[schema::LAST_MODIFIED_DATE] = Some(&now);
        Ok(Checked {
            rec: UserRec::pack(&texts, bools),
            pending_email,
        })
    }

    /// Why user `idx` cannot report to `manager` (reference §1.4): itself, a
    /// user that does not exist, or a chain that leads back to it.
    fn manager_error(&self, idx: u32, manager: &str) -> Option<RecError> {
        let own = self.recs[idx as usize].text(schema::ID).unwrap_or_default();
        if manager == own {
            return Some(RecError::new(
                "FIELD_INTEGRITY_EXCEPTION",
                "A user can't be his or her own manager",
                &["ManagerId"],
            ));
        }
        let mut at = match self.index_of(manager) {
            Some(m) => m,
            None => {
                return Some(RecError::new(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    &["ManagerId"],
                ));
            }
        };
        for _ in 0..self.recs.len() {
            match self.recs[at as usize].text(schema::MANAGER_ID) {
                Some(up) if up == own => {
                    return Some(RecError::new(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "You cannot set a hierarchy field to point to itself or a child record",
                        &["ManagerId"],
                    ));
                }
                Some(up) => match self.index_of(up) {
                    Some(next) => at = next,
                    None => return None,
                },
                None => return None,
            }
        }
        None
    }

    /// Puts `new` in place of user `idx`, keeping the uniqueness indexes and
    /// license counts in step; returns the record it replaced.
    fn replace(&mut self, idx: u32, new: UserRec) -> UserRec {
        let old = std::mem::replace(&mut self.recs[idx as usize], new);
        let new = &self.recs[idx as usize];
        for (slot, index) in [
            (schema::USERNAME, 0),
            (schema::NICKNAME, 1),
            (schema::FEDERATION_ID, 2),
        ] {
            if old.text(slot) == new.text(slot) {
                continue;
            }
            let key = |s: &str| {
                if index == 0 {
                    self.username_key(s)
                } else {
                    lower(s)
                }
            };
            let (ok, nk) = (old.text(slot).map(key), new.text(slot).map(key));
            let map = match index {
                0 => &mut self.by_username,
                1 => &mut self.by_nickname,
                _ => &mut self.by_federation_id,
            };
            if let Some(k) = ok
                && map.get(&k) == Some(&idx)
            {
                map.remove(&k);
            }
            if let Some(k) = nk {
                map.insert(k, idx);
            }
        }
        let (ol, nl) = (
            self.license_of(old.text(schema::PROFILE_ID)),
            self.license_of(self.recs[idx as usize].text(schema::PROFILE_ID)),
        );
        let now_active = self.recs[idx as usize].is_active();
        if let (Some(l), true) = (ol, old.is_active()) {
            self.licenses[l].used = self.licenses[l].used.saturating_sub(1);
        }
        if let (Some(l), true) = (nl, now_active) {
            self.licenses[l].used += 1;
        }
        old
    }

    fn apply(&mut self, idx: u32, c: Checked) -> Undo {
        let prev_pending = match c.pending_email {
            Some(e) => self.pending_email.insert(idx, e),
            None => self.pending_email.get(&idx).cloned(),
        };
        let rec = self.replace(idx, c.rec);
        Undo {
            idx,
            rec,
            pending_email: prev_pending,
        }
    }

    fn undo(&mut self, u: Undo) {
        self.replace(u.idx, u.rec);
        match u.pending_email {
            Some(e) => self.pending_email.insert(u.idx, e),
            None => self.pending_email.remove(&u.idx),
        };
    }

    /// Updates one user by Id. `Ok(Id)` or the record's errors.
    fn update_one(
        &mut self,
        id: Option<&str>,
        patch: Result<UserPatch, Vec<RecError>>,
        api_user: Option<&str>,
    ) -> (Result<String, Vec<RecError>>, Option<Undo>) {
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            return (
                Err(vec![RecError::new(
                    "MISSING_ARGUMENT",
                    "Id not specified in an update call",
                    &[],
                )]),
                None,
            );
        };
        let Some(id18) = ids::to18(id).filter(|i| i.starts_with("005")) else {
            return (
                Err(vec![RecError::new(
                    "MALFORMED_ID",
                    format!("User ID: id value of incorrect type: {id}"),
                    &["Id"],
                )]),
                None,
            );
        };
        let Some(idx) = self.index_of(&id18) else {
            // The code for a well-formed Id that names no record is unconfirmed.
            return (
                Err(vec![RecError::new(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    &[],
                )]),
                None,
            );
        };
        let patch = match patch {
            Ok(p) => p,
            Err(e) => return (Err(e), None),
        };
        match self.check_update(idx, &patch, api_user) {
            Ok(c) => (Ok(id18), Some(self.apply(idx, c))),
            Err(e) => (Err(e), None),
        }
    }
}

/// Salesforce's DUPLICATE_USERNAME message (reference sheet).
const DUPLICATE_USERNAME: &str = "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address).";

fn count(org: &Org, results: &[Result<String, Vec<RecError>>]) {
    let mut c = org.counters_mut();
    for r in results {
        match r {
            Ok(_) => c.users_updated += 1,
            Err(_) => c.updates_refused += 1,
        }
    }
}

/// `PATCH sobjects/User/{id}` (or `POST ...?_HttpMethod=PATCH`): 204 with no
/// body, or 400 with the record's errors, 404 for an unknown Id.
pub(crate) fn patch_user(
    org: &Org,
    id: &str,
    body: &[u8],
    locked: bool,
    api_user: Option<&str>,
) -> Reply {
    let rec: RecordIn = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return Reply::Http(parse_error(e), 0),
    };
    let (_, patch) = match parse_user_patch(&rec, false) {
        Ok(p) => p,
        Err(e) => return Reply::Http(error_array(StatusCode::BAD_REQUEST, e.code, &e.message), 0),
    };
    let Some(id18) = ids::to18(id).filter(|i| i.starts_with("005")) else {
        return Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "MALFORMED_ID",
                &format!("User ID: id value of incorrect type: {id}"),
            ),
            0,
        );
    };
    let mut users = org.write_users();
    if users.index_of(&id18).is_none() {
        return Reply::Http(
            error_array(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            ),
            0,
        );
    }
    if locked {
        return Reply::Http(
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                rec_errors_top(&[locked_error()]),
            ),
            1,
        );
    }
    let (result, _) = users.update_one(Some(&id18), patch, api_user);
    drop(users);
    count(org, std::slice::from_ref(&result));
    match result {
        Ok(_) => Reply::Http(no_content(), 1),
        Err(errs) => Reply::Http(
            json_response(StatusCode::BAD_REQUEST, rec_errors_top(&errs)),
            1,
        ),
    }
}

/// A collection call's records, checked as a whole: at most 200, one
/// supported type throughout.
fn collection_records<'a>(
    parsed: &'a CollectionIn<'a>,
    types: &[&str],
) -> Result<(&'a [RecordIn<'a>], String), Box<Reply>> {
    let Some(records) = parsed.records.as_deref() else {
        return Err(Box::new(Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "records is required and must be an array",
            ),
            0,
        )));
    };
    if records.len() > MAX_COLLECTION {
        return Err(Box::new(Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            ),
            records.len(),
        )));
    }
    let mut ty: Option<String> = None;
    for r in records {
        let t = match r.attributes_type.as_ref().and_then(|t| t.as_deref()) {
            Some(t) => t,
            None => {
                return Err(Box::new(Reply::Http(
                    error_array(
                        StatusCode::BAD_REQUEST,
                        "INVALID_TYPE",
                        "Must send a concrete entity type.",
                    ),
                    records.len(),
                )));
            }
        };
        let Some(known) = types.iter().find(|k| k.eq_ignore_ascii_case(t)) else {
            return Err(Box::new(Reply::Http(
                error_array(
                    StatusCode::BAD_REQUEST,
                    "INVALID_TYPE",
                    &format!("sObject type '{t}' is not supported by this emulator's collections."),
                ),
                records.len(),
            )));
        };
        match &ty {
            None => ty = Some(known.to_string()),
            // Setup objects (User, UserLogin, ...) cannot share a call with another type.
            Some(prev) if prev != known => {
                return Err(Box::new(Reply::Http(
                    error_array(
                        StatusCode::BAD_REQUEST,
                        "INVALID_BATCH",
                        "A collection may not mix setup objects with other types; send one type per call.",
                    ),
                    records.len(),
                )));
            }
            Some(_) => {}
        }
    }
    Ok((records, ty.unwrap_or_else(|| "User".into())))
}

/// Writes per-record results; `all_or_none` failures turn every applied
/// record into a rolled-back one that keeps its Id.
fn results_body(results: &[Result<String, Vec<RecError>>]) -> String {
    let out: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(id) => json!({"id": id, "success": true, "errors": []}),
            Err(errs) => json!({"success": false, "errors": rec_errors_per_record(errs)}),
        })
        .collect();
    Value::Array(out).to_string()
}

fn rolled_back() -> Vec<Value> {
    vec![json!({
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
        "fields": []
    })]
}

/// `PATCH composite/sobjects`: 200 with one result per record in request
/// order; failed items carry no `id`; with `allOrNone` one failure rolls
/// the rest back (they keep their `id`).
pub(crate) fn update_collection(
    org: &Org,
    body: &[u8],
    locked: Locked<'_>,
    api_user: Option<&str>,
) -> Reply {
    let parsed: CollectionIn = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return Reply::Http(parse_error(e), 0),
    };
    let all_or_none = parsed.all_or_none.unwrap_or(false);
    let (records, ty) = match collection_records(&parsed, &["User", "UserLogin"]) {
        Ok(r) => r,
        Err(reply) => return *reply,
    };
    let n = records.len();
    if ty == "UserLogin" {
        return update_logins(org, records, all_or_none, locked);
    }
    let mut items = Vec::with_capacity(n);
    for r in records {
        match parse_user_patch(r, true) {
            Ok(item) => items.push(item),
            Err(e) => {
                return Reply::Http(error_array(StatusCode::BAD_REQUEST, e.code, &e.message), n);
            }
        }
    }
    let mut users = org.write_users();
    let mut results = Vec::with_capacity(n);
    let mut undo = Vec::new();
    for (i, (id, patch)) in items.into_iter().enumerate() {
        if locked(i) {
            results.push(Err(vec![locked_error()]));
            continue;
        }
        let (r, u) = users.update_one(id.as_deref(), patch, api_user);
        results.push(r);
        undo.extend(u);
    }
    let failed = results.iter().any(Result::is_err);
    if all_or_none && failed {
        for u in undo.into_iter().rev() {
            users.undo(u);
        }
    }
    drop(users);
    if all_or_none && failed {
        org.counters_mut().updates_refused += n as u64;
        let out: Vec<Value> = results
            .iter()
            .map(|r| match r {
                Ok(id) => json!({"id": id, "success": false, "errors": rolled_back()}),
                Err(errs) => json!({"success": false, "errors": rec_errors_per_record(errs)}),
            })
            .collect();
        return Reply::Http(
            json_response(StatusCode::OK, Value::Array(out).to_string()),
            n,
        );
    }
    count(org, &results);
    Reply::Http(json_response(StatusCode::OK, results_body(&results)), n)
}

// ---------- UserLogin ----------

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The UserLogin Id of the user at index `idx` (one row per user, made with it).
pub(crate) fn login_id(idx: u32) -> String {
    ids::make(USER_LOGIN_PREFIX, u64::from(idx) + 1)
}

/// The user index a UserLogin Id (15 or 18 characters) names, if any.
pub(crate) fn login_index(users: &Users, id: &str) -> Option<u32> {
    let id18 = ids::to18(id)?;
    if !id18.starts_with(USER_LOGIN_PREFIX) || &id18[3..6] != "EM0" {
        return None;
    }
    let mut n: u64 = 0;
    for b in id18[6..15].bytes() {
        n = n.checked_mul(62)? + BASE62.iter().position(|&c| c == b)? as u64;
    }
    let idx = u32::try_from(n.checked_sub(1)?).ok()?;
    ((idx as usize) < users.recs.len() && login_id(idx) == id18).then_some(idx)
}

/// Parses one UserLogin update: only `IsFrozen` is settable; `IsPasswordLocked`
/// may only be cleared (reference §2.3).
fn parse_login_patch(
    rec: &RecordIn<'_>,
    in_collection: bool,
) -> Result<Parsed<Option<bool>>, RequestError> {
    let mut id = None;
    let mut frozen = None;
    let mut read_only: Vec<&str> = Vec::new();
    let mut errors = Vec::new();
    for (key, value) in &rec.fields {
        let k = key.to_ascii_lowercase();
        match (k.as_str(), value) {
            ("id", FieldIn::Str(s)) if in_collection => id = Some(s.to_string()),
            ("isfrozen", FieldIn::Bool(b)) => frozen = Some(*b),
            ("ispasswordlocked", FieldIn::Bool(false)) => {}
            ("ispasswordlocked", FieldIn::Bool(true)) => errors.push(RecError::new(
                "FIELD_INTEGRITY_EXCEPTION",
                "IsPasswordLocked can only be set to false.",
                &["IsPasswordLocked"],
            )),
            ("isfrozen" | "ispasswordlocked", v) => {
                return Err(RequestError {
                    code: "JSON_PARSER_ERROR",
                    message: format!(
                        "Cannot deserialize instance of boolean from {} value for field {key}",
                        json_type(v)
                    ),
                });
            }
            ("id", _) => read_only.push("Id"),
            ("userid", _) => read_only.push("UserId"),
            ("lastmodifieddate", _) => read_only.push("LastModifiedDate"),
            _ => {
                return Err(RequestError {
                    code: "INVALID_FIELD",
                    message: format!("No such column '{key}' on sobject of type UserLogin"),
                });
            }
        }
    }
    if !read_only.is_empty() {
        errors.push(read_only_error(&read_only));
    }
    Ok((
        id,
        if errors.is_empty() {
            Ok(frozen)
        } else {
            Err(errors)
        },
    ))
}

fn update_login(
    users: &mut Users,
    id: Option<&str>,
    frozen: Result<Option<bool>, Vec<RecError>>,
) -> Result<(String, u32, bool), Vec<RecError>> {
    let id = id.unwrap_or_default();
    if id.is_empty() {
        return Err(vec![RecError::new(
            "MISSING_ARGUMENT",
            "Id not specified in an update call",
            &[],
        )]);
    }
    let Some(id18) = ids::to18(id).filter(|i| i.starts_with(USER_LOGIN_PREFIX)) else {
        return Err(vec![RecError::new(
            "MALFORMED_ID",
            format!("UserLogin ID: id value of incorrect type: {id}"),
            &["Id"],
        )]);
    };
    let Some(idx) = login_index(users, &id18) else {
        return Err(vec![RecError::new(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            &[],
        )]);
    };
    let frozen = frozen?;
    let before = users.frozen[idx as usize];
    if let Some(f) = frozen {
        users.frozen[idx as usize] = f;
    }
    Ok((id18, idx, before))
}

/// `PATCH sobjects/UserLogin/{id}`: 204, or 400 / 404 as for User.
pub(crate) fn patch_login(org: &Org, id: &str, body: &[u8], locked: bool) -> Reply {
    let rec: RecordIn = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return Reply::Http(parse_error(e), 0),
    };
    let (_, frozen) = match parse_login_patch(&rec, false) {
        Ok(p) => p,
        Err(e) => return Reply::Http(error_array(StatusCode::BAD_REQUEST, e.code, &e.message), 0),
    };
    let mut users = org.write_users();
    if login_index(&users, id).is_none() {
        return Reply::Http(
            error_array(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            ),
            0,
        );
    }
    if locked {
        return Reply::Http(
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                rec_errors_top(&[locked_error()]),
            ),
            1,
        );
    }
    match update_login(&mut users, Some(id), frozen) {
        Ok(_) => Reply::Http(no_content(), 1),
        Err(errs) => Reply::Http(
            json_response(StatusCode::BAD_REQUEST, rec_errors_top(&errs)),
            1,
        ),
    }
}

fn update_logins(
    org: &Org,
    records: &[RecordIn<'_>],
    all_or_none: bool,
    locked: Locked<'_>,
) -> Reply {
    let n = records.len();
    let mut items = Vec::with_capacity(n);
    for r in records {
        match parse_login_patch(r, true) {
            Ok(item) => items.push(item),
            Err(e) => {
                return Reply::Http(error_array(StatusCode::BAD_REQUEST, e.code, &e.message), n);
            }
        }
    }
    let mut users = org.write_users();
    let mut results = Vec::with_capacity(n);
    let mut undo = Vec::new();
    for (i, (id, frozen)) in items.into_iter().enumerate() {
        if locked(i) {
            results.push(Err(vec![locked_error()]));
            continue;
        }
        match update_login(&mut users, id.as_deref(), frozen) {
            Ok((id18, idx, before)) => {
                undo.push((idx, before));
                results.push(Ok(id18));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    let failed = results.iter().any(Result::is_err);
    if all_or_none && failed {
        for (idx, before) in undo.into_iter().rev() {
            users.frozen[idx as usize] = before;
        }
        let out: Vec<Value> = results
            .iter()
            .map(|r| match r {
                Ok(id) => json!({"id": id, "success": false, "errors": rolled_back()}),
                Err(errs) => json!({"success": false, "errors": rec_errors_per_record(errs)}),
            })
            .collect();
        return Reply::Http(
            json_response(StatusCode::OK, Value::Array(out).to_string()),
            n,
        );
    }
    Reply::Http(json_response(StatusCode::OK, results_body(&results)), n)
}

impl Org {
    /// The e-mail address waiting for confirmation on this user (by username), if any.
    pub fn pending_email(&self, username: &str) -> Option<String> {
        let users = self.read_users();
        let idx = *users.by_username.get(&users.username_key(username))?;
        users.pending_email.get(&idx).cloned()
    }

    /// Whether this user's `UserLogin.IsFrozen` is set (by username).
    pub fn is_frozen(&self, username: &str) -> Option<bool> {
        let users = self.read_users();
        let idx = *users.by_username.get(&users.username_key(username))?;
        users.frozen.get(idx as usize).copied()
    }

    /// Active users holding each license, by license name (`Salesforce`, `Chatter Free`, ...).
    pub fn licenses_used(&self) -> Vec<(String, u64)> {
        self.read_users()
            .licenses
            .iter()
            .map(|l| (l.name.clone(), l.used))
            .collect()
    }

    /// The API user's Id for a token issued to `username`: the org user with
    /// that username, if there is one.
    pub(crate) fn api_user_id(&self, username: Option<&str>) -> Option<String> {
        let users = self.read_users();
        let idx = *users.by_username.get(&users.username_key(username?))?;
        users.recs[idx as usize]
            .text(schema::ID)
            .map(str::to_string)
    }
}
