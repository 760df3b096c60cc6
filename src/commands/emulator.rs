//! TEMPORARY stand-in (replaced by the emulator branch).
use crate::cli::EmulatorArgs;
use crate::error::Error;

pub fn run(_args: EmulatorArgs) -> Result<u8, Error> {
    Err(Error::Usage("`sfsync emulator` is not built yet".into()))
}
