//! `sfsync demo`: the zero-setup tour. Starts the emulator in-process with
//! the sample org, syncs `jobs/demo.toml` into it and prints the report.
//!
//! The job and samples come from the working directory when it is a
//! checkout (so edits to `samples/` show), else from copies built into the
//! binary, unpacked to a temp folder, so the demo runs from anywhere.

use std::path::{Path, PathBuf};

use super::run::{self, RunRequest};
use crate::cli::{EmulatorArgs, ReportFormat};
use crate::error::Error;

/// (path relative to the checkout, contents) of everything the demo reads.
const BUNDLE: [(&str, &str); 10] = [
    ("jobs/demo.toml", include_str!("../../jobs/demo.toml")),
    (
        "jobs/demo-credentials/client-id",
        include_str!("../../jobs/demo-credentials/client-id"),
    ),
    (
        "jobs/demo-credentials/client-secret",
        include_str!("../../jobs/demo-credentials/client-secret"),
    ),
    (
        "jobs/demo-credentials/username",
        include_str!("../../jobs/demo-credentials/username"),
    ),
    (
        "jobs/demo-credentials/password",
        include_str!("../../jobs/demo-credentials/password"),
    ),
    (
        "samples/people.csv",
        include_str!("../../samples/people.csv"),
    ),
    (
        "samples/salesforce-users.csv",
        include_str!("../../samples/salesforce-users.csv"),
    ),
    (
        "samples/foreign-usernames.txt",
        include_str!("../../samples/foreign-usernames.txt"),
    ),
    (
        "samples/salesforce-access.toml",
        include_str!("../../samples/salesforce-access.toml"),
    ),
    ("samples/README.md", include_str!("../../samples/README.md")),
];

pub fn run() -> Result<u8, Error> {
    let scratch = tempfile::tempdir()
        .map_err(|e| Error::Fatal(format!("cannot create a temp folder: {e}")))?;
    let root = if Path::new("jobs/demo.toml").is_file() && Path::new("samples/people.csv").is_file()
    {
        PathBuf::from(".")
    } else {
        for (rel, text) in BUNDLE {
            let path = scratch.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("bundle paths have a folder"))
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|e| {
                    Error::Fatal(format!("cannot unpack the demo to {}: {e}", path.display()))
                })?;
        }
        scratch.path().to_path_buf()
    };
    let mut job = crate::job::load(&root.join("jobs/demo.toml"))?;
    // The demo's lock and state live and die with it.
    job.safety.state_dir = scratch.path().join("state");
    let out_dir = PathBuf::from("sfsync-demo");
    let report_path = out_dir.join("report.json");

    super::runtime()?.block_on(async {
        let args = EmulatorArgs {
            users: Some(root.join("samples/salesforce-users.csv")),
            foreign_usernames: Some(root.join("samples/foreign-usernames.txt")),
            access: Some(root.join("samples/salesforce-access.toml")),
            ..emulator_defaults()
        };
        let cfg = crate::emulator::OrgConfig::from_args(&args)?;
        let emu = crate::emulator::start(cfg)
            .await
            .map_err(|e| Error::Fatal(format!("cannot start the emulator: {e}")))?;
        job.salesforce.instance_url = emu.base_url.clone();
        job.salesforce.login_url = emu.base_url.clone();
        super::print_stdout(&format!(
            "Emulator with the sample org (samples/salesforce-users.csv) at {}\nSyncing samples/people.csv into it with jobs/demo.toml...\n\n",
            emu.base_url
        ))?;

        let html = out_dir.join("report.html");
        let req = RunRequest {
            report: Some(report_path.clone()),
            format: Some(ReportFormat::Json),
            print_table: true,
            extra_reports: vec![(html.clone(), ReportFormat::Html)],
            ..RunRequest::default()
        };
        let (_tx, cancel) = tokio::sync::watch::channel(0u8);
        let result = run::run(&job, &req, cancel).await?;
        super::print_stdout(&format!(
            "\nFull report: {} (JSON) and {} (open in a browser).\n\
             A real run would exit {} here: the sample has records that need a person, on purpose.\n{}",
            report_path.display(),
            html.display(),
            result.exit_code,
            next_steps(&root)
        ))?;
        let _ = emu.stop().await;
        Ok(crate::error::exit::OK)
    })
}

/// The demo's last words: the commands that run the same job by hand, exactly
/// as they work from the checkout (the emulator's default address is the one
/// `jobs/demo.toml` names). Outside a checkout there are no files to name.
pub fn next_steps(root: &Path) -> String {
    if root != Path::new(".") {
        return "Next: clone the repository and read README.md; `sfsync demo` run from the checkout prints the commands to try.\n".to_owned();
    }
    format!(
        "Next: the same job by hand, against a standalone emulator seeded with the sample org.\n\
         Install sfsync first (`{INSTALL}`), then in one terminal:\n\
         \x20 {EMULATOR_HINT}\n\
         and in another:\n\
         \x20 {PLAN_HINT}\n"
    )
}

/// README's install line.
pub const INSTALL: &str = "cargo install --locked --path .";
/// The emulator half of the demo's hint (run from the checkout).
pub const EMULATOR_HINT: &str = "sfsync emulator --users samples/salesforce-users.csv --foreign-usernames samples/foreign-usernames.txt --access samples/salesforce-access.toml";
/// The plan half of the demo's hint (run from the checkout).
pub const PLAN_HINT: &str = "sfsync plan --job jobs/demo.toml";

fn emulator_defaults() -> EmulatorArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        args: EmulatorArgs,
    }
    Only::parse_from(["emulator"]).args
}
