//! `SELECT ... FROM Organization`: the one-row object clients read to learn
//! which org they are in (the Salesforce CLI, admin scripts checking
//! `IsSandbox` before they write). A select list and an optional `LIMIT`;
//! no filters (the object has one row). Pure: the query text in, the page out.

use serde_json::{Map, Value, json};

/// The fields the emulated Organization has, in describe order.
pub const FIELDS: &[&str] = &[
    "Id",
    "Name",
    "OrganizationType",
    "InstanceName",
    "IsSandbox",
    "NamespacePrefix",
    "TrialExpirationDate",
    "LanguageLocaleKey",
    "DefaultLocaleSidKey",
    "TimeZoneSidKey",
];

/// The Organization's facts.
#[derive(Debug, Clone)]
pub struct OrgFacts<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub sandbox: bool,
}

/// `Some` when `q` selects from Organization: the page, or a SOQL error
/// (code, message). `None` for any other object.
pub fn answer(
    q: &str,
    facts: &OrgFacts<'_>,
    version: &str,
) -> Option<Result<String, (&'static str, String)>> {
    let words: Vec<&str> = q.split_whitespace().collect();
    let from = words.iter().position(|w| w.eq_ignore_ascii_case("from"))?;
    if !words
        .get(from + 1)
        .is_some_and(|o| o.eq_ignore_ascii_case("organization"))
    {
        return None;
    }
    if !words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("select"))
    {
        return Some(Err(("MALFORMED_QUERY", "expected SELECT".into())));
    }
    let tail = &words[from + 2..];
    let limit = match tail {
        [] => None,
        [l, n] if l.eq_ignore_ascii_case("limit") => match n.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => return Some(Err(("MALFORMED_QUERY", format!("unexpected token: '{n}'")))),
        },
        [t, ..] => {
            return Some(Err((
                "MALFORMED_QUERY",
                format!(
                    "unexpected token: '{t}' (the emulator's Organization takes a select list and LIMIT only)"
                ),
            )));
        }
    };
    let list = words[1..from].join(" ");
    let mut record = Map::new();
    record.insert(
        "attributes".into(),
        json!({"type": "Organization", "url": format!("/services/data/{version}/sobjects/Organization/{}", facts.id)}),
    );
    for name in list.split(',').map(str::trim) {
        let Some(field) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(name)) else {
            return Some(Err((
                "INVALID_FIELD",
                format!(
                    "No such column '{name}' on entity 'Organization'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
                ),
            )));
        };
        let v = match *field {
            "Id" => json!(facts.id),
            "Name" => json!(facts.name),
            "OrganizationType" => json!("Developer Edition"),
            "InstanceName" => json!("EMU1"),
            "IsSandbox" => json!(facts.sandbox),
            "NamespacePrefix" | "TrialExpirationDate" => Value::Null,
            "LanguageLocaleKey" | "DefaultLocaleSidKey" => json!("en_US"),
            _ => json!("America/Los_Angeles"),
        };
        record.insert((*field).to_string(), v);
    }
    let records: Vec<Value> = if limit == Some(0) {
        vec![]
    } else {
        vec![Value::Object(record)]
    };
    Some(Ok(
        json!({"totalSize": records.len(), "done": true, "records": records}).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: OrgFacts<'static> = OrgFacts {
        id: "00DEM0000000001AAA",
        name: "sfsync emulator",
        sandbox: false,
    };

    #[test]
    fn selects_fields_in_the_order_asked() {
        let page = answer(
            "SELECT IsSandbox, Id, name FROM Organization LIMIT 1",
            &FACTS,
            "v62.0",
        )
        .unwrap()
        .unwrap();
        let v: Value = serde_json::from_str(&page).unwrap();
        let keys: Vec<&String> = v["records"][0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["attributes", "IsSandbox", "Id", "Name"]);
        assert_eq!(v["records"][0]["IsSandbox"], false);
        assert!(answer("SELECT Id FROM User", &FACTS, "v62.0").is_none());
        let e = answer("SELECT Foo FROM Organization", &FACTS, "v62.0")
            .unwrap()
            .unwrap_err();
        assert_eq!(e.0, "INVALID_FIELD");
        let e = answer(
            "SELECT Id FROM Organization WHERE Id = 'x'",
            &FACTS,
            "v62.0",
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(e.0, "MALFORMED_QUERY");
    }
}
