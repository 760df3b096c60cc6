//! Per-job files beside the lock: the run lock and the small state file
//! remembering the last successful run (for the shrink guard and metrics).
//!
//! The lock is an OS file lock (flock semantics via `File::try_lock`): the
//! kernel releases it when the process dies, so there is never a stale
//! lock to clean up.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Held for the whole run; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

impl RunLock {
    /// Takes `<state_dir>/<job>.lock` or fails naming the holder's pid.
    pub fn acquire(state_dir: &Path, job: &str) -> Result<RunLock, Error> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            Error::Fatal(format!(
                "cannot create the state folder {}: {e}",
                state_dir.display()
            ))
        })?;
        let path = state_dir.join(format!("{}.lock", file_stem(job)));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                Error::Fatal(format!("cannot open the lock file {}: {e}", path.display()))
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "unknown" } else { holder };
                return Err(Error::Fatal(format!(
                    "job \"{job}\" is already running: the lock file {} is held by pid {holder}",
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::Fatal(format!("cannot lock {}: {e}", path.display())));
            }
        }
        // Record who holds it, for the message a second run prints.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(RunLock { _file: file, path })
    }
}

/// What the last successful run left behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    pub last_source_records: Option<u64>,
    /// Unix seconds of the last run that finished (exit 0 or 3).
    pub last_success_unix: Option<i64>,
}

pub fn state_path(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join(format!("{}.state.json", file_stem(job)))
}

/// Reads the state; a missing or unreadable file is a first run.
pub fn load_state(state_dir: &Path, job: &str) -> JobState {
    std::fs::read(state_path(state_dir, job))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn save_state(state_dir: &Path, job: &str, state: &JobState) -> std::io::Result<()> {
    crate::report::write::atomic(&state_path(state_dir, job), |w| {
        serde_json::to_writer_pretty(&mut *w, state)?;
        Ok(())
    })
}

/// A job name made safe as a file name.
fn file_stem(job: &str) -> String {
    job.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_job_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), "nightly sync").unwrap();
        let err = RunLock::acquire(dir.path(), "nightly sync")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("already running") && err.contains(&std::process::id().to_string()),
            "{err}"
        );
        assert!(err.contains("nightly_sync.lock"), "{err}");
        drop(first);
        RunLock::acquire(dir.path(), "nightly sync").expect("released on drop");
    }

    #[test]
    fn state_round_trips_and_missing_is_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_state(dir.path(), "j"), JobState::default());
        let s = JobState {
            last_source_records: Some(42),
            last_success_unix: Some(1),
        };
        save_state(dir.path(), "j", &s).unwrap();
        assert_eq!(load_state(dir.path(), "j"), s);
    }
}
