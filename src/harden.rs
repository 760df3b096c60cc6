//! Process-wide hardening done once at start, before any secret is read.

/// Marks the process not dumpable (`PR_SET_DUMPABLE` 0): no core file is
/// written if it crashes, and other processes of the same user cannot
/// ptrace it or read its memory through `/proc`. A core file of sfsync would
/// hold the OAuth secrets, the LDAP bind password and the staff list.
///
/// Through rustix's safe wrapper (the crate forbids `unsafe`). On systems
/// without `prctl` this does nothing.
///
/// # Errors
/// The `prctl` call's error (it cannot fail on Linux for this argument).
pub fn disable_core_dumps() -> std::io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_is_no_longer_dumpable() {
        super::disable_core_dumps().unwrap();
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }
}
