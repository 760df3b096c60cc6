//! `sfsync check`: the preflight. One line per check, every check runs even
//! when an earlier one fails, exit 0 only when all pass.

use std::fmt::Write as _;

use crate::cli::CheckArgs;
use crate::error::{Error, exit};
use crate::job::{AuthConfig, DefaultValue, Job, REQUIRED_FIELDS, SecretRef, SourceConfig};
use crate::salesforce::{Client, ClientOptions, Credentials};

/// One preflight line: what was checked and either what was found or what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    pub what: String,
    pub result: Result<String, String>,
}

impl CheckLine {
    fn new(what: impl Into<String>, result: Result<String, String>) -> Self {
        CheckLine {
            what: what.into(),
            result,
        }
    }
}

pub fn run(args: &CheckArgs) -> Result<u8, Error> {
    let lines = match crate::job::load(&args.job) {
        Err(e) => vec![CheckLine::new("job file", Err(e.to_string()))],
        Ok(job) => {
            let mut lines = vec![CheckLine::new(
                "job file",
                Ok(format!("{} is valid", job.path.display())),
            )];
            lines.extend(super::runtime()?.block_on(checks(&job)));
            lines
        }
    };
    let text = render(&lines);
    super::print_stdout(&text)?;
    Ok(if lines.iter().all(|l| l.result.is_ok()) {
        exit::OK
    } else {
        exit::FATAL
    })
}

pub fn render(lines: &[CheckLine]) -> String {
    let mut out = String::new();
    for l in lines {
        let (mark, text) = match &l.result {
            Ok(t) => ("ok  ", t),
            Err(t) => ("FAIL", t),
        };
        let _ = writeln!(
            out,
            "{mark}  {:<22} {}",
            l.what,
            crate::printable::escape_lines(text).replace('\n', "\n      ")
        );
    }
    out
}

async fn checks(job: &Job) -> Vec<CheckLine> {
    let mut lines = Vec::new();

    // Secrets: every one, so a missing one does not hide the next.
    for r in secret_refs(job) {
        let res = r
            .resolve()
            .map(|_| format!("{r} is set"))
            .map_err(|e| format!("{e}; set it before the run (the value is never printed)"));
        lines.push(CheckLine::new("secret", res));
    }

    lines.push(CheckLine::new(
        "required fields",
        Ok(format!(
            "{} are mapped or defaulted",
            REQUIRED_FIELDS.join(", ")
        )),
    ));

    match &job.source {
        SourceConfig::Csv(cfg) => {
            let attrs = job.attributes.clone();
            let res = crate::source::csv::read(cfg, &attrs, &[], None)
                .map(|r| format!("{} readable, {} records", cfg.path.display(), r.len()))
                .map_err(|e| e.to_string());
            lines.push(CheckLine::new("csv source", res));
        }
        SourceConfig::Ldap(cfg) => {
            if crate::job::load::plaintext_bind(cfg) {
                lines.push(CheckLine::new(
                    "ldap transport",
                    Ok(format!(
                        "WARNING: allow_plaintext_bind = true: the bind password goes to {} unencrypted",
                        cfg.url
                    )),
                ));
            }
            let password = cfg.bind_password.as_ref().and_then(|r| r.resolve().ok());
            for (what, res) in crate::source::ldap::check(cfg, password.as_ref()).await {
                lines.push(CheckLine::new(what, res));
            }
        }
    }

    let client = match Credentials::resolve(&job.salesforce.auth) {
        Err(_) => {
            lines.push(CheckLine::new(
                "salesforce token",
                Err("skipped: a Salesforce secret is missing (see above)".into()),
            ));
            None
        }
        Ok(creds) => {
            let opts = ClientOptions {
                requests_per_second: job.limits.requests_per_second,
                concurrency: 1,
                max_retries: 1,
                timeout: std::time::Duration::from_secs(30),
                api_reserve: None,
            };
            match Client::connect(&job.salesforce, creds, opts).await {
                Ok(c) => {
                    lines.push(CheckLine::new(
                        "salesforce token",
                        Ok(format!("accepted; instance {}", c.instance_url())),
                    ));
                    Some(c)
                }
                Err(e) => {
                    lines.push(CheckLine::new(
                        "salesforce token",
                        Err(format!("{e}; check the connected app and credentials")),
                    ));
                    None
                }
            }
        }
    };

    let Some(client) = client else {
        lines.push(CheckLine::new(
            "profile",
            Err("skipped: no Salesforce token".into()),
        ));
        lines.push(CheckLine::new(
            "api budget",
            Err("skipped: no Salesforce token".into()),
        ));
        return lines;
    };
    for (field, default) in job
        .fields
        .iter()
        .filter_map(|f| Some((f, f.default.as_ref()?)))
    {
        let res = match default {
            DefaultValue::ProfileName(name) => {
                match client.profile_ids_by_name(std::slice::from_ref(name)).await {
                    Ok(ids) => match ids.get(name) {
                        Some(id) => Ok(format!("\"{name}\" is {id}")),
                        None => Err(format!(
                            "the org has no profile named \"{name}\"; fix defaults.Profile"
                        )),
                    },
                    Err(e) => Err(e.to_string()),
                }
            }
            DefaultValue::Text(id) if field.name == "ProfileId" => {
                match client.profile_exists(id).await {
                    Ok(true) => Ok(format!("{id} exists")),
                    Ok(false) => Err(format!(
                        "the org has no profile {id}; fix defaults.ProfileId"
                    )),
                    Err(e) => Err(e.to_string()),
                }
            }
            _ => continue,
        };
        lines.push(CheckLine::new("profile", res));
    }
    if let Some(scope) = job.leavers.as_ref().and_then(|l| l.scope.as_deref()) {
        // Salesforce is the judge of a SOQL condition: one `LIMIT 1` query.
        let res = match client.query_scope(scope, true).await {
            Ok(_) => Ok(format!("Salesforce accepts the condition {scope}")),
            Err(e) => Err(format!("{e}; fix leavers.scope")),
        };
        lines.push(CheckLine::new("leavers scope", res));
    }
    let budget = match client.limits().await {
        Ok(u) => {
            let left = u.max.saturating_sub(u.used);
            if left > job.limits.api_reserve {
                Ok(format!(
                    "{left} of {} daily API calls left (reserve {})",
                    u.max, job.limits.api_reserve
                ))
            } else {
                Err(format!(
                    "only {left} of {} daily API calls left, at or below limits.api_reserve = {}; wait for the 24-hour window or lower the reserve",
                    u.max, job.limits.api_reserve
                ))
            }
        }
        Err(e) => Err(e.to_string()),
    };
    lines.push(CheckLine::new("api budget", budget));
    lines
}

fn secret_refs(job: &Job) -> Vec<&SecretRef> {
    let mut refs = Vec::new();
    if let SourceConfig::Ldap(l) = &job.source
        && let Some(r) = &l.bind_password
    {
        refs.push(r);
    }
    match &job.salesforce.auth {
        AuthConfig::Password {
            client_id,
            client_secret,
            username,
            password,
        } => {
            refs.extend([client_id, client_secret, username, password]);
        }
        AuthConfig::ClientCredentials {
            client_id,
            client_secret,
        } => refs.extend([client_id, client_secret]),
        AuthConfig::Jwt {
            client_id,
            username,
            private_key,
            ..
        } => refs.extend([client_id, username, private_key]),
    }
    refs
}
