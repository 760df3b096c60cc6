//! Thin entry point: parse, set up logging, run, map to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sfsync::cli::Cli::parse();
    sfsync::logging::init(cli.log_format, cli.quiet, cli.verbose);
    // Before any secret is read: a core file would hold them all.
    if let Err(e) = sfsync::harden::disable_core_dumps() {
        tracing::warn!(error = %e, "Could not turn core dumps off.");
    }
    match sfsync::commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
