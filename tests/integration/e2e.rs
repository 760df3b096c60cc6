//! End to end through the binary: `sync` on the samples from CSV and from a
//! real slapd (`jobs/nightly-ldap.toml`), reruns, and `sfsync demo`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::emu::Emu;
use crate::support::run::{
    SECRETS, expected_sample_outcomes, outcomes_by_uid, repo, sample_org, sfsync, write_job,
};
use crate::support::slapd::Slapd;

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_on_the_samples_ends_as_documented_and_a_rerun_changes_nothing_new() {
    // given the sample org and people
    let emu = Emu::start(sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let job = job.to_str().unwrap();
    let report = dir.path().join("sync.json");
    let results = dir.path().join("results");

    // when
    let out = sfsync(&[
        "sync",
        "--job",
        job,
        "--report",
        report.to_str().unwrap(),
        "--report-all",
        "--results-dir",
        results.to_str().unwrap(),
    ])
    .await;

    // then every person has the documented sync outcome, with one create call
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = read_json(&report);
    let got = outcomes_by_uid(&json);
    for (uid, _, sync) in expected_sample_outcomes() {
        assert_eq!(got.get(&uid), Some(&sync), "{uid}");
    }
    assert_eq!(json["summary"]["created"], 27);
    let first_collisions = json["summary"]["collision"].clone();
    let c = emu.counters();
    assert_eq!(
        (c.create_collection_calls, c.create_one_calls, c.token_calls),
        (1, 0, 1)
    );
    assert_eq!(emu.users().len(), 21 + 27);
    let created = emu.user("ethan.hall@example.com").expect("created");
    assert_eq!(created.email.as_deref(), Some("Ethan.Hall@Example.COM"));
    assert_eq!(created.alias.as_deref(), Some("EHall"));
    assert_eq!(created.federation_identifier.as_deref(), Some("ehall"));
    // Data Loader files: 27 successes, the records needing a person in error.csv
    let success = std::fs::read_to_string(results.join("success.csv")).unwrap();
    assert_eq!(success.lines().count(), 1 + 27);
    assert!(success.starts_with("sf__Id,sf__Created,"), "{success}");

    // when run again: the 27 are unchanged, and the other-org collision is
    // remembered from the first night (the state file), so nothing is sent (#18)
    let out = sfsync(&["sync", "--job", job, "--report", report.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(3));
    let json = read_json(&report);
    assert_eq!(json["summary"]["unchanged"], 12 + 27);
    assert_eq!(json["summary"]["created"], 0);
    assert_eq!(json["summary"]["collision"], first_collisions, "{json}");
    assert_eq!(
        emu.counters().create_collection_calls,
        1,
        "ctaylor's username is not sent again"
    );
    assert_eq!(emu.users().len(), 21 + 27);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sync_after_a_clean_success_makes_zero_write_calls() {
    let emu = Emu::start(sfsync::emulator::OrgConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("p.csv");
    let mut text = String::from("uid,givenName,sn,mail\n");
    for i in 0..450 {
        text.push_str(&format!("u{i},G{i},S{i},person{i}@example.com\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");
    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(emu.counters().create_collection_calls, 3, "ceil(450/200)");
    let before = emu.counters();
    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0));
    let after = emu.counters();
    assert_eq!(
        after.create_collection_calls + after.create_one_calls,
        before.create_collection_calls + before.create_one_calls
    );
    assert_eq!(after.token_calls - before.token_calls, 1);
    emu.stop().await;
}

/// `jobs/nightly-ldap.toml` as shipped, pointed at a throwaway slapd loaded from the samples.
fn nightly_ldap_job(dir: &std::path::Path, slapd: &Slapd, base_url: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("jobs/nightly-ldap.toml"))
        .unwrap()
        .replace("ldaps://ldap.example.com", &slapd.ldaps_url())
        .replace(
            "# ca_file = \"/etc/ssl/corp-ca.pem\"",
            &format!("ca_file = {:?}", slapd.ca_file.display().to_string()),
        )
        .replace("https://example.my.salesforce.com", base_url)
        .replace("login_url = \"https://login.salesforce.com\"", "")
        .replace("\"SF_CLIENT_ID\"", "\"SFSYNC_TEST_CLIENT_ID\"")
        .replace("\"SF_CLIENT_SECRET\"", "\"SFSYNC_TEST_CLIENT_SECRET\"")
        .replace("\"SF_USERNAME\"", "\"SFSYNC_TEST_USERNAME\"")
        .replace("\"SF_PASSWORD\"", "\"SFSYNC_TEST_PASSWORD\"")
        .replace("\"LDAP_BIND_PASSWORD\"", "\"SFSYNC_TEST_LDAP_PASSWORD\"");
    let path = dir.join("nightly-ldap.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_nightly_ldap_job_syncs_the_sample_directory_over_ldaps() {
    // given slapd with the sample directory and the sample org
    let slapd = tokio::task::spawn_blocking(Slapd::start).await.unwrap();
    let emu = Emu::start(sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = nightly_ldap_job(dir.path(), &slapd, &emu.base_url);
    let job = job.to_str().unwrap().to_owned();
    let report = dir.path().join("nightly.json");
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            assert_cmd::Command::cargo_bin("sfsync")
                .unwrap()
                .args(args)
                .envs(SECRETS)
                .env("SFSYNC_TEST_LDAP_PASSWORD", "sfsync-sample-password")
                .output()
                .unwrap()
        })
    };

    // when checked, then synced
    let check = run(vec!["check".into(), "--job".into(), job.clone()])
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    // every preflight passes: the LDAP lines (reachable, TLS, bind, base DN,
    // filter) as well as the secrets, token, profile and budget
    assert_eq!(check.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(
        stdout.lines().filter(|l| l.starts_with("ok")).count() >= 12,
        "{stdout}"
    );
    let out = run(vec![
        "sync".into(),
        "--job".into(),
        job.clone(),
        "--report".into(),
        report.display().to_string(),
        "--report-all".into(),
    ])
    .await
    .unwrap();

    // then the LDAP people end exactly as the CSV people do, sources being DNs
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = read_json(&report);
    let by_uid: BTreeMap<String, String> = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let dn = u["source"].as_str().unwrap();
            let uid = dn
                .strip_prefix("uid=")
                .and_then(|r| r.split(',').next())
                .unwrap_or(dn);
            (uid.to_owned(), u["outcome"].as_str().unwrap().to_owned())
        })
        .collect();
    for (uid, _, sync) in expected_sample_outcomes() {
        assert_eq!(by_uid.get(&uid), Some(&sync), "{uid}");
    }
    assert_eq!(
        json["summary"]["source_records"], 50,
        "service accounts and mail-less entries are filtered out"
    );

    // and --only searches the directory for one address
    let out = run(vec![
        "plan".into(),
        "--job".into(),
        job,
        "--only".into(),
        "Kevin.Park@example.com".into(),
        "--format".into(),
        "json".into(),
    ])
    .await
    .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["source_records"], 1);
    assert_eq!(json["summary"]["unchanged"], 1);
    emu.stop().await;
}

#[test]
fn the_demo_runs_from_a_fresh_checkout_and_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    // from the checkout (the README's `cargo run --release -- demo`)
    let out = assert_cmd::Command::cargo_bin("sfsync")
        .unwrap()
        .arg("demo")
        .current_dir(repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("created                       27"),
        "{stdout}"
    );
    assert!(stdout.contains("sfsync-demo/report.json"), "{stdout}");
    // and from anywhere else, with the bundled samples
    let out = assert_cmd::Command::cargo_bin("sfsync")
        .unwrap()
        .arg("demo")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = read_json(&dir.path().join("sfsync-demo/report.json"));
    assert_eq!(report["summary"]["created"], 27);
    assert!(dir.path().join("sfsync-demo/report.html").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_continuation_reference_is_named_in_the_report() {
    // Given the sample directory with part of ou=people referred to another server,
    let slapd = tokio::task::spawn_blocking(|| {
        Slapd::start_with(crate::support::slapd::Options {
            extra_ldif: crate::ldap::REFERRAL_LDIF.to_owned(),
            ..Default::default()
        })
    })
    .await
    .unwrap();
    let emu = Emu::start(sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = nightly_ldap_job(dir.path(), &slapd, &emu.base_url);
    let report = dir.path().join("plan.json");
    let table = dir.path().join("plan.txt");

    // when the shipped job plans, as JSON and as the table,
    let mut outs = Vec::new();
    for (path, format) in [(&report, "json"), (&table, "table")] {
        let args = vec![
            "plan".to_owned(),
            "--job".to_owned(),
            job.display().to_string(),
            "--report".to_owned(),
            path.display().to_string(),
            "--format".to_owned(),
            format.to_owned(),
        ];
        let out = tokio::task::spawn_blocking(move || {
            assert_cmd::Command::cargo_bin("sfsync")
                .unwrap()
                .args(args)
                .envs(SECRETS)
                .env("SFSYNC_TEST_LDAP_PASSWORD", "sfsync-sample-password")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        outs.push(out);
    }

    // then the run goes on with the 50 people this server holds (exit 3:
    // the samples' people that need a person), and the report names the
    // reference it did not follow.
    for out in &outs {
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let json = read_json(&report);
    assert_eq!(json["summary"]["source_records"], 50);
    let refs = json["context"]["source_references"].as_array().unwrap();
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert!(
        refs[0]
            .as_str()
            .unwrap()
            .starts_with("ldap://ldap2.example.com/ou=elsewhere,ou=people,dc=example,dc=com"),
        "{refs:?}"
    );
    let table = std::fs::read_to_string(&table).unwrap();
    assert!(
        table.contains("skipped:    1 continuation reference(s) not followed: ldap://"),
        "{table}"
    );
    emu.stop().await;
}
