//! The command line as a new user meets it: `--help`, job-file errors, the
//! example jobs. Nothing here contacts a server.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn sfsync() -> Command {
    Command::cargo_bin("sfsync").expect("the sfsync binary is built")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `sfsync plan` on a job file written from `text`; returns (exit code, stderr).
fn plan_with_job(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("broken.toml");
    std::fs::write(&job, text).unwrap();
    let out = sfsync()
        .args(["plan", "--job"])
        .arg(&job)
        .env_remove("SF_PASSWORD")
        .output()
        .unwrap();
    let stderr =
        String::from_utf8_lossy(&out.stderr).replace(&*dir.path().to_string_lossy(), "[TMP]");
    (out.status.code().unwrap_or(-1), stderr)
}

const GOOD: &str = r#"name = "t"
[source]
type = "csv"
path = "people.csv"
[salesforce]
instance_url = "http://127.0.0.1:9"
client_id_env = "SF_CLIENT_ID"
client_secret_env = "SF_CLIENT_SECRET"
username_env = "SF_USERNAME"
password_env = "SF_PASSWORD"
[mapping]
Username = "{mail|lower}"
Email = "{mail}"
LastName = "{sn}"
Alias = "{sn|first:8}"
FederationIdentifier = "{uid}"
[defaults]
ProfileId = "00e90000001aV2o"
TimeZoneSidKey = "America/Los_Angeles"
LocaleSidKey = "en_US"
EmailEncodingKey = "UTF-8"
LanguageLocaleKey = "en_US"
"#;

/// Strips the log prefix (time, level) so snapshots hold only the message.
fn message(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| match l.find("ERROR ") {
            Some(i) => &l[i + 6..],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_problem_in_a_job_file_is_reported_at_once_with_its_key_and_exit_2() {
    // given a job with an unknown key, a wrong type, a bad template, an inline secret and a missing section
    let text = GOOD
        .replace("type = \"csv\"", "type = \"csv\"\nfilter = \"(x=1)\"")
        .replace(
            "[defaults]",
            "[limits]\nconcurrency = \"four\"\nbatch_size = 500\n[defaults]",
        )
        .replace("{sn|first:8}", "{sn|first:}")
        .replace("password_env = \"SF_PASSWORD\"", "password = \"hunter2\"");
    let (code, stderr) = plan_with_job(&text);
    assert_eq!(code, 2);
    assert!(
        !stderr.contains("hunter2"),
        "an inline secret is never echoed"
    );
    insta::assert_snapshot!("job_errors_all_at_once", message(&stderr));

    let (code, stderr) = plan_with_job(&GOOD.replace("[mapping]", "[mapping_typo]"));
    assert_eq!(code, 2);
    insta::assert_snapshot!("job_errors_missing_section", message(&stderr));
}

#[test]
fn a_missing_env_secret_is_a_usage_error_naming_the_variable_not_a_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("people.csv"),
        "uid,mail,sn\na,a@example.com,A\n",
    )
    .unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(&job, GOOD).unwrap();
    let out = sfsync()
        .args(["plan", "--job"])
        .arg(&job)
        .env("SF_CLIENT_ID", "id-value-distinctive")
        .env("SF_CLIENT_SECRET", "secret-value-distinctive")
        .env("SF_USERNAME", "user@example.com")
        .env_remove("SF_PASSWORD")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "environment variable SF_PASSWORD (from `salesforce.password_env`) is not set"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("distinctive"), "{stderr}");
}

#[test]
fn plain_http_salesforce_is_refused_off_loopback() {
    let (code, stderr) =
        plan_with_job(&GOOD.replace("http://127.0.0.1:9", "http://sf.example.com"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("salesforce.instance_url: plain http:// is refused except on loopback"),
        "{stderr}"
    );
}

#[test]
fn directory_filters_on_a_csv_or_read_two_ways_are_job_errors() {
    // A CSV has no raw bytes to read,
    let (code, stderr) = plan_with_job(&GOOD.replace("{uid}", "{objectGUID|guid}"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "mapping: `objectguid` is read with guid, sid, base64 or hex, which read a \
             directory attribute's raw bytes; a CSV source has text only"
        ),
        "{stderr}"
    );
    // one attribute cannot be read as bytes and as text,
    let (code, stderr) =
        plan_with_job(&GOOD.replace("Alias = \"{sn|first:8}\"", "Alias = \"{uid|hex}\""));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`uid` is read with") && stderr.contains("one attribute is read one way"),
        "{stderr}"
    );
    // and a directory filter goes first.
    let (code, stderr) = plan_with_job(&GOOD.replace("{uid}", "{uid|lower|smtp}"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`smtp` reads how the attribute is stored, so it must come first"),
        "{stderr}"
    );
}

#[test]
fn every_example_job_in_jobs_is_valid() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("jobs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            sfsync::job::load(&path).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert_eq!(
        seen, 4,
        "demo, nightly-ldap, nightly-ad and initial-migration-csv"
    );
}

#[test]
fn help_explains_every_command_and_flag() {
    let top = sfsync().arg("--help").output().unwrap();
    insta::assert_snapshot!("help_top", String::from_utf8_lossy(&top.stdout));
    for cmd in ["plan", "sync", "check", "emulator", "demo"] {
        let out = sfsync().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        insta::assert_snapshot!(format!("help_{cmd}"), String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn a_missing_csv_file_is_exit_2_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(&job, GOOD).unwrap();
    let out = sfsync()
        .args(["plan", "--job"])
        .arg(&job)
        .envs([
            ("SF_CLIENT_ID", "a"),
            ("SF_CLIENT_SECRET", "b"),
            ("SF_USERNAME", "c"),
            ("SF_PASSWORD", "d"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&*Path::new(&dir.path().join("people.csv")).to_string_lossy()),
        "{stderr}"
    );
}
