//! What a run checks about a loaded [`Job`] before it contacts anything:
//! every secret readable, every file it names present, and the
//! `--instance-url` override. Every problem is found in one pass, so a copied
//! job file with a missing secret file, an unset variable and a wrong CSV path
//! is fixed in one go rather than one run per problem.

use std::path::Path;

use super::{AuthConfig, Job, SecretRef, SourceConfig, load::check_https};

/// Problems found before a run contacted anything (exit 2), one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(path, problems))]
pub struct PreflightError {
    /// The job file the problems belong to.
    pub path: std::path::PathBuf,
    /// One sentence per problem, naming the key and the file or variable.
    pub problems: Vec<String>,
}

fn render(path: &Path, problems: &[String]) -> String {
    let mut out = format!(
        "job {} cannot run: {} problem{} found before contacting anything:",
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

/// Points the job at another org for one run (`--instance-url`): both
/// `instance_url` and `login_url` are replaced, so a rehearsal against the
/// emulator can never reach the production login host.
///
/// # Errors
/// A URL that is not https:// (plain http:// only on loopback), or one with
/// a user name, password, query or fragment (issue 12: refused like the job
/// file's URLs, and never quoted while it may hold a password).
pub fn override_instance_url(job: &mut Job, url: &str) -> Result<(), PreflightError> {
    let refuse = |why: String| PreflightError {
        path: job.path.clone(),
        problems: vec![format!("--instance-url: {why}")],
    };
    crate::job::load::check_url_parts(url).map_err(refuse)?;
    check_https(url).map_err(|why| {
        refuse(format!(
            "{why}, found \"{}\"",
            crate::printable::escape_controls(url)
        ))
    })?;
    let url = url.trim_end_matches('/').to_owned();
    job.salesforce.login_url.clone_from(&url);
    job.salesforce.instance_url = url;
    Ok(())
}

/// Every secret the job names, in job-file order (LDAP bind first, then Salesforce).
pub fn secret_refs(job: &Job) -> Vec<&SecretRef> {
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
        } => refs.extend([client_id, client_secret, username, password]),
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

/// Resolves every secret and checks every input file the job names (the
/// CSV, the LDAP CA file), reporting all problems at once. Touches only the
/// environment and the local disk.
///
/// # Errors
/// [`PreflightError`] listing every problem found.
pub fn check_local(job: &Job) -> Result<(), PreflightError> {
    let mut problems = Vec::new();
    for r in secret_refs(job) {
        if let Err(e) = r.resolve() {
            problems.push(e.to_string());
        }
    }
    let mut file = |key: &str, path: &Path| {
        if let Err(e) = std::fs::metadata(path).and_then(|m| {
            if m.is_file() {
                Ok(())
            } else {
                Err(std::io::Error::other("not a file"))
            }
        }) {
            problems.push(format!("{key}: cannot read {}: {e}", path.display()));
        }
    };
    match &job.source {
        SourceConfig::Csv(c) => file("source.path", &c.path),
        SourceConfig::Ldap(l) => {
            if let Some(ca) = &l.ca_file {
                file("source.ca_file", ca);
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PreflightError {
            path: job.path.clone(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(dir: &Path, extra_salesforce: &str, source: &str) -> Job {
        let text = format!(
            r#"name = "t"
[source]
{source}
[salesforce]
instance_url = "https://example.my.salesforce.com"
login_url = "https://login.salesforce.com"
{extra_salesforce}
[mapping]
Username = "{{mail|lower}}"
Email = "{{mail}}"
LastName = "{{sn}}"
Alias = "{{sn|first:8}}"
FederationIdentifier = "{{uid}}"
[defaults]
ProfileId = "00e90000001aV2o"
TimeZoneSidKey = "America/Los_Angeles"
LocaleSidKey = "en_US"
EmailEncodingKey = "UTF-8"
LanguageLocaleKey = "en_US"
"#
        );
        super::super::parse(&text, &dir.join("job.toml")).unwrap()
    }

    #[test]
    fn every_missing_secret_and_file_is_named_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let j = job(
            dir.path(),
            r#"client_id_file = "missing-client-id"
client_secret_env = "SFSYNC_PREFLIGHT_SURELY_UNSET_A"
username_env = "SFSYNC_PREFLIGHT_SURELY_UNSET_B"
password_file = "missing-password""#,
            "type = \"csv\"\npath = \"nowhere.csv\"",
        );
        let e = check_local(&j).unwrap_err();
        let text = e.to_string();
        assert_eq!(e.problems.len(), 5, "{text}");
        for needle in [
            "missing-client-id",
            "SFSYNC_PREFLIGHT_SURELY_UNSET_A",
            "SFSYNC_PREFLIGHT_SURELY_UNSET_B",
            "missing-password",
            "source.path: cannot read",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
    }

    #[test]
    fn instance_url_replaces_both_urls_and_refuses_plain_http_off_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = job(
            dir.path(),
            "client_id_env = \"A\"\nclient_secret_env = \"B\"\nusername_env = \"C\"\npassword_env = \"D\"",
            "type = \"csv\"\npath = \"p.csv\"",
        );
        override_instance_url(&mut j, "http://127.0.0.1:8484/").unwrap();
        assert_eq!(j.salesforce.instance_url, "http://127.0.0.1:8484");
        assert_eq!(j.salesforce.login_url, "http://127.0.0.1:8484");
        let e = override_instance_url(&mut j, "http://sf.example.com").unwrap_err();
        assert!(e.to_string().contains("--instance-url"), "{e}");
        // Credentials, a query or a fragment are refused as in the job file,
        // and a password is never quoted back.
        let e = override_instance_url(&mut j, "https://svc:hunter2@sf.example.com").unwrap_err();
        let said = e.to_string();
        assert!(
            said.contains("--instance-url: a user name or password"),
            "{said}"
        );
        assert!(!said.contains("hunter2"), "{said}");
        for bad in ["https://sf.example.com/?x=1", "https://sf.example.com/#top"] {
            let e = override_instance_url(&mut j, bad).unwrap_err();
            assert!(e.to_string().contains("a query (?...) or fragment"), "{e}");
        }
        assert_eq!(
            j.salesforce.instance_url, "http://127.0.0.1:8484",
            "refused URLs change nothing"
        );
    }
}
