//! `sfsync plan` end to end: the sample company from CSV against the sample
//! org in the emulator, over real HTTP, through the real binary.

use serde_json::Value;
use sfsync::emulator::OrgConfig;

use crate::support::emu::Emu;
use crate::support::run::{
    expected_sample_outcomes, filters, outcomes_by_uid, sample_org, sfsync, write_job,
};

#[tokio::test(flavor = "multi_thread")]
async fn plan_on_the_samples_gives_every_person_the_documented_outcome_and_writes_nothing() {
    // given the sample org and the sample people
    let emu = Emu::start(sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let report = dir.path().join("plan.json");

    // when
    let out = sfsync(&[
        "plan",
        "--job",
        job.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--report-all",
    ])
    .await;

    // then: exit 3 (some records need a person) and the documented outcome for each of the 50 people
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let got = outcomes_by_uid(&json);
    let expected = expected_sample_outcomes();
    assert_eq!(expected.len(), 50);
    for (uid, plan, _) in &expected {
        assert_eq!(got.get(uid), Some(plan), "{uid}");
    }
    let s = &json["summary"];
    assert_eq!(
        [
            s["source_records"].as_u64(),
            s["salesforce_users"].as_u64(),
            s["create"].as_u64(),
            s["unchanged"].as_u64()
        ],
        [Some(50), Some(21), Some(28), Some(12)]
    );
    // the e-mail change carries the previous address
    let mgarcia = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "maria.garcia@example.com")
        .unwrap();
    assert_eq!(mgarcia["previous_email"], "maria.lopez@example.com");

    // and not one write reached Salesforce: a token, the User describe (the
    // job's fields checked), a profile lookup and the user read
    let c = emu.counters();
    assert_eq!(
        (c.create_one_calls, c.create_collection_calls, c.other_calls),
        (0, 0, 1)
    );
    assert_eq!(c.token_calls, 1);
    assert_eq!(
        s["api_calls"].as_u64(),
        Some(c.requests),
        "api_calls counts every request, token included"
    );
    assert_eq!(emu.users().len(), 21);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_reports_in_every_format_with_stable_shapes() {
    let emu = Emu::start(sample_org()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let job = job.to_str().unwrap();

    let table = sfsync(&["plan", "--job", job]).await;
    assert_eq!(table.status.code(), Some(3));
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.lines().all(|l| l.chars().count() <= 80),
        "fits 80 columns:\n{table}"
    );

    let json_path = dir.path().join("r.json");
    let csv_path = dir.path().join("r.csv");
    sfsync(&[
        "plan",
        "--job",
        job,
        "--report",
        json_path.to_str().unwrap(),
    ])
    .await;
    sfsync(&["plan", "--job", job, "--report", csv_path.to_str().unwrap()]).await;
    let json = std::fs::read_to_string(&json_path).unwrap();
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    // CSV: one row per reported user with the JSON's fields
    let parsed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + parsed["users"].as_array().unwrap().len()
    );

    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("plan_table", table);
        insta::assert_snapshot!("plan_json", json);
        insta::assert_snapshot!("plan_csv", csv);
    });
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_org_and_source_exit_0_and_an_unreachable_org_exits_1() {
    // given one valid person who already exists
    let emu = Emu::start(OrgConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("one.csv");
    std::fs::write(
        &csv,
        "uid,givenName,sn,mail\nada,Ada,Lovelace,ada@example.com\n",
    )
    .unwrap();
    let job = write_job(dir.path(), &emu.base_url, Some(&csv), "");
    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    emu.stop().await;

    // when the org is gone
    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("127.0.0.1"), "names the URL: {stderr}");
}
