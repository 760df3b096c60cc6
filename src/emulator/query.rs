//! Runs a parsed SOQL query over the org and writes result pages as JSON.
//!
//! Pages are written by hand into one buffer: a full read of a million-user
//! org is 500 pages of about a megabyte each, and this is the emulator's
//! hottest path.

use std::borrow::Cow;
use std::fmt::Write;

use super::org::{Profile, UserRec, Users};
use super::schema::{ProfileField, Ty};
use super::soql::{self, Col, Object, Query, Row, Val};

impl Row for UserRec {
    #[inline]
    fn get(&self, col: &Col) -> Val<'_> {
        match col {
            Col::User(f) => match f.ty {
                Ty::Text { slot, .. } => match self.text(slot) {
                    Some(s) => Val::Text(Cow::Borrowed(s)),
                    None => Val::Null,
                },
                Ty::Bool { bit } => Val::Bool(self.flag(bit)),
                Ty::Name => Val::Text(self.name()),
            },
            Col::Profile(..) => Val::Null,
        }
    }
}

impl Row for Profile {
    fn get(&self, col: &Col) -> Val<'_> {
        match col {
            Col::Profile(f, _) => Val::Text(match f {
                ProfileField::Id => Cow::Borrowed(self.seed.id.as_str()),
                ProfileField::Name => Cow::Borrowed(self.seed.name.as_str()),
                ProfileField::UserType => Cow::Borrowed(self.seed.user_type.as_str()),
                ProfileField::UserLicenseId => Cow::Owned(format!("100{}", &self.seed.id[3..])),
            }),
            Col::User(_) => Val::Null,
        }
    }
}

fn row(users: &Users, object: Object, i: u32) -> &dyn Row {
    match object {
        Object::User => &users.recs[i as usize],
        Object::Profile => &users.profiles[i as usize],
    }
}

/// The matching rows, ordered, after OFFSET and LIMIT.
pub(crate) fn execute(users: &Users, q: &Query) -> Vec<u32> {
    let n = match q.object {
        Object::User => users.recs.len(),
        Object::Profile => users.profiles.len(),
    };
    let mut rows: Vec<u32> = match &q.filter {
        None => (0..n as u32).collect(),
        Some(f) => (0..n as u32)
            .filter(|&i| f.eval(row(users, q.object, i)))
            .collect(),
    };
    let by_id_only = q.order.len() == 1
        && q.order[0].col.name() == "Id"
        && !q.order[0].desc
        && q.object == Object::User;
    let already_ordered = by_id_only && users.ids_in_order;
    if !q.order.is_empty() && !already_ordered {
        rows.sort_by(|&a, &b| {
            soql::compare(&q.order, row(users, q.object, a), row(users, q.object, b))
        });
    }
    if q.offset > 0 {
        rows.drain(..q.offset.min(rows.len()));
    }
    if let Some(l) = q.limit {
        rows.truncate(l);
    }
    rows
}

/// Appends `s` as a JSON string literal.
pub(crate) fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Writes one page: `{"totalSize":..,"done":..,["nextRecordsUrl":..,]"records":[..]}`.
pub(crate) fn write_page(
    users: &Users,
    object: Object,
    cols: &[Col],
    rows: &[u32],
    total: usize,
    next: Option<&str>,
    version: &str,
) -> String {
    let mut out = String::with_capacity(64 + rows.len() * (80 + cols.len() * 40));
    let _ = write!(out, "{{\"totalSize\":{total},\"done\":{}", next.is_none());
    if let Some(n) = next {
        out.push_str(",\"nextRecordsUrl\":");
        write_json_str(&mut out, n);
    }
    out.push_str(",\"records\":[");
    let id_col = match object {
        Object::User => Col::User(super::schema::user_field("Id").expect("Id")),
        Object::Profile => Col::Profile(ProfileField::Id, "Id"),
    };
    for (k, &i) in rows.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let r = row(users, object, i);
        let id = match r.get(&id_col) {
            Val::Text(t) => t,
            _ => Cow::Borrowed(""),
        };
        let _ = write!(
            out,
            "{{\"attributes\":{{\"type\":\"{}\",\"url\":\"/services/data/{version}/sobjects/{}/{id}\"}}",
            object.name(),
            object.name()
        );
        for c in cols {
            out.push_str(",\"");
            out.push_str(c.name());
            out.push_str("\":");
            match r.get(c) {
                Val::Null => out.push_str("null"),
                Val::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                Val::Text(t) => write_json_str(&mut out, &t),
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// The `columns=true` answer (what the Salesforce CLI asks for before it
/// runs a query): one `columnMetadata` entry per selected column, no records.
pub(crate) fn column_metadata(q: &Query) -> String {
    use serde_json::{Value, json};
    let cols: Vec<Value> = match &q.select {
        soql::Select::Count => vec![json!({
            "aggregate": true, "apexType": "Integer", "booleanType": false,
            "columnName": "expr0", "custom": false, "displayName": "count()",
            "foreignKeyName": null, "insertable": false, "joinColumns": [],
            "numberType": true, "textType": false, "updatable": false
        })],
        soql::Select::Fields(cols) => cols
            .iter()
            .map(|c| {
                let (apex, boolean, text, writable) = match c {
                    Col::User(f) => match f.ty {
                        Ty::Bool { .. } => ("Boolean", true, false, f.createable),
                        _ if matches!(f.name, "Id" | "ProfileId") => {
                            ("Id", false, false, f.createable)
                        }
                        _ if matches!(f.name, "CreatedDate" | "LastModifiedDate") => {
                            ("Datetime", false, false, false)
                        }
                        _ => ("String", false, true, f.createable),
                    },
                    Col::Profile(..) => ("String", false, true, false),
                };
                json!({
                    "aggregate": false, "apexType": apex, "booleanType": boolean,
                    "columnName": c.name(), "custom": false, "displayName": c.name(),
                    "foreignKeyName": null, "insertable": writable, "joinColumns": [],
                    "numberType": false, "textType": text, "updatable": writable
                })
            })
            .collect(),
    };
    let id_selected =
        matches!(&q.select, soql::Select::Fields(c) if c.iter().any(|c| c.name() == "Id"));
    json!({
        "columnMetadata": cols,
        "entityName": q.object.name(),
        "groupBy": false,
        "idSelected": id_selected,
        "keyPrefix": match q.object { Object::User => "005", Object::Profile => "00e" }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_like_serde() {
        for s in ["plain", "quote\" back\\ nl\n tab\t ctl\u{1} é ✓", ""] {
            let mut out = String::new();
            write_json_str(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
    }
}
