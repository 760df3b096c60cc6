//! sfsync against a real AD domain controller (Samba, see `support/samba.rs`):
//! the shipped `jobs/nightly-ad.toml` from the domain root, objectGUID and
//! proxyAddresses through the directory filters, reruns that write nothing,
//! AD's bind sub-codes in words, `--only`, nested groups and `check`.
//!
//! Every test shares one DC (provisioned once per run) and starts its own
//! emulator inside the DC's network namespace; `sfsync` runs there too.
//! Without root or a namespace the tests print why and pass without running.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use sfsync::emulator::{self, Org, OrgConfig, RequestRecord};
use sfsync::source::SourceError;
use sfsync::source::ldap;

use crate::support::run::{SECRETS, repo};
use crate::support::samba::{
    self, AD_FILTER, DISABLED_UPN, MUST_CHANGE_UPN, SERVICE_PASSWORD, SF_USERS_GROUP, Samba,
};

/// The environment variable the test job reads the bind password from.
const LDAP_PASSWORD_VAR: &str = "SFSYNC_TEST_LDAP_PASSWORD";

/// The shared DC, provisioned off the async runtime; `None`: skip (reason printed).
async fn dc() -> Option<&'static Samba> {
    tokio::task::spawn_blocking(Samba::shared).await.unwrap()
}

/// An emulator serving on a listener inside the DC's namespace.
struct NetnsEmu {
    base_url: String,
    org: Arc<Org>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl NetnsEmu {
    async fn start(samba: &Samba) -> NetnsEmu {
        let listener = tokio::net::TcpListener::from_std(samba.listener()).unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let org = Arc::new(Org::new(OrgConfig::default()));
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(emulator::serve(listener, org.clone(), async move {
            let _ = rx.await;
        }));
        NetnsEmu {
            base_url,
            org,
            stop,
        }
    }

    /// Requests that change the org (anything but reads and tokens).
    fn writes(&self) -> Vec<RequestRecord> {
        self.org
            .log()
            .into_iter()
            .filter(|r| r.method != "GET" && !r.path.contains("/oauth2/"))
            .collect()
    }
}

/// `jobs/nightly-ad.toml` as shipped, pointed at the DC and the emulator,
/// with `edit` applied to its text. Returns the job's path.
fn ad_job(dir: &Path, samba: &Samba, emu: &NetnsEmu, edit: impl Fn(String) -> String) -> PathBuf {
    std::fs::copy(&samba.ca_file, dir.join("ad-ca.pem")).unwrap();
    let text = std::fs::read_to_string(repo().join("jobs/nightly-ad.toml"))
        .unwrap()
        .replace("ldaps://dc1.corp.example.com", "ldaps://127.0.0.1")
        .replace("\"/etc/ssl/corp-ca.pem\"", "\"ad-ca.pem\"")
        .replace("svc-sfsync@corp.example.com", samba::SERVICE_UPN)
        .replace(
            "base_dn = \"DC=corp,DC=example,DC=com\"",
            &format!("base_dn = \"{}\"", samba::BASE),
        )
        .replace("https://example.my.salesforce.com", &emu.base_url)
        .replace("login_url = \"https://login.salesforce.com\"", "")
        .replace("requests_per_second = 5.0", "requests_per_second = 100.0")
        .replace("\"SF_CLIENT_ID\"", "\"SFSYNC_TEST_CLIENT_ID\"")
        .replace("\"SF_CLIENT_SECRET\"", "\"SFSYNC_TEST_CLIENT_SECRET\"")
        .replace("\"SF_USERNAME\"", "\"SFSYNC_TEST_USERNAME\"")
        .replace("\"SF_PASSWORD\"", "\"SFSYNC_TEST_PASSWORD\"")
        .replace(
            "\"LDAP_BIND_PASSWORD\"",
            &format!("\"{LDAP_PASSWORD_VAR}\""),
        );
    let path = dir.join("nightly-ad.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// `sfsync ARGS` inside the DC's namespace, with the test secrets and `password`
/// as the bind password.
async fn sfsync(samba: &'static Samba, args: &[&str], password: &str) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        samba
            .command(assert_cmd::cargo::cargo_bin("sfsync"))
            .args(&args)
            .envs(SECRETS)
            .env(LDAP_PASSWORD_VAR, password)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Report users as lower-cased e-mail -> (outcome, source DN).
fn users_by_mail(report: &Value) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for u in report["users"].as_array().unwrap() {
        let mail = u["email"].as_str().unwrap().to_lowercase();
        let entry = (
            u["outcome"].as_str().unwrap().to_owned(),
            u["source"].as_str().unwrap().to_owned(),
        );
        assert!(out.insert(mail.clone(), entry).is_none(), "{mail} twice");
    }
    out
}

/// The org's users, every createable text field by name (through the
/// emulator's own CSV export).
fn org_rows(org: &Org, dir: &Path) -> Vec<BTreeMap<String, String>> {
    let path = dir.join("org.csv");
    org.save_csv(&path).unwrap();
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(str::to_owned)
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// AD's string form of a GUID from its 16 stored bytes, written out here
/// independently of sfsync: Data1-Data3 little-endian, Data4 as stored.
fn canonical_guid(b: &[u8]) -> String {
    assert_eq!(b.len(), 16, "a GUID is 16 bytes");
    let d1 = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let d2 = u16::from_le_bytes([b[4], b[5]]);
    let d3 = u16::from_le_bytes([b[6], b[7]]);
    let tail: String = b[10..].iter().map(|x| format!("{x:02x}")).collect();
    format!("{d1:08x}-{d2:04x}-{d3:04x}-{:02x}{:02x}-{tail}", b[8], b[9])
}

/// Raw objectGUID bytes per lower-cased mail, as `ldapsearch` returns them.
fn raw_guids(samba: &Samba) -> BTreeMap<String, Vec<u8>> {
    let out = samba
        .ldapsearch(samba::BASE, AD_FILTER, &["mail", "objectGUID"], 500)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ldif = String::from_utf8(out.stdout).unwrap();
    let mut guids = BTreeMap::new();
    for entry in ldif.split("\n\n") {
        let mut mail = None;
        let mut guid = None;
        for line in entry.lines() {
            if let Some(v) = line.strip_prefix("objectGUID:: ") {
                guid = Some(base64::engine::general_purpose::STANDARD.decode(v).unwrap());
            } else if let Some(v) = line.strip_prefix("mail: ") {
                mail = Some(v.to_lowercase());
            } else if let Some(v) = line.strip_prefix("mail:: ") {
                let bytes = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
                mail = Some(String::from_utf8(bytes).unwrap().to_lowercase());
            }
        }
        if let (Some(m), Some(g)) = (mail, guid) {
            guids.insert(m, g);
        }
    }
    guids
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_from_the_domain_root_reads_every_enabled_person_once() {
    let Some(samba) = dc().await else { return };
    // Given the shipped AD job with its base DN at the domain root,
    let emu = NetnsEmu::start(samba).await;
    let dir = tempfile::tempdir().unwrap();
    let job = ad_job(dir.path(), samba, &emu, |t| t);
    let path = dir.path().join("plan.json");

    // when it plans,
    let out = sfsync(
        samba,
        &[
            "plan",
            "--job",
            job.to_str().unwrap(),
            "--report",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--report-all",
        ],
        SERVICE_PASSWORD,
    )
    .await;

    // then it finishes (no continuation reference stops it), and every enabled
    // person with an address is planned once, from where they live: CN=Users
    // and OU=Contractors alike.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = report(&path);
    let users = users_by_mail(&report);
    let expected = &samba.expected.people;
    assert_eq!(
        users.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (mail, (outcome, dn)) in &users {
        assert_eq!(outcome, "create", "{mail}");
        assert_eq!(dn, &expected[mail], "{mail}");
    }
    assert_eq!(report["summary"]["source_records"], expected.len() as u64);
    assert_eq!(report["summary"]["invalid"], 0);
    // No disabled account, contact or mail-enabled group came through.
    for mail in samba
        .expected
        .disabled
        .iter()
        .chain(&samba.expected.not_people)
    {
        assert!(!users.contains_key(mail), "{mail} must be filtered out");
    }
    // The DC lists the domain-scope control, so AD made no references to skip.
    assert!(
        report["context"].get("source_references").is_none(),
        "{}",
        report["context"]
    );
    assert!(emu.writes().is_empty(), "a plan writes nothing");
    let _ = emu.stop.send(());
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_maps_objectguid_and_the_primary_address_and_a_rerun_writes_nothing() {
    let Some(samba) = dc().await else { return };
    // Given the AD job, with Department taken from the primary proxy address,
    let emu = NetnsEmu::start(samba).await;
    let dir = tempfile::tempdir().unwrap();
    let job = ad_job(dir.path(), samba, &emu, |t| {
        t.replace(
            "Department = \"{department}\"",
            "Department = \"{proxyAddresses|smtp}\"",
        )
    });
    let job = job.to_str().unwrap();

    // when it syncs,
    let first = sfsync(samba, &["sync", "--job", job], SERVICE_PASSWORD).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));

    // then the org holds every enabled person, FederationIdentifier being the
    // canonical form of each person's raw objectGUID bytes,
    let users = org_rows(&emu.org, dir.path());
    assert_eq!(users.len(), samba.expected.people.len());
    let guids = tokio::task::spawn_blocking(|| raw_guids(samba))
        .await
        .unwrap();
    for u in &users {
        let mail = u["Username"].to_lowercase();
        let raw = guids
            .get(&mail)
            .unwrap_or_else(|| panic!("no objectGUID for {mail}"));
        assert_eq!(u["FederationIdentifier"], canonical_guid(raw), "{mail}");
        // and Department the primary (SMTP:) address without its prefix, for
        // those that have proxyAddresses (the primary is not the first value).
        let department = Some(u["Department"].as_str()).filter(|d| !d.is_empty());
        assert_eq!(
            department,
            samba.expected.proxy_primary.get(&mail).map(String::as_str),
            "{mail}"
        );
    }
    assert!(!samba.expected.proxy_primary.is_empty());

    // When it runs again, nothing is written.
    let writes = emu.writes().len();
    let again = sfsync(samba, &["sync", "--job", job], SERVICE_PASSWORD).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        emu.writes().len(),
        writes,
        "the rerun wrote: {:?}",
        &emu.writes()[writes..]
    );
    assert_eq!(emu.org.users().len(), samba.expected.people.len());
    let _ = emu.stop.send(());
}

#[tokio::test(flavor = "multi_thread")]
async fn bind_failures_name_ads_reason() {
    let Some(samba) = dc().await else { return };
    let reasons = [
        (
            samba::SERVICE_UPN,
            "Wr0ng-Distinctive-pw",
            "wrong password (or no such user) (AD data 52e)",
        ),
        (
            DISABLED_UPN,
            SERVICE_PASSWORD,
            "the account is disabled (AD data 533)",
        ),
        (
            MUST_CHANGE_UPN,
            SERVICE_PASSWORD,
            "must be changed before it can bind (AD data 773)",
        ),
    ];
    // The read's fatal error, for each account,
    for (upn, password, reason) in reasons {
        let mut source = samba.source();
        source.bind_dn = Some(upn.to_owned());
        let result = samba.in_netns(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(ldap::read_all(
                    &source,
                    Some(&sfsync::job::Secret::new(password)),
                    ldap::Wanted::text(&["mail".to_owned()]),
                ))
        });
        let Err(SourceError::Fatal(msg)) = result else {
            panic!("{upn}: expected a fatal error, got {result:?}")
        };
        assert!(msg.contains(reason) && msg.contains(upn), "{upn}: {msg}");
        assert!(
            msg.contains("invalidCredentials (49)"),
            "the server's words stay: {msg}"
        );
        assert!(!msg.contains(password), "the password never shows: {msg}");
    }

    // and the same words in `check` and in `plan`, which exits 1.
    let emu = NetnsEmu::start(samba).await;
    let dir = tempfile::tempdir().unwrap();
    let job = ad_job(dir.path(), samba, &emu, |t| {
        t.replace(samba::SERVICE_UPN, DISABLED_UPN)
    });
    let job = job.to_str().unwrap();
    let check = sfsync(samba, &["check", "--job", job], SERVICE_PASSWORD).await;
    assert!(!check.status.success(), "{}", text(&check));
    let stdout = String::from_utf8_lossy(&check.stdout);
    let bind_line = stdout
        .lines()
        .find(|l| l.contains("LDAP bind as"))
        .unwrap_or_default();
    assert!(
        bind_line.starts_with("FAIL")
            && bind_line.contains("the account is disabled (AD data 533)"),
        "{}",
        text(&check)
    );
    let plan = sfsync(samba, &["plan", "--job", job], SERVICE_PASSWORD).await;
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stderr).contains("the account is disabled (AD data 533)"),
        "{}",
        text(&plan)
    );
    assert!(emu.writes().is_empty());
    let _ = emu.stop.send(());
}

#[tokio::test(flavor = "multi_thread")]
async fn only_finds_people_by_address_whatever_their_characters() {
    let Some(samba) = dc().await else { return };
    let emu = NetnsEmu::start(samba).await;
    let dir = tempfile::tempdir().unwrap();
    let job = ad_job(dir.path(), samba, &emu, |t| t);
    let path = dir.path().join("only.json");
    // An apostrophe, another case than stored, and a person in an OU.
    let out = sfsync(
        samba,
        &[
            "plan",
            "--job",
            job.to_str().unwrap(),
            "--report",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--only",
            "O'Brien@example.test",
            "--only",
            "USER00002@example.test",
            "--only",
            "contractor03@partner.example",
        ],
        SERVICE_PASSWORD,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let users = users_by_mail(&report(&path));
    let mails: BTreeSet<&str> = users.keys().map(String::as_str).collect();
    assert_eq!(
        mails,
        BTreeSet::from([
            "o'brien@example.test",
            "user00002@example.test",
            "contractor03@partner.example"
        ])
    );
    assert!(users.values().all(|(o, _)| o == "create"));
    let _ = emu.stop.send(());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_commented_in_chain_filter_selects_nested_group_members() {
    let Some(samba) = dc().await else { return };
    let emu = NetnsEmu::start(samba).await;
    let dir = tempfile::tempdir().unwrap();
    // The job's commented alternative, switched on, naming the test's group.
    let job = ad_job(dir.path(), samba, &emu, |t| {
        let t = t.replace(&format!("filter = \"{AD_FILTER}\"\n"), "");
        t.replace(
            "# filter = \"(&(objectCategory",
            "filter = \"(&(objectCategory",
        )
        .replace(
            "CN=SF-Users,OU=Groups,DC=corp,DC=example,DC=com",
            SF_USERS_GROUP,
        )
    });
    let path = dir.path().join("group.json");
    let out = sfsync(
        samba,
        &[
            "plan",
            "--job",
            job.to_str().unwrap(),
            "--report",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        SERVICE_PASSWORD,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let users = users_by_mail(&report(&path));
    let mut expected = samba.expected.sf_users.clone();
    expected.sort();
    assert_eq!(users.keys().cloned().collect::<Vec<_>>(), expected);
    let _ = emu.stop.send(());
}

#[tokio::test(flavor = "multi_thread")]
async fn check_passes_the_domain_root_job_with_a_real_search() {
    let Some(samba) = dc().await else { return };
    let emu = NetnsEmu::start(samba).await;
    let dir = tempfile::tempdir().unwrap();
    let job = ad_job(dir.path(), samba, &emu, |t| t);
    let out = sfsync(
        samba,
        &["check", "--job", job.to_str().unwrap()],
        SERVICE_PASSWORD,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("ok")
            && l.contains("matches at least one entry")
            && l.contains(",DC=example,DC=test")),
        "{stdout}"
    );
    assert!(!stdout.contains(SERVICE_PASSWORD));
    let _ = emu.stop.send(());
}
