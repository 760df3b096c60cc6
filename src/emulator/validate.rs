//! Create validation that needs only the record itself (reference §4):
//! unknown and read-only fields, required fields, lengths, e-mail and username
//! shape, restricted picklists, the ProfileId. Checks that need the org's
//! other users (uniqueness, licenses) run in [`super::org`] under its lock.
//!
//! Pure: JSON in, a [`NewUser`] or the errors out.

use super::ids;
use super::schema::{self, FieldDef, TEXT_SLOTS, Ty};
use super::wire::{FieldIn, RecordIn};

/// One error on one record: `statusCode` in collection results, `errorCode`
/// in a top-level error array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecError {
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<String>,
}

impl RecError {
    pub fn new(code: &'static str, message: impl Into<String>, fields: &[&str]) -> RecError {
        RecError {
            code,
            message: message.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }
}

/// A problem with the request as a whole (the whole call answers 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub code: &'static str,
    pub message: String,
}

/// A record that passed the record-level checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Text slots ([`schema::TEXT_SLOTS`]); `ProfileId` already in 18-character form.
    pub texts: Vec<Option<String>>,
    pub bools: u8,
}

impl NewUser {
    pub fn text(&self, slot: usize) -> Option<&str> {
        self.texts[slot].as_deref()
    }
    pub fn is_active(&self) -> bool {
        self.bools & (1 << schema::IS_ACTIVE_BIT) != 0
    }
}

/// Username and e-mail shape: `local@domain.tld`, printable ASCII, no spaces.
pub fn email_shaped(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let ok_chars = |p: &str| p.bytes().all(|b| b.is_ascii_graphic() && b != b'@');
    !local.is_empty()
        && ok_chars(local)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && ok_chars(domain)
        && domain.contains('.')
        && domain.split('.').all(|l| !l.is_empty())
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

pub(crate) fn picklist_ok(f: &FieldDef, v: &str) -> bool {
    match f.name {
        "TimeZoneSidKey" => schema::valid_time_zone(v),
        "LocaleSidKey" => schema::valid_locale(v),
        "EmailEncodingKey" => schema::EMAIL_ENCODINGS.contains(&v),
        "LanguageLocaleKey" => schema::LANGUAGES.contains(&v),
        _ => true,
    }
}

fn json_type(v: &FieldIn<'_>) -> &'static str {
    match v {
        FieldIn::Null => "null",
        FieldIn::Bool(_) => "boolean",
        FieldIn::Str(_) => "string",
        FieldIn::Other(t) => t,
    }
}

/// Validates one create record. `profile_exists` answers for an 18-character `00e` Id.
///
/// `Err` is a request-level problem (unknown field, wrong JSON type): the
/// whole call answers 400, as Salesforce does when it cannot deserialize.
pub fn validate_create(
    record: &RecordIn<'_>,
    profile_exists: &dyn Fn(&str) -> bool,
) -> Result<Result<NewUser, Vec<RecError>>, RequestError> {
    let mut texts: Vec<Option<String>> = vec![None; TEXT_SLOTS];
    let mut bools = 1u8 << schema::IS_ACTIVE_BIT;
    let mut errors = Vec::new();
    let mut read_only = Vec::new();
    for (key, value) in &record.fields {
        let Some(f) = schema::user_field(key) else {
            return Err(RequestError {
                code: "INVALID_FIELD",
                message: format!("No such column '{key}' on sobject of type User"),
            });
        };
        if f.name == "Id" {
            errors.push(RecError::new(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "cannot specify Id in an insert call",
                &["Id"],
            ));
            continue;
        }
        if !f.createable {
            read_only.push(f.name);
            continue;
        }
        match (f.ty, value) {
            (_, FieldIn::Null) => {}
            (Ty::Text { slot, .. }, FieldIn::Str(s)) => {
                // Salesforce stores an empty string as null.
                if !s.is_empty() {
                    texts[slot] = Some(s.to_string());
                }
            }
            (Ty::Bool { bit }, FieldIn::Bool(b)) => {
                if *b {
                    bools |= 1 << bit;
                } else {
                    bools &= !(1 << bit);
                }
            }
            (Ty::Text { .. }, v) => {
                return Err(RequestError {
                    code: "JSON_PARSER_ERROR",
                    message: format!(
                        "Cannot deserialize instance of string from {} value for field {}",
                        json_type(v),
                        f.name
                    ),
                });
            }
            (_, v) => {
                return Err(RequestError {
                    code: "JSON_PARSER_ERROR",
                    message: format!(
                        "Cannot deserialize instance of boolean from {} value for field {}",
                        json_type(v),
                        f.name
                    ),
                });
            }
        }
    }
    if !read_only.is_empty() {
        errors.push(RecError {
            code: "INVALID_FIELD_FOR_INSERT_UPDATE",
            message: format!(
                "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                read_only.join(", ")
            ),
            fields: read_only.iter().map(|s| s.to_string()).collect(),
        });
    }

    let missing: Vec<&str> = schema::USER_FIELDS
        .iter()
        .filter(|f| f.required)
        .filter(|f| matches!(f.ty, Ty::Text { slot, .. } if texts[slot].is_none()))
        .map(|f| f.name)
        .collect();
    if !missing.is_empty() {
        errors.push(RecError {
            code: "REQUIRED_FIELD_MISSING",
            message: format!("Required fields are missing: [{}]", missing.join(", ")),
            fields: missing.iter().map(|s| s.to_string()).collect(),
        });
    }

    for f in schema::USER_FIELDS {
        let Ty::Text { slot, max } = f.ty else {
            continue;
        };
        let Some(v) = texts[slot].as_deref() else {
            continue;
        };
        if v.chars().count() > max {
            errors.push(RecError::new(
                "STRING_TOO_LONG",
                format!("{}: data value too large: {v} (max length={max})", f.label),
                &[f.name],
            ));
            continue;
        }
        match f.name {
            "Username" if !email_shaped(v) => errors.push(RecError::new(
                "FIELD_INTEGRITY_EXCEPTION",
                "Username must be in the form of an email address (for example, john@acme.com)",
                &["Username"],
            )),
            "Email" if !email_shaped(v) => errors.push(RecError::new(
                "INVALID_EMAIL_ADDRESS",
                format!("Email: invalid email address: {v}"),
                &["Email"],
            )),
            "TimeZoneSidKey" | "LocaleSidKey" | "EmailEncodingKey" | "LanguageLocaleKey"
                if !picklist_ok(f, v) =>
            {
                errors.push(RecError::new(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    format!("{}: bad value for restricted picklist field: {v}", f.label),
                    &[f.name],
                ))
            }
            _ => {}
        }
    }

    if let Some(p) = texts[schema::PROFILE_ID].clone() {
        match ids::to18(&p).filter(|id| id.starts_with("00e")) {
            None => errors.push(RecError::new(
                "MALFORMED_ID",
                format!("Profile ID: id value of incorrect type: {p}"),
                &["ProfileId"],
            )),
            Some(id) if !profile_exists(&id) => errors.push(RecError::new(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &["ProfileId"],
            )),
            Some(id) => texts[schema::PROFILE_ID] = Some(id),
        }
    }

    for (slot, prefix, label) in [
        (schema::USER_ROLE_ID, "00E", "Role ID"),
        (schema::MANAGER_ID, "005", "Manager ID"),
    ] {
        if let Some(v) = texts[slot].clone() {
            match ids::to18(&v).filter(|id| id.starts_with(prefix)) {
                Some(id) => texts[slot] = Some(id),
                None => errors.push(RecError::new(
                    "MALFORMED_ID",
                    format!("{label}: id value of incorrect type: {v}"),
                    &[schema::slot_field(slot).name],
                )),
            }
        }
    }

    if errors.is_empty() {
        Ok(Ok(NewUser { texts, bools }))
    } else {
        Ok(Err(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn good() -> Map<String, Value> {
        json!({
            "Username": "ada@example.com", "Email": "ada@example.com", "LastName": "Lovelace",
            "Alias": "alove", "TimeZoneSidKey": "Europe/London", "LocaleSidKey": "en_GB",
            "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
            "ProfileId": "00e90000001aV2o"
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn check(obj: &Map<String, Value>) -> Result<Result<NewUser, Vec<RecError>>, RequestError> {
        let text = Value::Object(obj.clone()).to_string();
        let record: RecordIn = serde_json::from_str(&text).unwrap();
        validate_create(&record, &|id| id == "00e90000001aV2oAAE")
    }

    #[test]
    fn a_complete_record_passes_with_the_profile_id_normalised() {
        let u = check(&good()).unwrap().unwrap();
        assert_eq!(u.text(schema::PROFILE_ID), Some("00e90000001aV2oAAE"));
        assert!(u.is_active());
    }

    #[test]
    fn missing_fields_are_listed_together() {
        let mut o = good();
        o.remove("Email");
        o.insert("ProfileId".into(), Value::Null);
        o.insert("LastName".into(), json!(""));
        let errs = check(&o).unwrap().unwrap_err();
        assert_eq!(errs[0].code, "REQUIRED_FIELD_MISSING");
        assert_eq!(
            errs[0].message,
            "Required fields are missing: [Email, LastName, ProfileId]"
        );
        assert_eq!(errs[0].fields, ["Email", "LastName", "ProfileId"]);
    }

    #[test]
    fn each_record_level_rule_has_its_code() {
        let cases: &[(&str, Value, &str)] = &[
            ("Alias", json!("abcdefghij"), "STRING_TOO_LONG"),
            (
                "Username",
                json!("not-an-address"),
                "FIELD_INTEGRITY_EXCEPTION",
            ),
            ("Email", json!("not-an-email"), "INVALID_EMAIL_ADDRESS"),
            (
                "TimeZoneSidKey",
                json!("Mars/Base"),
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ),
            (
                "EmailEncodingKey",
                json!("UTF-9"),
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ),
            (
                "ProfileId",
                json!("00e000000000001"),
                "INVALID_CROSS_REFERENCE_KEY",
            ),
            ("ProfileId", json!("001000000000001"), "MALFORMED_ID"),
            (
                "Name",
                json!("Ada Lovelace"),
                "INVALID_FIELD_FOR_INSERT_UPDATE",
            ),
        ];
        for (field, value, code) in cases {
            let mut o = good();
            o.insert(field.to_string(), value.clone());
            let errs = check(&o).unwrap().unwrap_err();
            assert_eq!(errs.len(), 1, "{field}: {errs:?}");
            assert_eq!(errs[0].code, *code, "{field}");
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_refuse_the_request() {
        let mut o = good();
        o.insert("Foo__c".into(), json!("x"));
        assert_eq!(check(&o).unwrap_err().code, "INVALID_FIELD");
        let mut o = good();
        o.insert("IsActive".into(), json!("yes"));
        assert_eq!(check(&o).unwrap_err().code, "JSON_PARSER_ERROR");
    }

    #[test]
    fn shapes() {
        assert!(email_shaped("a.b+c@x-y.example.com"));
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a@.com",
            "a b@c.com",
            "a@b..com",
            "a@b@c.com",
        ] {
            assert!(!email_shaped(bad), "{bad}");
        }
    }
}
