//! One module per subcommand: where I/O is wired together.

pub mod access;
pub mod check;
pub mod demo;
pub mod emulator;
pub mod run;
pub mod sync;

use tokio::sync::watch;

use crate::cli::{Cli, Command};
use crate::error::Error;

/// Runs a parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Plan(args) => sync::run(&args.run, true, None, None),
        Command::Sync(args) => {
            let dry = args.dry_run;
            sync::run(&args.run, dry, args.max_creates, args.results_dir.clone())
        }
        Command::Check(args) => check::run(&args),
        Command::Emulator(args) => emulator::run(args),
        Command::Demo(_) => demo::run(),
    }
}

/// Writes `text` to stdout. A closed pipe (`sfsync demo | head -1`) is not an
/// error: the reader has seen what it wanted (ripgrep's rule), so the rest is
/// dropped quietly. `println!` would panic there instead.
pub fn print_stdout(text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Fatal(format!("cannot write to stdout: {e}"))),
    }
}

/// The multi-threaded runtime every command runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Fatal(format!("cannot start the async runtime: {e}")))
}

/// Counts SIGINT and SIGTERM (saturating at 255): the first stops new calls
/// (the calls in flight finish, lost answers are checked, the report is
/// written); a second stops waiting for them too: writes still in flight or
/// unchecked are reported `unknown` and the report is written at once.
pub fn interrupt_signal() -> watch::Receiver<u8> {
    let (tx, rx) = watch::channel(0u8);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            {
                let term_recv = async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    () = term_recv => {}
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            // The flag first: once the line is out, no call starts (tests rely on it).
            tx.send_modify(|n| *n = n.saturating_add(1));
            if *tx.borrow() == 1 {
                tracing::warn!(
                    "Interrupted: finishing the calls in flight, then writing the report."
                );
            } else {
                tracing::warn!(
                    "Interrupted again: no longer waiting for the calls in flight; writes not confirmed are reported unknown."
                );
            }
        }
    });
    rx
}
