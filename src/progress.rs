//! Progress for the reads (the source, the org's users): a spinner with the
//! records read, pages and rate when stderr is a terminal, nothing at all
//! otherwise (cron and pipes get log lines only). The writes have their own
//! bar in `execute::progress`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One read's spinner. Dropping it clears the line.
pub struct ReadProgress {
    bar: Option<ProgressBar>,
}

impl ReadProgress {
    /// Starts a spinner labelled `what` (e.g. "Reading Salesforce") that
    /// counts records and pages, only on a terminal.
    pub fn start(what: &str) -> ReadProgress {
        Self::with_template(
            what,
            "{spinner} {prefix}: {pos} records  {msg}  {per_sec}  {elapsed}",
        )
    }

    /// A spinner with the time taken only, for a read that reports no pages.
    pub fn waiting(what: &str) -> ReadProgress {
        Self::with_template(what, "{spinner} {prefix}...  {elapsed}")
    }

    fn with_template(what: &str, template: &str) -> ReadProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        ReadProgress { bar }
    }

    /// A page of `records` arrived; `pages` is the count so far.
    pub fn page(&self, records: u64, pages: u64) {
        if let Some(bar) = &self.bar {
            // The count first: `set_message` draws, and its frame should show
            // this page's records beside this page's number.
            bar.inc(records);
            bar.set_message(format!("{pages} page{}", if pages == 1 { "" } else { "s" }));
        }
    }
}

impl Drop for ReadProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
