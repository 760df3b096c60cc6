//! Data Loader style result files for the records a real run attempted.
//!
//! Salesforce admins know these from Data Loader and Bulk API 2.0:
//! `success.csv` has `sf__Id`, `sf__Created`, then the fields sent;
//! `error.csv` has `sf__Error` (`CODE:message:fields --`, or `CODE:message:--`
//! when no field applies, the shape Bulk API 2.0 writes), then the fields
//! sent. Both files share one set of field columns (every field any record
//! sent, in first-seen order), so a fixed `error.csv` can be loaded again
//! with the same mapping. Each file is written to a temporary file in the
//! target folder and renamed over the old one, so a reader never sees half
//! a file. Cells that a spreadsheet would run as a formula get a leading `'`
//! ([`super::csv::formula_safe`]).

use std::fs;
use std::io;
use std::path::Path;

use tempfile::NamedTempFile;

use super::Outcome;
use super::csv::formula_safe;

/// The file of records Salesforce accepted.
pub const SUCCESS_FILE: &str = "success.csv";
/// The file of records that need a person.
pub const ERROR_FILE: &str = "error.csv";

/// One record as a real run sent it, with what came of it.
#[derive(Debug, Clone, Copy)]
pub struct AttemptedRecord<'a> {
    /// The User fields sent, in the order sent (field API name, value).
    pub fields: &'a [(String, serde_json::Value)],
    /// `created` goes to `success.csv`; outcomes that need a person go to
    /// `error.csv`; any other outcome was not a result of an attempt and is left out.
    pub outcome: Outcome,
    pub salesforce_id: Option<&'a str>,
    /// Salesforce's status code, e.g. `DUPLICATE_USERNAME`; when absent the
    /// outcome's name in capitals stands in (`DUPLICATE_IN_SOURCE`).
    pub error_code: Option<&'a str>,
    pub message: Option<&'a str>,
    /// The fields Salesforce named in its error.
    pub error_fields: &'a [String],
}

/// Writes `success.csv` and `error.csv` into `dir` (created if missing).
pub fn write(dir: &Path, records: &[AttemptedRecord]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let columns = field_columns(records);

    let mut success = csv_in(dir)?;
    let mut header = vec!["sf__Id".to_owned(), "sf__Created".to_owned()];
    header.extend(columns.iter().cloned());
    success.write_record(header.iter().map(|h| formula_safe(h).into_owned()))?;
    for record in records.iter().filter(|r| r.outcome == Outcome::Created) {
        let mut row = vec![
            record.salesforce_id.unwrap_or("").to_owned(),
            "true".to_owned(),
        ];
        row.extend(values(record, &columns));
        success.write_record(row.iter().map(|c| formula_safe(c).into_owned()))?;
    }

    let mut error = csv_in(dir)?;
    let mut header = vec!["sf__Error".to_owned()];
    header.extend(columns.iter().cloned());
    error.write_record(header.iter().map(|h| formula_safe(h).into_owned()))?;
    for record in records.iter().filter(|r| r.outcome.needs_person()) {
        let mut row = vec![sf_error(record)];
        row.extend(values(record, &columns));
        error.write_record(row.iter().map(|c| formula_safe(c).into_owned()))?;
    }

    // Both files are complete on disk before either replaces an old one.
    let success = finish(success)?;
    let error = finish(error)?;
    success
        .persist(dir.join(SUCCESS_FILE))
        .map_err(|e| e.error)?;
    error.persist(dir.join(ERROR_FILE)).map_err(|e| e.error)?;
    Ok(())
}

fn csv_in(dir: &Path) -> io::Result<csv::Writer<NamedTempFile>> {
    Ok(csv::Writer::from_writer(NamedTempFile::new_in(dir)?))
}

fn finish(writer: csv::Writer<NamedTempFile>) -> io::Result<NamedTempFile> {
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.as_file().sync_all()?;
    Ok(file)
}

/// Every field name any record sent, in first-seen order.
fn field_columns(records: &[AttemptedRecord]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for record in records {
        for (name, _) in record.fields {
            if !columns.iter().any(|c| c == name) {
                columns.push(name.clone());
            }
        }
    }
    columns
}

fn values(record: &AttemptedRecord, columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .map(|column| {
            record
                .fields
                .iter()
                .find(|(name, _)| name == column)
                .map_or_else(String::new, |(_, value)| text(value))
        })
        .collect()
}

/// A field value as Data Loader writes it: booleans as `true`/`false`, no quotes around text.
fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `CODE:message:Field1,Field2 --`, or `CODE:message:--` without fields.
fn sf_error(record: &AttemptedRecord) -> String {
    let code = record
        .error_code
        .map_or_else(|| record.outcome.as_str().to_uppercase(), str::to_owned);
    let message = record.message.unwrap_or("");
    if record.error_fields.is_empty() {
        format!("{code}:{message}:--")
    } else {
        format!("{code}:{message}:{} --", record.error_fields.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(path: &Path) -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(path)
            .unwrap();
        reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn writes_both_files_with_the_fields_sent() {
        let ada = vec![
            ("Username".to_owned(), json!("ada@example.com")),
            ("LastName".to_owned(), json!("Lovelace, Countess")),
            ("UserPermissionsMarketingUser".to_owned(), json!(false)),
        ];
        let bob = vec![
            ("Username".to_owned(), json!("bob@example.com")),
            ("Alias".to_owned(), json!("bob")),
        ];
        let eve = vec![("Username".to_owned(), json!("eve@example.com"))];
        let fields = vec!["Username".to_owned()];
        let records = [
            AttemptedRecord {
                fields: &ada,
                outcome: Outcome::Created,
                salesforce_id: Some("005000000000001AAA"),
                error_code: None,
                message: None,
                error_fields: &[],
            },
            AttemptedRecord {
                fields: &bob,
                outcome: Outcome::Collision,
                salesforce_id: None,
                error_code: Some("DUPLICATE_USERNAME"),
                message: Some(
                    "Duplicate Username.<br>Another user has already selected this username.",
                ),
                error_fields: &fields,
            },
            AttemptedRecord {
                fields: &eve,
                outcome: Outcome::Failed,
                salesforce_id: None,
                error_code: Some("UNKNOWN_EXCEPTION"),
                message: Some("boom: really"),
                error_fields: &[],
            },
            // A dry-run outcome is not a result and stays out of both files.
            AttemptedRecord {
                fields: &eve,
                outcome: Outcome::Create,
                salesforce_id: None,
                error_code: None,
                message: None,
                error_fields: &[],
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("results");
        write(&out, &records).unwrap();

        assert_eq!(
            read(&out.join(SUCCESS_FILE)),
            vec![
                vec![
                    "sf__Id",
                    "sf__Created",
                    "Username",
                    "LastName",
                    "UserPermissionsMarketingUser",
                    "Alias"
                ],
                vec![
                    "005000000000001AAA",
                    "true",
                    "ada@example.com",
                    "Lovelace, Countess",
                    "false",
                    ""
                ],
            ]
        );
        assert_eq!(
            read(&out.join(ERROR_FILE)),
            vec![
                vec![
                    "sf__Error",
                    "Username",
                    "LastName",
                    "UserPermissionsMarketingUser",
                    "Alias"
                ],
                vec![
                    "DUPLICATE_USERNAME:Duplicate Username.<br>Another user has already selected this username.:Username --",
                    "bob@example.com",
                    "",
                    "",
                    "bob",
                ],
                vec![
                    "UNKNOWN_EXCEPTION:boom: really:--",
                    "eve@example.com",
                    "",
                    "",
                    ""
                ],
            ]
        );
        // Nothing but the two files is left behind (no temporary files).
        assert_eq!(fs::read_dir(&out).unwrap().count(), 2);
    }

    #[test]
    fn rewriting_replaces_the_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let sent = vec![("Username".to_owned(), json!("a@example.com"))];
        let created = AttemptedRecord {
            fields: &sent,
            outcome: Outcome::Created,
            salesforce_id: Some("005A"),
            error_code: None,
            message: None,
            error_fields: &[],
        };
        write(dir.path(), &[created]).unwrap();
        write(dir.path(), &[]).unwrap();
        assert_eq!(
            read(&dir.path().join(SUCCESS_FILE)),
            vec![vec!["sf__Id", "sf__Created"]]
        );
        assert_eq!(read(&dir.path().join(ERROR_FILE)), vec![vec!["sf__Error"]]);
    }

    #[test]
    fn missing_code_names_the_outcome() {
        let sent = vec![];
        let record = AttemptedRecord {
            fields: &sent,
            outcome: Outcome::DuplicateInSource,
            salesforce_id: None,
            error_code: None,
            message: Some("also in people.csv:7"),
            error_fields: &[],
        };
        assert_eq!(
            sf_error(&record),
            "DUPLICATE_IN_SOURCE:also in people.csv:7:--"
        );
    }
}
