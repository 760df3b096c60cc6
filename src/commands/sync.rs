//! `sfsync plan` and `sfsync sync`: load the job, run the pipeline, exit code.

use std::path::PathBuf;

use super::run::{self, RunRequest};
use crate::cli::RunArgs;
use crate::error::Error;

pub fn run(
    args: &RunArgs,
    dry_run: bool,
    max_creates: Option<u64>,
    results_dir: Option<PathBuf>,
) -> Result<u8, Error> {
    let mut job = crate::job::load(&args.job)?;
    if let Some(url) = &args.instance_url {
        crate::job::preflight::override_instance_url(&mut job, url)?;
    }
    // Every missing secret and file at once, before the lock or the network.
    crate::job::preflight::check_local(&job)?;
    let mut req = RunRequest::from_args(args, dry_run);
    req.max_creates = max_creates;
    req.results_dir = results_dir;
    super::runtime()?.block_on(async {
        let cancel = super::interrupt_signal();
        run::run(&job, &req, cancel).await.map(|r| r.exit_code)
    })
}
