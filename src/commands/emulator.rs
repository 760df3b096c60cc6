//! `sfsync emulator`: serve a local Salesforce org until SIGINT/SIGTERM.
//!
//! Prints the base URL as the first line on stdout (scripts read it to find
//! a port picked with `--listen 127.0.0.1:0`) and, with `--tls`, the path of
//! the CA certificate file as the second, then serves; on shutdown writes
//! `--save` if given.

use std::io::Write;
use std::sync::Arc;

use crate::cli::EmulatorArgs;
use crate::emulator::{Org, OrgConfig, listen_url, serve_with_tls, tls};
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
        let mut ca_file = None;
        let tls_config = if args.tls {
            let extra: Vec<String> = cfg
                .public_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
                .into_iter()
                .collect();
            let made = tls::generate(&extra).map_err(|e| Error::Fatal(format!("emulator: {e}")))?;
            let path = args.tls_ca_file.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("sfsync-emulator-ca-{}.pem", addr.port()))
            });
            std::fs::write(&path, &made.ca_pem).map_err(|e| {
                Error::Fatal(format!(
                    "emulator: cannot write the CA certificate to {}: {e}",
                    path.display()
                ))
            })?;
            ca_file = Some(path);
            Some(made.config)
        } else if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            Some(tls::from_pem_files(cert, key).map_err(Error::Usage)?)
        } else {
            None
        };
        let url = listen_url(addr, tls_config.is_some(), cfg.public_url.as_deref());
        let shutdown = Shutdown::install();
        let org = Arc::new(Org::new(cfg));
        {
            let mut out = std::io::stdout().lock();
            // A closed stdout is not a reason to stop serving.
            let _ = writeln!(out, "{url}");
            if let Some(p) = &ca_file {
                let _ = writeln!(out, "{}", p.display());
            }
            let _ = out.flush();
        }
        match &ca_file {
            Some(p) => tracing::info!(url = %url, ca_file = %p.display(), users = org.user_count(), "Emulator listening (HTTPS; trust the CA file)."),
            None => tracing::info!(url = %url, users = org.user_count(), "Emulator listening."),
        }
        serve_with_tls(listener, org.clone(), shutdown.wait(), tls_config)
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

/// SIGINT and SIGTERM listeners, registered when made: a signal that
/// arrives after the URL is printed (the moment a script may send one) is
/// never lost to the default action.
struct Shutdown {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Shutdown {
    /// Registers both handlers now; where that fails, falls back to Ctrl-C
    /// registered on first poll.
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => Some((term, int)),
                _ => None,
            };
            Shutdown { streams }
        }
        #[cfg(not(unix))]
        {
            Shutdown {}
        }
    }

    /// Resolves on the first SIGINT or SIGTERM.
    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.streams {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
