//! Real Salesforce clients against `sfsync emulator --tls`, unmodified:
//! simple-salesforce (Python) and jsforce (Node), installed by
//! `.ci/install-clients` (run here when missing; idempotent). Each script
//! prints one `ok <step> <facts>` line per step and exits 1 on the first
//! wrong answer; these tests assert the exit, the lines, and the emulator's
//! own counters. Skipped, with the reason printed, only when python3 or
//! node/npm is not installed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const SEEDED: usize = 2_100;
const USERNAME: &str = "integration@acme.example.com";
const PASSWORD: &str = "rehearsal-pw";
const TOKEN: &str = "SECTOKEN123";
const CONSUMER_KEY: &str = "3MVG9-consumer-key";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running `sfsync emulator --tls`, killed on drop.
struct Served {
    child: Child,
    url: String,
    ca: PathBuf,
    private_key: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Served {
    let mut csv = String::from("Username,Email,FirstName,LastName,Alias,IsActive\n");
    for i in 0..SEEDED {
        csv.push_str(&format!(
            "seed{i:05}@acme.example.com,seed{i:05}@acme.example.com,Seed,User{i},s{i:05},true\n"
        ));
    }
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    std::fs::write(
        dir.join("credentials.toml"),
        format!(
            "client_id = \"{CONSUMER_KEY}\"\nusername = \"{USERNAME}\"\npassword = \"{PASSWORD}{TOKEN}\"\n"
        ),
    )
    .unwrap();
    let _ = super::emulator::rsa_pair(dir, "app");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(["-q", "emulator", "--tls", "--listen", "127.0.0.1:0"])
        .arg("--tls-ca-file")
        .arg(dir.join("ca.pem"))
        .arg("--credentials-file")
        .arg(dir.join("credentials.toml"))
        .arg("--jwt-public-key")
        .arg(dir.join("app.pub"))
        .arg("--users")
        .arg(dir.join("users.csv"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sfsync emulator");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    let ca = PathBuf::from(lines.next().unwrap().unwrap());
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert_eq!(ca, dir.join("ca.pem"));
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    Served {
        child,
        url,
        ca,
        private_key: dir.join("app.key"),
    }
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the clients when missing (the same script `.ci/test` runs first).
fn install_clients() {
    let status = Command::new(repo().join(".ci/install-clients"))
        .status()
        .expect("run .ci/install-clients");
    assert!(status.success(), ".ci/install-clients failed");
}

/// The emulator's counters, read over HTTPS with a token (trusting only the CA file).
async fn counters(s: &Served) -> Value {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&s.ca).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let tok: Value = http
        .post(format!("{}/services/oauth2/token", s.url))
        .form(&[
            ("grant_type", "password"),
            ("client_id", CONSUMER_KEY),
            ("client_secret", "any"),
            ("username", USERNAME),
            ("password", &format!("{PASSWORD}{TOKEN}")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    http.get(format!("{}/_emulator/counters", s.url))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn run_script(s: &Served, program: &Path, script: &Path, ca_env: &str) -> String {
    let out = Command::new(program)
        .arg(script)
        .env("SFSYNC_EMULATOR_URL", &s.url)
        .env(ca_env, &s.ca)
        .env("SF_USERNAME", USERNAME)
        .env("SF_PASSWORD", PASSWORD)
        .env("SF_TOKEN", TOKEN)
        .env("SF_CONSUMER_KEY", CONSUMER_KEY)
        .env("SF_PRIVATE_KEY", &s.private_key)
        .env("SF_SEEDED", SEEDED.to_string())
        .output()
        .expect("run the client script");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn steps(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_salesforce_soap_login_query_all_create_collections_limits_and_jwt() {
    if !have("python3") {
        println!("skipped: python3 is not installed, so simple-salesforce cannot run");
        return;
    }
    install_clients();
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path());
    let host = s.url.trim_start_matches("https://").to_string();
    let out = run_script(
        &s,
        &repo().join("target/clients/venv/bin/python"),
        &repo().join("tests/clients/python/simple_salesforce_check.py"),
        "REQUESTS_CA_BUNDLE",
    );
    assert_eq!(
        steps(&out),
        [
            format!("soap_login instance={host}").as_str(),
            "soap_login_refused code=INVALID_LOGIN",
            "query_all records=2100",
            "user_create success=True",
            "user_get username=py1@clients.example.com",
            "composite_sobjects created=2",
            "limits max=15000",
            "describe fields=38",
            "jwt_login users=2103",
        ]
    );
    let c = counters(&s).await;
    assert_eq!(c["users_created"], 3);
    assert_eq!(c["create_one_calls"], 1);
    assert_eq!(c["create_collection_calls"], 1);
    // Two SOAP logins, one JWT login, and this test's own password login.
    assert_eq!(c["token_calls"], 4);
    assert_eq!(c["query_more_calls"], 1, "2,100 rows are two pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsforce_login_autofetch_query_array_create_limits_and_identity() {
    if !have("node") || !have("npm") {
        println!("skipped: node or npm is not installed, so jsforce cannot run");
        return;
    }
    install_clients();
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path());
    let out = run_script(
        &s,
        Path::new("node"),
        &repo().join("tests/clients/js/jsforce_check.js"),
        "NODE_EXTRA_CA_CERTS",
    );
    assert_eq!(
        steps(&out),
        [
            "login org=00D user=005",
            "login_refused INVALID_LOGIN",
            "query_autofetch records=2100",
            "array_create created=2 refused=DUPLICATE_USERNAME",
            "limits max=15000",
            format!("identity username={USERNAME}").as_str(),
        ]
    );
    let c = counters(&s).await;
    assert_eq!(c["users_created"], 2);
    assert_eq!(c["create_collection_calls"], 1);
    assert_eq!(c["query_more_calls"], 1, "2,100 rows are two pages");
}

#[tokio::test]
async fn tls_cert_and_key_files_serve_https_with_the_operators_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl made the test certificate");
    // A free port, so the test knows where to connect while the emulator
    // prints (and hands out) only its public URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(["-q", "emulator", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--public-url", "https://localhost:9"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        url, "https://localhost:9",
        "the public URL is what it prints"
    );
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let resp = http
        .get(format!("https://127.0.0.1:{port}/services/data/"))
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let resp = resp.expect("HTTPS with the operator's certificate");
    assert_eq!(resp.status(), 200);
}
