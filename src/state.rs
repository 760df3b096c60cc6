//! Per-job files beside the lock: the run lock and the small state file
//! remembering the last successful run (for the shrink guard and metrics).
//!
//! The lock is an OS file lock (flock semantics via `File::try_lock`): the
//! kernel releases it when the process dies, so there is never a stale
//! lock to clean up.
//!
//! sfsync often runs as root from cron, so the state folder is treated as
//! hostile ground: a folder writable by other users, or owned by another
//! user, is refused; the lock file is opened without following a symbolic
//! link (`O_NOFOLLOW`), must be a plain file of ours with one link, and is
//! only rewritten when it holds nothing but a pid. File names are the job
//! name percent-encoded, so two names never share a lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
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
    ///
    /// # Errors
    /// [`Error::Fatal`] naming the folder or file when the folder cannot be
    /// made or is unsafe (writable by others, owned by another user), the
    /// lock file is a symbolic link, not a plain file of ours, or has other
    /// links, or another run holds the lock.
    pub fn acquire(state_dir: &Path, job: &str) -> Result<RunLock, Error> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            Error::Fatal(format!(
                "cannot create the state folder {}: {e}",
                state_dir.display()
            ))
        })?;
        check_state_dir(state_dir)?;
        let path = state_dir.join(format!("{}.lock", file_stem(job)));
        let (mut file, created) = open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.take(32).read_to_string(&mut holder);
                let holder = crate::printable::escape_controls(holder.trim()).into_owned();
                let holder = if holder.is_empty() {
                    "unknown".to_owned()
                } else {
                    holder
                };
                return Err(Error::Fatal(format!(
                    "job \"{job}\" is already running: the lock file {} is held by pid {holder}",
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::Fatal(format!("cannot lock {}: {e}", path.display())));
            }
        }
        // Record who holds it, for the message a second run prints; only in
        // a file that holds nothing but an earlier pid (never truncate a
        // file sfsync did not write).
        let mut old = String::new();
        let ours = created
            || (file.read_to_string(&mut old).is_ok()
                && old.len() <= 20
                && old.trim().chars().all(|c| c.is_ascii_digit()));
        if ours {
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = write!(file, "{}", std::process::id());
            let _ = file.flush();
        }
        Ok(RunLock { _file: file, path })
    }
}

/// Refuses a state folder that another local user could plant files in:
/// writable by others (a folder shared with a group is the
/// admin's choice), or owned by someone other than this user or root.
fn check_state_dir(dir: &Path) -> Result<(), Error> {
    let meta = std::fs::metadata(dir).map_err(|e| {
        Error::Fatal(format!(
            "cannot read the state folder {}: {e}",
            dir.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(Error::Fatal(format!(
            "the state folder {} is not a folder",
            dir.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(Error::Fatal(format!(
            "refusing the state folder {}: it is writable by every user (mode {mode:04o}), so \
             anyone could plant a link there; run `chmod o-w {}` or set safety.state_dir \
             to a folder of this user",
            dir.display(),
            dir.display()
        )));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(Error::Fatal(format!(
            "refusing the state folder {}: it belongs to user id {}, not to this user ({me}) \
             or root; set safety.state_dir to a folder of this user",
            dir.display(),
            meta.uid()
        )));
    }
    Ok(())
}

/// Opens (or creates) the lock file without following a symbolic link.
/// Returns the file and whether this call created it.
fn open_lock_file(path: &Path) -> Result<(File, bool), Error> {
    let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
    let refuse =
        |why: String| Error::Fatal(format!("refusing the lock file {}: {why}", path.display()));
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(nofollow)
        .open(path);
    let (file, created) = match opened {
        Ok(f) => (f, true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(nofollow)
                .open(path)
                .map_err(|e| {
                    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                        refuse("it is a symbolic link (planted by someone?); remove it".into())
                    } else {
                        Error::Fatal(format!("cannot open the lock file {}: {e}", path.display()))
                    }
                })?;
            (f, false)
        }
        Err(e) => {
            return Err(Error::Fatal(format!(
                "cannot open the lock file {}: {e}",
                path.display()
            )));
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::Fatal(format!("cannot read the lock file {}: {e}", path.display())))?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_file() {
        return Err(refuse("it is not a plain file; remove it".into()));
    }
    if meta.nlink() != 1 {
        return Err(refuse(format!(
            "it has {} hard links (a link to another file?); remove it",
            meta.nlink()
        )));
    }
    if meta.uid() != me {
        return Err(refuse(format!(
            "it belongs to user id {}, not to this user ({me}); remove it",
            meta.uid()
        )));
    }
    Ok((file, created))
}

/// What the last successful run left behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    pub last_source_records: Option<u64>,
    /// Unix seconds of the last run that finished (exit 0 or 3).
    pub last_success_unix: Option<i64>,
    /// Usernames (lower case) Salesforce refused as held in another org
    /// (DUPLICATE_USERNAME) on any earlier run: later runs plan them as
    /// refused (`collision`, or the next fallback) without sending them
    /// again, so a person is reported the same way every night. Remove an
    /// entry to have sfsync try that username again.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub refused_usernames: std::collections::BTreeSet<String>,
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

/// A job name made safe as a file name, and injective: every byte outside
/// `[A-Za-z0-9._-]` is percent-encoded (`日本` -> `%E6%97%A5%E6%9C%AC`,
/// `a/b` -> `a%2Fb`), so two job names never share a lock or a state file.
/// A leading `.` is encoded too, so no name is hidden or means a folder.
pub fn file_stem(job: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(job.len());
    for (i, b) in job.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
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
        assert!(err.contains("nightly%20sync.lock"), "{err}");
        drop(first);
        RunLock::acquire(dir.path(), "nightly sync").expect("released on drop");
    }

    #[test]
    fn file_names_are_injective() {
        assert_eq!(file_stem("nightly-ldap_2"), "nightly-ldap_2");
        assert_eq!(file_stem("日本"), "%E6%97%A5%E6%9C%AC");
        assert_ne!(file_stem("日本"), file_stem("中国"));
        assert_ne!(file_stem("a b"), file_stem("a_b"));
        assert_eq!(file_stem("../x"), "%2E.%2Fx");
        assert_eq!(file_stem("a%20"), "a%2520");
    }

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("j.lock")).unwrap();
        let err = RunLock::acquire(dir.path(), "j").unwrap_err().to_string();
        assert!(
            err.contains("symbolic link") && err.contains("j.lock"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[test]
    fn a_file_that_is_not_a_pid_is_locked_but_never_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.lock");
        std::fs::write(&path, "not a pid, someone's data").unwrap();
        let lock = RunLock::acquire(dir.path(), "j").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "not a pid, someone's data"
        );
        drop(lock);
        let other = dir.path().join("k.lock");
        std::fs::write(&other, "12345").unwrap();
        let _lock = RunLock::acquire(dir.path(), "k").unwrap();
        assert_eq!(
            std::fs::read_to_string(&other).unwrap(),
            std::process::id().to_string()
        );
    }

    #[test]
    fn a_hard_link_to_another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        std::fs::hard_link(&target, dir.path().join("j.lock")).unwrap();
        let err = RunLock::acquire(dir.path(), "j").unwrap_err().to_string();
        assert!(err.contains("hard links"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[test]
    fn a_state_folder_writable_by_everyone_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = RunLock::acquire(&shared, "j").unwrap_err().to_string();
        assert!(
            err.contains("writable by every user") && err.contains("1777"),
            "{err}"
        );
        assert!(!shared.join("j.lock").exists());
    }

    #[test]
    fn state_round_trips_and_missing_is_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_state(dir.path(), "j"), JobState::default());
        let s = JobState {
            last_source_records: Some(42),
            last_success_unix: Some(1),
            refused_usernames: ["ada@example.com".to_owned()].into(),
        };
        save_state(dir.path(), "j", &s).unwrap();
        assert_eq!(load_state(dir.path(), "j"), s);
    }
}
