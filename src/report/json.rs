//! JSON: the reference form of the report (SPEC's shape, `report_version` 1).

use std::io::{self, Write};

use super::Report;

pub fn render(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
