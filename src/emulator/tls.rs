//! HTTPS for the emulator, so clients that only build `https://` URLs
//! (simple-salesforce, jsforce, the Salesforce CLI) can reach it.
//!
//! Two sources of a certificate: [`generate`] makes a private CA and a
//! server certificate for `localhost`, `127.0.0.1`, `::1` and any extra host
//! names at start (rcgen), so a client trusts the emulator by trusting the CA
//! file alone (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`); [`from_pem_files`]
//! loads a certificate chain and key the operator brings (`--tls-cert`,
//! `--tls-key`). Both give a rustls [`ServerConfig`] offering HTTP/1.1.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate made at start: the server config and the CA that signed it.
pub struct GeneratedTls {
    /// Serves the generated server certificate.
    pub config: Arc<ServerConfig>,
    /// The CA certificate in PEM form: what a client must trust.
    pub ca_pem: String,
}

impl std::fmt::Debug for GeneratedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedTls").finish_non_exhaustive()
    }
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not make a usable pair: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Makes a CA ("sfsync emulator CA") and a server certificate signed by it,
/// valid for `localhost`, `127.0.0.1`, `::1` and `extra_hosts` (host names or
/// IP addresses, e.g. the host of `--public-url`). Fresh keys every start.
///
/// # Errors
/// A message when key generation or signing fails, or a host is not a
/// valid DNS name or IP address.
pub fn generate(extra_hosts: &[String]) -> Result<GeneratedTls, String> {
    let err = |e: rcgen::Error| format!("cannot make the TLS certificate: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sfsync emulator CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;

    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    for h in extra_hosts {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(h)) {
            names.push(h.clone());
        }
    }
    let mut leaf = CertificateParams::new(names).map_err(err)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "sfsync emulator");
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().map_err(err)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;

    let chain = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der())
        .map_err(|e| format!("cannot use the generated key: {e}"))?;
    Ok(GeneratedTls {
        config: server_config(chain, key)?,
        ca_pem: ca_cert.pem(),
    })
}

/// Loads `--tls-cert` (PEM, the server certificate first, then any
/// intermediates) and `--tls-key` (PEM private key: PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
/// A message naming the file that cannot be read or holds no certificate/key.
pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: no CERTIFICATE block found",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls-key {}: no usable private key ({e})", key.display()))?;
    server_config(chain, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ca_is_pem_and_config_speaks_http1() {
        let g = generate(&["emu.test".into()]).unwrap();
        assert!(g.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(g.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn missing_cert_file_is_named() {
        let e = from_pem_files(
            Path::new("/nonexistent/c.pem"),
            Path::new("/nonexistent/k.pem"),
        )
        .unwrap_err();
        assert!(e.contains("--tls-cert /nonexistent/c.pem"), "{e}");
    }
}
