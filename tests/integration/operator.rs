//! Issue 14: the operator's first hour and every night after. The real
//! binary against the in-process emulator: quiet logs, file modes under a
//! umask, `--instance-url`, every set-up problem at once, `check`'s exit
//! codes and output, an unresolvable host, systemd credentials.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sfsync::emulator::{FaultKind, OrgConfig};

use crate::support::emu::Emu;
use crate::support::run::{SECRETS, filters, sfsync, write_job};

/// `n` new people, all valid: a run over them that ends clean exits 0.
fn clean_csv(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("uid,givenName,sn,mail,employeeNumber,title\n");
    for i in 0..n {
        text.push_str(&format!(
            "op{i:04},Given{i},Surname{i},op{i:04}@ops.example.com,{i},Analyst\n"
        ));
    }
    let path = dir.join("clean.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `sh -c SCRIPT` with the test secrets and `$SFSYNC` naming the binary.
async fn sh(script: &str) -> Output {
    let script = script.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("SFSYNC", assert_cmd::cargo::cargo_bin("sfsync"))
            .envs(SECRETS)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_with_q_prints_nothing_and_without_q_one_info_line() {
    // Given a clean org and a source of 12 valid people,
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = clean_csv(dir.path(), 12);
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");
    let job = job.to_str().unwrap();
    let report = dir.path().join("r.json");
    let report = report.to_str().unwrap();

    // when it is synced with -q and a report file,
    let quiet = sfsync(&["-q", "sync", "--job", job, "--report", report]).await;
    // then it exits 0 and prints nothing at all, on either stream;
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
    assert_eq!(text(&quiet.stdout), "");
    assert_eq!(text(&quiet.stderr), "");
    assert_eq!(emu.org.users().len(), 12);

    // and the same run again without -q logs exactly one INFO line.
    let loud = sfsync(&["sync", "--job", job, "--report", report]).await;
    assert_eq!(loud.status.code(), Some(0));
    let err = text(&loud.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("INFO") && err.contains("Synced job demo"),
        "{err}"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_retried_to_a_clean_end_log_no_warning() {
    // Given an org where 30% of calls answer 503, 429 or UNABLE_TO_LOCK_ROW (seeded),
    let mut cfg = OrgConfig::default();
    cfg.faults.seed = 5;
    cfg.faults.fault_rate = 0.3;
    cfg.faults.kinds = vec![
        FaultKind::ServerUnavailable,
        FaultKind::TooManyRequests,
        FaultKind::LockRow,
    ];
    cfg.faults.retry_after_secs = 0;
    let emu = Emu::start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = clean_csv(dir.path(), 60);
    let limits = "[limits]\nrequests_per_second = 100.0\nbatch_size = 5\nmax_creates = 1000\nmax_retries = 8\n";
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), limits);
    let report = dir.path().join("r.json");

    // when a sync with -q meets them and retries its way through,
    let out = sfsync(&[
        "-q",
        "sync",
        "--job",
        job.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ])
    .await;

    // then everyone was created, the faults really happened, and cron gets no mail.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(emu.org.users().len(), 60);
    let c = emu.org.counters();
    assert!(
        c.faults_503 + c.faults_429 + c.faults_lock_row > 0,
        "the faults must happen for this test to mean anything"
    );
    assert_eq!(text(&out.stderr), "");
    emu.stop().await;
}

/// Mode bits of a file.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_results_and_metrics_files_honour_the_umask() {
    let emu = Emu::empty().await;
    for (umask, expected) in [("022", 0o644), ("077", 0o600)] {
        // Given a run started under umask 022 (then 077),
        let dir = tempfile::tempdir().unwrap();
        let csv = clean_csv(dir.path(), 3);
        let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");
        let d = dir.path().display();
        let out = sh(&format!(
            "umask {umask}; exec \"$SFSYNC\" -q sync --job {} --report {d}/out/r.json \
             --metrics-file {d}/out/sfsync.prom --results-dir {d}/results",
            job.display()
        ))
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        // then every file it wrote has 0666 less the umask, as Unix tools do.
        for f in [
            "out/r.json",
            "out/sfsync.prom",
            "results/success.csv",
            "results/error.csv",
        ] {
            assert_eq!(
                mode(&dir.path().join(f)),
                expected,
                "{f} under umask {umask}"
            );
        }
    }
    emu.stop().await;
}

/// A job whose `[salesforce]` names the production hosts.
fn production_job(dir: &Path, base_url: &str) -> PathBuf {
    let job = write_job(dir, base_url, Some(&clean_csv(dir, 2)), "");
    let text = std::fs::read_to_string(&job).unwrap().replace(
        &format!("instance_url = \"{base_url}\""),
        "instance_url = \"https://acme.my.salesforce.com\"\nlogin_url = \"https://login.salesforce.com\"",
    );
    std::fs::write(&job, text).unwrap();
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_url_points_plan_sync_and_check_at_the_emulator_not_production() {
    // Given a job naming the production org and its login host,
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = production_job(dir.path(), &emu.base_url);
    let job = job.to_str().unwrap();
    let url = emu.base_url.as_str();

    // when plan, sync and check are given --instance-url,
    let plan = sfsync(&[
        "-q",
        "plan",
        "--job",
        job,
        "--instance-url",
        url,
        "--format",
        "json",
    ])
    .await;
    let sync = sfsync(&[
        "-q",
        "sync",
        "--job",
        job,
        "--instance-url",
        url,
        "--format",
        "json",
    ])
    .await;
    let check = sfsync(&["check", "--job", job, "--instance-url", url]).await;

    // then all of them logged in at the emulator (three tokens) and the sync created there.
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert_eq!(sync.status.code(), Some(0), "{}", text(&sync.stderr));
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));
    assert_eq!(emu.org.counters().token_calls, 3);
    assert_eq!(emu.org.users().len(), 2);

    // and a plain http:// URL off loopback is refused before anything is contacted.
    let bad = sfsync(&[
        "plan",
        "--job",
        job,
        "--instance-url",
        "http://sf.example.com",
    ])
    .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--instance-url: plain http:// is refused"));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_names_every_missing_secret_and_file_at_once() {
    // Given a copied job with a missing secret file, two unset variables and a wrong CSV path,
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(
        dir.path(),
        &emu.base_url,
        Some(Path::new("nowhere.csv")),
        "",
    );
    let text_in = std::fs::read_to_string(&job).unwrap();
    let text_in = text_in
        .replace(
            "client_id_env = \"SFSYNC_TEST_CLIENT_ID\"",
            "client_id_file = \"secrets/client-id\"",
        )
        .replace("SFSYNC_TEST_USERNAME", "SFSYNC_OPERATOR_UNSET_USER")
        .replace("SFSYNC_TEST_PASSWORD", "SFSYNC_OPERATOR_UNSET_PASSWORD");
    std::fs::write(&job, text_in).unwrap();

    // when it is planned,
    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;

    // then one run names all four problems, exits 2, and contacted nothing.
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for needle in [
        "4 problems found before contacting anything",
        "secrets/client-id",
        "SFSYNC_OPERATOR_UNSET_USER",
        "SFSYNC_OPERATOR_UNSET_PASSWORD",
        "source.path: cannot read",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
    assert_eq!(emu.org.counters().requests, 0);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_2_on_a_broken_job_and_on_missing_secrets_with_one_line_for_an_unknown_auth() {
    let dir = tempfile::tempdir().unwrap();
    // Given a job whose auth flow is misspelt (its credential keys are fine),
    let job = write_job(dir.path(), "http://127.0.0.1:9", None, "");
    let broken = std::fs::read_to_string(&job)
        .unwrap()
        .replace("auth = \"password\"", "auth = \"passwrod\"");
    std::fs::write(&job, broken).unwrap();

    // when it is checked,
    let out = sfsync(&["check", "--job", job.to_str().unwrap()]).await;

    // then it exits 2 (a job-file error) with one line about `auth` and none about the keys.
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("check_unknown_auth", stdout);
    });
    assert!(!stdout.contains("unknown key"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_every_line_against_the_emulator() {
    // Given the sample people and an emulator, and one secret unset,
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let good = sfsync(&["check", "--job", job.to_str().unwrap()]).await;
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stdout));
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("check_all_ok", text(&good.stdout));
    });

    let unset = std::fs::read_to_string(&job)
        .unwrap()
        .replace("SFSYNC_TEST_PASSWORD", "SFSYNC_OPERATOR_UNSET_PASSWORD");
    std::fs::write(&job, unset).unwrap();
    let out = sfsync(&["check", "--job", job.to_str().unwrap()]).await;

    // then the missing secret is a set-up problem: exit 2, every other check still listed.
    assert_eq!(out.status.code(), Some(2));
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("check_missing_secret", text(&out.stdout));
    });
    emu.stop().await;
}

#[test]
fn a_job_without_match_defaults_to_the_mapped_keys() {
    // Given a job with no [match] and no FederationIdentifier mapping,
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), "http://127.0.0.1:9", None, "");
    let text_in = std::fs::read_to_string(&job).unwrap();
    let text_in = text_in
        .replace("FederationIdentifier = \"{uid}\"\n", "")
        .replace(
            "[match]\nkeys = [\"FederationIdentifier\", \"Username\"]\n",
            "",
        );
    std::fs::write(&job, &text_in).unwrap();
    assert!(!text_in.contains("[match]"));

    // when it is loaded, then it matches on Username alone.
    let loaded = sfsync::job::load(&job).unwrap();
    assert_eq!(loaded.match_keys, vec!["Username".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_files_under_credentials_directory_are_read_from_systemds_folder() {
    // Given a job whose password is `${CREDENTIALS_DIRECTORY}/sf-password` (LoadCredential=),
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = clean_csv(dir.path(), 1);
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("sf-password"), "pw-from-systemd\n").unwrap();
    let t = std::fs::read_to_string(&job).unwrap().replace(
        "password_env = \"SFSYNC_TEST_PASSWORD\"",
        "password_file = \"${CREDENTIALS_DIRECTORY}/sf-password\"",
    );
    std::fs::write(&job, t).unwrap();

    // when it runs with CREDENTIALS_DIRECTORY set, as systemd does,
    let out = sh(&format!(
        "CREDENTIALS_DIRECTORY={} exec \"$SFSYNC\" -q plan --job {} --format json",
        creds.display(),
        job.display()
    ))
    .await;
    // then it logs in;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(emu.org.counters().token_calls, 1);

    // and without it, the message says what sets it.
    let out = sh(&format!(
        "unset CREDENTIALS_DIRECTORY; exec \"$SFSYNC\" plan --job {}",
        job.display()
    ))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("$CREDENTIALS_DIRECTORY, which is not set"),
        "{}",
        text(&out.stderr)
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_host_is_fatal_at_once_naming_it() {
    // Only inside a network namespace of our own: the lookup must never leave the machine.
    let probe = Command::new("unshare").args(["-rn", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `unshare -rn` (a private network namespace) is not available here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = clean_csv(dir.path(), 1);
    let job = write_job(
        dir.path(),
        "https://acme-sfsync.example.invalid",
        Some(&csv),
        "",
    );

    // when the run cannot resolve the org's host name,
    let out = sh(&format!(
        "exec unshare -rn \"$SFSYNC\" plan --job {}",
        job.display()
    ))
    .await;

    // then it stops with exit 1 at the first attempt, naming the host.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("the host name acme-sfsync.example.invalid does not resolve"),
        "{err}"
    );
    assert!(!err.contains("will retry"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_table_lists_would_be_creates_and_report_all_lists_every_one() {
    // Given 45 new people and an empty org,
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    clean_csv(dir.path(), 45);
    let job = write_job(dir.path(), &emu.base_url, Some(Path::new("clean.csv")), "");
    let job = job.to_str().unwrap();

    // when they are planned as a table,
    let out = sfsync(&["-q", "plan", "--job", job]).await;
    let table = text(&out.stdout);
    // then the first 40 are listed with their key fields, and the rest counted;
    assert_eq!(out.status.code(), Some(0));
    assert!(table.contains("Would be created (45):"), "{table}");
    assert_eq!(
        table.matches("@ops.example.com (clean.csv:").count(),
        40,
        "{table}"
    );
    assert!(
        table.contains("op0000@ops.example.com (clean.csv:2)\n      FederationIdentifier: op0000 · Name: Given0 Surname0"),
        "{table}"
    );
    assert!(
        table.contains("... and 5 more (--report-all lists them all"),
        "{table}"
    );

    // with --report-all every one is listed;
    let all = sfsync(&["-q", "plan", "--job", job, "--report-all"]).await;
    let all = text(&all.stdout);
    assert_eq!(
        all.matches("@ops.example.com (clean.csv:").count(),
        45,
        "{all}"
    );
    assert!(!all.contains("more (--report-all"), "{all}");

    // and the Markdown form carries the values a real run would send.
    let md = sfsync(&["-q", "plan", "--job", job, "--format", "md"]).await;
    let md = text(&md.stdout);
    assert!(md.contains("### Would be created (45)"), "{md}");
    assert!(
        md.contains("| op0001@ops.example.com | clean.csv:3 | Username: op0001@ops.example.com · Email: op0001@ops.example.com ·"),
        "{md}"
    );
    assert_eq!(emu.org.counters().create_collection_calls, 0);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_show_progress_on_a_terminal_and_nothing_on_a_pipe() {
    // `script` runs a command on a pseudo-terminal (util-linux).
    let probe = Command::new("script")
        .args(["-qec", "true", "/dev/null"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `script` (util-linux) is not available to give the run a terminal");
        return;
    }
    // Given an org of 2,500 users (two pages of SOQL),
    let emu = Emu::with_users(2_500).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = clean_csv(dir.path(), 3);
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");
    let cmd = format!(
        "\"$SFSYNC\" -q plan --job {} --report {}/r.json",
        job.display(),
        dir.path().display()
    );

    // when a plan runs on a terminal, then the reads show records and pages;
    let tty = sh(&format!("exec script -qec '{cmd}' /dev/null")).await;
    assert_eq!(tty.status.code(), Some(0), "{}", text(&tty.stdout));
    let screen = text(&tty.stdout);
    assert!(screen.contains("Reading Salesforce: "), "{screen:?}");
    // (how many pages a frame shows depends on when it was drawn)
    assert!(screen.contains(" records  1 page"), "{screen:?}");

    // and on a pipe nothing is printed at all.
    let piped = sh(&format!("exec {cmd}")).await;
    assert_eq!(piped.status.code(), Some(0));
    assert_eq!(text(&piped.stderr), "");
    assert_eq!(text(&piped.stdout), "");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_read_shows_its_entries_and_pages_on_a_terminal() {
    let probe = Command::new("script")
        .args(["-qec", "true", "/dev/null"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `script` (util-linux) is not available to give the run a terminal");
        return;
    }
    // Given the sample directory in slapd (50 people, read in pages of 20)
    // and an empty org,
    use crate::support::slapd::{self, SERVICE_DN, SERVICE_PASSWORD, Slapd};
    let server = Slapd::start();
    let emu = Emu::with_users(0).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&server.ca_file, dir.path().join("ca.pem")).unwrap();
    let pw = dir.path().join("ldap-password");
    std::fs::write(&pw, SERVICE_PASSWORD).unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let job = dir.path().join("ldap.toml");
    std::fs::write(
        &job,
        format!(
            r#"name = "ldap-progress"
[source]
type = "ldap"
url = "{url}"
starttls = true
ca_file = "ca.pem"
bind_dn = "{SERVICE_DN}"
bind_password_file = "ldap-password"
base_dn = "{base}"
filter = "{filter}"
page_size = 20
[salesforce]
instance_url = "{emu}"
client_id_env = "SFSYNC_TEST_CLIENT_ID"
client_secret_env = "SFSYNC_TEST_CLIENT_SECRET"
username_env = "SFSYNC_TEST_USERNAME"
password_env = "SFSYNC_TEST_PASSWORD"
[mapping]
Username = "{{mail|lower}}"
Email = "{{mail}}"
FirstName = "{{givenName}}"
LastName = "{{sn}}"
Alias = "{{givenName|first:1}}{{sn|first:7}}"
FederationIdentifier = "{{uid}}"
[defaults]
ProfileId = "00e90000001aV2o"
TimeZoneSidKey = "America/Los_Angeles"
LocaleSidKey = "en_US"
EmailEncodingKey = "UTF-8"
LanguageLocaleKey = "en_US"
[safety]
state_dir = "state"
"#,
            url = server.ldap_url(),
            base = slapd::PEOPLE_BASE,
            filter = slapd::FILTER,
            emu = emu.base_url,
        ),
    )
    .unwrap();
    let cmd = format!(
        "\"$SFSYNC\" -q plan --job {} --report {}/r.json",
        job.display(),
        dir.path().display()
    );

    // when a plan runs on a terminal, then the directory read counts its
    // entries and pages;
    // (exit 3: the sample company has people who need a person, on purpose)
    let tty = sh(&format!("exec script -qec '{cmd}' /dev/null")).await;
    let screen = text(&tty.stdout);
    assert_eq!(tty.status.code(), Some(3), "{screen}");
    assert!(screen.contains("Reading the directory: "), "{screen:?}");
    assert!(screen.contains("20 records  1 page"), "{screen:?}");
    assert!(screen.contains("40 records  2 pages"), "{screen:?}");

    // and on a pipe no progress at all: only the one WARN line a run whose
    // people need a person logs even with -q.
    let piped = sh(&format!("exec {cmd}")).await;
    let stderr = text(&piped.stderr);
    assert_eq!(piped.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("Reading"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("WARN Planned job ldap-progress: 50 source records"),
        "{stderr}"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_against_nothing_listening_names_the_host_not_the_connected_app() {
    // Given a job pointed at a loopback port where nothing listens,
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &format!("http://127.0.0.1:{port}"), None, "");

    // when it is checked,
    let out = sfsync(&["check", "--job", job.to_str().unwrap()]).await;

    // then the token line asks whether the host is up, and exit 1 (nothing answered).
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let token = stdout
        .lines()
        .find(|l| l.contains("salesforce token"))
        .unwrap();
    assert!(
        token.contains("is `sfsync emulator` running there"),
        "{token}"
    );
    assert!(!token.contains("connected app"), "{token}");
}
