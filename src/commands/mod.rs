//! One module per subcommand: where I/O is wired together.

pub mod emulator;

use crate::cli::{Cli, Command};
use crate::error::Error;

/// Runs a parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    let name = match cli.command {
        Command::Emulator(args) => return emulator::run(args),
        Command::Plan(_) => "plan",
        Command::Sync(_) => "sync",
        Command::Check(_) => "check",
        Command::Demo(_) => "demo",
    };
    Err(Error::Usage(format!("`sfsync {name}` is not built yet")))
}
