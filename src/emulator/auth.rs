//! The token endpoint's decisions: password, client-credentials and JWT
//! bearer grants checked against the configured credentials (strict when
//! given, any non-empty values otherwise), with the documented `invalid_grant`
//! bodies (reference §1). Sessions themselves live in [`super::org::Org`].
//!
//! Pure apart from the caller-supplied clock.

use std::collections::HashMap;

use base64::Engine;
use rand::Rng;
use serde::Deserialize;

use super::config::OrgConfig;

pub const GRANT_JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A refused token request: `{"error": ..., "error_description": ...}` with 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: &'static str,
}

const fn oauth(error: &'static str, description: &'static str) -> OAuthError {
    OAuthError { error, description }
}

const AUTH_FAILURE: OAuthError = oauth("invalid_grant", "authentication failure");
const BAD_CLIENT_ID: OAuthError = oauth("invalid_client_id", "client identifier invalid");
const BAD_CLIENT: OAuthError = oauth("invalid_client", "invalid client credentials");

/// A granted token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Password,
    ClientCredentials,
    Jwt,
}

fn non_empty<'a>(form: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    form.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// Constant-time-ish equality, so the emulator is not a timing oracle when
/// someone points a real client's secrets at it.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn check_client(cfg: &OrgConfig, id: Option<&str>, secret: Option<&str>) -> Result<(), OAuthError> {
    let Some(id) = id else {
        return Err(BAD_CLIENT_ID);
    };
    if let Some(want) = &cfg.credentials.client_id
        && !same(want, id)
    {
        return Err(BAD_CLIENT_ID);
    }
    let Some(secret) = secret else {
        return Err(BAD_CLIENT);
    };
    if let Some(want) = &cfg.credentials.client_secret
        && !same(want.expose(), secret)
    {
        return Err(BAD_CLIENT);
    }
    Ok(())
}

/// `Authorization: Basic base64(id:secret)`.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (id, secret) = s.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
}

/// Decides a token request. `base_url` is the emulator's own URL (always an
/// accepted JWT audience); `now` is epoch seconds.
pub fn decide(
    cfg: &OrgConfig,
    form: &HashMap<String, String>,
    basic: Option<(String, String)>,
    base_url: &str,
    now: u64,
) -> Result<Grant, OAuthError> {
    match form.get("grant_type").map(String::as_str) {
        Some("password") => {
            check_client(
                cfg,
                non_empty(form, "client_id"),
                non_empty(form, "client_secret"),
            )?;
            let (Some(user), Some(pass)) =
                (non_empty(form, "username"), non_empty(form, "password"))
            else {
                return Err(AUTH_FAILURE);
            };
            if let Some(want) = &cfg.credentials.username
                && !same(want, user)
            {
                return Err(AUTH_FAILURE);
            }
            if let Some(want) = &cfg.credentials.password
                && !same(want.expose(), pass)
            {
                return Err(AUTH_FAILURE);
            }
            Ok(Grant::Password)
        }
        Some("client_credentials") => {
            if cfg.client_credentials_on_generic_host {
                return Err(oauth(
                    "invalid_grant",
                    "request not supported on this domain",
                ));
            }
            let (id, secret) = match &basic {
                Some((i, s)) => (Some(i.as_str()), Some(s.as_str())),
                None => (
                    non_empty(form, "client_id"),
                    non_empty(form, "client_secret"),
                ),
            };
            check_client(
                cfg,
                id.filter(|v| !v.is_empty()),
                secret.filter(|v| !v.is_empty()),
            )?;
            Ok(Grant::ClientCredentials)
        }
        Some(GRANT_JWT) => {
            let Some(assertion) = non_empty(form, "assertion") else {
                return Err(oauth("invalid_request", "assertion is required"));
            };
            let claims: Claims = match &cfg.jwt_public_key {
                Some(pem) => {
                    let key = jsonwebtoken::DecodingKey::from_rsa_pem(pem)
                        .map_err(|_| oauth("invalid_grant", "invalid assertion"))?;
                    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
                    // exp and aud are checked below, with Salesforce's wording.
                    v.validate_exp = false;
                    v.validate_aud = false;
                    v.required_spec_claims.clear();
                    jsonwebtoken::decode::<Claims>(assertion, &key, &v)
                        .map_err(|_| oauth("invalid_grant", "invalid assertion"))?
                        .claims
                }
                None => {
                    // No key to verify against: still refuse what no RS256
                    // signer could have produced.
                    if !plausible_rs256(assertion) {
                        return Err(oauth("invalid_grant", "invalid assertion"));
                    }
                    jsonwebtoken::dangerous::insecure_decode::<Claims>(assertion)
                        .map_err(|_| oauth("invalid_grant", "invalid assertion"))?
                        .claims
                }
            };
            let iss = claims
                .iss
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or(BAD_CLIENT_ID)?;
            if let Some(want) = &cfg.credentials.client_id
                && want != iss
            {
                return Err(BAD_CLIENT_ID);
            }
            let aud_ok = |a: &str| {
                let a = a.trim_end_matches('/');
                a == base_url.trim_end_matches('/')
                    || cfg
                        .jwt_audiences
                        .iter()
                        .any(|x| x.trim_end_matches('/') == a)
            };
            let aud_valid = match &claims.aud {
                Some(serde_json::Value::String(a)) => aud_ok(a),
                Some(serde_json::Value::Array(list)) => {
                    list.iter().any(|a| a.as_str().is_some_and(aud_ok))
                }
                _ => false,
            };
            if !aud_valid {
                return Err(oauth("invalid_grant", "audience is invalid"));
            }
            // A number, or a string of digits: simple-salesforce sends
            // `"exp": "1767225600"` and Salesforce accepts it.
            let exp = match claims.exp.as_ref() {
                Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
                Some(v) => v.as_u64(),
                None => None,
            };
            match exp {
                Some(e) if e <= now => {
                    return Err(oauth("invalid_grant", "expired authorization code"));
                }
                Some(e) if e > now + cfg.jwt_max_exp_ahead.as_secs() => {
                    // Salesforce's upper bound is unconfirmed; milliseconds land here too.
                    return Err(oauth("invalid_grant", "invalid assertion"));
                }
                Some(_) => {}
                None => return Err(oauth("invalid_grant", "invalid assertion")),
            }
            let sub = claims.sub.as_deref().filter(|s| !s.is_empty());
            match (sub, &cfg.credentials.username) {
                (None, _) => Err(oauth("invalid_grant", "user hasn't approved this consumer")),
                (Some(s), Some(want)) if s != want => {
                    Err(oauth("invalid_grant", "user hasn't approved this consumer"))
                }
                _ => Ok(Grant::Jwt),
            }
        }
        Some(_) => Err(oauth("unsupported_grant_type", "grant type not supported")),
        None => Err(oauth("invalid_request", "grant_type is required")),
    }
}

/// Without `--jwt-public-key` the signature cannot be verified, but its shape
/// can: the header says RS256 and the third part decodes (base64url) to as
/// many bytes as an RSA key of 2048 to 4096 bits signs with.
fn plausible_rs256(assertion: &str) -> bool {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = assertion.split('.');
    let (Some(head), Some(_), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let alg_ok = b64
        .decode(head)
        .ok()
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .is_some_and(|h| h["alg"] == "RS256");
    let sig_ok = b64
        .decode(sig)
        .is_ok_and(|s| (256..=512).contains(&s.len()) && s.len() % 64 == 0);
    alg_ok && sig_ok
}

/// The SOAP `login` check: strict against `--credentials-file`'s username
/// and password when given (password followed by the security token), else
/// any non-empty pair.
pub fn login_allowed(cfg: &OrgConfig, username: &str, password: &str) -> bool {
    if username.is_empty() || password.is_empty() {
        return false;
    }
    let user_ok = cfg
        .credentials
        .username
        .as_ref()
        .is_none_or(|want| same(want, username));
    let pass_ok = cfg
        .credentials
        .password
        .as_ref()
        .is_none_or(|want| same(want.expose(), password));
    user_ok && pass_ok
}

/// Who a granted token request logs in as: the password-flow username, the
/// JWT subject, or (client credentials) the configured username or a fixed
/// integration user.
pub fn granted_username(cfg: &OrgConfig, form: &HashMap<String, String>, grant: &Grant) -> String {
    let fallback = || {
        cfg.credentials
            .username
            .clone()
            .unwrap_or_else(|| "integration@sfsync.emulator".to_string())
    };
    match grant {
        Grant::Password => non_empty(form, "username").map_or_else(fallback, str::to_string),
        Grant::Jwt => non_empty(form, "assertion")
            .and_then(|a| jsonwebtoken::dangerous::insecure_decode::<Claims>(a).ok())
            .and_then(|d| d.claims.sub)
            .unwrap_or_else(fallback),
        Grant::ClientCredentials => fallback(),
    }
}

/// An opaque access token: the org Id, `!`, then random characters, like Salesforce's.
pub fn new_token(org_id: &str) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let mut rng = rand::rng();
    let tail: String = (0..96)
        .map(|_| ALPHA[rng.random_range(0..ALPHA.len())] as char)
        .collect();
    format!("{}!{tail}", &org_id[..15])
}

/// A made-up `signature`: clients rarely check it and the real algorithm is unconfirmed.
pub fn new_signature() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Secret;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn strict() -> OrgConfig {
        let mut cfg = OrgConfig::default();
        cfg.credentials.client_id = Some("cid".into());
        cfg.credentials.client_secret = Some(Secret::new("csecret"));
        cfg.credentials.username = Some("svc@acme.com".into());
        cfg.credentials.password = Some(Secret::new("pwTOKEN"));
        cfg
    }

    #[test]
    fn password_grant_strict_and_lenient() {
        let ok = form(&[
            ("grant_type", "password"),
            ("client_id", "cid"),
            ("client_secret", "csecret"),
            ("username", "svc@acme.com"),
            ("password", "pwTOKEN"),
        ]);
        assert_eq!(
            decide(&strict(), &ok, None, "http://x", 0),
            Ok(Grant::Password)
        );
        let mut wrong = ok.clone();
        wrong.insert("password".into(), "pw".into());
        assert_eq!(
            decide(&strict(), &wrong, None, "http://x", 0),
            Err(AUTH_FAILURE)
        );
        assert_eq!(
            decide(&OrgConfig::default(), &wrong, None, "http://x", 0),
            Ok(Grant::Password)
        );
        let mut empty = ok.clone();
        empty.insert("password".into(), String::new());
        assert_eq!(
            decide(&OrgConfig::default(), &empty, None, "http://x", 0),
            Err(AUTH_FAILURE)
        );
        let mut bad_id = ok;
        bad_id.insert("client_id".into(), "other".into());
        assert_eq!(
            decide(&strict(), &bad_id, None, "http://x", 0),
            Err(BAD_CLIENT_ID)
        );
    }

    fn jwt(claims: serde_json::Value, sig: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            b64.encode(claims.to_string()),
            b64.encode(sig)
        )
    }

    fn jwt_form(assertion: &str) -> HashMap<String, String> {
        form(&[("grant_type", GRANT_JWT), ("assertion", assertion)])
    }

    #[test]
    fn jwt_exp_as_a_string_of_digits_is_accepted() {
        let now = 1_767_225_600;
        let claims = serde_json::json!({"iss": "cid", "sub": "svc@acme.com",
            "aud": "https://login.salesforce.com", "exp": (now + 120).to_string()});
        let a = jwt(claims, &[7u8; 256]);
        assert_eq!(
            decide(&OrgConfig::default(), &jwt_form(&a), None, "http://x", now),
            Ok(Grant::Jwt)
        );
        let claims = serde_json::json!({"iss": "cid", "sub": "svc@acme.com",
            "aud": "https://login.salesforce.com", "exp": "soon"});
        let a = jwt(claims, &[7u8; 256]);
        assert_eq!(
            decide(&OrgConfig::default(), &jwt_form(&a), None, "http://x", now)
                .unwrap_err()
                .description,
            "invalid assertion"
        );
    }

    #[test]
    fn jwt_with_garbage_signature_is_refused_without_a_key() {
        let now = 1_767_225_600;
        let claims = serde_json::json!({"iss": "cid", "sub": "svc@acme.com",
            "aud": "https://login.salesforce.com", "exp": now + 120});
        for sig in [&b"garbage"[..], &[1u8; 100][..], &[][..]] {
            let a = jwt(claims.clone(), sig);
            assert_eq!(
                decide(&OrgConfig::default(), &jwt_form(&a), None, "http://x", now),
                Err(oauth("invalid_grant", "invalid assertion")),
                "signature of {} bytes",
                sig.len()
            );
        }
        assert_eq!(
            decide(
                &OrgConfig::default(),
                &jwt_form("a.b"),
                None,
                "http://x",
                now
            ),
            Err(oauth("invalid_grant", "invalid assertion"))
        );
    }

    #[test]
    fn soap_login_strict_and_lenient() {
        assert!(login_allowed(&strict(), "svc@acme.com", "pwTOKEN"));
        assert!(!login_allowed(&strict(), "svc@acme.com", "pw"));
        assert!(!login_allowed(&strict(), "other@acme.com", "pwTOKEN"));
        assert!(login_allowed(&OrgConfig::default(), "any@x", "y"));
        assert!(!login_allowed(&OrgConfig::default(), "any@x", ""));
    }

    #[test]
    fn client_credentials_basic_or_form() {
        let f = form(&[("grant_type", "client_credentials")]);
        let basic = parse_basic(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("cid:csecret")
        ));
        assert_eq!(
            decide(&strict(), &f, basic, "http://x", 0),
            Ok(Grant::ClientCredentials)
        );
        let f2 = form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cid"),
            ("client_secret", "nope"),
        ]);
        assert_eq!(decide(&strict(), &f2, None, "http://x", 0), Err(BAD_CLIENT));
        let mut generic = strict();
        generic.client_credentials_on_generic_host = true;
        assert_eq!(
            decide(&generic, &f, None, "http://x", 0)
                .unwrap_err()
                .description,
            "request not supported on this domain"
        );
    }
}
