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
    let job = crate::job::load(&args.job)?;
    let mut req = RunRequest::from_args(args, dry_run);
    req.max_creates = max_creates;
    req.results_dir = results_dir;
    super::runtime()?.block_on(async {
        let cancel = super::interrupt_signal();
        run::run(&job, &req, cancel).await.map(|r| r.exit_code)
    })
}
