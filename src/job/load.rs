//! Loading a job file: TOML -> [`Job`], every problem reported at once.
//!
//! The file is read into a TOML table and each section is walked key by key
//! against the keys it may hold, so that one pass reports every unknown key,
//! wrong type and missing value with its key path (`limits.concurrency`),
//! instead of stopping at the first as a derived deserializer would.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::access::{AccessConfig, AccessRule, Grants, RuleTest};
use super::{
    AuthConfig, CollisionsConfig, CsvSource, DefaultValue, FieldSpec, Job, LdapSource,
    LeaverAction, LeaversConfig, Limits, MultiValue, Safety, SalesforceConfig, SecretFrom,
    SecretRef, SourceConfig, UpdateConfig,
};
use crate::template::{AttrKind, Template};

/// User fields Salesforce requires on create (reference 4.1); each must be mapped or defaulted.
pub const REQUIRED_FIELDS: [&str; 9] = [
    "Username",
    "LastName",
    "Email",
    "Alias",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "EmailEncodingKey",
    "LanguageLocaleKey",
    "ProfileId",
];

/// The `*_env` / `*_file` keys of `[salesforce]` across the three auth flows.
const CREDENTIAL_KEYS: [&str; 10] = [
    "client_id_env",
    "client_id_file",
    "client_secret_env",
    "client_secret_file",
    "username_env",
    "username_file",
    "password_env",
    "password_file",
    "private_key_env",
    "private_key_file",
];

/// Every problem in one job file. Display lists them one per line under the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(path, problems))]
pub struct JobError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

fn render(path: &Path, problems: &[String]) -> String {
    let mut out = format!(
        "job file {} has {} problem{}:",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(p);
    }
    out
}

/// Reads and validates the job file at `path`.
pub fn load(path: &Path) -> Result<Job, JobError> {
    let fail = |msg: String| JobError {
        path: path.to_owned(),
        problems: vec![msg],
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    parse(&text, path)
}

/// Validates job-file text; `path` names it in messages and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Job, JobError> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| JobError {
        path: path.to_owned(),
        problems: vec![format!("not valid TOML: {}", e.to_string().trim_end())],
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let mut v = Validator {
        problems: Vec::new(),
        broken: Vec::new(),
        dir,
    };
    let job = v.job(&table, path);
    match job {
        Some(job) if v.problems.is_empty() => Ok(job),
        _ => Err(JobError {
            path: path.to_owned(),
            problems: v.problems,
        }),
    }
}

struct Validator {
    problems: Vec<String>,
    /// Mapped fields already reported as broken (bad template, no [mapping]):
    /// later checks stay quiet about them rather than repeat the problem.
    broken: Vec<String>,
    /// The job file's folder: relative paths are resolved against it.
    dir: PathBuf,
}

/// One section being walked: reports unknown keys once all known ones are taken.
struct Section<'a> {
    name: &'a str,
    table: Option<&'a Table>,
    taken: BTreeSet<&'a str>,
}

impl Validator {
    fn problem(&mut self, msg: impl Into<String>) {
        self.problems.push(msg.into());
    }

    fn section<'a>(&mut self, root: &'a Table, name: &'a str, required: bool) -> Section<'a> {
        let table = match root.get(name) {
            Some(Value::Table(t)) => Some(t),
            Some(other) => {
                self.problem(format!(
                    "{name}: expected a table `[{name}]`, found {}",
                    kind(other)
                ));
                None
            }
            None => {
                if required {
                    self.problem(format!("[{name}]: missing section"));
                }
                None
            }
        };
        Section {
            name,
            table,
            taken: BTreeSet::new(),
        }
    }

    /// Takes `section.key` as a `T`; a wrong type is a problem naming the key and what was expected.
    fn get<T: DeserializeOwned>(
        &mut self,
        s: &mut Section<'_>,
        key: &'static str,
        expected: &str,
    ) -> Option<T> {
        s.taken.insert(key);
        let value = s.table?.get(key)?;
        match value.clone().try_into::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.problem(format!(
                    "{}.{key}: expected {expected}, found {}",
                    s.name,
                    kind(value)
                ));
                None
            }
        }
    }

    fn require<T: DeserializeOwned>(
        &mut self,
        s: &mut Section<'_>,
        key: &'static str,
        expected: &str,
    ) -> Option<T> {
        let present = s.table.is_some_and(|t| t.contains_key(key));
        let v = self.get(s, key, expected);
        if !present && s.table.is_some() {
            self.problem(format!("{}.{key}: missing; expected {expected}", s.name));
        }
        v
    }

    /// Reports keys of the section that nothing took.
    fn finish(&mut self, s: Section<'_>) {
        let Some(table) = s.table else { return };
        for key in table.keys() {
            if !s.taken.contains(key.as_str()) {
                let known: Vec<&str> = s.taken.iter().copied().collect();
                self.problem(format!(
                    "{}.{key}: unknown key; expected one of: {}",
                    s.name,
                    known.join(", ")
                ));
            }
        }
    }

    /// Resolves against the job file's folder, folding `..` so messages and
    /// reports show `/etc/sfsync/people.csv`, not `/etc/sfsync/jobs/../people.csv`.
    fn path(&self, p: String) -> PathBuf {
        let joined = self.dir.join(p);
        let mut out = PathBuf::new();
        for part in joined.components() {
            match part {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    }

    /// A secret named by `<stem>_env` or `<stem>_file`; inline values are refused.
    fn secret(
        &mut self,
        s: &mut Section<'_>,
        stem: &'static str,
        required: bool,
    ) -> Option<SecretRef> {
        let (env_key, file_key): (&'static str, &'static str) = match stem {
            "bind_password" => ("bind_password_env", "bind_password_file"),
            "client_id" => ("client_id_env", "client_id_file"),
            "client_secret" => ("client_secret_env", "client_secret_file"),
            "username" => ("username_env", "username_file"),
            "password" => ("password_env", "password_file"),
            "private_key" => ("private_key_env", "private_key_file"),
            _ => unreachable!("unknown secret stem {stem}"),
        };
        if s.table.is_some_and(|t| t.contains_key(stem)) {
            s.taken.insert(stem);
            self.problem(format!(
                "{}.{stem}: secrets are never accepted inline; name an environment variable with `{env_key}` or a file with `{file_key}`",
                s.name
            ));
        }
        let env: Option<String> = self.get(s, env_key, "the name of an environment variable");
        let file: Option<String> = self.get(s, file_key, "a file path");
        match (env, file) {
            (Some(_), Some(_)) => {
                self.problem(format!(
                    "{}: give `{env_key}` or `{file_key}`, not both",
                    s.name
                ));
                None
            }
            (Some(var), None) if !var.is_empty() => Some(SecretRef {
                key: format!("{}.{env_key}", s.name),
                from: SecretFrom::Env(var),
            }),
            (None, Some(file)) if !file.is_empty() => Some(SecretRef {
                key: format!("{}.{file_key}", s.name),
                // `${CREDENTIALS_DIRECTORY}/name` (systemd's LoadCredential=)
                // is expanded when the secret is read, not against this folder.
                from: SecretFrom::File(if super::secret::names_credentials_dir(&file) {
                    PathBuf::from(file)
                } else {
                    self.path(file)
                }),
            }),
            (None, None) if !required => None,
            _ => {
                if s.table.is_some() {
                    self.problem(format!(
                        "{}.{env_key}: missing; expected `{env_key}` or `{file_key}`",
                        s.name
                    ));
                }
                None
            }
        }
    }

    fn job(&mut self, root: &Table, path: &Path) -> Option<Job> {
        const TOP: [&str; 12] = [
            "name",
            "source",
            "salesforce",
            "mapping",
            "defaults",
            "match",
            "limits",
            "safety",
            "update",
            "leavers",
            "access",
            "collisions",
        ];
        for key in root.keys() {
            if !TOP.contains(&key.as_str()) {
                self.problem(format!(
                    "{key}: unknown key; expected one of: {}",
                    TOP.join(", ")
                ));
            }
        }
        let name = match root.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Value::String(_)) => {
                self.problem("name: must not be empty");
                None
            }
            Some(other) => {
                self.problem(format!("name: expected a string, found {}", kind(other)));
                None
            }
            None => {
                self.problem("name: missing; expected the job's name, e.g. name = \"nightly\"");
                None
            }
        };
        let source = self.source(root);
        let salesforce = self.salesforce(root);
        let (mut attributes, fields) = self.fields(root);
        let access = self.access(root, &mut attributes, source.as_ref());
        let collisions = self.collisions(root, &mut attributes, &fields);
        let mut attribute_kinds = self.attribute_kinds(&attributes, &fields, source.as_ref());
        // A rule's attribute that no mapping reads is read with every value
        // (memberOf); one a mapping reads keeps the mapping's way.
        for rule in access.iter().flat_map(|a| &a.rules) {
            let mapped = fields
                .iter()
                .filter_map(|f| f.template.as_ref())
                .any(|t| t.attributes().any(|a| a == rule.attribute));
            if !mapped {
                attribute_kinds[rule.attribute] = AttrKind::AllValues;
            }
        }
        let match_keys = self.match_keys(root, &fields);
        let limits = self.limits(root);
        let safety = self.safety(root);
        let update = self.update(root, &fields);
        let leavers = self.leavers(root);
        Some(Job {
            name: name?,
            path: std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
            source: source?,
            salesforce: salesforce?,
            attributes,
            attribute_kinds,
            fields,
            match_keys,
            limits: limits?,
            safety: safety?,
            update,
            leavers,
            access,
            collisions,
        })
    }

    fn source(&mut self, root: &Table) -> Option<SourceConfig> {
        let mut s = self.section(root, "source", true);
        s.table?;
        let ty: Option<String> = self.require(&mut s, "type", "\"ldap\" or \"csv\"");
        let config = match ty.as_deref() {
            Some("csv") => {
                let path: Option<String> = self.require(&mut s, "path", "the CSV file's path");
                let delimiter: Option<String> =
                    self.get(&mut s, "delimiter", "one character, e.g. \",\" or \";\"");
                let delimiter = match delimiter.as_deref() {
                    None => Some(b','),
                    Some("\\t") | Some("\t") => Some(b'\t'),
                    Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
                    Some(d) => {
                        self.problem(format!(
                            "source.delimiter: expected one ASCII character, found \"{d}\""
                        ));
                        None
                    }
                };
                let label: Option<String> = self.get(
                    &mut s,
                    "encoding",
                    "a character set label, e.g. \"windows-1252\" or \"utf-16le\"",
                );
                let encoding = match label.as_deref() {
                    None => Some(None),
                    // WHATWG labels (what browsers accept), via encoding_rs.
                    Some(l) => match encoding_rs::Encoding::for_label(l.trim().as_bytes()) {
                        Some(e) if e == encoding_rs::UTF_8 => Some(None),
                        Some(e) if e == encoding_rs::REPLACEMENT => {
                            self.problem(format!("source.encoding: \"{l}\" cannot be decoded (WHATWG maps it to the replacement encoding)"));
                            None
                        }
                        Some(e) => Some(Some(e)),
                        None => {
                            self.problem(format!("source.encoding: unknown character set \"{l}\"; expected a WHATWG label such as \"utf-8\", \"utf-16le\", \"windows-1252\", \"iso-8859-15\", \"shift_jis\""));
                            None
                        }
                    },
                };
                let path = path?;
                Some(SourceConfig::Csv(CsvSource {
                    path: self.path(path.clone()),
                    display: path,
                    delimiter: delimiter?,
                    encoding: encoding?,
                }))
            }
            Some("ldap") => {
                let url: Option<String> = self.require(&mut s, "url", "an ldap:// or ldaps:// URL");
                if let Some(u) = &url
                    && let Err(why) = check_url_parts(u)
                {
                    self.problem(format!("source.url: {why}"));
                } else if let Some(u) = &url
                    && !(u.starts_with("ldap://") || u.starts_with("ldaps://"))
                {
                    self.problem(format!(
                        "source.url: expected an ldap:// or ldaps:// URL, found \"{u}\""
                    ));
                }
                let starttls: Option<bool> = self.get(&mut s, "starttls", "true or false");
                let allow_plaintext: Option<bool> =
                    self.get(&mut s, "allow_plaintext_bind", "true or false");
                if starttls == Some(true)
                    && url.as_deref().is_some_and(|u| u.starts_with("ldaps://"))
                {
                    self.problem("source.starttls: StartTLS applies to ldap:// URLs; ldaps:// is already TLS");
                }
                let ca_file: Option<String> = self.get(&mut s, "ca_file", "a PEM file path");
                let bind_dn: Option<String> = self.get(&mut s, "bind_dn", "a DN");
                let bind_password = self.secret(&mut s, "bind_password", bind_dn.is_some());
                if let Some(u) = &url
                    && bind_dn.is_some()
                    && starttls != Some(true)
                    && allow_plaintext != Some(true)
                    && is_plaintext_remote_ldap(u)
                {
                    self.problem(
                        "source.url: a plain ldap:// bind to a host that is not this machine would send \
                         the bind password unencrypted; use ldaps://, set starttls = true, or (on a \
                         network you trust) allow_plaintext_bind = true",
                    );
                }
                if bind_dn.is_none() && bind_password.is_some() {
                    self.problem(
                        "source.bind_dn: missing; a bind password is given but no DN to bind as",
                    );
                }
                let base_dn: Option<String> = self.require(&mut s, "base_dn", "the search base DN");
                let filter: Option<String> = self.get(&mut s, "filter", "an LDAP filter");
                let filter = filter.unwrap_or_else(|| "(mail=*)".to_owned());
                if !(filter.starts_with('(') && filter.ends_with(')')) {
                    self.problem(format!(
                        "source.filter: expected a parenthesised LDAP filter, found \"{filter}\""
                    ));
                }
                let page_size: Option<i64> =
                    self.get(&mut s, "page_size", "a number of entries per page");
                let page_size = match page_size.unwrap_or(500) {
                    n @ 1..=100_000 => Some(n as i32),
                    n => {
                        self.problem(format!("source.page_size: expected 1 to 100000, found {n}"));
                        None
                    }
                };
                let multi: Option<String> =
                    self.get(&mut s, "multi_value", "\"first\" or \"invalid\"");
                let multi_value = match multi.as_deref() {
                    None | Some("first") => Some(MultiValue::First),
                    Some("invalid") => Some(MultiValue::Invalid),
                    Some(other) => {
                        self.problem(format!("source.multi_value: expected \"first\" or \"invalid\", found \"{other}\""));
                        None
                    }
                };
                let timeout: Option<u64> = self.get(&mut s, "timeout_secs", "a number of seconds");
                Some(SourceConfig::Ldap(LdapSource {
                    url: url?,
                    starttls: starttls.unwrap_or(false),
                    ca_file: ca_file.map(|p| self.path(p)),
                    bind_dn,
                    bind_password,
                    base_dn: base_dn?,
                    filter,
                    page_size: page_size?,
                    multi_value: multi_value?,
                    timeout_secs: timeout.unwrap_or(30).max(1),
                }))
            }
            Some(other) => {
                self.problem(format!(
                    "source.type: expected \"ldap\" or \"csv\", found \"{other}\""
                ));
                None
            }
            None => None,
        };
        self.finish(s);
        config
    }

    fn salesforce(&mut self, root: &Table) -> Option<SalesforceConfig> {
        let mut s = self.section(root, "salesforce", true);
        s.table?;
        let instance_url: Option<String> =
            self.require(&mut s, "instance_url", "the org's https:// URL");
        let login_url: Option<String> =
            self.get(&mut s, "login_url", "the token endpoint's https:// host");
        for (key, url) in [("instance_url", &instance_url), ("login_url", &login_url)] {
            if let Some(u) = url {
                if let Err(why) = check_url_parts(u) {
                    self.problem(format!("salesforce.{key}: {why}"));
                } else if let Err(why) = check_https(u) {
                    self.problem(format!("salesforce.{key}: {why}, found \"{u}\""));
                }
            }
        }
        let sandbox: Option<String> =
            self.get(&mut s, "sandbox", "the sandbox's name, e.g. \"uat\"");
        let sandbox = sandbox.and_then(|name| match check_sandbox_name(&name) {
            Ok(()) => Some(name.to_ascii_lowercase()),
            Err(why) => {
                self.problem(format!("salesforce.sandbox: \"{name}\" {why}"));
                None
            }
        });
        let api_version: Option<String> =
            self.get(&mut s, "api_version", "a version like \"v62.0\"");
        let api_version = api_version.unwrap_or_else(|| "v62.0".to_owned());
        let ok_version = api_version
            .strip_prefix('v')
            .and_then(|n| n.split_once('.'))
            .is_some_and(|(major, minor)| {
                major.parse::<u32>().is_ok_and(|m| m >= 42) && minor.parse::<u32>().is_ok()
            });
        if !ok_version {
            self.problem(format!(
                "salesforce.api_version: expected \"vNN.0\" with NN >= 42 (sObject Collections), found \"{api_version}\""
            ));
        }
        let auth: Option<String> = self.get(
            &mut s,
            "auth",
            "\"password\", \"client_credentials\" or \"jwt\"",
        );
        let auth = match auth.as_deref().unwrap_or("password") {
            "password" => {
                let client_id = self.secret(&mut s, "client_id", true);
                let client_secret = self.secret(&mut s, "client_secret", true);
                let username = self.secret(&mut s, "username", true);
                let password = self.secret(&mut s, "password", true);
                Some(AuthConfig::Password {
                    client_id: client_id?,
                    client_secret: client_secret?,
                    username: username?,
                    password: password?,
                })
            }
            "client_credentials" => {
                let client_id = self.secret(&mut s, "client_id", true);
                let client_secret = self.secret(&mut s, "client_secret", true);
                Some(AuthConfig::ClientCredentials {
                    client_id: client_id?,
                    client_secret: client_secret?,
                })
            }
            "jwt" => {
                let client_id = self.secret(&mut s, "client_id", true);
                let username = self.secret(&mut s, "username", true);
                let private_key = self.secret(&mut s, "private_key", true);
                let audience: Option<String> = self.get(&mut s, "audience", "the JWT audience URL");
                let audience = audience.or_else(|| login_url.clone()).unwrap_or_else(|| {
                    let host = if sandbox.is_some() {
                        SANDBOX_LOGIN_URL
                    } else {
                        "https://login.salesforce.com"
                    };
                    host.to_owned()
                });
                Some(AuthConfig::Jwt {
                    client_id: client_id?,
                    username: username?,
                    private_key: private_key?,
                    audience,
                })
            }
            other => {
                self.problem(format!(
                    "salesforce.auth: expected \"password\", \"client_credentials\" or \"jwt\", found \"{other}\""
                ));
                // The credential keys belong to whichever flow was meant: one
                // line about `auth`, not an "unknown key" line for each.
                for key in CREDENTIAL_KEYS {
                    s.taken.insert(key);
                }
                s.taken.insert("audience");
                None
            }
        };
        self.finish(s);
        let instance_url = instance_url?.trim_end_matches('/').to_owned();
        // A sandbox logs in at test.salesforce.com unless the job names its My Domain.
        let login_url = match (login_url, &sandbox) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some(_)) => SANDBOX_LOGIN_URL.to_owned(),
            (None, None) => instance_url.clone(),
        };
        Some(SalesforceConfig {
            instance_url,
            login_url,
            api_version,
            auth: auth?,
            sandbox,
        })
    }

    fn fields(&mut self, root: &Table) -> (Vec<String>, Vec<FieldSpec>) {
        let mut attributes = Vec::new();
        let mut fields: Vec<FieldSpec> = Vec::new();
        let mapping = self.section(root, "mapping", true);
        if let Some(table) = mapping.table {
            for (field, value) in table {
                if !is_field_name(field) {
                    self.problem(format!("mapping.{field}: not a Salesforce field API name"));
                    continue;
                }
                if let Err(why) = user_field(field) {
                    self.problem(format!("mapping.{field}: {why}"));
                    self.broken.push(field.clone());
                    continue;
                }
                let Value::String(src) = value else {
                    self.problem(format!(
                        "mapping.{field}: expected a template string like \"{{mail|lower}}\", found {}",
                        kind(value)
                    ));
                    continue;
                };
                match Template::parse(src, &mut attributes) {
                    Ok(t) => fields.push(FieldSpec {
                        name: field.clone(),
                        template: Some(t),
                        default: None,
                    }),
                    Err(e) => {
                        self.problem(format!("mapping.{field}: bad template \"{src}\": {e}"));
                        self.broken.push(field.clone());
                    }
                }
            }
        }
        let defaults = self.section(root, "defaults", false);
        if let Some(table) = defaults.table {
            for (field, value) in table {
                let (name, default) = match (field.as_str(), value) {
                    ("Profile", Value::String(n)) => {
                        ("ProfileId", DefaultValue::ProfileName(n.clone()))
                    }
                    (_, Value::String(s)) => (field.as_str(), DefaultValue::Text(s.clone())),
                    (_, Value::Boolean(b)) => (field.as_str(), DefaultValue::Bool(*b)),
                    (_, other) => {
                        self.problem(format!(
                            "defaults.{field}: expected a string or true/false, found {}",
                            kind(other)
                        ));
                        continue;
                    }
                };
                if !is_field_name(name) {
                    self.problem(format!("defaults.{field}: not a Salesforce field API name"));
                    continue;
                }
                if let Err(why) = user_field(name) {
                    self.problem(format!("defaults.{field}: {why}"));
                    self.broken.push(name.to_owned());
                    continue;
                }
                match fields.iter_mut().find(|f| f.name.eq_ignore_ascii_case(name)) {
                    Some(f) if f.default.is_some() => self.problem(format!(
                        "defaults.{field}: ProfileId is given twice (as `Profile` and `ProfileId`); keep one"
                    )),
                    Some(f) => f.default = Some(default),
                    None => fields.push(FieldSpec { name: name.to_owned(), template: None, default: Some(default) }),
                }
            }
        }
        if mapping.table.is_some() {
            for required in REQUIRED_FIELDS {
                if !fields.iter().any(|f| f.name == required)
                    && !self.broken.iter().any(|b| b == required)
                {
                    self.problem(format!(
                        "mapping.{required}: Salesforce requires {required} on every new user; map it in [mapping] or set it in [defaults]"
                    ));
                }
            }
            if fields
                .iter()
                .find(|f| f.name == "Username")
                .is_some_and(|f| f.template.is_none())
            {
                self.problem("mapping.Username: must be mapped from the source (a default would give everyone the same username)");
            }
        }
        (attributes, fields)
    }

    /// How the source reads each attribute (SPEC "Active Directory": binary
    /// when a template uses `guid`, `sid`, `base64` or `hex` on it).
    fn attribute_kinds(
        &mut self,
        attributes: &[String],
        fields: &[FieldSpec],
        source: Option<&SourceConfig>,
    ) -> Vec<AttrKind> {
        let keys: Vec<String> = fields
            .iter()
            .map(|f| format!("mapping.{}", f.name))
            .collect();
        let templates = fields
            .iter()
            .zip(&keys)
            .filter_map(|(f, key)| Some((key.as_str(), f.template.as_ref()?)));
        let kinds =
            crate::template::attribute_kinds(attributes, templates).unwrap_or_else(|problems| {
                for p in problems {
                    self.problem(p);
                }
                vec![AttrKind::Text; attributes.len()]
            });
        if matches!(source, Some(SourceConfig::Csv(_))) {
            for (attr, kind) in attributes.iter().zip(&kinds) {
                if *kind == AttrKind::Binary {
                    self.problem(format!(
                        "mapping: `{attr}` is read with guid, sid, base64 or hex, which read a \
                         directory attribute's raw bytes; a CSV source has text only (map the \
                         exported text as it is)"
                    ));
                }
            }
        }
        kinds
    }

    fn match_keys(&mut self, root: &Table, fields: &[FieldSpec]) -> Vec<String> {
        let mut s = self.section(root, "match", false);
        let keys: Option<Vec<String>> = self.get(&mut s, "keys", "a list of User field names");
        self.finish(s);
        // Without `[match]`, the default keys that the mapping fills (a job
        // with no FederationIdentifier matches on Username alone).
        let keys = keys.unwrap_or_else(|| {
            ["FederationIdentifier", "Username"]
                .into_iter()
                .filter(|k| fields.iter().any(|f| f.name == *k && f.template.is_some()))
                .map(String::from)
                .collect()
        });
        if keys.is_empty() && root.contains_key("match") {
            self.problem("match.keys: expected at least one field, e.g. [\"Username\"]");
        }
        let mut out: Vec<String> = Vec::new();
        for key in keys {
            match fields.iter().find(|f| f.name.eq_ignore_ascii_case(&key)) {
                Some(f) if f.template.is_some() => {
                    if out.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
                        self.problem(format!("match.keys: \"{key}\" is listed twice"));
                    } else {
                        out.push(f.name.clone());
                    }
                }
                _ if root.contains_key("mapping") && !self.broken.iter().any(|b| b.eq_ignore_ascii_case(&key)) => self.problem(format!(
                    "match.keys: \"{key}\" is not mapped in [mapping]; a match key needs a value from the source"
                )),
                _ => {}
            }
        }
        out
    }

    fn limits(&mut self, root: &Table) -> Option<Limits> {
        let mut s = self.section(root, "limits", false);
        let rps: Option<f64> = self.get(
            &mut s,
            "requests_per_second",
            "a number of requests per second",
        );
        let concurrency: Option<i64> =
            self.get(&mut s, "concurrency", "a number of calls in flight");
        let batch_size: Option<i64> = self.get(&mut s, "batch_size", "1 to 200");
        let max_creates: Option<i64> = self.get(&mut s, "max_creates", "a number of users");
        let api_reserve: Option<i64> = self.get(&mut s, "api_reserve", "a number of API calls");
        let max_retries: Option<i64> = self.get(&mut s, "max_retries", "a number of retries");
        self.finish(s);
        let mut ok = true;
        let mut range = |key: &str, v: Option<i64>, default: i64, lo: i64, hi: i64| -> i64 {
            let v = v.unwrap_or(default);
            if !(lo..=hi).contains(&v) {
                self.problems
                    .push(format!("limits.{key}: expected {lo} to {hi}, found {v}"));
                ok = false;
            }
            v
        };
        let concurrency = range("concurrency", concurrency, 4, 1, 25);
        let batch_size = range("batch_size", batch_size, 200, 1, 200);
        let max_creates = range("max_creates", max_creates, 500, 0, i64::MAX);
        let api_reserve = range("api_reserve", api_reserve, 1000, 0, i64::MAX);
        let max_retries = range("max_retries", max_retries, 5, 0, 20);
        let rps = rps.unwrap_or(5.0);
        if !(rps.is_finite() && rps > 0.0 && rps <= 1000.0) {
            self.problem(format!(
                "limits.requests_per_second: expected more than 0 and at most 1000, found {rps}"
            ));
            ok = false;
        }
        ok.then_some(Limits {
            requests_per_second: rps,
            concurrency: concurrency as usize,
            batch_size: batch_size as usize,
            max_creates: max_creates as u64,
            api_reserve: api_reserve as u64,
            max_retries: max_retries as u32,
        })
    }

    fn safety(&mut self, root: &Table) -> Option<Safety> {
        let mut s = self.section(root, "safety", false);
        let fraction: Option<f64> =
            self.get(&mut s, "min_source_fraction", "a fraction between 0 and 1");
        let state_dir: Option<String> = self.get(&mut s, "state_dir", "a folder path");
        self.finish(s);
        let fraction = fraction.unwrap_or(0.9);
        if !(0.0..=1.0).contains(&fraction) {
            self.problem(format!(
                "safety.min_source_fraction: expected 0 to 1, found {fraction}"
            ));
            return None;
        }
        let state_dir = state_dir.map_or_else(|| self.dir.join(".sfsync"), |d| self.path(d));
        Some(Safety {
            min_source_fraction: fraction,
            state_dir,
        })
    }
}

/// Where a sandbox's users log in when the job names no `login_url`
/// (lifecycle reference §5: test.salesforce.com or the sandbox's My Domain).
pub const SANDBOX_LOGIN_URL: &str = "https://test.salesforce.com";

/// Salesforce's rule for a sandbox name: letters and digits only, starting
/// with a letter, at most 10 characters. `Err` says what is wrong, naming the
/// offending character.
pub fn check_sandbox_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("is empty; expected the sandbox's name, e.g. \"uat\"".into());
    };
    if !first.is_ascii_alphabetic() {
        return Err(format!(
            "must start with a letter (a-z), found {}",
            shown_char(first)
        ));
    }
    if let Some((i, c)) = name
        .char_indices()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
    {
        return Err(format!(
            "may hold letters a-z and digits only, found {} at position {}",
            shown_char(c),
            name[..i].chars().count() + 1
        ));
    }
    let n = name.chars().count();
    if n > 10 {
        return Err(format!("is {n} characters; a sandbox name has at most 10"));
    }
    Ok(())
}

/// A character as a message shows it: `'-'`, or its code point when it is not plain ASCII.
fn shown_char(c: char) -> String {
    if c.is_ascii_graphic() {
        format!("'{c}'")
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

impl Validator {
    /// `[collisions]`: `fallback_usernames` parsed like `[mapping]` templates
    /// (over the same attribute list), each one able to give an address.
    fn collisions(
        &mut self,
        root: &Table,
        attributes: &mut Vec<String>,
        fields: &[FieldSpec],
    ) -> Option<CollisionsConfig> {
        let mut s = self.section(root, "collisions", false);
        s.table?;
        let listed: Option<Vec<String>> =
            self.require(&mut s, "fallback_usernames", "a list of username templates");
        self.finish(s);
        let listed = listed?;
        if listed.is_empty() {
            self.problem("collisions.fallback_usernames: empty; list at least one username template, e.g. [\"{uid|lower}@acme-sf.example.com\"]");
            return None;
        }
        let username = fields
            .iter()
            .find(|f| f.name == "Username")
            .and_then(|f| f.template.as_ref())
            .map(ToString::to_string);
        let mut templates = Vec::with_capacity(listed.len());
        for (i, src) in listed.iter().enumerate() {
            let key = format!("collisions.fallback_usernames[{i}]");
            let t = match Template::parse(src, attributes) {
                Ok(t) => t,
                Err(e) => {
                    self.problem(format!("{key}: bad template \"{src}\": {e}"));
                    continue;
                }
            };
            if t.attributes().next().is_none() {
                self.problem(format!(
                    "{key}: \"{src}\" reads no attribute, so it would give everyone the same username; use one like \"{{uid|lower}}@acme-sf.example.com\""
                ));
                continue;
            }
            if username.as_deref() == Some(t.to_string().as_str()) {
                self.problem(format!(
                    "{key}: \"{src}\" is mapping.Username itself; a fallback must give another username"
                ));
                continue;
            }
            if listed[..i].contains(src) {
                self.problem(format!("{key}: \"{src}\" is listed twice"));
                continue;
            }
            templates.push(t);
        }
        Some(CollisionsConfig {
            fallback_usernames: templates,
        })
    }

    /// `[update]`: fields must be mapped or defaulted, and never `Username`/`Email`
    /// (SPEC: e-mail and username changes stay `email_change_skipped`).
    fn update(&mut self, root: &Table, fields: &[FieldSpec]) -> Option<UpdateConfig> {
        let mut s = self.section(root, "update", false);
        s.table?;
        let listed: Option<Vec<String>> =
            self.require(&mut s, "fields", "a list of User field names");
        let max: Option<i64> = self.get(&mut s, "max_updates", "a number of users");
        let clear_empty: Option<bool> = self.get(&mut s, "clear_empty", "true or false");
        self.finish(s);
        let mut out: Vec<String> = Vec::new();
        for name in listed.unwrap_or_default() {
            if ["Username", "Email"]
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&name))
            {
                self.problem(format!(
                    "update.fields: \"{name}\" can never be updated by sfsync; e-mail and username changes are confirmed by the user in Salesforce (they stay email_change_skipped)"
                ));
                continue;
            }
            match fields.iter().find(|f| f.name.eq_ignore_ascii_case(&name)) {
                Some(f) if out.iter().any(|o| o == &f.name) => {
                    self.problem(format!("update.fields: \"{name}\" is listed twice"));
                }
                Some(f) => out.push(f.name.clone()),
                None if self.broken.iter().any(|b| b.eq_ignore_ascii_case(&name)) => {}
                None => self.problem(format!(
                    "update.fields: \"{name}\" is neither mapped in [mapping] nor set in [defaults]; an updated field needs a value"
                )),
            }
        }
        let max = max.unwrap_or(1000);
        if max < 0 {
            self.problem(format!(
                "update.max_updates: expected 0 or more, found {max}"
            ));
            return None;
        }
        Some(UpdateConfig {
            fields: out,
            max_updates: max as u64,
            clear_empty: clear_empty.unwrap_or(false),
        })
    }

    fn leavers(&mut self, root: &Table) -> Option<LeaversConfig> {
        let mut s = self.section(root, "leavers", false);
        s.table?;
        let action: Option<String> =
            self.get(&mut s, "action", "\"report\", \"deactivate\" or \"freeze\"");
        let scope: Option<String> = self.get(&mut s, "scope", "a SOQL condition over User");
        let protect: Option<Vec<String>> = self.get(&mut s, "protect", "a list of usernames");
        let max: Option<i64> = self.get(&mut s, "max_deactivations", "a number of users");
        let fraction: Option<f64> = self.get(
            &mut s,
            "max_deactivation_fraction",
            "a fraction between 0 and 1",
        );
        let reactivate: Option<bool> = self.get(&mut s, "reactivate", "true or false");
        self.finish(s);
        let action = match action.as_deref().unwrap_or("report") {
            "report" => LeaverAction::Report,
            "deactivate" => LeaverAction::Deactivate,
            "freeze" => LeaverAction::Freeze,
            other => {
                self.problem(format!(
                    "leavers.action: expected \"report\", \"deactivate\" or \"freeze\", found \"{other}\""
                ));
                return None;
            }
        };
        let scope = scope.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if scope.is_none() && action != LeaverAction::Report {
            self.problem(
                "leavers.scope: required when action is not \"report\"; name the org users this job manages, e.g. scope = \"Profile.Name = 'Chatter Free User'\"",
            );
        }
        if let Some(scope) = &scope
            && let Some(c) = scope.chars().find(|c| c.is_control() || *c == ';')
        {
            self.problem(format!(
                "leavers.scope: the character {c:?} has no place in a SOQL condition"
            ));
        }
        let max = max.unwrap_or(50);
        let fraction = fraction.unwrap_or(0.05);
        if max < 0 {
            self.problem(format!(
                "leavers.max_deactivations: expected 0 or more, found {max}"
            ));
        }
        if !(0.0..=1.0).contains(&fraction) {
            self.problem(format!(
                "leavers.max_deactivation_fraction: expected 0 to 1, found {fraction}"
            ));
        }
        Some(LeaversConfig {
            action,
            scope,
            protect: protect
                .unwrap_or_default()
                .iter()
                .map(|u| u.trim().to_lowercase())
                .collect(),
            max_deactivations: max.max(0) as u64,
            max_deactivation_fraction: fraction,
            reactivate: reactivate.unwrap_or(false),
        })
    }
}

impl Validator {
    /// `[access]` and its `[[access.rules]]`. Templates and rule attributes
    /// join `attributes` (the manager template's as text; a rule's attribute
    /// is read with every value, see [`AccessConfig::separator`]).
    fn access(
        &mut self,
        root: &Table,
        attributes: &mut Vec<String>,
        source: Option<&SourceConfig>,
    ) -> Option<AccessConfig> {
        let mut s = self.section(root, "access", false);
        s.table?;
        let grants = self.grants(&mut s);
        let manager: Option<String> = self.get(
            &mut s,
            "manager",
            "a template giving the manager's Salesforce username, e.g. \"{managerMail|lower}\"",
        );
        let manager = manager.and_then(|src| match Template::parse(&src, attributes) {
            Ok(t) => Some(t),
            Err(e) => {
                self.problem(format!("access.manager: bad template \"{src}\": {e}"));
                None
            }
        });
        let apply: Option<bool> = self.get(&mut s, "apply_to_existing", "true or false");
        s.taken.insert("rules");
        let mut rules = Vec::new();
        match s.table.and_then(|t| t.get("rules")) {
            None => {}
            Some(Value::Array(list)) => {
                for (i, entry) in list.iter().enumerate() {
                    let name = format!("access.rules[{}]", i + 1);
                    let Value::Table(t) = entry else {
                        self.problem(format!(
                            "{name}: expected a table `[[access.rules]]`, found {}",
                            kind(entry)
                        ));
                        continue;
                    };
                    if let Some(rule) = self.rule(&name, t, attributes) {
                        rules.push(rule);
                    }
                }
            }
            Some(other) => self.problem(format!(
                "access.rules: expected a list of tables `[[access.rules]]`, found {}",
                kind(other)
            )),
        }
        self.finish(s);
        let separator = match source {
            Some(SourceConfig::Csv(_)) => super::access::CSV_VALUE_SEPARATOR,
            _ => super::access::LDAP_VALUE_SEPARATOR,
        };
        Some(AccessConfig {
            grants,
            manager,
            apply_to_existing: apply.unwrap_or(false),
            rules,
            separator,
        })
    }

    /// The grant keys a section and a rule share: permission sets, permission
    /// set groups, public groups, role. Names are API names (checked here).
    fn grants(&mut self, s: &mut Section<'_>) -> Grants {
        let mut list = |v: &mut Self, key: &'static str, what: &str| -> Vec<String> {
            let names: Option<Vec<String>> = v.get(s, key, &format!("a list of {what}"));
            let names = names.unwrap_or_default();
            for n in &names {
                if let Err(why) = check_api_name(n) {
                    v.problem(format!("{}.{key}: \"{n}\" {why}", s.name));
                }
            }
            names
        };
        let permission_sets = list(self, "permission_sets", "PermissionSet names");
        let permission_set_groups = list(
            self,
            "permission_set_groups",
            "PermissionSetGroup developer names",
        );
        let public_groups = list(self, "public_groups", "public Group developer names");
        let role: Option<String> = self.get(s, "role", "a UserRole developer name");
        if let Some(r) = &role
            && let Err(why) = check_api_name(r)
        {
            self.problem(format!("{}.role: \"{r}\" {why}", s.name));
        }
        Grants {
            permission_sets,
            permission_set_groups,
            public_groups,
            role,
        }
    }

    fn rule(
        &mut self,
        name: &str,
        table: &Table,
        attributes: &mut Vec<String>,
    ) -> Option<AccessRule> {
        let mut s = Section {
            name,
            table: Some(table),
            taken: BTreeSet::new(),
        };
        let attribute: Option<String> = self.require(
            &mut s,
            "attribute",
            "a source attribute name, e.g. \"memberOf\"",
        );
        let equals: Option<String> = self.get(&mut s, "equals", "a value (compared ignoring case)");
        let matches: Option<String> = self.get(&mut s, "matches", "a regular expression");
        let profile: Option<String> = self.get(&mut s, "profile", "a Profile name");
        let grants = self.grants(&mut s);
        self.finish(s);
        let test = match (equals, matches) {
            (Some(_), Some(_)) => {
                self.problem(format!("{name}: give `equals` or `matches`, not both"));
                None
            }
            (None, None) => {
                self.problem(format!(
                    "{name}: missing `equals` (a value, compared ignoring case) or `matches` (a regular expression)"
                ));
                None
            }
            (Some(v), None) => Some(RuleTest::Equals(v.to_lowercase())),
            (None, Some(re)) => match regex::Regex::new(&re) {
                Ok(r) => Some(RuleTest::Matches(r)),
                Err(e) => {
                    let why = e.to_string();
                    let why = why.lines().last().unwrap_or("").trim().to_owned();
                    self.problem(format!(
                        "{name}.matches: \"{}\" is not a valid regular expression ({why})",
                        crate::printable::escape_controls(&re)
                    ));
                    None
                }
            },
        };
        let attribute = attribute?.trim().to_lowercase();
        if !attribute
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            || !attribute
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            self.problem(format!(
                "{name}.attribute: \"{attribute}\" is not an attribute name (letters, digits, `-`, `_`, `.`)"
            ));
            return None;
        }
        let index = match attributes.iter().position(|a| *a == attribute) {
            Some(i) => i,
            None => {
                attributes.push(attribute);
                attributes.len() - 1
            }
        };
        Some(AccessRule {
            attribute: index,
            test: test?,
            profile,
            grants,
        })
    }
}

/// A Salesforce API name (`Sales_User`): a letter first, then letters,
/// digits and single underscores, at most 80 characters (reference §3.2).
fn check_api_name(name: &str) -> Result<(), &'static str> {
    let ok = name.len() <= 80
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__");
    if ok {
        Ok(())
    } else {
        Err(
            "is not an API name (a letter first, then letters, digits and single underscores; the Name in Setup, not the label)",
        )
    }
}

/// A configured URL names a host and nothing else that could leak or
/// mislead: no user name or password (it would be printed and sent), no
/// query, no fragment. The message never quotes a URL with userinfo.
pub(crate) fn check_url_parts(url: &str) -> Result<(), String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(()); // the scheme checks name the problem
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "a user name or password in the URL is refused (it would be shown in \
                    messages and sent as is); give credentials with the *_env or *_file keys"
                .to_owned(),
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "a query (?...) or fragment (#...) in the URL is refused, found \"{}\"",
            crate::printable::escape_controls(url)
        ));
    }
    Ok(())
}

/// `ldap://` (no TLS) to a host other than this machine.
fn is_plaintext_remote_ldap(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    if parsed.scheme() != "ldap" {
        return false;
    }
    let host = parsed.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    !(host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()))
}

/// Whether a job's LDAP source binds with a password over plain `ldap://`
/// to another machine (allowed only with `allow_plaintext_bind = true`).
pub fn plaintext_bind(source: &super::LdapSource) -> bool {
    source.bind_dn.is_some() && !source.starttls && is_plaintext_remote_ldap(&source.url)
}

/// Plain http:// only on loopback (the emulator); everything else must be https://.
pub(crate) fn check_https(url: &str) -> Result<(), &'static str> {
    let parsed = url::Url::parse(url).map_err(|_| "expected an https:// URL")?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => Err("plain http:// is refused except on loopback (the emulator); use https://"),
        },
        _ => Err("expected an https:// URL"),
    }
}

/// Whether a job may set User field `name` on create, by the User field
/// table: a standard createable field, a `UserPreferences...` boolean, or a
/// custom field (`__c`, which only the org can confirm: `check` and `plan`
/// ask its describe). The error says why not, with the field a typo meant.
fn user_field(name: &str) -> Result<(), String> {
    use crate::salesforce::user_fields::{Known, lookup, nearest};
    match lookup(name) {
        Known::Standard(f) if f.createable => Ok(()),
        Known::Standard(f) => Err(format!(
            "User.{} is read-only: Salesforce sets it, a create cannot",
            f.name
        )),
        Known::Preference | Known::Custom => Ok(()),
        Known::Unknown => Err(match nearest(name) {
            Some(meant) => format!(
                "\"{name}\" is not a User field; did you mean \"{meant}\"? (custom fields end in __c)"
            ),
            None => format!(
                "\"{name}\" is not a standard User field, and a custom field's name ends in __c"
            ),
        }),
    }
}

fn is_field_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn kind(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Integer(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Boolean(b) => format!("{b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

#[cfg(test)]
mod url_safety_tests {
    use super::*;

    #[test]
    fn userinfo_query_and_fragment_are_refused_without_quoting_a_password() {
        assert!(check_url_parts("https://acme.my.salesforce.com").is_ok());
        assert!(check_url_parts("ldaps://ldap.example.com:636").is_ok());
        let why = check_url_parts("ldap://cn=admin:s3cret@ldap.example.com").unwrap_err();
        assert!(
            why.contains("user name or password") && !why.contains("s3cret"),
            "{why}"
        );
        assert!(check_url_parts("https://login.salesforce.com/?a=b").is_err());
        assert!(check_url_parts("https://login.salesforce.com/#x").is_err());
    }

    #[test]
    fn plaintext_means_ldap_to_another_machine() {
        assert!(is_plaintext_remote_ldap("ldap://ldap.example.com"));
        assert!(is_plaintext_remote_ldap("ldap://10.0.0.5:389"));
        assert!(!is_plaintext_remote_ldap("ldaps://ldap.example.com"));
        assert!(!is_plaintext_remote_ldap("ldap://localhost:389"));
        assert!(!is_plaintext_remote_ldap("ldap://127.0.0.1:389"));
        assert!(!is_plaintext_remote_ldap("ldap://[::1]:389"));
    }
}

#[cfg(test)]
mod collisions_and_sandbox_tests {
    use super::*;

    fn job(extra_salesforce: &str, extra: &str) -> Result<Job, JobError> {
        let text = format!(
            r#"name = "t"
[source]
type = "csv"
path = "people.csv"
[salesforce]
instance_url = "https://acme--uat.sandbox.my.salesforce.com"
client_id_env = "A"
client_secret_env = "B"
username_env = "C"
password_env = "D"
{extra_salesforce}
[mapping]
Username = "{{mail|lower}}"
Email = "{{mail}}"
LastName = "{{sn}}"
Alias = "{{sn|first:8}}"
[defaults]
ProfileId = "00e90000001aV2o"
TimeZoneSidKey = "America/Los_Angeles"
LocaleSidKey = "en_US"
EmailEncodingKey = "UTF-8"
LanguageLocaleKey = "en_US"
{extra}
"#
        );
        parse(&text, Path::new("/jobs/t.toml"))
    }

    #[test]
    fn fallbacks_parse_over_the_mapping_attributes_and_bad_ones_are_named() {
        let j = job(
            "",
            "[collisions]\nfallback_usernames = [\"{mail|lower}.acme\", \"{uid|lower}@acme-sf.example.com\"]",
        )
        .unwrap();
        assert_eq!(j.collisions.unwrap().fallback_usernames.len(), 2);
        assert!(
            j.attributes.iter().any(|a| a == "uid"),
            "{:?}",
            j.attributes
        );

        let e = job(
            "",
            "[collisions]\nfallback_usernames = [\"{uid|first:}@x.com\", \"fixed@x.com\", \"{mail|lower}\", \"{sn}@x.com\", \"{sn}@x.com\"]\nretries = 2",
        )
        .unwrap_err();
        assert_eq!(
            e.problems,
            [
                "collisions.retries: unknown key; expected one of: fallback_usernames",
                "collisions.fallback_usernames[0]: bad template \"{uid|first:}@x.com\": `first` needs a positive count, as in `first:8`, found ``",
                "collisions.fallback_usernames[1]: \"fixed@x.com\" reads no attribute, so it would give everyone the same username; use one like \"{uid|lower}@acme-sf.example.com\"",
                "collisions.fallback_usernames[2]: \"{mail|lower}\" is mapping.Username itself; a fallback must give another username",
                "collisions.fallback_usernames[4]: \"{sn}@x.com\" is listed twice",
            ]
        );
        let e = job("", "[collisions]\nfallback_usernames = []").unwrap_err();
        assert!(
            e.problems[0].starts_with("collisions.fallback_usernames: empty"),
            "{e}"
        );
    }

    #[test]
    fn a_sandbox_is_lower_case_logs_in_at_test_salesforce_com_and_bad_names_are_named() {
        let j = job("sandbox = \"UAT\"", "").unwrap();
        assert_eq!(j.salesforce.sandbox.as_deref(), Some("uat"));
        assert_eq!(j.salesforce.login_url, SANDBOX_LOGIN_URL);
        let j = job(
            "sandbox = \"uat\"\nlogin_url = \"https://acme--uat.sandbox.my.salesforce.com\"",
            "",
        )
        .unwrap();
        assert_eq!(
            j.salesforce.login_url,
            "https://acme--uat.sandbox.my.salesforce.com"
        );
        let j = job("", "").unwrap();
        assert_eq!(
            (j.salesforce.sandbox, j.salesforce.login_url.as_str()),
            (None, "https://acme--uat.sandbox.my.salesforce.com")
        );
        for (name, why) in [
            (
                "uat-1",
                "\"uat-1\" may hold letters a-z and digits only, found '-' at position 4",
            ),
            (
                "ütest",
                "\"ütest\" must start with a letter (a-z), found U+00FC",
            ),
            (
                "tëst",
                "\"tëst\" may hold letters a-z and digits only, found U+00EB at position 2",
            ),
            ("1uat", "\"1uat\" must start with a letter (a-z), found '1'"),
            (
                "abcdefghijk",
                "\"abcdefghijk\" is 11 characters; a sandbox name has at most 10",
            ),
        ] {
            let e = job(&format!("sandbox = \"{name}\""), "").unwrap_err();
            assert_eq!(e.problems, [format!("salesforce.sandbox: {why}")]);
        }
    }
}
