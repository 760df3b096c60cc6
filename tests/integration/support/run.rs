//! Running the real `sfsync` binary against an in-process emulator: job
//! files written for the test, secrets through the child's environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use sfsync::emulator::OrgConfig;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Secrets the test jobs read (`*_env`), with values distinctive enough to search for in output.
pub const SECRETS: [(&str, &str); 4] = [
    ("SFSYNC_TEST_CLIENT_ID", "client-id-7f3a9c"),
    ("SFSYNC_TEST_CLIENT_SECRET", "client-secret-Zq81xK"),
    ("SFSYNC_TEST_USERNAME", "svc@example.com"),
    ("SFSYNC_TEST_PASSWORD", "pw-Hunter2-TOKEN-Qx9"),
];

/// The demo job pointed at `base_url`, reading `csv` (default: the sample people),
/// with `[limits]`/`[safety]` lines appended by `extra`. Returns the job path.
pub fn write_job(dir: &Path, base_url: &str, csv: Option<&Path>, extra: &str) -> PathBuf {
    // The sample people are copied beside the job and named relatively, so
    // reports say `people.csv:12` wherever the checkout lives (snapshots).
    let csv = match csv {
        Some(path) => path.display().to_string(),
        None => {
            std::fs::copy(repo().join("samples/people.csv"), dir.join("people.csv")).unwrap();
            "people.csv".to_owned()
        }
    };
    let mut text = std::fs::read_to_string(repo().join("jobs/demo.toml")).unwrap();
    text = text
        .replace("http://127.0.0.1:8484", base_url)
        .replace("\"../samples/people.csv\"", &format!("{csv:?}"));
    for (key, (var, _)) in ["client_id", "client_secret", "username", "password"]
        .iter()
        .zip(SECRETS)
    {
        let dash = key.replace('_', "-");
        text = text.replace(
            &format!("{key}_file = \"demo-credentials/{dash}\""),
            &format!("{key}_env = \"{var}\""),
        );
    }
    // Limits and safety go last so `extra` can override them by section.
    let cut = text.find("[limits]").unwrap();
    text.truncate(cut);
    text.push_str(if extra.contains("[limits]") {
        ""
    } else {
        "[limits]\nrequests_per_second = 100.0\nmax_creates = 1000\n"
    });
    text.push_str(extra);
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `sfsync ARGS` to completion off the async runtime (the emulator keeps serving).
pub async fn sfsync(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("sfsync")
            .unwrap()
            .args(&args)
            .envs(SECRETS)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The sample org of `samples/` (19 users, foreign usernames), as `sfsync emulator` would load it.
pub fn sample_org() -> OrgConfig {
    use clap::Parser;
    let users = repo().join("samples/salesforce-users.csv");
    let foreign = repo().join("samples/foreign-usernames.txt");
    let access = repo().join("samples/salesforce-access.toml");
    let cli = sfsync::cli::Cli::try_parse_from([
        "sfsync".as_ref(),
        "emulator".as_ref(),
        "--users".as_ref(),
        users.as_os_str(),
        "--foreign-usernames".as_ref(),
        foreign.as_os_str(),
        "--access".as_ref(),
        access.as_os_str(),
    ])
    .unwrap();
    match cli.command {
        sfsync::cli::Command::Emulator(args) => OrgConfig::from_args(&args).unwrap(),
        _ => unreachable!(),
    }
}

/// Expected outcomes per sample person, read from the table in `samples/README.md`
/// (the one place they are written down): (uid, plan outcome, sync outcome).
pub fn expected_sample_outcomes() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(repo().join("samples/README.md")).unwrap();
    let table = text.split("## Expected outcome per person").nth(1).unwrap();
    table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| uid") && !l.starts_with("|---"))
        .take_while(|l| !l.starts_with("| |"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].to_owned(),
                cells[4].to_owned(),
                cells[5].to_owned(),
            )
        })
        .collect()
}

/// uid of each line of `samples/people.csv` (line number -> uid).
pub fn sample_uid_by_line() -> std::collections::HashMap<u64, String> {
    let text = std::fs::read_to_string(repo().join("samples/people.csv")).unwrap();
    text.lines()
        .enumerate()
        .skip(1)
        .map(|(i, l)| (i as u64 + 1, l.split(',').next().unwrap().to_owned()))
        .collect()
}

/// Report `users` as (uid, outcome) using the `FILE:LINE` source.
pub fn outcomes_by_uid(report: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    let uids = sample_uid_by_line();
    report["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let line: u64 = u["source"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (
                uids[&line].clone(),
                u["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// insta filters for times, ports and paths.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    let repo: &'static str =
        Box::leak(regex_escape(&repo().display().to_string()).into_boxed_str());
    vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
        (r"127\.0\.0\.1:\d+", "[EMU]"),
        (r"/[^ \n]*/\.tmp[A-Za-z0-9]{6}", "[TMP]"),
        (repo, "[REPO]"),
        (r#""api_remaining": \d+"#, r#""api_remaining": [N]"#),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}
