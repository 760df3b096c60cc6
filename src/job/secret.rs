//! Secrets: where they come from (`*_env` / `*_file` keys) and a value type that never prints.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

/// Where a secret is read from. Holds no secret itself, so it may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// Job-file key that named it, e.g. `salesforce.password_env`.
    pub key: String,
    pub from: SecretFrom,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFrom {
    Env(String),
    File(PathBuf),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.from {
            SecretFrom::Env(var) => write!(f, "environment variable {var} (from `{}`)", self.key),
            SecretFrom::File(path) => write!(f, "file {} (from `{}`)", path.display(), self.key),
        }
    }
}

/// Why a secret could not be read. Names the source, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{0} is not set")]
    Unset(SecretRef),
    #[error("{0} is empty")]
    Empty(SecretRef),
    #[error("{0} cannot be read: {1}")]
    Unreadable(SecretRef, std::io::Error),
}

impl SecretRef {
    /// Reads the secret now. A file's trailing newline is dropped (`echo x > file` is the norm).
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        let value = match &self.from {
            SecretFrom::Env(var) => {
                std::env::var(var).map_err(|_| SecretError::Unset(self.clone()))?
            }
            SecretFrom::File(path) => {
                warn_if_others_can_read(path, &self.key);
                std::fs::read_to_string(path)
                    .map_err(|e| SecretError::Unreadable(self.clone(), e))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned()
            }
        };
        if value.is_empty() {
            return Err(SecretError::Empty(self.clone()));
        }
        Ok(Secret(SecretString::from(value)))
    }
}

/// Warns (as ssh does for keys) when a secret file can be read by its group
/// or by everyone: another local user may already have it.
fn warn_if_others_can_read(path: &std::path::Path, key: &str) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return; // reading it names the problem
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o044 != 0 {
        tracing::warn!(
            file = %path.display(),
            key,
            mode = %format!("{mode:04o}"),
            "Secret file is readable by other users; run `chmod 600` on it."
        );
    }
}

/// A secret value. Debug shows `[redacted]`; there is no Display and no Serialize,
/// so it cannot reach a log line, a report or a panic message by accident.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The only way to the value: call it where the value leaves for the wire.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-distinctive");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(s)), "Some([redacted])");
    }

    #[test]
    fn file_secret_drops_trailing_newline_and_missing_env_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let r = SecretRef {
            key: "source.bind_password_file".into(),
            from: SecretFrom::File(path),
        };
        assert_eq!(r.resolve().unwrap().expose(), "s3cret");

        let r = SecretRef {
            key: "salesforce.password_env".into(),
            from: SecretFrom::Env("SFSYNC_TEST_SURELY_UNSET_VAR".into()),
        };
        let msg = r.resolve().unwrap_err().to_string();
        assert!(
            msg.contains("SFSYNC_TEST_SURELY_UNSET_VAR") && msg.contains("salesforce.password_env"),
            "{msg}"
        );
    }
}
