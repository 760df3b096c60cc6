//! Progress for people: an indicatif bar when stderr is a terminal, otherwise
//! an INFO line every so often (cron logs get a heartbeat, not a bar's escape codes).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::info;

/// How often the non-terminal form logs.
const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    last_log: Instant,
}

/// Counts shown on the bar and in log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub created: u64,
    pub collisions: u64,
    pub failed: u64,
    /// Items settled in any way (including not_attempted).
    pub done: u64,
}

impl Progress {
    /// A bar only when stderr is a terminal and there is something to show.
    pub fn new(total: u64) -> Progress {
        let bar = (std::io::stderr().is_terminal() && total > 0).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} users  {msg}  {per_sec}  ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            total,
            last_log: Instant::now(),
        }
    }

    /// Never draws, never logs (benchmarks, tests).
    pub fn hidden() -> Progress {
        Progress {
            bar: Some(ProgressBar::hidden()),
            total: 0,
            last_log: Instant::now(),
        }
    }

    pub fn update(&mut self, t: Tally) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(t.done);
                bar.set_message(format!(
                    "created {}  collisions {}  failed {}",
                    t.created, t.collisions, t.failed
                ));
            }
            None if self.last_log.elapsed() >= LOG_EVERY => {
                self.last_log = Instant::now();
                info!(
                    created = t.created,
                    collisions = t.collisions,
                    failed = t.failed,
                    done = t.done,
                    total = self.total,
                    "Creating users."
                );
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
