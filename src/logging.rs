//! Log set-up: `tracing` to stderr, human lines or JSON, levels from -q/-v.
//!
//! Dependencies stay at WARN whatever the verbosity: their debug and trace
//! output (HTTP/2 frames, TLS) can carry headers, and a token must never
//! reach a log line. Our own HTTP traces redact what they print.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

pub fn init(format: LogFormat, quiet: u8, verbose: u8) {
    let ours = match (quiet, verbose) {
        (q, _) if q >= 2 => "error",
        (1, _) => "warn",
        (_, 0) => "info",
        (_, 1) => "debug",
        _ => "trace",
    };
    let deps = if quiet >= 2 { "error" } else { "warn" };
    let filter = EnvFilter::new(format!("{deps},sfsync={ours}"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    // A second init (tests, the demo) keeps the first subscriber.
    let _ = result;
}
