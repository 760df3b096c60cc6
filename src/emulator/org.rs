//! The org's state: users (packed, one allocation each, so a million fit in a
//! few hundred MB), the uniqueness indexes, profiles and license counts,
//! sessions, query cursors, the request log and counters.
//!
//! Creates hold the users' write lock across check and insert, so two tasks
//! creating the same username at once cannot both win.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use serde::Serialize;

use super::access::Access;
use super::config::{OrgConfig, ProfileSeed};
use super::ids;
use super::log::{Counters, RequestLog, RequestRecord};
use super::schema::{self, TEXT_SLOTS, Ty};
use super::soql::Cursor;
use super::validate::{NewUser, RecError};

/// One user, packed: all text fields in one string, slot ends as u16, null
/// slots and booleans as bits.
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    buf: Box<str>,
    ends: [u16; TEXT_SLOTS],
    nulls: u64,
    pub(super) bools: u8,
}

impl UserRec {
    pub(super) fn pack(texts: &[Option<&str>], bools: u8) -> UserRec {
        let len: usize = texts.iter().map(|t| t.map_or(0, str::len)).sum();
        let mut buf = String::with_capacity(len);
        let mut ends = [0u16; TEXT_SLOTS];
        let mut nulls = 0u64;
        for (slot, t) in texts.iter().enumerate() {
            match t {
                Some(s) => buf.push_str(s),
                None => nulls |= 1 << slot,
            }
            ends[slot] = buf.len() as u16;
        }
        UserRec {
            buf: buf.into_boxed_str(),
            ends,
            nulls,
            bools,
        }
    }

    #[inline]
    pub(crate) fn text(&self, slot: usize) -> Option<&str> {
        if self.nulls & (1 << slot) != 0 {
            return None;
        }
        let start = if slot == 0 {
            0
        } else {
            self.ends[slot - 1] as usize
        };
        Some(&self.buf[start..self.ends[slot] as usize])
    }

    #[inline]
    pub(crate) fn flag(&self, bit: u8) -> bool {
        self.bools & (1 << bit) != 0
    }

    pub(crate) fn is_active(&self) -> bool {
        self.flag(schema::IS_ACTIVE_BIT)
    }

    /// `Name`: FirstName and LastName joined by a space.
    pub(crate) fn name(&self) -> Cow<'_, str> {
        match (self.text(schema::FIRST_NAME), self.text(schema::LAST_NAME)) {
            (Some(f), Some(l)) => Cow::Owned(format!("{f} {l}")),
            (None, Some(l)) => Cow::Borrowed(l),
            (Some(f), None) => Cow::Borrowed(f),
            (None, None) => Cow::Borrowed(""),
        }
    }

    pub(super) fn unpack(&self) -> Vec<Option<&str>> {
        (0..TEXT_SLOTS).map(|s| self.text(s)).collect()
    }
}

/// A snapshot of one user, as tests and `/_emulator/users` see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EmulatedUser {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub alias: Option<String>,
    pub is_active: bool,
    pub federation_identifier: Option<String>,
    pub profile_id: String,
    pub community_nickname: Option<String>,
    pub employee_number: Option<String>,
    pub user_type: Option<String>,
    pub time_zone_sid_key: Option<String>,
    pub locale_sid_key: Option<String>,
    pub email_encoding_key: Option<String>,
    pub language_locale_key: Option<String>,
    pub created_date: Option<String>,
}

impl EmulatedUser {
    fn from_rec(r: &UserRec) -> EmulatedUser {
        let s = |slot| r.text(slot).map(str::to_string);
        EmulatedUser {
            id: s(schema::ID).unwrap_or_default(),
            username: s(schema::USERNAME).unwrap_or_default(),
            email: s(schema::EMAIL),
            first_name: s(schema::FIRST_NAME),
            last_name: s(schema::LAST_NAME),
            alias: s(schema::ALIAS),
            is_active: r.is_active(),
            federation_identifier: s(schema::FEDERATION_ID),
            profile_id: s(schema::PROFILE_ID).unwrap_or_default(),
            community_nickname: s(schema::NICKNAME),
            employee_number: s(schema::EMPLOYEE_NUMBER),
            user_type: s(schema::USER_TYPE),
            time_zone_sid_key: s(schema::TIME_ZONE),
            locale_sid_key: s(schema::LOCALE),
            email_encoding_key: s(schema::EMAIL_ENCODING),
            language_locale_key: s(schema::LANGUAGE),
            created_date: s(schema::CREATED_DATE),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub seed: ProfileSeed,
    /// Index into [`Users::licenses`].
    pub license: usize,
}

/// One user license: every active user of one of its profiles holds one.
#[derive(Debug, Clone)]
pub(crate) struct License {
    pub name: String,
    /// The smallest limit among its profiles; `None` = unlimited.
    pub total: Option<u64>,
    /// Active users holding it.
    pub used: u64,
}

/// Users and everything that must change together with them.
#[derive(Debug, Clone)]
pub(crate) struct Users {
    pub recs: Vec<UserRec>,
    pub(super) by_username: HashMap<Box<str>, u32>,
    pub(super) by_nickname: HashMap<Box<str>, u32>,
    pub(super) by_federation_id: HashMap<Box<str>, u32>,
    /// 18-character Id bytes, inline: one allocation fewer per user.
    pub(super) by_id: HashMap<[u8; 18], u32>,
    pub(super) foreign: HashSet<Box<str>>,
    pub profiles: Vec<Profile>,
    pub licenses: Vec<License>,
    /// `UserLogin.IsFrozen`, one per user (index as in `recs`); the UserLogin
    /// row's Id is derived from the index (see [`super::lifecycle`]).
    pub frozen: Vec<bool>,
    /// E-mail changes waiting for the owner's confirmation, by user index.
    pub pending_email: HashMap<u32, String>,
    /// Usernames (as [`Users::username_key`]) whose deactivation is refused.
    pub(super) undeactivatable: HashSet<Box<str>>,
    /// Permission sets, groups, roles, assignments and memberships.
    pub access: Access,
    next_n: u64,
    /// Insertion order is `Id` order (true until a seed brings its own Ids out
    /// of order), so `ORDER BY Id` needs no sort.
    pub ids_in_order: bool,
    case_insensitive: bool,
}

/// Per-record result of a create: the new Id, or why not.
pub(crate) type CreateResult = Result<String, Vec<RecError>>;

/// An 18-character Id (as made by [`ids::to18`] or [`ids::make`]) as a map key.
pub(super) fn id_key(id18: &str) -> [u8; 18] {
    let mut k = [0u8; 18];
    let b = id18.as_bytes();
    k[..b.len().min(18)].copy_from_slice(&b[..b.len().min(18)]);
    k
}

pub(super) fn lower(s: &str) -> Box<str> {
    s.to_lowercase().into_boxed_str()
}

/// `2025-11-03T09:15:27.000+0000`, Salesforce's datetime form.
pub(crate) fn sf_datetime(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

impl Users {
    fn new(cfg: &OrgConfig) -> Users {
        let mut licenses: Vec<License> = Vec::new();
        let mut profiles = Vec::with_capacity(cfg.profiles.len());
        for p in &cfg.profiles {
            let l = match licenses.iter().position(|l| l.name == p.license) {
                Some(l) => l,
                None => {
                    licenses.push(License {
                        name: p.license.clone(),
                        total: None,
                        used: 0,
                    });
                    licenses.len() - 1
                }
            };
            if let Some(n) = p.licenses {
                licenses[l].total = Some(licenses[l].total.map_or(n, |t| t.min(n)));
            }
            profiles.push(Profile {
                seed: p.clone(),
                license: l,
            });
        }
        let mut u = Users {
            recs: Vec::with_capacity(cfg.users.len()),
            by_username: HashMap::with_capacity(cfg.users.len()),
            by_nickname: HashMap::with_capacity(cfg.users.len()),
            by_federation_id: HashMap::new(),
            by_id: HashMap::with_capacity(cfg.users.len()),
            foreign: HashSet::new(),
            profiles,
            licenses,
            frozen: Vec::with_capacity(cfg.users.len()),
            pending_email: HashMap::new(),
            undeactivatable: HashSet::new(),
            access: Access::new(&cfg.access),
            next_n: 1,
            ids_in_order: true,
            case_insensitive: cfg.case_insensitive_usernames,
        };
        u.foreign = cfg
            .foreign_usernames
            .iter()
            .map(|n| u.username_key(n))
            .collect();
        u.undeactivatable = cfg
            .undeactivatable
            .iter()
            .map(|n| u.username_key(n))
            .collect();
        let now = sf_datetime(time::OffsetDateTime::now_utc());
        for seed in &cfg.users {
            let mut texts: Vec<Option<String>> = vec![None; TEXT_SLOTS];
            for (name, value) in &seed.fields {
                if let Some(f) = schema::user_field(name)
                    && let Ty::Text { slot, .. } = f.ty
                {
                    texts[slot] = Some(value.clone());
                }
            }
            if let Some(p) = texts[schema::PROFILE_ID].as_deref().and_then(ids::to18) {
                texts[schema::PROFILE_ID] = Some(p);
            }
            let bools = u8::from(seed.is_active) << schema::IS_ACTIVE_BIT;
            let id = seed.id.as_deref().and_then(ids::to18);
            let new = NewUser { texts, bools };
            let Some(username) = new.text(schema::USERNAME) else {
                continue;
            };
            if u.by_username.contains_key(&u.username_key(username)) {
                tracing::warn!(%username, "Seed user appears twice; the later row is ignored.");
                continue;
            }
            if new.text(schema::NICKNAME).is_none() {
                let nick = u.free_nickname(username, &HashSet::new());
                let mut new = new;
                new.texts[schema::NICKNAME] = Some(nick);
                u.commit(new, id, &now);
            } else {
                u.commit(new, id, &now);
            }
        }
        u
    }

    pub(super) fn username_key(&self, username: &str) -> Box<str> {
        if self.case_insensitive {
            lower(username)
        } else {
            username.into()
        }
    }

    pub(crate) fn profile(&self, id18: &str) -> Option<usize> {
        self.profiles.iter().position(|p| p.seed.id == id18)
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<&UserRec> {
        let id = ids::to18(id)?;
        self.by_id
            .get(&id_key(&id))
            .map(|&i| &self.recs[i as usize])
    }

    /// The username's local part, then with 1, 2, ... appended, until free.
    fn free_nickname(&self, username: &str, pending: &HashSet<Box<str>>) -> String {
        let local: String = username
            .split('@')
            .next()
            .unwrap_or(username)
            .chars()
            .take(34)
            .collect();
        let taken = |n: &str| {
            let k = lower(n);
            self.by_nickname.contains_key(&k) || pending.contains(&k)
        };
        if !taken(&local) {
            return local;
        }
        (1u64..)
            .map(|i| format!("{local}{i}"))
            .find(|n| !taken(n))
            .expect("some suffix is free")
    }

    /// Inserts a checked user; returns its Id.
    fn commit(&mut self, mut new: NewUser, id: Option<String>, now: &str) -> String {
        let id = id.unwrap_or_else(|| {
            loop {
                let candidate = ids::make("005", self.next_n);
                self.next_n += 1;
                if !self.by_id.contains_key(&id_key(&candidate)) {
                    break candidate;
                }
            }
        });
        if let Some(last) = self.recs.last().and_then(|r| r.text(schema::ID))
            && *last >= *id.as_str()
        {
            self.ids_in_order = false;
        }
        let profile = new.text(schema::PROFILE_ID).and_then(|p| self.profile(p));
        if let Some(p) = profile {
            if new.is_active() {
                self.licenses[self.profiles[p].license].used += 1;
            }
            if new.texts[schema::USER_TYPE].is_none() {
                new.texts[schema::USER_TYPE] = Some(self.profiles[p].seed.user_type.clone());
            }
        }
        for slot in [schema::CREATED_DATE, schema::LAST_MODIFIED_DATE] {
            if new.texts[slot].is_none() {
                new.texts[slot] = Some(now.to_string());
            }
        }
        new.texts[schema::ID] = Some(id.clone());
        let idx = self.recs.len() as u32;
        let texts: Vec<Option<&str>> = new.texts.iter().map(|t| t.as_deref()).collect();
        let rec = UserRec::pack(&texts, new.bools);
        if let Some(u) = rec.text(schema::USERNAME) {
            let k = self.username_key(u);
            self.by_username.insert(k, idx);
        }
        if let Some(n) = rec.text(schema::NICKNAME) {
            self.by_nickname.insert(lower(n), idx);
        }
        if let Some(f) = rec.text(schema::FEDERATION_ID) {
            self.by_federation_id.insert(lower(f), idx);
        }
        self.by_id.insert(id_key(&id), idx);
        self.recs.push(rec);
        self.frozen.push(false);
        id
    }

    /// Checks the org-wide rules for a batch and commits what passes.
    ///
    /// `locked(i)` injects UNABLE_TO_LOCK_ROW for record `i`. With
    /// `all_or_none`, one failure rolls everything back.
    pub(crate) fn create(
        &mut self,
        batch: Vec<Result<NewUser, Vec<RecError>>>,
        all_or_none: bool,
        locked: &dyn Fn(usize) -> bool,
    ) -> Vec<CreateResult> {
        let mut pending_usernames: HashSet<Box<str>> = HashSet::new();
        let mut pending_nicknames: HashSet<Box<str>> = HashSet::new();
        let mut pending_fed: HashSet<Box<str>> = HashSet::new();
        // Licenses claimed by earlier records of this batch, by license index.
        let mut pending_active: HashMap<usize, u64> = HashMap::new();
        let mut checked: Vec<Result<NewUser, Vec<RecError>>> = Vec::with_capacity(batch.len());
        for (i, rec) in batch.into_iter().enumerate() {
            let mut new = match rec {
                Ok(n) => n,
                Err(e) => {
                    checked.push(Err(e));
                    continue;
                }
            };
            if locked(i) {
                checked.push(Err(vec![RecError::new(
                    "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record or 1 records: 00DEM0000000001",
                    &[],
                )]));
                continue;
            }
            let mut errors = Vec::new();
            let username = new.text(schema::USERNAME).unwrap_or_default();
            let ukey = self.username_key(username);
            if self.by_username.contains_key(&ukey)
                || self.foreign.contains(&ukey)
                || pending_usernames.contains(&ukey)
            {
                errors.push(RecError::new(
                    "DUPLICATE_USERNAME",
                    "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address).",
                    &["Username"],
                ));
            }
            if let Some(n) = new.text(schema::NICKNAME) {
                let k = lower(n);
                if self.by_nickname.contains_key(&k) || pending_nicknames.contains(&k) {
                    errors.push(RecError::new(
                        "DUPLICATE_COMM_NICKNAME",
                        "Duplicate Nickname.<br>Another user has already selected this nickname.<br>Please select another.",
                        &["CommunityNickname"],
                    ));
                }
            }
            if let Some(f) = new.text(schema::FEDERATION_ID) {
                let k = lower(f);
                if self.by_federation_id.contains_key(&k) || pending_fed.contains(&k) {
                    errors.push(RecError::new(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "This Federation ID is already in use. Use a different Federation ID.",
                        &["FederationIdentifier"],
                    ));
                }
            }
            if let Some(r) = new.text(schema::USER_ROLE_ID)
                && !self.access.role_exists(r)
            {
                errors.push(RecError::new(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    &["UserRoleId"],
                ));
            }
            if let Some(m) = new.text(schema::MANAGER_ID)
                && self.by_id(m).is_none()
            {
                errors.push(RecError::new(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    &["ManagerId"],
                ));
            }
            let license = new
                .text(schema::PROFILE_ID)
                .and_then(|p| self.profile(p))
                .map(|p| self.profiles[p].license);
            if errors.is_empty()
                && new.is_active()
                && let Some(l) = license
                && let Some(max) = self.licenses[l].total
            {
                let used = self.licenses[l].used + pending_active.get(&l).copied().unwrap_or(0);
                if used >= max {
                    errors.push(RecError::new(
                        "LICENSE_LIMIT_EXCEEDED",
                        "License Limit Exceeded",
                        &[],
                    ));
                }
            }
            if !errors.is_empty() {
                checked.push(Err(errors));
                continue;
            }
            if new.text(schema::NICKNAME).is_none() {
                let nick = self.free_nickname(username, &pending_nicknames);
                new.texts[schema::NICKNAME] = Some(nick);
            }
            pending_usernames.insert(ukey);
            pending_nicknames.insert(lower(new.text(schema::NICKNAME).unwrap_or_default()));
            if let Some(f) = new.text(schema::FEDERATION_ID) {
                pending_fed.insert(lower(f));
            }
            if let (Some(l), true) = (license, new.is_active()) {
                *pending_active.entry(l).or_default() += 1;
            }
            checked.push(Ok(new));
        }

        if all_or_none && checked.iter().any(Result::is_err) {
            return checked
                .into_iter()
                .map(|r| match r {
                    Err(e) => Err(e),
                    Ok(_) => Err(vec![RecError::new(
                        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "Record rolled back because not all records were valid and the request was using AllOrNone header",
                        &[],
                    )]),
                })
                .collect();
        }
        let now = sf_datetime(time::OffsetDateTime::now_utc());
        checked
            .into_iter()
            .map(|r| r.map(|new| self.commit(new, None, &now)))
            .collect()
    }
}

/// A session issued by the token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub issued: Instant,
    pub calls: u64,
    /// The API user's 18-character Id (the token's user), when it is one of the org's users.
    pub user_id: Option<String>,
    /// Who logged in (the password-flow or SOAP username, the JWT subject).
    pub username: String,
}

/// The emulated org: shared state behind one `Arc`.
#[derive(Debug)]
pub struct Org {
    pub(crate) cfg: OrgConfig,
    pub(crate) users: RwLock<Users>,
    pub(crate) sessions: Mutex<HashMap<String, Session>>,
    pub(crate) cursors: Mutex<HashMap<String, Arc<Cursor>>>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) counters: Mutex<Counters>,
    pub(crate) epoch: Instant,
    /// API calls spent against the daily allowance.
    pub(crate) api_used: AtomicU64,
    /// Position among API requests, for the fault plan.
    pub(crate) api_seq: AtomicU64,
    /// Position among all requests, for the log.
    pub(crate) req_seq: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) next_cursor: AtomicU64,
    /// `http://127.0.0.1:PORT`, set when the org is served.
    pub(crate) base_url: OnceLock<String>,
    pub(crate) org_id: String,
}

impl Org {
    pub fn new(mut cfg: OrgConfig) -> Org {
        let users = Users::new(&cfg);
        // The seed lives on in `users`; keeping a second copy would double a big org's memory.
        cfg.users = Vec::new();
        Org {
            log: Mutex::new(RequestLog::new(cfg.log_capacity)),
            api_used: AtomicU64::new(cfg.api_calls_used),
            cfg,
            users: RwLock::new(users),
            sessions: Mutex::new(HashMap::new()),
            cursors: Mutex::new(HashMap::new()),
            counters: Mutex::new(Counters::default()),
            epoch: Instant::now(),
            api_seq: AtomicU64::new(0),
            req_seq: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            next_cursor: AtomicU64::new(1),
            base_url: OnceLock::new(),
            org_id: ids::make("00D", 1),
        }
    }

    pub fn config(&self) -> &OrgConfig {
        &self.cfg
    }

    /// API calls spent today against [`OrgConfig::daily_api_limit`] (what
    /// `Sforce-Limit-Info` reports as used; [`OrgConfig::api_calls_used`] included).
    pub fn api_used(&self) -> u64 {
        self.api_used.load(Ordering::SeqCst)
    }

    /// Sets the calls spent today: `0` is the next day's fresh allowance
    /// (tests and rehearsals that span "nights").
    pub fn set_api_used(&self, used: u64) {
        self.api_used.store(used, Ordering::SeqCst);
    }

    /// The base URL the org is served at, once it is.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.get().map(String::as_str)
    }

    pub(crate) fn read_users(&self) -> std::sync::RwLockReadGuard<'_, Users> {
        self.users.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write_users(&self) -> std::sync::RwLockWriteGuard<'_, Users> {
        self.users.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn counters_mut(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn push_log(&self, r: RequestRecord) {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    }

    /// Microseconds since the org was created.
    pub(crate) fn micros(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// A snapshot of every user, in insertion order.
    pub fn users(&self) -> Vec<EmulatedUser> {
        self.read_users()
            .recs
            .iter()
            .map(EmulatedUser::from_rec)
            .collect()
    }

    /// Every PermissionSetAssignment and GroupMember row as `(username,
    /// "PermissionSet:Name" | "PermissionSetGroup:DeveloperName" |
    /// "Group:DeveloperName")`, in insertion order: what tests and benchmarks
    /// read back without going through the API (and its faults).
    pub fn access_rows(&self) -> Vec<(String, String)> {
        let users = self.read_users();
        let a = &users.access;
        let id15 = |id: &str| id.get(..15).unwrap_or(id).to_owned();
        let mut names: HashMap<String, String> = HashMap::new();
        for (prefix, list) in [
            ("PermissionSet", &a.permission_sets),
            ("PermissionSetGroup", &a.permission_set_groups),
            ("Group", &a.groups),
        ] {
            for n in list {
                names.insert(id15(&n.id), format!("{prefix}:{}", n.name));
            }
        }
        let usernames: HashMap<String, String> = users
            .recs
            .iter()
            .map(EmulatedUser::from_rec)
            .map(|u| (id15(&u.id), u.username))
            .collect();
        a.assignments
            .iter()
            .chain(&a.members)
            .filter_map(|l| {
                let target = l.target.as_deref().or(l.group.as_deref())?;
                Some((
                    usernames.get(&id15(&l.user))?.clone(),
                    names.get(&id15(target))?.clone(),
                ))
            })
            .collect()
    }

    /// Number of users, without copying them.
    pub fn user_count(&self) -> usize {
        self.read_users().recs.len()
    }

    /// The request log, in arrival order.
    pub fn log(&self) -> Vec<RequestRecord> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot()
    }

    pub fn counters(&self) -> Counters {
        let mut c = self.counters_mut().clone();
        c.api_calls = self.api_used.load(Ordering::SeqCst);
        c
    }

    /// Writes the org's users as CSV in the `--users` seed format (plus the
    /// other createable fields), so a saved org can seed the next run.
    pub fn save_csv(&self, path: &Path) -> io::Result<()> {
        let columns: Vec<&schema::FieldDef> = schema::USER_FIELDS
            .iter()
            .filter(|f| {
                f.name == "Id"
                    || (f.createable && matches!(f.ty, Ty::Text { .. } | Ty::Bool { .. }))
            })
            .collect();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut w = csv::Writer::from_writer(io::BufWriter::new(tmp.as_file()));
            w.write_record(columns.iter().map(|f| f.name))?;
            let users = self.read_users();
            for r in &users.recs {
                let row: Vec<Cow<'_, str>> = columns
                    .iter()
                    .map(|f| match f.ty {
                        Ty::Text { slot, .. } => Cow::Borrowed(r.text(slot).unwrap_or("")),
                        Ty::Bool { bit } => {
                            Cow::Borrowed(if r.flag(bit) { "true" } else { "false" })
                        }
                        Ty::Name => r.name(),
                    })
                    .collect();
                w.write_record(row.iter().map(|c| c.as_bytes()))?;
            }
            w.flush()?;
        }
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}
