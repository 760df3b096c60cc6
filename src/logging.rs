//! Log set-up: `tracing` to stderr, human lines or JSON, levels from -q/-v.
//!
//! Dependencies stay at WARN whatever the verbosity: their debug and trace
//! output (HTTP/2 frames, TLS) can carry headers, and a token must never
//! reach a log line. Our own HTTP traces redact what they print.
//!
//! Text lines escape every control character in messages and field values
//! ([`crate::printable`]): an ESC cannot drive the operator's terminal, a CR
//! is shown as `\r`. A message's own line breaks (a job file's problems, one
//! per line) stay, but every continuation line is indented, so text after a
//! line break in a server's message can never pass for a log line. JSON
//! lines are escaped by JSON itself.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;

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
            .fmt_fields(escaped_fields())
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    // A second init (tests, the demo) keeps the first subscriber.
    let _ = result;
}

/// The text format's fields (`message key=value ...`) with control characters escaped.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static
{
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        if field.name() == "message" {
            write!(w, "{}", crate::printable::escape_log_message(&text))
        } else {
            write!(w, "{field}={}", crate::printable::escape_controls(&text))
        }
    })
    .delimited(" ")
}
