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
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    read_in_parts(cfg, attributes, only, only_attr, threads, MIN_PART)
}

/// The longest row read, in bytes of values (64 KiB): a person's row is a
/// few hundred bytes; a longer one is an unclosed quote swallowing the file.
pub const MAX_ROW_BYTES: usize = 64 << 10;

/// Below this many bytes per part, a thread costs more than it saves.
const MIN_PART: usize = 4 << 20;

fn read_in_parts(
    cfg: &CsvSource,
    attributes: &[String],
    only: &[String],
    only_attr: Option<usize>,
    threads: usize,
    min_part: usize,
) -> Result<Vec<SourceRecord>, SourceError> {
    // Read whole: the bytes give each record's real starting line and let
    // the parts be read at once.
    let data = std::fs::read(&cfg.path).map_err(|e| {
        SourceError::Unusable(format!("cannot open CSV file {}: {e}", cfg.path.display()))
    })?;
    // Record offsets and line numbers are 32-bit (a record is small, and
    // so are a million of them).
    if u32::try_from(data.len()).is_err() {
        return Err(SourceError::Unusable(format!(
            "{} is larger than 4 GiB; split it into smaller files",
            cfg.path.display()
        )));
    }
    let mut reader = reader(cfg, &data, true);
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
    let body = reader.position().byte() as usize;
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
    let rows = Rows {
        cfg,
        data: &data,
        attributes,
        columns,
        fields: headers.len(),
        only: only.iter().map(|m| m.trim().to_lowercase()).collect(),
        only_attr,
    };
    let parts = (data.len() - body) / min_part.max(1);
    rows.read_from(body, threads.min(parts).max(1))
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// How many `\r` and `\n` bytes `bytes` starts with.
fn line_breaks(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count()
}

fn reader<'d>(cfg: &CsvSource, data: &'d [u8], headers: bool) -> csv::Reader<&'d [u8]> {
    csv::ReaderBuilder::new()
        .delimiter(cfg.delimiter)
        .flexible(true)
        .has_headers(headers)
        .from_reader(data)
}

/// What turns the file's rows into records.
struct Rows<'a> {
    cfg: &'a CsvSource,
    data: &'a [u8],
    attributes: &'a [String],
    /// Per job attribute, its column.
    columns: Vec<Option<usize>>,
    /// Columns in the header.
    fields: usize,
    only: HashSet<String>,
    only_attr: Option<usize>,
}

/// One part of the file, read.
struct Part {
    records: Vec<SourceRecord>,
    /// Where each of `records` starts (past any line breaks before it).
    starts: Vec<usize>,
    /// Where the record that stopped the reading starts (`None`: the file
    /// ended first).
    stopped_at: Option<usize>,
}

impl Rows<'_> {
    /// Reads from `body` (the first byte after the header) to the end, in
    /// `threads` parts read at once.
    ///
    /// A part other than the first starts after a line break, on the guess
    /// that a record starts there (it does unless a quoted value spans the
    /// line). The part before it, known to be right, reads on past its end to
    /// the first record there. If that record is one the next part also found,
    /// both parsers stand at the start of the same record, so the next part is
    /// right from that record on. If not, one reader goes on from there until
    /// it reaches a record the next part found. So the result is always that of
    /// one reader going through the whole file.
    fn read_from(&self, body: usize, threads: usize) -> Result<Vec<SourceRecord>, SourceError> {
        let data = self.data;
        let mut cuts = vec![body];
        for k in 1..threads {
            let guess = body + (data.len() - body) * k / threads;
            let Some(nl) = data[guess..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let at = guess + nl + 1;
            if at > cuts[cuts.len() - 1] && at < data.len() {
                cuts.push(at);
            }
        }
        let end_of = |k: usize| cuts.get(k + 1).copied();
        if cuts.len() == 1 {
            return Ok(self.read_part(body, |_| false, 0)?.records);
        }
        let parts: Vec<Result<Part, SourceError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = cuts
                .iter()
                .enumerate()
                .map(|(k, &start)| {
                    let end = end_of(k);
                    // The first part's vector takes every record in the end:
                    // room for all (a line each at most) saves copying it.
                    let room = if k == 0 {
                        count_newlines(&data[start..]) + 1
                    } else {
                        0
                    };
                    scope.spawn(move || {
                        self.read_part(start, |first| end.is_some_and(|end| first >= end), room)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut parts = parts.into_iter().collect::<Result<Vec<Part>, _>>()?;

        let mut records = std::mem::take(&mut parts[0].records);
        let mut stopped = parts[0].stopped_at;
        // `at` is a record start known to be right, at or past part `k`'s cut.
        while let Some(at) = stopped {
            let k = cuts.iter().rposition(|&c| c <= at).unwrap_or(0);
            let part = &mut parts[k];
            if let Ok(i) = part.starts.binary_search(&at) {
                // The part found this record too: the rest of it is right.
                records.extend(part.records.drain(i..));
                stopped = part.stopped_at;
                continue;
            }
            // One reader from `at`, until a record this part found, or past it.
            let (starts, end) = (&part.starts, end_of(k));
            let again = self.read_part(
                at,
                |first| starts.binary_search(&first).is_ok() || end.is_some_and(|e| first >= e),
                0,
            )?;
            records.extend(again.records);
            stopped = again.stopped_at;
        }
        Ok(records)
    }

    /// Reads the records from `start` (where a record starts) until one whose
    /// start passes `stop`, or the end of the file; with room for `room`.
    fn read_part(
        &self,
        start: usize,
        stop: impl Fn(usize) -> bool,
        room: usize,
    ) -> Result<Part, SourceError> {
        let data = self.data;
        // Start on the line break before `start` (a fresh reader drops a
        // byte-order mark at its very start; one inside the file is data).
        let from = match start.checked_sub(1) {
            Some(b) if matches!(data[b], b'\r' | b'\n') => b,
            _ => start,
        };
        let mut reader = reader(self.cfg, &data[from..], false);
        // Line numbers count from the top of the file.
        let lines_before = count_newlines(&data[..from]) as u64;
        let mut part = Part {
            records: Vec::with_capacity(room),
            starts: Vec::with_capacity(room),
            stopped_at: None,
        };
        let mut row = csv::ByteRecord::new();
        let mut builder = RecordBuilder::default();
        loop {
            match reader.read_byte_record(&mut row) {
                Ok(false) => return Ok(part),
                Ok(true) => {}
                Err(e) => {
                    return Err(SourceError::Fatal(format!(
                        "reading {} stopped: {e}",
                        self.cfg.path.display()
                    )));
                }
            }
            // The csv crate places a record after blank lines at the first
            // of them: the record really starts past the line breaks.
            let (first, line) = row.position().map_or((from, 0), |p| {
                let at = from + p.byte() as usize;
                let breaks = line_breaks(&data[at..]);
                let newlines = count_newlines(&data[at..at + breaks]);
                (at + breaks, lines_before + p.line() + newlines as u64)
            });
            if first > start && stop(first) {
                part.stopped_at = Some(first);
                return Ok(part);
            }
            if row.as_slice().len() > MAX_ROW_BYTES {
                return Err(SourceError::Unusable(format!(
                    "{}:{line}: the row is longer than {} KiB (an unclosed quote, or not a CSV \
                     of people?); fix the file",
                    self.cfg.path.display(),
                    MAX_ROW_BYTES >> 10
                )));
            }
            if row.len() == 1 && row.get(0).is_some_and(<[u8]>::is_empty) {
                continue; // a blank line is not a person
            }
            // One UTF-8 check for the whole row; value by value only when it fails.
            let record;
            (record, row) = match csv::StringRecord::from_byte_record(std::mem::take(&mut row)) {
                Ok(text) => {
                    let get = |c| text.get(c).map(Ok);
                    (
                        self.record(text.len(), get, line, &mut builder),
                        text.into_byte_record(),
                    )
                }
                Err(bad) => {
                    let bytes = bad.into_byte_record();
                    let get = |c| bytes.get(c).map(std::str::from_utf8);
                    (self.record(bytes.len(), get, line, &mut builder), bytes)
                }
            };
            if let Some(record) = record {
                part.records.push(record);
                part.starts.push(first);
            }
        }
    }

    /// The record for one row of `fields` values, or `None` when `--only`
    /// leaves it out.
    fn record<'r>(
        &self,
        fields: usize,
        get: impl Fn(usize) -> Option<Result<&'r str, std::str::Utf8Error>>,
        line: u64,
        builder: &mut RecordBuilder,
    ) -> Option<SourceRecord> {
        let mut problem = None;
        if fields != self.fields {
            problem = Some(format!(
                "row has {fields} fields, the header has {}",
                self.fields
            ));
        }
        builder.start("");
        for (col, attr) in self.columns.iter().zip(self.attributes) {
            let value = match col.and_then(&get) {
                Some(Ok(v)) => Some(super::trim(v)),
                Some(Err(_)) => {
                    problem.get_or_insert_with(|| format!("column {attr} is not valid UTF-8"));
                    None
                }
                None => None,
            };
            builder.push(value);
        }
        let record = builder.finish(
            u32::try_from(line).expect("a file under 4 GiB has fewer lines"),
            problem.map(Into::into),
            None,
        );
        let wanted = self.only.is_empty()
            || self
                .only_attr
                .and_then(|a| record.value(a))
                .is_some_and(|v| self.only.contains(&v.to_lowercase()));
        wanted.then_some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &[u8], attrs: &[&str]) -> Result<Vec<SourceRecord>, SourceError> {
        read_in(text, attrs, 1)
    }

    /// `text` as a CSV file read in `threads` parts, however small.
    fn read_in(
        text: &[u8],
        attrs: &[&str],
        threads: usize,
    ) -> Result<Vec<SourceRecord>, SourceError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        std::fs::write(&path, text).unwrap();
        let cfg = CsvSource {
            path,
            display: "people.csv".into(),
            delimiter: b',',
        };
        let attrs: Vec<String> = attrs.iter().map(|s| s.to_string()).collect();
        read_in_parts(&cfg, &attrs, &[], None, threads, 1)
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
    fn a_row_past_the_cap_is_a_usage_error_naming_file_and_line() {
        let mut text = b"uid,mail\nada,ada@example.com\nbob,\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_ROW_BYTES + 1));
        text.extend(b"\"\n");
        let err = read_text(&text, &["uid", "mail"]).unwrap_err();
        assert!(matches!(err, SourceError::Unusable(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("people.csv:3") && msg.contains("64 KiB"),
            "{msg}"
        );
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

    fn read_parts(text: &[u8], threads: usize) -> Vec<SourceRecord> {
        read_in(text, &["uid", "mail"], threads).unwrap()
    }

    /// What one csv reader makes of the file, written plainly: per record
    /// its values, its line and its problem.
    type Plain = (Vec<Option<String>>, u32, Option<String>);

    fn read_plainly(text: &[u8]) -> Vec<Plain> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
        let width = reader.byte_headers().unwrap().len();
        let mut out = Vec::new();
        for row in reader.byte_records() {
            let row = row.unwrap();
            if row.len() == 1 && row[0].is_empty() {
                continue;
            }
            let p = row.position().unwrap();
            let rest = &text[p.byte() as usize..];
            let breaks = rest.iter().take_while(|b| matches!(b, b'\r' | b'\n'));
            let line = p.line() + breaks.filter(|&&b| b == b'\n').count() as u64;
            let mut problem = (row.len() != width)
                .then(|| format!("row has {} fields, the header has {width}", row.len()));
            let values = (0..2)
                .map(|c| match std::str::from_utf8(row.get(c)?) {
                    Ok(v) => Some(v.trim().to_owned()).filter(|v| !v.is_empty()),
                    Err(_) => {
                        let name = ["uid", "mail"][c];
                        problem.get_or_insert(format!("column {name} is not valid UTF-8"));
                        None
                    }
                })
                .collect();
            out.push((values, line as u32, problem));
        }
        out
    }

    fn plain(records: &[SourceRecord]) -> Vec<Plain> {
        records
            .iter()
            .map(|r| {
                let values = r.values().map(|v| v.map(str::to_owned)).collect();
                let crate::source::Origin::Line(line) = r.origin() else {
                    panic!("a CSV record without a line")
                };
                (values, line, r.problem.as_deref().map(str::to_owned))
            })
            .collect()
    }

    /// Rows a part boundary may fall into: quoted line breaks, blank lines,
    /// CRLF, a lone CR, ragged rows, bytes that are not UTF-8, a byte-order
    /// mark inside the file, an empty quoted value.
    const ROWS: [&[u8]; 12] = [
        b"ada,ada@example.com\n",
        b"bob,bob@example.com\r\n",
        b"\"c\ny\",\"cy@\nexample.com\"\n",
        b"\"d,\r\n\"\"x\"\"\",d@example.com\r\n",
        b"\n",
        b"\r\n\r\n",
        b"e,e@example.com,extra\n",
        b"f\xff,f@example.com\n",
        b"\"\n\n\",\"\n\"\n",
        b"\xef\xbb\xbfg,g@example.com\n",
        b"\"\"\n",
        b"h,h@example.com\r",
    ];

    proptest::proptest! {
        #[test]
        fn reading_in_parts_gives_what_one_plain_reader_gives(
            picks in proptest::collection::vec(0..ROWS.len(), 0..60),
            crlf_header in proptest::bool::ANY,
            last_break in proptest::bool::ANY,
            threads in 1usize..6,
        ) {
            let mut text = if crlf_header { b"uid,mail\r\n".to_vec() } else { b"uid,mail\n".to_vec() };
            for p in picks {
                text.extend_from_slice(ROWS[p]);
            }
            if !last_break {
                text.extend_from_slice(b"last,last@example.com");
            }
            proptest::prop_assert_eq!(plain(&read_parts(&text, threads)), read_plainly(&text));
        }
    }

    #[test]
    fn a_part_that_starts_inside_a_quoted_value_is_read_again() {
        // Every line break but the header's is inside one quoted value.
        let mut text = b"uid,mail\n\"".to_vec();
        text.extend(std::iter::repeat_n(b"x,y\n".as_slice(), 50).flatten());
        text.extend_from_slice(b"\",z@example.com\nlast,last@example.com\n");
        let recs = read_parts(&text, 4);
        assert_eq!(plain(&recs), read_plainly(&text));
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].origin(), crate::source::Origin::Line(53));
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
