//! Runs a parsed SOQL query over the org and writes result pages as JSON.
//!
//! Pages are written by hand into one buffer: a full read of a million-user
//! org is 500 pages of about a megabyte each, and this is the emulator's
//! hottest path.

use std::borrow::Cow;
use std::fmt::Write;

use super::access;
use super::lifecycle;
use super::org::{Profile, UserRec, Users};
use super::schema::{self, ProfileField, Ty};
use super::soql::{self, Col, Object, Query, Row, Val};

fn profile_value(p: &Profile, f: ProfileField) -> Val<'_> {
    Val::Text(match f {
        ProfileField::Id => Cow::Borrowed(p.seed.id.as_str()),
        ProfileField::Name => Cow::Borrowed(p.seed.name.as_str()),
        ProfileField::UserType => Cow::Borrowed(p.seed.user_type.as_str()),
        ProfileField::UserLicenseId => Cow::Owned(format!("100{}", &p.seed.id[3..])),
    })
}

/// One row of any queryable object, with the org around it (for relationships).
pub(crate) enum RowRef<'a> {
    User(&'a UserRec, &'a Users),
    Profile(&'a Profile),
    /// The UserLogin row of the user at this index.
    Login(u32, &'a Users),
    Named(&'a access::Named, &'a Users),
    Link(&'a access::Link),
}

impl Row for RowRef<'_> {
    #[inline]
    fn get(&self, col: &Col) -> Val<'_> {
        match (self, col) {
            (RowRef::User(r, _), Col::User(f)) => match f.ty {
                Ty::Text { slot, .. } => match r.text(slot) {
                    Some(s) => Val::Text(Cow::Borrowed(s)),
                    None => Val::Null,
                },
                Ty::Bool { bit } => Val::Bool(r.flag(bit)),
                Ty::Name => Val::Text(r.name()),
            },
            (RowRef::User(r, users), Col::UserProfile(f, _)) => {
                match r.text(schema::PROFILE_ID).and_then(|p| users.profile(p)) {
                    Some(p) => profile_value(&users.profiles[p], *f),
                    None => Val::Null,
                }
            }
            (RowRef::Profile(p), Col::Profile(f, _)) => profile_value(p, *f),
            (RowRef::Login(i, users), Col::Obj(f)) => match f.name {
                "Id" => Val::Text(Cow::Owned(lifecycle::login_id(*i))),
                "UserId" => match users.recs[*i as usize].text(schema::ID) {
                    Some(id) => Val::Text(Cow::Borrowed(id)),
                    None => Val::Null,
                },
                "IsFrozen" => Val::Bool(users.frozen[*i as usize]),
                _ => Val::Bool(false),
            },
            (RowRef::Named(n, users), Col::Obj(f)) => access::named_value(users, n, f.name),
            (RowRef::Link(l), Col::Obj(f)) => access::link_value(l, f.name),
            _ => Val::Null,
        }
    }
}

fn row(users: &Users, object: Object, i: u32) -> RowRef<'_> {
    match object {
        Object::User => RowRef::User(&users.recs[i as usize], users),
        Object::Profile => RowRef::Profile(&users.profiles[i as usize]),
        Object::UserLogin => RowRef::Login(i, users),
        Object::PermissionSet => RowRef::Named(&users.access.permission_sets[i as usize], users),
        Object::PermissionSetGroup => {
            RowRef::Named(&users.access.permission_set_groups[i as usize], users)
        }
        Object::Group => RowRef::Named(&users.access.groups[i as usize], users),
        Object::UserRole => RowRef::Named(&users.access.roles[i as usize], users),
        Object::PermissionSetAssignment => RowRef::Link(&users.access.assignments[i as usize]),
        Object::GroupMember => RowRef::Link(&users.access.members[i as usize]),
    }
}

/// The matching rows, ordered, after OFFSET and LIMIT.
pub(crate) fn execute(users: &Users, q: &Query) -> Vec<u32> {
    let n = match q.object {
        Object::User | Object::UserLogin => users.recs.len(),
        Object::Profile => users.profiles.len(),
        Object::PermissionSet => users.access.permission_sets.len(),
        Object::PermissionSetGroup => users.access.permission_set_groups.len(),
        Object::Group => users.access.groups.len(),
        Object::UserRole => users.access.roles.len(),
        Object::PermissionSetAssignment => users.access.assignments.len(),
        Object::GroupMember => users.access.members.len(),
    };
    let mut rows: Vec<u32> = match &q.filter {
        None => (0..n as u32).collect(),
        Some(f) => (0..n as u32)
            .filter(|&i| f.eval(&row(users, q.object, i)))
            .collect(),
    };
    let by_id_only = q.order.len() == 1
        && q.order[0].col.name() == "Id"
        && !q.order[0].desc
        && q.object == Object::User;
    let already_ordered = by_id_only && users.ids_in_order;
    if !q.order.is_empty() && !already_ordered {
        rows.sort_by(|&a, &b| {
            soql::compare(&q.order, &row(users, q.object, a), &row(users, q.object, b))
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

fn write_val(out: &mut String, v: Val<'_>) {
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Val::Text(t) => write_json_str(out, &t),
    }
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
        other => Col::Obj(&other.fields().expect("a small object")[0]),
    };
    let profile_cols: Vec<&Col> = cols
        .iter()
        .filter(|c| matches!(c, Col::UserProfile(..)))
        .collect();
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
            if matches!(c, Col::UserProfile(..)) {
                continue;
            }
            out.push_str(",\"");
            out.push_str(c.name());
            out.push_str("\":");
            write_val(&mut out, r.get(c));
        }
        // Relationship fields come back nested: `"Profile":{"attributes":..,"Name":..}`.
        if !profile_cols.is_empty() {
            out.push_str(",\"Profile\":");
            match r.get(&Col::UserProfile(ProfileField::Id, "Profile.Id")) {
                Val::Text(pid) => {
                    let _ = write!(
                        out,
                        "{{\"attributes\":{{\"type\":\"Profile\",\"url\":\"/services/data/{version}/sobjects/Profile/{pid}\"}}"
                    );
                    for c in &profile_cols {
                        out.push_str(",\"");
                        out.push_str(c.name().trim_start_matches("Profile."));
                        out.push_str("\":");
                        write_val(&mut out, r.get(c));
                    }
                    out.push('}');
                }
                _ => out.push_str("null"),
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    out
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
