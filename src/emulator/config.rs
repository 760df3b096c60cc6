//! [`OrgConfig`]: everything an emulated org starts from (seed users,
//! profiles, foreign usernames) and every knob (limits, auth, faults), built
//! from `sfsync emulator` flags or directly by tests.
//!
//! Seed files are read here, with errors naming `FILE:LINE`.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use crate::Error;
use crate::cli::EmulatorArgs;
use crate::job::Secret;

use super::access::AccessSeed;
use super::faults::{FaultKind, FaultPlan};
use super::ids;
use super::schema::{self, Ty};

/// The profile every org has unless `--profiles` replaces the set.
/// Default [`OrgConfig::max_body`]: 32 MiB, far above sfsync's largest request
/// (200 records in one collection call, well under 1 MiB).
pub const DEFAULT_MAX_BODY: usize = 32 << 20;

pub const CHATTER_FREE_PROFILE_ID: &str = "00e90000001aV2oAAE";
pub const STANDARD_USER_PROFILE_ID: &str = "00eEM0000000001AAA";
pub const SYSTEM_ADMIN_PROFILE_ID: &str = "00eEM0000000002AAA";

/// A profile: users are created with one, and it holds the license count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSeed {
    /// 18-character Id (15-character input is normalised).
    pub id: String,
    pub name: String,
    /// `UserType` of users with this profile (`Standard`, `CsnOnly`, ...).
    pub user_type: String,
    /// Active users this profile's license allows; `None` = unlimited.
    /// Profiles of one [`license`](Self::license) share one count, capped by the
    /// smallest limit among them.
    pub licenses: Option<u64>,
    /// The user license this profile belongs to (`Salesforce`, `Chatter Free`, ...).
    /// Each profile belongs to exactly one license (lifecycle reference §1.1).
    pub license: String,
}

impl ProfileSeed {
    pub fn new(id: &str, name: &str) -> ProfileSeed {
        let user_type = if name.eq_ignore_ascii_case("Chatter Free User") {
            "CsnOnly"
        } else {
            "Standard"
        };
        ProfileSeed {
            id: ids::to18(id).unwrap_or_else(|| id.to_string()),
            name: name.to_string(),
            user_type: user_type.to_string(),
            licenses: None,
            license: default_license(name),
        }
    }
}

/// The license a profile belongs to when `--profiles` does not say: Chatter
/// Free User has `Chatter Free`, Standard User and System Administrator share
/// `Salesforce`, and any other profile has a license of its own (named after it).
pub fn default_license(profile_name: &str) -> String {
    if profile_name.eq_ignore_ascii_case("Chatter Free User") {
        "Chatter Free".into()
    } else if profile_name.eq_ignore_ascii_case("Standard User")
        || profile_name.eq_ignore_ascii_case("System Administrator")
    {
        "Salesforce".into()
    } else {
        profile_name.to_string()
    }
}

/// The default profile set: Chatter Free User (the seed's `00e90000001aV2o`),
/// Standard User and System Administrator.
pub fn default_profiles() -> Vec<ProfileSeed> {
    vec![
        ProfileSeed::new(CHATTER_FREE_PROFILE_ID, "Chatter Free User"),
        ProfileSeed::new(STANDARD_USER_PROFILE_ID, "Standard User"),
        ProfileSeed::new(SYSTEM_ADMIN_PROFILE_ID, "System Administrator"),
    ]
}

/// A user the org starts with. Text fields by API name (see [`schema::USER_FIELDS`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeedUser {
    /// 15- or 18-character `005` Id; generated when `None`.
    pub id: Option<String>,
    pub is_active: bool,
    /// `(API name, value)` for text fields other than Id.
    pub fields: Vec<(String, String)>,
}

impl SeedUser {
    /// An active user with a plausible value for every required field.
    pub fn new(username: &str) -> SeedUser {
        let local = username.split('@').next().unwrap_or(username);
        SeedUser {
            id: None,
            is_active: true,
            fields: vec![
                ("Username".into(), username.into()),
                ("Email".into(), username.into()),
                ("LastName".into(), local.into()),
                ("Alias".into(), local.chars().take(8).collect()),
                ("ProfileId".into(), STANDARD_USER_PROFILE_ID.into()),
            ],
        }
    }

    /// Sets (or replaces) a text field.
    pub fn with(mut self, field: &str, value: &str) -> SeedUser {
        self.fields.retain(|(f, _)| f != field);
        self.fields.push((field.to_string(), value.to_string()));
        self
    }

    pub fn inactive(mut self) -> SeedUser {
        self.is_active = false;
        self
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(field))
            .map(|(_, v)| v.as_str())
    }
}

/// Credentials the token endpoint insists on. `None` = any non-empty value.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// The `--credentials-file` TOML, as written.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    client_id: Option<String>,
    client_secret: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl Credentials {
    /// Reads `--credentials-file`: TOML with the optional keys `client_id`,
    /// `client_secret`, `username`, `password` (the password followed by the
    /// security token, as clients send it).
    ///
    /// # Errors
    /// [`Error::Usage`] naming the file (and the key or line TOML reports) when
    /// it cannot be read, is not TOML, has an unknown key, or an empty value.
    /// The values themselves are never quoted back.
    pub fn from_file(path: &Path) -> Result<Credentials, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("--credentials-file {}: {e}", path.display())))?;
        let raw: CredentialsFile = toml::from_str(&text).map_err(|e| {
            // TOML's message can quote the offending line, which may hold a secret.
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" at line {line}")
                })
                .unwrap_or_default();
            let what = if e.message().contains("unknown field") {
                e.message().to_string()
            } else {
                "not valid TOML".to_string()
            };
            Error::Usage(format!(
                "--credentials-file {}{at}: {what} (expected the keys client_id, client_secret, username, password)",
                path.display()
            ))
        })?;
        for (key, v) in [
            ("client_id", &raw.client_id),
            ("client_secret", &raw.client_secret),
            ("username", &raw.username),
            ("password", &raw.password),
        ] {
            if v.as_deref() == Some("") {
                return Err(Error::Usage(format!(
                    "--credentials-file {}: `{key}` is empty; remove the key to accept any value",
                    path.display()
                )));
            }
        }
        Ok(Credentials {
            client_id: raw.client_id,
            client_secret: raw.client_secret.map(Secret::new),
            username: raw.username,
            password: raw.password.map(Secret::new),
        })
    }
}

/// `--public-url`: an absolute http(s) URL with a host; the trailing `/` is dropped.
fn check_public_url(u: &str) -> Result<String, Error> {
    let parsed = url::Url::parse(u)
        .map_err(|e| Error::Usage(format!("--public-url {u}: not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::Usage(format!(
            "--public-url {u}: expected http://HOST[:PORT] or https://HOST[:PORT]"
        )));
    }
    Ok(u.trim_end_matches('/').to_string())
}

/// Everything an emulated org starts from.
#[derive(Debug, Clone)]
pub struct OrgConfig {
    pub users: Vec<SeedUser>,
    pub profiles: Vec<ProfileSeed>,
    /// Usernames taken in other orgs: creating one answers DUPLICATE_USERNAME.
    pub foreign_usernames: Vec<String>,
    pub faults: FaultPlan,
    /// Daily API allowance (`Sforce-Limit-Info` max); past it 403 REQUEST_LIMIT_EXCEEDED.
    pub daily_api_limit: u64,
    /// API calls already spent today when the org starts.
    pub api_calls_used: u64,
    /// A token answers this many API calls, then 401 INVALID_SESSION_ID. 0 = no limit.
    pub token_ttl_calls: u64,
    /// A token expires this long after it was issued. `None` = never.
    pub token_ttl: Option<Duration>,
    /// At most this many API requests in flight; more answer 403
    /// REQUEST_LIMIT_EXCEEDED (ConcurrentPerOrgLongTxn). 0 = no cap.
    pub max_in_flight: usize,
    pub credentials: Credentials,
    /// PEM public key that verifies JWT bearer assertions (RS256). `None` = signature not checked.
    pub jwt_public_key: Option<Vec<u8>>,
    /// Accepted JWT `aud` values besides the emulator's own base URL.
    pub jwt_audiences: Vec<String>,
    /// Latest JWT `exp` accepted, in seconds ahead of now.
    pub jwt_max_exp_ahead: Duration,
    /// Answer client-credentials requests as login.salesforce.com does:
    /// 400 "request not supported on this domain".
    pub client_credentials_on_generic_host: bool,
    /// Uniqueness of usernames ignores case (the safe reading of the docs).
    pub case_insensitive_usernames: bool,
    /// How long a query locator stays usable.
    pub cursor_lifetime: Duration,
    /// Most records a query page holds, whatever `batchSize` asks (Salesforce
    /// does not guarantee the size asked for). Default 2,000; smaller values
    /// give the short pages a busy org can answer with.
    pub max_query_page: usize,
    /// Usernames whose deactivation Salesforce refuses (the user is the Default
    /// Workflow User, a default lead or case owner, ...): `IsActive = false`
    /// answers [`UNDEACTIVATABLE_MESSAGE`] (`--undeactivatable`).
    pub undeactivatable: Vec<String>,
    /// Request-log entries kept (oldest dropped first).
    pub log_capacity: usize,
    /// Permission sets, permission set groups, public groups and roles (`--access`).
    pub access: AccessSeed,
    /// The base URL handed out (`--public-url`). `None` = the listening address.
    pub public_url: Option<String>,
    /// `/_emulator/*` answers without a token (`--admin-open`).
    pub admin_open: bool,
    /// Largest request body accepted, in bytes; larger answers 413 before
    /// the session is checked or the body read.
    pub max_body: usize,
    /// How long a client may take to send a request body; past it 408.
    pub body_timeout: Duration,
    /// `--sandbox NAME`: the org is that sandbox (`Organization.IsSandbox`,
    /// its name in `Organization.Name`). `None`: production.
    pub sandbox: Option<String>,
}

impl Default for OrgConfig {
    fn default() -> Self {
        OrgConfig {
            users: Vec::new(),
            profiles: default_profiles(),
            foreign_usernames: Vec::new(),
            faults: FaultPlan::default(),
            daily_api_limit: 15_000,
            api_calls_used: 0,
            token_ttl_calls: 0,
            token_ttl: None,
            max_in_flight: 0,
            credentials: Credentials::default(),
            jwt_public_key: None,
            jwt_audiences: vec![
                "https://login.salesforce.com".into(),
                "https://test.salesforce.com".into(),
            ],
            jwt_max_exp_ahead: Duration::from_secs(300),
            client_credentials_on_generic_host: false,
            case_insensitive_usernames: true,
            cursor_lifetime: Duration::from_secs(2 * 24 * 3600),
            max_query_page: 2000,
            log_capacity: 100_000,
            undeactivatable: Vec::new(),
            access: AccessSeed::default(),
            public_url: None,
            admin_open: false,
            max_body: DEFAULT_MAX_BODY,
            body_timeout: Duration::from_secs(30),
            sandbox: None,
        }
    }
}

impl OrgConfig {
    /// An empty org with the default profiles, no faults, any credentials.
    #[allow(clippy::should_implement_trait)]
    pub fn default() -> OrgConfig {
        <OrgConfig as Default>::default()
    }

    /// Builds the config from `sfsync emulator` flags, reading every file they name.
    pub fn from_args(args: &EmulatorArgs) -> Result<OrgConfig, Error> {
        let mut cfg = OrgConfig::default();
        if let Some(path) = &args.profiles {
            cfg.profiles = read_profiles(path)?;
        }
        if let Some(n) = args.licenses {
            for p in &mut cfg.profiles {
                p.licenses.get_or_insert(n);
            }
        }
        if let Some(path) = &args.foreign_usernames {
            cfg.foreign_usernames = read_foreign_usernames(path)?;
        }
        if let Some(name) = &args.sandbox {
            crate::job::load::check_sandbox_name(name)
                .map_err(|why| Error::Usage(format!("--sandbox: \"{name}\" {why}")))?;
            cfg.sandbox = Some(name.to_ascii_lowercase());
        }
        if let Some(path) = &args.access {
            cfg.access = AccessSeed::read(path)?;
        }
        if let Some(path) = &args.undeactivatable {
            cfg.undeactivatable = read_foreign_usernames(path)?;
        }
        if let Some(path) = &args.users {
            cfg.users = read_users(path, &cfg.profiles)?;
        }
        for (name, rate) in [
            ("--fault-rate", args.fault_rate),
            ("--lost-answer-rate", args.lost_answer_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(Error::Usage(format!(
                    "{name} must be between 0 and 1, got {rate}"
                )));
            }
        }
        let mut kinds = Vec::new();
        for name in &args.faults {
            match FaultKind::from_cli_name(name) {
                Some(k) => kinds.push(k),
                None => {
                    return Err(Error::Usage(format!(
                        "--faults: unknown fault `{name}` (expected 503, 429, drop, lock, lost)"
                    )));
                }
            }
        }
        if kinds.is_empty() {
            kinds = FaultPlan::default().kinds;
        }
        cfg.faults = FaultPlan {
            seed: args.seed,
            latency: Duration::from_millis(args.latency_ms),
            fault_rate: args.fault_rate,
            kinds,
            lost_answer_rate: args.lost_answer_rate,
            retry_after_secs: args.retry_after_secs,
        };
        cfg.daily_api_limit = args.daily_api_limit;
        cfg.token_ttl_calls = args.token_ttl;
        cfg.token_ttl = args.token_ttl_secs.map(Duration::from_secs);
        cfg.max_in_flight = args.max_in_flight;
        if let Some(path) = &args.credentials_file {
            cfg.credentials = Credentials::from_file(path)?;
        }
        if let Some(u) = &args.public_url {
            cfg.public_url = Some(check_public_url(u)?);
        }
        cfg.admin_open = args.admin_open;
        if let Some(path) = &args.jwt_public_key {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Usage(format!("--jwt-public-key {}: {e}", path.display())))?;
            jsonwebtoken::DecodingKey::from_rsa_pem(&pem).map_err(|e| {
                Error::Usage(format!(
                    "--jwt-public-key {}: not an RSA public key in PEM form ({e})",
                    path.display()
                ))
            })?;
            cfg.jwt_public_key = Some(pem);
        }
        cfg.jwt_audiences.extend(args.jwt_audience.iter().cloned());
        cfg.client_credentials_on_generic_host = args.client_credentials_on_generic_host;
        Ok(cfg)
    }
}

fn read_err(path: &Path, line: u64, msg: impl std::fmt::Display) -> Error {
    Error::Usage(format!("{}:{line}: {msg}", path.display()))
}

fn open_csv(path: &Path) -> Result<csv::Reader<std::fs::File>, Error> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
}

fn csv_line(e: &csv::Error) -> u64 {
    e.position().map(|p| p.line()).unwrap_or(0)
}

/// `--profiles`: CSV with `Id,Name` and optional `Licenses` (a whole number)
/// and `License` (the user license's name, see [`default_license`]) columns.
pub fn read_profiles(path: &Path) -> Result<Vec<ProfileSeed>, Error> {
    let mut rdr = open_csv(path)?;
    let headers = rdr
        .headers()
        .map_err(|e| read_err(path, 1, e))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id_col), Some(name_col)) = (col("id"), col("name")) else {
        return Err(read_err(path, 1, "expected a header with columns Id,Name"));
    };
    let lic_col = col("licenses");
    let license_col = col("license");
    let mut out: Vec<ProfileSeed> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| read_err(path, csv_line(&e), e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let id = rec.get(id_col).unwrap_or("");
        let name = rec.get(name_col).unwrap_or("");
        let Some(id18) = ids::to18(id).filter(|i| i.starts_with("00e")) else {
            return Err(read_err(
                path,
                line,
                format!("`{id}` is not a 15/18-character 00e Id"),
            ));
        };
        if name.is_empty() {
            return Err(read_err(path, line, "empty Name"));
        }
        if out.iter().any(|p| p.id == id18) {
            return Err(read_err(
                path,
                line,
                format!("profile Id `{id}` appears twice"),
            ));
        }
        let mut p = ProfileSeed::new(&id18, name);
        if let Some(c) = lic_col {
            let v = rec.get(c).unwrap_or("");
            if !v.is_empty() {
                p.licenses = Some(v.parse().map_err(|_| {
                    read_err(path, line, format!("Licenses `{v}` is not a whole number"))
                })?);
            }
        }
        if let Some(c) = license_col {
            let v = rec.get(c).unwrap_or("");
            if !v.is_empty() {
                p.license = v.to_string();
            }
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err(read_err(path, 1, "no profiles"));
    }
    Ok(out)
}

/// What Salesforce answers when a user it cannot deactivate is deactivated
/// (help 000384586; lifecycle reference §2.2). The code is
/// `FIELD_INTEGRITY_EXCEPTION`, the reference's default for an unconfirmed code.
pub const UNDEACTIVATABLE_MESSAGE: &str = "You cannot deactivate the Default Workflow User";

/// `--foreign-usernames` and `--undeactivatable`: one username per line; `#`
/// comments and blank lines ignored.
pub fn read_foreign_usernames(path: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.contains('@') || line.contains(char::is_whitespace) {
            return Err(read_err(
                path,
                i as u64 + 1,
                format!("`{line}` is not a username"),
            ));
        }
        out.push(line.to_string());
    }
    Ok(out)
}

/// `--users`: a CSV export of an org's users. Columns are User field API
/// names (case-insensitive); `Username` is required, the rest optional.
pub fn read_users(path: &Path, profiles: &[ProfileSeed]) -> Result<Vec<SeedUser>, Error> {
    let mut rdr = open_csv(path)?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| read_err(path, 1, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut columns = Vec::with_capacity(headers.len());
    for h in &headers {
        match schema::user_field(h) {
            Some(f) if f.name == "Name" => {
                return Err(read_err(
                    path,
                    1,
                    "column `Name` is read-only; use FirstName and LastName",
                ));
            }
            Some(f) => columns.push(f),
            None => {
                return Err(read_err(
                    path,
                    1,
                    format!("unknown User field `{h}` in header"),
                ));
            }
        }
    }
    if !columns.iter().any(|f| f.name == "Username") {
        return Err(read_err(path, 1, "the header has no Username column"));
    }
    let mut seen_usernames = HashSet::new();
    let mut seen_ids = HashSet::new();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| read_err(path, csv_line(&e), e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let mut user = SeedUser {
            id: None,
            is_active: true,
            fields: Vec::new(),
        };
        for (f, v) in columns.iter().zip(rec.iter()) {
            if v.is_empty() {
                continue;
            }
            match f.ty {
                Ty::Bool { .. } => {
                    let b = match v.to_ascii_lowercase().as_str() {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => {
                            return Err(read_err(
                                path,
                                line,
                                format!("{}: `{v}` is not true/false", f.name),
                            ));
                        }
                    };
                    if f.name == "IsActive" {
                        user.is_active = b;
                    }
                }
                Ty::Text { max, .. } => {
                    if f.name == "Id" {
                        match ids::to18(v).filter(|i| i.starts_with("005")) {
                            Some(id) if seen_ids.insert(id.clone()) => user.id = Some(id),
                            Some(_) => {
                                return Err(read_err(
                                    path,
                                    line,
                                    format!("Id `{v}` appears twice"),
                                ));
                            }
                            None => {
                                return Err(read_err(
                                    path,
                                    line,
                                    format!("Id `{v}` is not a 15/18-character 005 Id"),
                                ));
                            }
                        }
                        continue;
                    }
                    if v.chars().count() > max {
                        return Err(read_err(
                            path,
                            line,
                            format!("{} is longer than {max} characters", f.name),
                        ));
                    }
                    if f.name == "ProfileId" {
                        let known =
                            ids::to18(v).is_some_and(|id| profiles.iter().any(|p| p.id == id));
                        if !known {
                            return Err(read_err(
                                path,
                                line,
                                format!("ProfileId `{v}` is not one of the org's profiles"),
                            ));
                        }
                    }
                    user.fields.push((f.name.to_string(), v.to_string()));
                }
                Ty::Name => {}
            }
        }
        let Some(username) = user.get("Username").map(str::to_string) else {
            return Err(read_err(path, line, "empty Username"));
        };
        if !seen_usernames.insert(username.to_lowercase()) {
            return Err(read_err(
                path,
                line,
                format!("username `{username}` appears twice"),
            ));
        }
        // Exports sometimes leave out columns the org always has; fill them plausibly.
        if user.get("ProfileId").is_none()
            && let Some(p) = profiles.first()
        {
            user.fields.push(("ProfileId".into(), p.id.clone()));
        }
        let defaults = SeedUser::new(&username);
        for (k, v) in defaults.fields {
            if user.get(&k).is_none() {
                user.fields.push((k, v));
            }
        }
        out.push(user);
    }
    Ok(out)
}

#[cfg(test)]
mod credentials_file_tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("creds.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_the_four_keys_and_names_problems_without_quoting_secrets() {
        let (_d, p) = write(
            "client_id = \"cid\"\nclient_secret = \"s3cret\"\nusername = \"u@x.com\"\npassword = \"pwTOKEN\"\n",
        );
        let c = Credentials::from_file(&p).unwrap();
        assert_eq!(c.client_id.as_deref(), Some("cid"));
        assert_eq!(c.password.unwrap().expose(), "pwTOKEN");

        let (_d, p) = write("username = \"u@x.com\"\npasword = \"hunter2\"\n");
        let e = Credentials::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("unknown field `pasword`"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");

        let (_d, p) = write("password = \"unterminated\n");
        let e = Credentials::from_file(&p).unwrap_err().to_string();
        assert!(
            e.contains("not valid TOML") && !e.contains("unterminated"),
            "{e}"
        );

        let (_d, p) = write("password = \"\"\n");
        let e = Credentials::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("`password` is empty"), "{e}");
    }
}
