//! README walk-throughs run as written (SPEC "Running unattended"; STYLE 10):
//! every fenced block of README.md is run or checked here, so a walk-through
//! that stops working fails CI.
//!
//! - ```sh blocks run with bash in a fresh copy of `jobs/` and `samples/`,
//!   with the binary under test first on `PATH` (what `cargo install` does).
//!   A block that cannot run in a test is preceded by
//!   `<!-- readme-test: skip: REASON -->`.
//! - ```cron lines are checked for their five time fields and a command line
//!   sfsync accepts; ```ini blocks must be the unit files in `docs/systemd/`,
//!   which `systemd-analyze verify` accepts (when the tool is present);
//!   ```toml blocks are valid job files.
//!
//! One substitution is made: the emulator's port `127.0.0.1:8484` becomes a
//! free port, so the test does not depend on 8484 being free on the machine.
//! (`emulator_default_listen_is_the_demo_jobs_address` pins the default.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::run::repo;

/// One fenced block of README.md.
#[derive(Debug)]
struct Block {
    lang: String,
    text: String,
    /// From a `<!-- readme-test: skip: REASON -->` line just before the fence.
    skip: Option<String>,
    /// The line the fence opens on (1-based), for messages.
    line: usize,
}

fn blocks() -> Vec<Block> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut lines = readme.lines().enumerate().peekable();
    let mut previous = "";
    while let Some((i, line)) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let mut text = String::new();
            for (_, l) in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            let skip = previous
                .trim()
                .strip_prefix("<!-- readme-test: skip:")
                .and_then(|r| r.strip_suffix("-->"))
                .map(|r| r.trim().to_owned());
            out.push(Block {
                lang: lang.trim().to_owned(),
                text,
                skip,
                line: i + 1,
            });
            previous = "";
        } else {
            previous = line;
        }
    }
    out
}

/// A fresh copy of what the walk-throughs read: `jobs/` and `samples/`.
fn fresh_checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for folder in ["jobs", "samples"] {
        copy_dir(&repo().join(folder), &dir.path().join(folder));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            // Runs' own state folders are not part of a clone.
            if entry.file_name() != ".sfsync" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `PATH` with the binary under test first, as after `cargo install`.
fn path_with_sfsync() -> String {
    let bin = assert_cmd::cargo::cargo_bin("sfsync");
    let dir = bin.parent().unwrap().display().to_string();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn bash(dir: &Path, script: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path_with_sfsync())
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_shell_block_runs_as_written_or_says_why_not() {
    let blocks = blocks();
    let shell: Vec<&Block> = blocks.iter().filter(|b| b.lang == "sh").collect();
    assert!(
        shell.len() >= 3,
        "README lost its walk-throughs: {blocks:?}"
    );
    let mut ran = 0;
    for b in shell {
        if let Some(reason) = &b.skip {
            assert!(
                !reason.is_empty(),
                "README.md:{}: a skip needs a reason",
                b.line
            );
            continue;
        }
        // Given a fresh copy of the checkout and `sfsync` on PATH,
        let dir = fresh_checkout();
        let script = b
            .text
            .replace("127.0.0.1:8484", &format!("127.0.0.1:{}", free_port()));
        // when the block runs,
        let out = bash(dir.path(), &script);
        let err = text(&out.stderr);
        // then it ends well and every command in it was found and accepted.
        assert!(
            out.status.success(),
            "README.md:{}: exit {:?}\n{err}",
            b.line,
            out.status.code()
        );
        assert!(
            !err.contains("command not found"),
            "README.md:{}: {err}",
            b.line
        );
        assert!(!err.contains("error: "), "README.md:{}: {err}", b.line);
        walkthrough_results(dir.path(), &script, b.line);
        ran += 1;
    }
    assert!(ran >= 1, "no README shell block ran");
}

/// What the rehearsal leaves behind, judged from its files.
fn walkthrough_results(dir: &Path, script: &str, line: usize) {
    if !script.contains("rehearsal/run.json") {
        return;
    }
    let plan = std::fs::read_to_string(dir.join("rehearsal/plan.html")).unwrap();
    assert!(plan.contains("<html"), "README.md:{line}: plan.html");
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("rehearsal/run.json")).unwrap()).unwrap();
    assert_eq!(run["dry_run"], false);
    let created = run["summary"]["created"].as_u64().unwrap();
    assert!(
        created > 0,
        "README.md:{line}: the rehearsal created nobody"
    );
    let after = std::fs::read_to_string(dir.join("rehearsal/after.csv")).unwrap();
    let seeded = std::fs::read_to_string(dir.join("samples/salesforce-users.csv")).unwrap();
    assert_eq!(
        after.lines().count(),
        seeded.lines().count() + created as usize,
        "README.md:{line}: after.csv is the sample org plus the users created"
    );
}

#[test]
fn the_install_line_comes_before_the_first_bare_sfsync_command() {
    let blocks = blocks();
    let install = blocks
        .iter()
        .position(|b| b.text.trim() == sfsync::commands::demo::INSTALL)
        .expect("README has the install line as a block of its own");
    let first_bare = blocks
        .iter()
        .position(|b| {
            b.text
                .lines()
                .any(|l| l.trim_start().starts_with("sfsync "))
        })
        .unwrap();
    assert!(
        install < first_bare,
        "install at block {install}, first `sfsync` at {first_bare}"
    );
    // The first screen keeps exactly two set-up commands.
    let first = &blocks[0];
    let commands: Vec<&str> = first
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].starts_with("cargo run --release -- demo"));
    assert!(commands[1].starts_with(".ci/test"));
}

/// The sfsync command line of `line` (from the binary's name on), parsed as sfsync would.
fn parses_as_sfsync(line: &str) -> sfsync::cli::Cli {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.ends_with("/sfsync") || *w == "sfsync")
        .unwrap_or_else(|| panic!("no sfsync in {line}"));
    <sfsync::cli::Cli as clap::Parser>::try_parse_from(&words[at..])
        .unwrap_or_else(|e| panic!("{line}\n{e}"))
}

#[test]
fn the_crontab_line_has_five_time_fields_and_a_command_sfsync_accepts() {
    let blocks = blocks();
    let cron: Vec<&Block> = blocks.iter().filter(|b| b.lang == "cron").collect();
    assert_eq!(cron.len(), 1);
    for line in cron[0].text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        for (f, range) in fields[..5]
            .iter()
            .zip([0..=59, 0..=23, 1..=31, 1..=12, 0..=7])
        {
            assert!(
                *f == "*" || f.parse::<u32>().is_ok_and(|n| range.contains(&n)),
                "crontab field {f} in {line}"
            );
        }
        // cron's PATH is short: the binary is named by its full path.
        assert!(fields[5].starts_with('/'), "{line}");
        let cli = parses_as_sfsync(line);
        assert!(cli.quiet >= 1, "a cron job runs with -q: {line}");
    }
}

#[test]
fn readme_units_are_the_files_in_docs_systemd_and_systemd_accepts_them() {
    let blocks = blocks();
    let units: Vec<&Block> = blocks.iter().filter(|b| b.lang == "ini").collect();
    assert_eq!(units.len(), 2);
    let mut files = Vec::new();
    for b in units {
        let first = b.text.lines().next().unwrap();
        let name = first
            .strip_prefix("# ")
            .and_then(|r| r.split(':').next())
            .unwrap();
        let path = repo().join(name);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            b.text,
            "README.md:{} differs from {name}",
            b.line
        );
        files.push(path);
    }
    let service =
        std::fs::read_to_string(repo().join("docs/systemd/sfsync-nightly.service")).unwrap();
    for needed in [
        "UMask=0027",
        "StateDirectory=sfsync",
        "LoadCredential=sf-password:",
    ] {
        assert!(service.contains(needed), "{needed}");
    }
    // The command it starts is one sfsync accepts, and the job it names loads,
    // reading every secret from $CREDENTIALS_DIRECTORY.
    let exec = service
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .unwrap();
    parses_as_sfsync(exec.trim_start_matches("ExecStart="));
    let job = sfsync::job::load(&repo().join("docs/systemd/nightly-systemd.toml")).unwrap();
    for r in sfsync::job::preflight::secret_refs(&job) {
        let credential = match &r.from {
            sfsync::job::SecretFrom::File(p) => p.display().to_string(),
            other => panic!("{other:?}"),
        };
        let name = credential.rsplit('/').next().unwrap();
        assert!(
            credential.starts_with("${CREDENTIALS_DIRECTORY}/"),
            "{credential}"
        );
        assert!(
            service.contains(&format!("LoadCredential={name}:")),
            "{name}"
        );
    }
    assert_eq!(job.safety.state_dir, PathBuf::from("/var/lib/sfsync"));

    let verify = Command::new("systemd-analyze").arg("--version").output();
    if !verify.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped `systemd-analyze verify`: the tool is not installed here");
        return;
    }
    // ExecStart must name an executable that exists: the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("sfsync");
    let mut copies = Vec::new();
    for f in &files {
        let copy = dir.path().join(f.file_name().unwrap());
        let t = std::fs::read_to_string(f)
            .unwrap()
            .replace("/usr/local/bin/sfsync", bin.to_str().unwrap());
        std::fs::write(&copy, t).unwrap();
        copies.push(copy);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&copies)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Unknown keys are only warned about: any word from it is a failure here.
    assert_eq!(text(&out.stderr), "", "systemd-analyze verify complained");
}

#[test]
fn the_job_file_walk_through_is_a_valid_job() {
    let toml: Vec<Block> = blocks().into_iter().filter(|b| b.lang == "toml").collect();
    assert!(!toml.is_empty());
    for b in toml {
        let path = repo().join("README.md");
        if let Err(e) = sfsync::job::parse(&b.text, &path) {
            panic!("README.md:{}: {e}", b.line);
        }
    }
}

#[test]
fn emulator_default_listen_is_the_demo_jobs_address() {
    let cli = <sfsync::cli::Cli as clap::Parser>::try_parse_from(["sfsync", "emulator"]).unwrap();
    let sfsync::cli::Command::Emulator(args) = cli.command else {
        unreachable!()
    };
    let job = sfsync::job::load(&repo().join("jobs/demo.toml")).unwrap();
    assert_eq!(
        job.salesforce.instance_url,
        format!("http://{}", args.listen)
    );
}

#[test]
fn the_demos_next_step_works_as_printed() {
    // Given a fresh copy of the checkout,
    let dir = fresh_checkout();
    let demo = bash(dir.path(), "sfsync demo");
    assert_eq!(demo.status.code(), Some(0), "{}", text(&demo.stderr));
    let stdout = text(&demo.stdout);

    // when the commands the demo prints as its next step are run,
    let hint: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Next:"))
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| l.starts_with("sfsync "))
        .collect();
    assert_eq!(hint.len(), 2, "{stdout}");
    assert!(stdout.contains(sfsync::commands::demo::INSTALL), "{stdout}");
    let (emulator, plan) = (hint[0], hint[1]);
    assert!(emulator.starts_with("sfsync emulator ") && plan.starts_with("sfsync plan "));
    // (the emulator on a free port instead of its default 8484, and the plan pointed there)
    let port = free_port();
    let script = format!(
        "{emulator} --listen 127.0.0.1:{port} & \
         {plan} --instance-url http://127.0.0.1:{port} --format json > plan.json; \
         code=$?; kill %1; wait; exit $code"
    );
    let out = bash(dir.path(), &script);

    // then the plan works against the sample org: exit 3 (the sample has people
    // who need a person, on purpose), with creates and collisions planned.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("plan.json")).unwrap()).unwrap();
    assert_eq!(
        report["summary"]["salesforce_users"], 21,
        "seeded with the sample org"
    );
    assert!(report["summary"]["create"].as_u64().unwrap() > 0);
}
