//! Writing reports and other result files atomically: a temp file in the
//! same folder, flushed and synced, then renamed over the target. A crash
//! leaves either the old file or the new one, never half of one.

use std::io::{self, BufWriter, Write};
use std::path::Path;

pub fn atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".sfsync-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    {
        let mut w = BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        fill(&mut w)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Checks, before a run contacts anything, that [`atomic`] will be able to
/// write `path`: it is not a folder, its folder exists (made if missing) and
/// a temp file can be made there (made and removed at once).
///
/// # Errors
/// A sentence naming the problem (the caller names the flag and the path).
pub fn check_file_target(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("it is a folder; give a file name".into());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    check_folder_target(dir)
}

/// Checks that `dir` is (or can be made) a folder where files can be written.
///
/// # Errors
/// A sentence naming the problem.
pub fn check_folder_target(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".sfsync-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_not_a_report_file_and_probes_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_file_target(dir.path()).unwrap_err();
        assert!(err.contains("is a folder"), "{err}");
        check_file_target(&dir.path().join("new/report.json")).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("new")).unwrap().count(),
            0
        );
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let err = check_folder_target(&dir.path().join("file")).unwrap_err();
        assert!(err.contains("is not a folder"), "{err}");
    }

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        atomic(&path, |w| w.write_all(b"old")).unwrap();
        let err = atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
