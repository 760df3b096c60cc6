//! A throwaway OpenLDAP server for tests and the LDAP benchmark.
//!
//! Each [`Slapd`] lives in its own temp dir: a CA and a server certificate made
//! with openssl (an IP SAN for 127.0.0.1, since rustls checks it and refuses a
//! self-signed end-entity certificate), a `slapd.conf` with the mdb backend, data
//! loaded offline with `slapadd -q`, and slapd listening on two free loopback
//! ports (`ldap://` with StartTLS, and `ldaps://`). Dropping it stops slapd with
//! SIGINT to its pid.
//!
//! Facts this relies on are in `shared/reference/crates-and-slapd.md`: mdb's
//! 10 MiB default `maxsize`, and the size limit of 500 that also caps paged
//! searches for every identity except the rootdn, which is why the service
//! account gets `size.prtotal=unlimited` (unless a test wants the limit).
//!
//! When slapd is missing the tests fail (never skip) and say how to install it.

#![allow(dead_code)] // shared by the integration tests and the benchmark, which use different parts

use std::fmt::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sfsync::job::{LdapSource, MultiValue, Secret};

pub const SUFFIX: &str = "dc=example,dc=com";
pub const PEOPLE_BASE: &str = "ou=people,dc=example,dc=com";
/// The read-only bind account in `samples/directory.ldif`.
pub const SERVICE_DN: &str = "cn=sfsync,ou=services,dc=example,dc=com";
/// Its password (sample data, documented in `samples/README.md`).
pub const SERVICE_PASSWORD: &str = "sfsync-sample-password";
/// The sample job's filter.
pub const FILTER: &str = "(&(objectClass=person)(mail=*)(!(sn=Service)))";

/// What to load and how to limit the service account.
#[derive(Debug, Clone)]
pub struct Options {
    /// Load `samples/directory.ldif`.
    pub samples: bool,
    /// More LDIF loaded after the samples (e.g. [`bulk_people`]).
    pub extra_ldif: String,
    /// `limits dn.exact=<service account> size.prtotal=unlimited`; false keeps
    /// slapd's default limit of 500 entries for it, paged or not.
    pub unlimited_service_account: bool,
    /// Give the server a certificate that names 127.0.0.1 only in its CN, with
    /// no subjectAltName (as Samba's self-made one and some hand-made DC certificates).
    pub cn_only_certificate: bool,
    /// Load the memberof overlay, which defines `memberOf` (issue 17). slapadd
    /// runs no overlay, so the LDIF gives `memberOf` values itself.
    pub memberof: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            samples: true,
            extra_ldif: String::new(),
            unlimited_service_account: true,
            cn_only_certificate: false,
            memberof: false,
        }
    }
}

pub struct Slapd {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
    pub tls_port: u16,
    /// The CA that signed the server's certificate.
    pub ca_file: PathBuf,
    /// A CA that signed nothing here: trusting it must not make the server trusted.
    pub other_ca_file: PathBuf,
}

impl Slapd {
    /// Starts a slapd loaded with the samples and the service account unlimited.
    pub fn start() -> Slapd {
        Slapd::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Slapd {
        let slapd = tool("slapd");
        let slapadd = tool("slapadd");
        let dir = tempfile::Builder::new()
            .prefix("sfsync-slapd-")
            .tempdir()
            .expect("temp dir for slapd");
        let root = dir.path().to_path_buf();
        make_certificates(&root, !options.cn_only_certificate);
        std::fs::create_dir(root.join("db")).expect("db dir");
        let conf = root.join("slapd.conf");
        std::fs::write(
            &conf,
            // The sample directory carries memberOf, which only the overlay defines.
            slapd_conf(
                &root,
                options.unlimited_service_account,
                options.memberof || options.samples,
            ),
        )
        .expect("write slapd.conf");

        let mut ldifs = Vec::new();
        if options.samples {
            ldifs.push(samples_dir().join("directory.ldif"));
        } else {
            let base = root.join("base.ldif");
            std::fs::write(&base, BASE_LDIF).expect("write base.ldif");
            ldifs.push(base);
        }
        if !options.extra_ldif.is_empty() {
            let extra = root.join("extra.ldif");
            std::fs::write(&extra, &options.extra_ldif).expect("write extra.ldif");
            ldifs.push(extra);
        }
        for ldif in &ldifs {
            let out = Command::new(&slapadd)
                .arg("-q")
                .arg("-f")
                .arg(&conf)
                .arg("-l")
                .arg(ldif)
                .output()
                .expect("run slapadd");
            assert!(
                out.status.success(),
                "slapadd -q -l {} failed: {}{}",
                ldif.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }

        // A port found free can be taken before slapd binds it; slapd then exits
        // and we try other ports.
        let mut last_log = String::new();
        for _ in 0..5 {
            let (port, tls_port) = (free_port(), free_port());
            if port == tls_port {
                continue;
            }
            let log_path = root.join("slapd.log");
            let log = std::fs::File::create(&log_path).expect("slapd log");
            let listen = format!("ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/");
            // `ulimit -n` keeps slapd's per-descriptor tables small; `exec` keeps
            // the pid we hold slapd's own, so SIGINT reaches it. `-d none` runs it
            // in the foreground where start-up errors are not lost.
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(r#"ulimit -n 4096 2>/dev/null; exec "$0" -f "$1" -h "$2" -d none"#)
                .arg(&slapd)
                .arg(&conf)
                .arg(&listen)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log fd"))
                .stderr(log)
                .spawn()
                .expect("start slapd");
            if wait_ready(&mut child, port, tls_port) {
                return Slapd {
                    ca_file: root.join("ca.pem"),
                    other_ca_file: root.join("other-ca.pem"),
                    dir,
                    child,
                    port,
                    tls_port,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("slapd did not start; its log:\n{last_log}");
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }

    /// The sample job's source over plain `ldap://`, binding as the service account.
    pub fn source(&self) -> LdapSource {
        LdapSource {
            url: self.ldap_url(),
            starttls: false,
            ca_file: None,
            bind_dn: Some(SERVICE_DN.to_owned()),
            bind_password: None,
            base_dn: PEOPLE_BASE.to_owned(),
            filter: FILTER.to_owned(),
            page_size: 500,
            multi_value: MultiValue::First,
            timeout_secs: 10,
        }
    }

    pub fn password() -> Secret {
        Secret::new(SERVICE_PASSWORD)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        // SIGINT is slapd's clean shutdown; std only offers SIGKILL, so ask kill(1).
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` people `bulk00000`.. under `ou=people`, all matching the sample filter.
pub fn bulk_people(n: usize) -> String {
    let mut out = String::with_capacity(n * 330);
    for i in 0..n {
        let _ = write!(
            out,
            "dn: uid=bulk{i:06},{PEOPLE_BASE}\nobjectClass: inetOrgPerson\nuid: bulk{i:06}\n\
             cn: Bulk Person {i}\ngivenName: Bulk\nsn: Person{i:06}\n\
             mail: bulk.person{i:06}@example.com\nemployeeNumber: {}\ntitle: Generated\n\n",
            500_000 + i
        );
    }
    out
}

pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

const BASE_LDIF: &str = "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\n\
o: Example Corp\ndc: example\n\ndn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n\
ou: people\n\ndn: ou=services,dc=example,dc=com\nobjectClass: organizationalUnit\nou: services\n\n\
dn: cn=sfsync,ou=services,dc=example,dc=com\nobjectClass: organizationalRole\n\
objectClass: simpleSecurityObject\ncn: sfsync\nuserPassword: sfsync-sample-password\n\n";

fn slapd_conf(root: &Path, unlimited_service_account: bool, memberof: bool) -> String {
    let r = root.display();
    let modules = if Path::new("/usr/lib/ldap/back_mdb.la").exists()
        || Path::new("/usr/lib/ldap/back_mdb.so").exists()
    {
        "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
    } else {
        // Built in (or a layout we do not know: slapd's error will say so).
        ""
    };
    let (memberof_module, memberof_overlay) = match (memberof, modules.is_empty()) {
        (false, _) => ("", ""),
        (true, false) => ("moduleload memberof\n", "overlay memberof\n"),
        (true, true) => ("", "overlay memberof\n"),
    };
    let limits = if unlimited_service_account {
        format!("limits dn.exact=\"{SERVICE_DN}\" size.prtotal=unlimited\n")
    } else {
        String::new()
    };
    format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         pidfile {r}/slapd.pid\n\
         argsfile {r}/slapd.args\n\
         {modules}\
         {memberof_module}\
         TLSCACertificateFile {r}/ca.pem\n\
         TLSCertificateFile {r}/server.pem\n\
         TLSCertificateKeyFile {r}/server.key\n\
         sizelimit 500\n\
         database mdb\n\
         maxsize 4294967296\n\
         suffix \"{SUFFIX}\"\n\
         rootdn \"cn=admin,{SUFFIX}\"\n\
         directory {r}/db\n\
         {limits}\
         {memberof_overlay}\
         access to attrs=userPassword by anonymous auth by * none\n\
         access to * by * read\n"
    )
}

fn make_certificates(root: &Path, san: bool) {
    let openssl = tool("openssl");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(root)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    for (name, cn) in [
        ("ca", "sfsync test CA"),
        ("other-ca", "sfsync untrusted CA"),
    ] {
        let subj = format!("/CN={cn}");
        let key = format!("{name}.key");
        let pem = format!("{name}.pem");
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subj]);
        run(&args);
    }
    let ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
               extendedKeyUsage=serverAuth\n";
    let ext = if san {
        format!("{ext}subjectAltName=IP:127.0.0.1\n")
    } else {
        ext.to_owned()
    };
    std::fs::write(root.join("server.ext"), ext).expect("write server.ext");
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&args);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind 127.0.0.1:0")
            .local_addr()
            .expect("local addr")
            .port();
        // Bound and released: check nothing else took it meanwhile, since a
        // readiness probe would happily succeed against another server.
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            return port;
        }
    }
}

/// True when slapd accepts connections on both ports and is still our process.
fn wait_ready(child: &mut Child, port: u16, tls_port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let up = |p: u16| {
            TcpStream::connect_timeout(&([127, 0, 0, 1], p).into(), Duration::from_millis(200))
                .is_ok()
        };
        if up(port) && up(tls_port) {
            // slapd exits at once when a listener cannot bind; still running
            // now means the answers came from it.
            std::thread::sleep(Duration::from_millis(20));
            return matches!(child.try_wait(), Ok(None));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Finds a program in PATH or the sbin folders (Debian puts slapd in /usr/sbin,
/// which is not in every user's PATH). Missing: fail and say how to fix it.
fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(
        [
            "/usr/sbin",
            "/usr/local/sbin",
            "/sbin",
            "/usr/local/libexec",
        ]
        .map(PathBuf::from),
    );
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed, and the LDAP tests need a real OpenLDAP server: \
                 run `.ci/install-slapd` (installs slapd, ldap-utils and openssl), then rerun the tests"
            )
        })
}
