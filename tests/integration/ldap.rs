//! The LDAP source against a real slapd (see `support/slapd.rs`): what the
//! sample directory yields, the CSV/LDIF contract, paging past the server's
//! size limit, truncation reported as fatal, TLS trust, bind failures,
//! `--only` escaping, non-ASCII values, timeouts and the `check` preflight.

use std::collections::BTreeMap;

use sfsync::job::{LdapSource, MultiValue, Secret};
use sfsync::source::ldap;
use sfsync::source::{Origin, SourceError, SourceRecord};

use crate::support::slapd::{self, Options, SERVICE_DN, SERVICE_PASSWORD, Slapd};

/// The default mapping's attributes (the job loader may list them in another
/// order; the source follows whatever list it is given).
fn attributes() -> Vec<String> {
    ["mail", "givenname", "sn", "uid"]
        .map(String::from)
        .to_vec()
}
const MAIL: usize = 0;
const GIVEN: usize = 1;
const SN: usize = 2;
const UID: usize = 3;

/// The entry's DN (every LDAP record has one).
fn dn(r: &SourceRecord) -> &str {
    match r.origin() {
        Origin::Dn(dn) => dn,
        Origin::Line(line) => panic!("an LDAP record with a CSV line {line}"),
    }
}

async fn read(source: &LdapSource) -> Result<Vec<SourceRecord>, SourceError> {
    ldap::read_all(
        source,
        Some(&Slapd::password()),
        ldap::Wanted::text(&attributes()),
    )
    .await
    .map(|read| read.records)
}

fn by_uid(records: &[SourceRecord]) -> BTreeMap<String, &SourceRecord> {
    let map: BTreeMap<String, &SourceRecord> = records
        .iter()
        .map(|r| {
            (
                r.value(UID)
                    .expect("every sample person has a uid")
                    .to_owned(),
                r,
            )
        })
        .collect();
    assert_eq!(map.len(), records.len(), "uids are unique");
    map
}

fn fatal(result: Result<Vec<SourceRecord>, SourceError>) -> String {
    match result {
        Err(SourceError::Fatal(msg)) => msg,
        Err(other) => panic!("expected a fatal error, got {other:?}"),
        Ok(records) => panic!("expected a fatal error, got {} records", records.len()),
    }
}

/// `samples/people.csv` through the real CSV source, as value rows.
fn csv_people(attributes: &[String]) -> Vec<Vec<Option<String>>> {
    let cfg = sfsync::job::CsvSource {
        path: slapd::samples_dir().join("people.csv"),
        display: "people.csv".into(),
        delimiter: b',',
        encoding: None,
    };
    sfsync::source::csv::read(&cfg, attributes, &[], None)
        .unwrap()
        .into_iter()
        .map(|r| r.values().map(|v| v.map(str::to_owned)).collect())
        .collect()
}

#[tokio::test]
async fn sample_directory_gives_exactly_the_expected_people() {
    // Given the sample directory, when the sample job's filter reads it,
    let server = Slapd::start();
    let records = read(&server.source()).await.unwrap();

    // then the 50 people come back and nobody the filter excludes.
    assert_eq!(records.len(), 50);
    let people = by_uid(&records);
    for excluded in [
        "svc-backup",
        "svc-jenkins",
        "svc-printer",
        "kdiaz",
        "room-atlas",
    ] {
        assert!(
            !people.contains_key(excluded),
            "{excluded} must be filtered out"
        );
    }
    for (uid, r) in &people {
        assert_eq!(
            r.origin(),
            Origin::Dn(&format!("uid={uid},ou=people,dc=example,dc=com"))
        );
    }
    let mail = |uid: &str| people[uid].value(MAIL);

    // Multi-valued mail: the first value, the other noted.
    assert_eq!(mail("kpark"), Some("kevin.park@example.com"));
    assert_eq!(
        people["kpark"].note.as_deref(),
        Some("also has mail: kpark@example.com")
    );
    assert!(records.iter().filter(|r| r.note.is_some()).count() == 1);
    assert!(records.iter().all(|r| r.problem.is_none()));
    // Case is kept as stored (the mapping lower-cases the username), spaces trimmed.
    assert_eq!(mail("othomas"), Some("Olivia.Thomas@example.com"));
    assert_eq!(mail("ehall"), Some("Ethan.Hall@Example.COM"));
    assert_eq!(mail("nwilson"), Some("noah.wilson@example.com"));
    assert_eq!(people["eclark"].value(GIVEN), Some("Emma"));
    // A blank sn is no sn (the planner makes the person invalid).
    assert_eq!(people["rpatel"].value(SN), None);
    // The mixed-case duplicate reaches the planner as two records with one username.
    assert_eq!(mail("slee"), Some("Sam.Lee@example.com"));
    assert_eq!(mail("slee2"), Some("sam.lee@example.com"));
    // The invalid ones arrive as they are; judging them is the planner's job.
    assert_eq!(mail("pjones"), Some("peter.jones.example.com"));
    assert_eq!(mail("akonstantinou").map(str::len), Some(89));
}

#[tokio::test]
async fn several_mails_make_the_record_invalid_when_the_job_says_so() {
    let server = Slapd::start();
    let mut source = server.source();
    source.multi_value = MultiValue::Invalid;
    let records = read(&source).await.unwrap();
    let problems: Vec<(&str, &str)> = records
        .iter()
        .filter_map(|r| Some((dn(r), r.problem.as_deref()?)))
        .collect();
    assert_eq!(
        problems,
        [(
            "uid=kpark,ou=people,dc=example,dc=com",
            "mail has 2 values (kevin.park@example.com, kpark@example.com) and multi_value = \"invalid\""
        )]
    );
}

#[tokio::test]
async fn ldif_and_csv_give_the_planner_identical_input() {
    // The contract both sources keep: the same people, the same values.
    let server = Slapd::start();
    let mut from_ldap: Vec<Vec<Option<String>>> = read(&server.source())
        .await
        .unwrap()
        .iter()
        .map(|r| r.values().map(|v| v.map(String::from)).collect())
        .collect();
    let mut from_csv = csv_people(&attributes());
    assert_eq!(from_csv.len(), 50);
    from_ldap.sort();
    from_csv.sort();
    assert_eq!(from_ldap, from_csv);
}

#[tokio::test]
async fn non_ascii_names_round_trip_as_utf8() {
    let server = Slapd::start();
    let records = read(&server.source()).await.unwrap();
    let people = by_uid(&records);
    let names = |uid: &str| (people[uid].value(GIVEN), people[uid].value(SN));
    assert_eq!(names("fcote"), (Some("François"), Some("Côté")));
    assert_eq!(names("jnunez"), (Some("José"), Some("Núñez")));
    assert_eq!(names("zmuller"), (Some("Zoë"), Some("Müller")));
    assert_eq!(names("sodegard"), (Some("Søren"), Some("Ødegård")));
    assert_eq!(names("lwrobel"), (Some("Łukasz"), Some("Wróbel")));
    assert_eq!(names("myamamoto"), (Some("美咲"), Some("山本")));
}

#[tokio::test]
async fn paging_reads_more_entries_than_the_size_limit() {
    // Given 1,200 more people than slapd's size limit of 500 and a service
    // account allowed to page through all of them,
    let server = Slapd::start_with(Options {
        extra_ldif: slapd::bulk_people(1_200),
        ..Options::default()
    });
    let mut source = server.source();
    source.page_size = 100;
    // when sfsync reads in pages of 100,
    let records = read(&source).await.unwrap();
    // then every one of them arrives, once.
    assert_eq!(records.len(), 1_250);
    let people = by_uid(&records);
    assert!(people.contains_key("bulk000000") && people.contains_key("bulk001199"));
}

#[tokio::test]
async fn a_read_cut_short_by_the_size_limit_is_fatal() {
    // Given a server that still applies its size limit of 500 to the service
    // account's paged searches, and 650 matching people,
    let server = Slapd::start_with(Options {
        extra_ldif: slapd::bulk_people(600),
        unlimited_service_account: false,
        ..Options::default()
    });
    for page_size in [100, 1_000] {
        let mut source = server.source();
        source.page_size = page_size;
        // when sfsync reads, the truncation is reported, not trusted.
        let msg = fatal(read(&source).await);
        assert!(msg.contains("sizeLimitExceeded (4)"), "{msg}");
        assert!(msg.contains("incomplete"), "{msg}");
        assert!(msg.contains(&server.ldap_url()), "{msg}");
    }
}

#[tokio::test]
async fn starttls_and_ldaps_verify_the_server_with_the_test_ca() {
    let server = Slapd::start();
    let mut starttls = server.source();
    starttls.starttls = true;
    starttls.ca_file = Some(server.ca_file.clone());
    assert_eq!(read(&starttls).await.unwrap().len(), 50);

    let mut ldaps = server.source();
    ldaps.url = server.ldaps_url();
    ldaps.ca_file = Some(server.ca_file.clone());
    assert_eq!(read(&ldaps).await.unwrap().len(), 50);
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_is_refused() {
    let server = Slapd::start();
    let mut cases = Vec::new();
    // Only the system roots: the test CA is not among them.
    let mut ldaps = server.source();
    ldaps.url = server.ldaps_url();
    cases.push(ldaps.clone());
    // A CA file, but not the one that signed the server's certificate.
    ldaps.ca_file = Some(server.other_ca_file.clone());
    cases.push(ldaps);
    let mut starttls = server.source();
    starttls.starttls = true;
    starttls.ca_file = Some(server.other_ca_file.clone());
    cases.push(starttls);

    for source in cases {
        let msg = fatal(read(&source).await);
        assert!(msg.contains("TLS certificate not trusted"), "{msg}");
        assert!(msg.contains(&source.url), "{msg}");
    }
}

#[tokio::test]
async fn a_certificate_without_subject_alt_name_is_named_not_the_ca_file() {
    // Given a server whose certificate, signed by the right CA, names its
    // address only in the CN,
    let server = Slapd::start_with(Options {
        cn_only_certificate: true,
        ..Options::default()
    });
    let mut ldaps = server.source();
    ldaps.url = server.ldaps_url();
    ldaps.ca_file = Some(server.ca_file.clone());
    let mut starttls = server.source();
    starttls.starttls = true;
    starttls.ca_file = Some(server.ca_file.clone());

    for source in [ldaps, starttls] {
        // when sfsync connects, the error says what is wrong with the
        // certificate and does not send the operator after source.ca_file.
        let msg = fatal(read(&source).await);
        assert!(
            msg.contains("the server's certificate has no subjectAltName"),
            "{msg}"
        );
        assert!(!msg.contains("is source.ca_file the CA"), "{msg}");
        assert!(msg.contains(&source.url), "{msg}");
        // `check` says the same on its TLS line.
        let lines = ldap::check(&source, Some(&Slapd::password()), &[]).await;
        let tls = lines[1].1.as_ref().unwrap_err();
        assert!(tls.contains("has no subjectAltName"), "{lines:?}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_fatal_and_names_the_bind_dn_not_the_password() {
    let server = Slapd::start();
    let wrong = "Wr0ng-but-distinctive-pw";
    let err = ldap::read_all(
        &server.source(),
        Some(&Secret::new(wrong)),
        ldap::Wanted::text(&attributes()),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(SERVICE_DN), "{msg}");
    assert!(msg.contains("invalidCredentials (49)"), "{msg}");
    assert!(
        !msg.contains(wrong) && !msg.contains(SERVICE_PASSWORD),
        "{msg}"
    );
    assert_eq!(sfsync::Error::from(err).exit_code(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_fatal_with_the_url_and_bind_dn() {
    // A port nobody listens on: bind it, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source = LdapSource {
        url: format!("ldap://127.0.0.1:{port}"),
        ..unstarted_source()
    };
    let msg = fatal(read(&source).await);
    assert!(
        msg.contains(&source.url) && msg.contains(SERVICE_DN),
        "{msg}"
    );
    assert!(!msg.contains(SERVICE_PASSWORD), "{msg}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // The kernel accepts connections on a bound socket even if nobody calls
    // accept(), so this "server" takes the bind request and never replies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let source = LdapSource {
        url: format!("ldap://127.0.0.1:{}", silent.local_addr().unwrap().port()),
        timeout_secs: 1,
        ..unstarted_source()
    };
    let msg = fatal(read(&source).await);
    assert!(msg.contains("no answer within 1 s"), "{msg}");
    assert!(msg.contains(&source.url), "{msg}");
}

#[tokio::test]
async fn a_missing_base_dn_or_a_bad_filter_is_fatal() {
    let server = Slapd::start();
    let mut source = server.source();
    source.base_dn = "ou=nobody,dc=example,dc=com".into();
    let msg = fatal(read(&source).await);
    assert!(msg.contains("noSuchObject (32)"), "{msg}");

    let mut source = server.source();
    source.filter = "(&(objectClass=person)(mail=*)".into();
    let msg = fatal(read(&source).await);
    assert!(msg.contains("not a valid LDAP filter"), "{msg}");
}

/// A `referral` entry under `ou=people`: slapd answers a subtree search above
/// it with a continuation reference (SearchResultReference), and a search based
/// on it with a referral result, as AD does for its other partitions.
pub const REFERRAL_LDIF: &str = "dn: ou=elsewhere,ou=people,dc=example,dc=com\n\
    objectClass: referral\nobjectClass: extensibleObject\nou: elsewhere\n\
    ref: ldap://ldap2.example.com/ou=elsewhere,ou=people,dc=example,dc=com\n\n";

#[tokio::test]
async fn a_continuation_reference_is_skipped_and_counted() {
    // Given the sample directory with part of ou=people referred elsewhere,
    let server = Slapd::start_with(Options {
        extra_ldif: REFERRAL_LDIF.to_owned(),
        ..Options::default()
    });
    let source = server.source();

    // when the whole subtree is read,
    let read = ldap::read_all(
        &source,
        Some(&Slapd::password()),
        ldap::Wanted::text(&attributes()),
    )
    .await
    .unwrap();

    // then every person this server holds arrives, and the reference is
    // handed back once, not followed and not fatal.
    assert_eq!(read.records.len(), 50);
    assert_eq!(read.references.len(), 1, "{:?}", read.references);
    assert!(
        read.references[0]
            .starts_with("ldap://ldap2.example.com/ou=elsewhere,ou=people,dc=example,dc=com"),
        "{:?}",
        read.references
    );

    // `check` (one entry long) passes the job that the read now handles.
    let lines = ldap::check(&source, Some(&Slapd::password()), &[]).await;
    assert!(lines.iter().all(|(_, r)| r.is_ok()), "{lines:?}");

    // A referral *result* (the base DN itself lives elsewhere) stays fatal.
    let mut moved = server.source();
    moved.base_dn = "ou=elsewhere,ou=people,dc=example,dc=com".into();
    let msg = fatal(read_records(&moved).await);
    assert!(
        msg.contains("was referred to ldap://ldap2.example.com/")
            && msg.contains("does not hold ou=elsewhere,ou=people,dc=example,dc=com itself"),
        "{msg}"
    );
    let lines = ldap::check(&moved, Some(&Slapd::password()), &[]).await;
    assert!(
        lines[3].1.as_ref().unwrap_err().contains("was referred to"),
        "{lines:?}"
    );
}

async fn read_records(source: &LdapSource) -> Result<Vec<SourceRecord>, SourceError> {
    read(source).await
}

#[tokio::test]
async fn only_searches_each_address_escaped_within_the_job_filter() {
    // Given a person whose address holds filter metacharacters,
    let weird = "dn: uid=obrien,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n\
                 uid: obrien\ncn: Pat O'Brien\ngivenName: Pat\nsn: O'Brien\n\
                 mail: pat*o)brien@example.com\n\n";
    let server = Slapd::start_with(Options {
        extra_ldif: weird.to_owned(),
        ..Options::default()
    });
    let only = |mails: &[&str]| {
        let source = server.source();
        let mails: Vec<String> = mails.iter().map(|m| (*m).to_owned()).collect();
        async move {
            let records = ldap::read_only(
                &source,
                Some(&Slapd::password()),
                ldap::Wanted::text(&attributes()),
                "mail",
                &mails,
            )
            .await
            .unwrap()
            .records;
            let mut uids: Vec<String> = records
                .iter()
                .map(|r| r.value(UID).unwrap().to_owned())
                .collect();
            uids.sort();
            uids
        }
    };

    // the address finds exactly that person,
    assert_eq!(only(&["pat*o)brien@example.com"]).await, ["obrien"]);
    // and addresses that would widen an unescaped filter find nobody.
    assert!(only(&["*"]).await.is_empty());
    assert!(only(&["*)(uid=*"]).await.is_empty());
    assert!(only(&["pat*"]).await.is_empty());
    // mail matches case-insensitively, so one address finds both Lees;
    // the job filter still applies (a service account is never found), and an
    // entry found twice is returned once.
    assert_eq!(
        only(&[
            "sam.lee@example.com",
            "backup-bot@example.com",
            "SAM.LEE@example.com",
            "nobody@example.com",
            "  jose.nunez@example.com "
        ])
        .await,
        ["jnunez", "slee", "slee2"]
    );
}

#[tokio::test]
async fn check_reports_every_line() {
    let server = Slapd::start();
    let mut source = server.source();
    source.starttls = true;
    source.ca_file = Some(server.ca_file.clone());

    // All good: six lines, all passing (the sample entry has every attribute).
    let attrs: Vec<String> = ["mail", "givenname", "sn", "uid"]
        .map(String::from)
        .to_vec();
    let lines = ldap::check(&source, Some(&Slapd::password()), &attrs).await;
    let failed: Vec<_> = lines.iter().filter(|(_, r)| r.is_err()).collect();
    assert_eq!(lines.len(), 6);
    assert!(failed.is_empty(), "{failed:?}");

    // A template typo (`{titel}`): the sample entry lacks it, and the line names it.
    let typo: Vec<String> = ["mail", "titel"].map(String::from).to_vec();
    let lines = ldap::check(&source, Some(&Slapd::password()), &typo).await;
    assert_eq!(lines[5].0, "sample attributes");
    let said = lines[5].1.as_ref().unwrap_err();
    assert!(
        said.contains("has {titel}") && said.contains("a typo in a template"),
        "{said}"
    );

    let lines = ldap::check(&source, Some(&Slapd::password()), &[]).await;
    assert_eq!(lines.len(), 5, "no attributes asked: no sample line");
    assert_eq!(lines[1].1.as_deref(), Ok("StartTLS, certificate verified"));
    // slapd answers with whichever matching entry its index gives first.
    let example = lines[4].1.as_deref().unwrap();
    assert!(
        example.starts_with("e.g. uid=") && example.ends_with(",ou=people,dc=example,dc=com"),
        "{example}"
    );

    // Wrong password: the bind line says why, the rest say they were not checked.
    let lines = ldap::check(&source, Some(&Secret::new("nope-nope")), &attrs).await;
    let verdicts: Vec<bool> = lines.iter().map(|(_, r)| r.is_ok()).collect();
    assert_eq!(verdicts, [true, true, false, false, false]);
    let bind = lines[2].1.as_ref().unwrap_err();
    assert!(
        bind.contains("invalidCredentials") && !bind.contains("nope-nope"),
        "{bind}"
    );
    assert!(lines[3].1.as_ref().unwrap_err().starts_with("not checked"));

    // A filter that matches nobody.
    let mut nobody = source.clone();
    nobody.filter = "(&(objectClass=person)(sn=Nobody-At-All))".into();
    let lines = ldap::check(&nobody, Some(&Slapd::password()), &attrs).await;
    assert!(lines[3].1.is_ok());
    assert!(
        lines[4].1.as_ref().unwrap_err().contains("no entry"),
        "{lines:?}"
    );

    // The untrusted CA: reachable, but the TLS line fails.
    let mut untrusted = source.clone();
    untrusted.ca_file = Some(server.other_ca_file.clone());
    let lines = ldap::check(&untrusted, Some(&Slapd::password()), &attrs).await;
    let verdicts: Vec<bool> = lines.iter().map(|(_, r)| r.is_ok()).collect();
    assert_eq!(verdicts, [true, false, false, false, false]);
}

/// A source pointing nowhere yet, binding as the service account.
fn unstarted_source() -> LdapSource {
    LdapSource {
        url: String::new(),
        starttls: false,
        ca_file: None,
        bind_dn: Some(SERVICE_DN.to_owned()),
        bind_password: None,
        base_dn: slapd::PEOPLE_BASE.to_owned(),
        filter: slapd::FILTER.to_owned(),
        page_size: 500,
        multi_value: MultiValue::First,
        timeout_secs: 5,
    }
}

#[tokio::test]
async fn a_job_file_reads_the_sample_directory_over_starttls() {
    // Given a job like jobs/nightly-ldap.toml, its CA and password as files
    // beside it (relative paths resolve against the job's folder),
    let server = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&server.ca_file, dir.path().join("corp-ca.pem")).unwrap();
    std::fs::write(
        dir.path().join("ldap-password"),
        format!("{SERVICE_PASSWORD}\n"),
    )
    .unwrap();
    let job_path = dir.path().join("nightly-ldap.toml");
    let text = format!(
        r#"
name = "nightly-ldap"

[source]
type = "ldap"
url = "{url}"
starttls = true
ca_file = "corp-ca.pem"
bind_dn = "{SERVICE_DN}"
bind_password_file = "ldap-password"
base_dn = "{base}"
filter = "{filter}"
page_size = 20

[salesforce]
instance_url = "http://127.0.0.1:9"
auth = "client_credentials"
client_id_env = "SFSYNC_TEST_UNUSED_ID"
client_secret_env = "SFSYNC_TEST_UNUSED_SECRET"

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
"#,
        url = server.ldap_url(),
        base = slapd::PEOPLE_BASE,
        filter = slapd::FILTER,
    );
    std::fs::write(&job_path, text).unwrap();
    let job = sfsync::job::load(&job_path).unwrap_or_else(|e| panic!("{e}"));
    let sfsync::job::SourceConfig::Ldap(source) = &job.source else {
        panic!("an LDAP job")
    };
    let password = source.bind_password.as_ref().unwrap().resolve().unwrap();

    // when the source reads with the job's own attribute list (its order is
    // the loader's business; values follow it whatever it is),
    let mut names = job.attributes.clone();
    names.sort();
    assert_eq!(names, ["givenname", "mail", "sn", "uid"]);
    let wanted = ldap::Wanted {
        names: &job.attributes,
        kinds: &job.attribute_kinds,
    };
    let records = ldap::read_all(source, Some(&password), wanted)
        .await
        .unwrap()
        .records;

    // then it is the sample company, paged in pages of 20, values in the job's order.
    assert_eq!(records.len(), 50);
    let at = |name: &str| job.attributes.iter().position(|a| a == name).unwrap();
    let ehall = records
        .iter()
        .find(|r| dn(r) == "uid=ehall,ou=people,dc=example,dc=com")
        .unwrap();
    assert_eq!(ehall.value(at("mail")), Some("Ethan.Hall@Example.COM"));
    assert_eq!(ehall.value(at("givenname")), Some("Ethan"));
    assert_eq!(ehall.value(at("uid")), Some("ehall"));
}

#[tokio::test]
async fn without_mail_in_the_filter_mail_less_entries_arrive_without_mail() {
    // A job whose filter does not require mail gets the mail-less entries too,
    // each with its DN, so the planner can report them as invalid by DN.
    let server = Slapd::start();
    let mut source = server.source();
    source.filter = "(&(objectClass=person)(!(sn=Service)))".into();
    let records = read(&source).await.unwrap();
    assert_eq!(records.len(), 52);
    let mut mail_less: Vec<&str> = records
        .iter()
        .filter(|r| r.value(MAIL).is_none())
        .map(dn)
        .collect();
    mail_less.sort_unstable();
    assert_eq!(
        mail_less,
        [
            "uid=kdiaz,ou=people,dc=example,dc=com",
            "uid=room-atlas,ou=people,dc=example,dc=com"
        ]
    );
}
