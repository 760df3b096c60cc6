//! TEMPORARY stand-in for the emulator API (replaced by the emulator branch).
#![allow(clippy::unused_async)]

use crate::cli::EmulatorArgs;
use crate::error::Error;

pub struct OrgConfig;
impl OrgConfig {
    pub fn from_args(_a: &EmulatorArgs) -> Result<OrgConfig, Error> {
        Ok(OrgConfig)
    }
}
pub struct RunningEmulator {
    pub base_url: String,
}
impl RunningEmulator {
    pub async fn stop(self) {}
}
pub async fn start(_c: OrgConfig) -> std::io::Result<RunningEmulator> {
    Err(std::io::Error::other("stub"))
}
