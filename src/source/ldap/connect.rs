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
    /// Whether the root DSE lists the domain-scope control; `None` until asked.
    pub domain_scope: Option<bool>,
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
    Ok(Conn {
        ldap,
        driver,
        domain_scope: None,
    })
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
            "LDAP server {} refused the bind as {who}: {}{}",
            cfg.url,
            ad_bind_reason(&res.text).map_or_else(String::new, |r| format!("{r}; ")),
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
    // rustls' words for a certificate that names its host only in the CN
    // (Samba's self-made one, hand-made DC certificates): the CA may be right.
    if text.contains("not valid for any names") {
        return format!(
            "TLS certificate not accepted: {text} (the server's certificate has no \
             subjectAltName, so it is valid for no host name or address; a host name only \
             in its CN no longer counts. Give the server a certificate whose subjectAltName \
             holds the name or address in source.url)"
        );
    }
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

/// Active Directory's reason for a refused bind, from the `data NNN` sub-code
/// in its message (`80090308: LdapErr: DSID-0C09..., comment:
/// AcceptSecurityContext error, data 52e, v4563`), in plain words (SPEC
/// "Active Directory"; codes as listed in MS-ADTS / Win32 error codes).
/// `None` for other servers' messages and unknown codes.
pub(super) fn ad_bind_reason(text: &str) -> Option<&'static str> {
    let rest = &text[text.find("data ")? + 5..];
    let code: String = rest
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match code.as_str() {
        "52e" => "wrong password (or no such user) (AD data 52e)",
        "525" => "no such user (AD data 525)",
        "530" => "the account may not log on at this time of day (AD data 530)",
        "531" => "the account may not log on from this computer (AD data 531)",
        "532" => "the account's password has expired (AD data 532)",
        "533" => "the account is disabled (AD data 533)",
        "701" => "the account has expired (AD data 701)",
        "773" => "the account's password must be changed before it can bind (AD data 773)",
        "775" => "the account is locked out (AD data 775)",
        _ => return None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_sub_codes_become_reasons() {
        let ad = |code: &str| {
            format!(
                "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data {code}, v1db1"
            )
        };
        assert_eq!(
            ad_bind_reason(&ad("52e")),
            Some("wrong password (or no such user) (AD data 52e)")
        );
        assert_eq!(
            ad_bind_reason(&ad("533")),
            Some("the account is disabled (AD data 533)")
        );
        assert_eq!(
            ad_bind_reason(&ad("773")),
            Some("the account's password must be changed before it can bind (AD data 773)")
        );
        assert_eq!(
            ad_bind_reason(&ad("775")),
            Some("the account is locked out (AD data 775)")
        );
        for code in ["525", "530", "531", "532", "701"] {
            assert!(ad_bind_reason(&ad(code)).is_some(), "{code}");
        }
        assert_eq!(ad_bind_reason(&ad("999")), None, "unknown code");
        assert_eq!(ad_bind_reason("Invalid credentials"), None, "slapd");
        assert_eq!(ad_bind_reason(""), None);
    }
}
