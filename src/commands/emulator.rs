//! `sfsync emulator`: serve a local Salesforce org until SIGINT/SIGTERM.
//!
//! Prints the base URL as the first line on stdout (scripts read it to find
//! a port picked with `--listen 127.0.0.1:0`), then serves; on shutdown
//! writes `--save` if given.

use std::io::Write;
use std::sync::Arc;

use crate::cli::EmulatorArgs;
use crate::emulator::{Org, OrgConfig, serve};
use crate::error::{Error, exit};

/// Runs the emulator subcommand on its own tokio runtime.
pub fn run(args: EmulatorArgs) -> Result<u8, Error> {
    let cfg = OrgConfig::from_args(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Fatal(format!("could not start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Error::Fatal(format!("emulator: cannot listen on {}: {e}", args.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Fatal(format!("emulator: {e}")))?;
        let org = Arc::new(Org::new(cfg));
        {
            let mut out = std::io::stdout().lock();
            // A closed stdout is not a reason to stop serving.
            let _ = writeln!(out, "http://{addr}");
            let _ = out.flush();
        }
        tracing::info!(url = %format!("http://{addr}"), users = org.user_count(), "Emulator listening.");
        serve(listener, org.clone(), shutdown_signal())
            .await
            .map_err(|e| Error::Fatal(format!("emulator: {e}")))?;
        let c = org.counters();
        tracing::info!(api_calls = c.api_calls, users_created = c.users_created, "Emulator stopped.");
        if let Some(path) = &args.save {
            org.save_csv(path)
                .map_err(|e| Error::Fatal(format!("emulator: cannot write --save {}: {e}", path.display())))?;
            tracing::info!(path = %path.display(), users = org.user_count(), "Org saved.");
        }
        Ok(exit::OK)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
