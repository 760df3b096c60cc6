//! `sfsync check`: the preflight. One line per check, every check runs even
//! when an earlier one fails, exit 0 only when all pass.

use std::fmt::Write as _;

use crate::cli::CheckArgs;
use crate::error::{Error, exit};
use crate::job::{CsvSource, DefaultValue, Job, REQUIRED_FIELDS, SecretRef, SourceConfig};
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
    let loaded = crate::job::load(&args.job).map_err(|e| e.to_string());
    let loaded = loaded.and_then(|mut job| match &args.instance_url {
        Some(url) => crate::job::preflight::override_instance_url(&mut job, url)
            .map(|()| job)
            .map_err(|e| e.to_string()),
        None => Ok(job),
    });
    let lines = match loaded {
        Err(e) => {
            // A job-file error is a usage error (SPEC: exit 2), as for `plan`.
            print!("{}", render(&[CheckLine::new("job file", Err(e))]));
            return Ok(exit::USAGE);
        }
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
    } else if lines
        .iter()
        .any(|l| l.result.is_err() && JOB_CHECKS.contains(&l.what.as_str()))
    {
        // The job names a column or a field the file or the org lacks: a job error.
        exit::USAGE
    } else {
        exit::FATAL
    })
}

/// Checks whose failure is the job's set-up (exit 2, as `plan` would): the
/// job file, its secrets and files, a column or field the file or the org
/// lacks. Anything else the network answered is exit 1.
const JOB_CHECKS: [&str; 9] = [
    "access names",
    "sandbox",
    "secret",
    "ca file",
    "csv source",
    "csv columns",
    "sample attributes",
    "user fields",
    "job file",
];

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
            let needed = job.required_attributes();
            let res = crate::source::csv::read_checked(cfg, &job.attributes, &needed, &[], None)
                .map(|r| format!("{} readable, {} records", cfg.path.display(), r.len()))
                .map_err(|e| e.to_string());
            lines.push(CheckLine::new("csv source", res));
            if let Ok(header) = crate::source::csv::header(cfg) {
                lines.push(CheckLine::new(
                    "csv columns",
                    csv_columns(job, cfg, &header),
                ));
            }
        }
        SourceConfig::Ldap(cfg) => {
            if let Some(ca) = &cfg.ca_file {
                let res = std::fs::read(ca)
                    .map(|_| format!("{} readable", ca.display()))
                    .map_err(|e| format!("source.ca_file: cannot read {}: {e}", ca.display()));
                lines.push(CheckLine::new("ca file", res));
            }
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
            for (what, res) in
                crate::source::ldap::check(cfg, password.as_ref(), &job.attributes).await
            {
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
                        Err(token_advice(&e, &job.salesforce.login_url)),
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
    let fields = match client.describe_user_fields().await {
        Ok(described) => {
            let keys = job.field_keys();
            let refused = crate::salesforce::user_fields::refused_by_org(
                keys.iter().map(|(k, n)| (k.as_str(), *n)),
                &described,
            );
            if refused.is_empty() {
                Ok(format!(
                    "the org's User object takes all {} fields on create",
                    keys.len()
                ))
            } else {
                Err(refused.join("\n"))
            }
        }
        Err(e) => Err(format!("cannot describe User: {e}")),
    };
    lines.push(CheckLine::new("user fields", fields));
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
    if let Some(access) = &job.access {
        // Every [access] name must exist in the org (one query per kind).
        let res = match super::access::resolve(access, &client).await {
            Ok(r) => Ok(format!(
                "{} permission sets, groups and public groups, {} roles, {} rule profiles found",
                r.targets.len(),
                r.roles.len(),
                r.profiles.len()
            )),
            Err(super::access::ResolveError::Unknown(problems)) => Err(problems.join("\n")),
            Err(super::access::ResolveError::Salesforce(e)) => Err(e.to_string()),
        };
        lines.push(CheckLine::new("access names", res));
    }
    if let Some(scope) = job.leavers.as_ref().and_then(|l| l.scope.as_deref()) {
        // Salesforce is the judge of a SOQL condition: one `LIMIT 1` query.
        let res = match client.query_scope(scope, true).await {
            Ok(_) => Ok(format!("Salesforce accepts the condition {scope}")),
            Err(e) => Err(format!("{e}; fix leavers.scope")),
        };
        lines.push(CheckLine::new("leavers scope", res));
    }
    // A job meant for a sandbox run against production (or the reverse)
    // would suffix, or fail to suffix, every username it creates.
    let org = match (client.organization().await, &job.salesforce.sandbox) {
        (Ok((true, name)), Some(s)) => Ok(format!(
            "the org ({name}) is a sandbox, as salesforce.sandbox = \"{s}\" says"
        )),
        (Ok((false, name)), None) => Ok(format!(
            "the org ({name}) is production, as the job (no salesforce.sandbox) says"
        )),
        (Ok((true, name)), None) => Err(format!(
            "warning: the org ({name}) is a sandbox (Organization.IsSandbox = true) but the job has no salesforce.sandbox; usernames would be matched and created without the sandbox's suffix"
        )),
        (Ok((false, name)), Some(s)) => Err(format!(
            "warning: the org ({name}) is not a sandbox (Organization.IsSandbox = false) but the job says salesforce.sandbox = \"{s}\"; every username would get \".{s}\""
        )),
        (Err(e), _) => Err(format!("could not read Organization.IsSandbox: {e}")),
    };
    // Only a disagreement is the job's set-up (exit 2); a failed read is not.
    let what = match &org {
        Err(e) if !e.starts_with("warning") => "organization",
        _ => "sandbox",
    };
    lines.push(CheckLine::new(what, org));
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

/// Every template attribute the CSV header lacks, with the field that reads
/// it and the column a typo most likely meant.
fn csv_columns(job: &Job, cfg: &CsvSource, header: &[String]) -> Result<String, String> {
    let mut problems = Vec::new();
    for (a, attr) in job.attributes.iter().enumerate() {
        if header.contains(attr) {
            continue;
        }
        let readers: Vec<String> = job
            .fields
            .iter()
            .filter_map(|f| {
                let t = f.template.as_ref()?;
                t.attributes()
                    .any(|i| i == a)
                    .then(|| format!("mapping.{} = \"{t}\"", f.name))
            })
            .collect();
        let meant = header
            .iter()
            .map(|h| (crate::salesforce::user_fields::edits(attr, h), h))
            .filter(|&(e, _)| e <= 2)
            .min_by_key(|&(e, _)| e)
            .map(|(_, h)| format!("; did you mean {{{h}}}?"))
            .unwrap_or_default();
        problems.push(format!(
            "{{{attr}}} ({}) is not a column of {}{meant}",
            readers.join(", "),
            cfg.path.display()
        ));
    }
    if problems.is_empty() {
        Ok(format!(
            "every attribute the mapping reads is a column ({})",
            job.attributes.join(", ")
        ))
    } else {
        problems.push(format!("the header has: {}", header.join(", ")));
        Err(problems.join("\n"))
    }
}

/// What to fix when the token call failed: the credentials only when the
/// login host answered and refused them; otherwise the host itself.
fn token_advice(e: &crate::salesforce::SfError, login_url: &str) -> String {
    match e {
        crate::salesforce::SfError::Auth { .. } => {
            format!("{e}; check the connected app and credentials")
        }
        crate::salesforce::SfError::Transport { .. } => format!(
            "{e}; is {login_url} the right login host, and is it up (for the emulator: is `sfsync emulator` running there)?"
        ),
        _ => e.to_string(),
    }
}

fn secret_refs(job: &Job) -> Vec<&SecretRef> {
    crate::job::preflight::secret_refs(job)
}
