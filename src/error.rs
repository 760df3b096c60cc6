//! The top-level error. It knows its exit code; `main` only asks.

use crate::job::{JobError, PreflightError, SecretError};
use crate::source::SourceError;

/// SPEC's exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FATAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NEEDS_PERSON: u8 = 3;
    pub const SAFETY_LIMIT: u8 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Job file problems, all of them, one per line.
    #[error("{0}")]
    Job(#[from] JobError),
    #[error("{0}")]
    Secret(#[from] SecretError),
    /// Secrets and files a job names that are missing, all of them.
    #[error("{0}")]
    Preflight(#[from] PreflightError),
    #[error("{0}")]
    Source(#[from] SourceError),
    /// Usage problems found before anything was contacted.
    #[error("{0}")]
    Usage(String),
    /// Could not run, or stopped part way (not a limit).
    #[error("{0}")]
    Fatal(String),
    /// Stopped by a safety limit before or during writes.
    #[error("{0}")]
    SafetyLimit(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Job(_) | Error::Secret(_) | Error::Preflight(_) | Error::Usage(_) => exit::USAGE,
            Error::Source(SourceError::Unusable(_)) => exit::USAGE,
            Error::Source(SourceError::Fatal(_)) | Error::Fatal(_) => exit::FATAL,
            Error::SafetyLimit(_) => exit::SAFETY_LIMIT,
        }
    }
}
