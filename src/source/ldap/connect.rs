//! Opening an LDAP connection: TLS trust (system roots plus the job's
//! `ca_file`, verification always on), connect and bind with timeouts, and
//! errors in plain words that name the URL and bind DN but never the password.

use std::sync::{Arc, Once};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use crate::job::{LdapSource, Secret};
use crate::source::SourceError;

/// An open, bound connection. Dropping it ends the connection task.
pub(super) struct Conn {
    pub ldap: Ldap,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Conn {
    /// Politely ends the session; errors do not matter any more at this point.
    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }
}

/// ldap3, reqwest and jsonwebtoken must agree on one rustls crypto provider, or
/// the first TLS handshake panics. Install aws-lc-rs unless someone (main,
/// another client) already installed one.
pub(super) fn ensure_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

pub(super) fn timeout(cfg: &LdapSource) -> Duration {
    Duration::from_secs(cfg.timeout_secs.max(1))
}

/// Whether this configuration talks TLS (LDAPS or StartTLS).
pub(super) fn uses_tls(cfg: &LdapSource) -> bool {
    cfg.url.starts_with("ldaps://") || cfg.starttls
}

/// The rustls configuration: the system's roots plus every certificate in `ca_file`.
pub(super) fn tls_config(cfg: &LdapSource) -> Result<Arc<ClientConfig>, SourceError> {
    ensure_crypto_provider();
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped, not fatal: a private CA in
    // `ca_file` is enough, and a public server's chain fails clearly later.
    let native = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(native.certs);
    if let Some(path) = &cfg.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| {
                SourceError::Unusable(format!(
                    "source.ca_file: cannot read CA certificates from {}: {e}",
                    path.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(SourceError::Unusable(format!(
                "source.ca_file: {} holds no PEM certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                SourceError::Unusable(format!(
                    "source.ca_file: {} holds a certificate rustls cannot use as a trust root: {e}",
                    path.display()
                ))
            })?;
        }
    }
    Ok(Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Connects (TCP, then TLS or StartTLS when configured) without binding.
pub(super) async fn open(cfg: &LdapSource) -> Result<Conn, SourceError> {
    let limit = timeout(cfg);
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(limit)
        .set_starttls(cfg.starttls && cfg.url.starts_with("ldap://"));
    if uses_tls(cfg) {
        settings = settings.set_config(tls_config(cfg)?);
    }
    // The connect timeout in ldap3 covers TCP only; a server that accepts and
    // then never answers the TLS handshake or StartTLS must not hang a cron job.
    let (conn, ldap) =
        match tokio::time::timeout(limit, LdapConnAsync::with_settings(settings, &cfg.url)).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(connect_error(cfg, &e)),
            Err(_) => {
                return Err(SourceError::Fatal(format!(
                    "cannot connect to LDAP server {}: no answer within {} s (source.timeout_secs)",
                    cfg.url,
                    limit.as_secs()
                )));
            }
        };
    let url = cfg.url.clone();
    let driver = tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(%url, error = %e, "LDAP connection ended with an error.");
        }
    });
    Ok(Conn { ldap, driver })
}

/// Binds as `bind_dn` with the password, or anonymously when the job names no DN.
pub(super) async fn bind(
    conn: &mut Conn,
    cfg: &LdapSource,
    password: Option<&Secret>,
) -> Result<(), SourceError> {
    let (dn, pw) = match (&cfg.bind_dn, password) {
        (Some(dn), Some(pw)) => (dn.as_str(), pw.expose()),
        (Some(dn), None) => {
            return Err(SourceError::Fatal(format!(
                "cannot bind to LDAP server {} as {dn}: no bind password was given \
                 (set source.bind_password_env or source.bind_password_file)",
                cfg.url
            )));
        }
        (None, _) => ("", ""),
    };
    let who = if dn.is_empty() { "anonymous" } else { dn };
    let result = conn
        .ldap
        .with_timeout(timeout(cfg))
        .simple_bind(dn, pw)
        .await;
    match result {
        Ok(res) if res.rc == 0 => Ok(()),
        Ok(res) => Err(SourceError::Fatal(format!(
            "LDAP server {} refused the bind as {who}: {}",
            cfg.url,
            describe_result(&res)
        ))),
        Err(e) => Err(SourceError::Fatal(format!(
            "cannot bind to LDAP server {} as {who}: {}",
            cfg.url,
            plain_error(&e, cfg)
        ))),
    }
}

/// Connects and binds: what every read starts with.
pub(super) async fn connect(
    cfg: &LdapSource,
    password: Option<&Secret>,
) -> Result<Conn, SourceError> {
    let mut conn = open(cfg).await?;
    bind(&mut conn, cfg, password).await?;
    Ok(conn)
}

fn connect_error(cfg: &LdapSource, e: &LdapError) -> SourceError {
    let bind = cfg
        .bind_dn
        .as_deref()
        .map(|dn| format!(" (bind DN {dn})"))
        .unwrap_or_default();
    SourceError::Fatal(format!(
        "cannot connect to LDAP server {}{bind}: {}",
        cfg.url,
        plain_error(e, cfg)
    ))
}

/// Turns ldap3's transport errors into words an operator can act on.
pub(super) fn plain_error(e: &LdapError, cfg: &LdapSource) -> String {
    let text = match e {
        LdapError::Timeout { .. } => {
            return format!(
                "no answer within {} s (source.timeout_secs)",
                timeout(cfg).as_secs()
            );
        }
        LdapError::LdapResult { result } => return describe_result(result),
        LdapError::FilterParsing => {
            return format!("source.filter {:?} is not a valid LDAP filter", cfg.filter);
        }
        LdapError::EndOfStream | LdapError::ResultRecv { .. } | LdapError::OpSend { .. } => {
            return "the server closed the connection".to_owned();
        }
        LdapError::Io { source } => source.to_string(),
        other => other.to_string(),
    };
    if text.to_ascii_lowercase().contains("certificate") {
        let hint = if cfg.ca_file.is_some() {
            "is source.ca_file the CA that signed the server's certificate?"
        } else {
            "if the server uses a private CA, name it in source.ca_file"
        };
        format!("TLS certificate not trusted: {text} ({hint})")
    } else {
        text
    }
}

/// `sizeLimitExceeded (4): <server text>`.
pub(super) fn describe_result(res: &LdapResult) -> String {
    let text = res.text.trim();
    if text.is_empty() {
        format!("{} ({})", result_code_name(res.rc), res.rc)
    } else {
        format!("{} ({}): {text}", result_code_name(res.rc), res.rc)
    }
}

/// RFC 4511 result code names, the words slapd's logs and admins use.
pub(super) fn result_code_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        80 => "other",
        88 => "userCanceled",
        _ => "unknown result code",
    }
}
