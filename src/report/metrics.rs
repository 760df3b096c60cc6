//! `--metrics-file`: the run's figures in the Prometheus text exposition
//! format, for node_exporter's textfile collector. Pure rendering.

use std::fmt::Write as _;

use super::{Outcome, Report};

/// Figures besides the report that a run knows at its end.
#[derive(Debug, Clone, Copy)]
pub struct RunMetrics {
    pub exit_code: u8,
    pub duration_seconds: f64,
    /// Unix seconds of the last successful run (this one, if it succeeded).
    pub last_success_unix: Option<i64>,
}

pub fn render(report: Option<&Report<'_>>, job: &str, m: RunMetrics) -> String {
    let job = job
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP sfsync_{name} {help}");
        let _ = writeln!(out, "# TYPE sfsync_{name} gauge");
        for (labels, v) in samples {
            let _ = writeln!(out, "sfsync_{name}{{job=\"{job}\"{labels}}} {v}");
        }
    };
    gauge(
        "exit_code",
        "Exit code of the last run (0 ok, 3 needs a person, 4 safety limit, 1 fatal).",
        &[(String::new(), f64::from(m.exit_code))],
    );
    gauge(
        "run_duration_seconds",
        "Wall time of the last run.",
        &[(String::new(), m.duration_seconds)],
    );
    if let Some(t) = m.last_success_unix {
        gauge(
            "last_success_timestamp_seconds",
            "Unix time of the last run that finished (exit 0 or 3).",
            &[(String::new(), t as f64)],
        );
    }
    if let Some(r) = report {
        let outcomes: Vec<(String, f64)> = Outcome::ALL
            .iter()
            .map(|o| {
                (
                    format!(",outcome=\"{}\"", o.as_str()),
                    r.summary.count(*o) as f64,
                )
            })
            .collect();
        gauge(
            "records",
            "Source records by outcome in the last run.",
            &outcomes,
        );
        gauge(
            "source_records",
            "Records read from the source.",
            &[(String::new(), r.summary.source_records as f64)],
        );
        gauge(
            "salesforce_users",
            "Users read from Salesforce.",
            &[(String::new(), r.summary.salesforce_users as f64)],
        );
        gauge(
            "api_calls",
            "HTTP requests made to Salesforce, token calls included.",
            &[(String::new(), r.summary.api_calls as f64)],
        );
        if let Some(left) = r.context.api_remaining {
            gauge(
                "api_remaining",
                "Daily API calls left in the org after the run.",
                &[(String::new(), left as f64)],
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_job_label_and_outcomes() {
        let text = render(
            None,
            "night\"ly",
            RunMetrics {
                exit_code: 4,
                duration_seconds: 1.5,
                last_success_unix: Some(10),
            },
        );
        assert!(
            text.contains(
                "# TYPE sfsync_exit_code gauge\nsfsync_exit_code{job=\"night\\\"ly\"} 4\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("sfsync_last_success_timestamp_seconds{job=\"night\\\"ly\"} 10\n"),
            "{text}"
        );
        assert!(
            !text.contains("sfsync_records"),
            "no outcome figures without a report"
        );
    }
}
