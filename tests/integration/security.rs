//! Issue 12: security hardening. Each kind is driven through the real binary
//! against a hostile stand-in over real sockets on loopback (a token endpoint
//! that redirects or echoes, a query that loops or hands out a foreign
//! locator, a proxy, a planted symlink), asserting that no secret or token
//! reaches the other side, and that the run stops with a clear message and
//! the right exit code.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sfsync::emulator::RequestKind;

use crate::support::emu::Emu;
use crate::support::hostile::{Hostile, Reply, Seen, http};
use crate::support::run::{SECRETS, sfsync, write_job};

/// The access token the hostile token endpoints hand out.
const TOKEN: &str = "TOKEN-leak-9QZ7";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// No configured secret and no token in `text`.
fn assert_no_secret(text: &str) {
    for (_, value) in SECRETS.iter().skip(1) {
        assert!(!text.contains(value), "a secret leaked: {text}");
    }
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
}

/// The demo job against `base_url`, with the profile given by Id (a hostile
/// org need not answer a Profile query).
fn job_at(dir: &Path, base_url: &str, csv: Option<&Path>, extra: &str) -> PathBuf {
    let path = write_job(dir, base_url, csv, extra);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "Profile = \"Chatter Free User\"",
        "ProfileId = \"00e90000001aV2o\"",
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A one-person CSV.
fn one_person(dir: &Path) -> PathBuf {
    let path = dir.join("one.csv");
    std::fs::write(
        &path,
        "uid,givenName,sn,mail,employeeNumber,title\nada,Ada,Lovelace,ada@example.com,1,Engineer\n",
    )
    .unwrap();
    path
}

/// `sfsync plan` of a one-person job, with nothing else set, against `base_url`.
async fn plan_one_person(base_url: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let job = job_at(dir.path(), base_url, Some(&one_person(dir.path())), "");
    sfsync(&["plan", "--job", job.to_str().unwrap()]).await
}

fn token_answer(base: &str) -> Reply {
    http(
        200,
        &[("content-type", "application/json")],
        &format!(r#"{{"access_token":"{TOKEN}","instance_url":"{base}","token_type":"Bearer"}}"#),
    )
}

fn user_page(base_total: u64, next: Option<&str>) -> Reply {
    let next = next.map_or_else(|| "null".to_owned(), |n| format!("{n:?}"));
    http(
        200,
        &[("content-type", "application/json")],
        &format!(
            r#"{{"totalSize":{base_total},"done":false,"nextRecordsUrl":{next},"records":[{{"attributes":{{"type":"User"}},"Id":"005000000000001AAA","Username":"x@example.com","Email":"x@example.com","IsActive":true,"FederationIdentifier":"x"}}]}}"#
        ),
    )
}

/// The User describe `plan` reads first (#13): every standard field of
/// sfsync's table, so the job's fields pass and the read goes on.
fn describe_answer() -> Reply {
    let fields: Vec<serde_json::Value> = sfsync::salesforce::user_fields::USER_FIELDS
        .iter()
        .map(|f| serde_json::json!({"name": f.name, "createable": f.createable}))
        .collect();
    http(
        200,
        &[("content-type", "application/json")],
        &serde_json::json!({ "fields": fields }).to_string(),
    )
}

fn is_describe(req: &Seen) -> bool {
    req.target().ends_with("/sobjects/User/describe")
}

fn is_token(req: &Seen) -> bool {
    req.target().starts_with("/services/oauth2/token")
}

fn gets(h: &Hostile) -> usize {
    h.requests()
        .iter()
        .filter(|r| r.head.starts_with("GET "))
        .count()
}

#[tokio::test]
async fn a_redirecting_token_endpoint_gets_no_second_login_anywhere() {
    // Given a token endpoint that redirects (307 keeps method and body) to another host.
    let evil = Hostile::sink().await;
    let target = format!("{}/services/oauth2/token", evil.base_url());
    let login = Hostile::start(move |_, _| http(307, &[("location", &target)], "")).await;
    // When a run logs in
    let out = plan_one_person(&login.base_url()).await;

    // Then it stops (exit 1) saying why, and the other host never hears from it.
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("never follows a redirect on a token call"),
        "{err}"
    );
    assert!(
        err.contains(&evil.base_url()),
        "names where it pointed: {err}"
    );
    assert_eq!(evil.connections(), 0);
    assert_eq!(login.requests().len(), 1, "one token call, not retried");
    assert_no_secret(&err);
}

#[tokio::test]
async fn an_echoing_token_endpoint_is_never_quoted() {
    // Given a token endpoint that answers 400 with the request echoed back as text.
    let login = Hostile::start(|req, _| {
        http(
            400,
            &[("content-type", "text/plain")],
            &String::from_utf8_lossy(&req.body),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let job = job_at(
        dir.path(),
        &login.base_url(),
        Some(&one_person(dir.path())),
        "",
    );

    let out = sfsync(&["plan", "--job", job.to_str().unwrap(), "-vv"]).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("answered HTTP 400"), "{err}");
    // The echo did carry the secrets: they must not reach the output.
    assert!(login.received_text().contains("pw-Hunter2-TOKEN-Qx9"));
    assert_no_secret(&err);
    assert_no_secret(&stdout(&out));
}

#[tokio::test]
async fn an_api_redirect_to_another_host_is_not_followed() {
    let evil = Hostile::sink().await;
    let evil_url = format!("{}/services/data/v62.0/query", evil.base_url());
    let org = Hostile::start(move |req, base| {
        if is_token(req) {
            token_answer(base)
        } else {
            http(302, &[("location", &evil_url)], "")
        }
    })
    .await;
    let out = plan_one_person(&org.base_url()).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("redirects to another host or scheme"), "{err}");
    assert_eq!(evil.connections(), 0, "the bearer token stayed home");
    assert_eq!(gets(&org), 1, "refused, not retried");
    assert_no_secret(&err);
}

#[tokio::test]
async fn a_foreign_next_records_url_never_gets_the_token() {
    // Given a query whose locator is `@host:port/...`, which glued to the
    // instance URL as text would make the evil host the URL's host.
    let evil = Hostile::sink().await;
    let locator = format!("@{}/services/data/v62.0/query/01g-2", evil.addr);
    let org = Hostile::start(move |req, base| {
        if is_token(req) {
            token_answer(base)
        } else if is_describe(req) {
            describe_answer()
        } else {
            user_page(5, Some(&locator))
        }
    })
    .await;
    let out = plan_one_person(&org.base_url()).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refusing the nextRecordsUrl"), "{err}");
    assert_eq!(evil.connections(), 0);
    // The User describe `plan` reads first (#13), then the first page.
    assert_eq!(gets(&org), 2);
    assert_no_secret(&err);
}

#[tokio::test]
async fn a_query_that_hands_out_the_same_locator_again_stops() {
    let org = Hostile::start(|req, base| {
        if is_token(req) {
            token_answer(base)
        } else if is_describe(req) {
            describe_answer()
        } else {
            user_page(1000, Some("/services/data/v62.0/query/01g-LOOP-2000"))
        }
    })
    .await;
    let out = plan_one_person(&org.base_url()).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("handed out the locator") && err.contains("twice"),
        "{err}"
    );
    // The describe (#13), the first page, then the locator once; its second
    // appearance stops the read.
    assert_eq!(gets(&org), 3);
}

#[tokio::test]
async fn pages_beyond_total_size_stop_the_read() {
    let n = std::sync::atomic::AtomicUsize::new(0);
    let org = Hostile::start(move |req, base| {
        if is_token(req) {
            return token_answer(base);
        }
        if is_describe(req) {
            return describe_answer();
        }
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        user_page(2, Some(&format!("/services/data/v62.0/query/01g-{i}")))
    })
    .await;
    let out = plan_one_person(&org.base_url()).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("more records (3) than its totalSize (2)"),
        "{err}"
    );
    // The describe (#13), then three pages.
    assert_eq!(gets(&org), 4);
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_is_not_read() {
    let org = Hostile::start(|req, base| {
        if is_token(req) {
            token_answer(base)
        } else {
            Reply::Bytes(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n{\"records\":["
                    .to_vec(),
            )
        }
    })
    .await;
    let out = plan_one_person(&org.base_url()).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("larger than 64 MiB"), "{err}");
    assert_eq!(gets(&org), 1, "refused, not retried");
}

#[tokio::test]
async fn crlf_in_a_salesforce_message_cannot_forge_a_log_line() {
    let org = Hostile::start(|req, base| {
        if is_token(req) {
            token_answer(base)
        } else {
            http(
                400,
                &[("content-type", "application/json")],
                r#"[{"message":"bad\r\nERROR forged: all users deleted\u001b]0;pwned\u0007","errorCode":"MALFORMED_QUERY"}]"#,
            )
        }
    })
    .await;
    let out = plan_one_person(&org.base_url()).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The CR is shown; the LF starts an indented continuation, never a log line.
    assert!(err.contains("bad\\r\n  ERROR forged"), "{err}");
    assert!(err.contains(r"\x1b]0;pwned\x07"), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    assert!(err.lines().all(|l| !l.starts_with("ERROR forged")), "{err}");
}

#[tokio::test]
async fn loopback_never_goes_through_a_proxy() {
    let proxy = Hostile::sink().await;
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&one_person(dir.path())), "");
    let proxy_url = proxy.base_url();

    let out = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("sfsync")
            .unwrap()
            .args(["plan", "--job", job.to_str().unwrap()])
            .envs(SECRETS)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .envs([
                ("http_proxy", &proxy_url),
                ("HTTP_PROXY", &proxy_url),
                ("https_proxy", &proxy_url),
                ("ALL_PROXY", &proxy_url),
                ("all_proxy", &proxy_url),
            ])
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(proxy.connections(), 0, "nothing went to the proxy");
    assert!(emu.log().iter().any(|r| r.kind == RequestKind::Token));
}

#[tokio::test]
async fn a_planted_lock_symlink_is_refused_and_its_target_untouched() {
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&one_person(dir.path())), "");
    let state = dir.path().join(".sfsync");
    std::fs::create_dir(&state).unwrap();
    let precious = dir.path().join("precious");
    std::fs::write(&precious, "keep me").unwrap();
    std::os::unix::fs::symlink(&precious, state.join("demo.lock")).unwrap();

    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("demo.lock") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert!(emu.log().is_empty(), "nothing contacted");
}

#[tokio::test]
async fn a_state_folder_anyone_can_write_is_refused() {
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&one_person(dir.path())), "");
    let state = dir.path().join(".sfsync");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();

    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("writable by every user") && err.contains("0777"),
        "{err}"
    );
    assert!(emu.log().is_empty());
}

#[tokio::test]
async fn credentials_query_or_fragment_in_a_configured_url_are_job_errors() {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(
        dir.path(),
        "http://127.0.0.1:9",
        Some(&one_person(dir.path())),
        "",
    );
    let text = std::fs::read_to_string(&job).unwrap().replace(
        "instance_url = \"http://127.0.0.1:9\"",
        "instance_url = \"https://admin:pw-in-url-77@acme.my.salesforce.com\"\nlogin_url = \"https://login.salesforce.com/?next=x#y\"",
    );
    std::fs::write(&job, text).unwrap();

    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("salesforce.instance_url: a user name or password in the URL is refused"),
        "{err}"
    );
    assert!(err.contains("salesforce.login_url: a query"), "{err}");
    assert!(!err.contains("pw-in-url-77"), "{err}");
}

/// The demo job with an LDAP `[source]` at `url`, plus `more` source keys.
fn ldap_job(dir: &Path, url: &str, more: &str) -> PathBuf {
    let job = write_job(dir, "http://127.0.0.1:9", None, "");
    let text = std::fs::read_to_string(&job).unwrap();
    let (head, rest) = text.split_once("[source]").unwrap();
    let (_, tail) = rest.split_once("[salesforce]").unwrap();
    let source = format!(
        "[source]\ntype = \"ldap\"\nurl = \"{url}\"\nbind_dn = \"cn=sfsync,dc=example,dc=com\"\nbind_password_env = \"SFSYNC_TEST_PASSWORD\"\nbase_dn = \"dc=example,dc=com\"\n{more}\n"
    );
    std::fs::write(&job, format!("{head}{source}[salesforce]{tail}")).unwrap();
    job
}

#[tokio::test]
async fn a_plain_ldap_bind_to_another_host_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let job = ldap_job(dir.path(), "ldap://ldap.example.com", "");

    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("source.url: a plain ldap:// bind")
            && err.contains("allow_plaintext_bind = true"),
        "{err}"
    );

    // StartTLS, ldaps:// or the explicit key make the same job valid.
    for more in ["starttls = true", "allow_plaintext_bind = true"] {
        let job = ldap_job(dir.path(), "ldap://ldap.example.com", more);
        sfsync::job::load(&job).unwrap_or_else(|e| panic!("{more}: {e}"));
    }
    let job = ldap_job(dir.path(), "ldap://127.0.0.1:1", "");
    sfsync::job::load(&job).expect("loopback is not the network");
}

#[tokio::test]
async fn control_characters_from_the_source_are_escaped_in_table_and_markdown() {
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("evil.csv");
    std::fs::write(
        &csv,
        "uid,givenName,sn,mail,employeeNumber,title\n\
         eve,Eve,Evil,\"eve\u{1b}]0;pwned\u{7}\r\nFAKE@example\",1,x\n",
    )
    .unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");

    for format in ["table", "md"] {
        let out = sfsync(&["plan", "--job", job.to_str().unwrap(), "--format", format]).await;
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\r'),
            "{format}: {text:?}"
        );
        assert!(
            text.contains("x1b") && text.contains("pwned"),
            "{format}: {text}"
        );
        assert!(
            text.lines()
                .all(|l| !l.to_ascii_uppercase().starts_with("FAKE")),
            "{format}: {text}"
        );
    }
}

#[tokio::test]
async fn formula_cells_are_quoted_in_the_csv_report_and_the_result_files() {
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "uid,givenName,sn,mail,employeeNumber,title\n\
         ada,Ada,Lovelace,ada@example.com,1,\"=HYPERLINK(\"\"http://x\"\")\"\n\
         bad,Bad,Actor,\"@SUM(1+1)\",2,x\n",
    )
    .unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");
    let report = dir.path().join("report.csv");
    let results = dir.path().join("results");

    let out = sfsync(&[
        "sync",
        "--job",
        job.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--results-dir",
        results.to_str().unwrap(),
    ])
    .await;

    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(report.contains(",'@SUM(1+1),"), "{report}");
    let success = std::fs::read_to_string(results.join("success.csv")).unwrap();
    assert!(
        success.contains(r#""'=HYPERLINK(""http://x"")""#),
        "{success}"
    );
    for text in [&report, &success] {
        for line in text.lines() {
            for cell in line.split(',') {
                assert!(!cell.starts_with(['=', '+', '@']), "{cell} in {text}");
            }
        }
    }
}

#[tokio::test]
async fn a_report_path_that_is_a_folder_stops_before_anything_is_contacted() {
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&one_person(dir.path())), "");

    let out = sfsync(&[
        "sync",
        "--job",
        job.to_str().unwrap(),
        "--report",
        dir.path().to_str().unwrap(),
    ])
    .await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--report") && err.contains("is a folder"),
        "{err}"
    );
    assert!(emu.log().is_empty(), "nothing contacted, nothing created");
}

#[tokio::test]
async fn a_secret_file_readable_by_others_is_warned_about() {
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&one_person(dir.path())), "");
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, "client-secret-Zq81xK\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = std::fs::read_to_string(&job).unwrap().replace(
        "client_secret_env = \"SFSYNC_TEST_CLIENT_SECRET\"",
        "client_secret_file = \"client-secret\"",
    );
    std::fs::write(&job, text).unwrap();

    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("WARN") && err.contains("readable by other users"),
        "{err}"
    );
    assert!(
        err.contains(&secret.display().to_string()) && err.contains("0644"),
        "{err}"
    );
    assert_no_secret(&err);

    // 0600 is quiet.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;
    assert!(
        !stderr(&out).contains("readable by other users"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn reads_stop_at_the_api_reserve_with_exit_4() {
    let emu = Emu::with_users(10).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(
        dir.path(),
        &emu.base_url,
        Some(&one_person(dir.path())),
        "[limits]\nrequests_per_second = 100.0\napi_reserve = 15000\n",
    );

    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("api_reserve = 15000"), "{err}");
    // The profile lookup told the budget; the users were never read.
    let user_pages = emu
        .log()
        .iter()
        .filter(|r| r.kind == RequestKind::Query && r.records == 10)
        .count();
    assert_eq!(user_pages, 0);
}

#[tokio::test]
async fn sigterm_while_reading_exits_1_promptly_and_releases_the_lock() {
    // Given an org whose user query never answers.
    let org = Hostile::start(|req, base| {
        if is_token(req) {
            token_answer(base)
        } else {
            Reply::Hang
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let job = job_at(
        dir.path(),
        &org.base_url(),
        Some(&one_person(dir.path())),
        "",
    );
    let child = Command::new(assert_cmd::cargo::cargo_bin("sfsync"))
        .args(["sync", "--job", job.to_str().unwrap()])
        .envs(SECRETS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if gets(&org) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(gets(&org), 1, "the run is reading");

    // When cron's timeout sends SIGTERM
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();

    // Then it exits 1 saying what it was doing, and the lock is free.
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted while reading the org"), "{err}");
    sfsync::state::RunLock::acquire(&dir.path().join(".sfsync"), "demo").expect("lock released");
}

#[tokio::test]
async fn demo_into_a_closed_pipe_exits_0_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let cwd = dir.path().to_path_buf();
        move || {
            let mut child = Command::new(assert_cmd::cargo::cargo_bin("sfsync"))
                .arg("demo")
                .current_dir(cwd)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // `| head -0`: the reader is gone before the first line.
            drop(child.stdout.take());
            child.wait_with_output().unwrap()
        }
    })
    .await
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn an_ldap_server_whose_pages_never_end_is_stopped() {
    // Given a directory that answers every page with the same entry and a
    // cookie for yet another page.
    let ldap = crate::support::hostile_ldap::EndlessPages::start().await;
    let dir = tempfile::tempdir().unwrap();
    let job = ldap_job(dir.path(), &ldap.url(), "");

    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;

    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("sent the entry uid=loop,dc=example,dc=com twice (its paging does not end)"),
        "{err}"
    );
    // One search for the root DSE (is the AD domain-scope control supported?
    // #19), then two pages: stopped at the first repeat.
    assert_eq!(ldap.searches(), 3, "stopped at the first repeat");
    assert_no_secret(&err);
}
