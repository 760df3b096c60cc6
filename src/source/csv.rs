//! CSV source: a header row names the attributes, each row is a person.
//!
//! A row that cannot be read cleanly (ragged, invalid UTF-8) still becomes a
//! record, with a `problem`, so the person shows up as `invalid` with its
//! `FILE:LINE` instead of vanishing. Only a missing file or a missing header
//! stops the run.

use std::collections::HashSet;

use super::{RecordBuilder, SourceError, SourceRecord};
use crate::job::CsvSource;

/// Reads the whole file. `attributes` are the job's (lower-case) attribute
/// names; `only`, when not empty, keeps the rows whose `only_attr` value is
/// one of those addresses (case-insensitive).
pub fn read(
    cfg: &CsvSource,
    attributes: &[String],
    only: &[String],
    only_attr: Option<usize>,
) -> Result<Vec<SourceRecord>, SourceError> {
    // Read whole: the csv crate places a record that follows blank lines at
    // the first blank line, and the bytes let us find the real starting line.
    let data = std::fs::read(&cfg.path).map_err(|e| {
        SourceError::Unusable(format!("cannot open CSV file {}: {e}", cfg.path.display()))
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(cfg.delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(&data[..]);
    let headers = reader.byte_headers().map_err(|e| {
        SourceError::Unusable(format!(
            "cannot read the header of {}: {e}",
            cfg.path.display()
        ))
    })?;
    let headers: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase()
        })
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(SourceError::Unusable(format!(
            "{} has no header row; the first line must name the columns (e.g. uid,givenName,sn,mail)",
            cfg.path.display()
        )));
    }
    // For each job attribute, the column that holds it.
    let columns: Vec<Option<usize>> = attributes
        .iter()
        .map(|a| headers.iter().position(|h| h == a))
        .collect();
    let absent: Vec<&str> = attributes
        .iter()
        .zip(&columns)
        .filter(|(_, c)| c.is_none())
        .map(|(a, _)| a.as_str())
        .collect();
    if !absent.is_empty() {
        tracing::warn!(file = %cfg.path.display(), columns = ?absent, "The CSV header lacks columns the mapping uses; those values are empty.");
    }
    let only: HashSet<String> = only.iter().map(|m| m.trim().to_lowercase()).collect();

    let mut records = Vec::new();
    let mut row = csv::ByteRecord::new();
    let mut builder = RecordBuilder::default();
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(SourceError::Fatal(format!(
                    "reading {} stopped: {e}",
                    cfg.path.display()
                )));
            }
        }
        let line = row.position().map_or(0, |p| {
            let skipped = data[p.byte() as usize..]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .filter(|&&b| b == b'\n')
                .count();
            p.line() + skipped as u64
        });
        if row.len() == 1 && row.get(0).is_some_and(<[u8]>::is_empty) {
            continue; // a blank line is not a person
        }
        let mut problem = None;
        if row.len() != headers.len() {
            problem = Some(format!(
                "row has {} fields, the header has {}",
                row.len(),
                headers.len()
            ));
        }
        builder.start("");
        for (col, attr) in columns.iter().zip(attributes) {
            let value = col.and_then(|c| row.get(c)).and_then(|raw| {
                std::str::from_utf8(raw).map(str::trim).ok().or_else(|| {
                    problem.get_or_insert_with(|| format!("column {attr} is not valid UTF-8"));
                    None
                })
            });
            builder.push(value);
        }
        let record = builder.finish(
            u32::try_from(line).unwrap_or(u32::MAX),
            problem.map(Into::into),
            None,
        );
        if !only.is_empty() {
            let wanted = only_attr
                .and_then(|a| record.value(a))
                .is_some_and(|v| only.contains(&v.to_lowercase()));
            if !wanted {
                continue;
            }
        }
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &[u8], attrs: &[&str]) -> Result<Vec<SourceRecord>, SourceError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        std::fs::write(&path, text).unwrap();
        let cfg = CsvSource {
            path,
            display: "people.csv".into(),
            delimiter: b',',
        };
        let attrs: Vec<String> = attrs.iter().map(|s| s.to_string()).collect();
        read(&cfg, &attrs, &[], None)
    }

    fn vals(r: &SourceRecord) -> Vec<Option<&str>> {
        r.values().collect()
    }

    #[test]
    fn bom_quotes_embedded_newlines_and_case_insensitive_headers() {
        let text = "\u{feff}uid,Mail,sn\nada,\"Ada@Example.com\",\"Love,\nlace\"\nbob, bob@example.com ,Ng\n";
        let recs = read_text(text.as_bytes(), &["mail", "sn", "uid"]).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            vals(&recs[0]),
            [Some("Ada@Example.com"), Some("Love,\nlace"), Some("ada")]
        );
        assert_eq!(recs[0].origin_text("people.csv"), "people.csv:2");
        assert_eq!(
            vals(&recs[1]),
            [Some("bob@example.com"), Some("Ng"), Some("bob")]
        );
        assert_eq!(
            recs[1].origin_text("people.csv"),
            "people.csv:4",
            "the line a record starts on"
        );
    }

    #[test]
    fn ragged_and_non_utf8_rows_become_records_with_a_problem() {
        let mut text = b"uid,mail\nada,ada@example.com,extra\n".to_vec();
        text.extend_from_slice(b"b\xffb,bob@example.com\n\ncy,cy@example.com\n");
        let recs = read_text(&text, &["uid", "mail"]).unwrap();
        assert_eq!(recs.len(), 3, "blank lines are skipped, bad rows are kept");
        assert_eq!(
            recs[0].problem.as_deref(),
            Some("row has 3 fields, the header has 2")
        );
        assert_eq!(
            recs[1].problem.as_deref(),
            Some("column uid is not valid UTF-8")
        );
        assert_eq!(recs[2].problem, None);
        assert_eq!(recs[2].origin(), crate::source::Origin::Line(5));
    }

    #[test]
    fn missing_file_and_missing_header_are_usage_errors_naming_the_path() {
        let cfg = CsvSource {
            path: "/nonexistent/people.csv".into(),
            display: "x".into(),
            delimiter: b',',
        };
        let e = read(&cfg, &[], &[], None).unwrap_err();
        assert!(
            matches!(&e, SourceError::Unusable(m) if m.contains("/nonexistent/people.csv")),
            "{e}"
        );
        let e = read_text(b"", &["mail"]).unwrap_err();
        assert!(e.to_string().contains("has no header row"), "{e}");
    }

    #[test]
    fn only_keeps_the_named_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, "mail\na@example.com\nB@Example.com\nc@example.com\n").unwrap();
        let cfg = CsvSource {
            path,
            display: "p.csv".into(),
            delimiter: b',',
        };
        let recs = read(&cfg, &["mail".into()], &["b@example.COM".into()], Some(0)).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].value(0), Some("B@Example.com"));
    }
}
