//! Input as people really export it (issue 13): one test per kind, each
//! with its small file under `tests/inputs/`, through the real binary
//! against the emulator over real HTTP.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::emu::Emu;
use crate::support::run::{filters, repo, sfsync, write_job};

/// The demo job reading `tests/inputs/{input}` (copied beside the job and
/// named relatively, so reports say `{input}:LINE`), its text passed
/// through `edit`.
fn job_for(dir: &Path, emu: &Emu, input: &str, edit: impl Fn(String) -> String) -> PathBuf {
    std::fs::copy(repo().join("tests/inputs").join(input), dir.join(input)).unwrap();
    let job = write_job(dir, &emu.base_url, Some(Path::new(input)), "");
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(&job, edit(text)).unwrap();
    job
}

/// `sfsync COMMAND --job JOB --report REPORT`.
async fn with_report(command: &str, job: &Path, report: &Path) -> std::process::Output {
    sfsync(&[
        command,
        "--job",
        job.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ])
    .await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// (source, outcome, message) of every report entry, in source order.
fn entries(report: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["source"].as_str().unwrap_or_default().to_owned(),
                u["outcome"].as_str().unwrap().to_owned(),
                u["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn an_excel_unicode_text_export_utf16_with_a_bom_is_one_person_created() {
    // given Excel's "Unicode Text": UTF-16LE with a BOM, tab-separated, CRLF
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = job_for(dir.path(), &emu, "excel-unicode-text.txt", |t| {
        t.replace("delimiter = \",\"", "delimiter = \"\\t\"")
    });
    let out_path = dir.path().join("sync.json");

    // when
    let out = with_report("sync", &job, &out_path).await;

    // then one person, created with the accents intact
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r = report(&out_path);
    assert_eq!(r["summary"]["source_records"], 1);
    assert_eq!(r["summary"]["created"], 1);
    let u = emu.user("jurgen.muller@example.com").expect("created");
    assert_eq!(
        (u.first_name.as_deref(), u.last_name.as_deref()),
        (Some("Jürgen"), Some("Müller"))
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_semicolon_file_read_with_a_comma_is_a_job_error_naming_the_delimiter() {
    // given a European Excel export (`;`) and a job that says `,`
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = job_for(dir.path(), &emu, "semicolon.csv", |t| t);

    // when
    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;

    // then exit 2, naming the column, the header found and the delimiter that finds it
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for words in [
        "the header has no column \"mail\" (needed by Username)",
        "the header found, split on \",\", has 1 column: \"uid;givenName;sn;mail;employeeNumber;title;departmentNumber\"",
        "Splitting on \";\" finds them: set delimiter = \";\" in [source]",
    ] {
        assert!(stderr.contains(words), "missing {words:?} in {stderr}");
    }
    // and nothing was contacted
    assert_eq!(emu.counters().requests, 0);

    // and check says the same on its csv source line, exit 2
    let out = sfsync(&["check", "--job", job.to_str().unwrap()]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("FAIL  csv source") && stdout.contains("set delimiter = \";\" in [source]"),
        "{stdout}"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_windows_1252_export_is_read_when_the_job_names_its_encoding() {
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();

    // given the cp1252 file without `encoding`: every row is refused, saying how to fix it
    let job = job_for(dir.path(), &emu, "cp1252.csv", |t| t);
    let plan = dir.path().join("plan.json");
    let out = with_report("plan", &job, &plan).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let got = entries(&report(&plan));
    assert_eq!(got.len(), 2);
    for (_, outcome, message) in &got {
        assert_eq!(outcome, "invalid");
        assert!(
            message.contains("is not valid UTF-8")
                && message.contains("encoding = \"windows-1252\""),
            "{message}"
        );
    }

    // when the job names the encoding
    let job = job_for(dir.path(), &emu, "cp1252.csv", |t| {
        t.replace(
            "delimiter = \",\"",
            "delimiter = \",\"\nencoding = \"windows-1252\"",
        )
    });
    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;

    // then both people are created with their names as written
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let jose = emu.user("jose.garcia@example.com").expect("created");
    assert_eq!(
        (jose.first_name.as_deref(), jose.last_name.as_deref()),
        (Some("José"), Some("García"))
    );
    let fionn = emu.user("fionn.oconnor@example.com").expect("created");
    assert_eq!(fionn.last_name.as_deref(), Some("O\u{2019}Connor"));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn decomposed_names_are_stored_composed_and_counted_as_salesforce_counts() {
    // given names exported from macOS in NFD (a 38-letter first name is 44 code points)
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = job_for(dir.path(), &emu, "nfd-names.csv", |t| t);

    // when
    let out = sfsync(&["sync", "--job", job.to_str().unwrap()]).await;

    // then both are created, composed; `first:1` of "Émile" keeps the accent
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let emile = emu.user("emile.zola@example.com").expect("created");
    assert_eq!(emile.first_name.as_deref(), Some("\u{c9}mile"));
    assert_eq!(emile.alias.as_deref(), Some("\u{c9}Zola"));
    let anne = emu.user("anne.durand@example.com").expect("created");
    let first = anne.first_name.unwrap();
    assert_eq!(
        first,
        "\u{c9}milie-Anne-H\u{e9}l\u{e8}ne-Zo\u{e9}-Fran\u{e7}oise-Ren\u{e9}e"
    );
    assert_eq!(first.chars().count(), 38);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_with_a_hidden_character_names_it_by_code_point_and_position() {
    // given one address per hidden or look-alike character
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = job_for(dir.path(), &emu, "invisible.csv", |t| t);
    let plan = dir.path().join("plan.json");

    // when
    let out = with_report("plan", &job, &plan).await;

    // then every one is invalid, exit 3, and the message names the character
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let got = entries(&report(&plan));
    let expected = [
        ("invisible.csv:2", "U+200B ZERO WIDTH SPACE at position 5"),
        (
            "invisible.csv:3",
            "U+FEFF ZERO WIDTH NO-BREAK SPACE (byte-order mark) at position 4",
        ),
        ("invisible.csv:4", "U+00A0 NO-BREAK SPACE at position 5"),
        ("invisible.csv:5", "U+200D ZERO WIDTH JOINER at position 5"),
        ("invisible.csv:6", "U+2060 WORD JOINER at position 9"),
        ("invisible.csv:7", "U+00AD SOFT HYPHEN at position 3"),
        (
            "invisible.csv:8",
            "U+0430 CYRILLIC SMALL LETTER A at position 2",
        ),
        (
            "invisible.csv:9",
            "U+FF20 FULLWIDTH COMMERCIAL AT at position 4",
        ),
    ];
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((source, outcome, message), (want_source, named)) in got.iter().zip(expected) {
        assert_eq!(
            (source.as_str(), outcome.as_str()),
            (want_source, "invalid")
        );
        assert!(
            message.ends_with(&format!("; it holds {named}")),
            "{message}"
        );
    }
    // the address quoted in the message shows the hidden character
    assert!(
        got[0]
            .2
            .contains("found \"adam<U+200B>.smith@example.com\""),
        "{}",
        got[0].2
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn japanese_carrier_local_parts_with_dots_are_created_a_leading_dot_is_not() {
    // given local parts with `..` and a trailing dot (allowed by Salesforce), and a leading dot
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = job_for(dir.path(), &emu, "japanese-local-parts.csv", |t| t);
    let out_path = dir.path().join("sync.json");

    // when
    let out = with_report("sync", &job, &out_path).await;

    // then the two are created and the third is invalid (exit 3)
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(emu.user("taro..yamada@docomo.ne.jp").is_some());
    assert!(emu.user("hanako.@ezweb.ne.jp").is_some());
    let r = report(&out_path);
    assert_eq!(r["summary"]["created"], 2);
    let invalid: Vec<_> = entries(&r)
        .into_iter()
        .filter(|e| e.1 == "invalid")
        .collect();
    assert_eq!(
        invalid,
        [(
            "japanese-local-parts.csv:4".to_owned(),
            "invalid".to_owned(),
            "Username must be in the form of an email address, found \".ken@softbank.ne.jp\""
                .to_owned()
        )]
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_an_address_no_record_has_is_not_found_in_every_format_and_exits_3() {
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let job = job.to_str().unwrap();
    let only = [
        "--only",
        "michael.johnson@example.com",
        "--only",
        "Nobody@Example.com",
    ];

    // when one address is found and one is not, for each report format
    for (file, words) in [
        ("plan.json", "\"outcome\": \"not_found\""),
        ("plan.csv", "not_found,Nobody@Example.com"),
        ("plan.md", "Not found in the source"),
        ("plan.html", "Not found in the source"),
        ("plan.txt", "not_found"),
    ] {
        let path = dir.path().join(file);
        let mut args = vec!["plan", "--job", job, "--report", path.to_str().unwrap()];
        args.extend(only);
        let out = sfsync(&args).await;

        // then exit 3, and the report names the address
        assert_eq!(out.status.code(), Some(3), "{file}: {}", text(&out.stderr));
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.contains(words), "{file}: {written}");
        assert!(written.contains("Nobody@Example.com"), "{file}: {written}");
    }
    let r = report(&dir.path().join("plan.json"));
    assert_eq!(
        (
            r["summary"]["source_records"].as_u64(),
            r["summary"]["create"].as_u64(),
            r["summary"]["not_found"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );

    // and on the terminal, the table names it where a person looks
    let mut args = vec!["plan", "--job", job];
    args.extend(only);
    let out = sfsync(&args).await;
    assert_eq!(out.status.code(), Some(3));
    let table = text(&out.stdout);
    let section = table.split("Needs a person").nth(1).unwrap_or_default();
    assert!(
        section.contains("not_found            Nobody@Example.com (--only)")
            && section.contains("no source record has mail = Nobody@Example.com"),
        "{table}"
    );

    // while an address that is found alone exits 0
    let out = sfsync(&[
        "plan",
        "--job",
        job,
        "--only",
        "michael.johnson@example.com",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_typo_fails_check_and_warns_in_plan() {
    // given `Title = "{titel}"`
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let t = std::fs::read_to_string(&job).unwrap();
    std::fs::write(&job, t.replace("\"{title}\"", "\"{titel}\"")).unwrap();

    // when check runs: a FAIL line naming the attribute, the field and the column meant; exit 2
    let out = sfsync(&["check", "--job", job.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let fail = stdout
        .lines()
        .skip_while(|l| !l.starts_with("FAIL  csv columns"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!(fail, @r#"
        FAIL  csv columns            {titel} (mapping.Title = "{titel}") is not a column of [TMP]/people.csv; did you mean {title}?
              the header has: uid, givenname, sn, mail, employeenumber, title, departmentnumber, memberof
        "#);
    });

    // and plan warns naming it, and goes on
    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("The CSV header lacks columns the mapping uses")
            && stderr.contains("titel"),
        "{stderr}"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_user_field_is_a_job_error_before_anything_is_contacted() {
    // given `Titel = "{title}"`
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let t = std::fs::read_to_string(&job).unwrap();
    std::fs::write(&job, t.replace("Title = ", "Titel = ")).unwrap();

    // when
    let out = sfsync(&["plan", "--job", job.to_str().unwrap()]).await;

    // then exit 2, naming the key and the field meant, and no request was made
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "mapping.Titel: \"Titel\" is not a User field; did you mean \"Title\"? (custom fields end in __c)"
        ),
        "{stderr}"
    );
    assert_eq!(emu.counters().requests, 0);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_field_the_org_lacks_is_refused_by_check_and_plan_before_any_write() {
    // given a custom field the org does not have
    let emu = Emu::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &emu.base_url, None, "");
    let t = std::fs::read_to_string(&job).unwrap();
    std::fs::write(
        &job,
        t.replace(
            "Title = \"{title}\"",
            "Title = \"{title}\"\nCost_Center__c = \"{departmentNumber}\"",
        ),
    )
    .unwrap();
    let job = job.to_str().unwrap();

    // when check runs: one FAIL line from the org's describe, exit 2
    let out = sfsync(&["check", "--job", job]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains(
            "FAIL  user fields            mapping.Cost_Center__c: the org's User object has no field \"Cost_Center__c\""
        ),
        "{stdout}"
    );

    // and plan stops with exit 2 after one describe, before reading users or writing
    let before = emu.counters();
    let out = sfsync(&["plan", "--job", job]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "the org refuses 1 of its fields (sobjects/User/describe); nothing was written"
        ) && stderr.contains("mapping.Cost_Center__c"),
        "{stderr}"
    );
    let after = emu.counters();
    assert_eq!(after.token_calls - before.token_calls, 1);
    assert_eq!(
        after.requests - before.requests,
        2,
        "a token and one describe"
    );
    assert_eq!(
        (after.create_one_calls, after.create_collection_calls),
        (0, 0)
    );
    emu.stop().await;
}
