//! The three OAuth 2.0 server flows sfsync logs in with (reference §1):
//! username-password, client credentials (HTTP Basic), and JWT bearer (RS256).
//!
//! [`Credentials`] holds the resolved secrets; [`Credentials::token_request`]
//! turns them into the form a token call sends. Sending it (paced, counted) is
//! the client's job, so this file stays free of I/O.

use std::fmt;

use serde::Serialize;

use super::SfError;
use crate::job::{AuthConfig, Secret, SecretError};

/// JWT `exp` is "within 3 minutes" of now (reference §1.4); simple-salesforce uses 3 minutes too.
pub const JWT_LIFETIME_SECS: u64 = 180;

/// Resolved login secrets for one flow. Debug shows the flow's name only.
#[derive(Clone)]
pub struct Credentials {
    flow: Flow,
}

#[derive(Clone)]
enum Flow {
    Password {
        client_id: Secret,
        client_secret: Secret,
        username: Secret,
        /// Password with the security token appended.
        password: Secret,
    },
    ClientCredentials {
        client_id: Secret,
        client_secret: Secret,
    },
    Jwt {
        client_id: Secret,
        username: Secret,
        private_key: Secret,
        audience: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({} flow, [redacted])", self.flow_name())
    }
}

/// What a token call sends. Not `Debug`: it holds secrets on their way to the wire.
pub(crate) struct TokenRequest {
    pub form: Vec<(&'static str, String)>,
    /// `Authorization: Basic` user and password (client credentials).
    pub basic: Option<(String, String)>,
}

#[derive(Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

impl Credentials {
    /// Reads every secret the job's auth section names (environment or files).
    pub fn resolve(auth: &AuthConfig) -> Result<Credentials, SecretError> {
        let flow = match auth {
            AuthConfig::Password {
                client_id,
                client_secret,
                username,
                password,
            } => Flow::Password {
                client_id: client_id.resolve()?,
                client_secret: client_secret.resolve()?,
                username: username.resolve()?,
                password: password.resolve()?,
            },
            AuthConfig::ClientCredentials {
                client_id,
                client_secret,
            } => Flow::ClientCredentials {
                client_id: client_id.resolve()?,
                client_secret: client_secret.resolve()?,
            },
            AuthConfig::Jwt {
                client_id,
                username,
                private_key,
                audience,
            } => Flow::Jwt {
                client_id: client_id.resolve()?,
                username: username.resolve()?,
                private_key: private_key.resolve()?,
                audience: audience.clone(),
            },
        };
        Ok(Credentials { flow })
    }

    /// Username-password flow; `password` already carries the security token.
    pub fn password(
        client_id: Secret,
        client_secret: Secret,
        username: Secret,
        password: Secret,
    ) -> Self {
        Credentials {
            flow: Flow::Password {
                client_id,
                client_secret,
                username,
                password,
            },
        }
    }

    pub fn client_credentials(client_id: Secret, client_secret: Secret) -> Self {
        Credentials {
            flow: Flow::ClientCredentials {
                client_id,
                client_secret,
            },
        }
    }

    /// JWT bearer flow; `private_key` is a PEM RSA key, `audience` the login host.
    pub fn jwt(
        client_id: Secret,
        username: Secret,
        private_key: Secret,
        audience: impl Into<String>,
    ) -> Self {
        Credentials {
            flow: Flow::Jwt {
                client_id,
                username,
                private_key,
                audience: audience.into(),
            },
        }
    }

    /// The login username of the password and JWT flows (to look the API
    /// user up when the token answer gave no identity URL).
    pub fn login_username(&self) -> Option<&str> {
        match &self.flow {
            Flow::Password { username, .. } | Flow::Jwt { username, .. } => Some(username.expose()),
            Flow::ClientCredentials { .. } => None,
        }
    }

    pub fn flow_name(&self) -> &'static str {
        match self.flow {
            Flow::Password { .. } => "password",
            Flow::ClientCredentials { .. } => "client_credentials",
            Flow::Jwt { .. } => "jwt",
        }
    }

    /// The token call's form (and Basic auth), for a login at `now_unix` seconds.
    pub(crate) fn token_request(&self, now_unix: u64) -> Result<TokenRequest, SfError> {
        Ok(match &self.flow {
            Flow::Password {
                client_id,
                client_secret,
                username,
                password,
            } => TokenRequest {
                form: vec![
                    ("grant_type", "password".to_owned()),
                    ("client_id", client_id.expose().to_owned()),
                    ("client_secret", client_secret.expose().to_owned()),
                    ("username", username.expose().to_owned()),
                    ("password", password.expose().to_owned()),
                ],
                basic: None,
            },
            // Basic auth as simple-salesforce does; the reference allows form or Basic.
            Flow::ClientCredentials {
                client_id,
                client_secret,
            } => TokenRequest {
                form: vec![("grant_type", "client_credentials".to_owned())],
                basic: Some((
                    client_id.expose().to_owned(),
                    client_secret.expose().to_owned(),
                )),
            },
            Flow::Jwt {
                client_id,
                username,
                private_key,
                audience,
            } => {
                let assertion = sign_jwt(
                    client_id.expose(),
                    username.expose(),
                    audience,
                    private_key,
                    now_unix + JWT_LIFETIME_SECS,
                )?;
                TokenRequest {
                    form: vec![
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                        ),
                        ("assertion", assertion),
                    ],
                    basic: None,
                }
            }
        })
    }
}

/// Signs the JWT bearer assertion with RS256. Errors describe the key, never show it.
fn sign_jwt(iss: &str, sub: &str, aud: &str, key: &Secret, exp: u64) -> Result<String, SfError> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key.expose().as_bytes()).map_err(|e| {
        SfError::Setup(format!(
            "the JWT private key is not a usable PEM RSA private key ({})",
            e.kind_name()
        ))
    })?;
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::encode(&header, &JwtClaims { iss, sub, aud, exp }, &key).map_err(|e| {
        SfError::Setup(format!(
            "could not sign the JWT assertion ({})",
            e.kind_name()
        ))
    })
}

/// Names a jsonwebtoken error by kind only: its Display can quote key material.
trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for jsonwebtoken::errors::Error {
    fn kind_name(&self) -> String {
        let dbg = format!("{:?}", self.kind());
        // `InvalidRsaKey("...")` -> `InvalidRsaKey`
        dbg.split(['(', ' ', '{'])
            .next()
            .unwrap_or("error")
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn s(v: &str) -> Secret {
        Secret::new(v)
    }

    #[test]
    fn debug_shows_no_secret() {
        let c = Credentials::password(s("cid-x1"), s("csec-x2"), s("user-x3"), s("pw-x4"));
        let d = format!("{c:?}");
        assert_eq!(d, "Credentials(password flow, [redacted])");
    }

    #[test]
    fn password_and_client_credentials_forms() {
        let c = Credentials::password(s("cid"), s("csec"), s("svc@acme.com"), s("Secret1AbC123"));
        let r = c.token_request(0).unwrap();
        assert_eq!(r.form[0], ("grant_type", "password".to_owned()));
        assert!(r.form.contains(&("password", "Secret1AbC123".to_owned())));
        assert!(r.basic.is_none());

        let c = Credentials::client_credentials(s("cid"), s("csec"));
        let r = c.token_request(0).unwrap();
        assert_eq!(
            r.form,
            vec![("grant_type", "client_credentials".to_owned())]
        );
        assert_eq!(r.basic, Some(("cid".to_owned(), "csec".to_owned())));
    }

    #[test]
    fn bad_jwt_key_is_a_plain_error_without_the_key() {
        let c = Credentials::jwt(
            s("cid"),
            s("u@x.com"),
            s("not a pem TOPSECRET"),
            "https://login.salesforce.com",
        );
        let msg = c.token_request(0).err().unwrap().to_string();
        assert!(msg.contains("PEM RSA"), "{msg}");
        assert!(!msg.contains("TOPSECRET"), "{msg}");
    }

    #[test]
    fn jwt_claims_are_rs256_with_exp_three_minutes_ahead() {
        // A throwaway 2048-bit key made for this test only.
        let pem = include_str!("testdata/jwt-test-key.pem");
        let c = Credentials::jwt(
            s("consumer-key"),
            s("svc@acme.com"),
            s(pem),
            "https://login.salesforce.com",
        );
        let r = c.token_request(1_767_225_600).unwrap();
        assert_eq!(r.form[0].1, "urn:ietf:params:oauth:grant-type:jwt-bearer");
        let jwt = &r.form[1].1;
        let mut parts = jwt.split('.');
        let dec = |p: &str| {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        };
        let header = dec(parts.next().unwrap());
        let claims = dec(parts.next().unwrap());
        assert_eq!(header["alg"], "RS256");
        assert_eq!(claims["iss"], "consumer-key");
        assert_eq!(claims["sub"], "svc@acme.com");
        assert_eq!(claims["aud"], "https://login.salesforce.com");
        assert_eq!(claims["exp"], 1_767_225_600 + 180);
        assert!(!parts.next().unwrap().is_empty());
    }
}
