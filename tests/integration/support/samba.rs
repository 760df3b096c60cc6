//! A throwaway Samba AD domain controller for the AD tests and the AD benchmark.
//!
//! [`Samba::shared`] provisions one DC per test binary run (about 20-30 s, see
//! `shared/reference/samba-ad.md`) with [`ad_ldif`]'s people and shares it
//! across the AD tests. `support/samba-dc.sh` does the provisioning: our own
//! CA, realm EXAMPLE.TEST, bind accounts, offline load, and `samba` in a
//! private network namespace, because AD's LDAP ports are fixed (389/636).
//! Everything that talks to it runs inside that namespace: the `sfsync`
//! binary through `nsenter` ([`Samba::command`]), in-process code on a thread
//! moved into it ([`Samba::in_netns`]), and the emulator on a listener bound
//! there ([`Samba::listener`]). A watchdog stops samba and removes its folder
//! when the test process has exited.
//!
//! It needs root (provisioning sets NT ACLs, `unshare -n` and `setns` need
//! CAP_SYS_ADMIN). Without root or a namespace, the AD tests skip with the
//! reason printed; with `SFSYNC_REQUIRE_SAMBA=1` (CI) they fail instead.
//! Missing packages always fail, naming `.ci/install-samba`.

#![allow(dead_code)] // shared by the integration tests and the benchmark, which use different parts

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use sfsync::job::{LdapSource, MultiValue, Secret};

/// The domain root.
pub const BASE: &str = "DC=example,DC=test";
/// The service account's UPN (a plain user, no mail, never expires).
pub const SERVICE_UPN: &str = "sfsync@example.test";
/// The password of every bind account the script creates.
pub const SERVICE_PASSWORD: &str = "Svc-Passw0rd!";
/// A disabled account (AD answers `data 533`).
pub const DISABLED_UPN: &str = "sfsync-off@example.test";
/// An account that must change its password first (AD answers `data 773`).
pub const MUST_CHANGE_UPN: &str = "sfsync-new@example.test";
/// SPEC's AD filter: enabled people (no contacts, groups or computers) with an address.
pub const AD_FILTER: &str = "(&(objectCategory=person)(objectClass=user)(mail=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))";
/// The group whose members, nested groups included, the in-chain example selects.
pub const SF_USERS_GROUP: &str = "CN=SF-Users,CN=Users,DC=example,DC=test";

pub struct Samba {
    dir: PathBuf,
    /// samba's pid: its `/proc/PID/ns/net` is the namespace clients enter.
    pub pid: u32,
    pub ca_file: PathBuf,
    pub expected: Expected,
}

/// What [`ad_ldif`] loaded, for tests to compare against.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// Enabled people with an address: lower-cased mail -> DN.
    pub people: BTreeMap<String, String>,
    /// Of those, the members of [`SF_USERS_GROUP`] through nested groups.
    pub sf_users: Vec<String>,
    /// Addresses of disabled accounts.
    pub disabled: Vec<String>,
    /// People with several `proxyAddresses`: lower-cased mail -> the primary address.
    pub proxy_primary: BTreeMap<String, String>,
    /// Addresses of objects that have mail but are not people to sync (a
    /// contact, a mail-enabled group).
    pub not_people: Vec<String>,
}

static SHARED: OnceLock<Result<Samba, String>> = OnceLock::new();

impl Samba {
    /// The DC shared by this test binary, provisioned on first use with
    /// [`TEST_USERS`] people; `None` (reason printed) when this machine cannot run one.
    pub fn shared() -> Option<&'static Samba> {
        match SHARED.get_or_init(|| Samba::start(TEST_USERS)) {
            Ok(samba) => Some(samba),
            Err(why) => {
                assert!(
                    std::env::var_os("SFSYNC_REQUIRE_SAMBA").is_none(),
                    "SFSYNC_REQUIRE_SAMBA is set but the Samba AD DC cannot run: {why}"
                );
                eprintln!("skipping: the Samba AD DC cannot run here: {why}");
                None
            }
        }
    }

    /// Provisions and starts a DC loaded with `users` generated people.
    /// `Err` says why this machine cannot (no root, no network namespace);
    /// missing packages panic with the install hint.
    pub fn start(users: usize) -> Result<Samba, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err(
                "it needs root (provisioning sets NT ACLs; namespaces need CAP_SYS_ADMIN)".into(),
            );
        }
        let netns = Command::new("unshare").args(["-n", "true"]).output();
        if !netns.as_ref().is_ok_and(|o| o.status.success()) {
            return Err(format!(
                "cannot make a network namespace (unshare -n): {}",
                netns.map_or_else(
                    |e| e.to_string(),
                    |o| String::from_utf8_lossy(&o.stderr).into_owned()
                )
            ));
        }
        for tool in [
            "samba",
            "samba-tool",
            "ldbadd",
            "ldapsearch",
            "openssl",
            "nsenter",
            "ip",
        ] {
            let found = Command::new("sh")
                .args([
                    "-c",
                    &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
                ])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "{tool} is missing: run .ci/install-samba (Debian packages, needs root)"
            );
        }

        let dir = tempfile::Builder::new()
            .prefix("sfsync-samba-")
            .tempdir()
            .expect("temp dir for samba")
            .keep(); // the watchdog removes it after this process
        let (ldif, expected) = ad_ldif(users);
        let ldif_path = dir.join("people.ldif");
        std::fs::write(&ldif_path, ldif).expect("write people.ldif");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support/samba-dc.sh");
        // The script provisions into the same folder, and its watchdog removes it.
        let dc = dir;
        let out = Command::new("bash")
            .arg(&script)
            .arg(&dc)
            .arg(std::process::id().to_string())
            .arg(&ldif_path)
            .output()
            .expect("run samba-dc.sh");
        assert!(
            out.status.success(),
            "samba-dc.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = std::fs::read_to_string(dc.join("samba.pid"))
            .expect("samba.pid")
            .trim()
            .parse()
            .expect("a pid");
        Ok(Samba {
            ca_file: dc.join("tls/ca.pem"),
            dir: dc,
            pid,
            expected,
        })
    }

    /// `program` run inside the DC's network namespace (`nsenter -t PID -n`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.pid.to_string())
            .arg("-n")
            .arg("--")
            .arg(program);
        cmd
    }

    /// Runs `f` on a thread moved into the DC's network namespace: sockets it
    /// opens (a tokio runtime built inside `f`, say) reach 127.0.0.1 there.
    pub fn in_netns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let ns =
            std::fs::File::open(format!("/proc/{}/ns/net", self.pid)).expect("open the DC's netns");
        std::thread::scope(|s| {
            s.spawn(move || {
                use std::os::fd::AsFd as _;
                rustix::thread::move_into_link_name_space(
                    ns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .expect("setns into the DC's network namespace");
                f()
            })
            .join()
            .expect("netns thread")
        })
    }

    /// A listener on 127.0.0.1 inside the DC's namespace (for the emulator):
    /// a listening socket stays in the namespace it was made in.
    pub fn listener(&self) -> std::net::TcpListener {
        let l =
            self.in_netns(|| std::net::TcpListener::bind("127.0.0.1:0").expect("bind in netns"));
        l.set_nonblocking(true).expect("nonblocking listener");
        l
    }

    /// The source of `jobs/nightly-ad.toml` against this DC: LDAPS, UPN bind, the domain root.
    pub fn source(&self) -> LdapSource {
        LdapSource {
            url: "ldaps://127.0.0.1".to_owned(),
            starttls: false,
            ca_file: Some(self.ca_file.clone()),
            bind_dn: Some(SERVICE_UPN.to_owned()),
            bind_password: None,
            base_dn: BASE.to_owned(),
            filter: AD_FILTER.to_owned(),
            page_size: 1000,
            multi_value: MultiValue::First,
            timeout_secs: 30,
        }
    }

    pub fn password() -> Secret {
        Secret::new(SERVICE_PASSWORD)
    }

    /// `ldapsearch` inside the namespace, bound as the service account, paged.
    pub fn ldapsearch(&self, base: &str, filter: &str, attrs: &[&str], page: i32) -> Command {
        let mut cmd = self.command("ldapsearch");
        cmd.env("LDAPTLS_CACERT", &self.ca_file)
            .args([
                "-x",
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-H",
                "ldaps://127.0.0.1",
                "-D",
                SERVICE_UPN,
                "-w",
            ])
            .arg(SERVICE_PASSWORD)
            .args(["-b", base, "-E", &format!("pr={page}/noprompt"), filter])
            .args(attrs);
        cmd
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// People in the shared test DC: a few hundred, enough for two pages of 200.
pub const TEST_USERS: usize = 300;

/// Names that are not ASCII (NFC), for every 50th person.
const NON_ASCII: [(&str, &str); 6] = [
    ("José", "Müller"),
    ("Zoë", "Ødegård"),
    ("Łukasz", "Żółć"),
    ("李", "雷"),
    ("Ana", "Nuñez-Pérez"),
    ("Åsa", "Löfgren"),
];

/// LDIF for `n` people under CN=Users and what it holds. Deterministic:
/// - person i: `u{i:05}`, `user{i:05}@example.test`, employeeID `E{i:06}`;
///   every 10th disabled (userAccountControl 514); every 97th (from 3) no mail;
///   every 50th (from 1) a non-ASCII name; person 42 is `o'brien@example.test`;
///   every 25th (from 7) has three proxyAddresses, the primary (`SMTP:`) second.
/// - OU=Contractors: 10 enabled people with mail (found from the domain root only).
/// - a contact and a mail-enabled group, both with mail (not people to sync).
/// - groups SF-Users <- {SF-Sales <- {SF-Sales-EMEA}, SF-Support}, nested.
pub fn ad_ldif(n: usize) -> (String, Expected) {
    let users = format!("CN=Users,{BASE}");
    let mut out = String::with_capacity(n * 400);
    let mut exp = Expected::default();
    let mut dns = Vec::with_capacity(n + 1);
    dns.push(String::new());
    let mut enabled_mail: Vec<Option<String>> = vec![None];
    for i in 1..=n {
        let sam = format!("u{i:05}");
        let (mut given, mut sn) = (format!("Given{i}"), format!("Surname{i}"));
        if i % 50 == 1 {
            let (g, s) = NON_ASCII[(i / 50) % NON_ASCII.len()];
            (given, sn) = (g.to_owned(), s.to_owned());
        }
        let mut mail = format!("user{i:05}@example.test");
        if i == 42 {
            (given, sn) = ("Siobhan".to_owned(), "O'Brien".to_owned());
            mail = "o'brien@example.test".to_owned();
        }
        let disabled = i % 10 == 0;
        let has_mail = i % 97 != 3;
        let dn = format!("CN={given} {sn} {i:05},{users}");
        out.push_str(&attr("dn", &dn));
        out.push_str("objectClass: user\n");
        for (k, v) in [
            ("sAMAccountName", sam.as_str()),
            ("givenName", &given),
            ("sn", &sn),
            ("displayName", &format!("{given} {sn}")),
            ("userPrincipalName", &format!("{sam}@example.test")),
            ("employeeID", &format!("E{i:06}")),
            ("title", if i % 3 == 0 { "Engineer" } else { "Analyst" }),
        ] {
            out.push_str(&attr(k, v));
        }
        // Most people have a department, some not (an optional attribute:
        // `check` must look past a sample entry that lacks it).
        if i % 4 != 1 {
            out.push_str(&attr(
                "department",
                if i % 2 == 0 { "Sales" } else { "Support" },
            ));
        }
        let _ = writeln!(
            out,
            "userAccountControl: {}",
            if disabled { 514 } else { 512 }
        );
        if has_mail {
            out.push_str(&attr("mail", &mail));
            if i % 25 == 7 {
                // Server order is not the primary first.
                out.push_str(&attr(
                    "proxyAddresses",
                    &format!("smtp:alias{i}@example.test"),
                ));
                out.push_str(&attr("proxyAddresses", &format!("SMTP:{mail}")));
                out.push_str(&attr(
                    "proxyAddresses",
                    &format!("smtp:{sam}@legacy.example.test"),
                ));
                if !disabled {
                    exp.proxy_primary.insert(mail.to_lowercase(), mail.clone());
                }
            }
            if disabled {
                exp.disabled.push(mail.to_lowercase());
            } else {
                exp.people.insert(mail.to_lowercase(), dn.clone());
            }
        }
        out.push('\n');
        enabled_mail.push((has_mail && !disabled).then(|| mail.to_lowercase()));
        dns.push(dn);
    }
    let _ = write!(
        out,
        "dn: OU=Contractors,{BASE}\nobjectClass: organizationalUnit\nou: Contractors\n\n"
    );
    for j in 1..=10 {
        let dn = format!("CN=Contractor {j:02},OU=Contractors,{BASE}");
        let mail = format!("contractor{j:02}@partner.example");
        let _ = write!(
            out,
            "dn: {dn}\nobjectClass: user\nsAMAccountName: c{j:03}\ngivenName: Contractor\n\
             sn: C{j:02}\nmail: {mail}\nuserPrincipalName: c{j:03}@example.test\n\
             userAccountControl: 512\n\n"
        );
        exp.people.insert(mail, dn);
    }
    let _ = write!(
        out,
        "dn: CN=External Contact,{users}\nobjectClass: contact\ngivenName: External\n\
         sn: Contact\nmail: ext.contact@partner.example\n\n"
    );
    exp.not_people
        .push("ext.contact@partner.example".to_owned());
    let range = |a: usize, b: usize| (a..=b.min(n)).map(|i| dns[i].clone()).collect::<Vec<_>>();
    let group = |name: &str, mail: Option<&str>, members: Vec<String>| {
        let mut g = format!("dn: CN={name},{users}\nobjectClass: group\nsAMAccountName: {name}\n");
        if let Some(m) = mail {
            let _ = writeln!(g, "mail: {m}");
        }
        for m in members {
            g.push_str(&attr("member", &m));
        }
        g.push('\n');
        g
    };
    out.push_str(&group("SF-Sales-EMEA", None, range(41, 60)));
    let mut sales = range(1, 30);
    sales.push(format!("CN=SF-Sales-EMEA,{users}"));
    out.push_str(&group("SF-Sales", Some("sales@example.test"), sales));
    exp.not_people.push("sales@example.test".to_owned());
    out.push_str(&group("SF-Support", None, range(31, 40)));
    let mut sf_users = range(61, 70);
    sf_users.push(format!("CN=SF-Sales,{users}"));
    sf_users.push(format!("CN=SF-Support,{users}"));
    out.push_str(&group("SF-Users", None, sf_users));
    exp.sf_users = (1..=70.min(n))
        .filter_map(|i| enabled_mail[i].clone())
        .collect();
    (out, exp)
}

/// One LDIF line, base64 (`name:: `) when the value is not plain ASCII.
fn attr(name: &str, value: &str) -> String {
    let plain = value.is_ascii() && !value.starts_with([' ', ':', '<']) && !value.ends_with(' ');
    if plain {
        format!("{name}: {value}\n")
    } else {
        format!(
            "{name}:: {}\n",
            base64::engine::general_purpose::STANDARD.encode(value)
        )
    }
}
