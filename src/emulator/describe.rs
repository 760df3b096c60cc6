//! Describe answers: describe global (`GET sobjects`), the User basic
//! information (`GET sobjects/User`) and `sobjects/User/describe`, with the
//! shapes of the REST guide (keys in document order). Pure: JSON text out.
//!
//! Field types follow the User object reference: `id`, `reference`,
//! `picklist` for the `*SidKey`/`*Key` fields (with their values), `email`,
//! `boolean`, `datetime`, `string`.

use serde_json::{Value, json};

use super::schema::{self, FieldDef, Ty};

/// Time zones offered by `TimeZoneSidKey` (a common subset of Salesforce's
/// list; the create check accepts any real IANA zone, see
/// [`schema::valid_time_zone`]).
pub const TIME_ZONES: &[&str] = &[
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Toronto",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
    "Pacific/Auckland",
    "GMT",
];

/// Locales offered by `LocaleSidKey` (a common subset).
pub const LOCALES: &[&str] = &[
    "en_US", "en_GB", "en_AU", "en_CA", "en_IE", "en_IN", "de_DE", "de_AT", "de_CH", "fr_FR",
    "fr_CA", "fr_BE", "es_ES", "es_MX", "it_IT", "nl_NL", "pt_BR", "pt_PT", "sv_SE", "da_DK",
    "fi_FI", "no_NO", "pl_PL", "ja_JP", "ko_KR", "zh_CN", "zh_TW",
];

/// The picklist values of a User field, if it is a picklist.
fn picklist(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "TimeZoneSidKey" => Some(TIME_ZONES),
        "LocaleSidKey" => Some(LOCALES),
        "EmailEncodingKey" => Some(schema::EMAIL_ENCODINGS),
        "LanguageLocaleKey" => Some(schema::LANGUAGES),
        _ => None,
    }
}

fn field_type(f: &FieldDef) -> &'static str {
    match f.ty {
        Ty::Bool { .. } => "boolean",
        Ty::Name => "string",
        Ty::Text { .. } => match f.name {
            "Id" => "id",
            "Email" => "email",
            "CreatedDate" | "LastModifiedDate" | "LastLoginDate" => "datetime",
            n if picklist(n).is_some() || n == "UserType" => "picklist",
            n if n.ends_with("Id") => "reference",
            _ => "string",
        },
    }
}

fn field(f: &FieldDef) -> Value {
    let ty = field_type(f);
    let length = match f.ty {
        Ty::Text { max, .. } if ty != "datetime" => max,
        Ty::Name => 121,
        _ => 0,
    };
    let values: Vec<Value> = picklist(f.name)
        .unwrap_or(&[])
        .iter()
        .map(|v| json!({"active": true, "defaultValue": false, "label": v, "validFor": null, "value": v}))
        .collect();
    let reference_to: Vec<&str> = match f.name {
        "ProfileId" => vec!["Profile"],
        "UserRoleId" => vec!["UserRole"],
        "ManagerId" => vec!["User"],
        _ if ty == "reference" => vec!["User"],
        _ => vec![],
    };
    let soap_type = match ty {
        "id" | "reference" => "tns:ID",
        "boolean" => "xsd:boolean",
        "datetime" => "xsd:dateTime",
        _ => "xsd:string",
    };
    json!({
        "name": f.name,
        "label": f.label,
        "type": ty,
        "soapType": soap_type,
        "length": length,
        "byteLength": length * 3,
        "createable": f.createable,
        "updateable": f.createable && f.name != "Id",
        "nillable": !f.required && !matches!(f.ty, Ty::Bool { .. }),
        "defaultedOnCreate": matches!(f.ty, Ty::Bool { .. }) || f.name == "CommunityNickname",
        "unique": f.name == "Username",
        "idLookup": matches!(f.name, "Id" | "Username" | "CommunityNickname"),
        "restrictedPicklist": matches!(f.name, "EmailEncodingKey" | "LanguageLocaleKey" | "TimeZoneSidKey" | "LocaleSidKey"),
        "picklistValues": values,
        "referenceTo": reference_to,
        "custom": false
    })
}

fn object_urls(version: &str) -> Value {
    let p = format!("/services/data/{version}/sobjects/User");
    json!({
        "rowTemplate": format!("{p}/{{ID}}"),
        "defaultValues": format!("{p}/defaultValues?recordTypeId&fields"),
        "describe": format!("{p}/describe"),
        "sobject": p
    })
}

fn user_summary(version: &str) -> Value {
    json!({
        "activateable": false,
        "createable": true,
        "custom": false,
        "customSetting": false,
        "deletable": false,
        "deprecatedAndHidden": false,
        "feedEnabled": true,
        "keyPrefix": "005",
        "label": "User",
        "labelPlural": "Users",
        "layoutable": true,
        "mergeable": false,
        "mruEnabled": true,
        "name": "User",
        "queryable": true,
        "replicateable": true,
        "retrieveable": true,
        "searchable": true,
        "triggerable": true,
        "undeletable": false,
        "updateable": true,
        "urls": object_urls(version)
    })
}

fn profile_summary(version: &str) -> Value {
    let p = format!("/services/data/{version}/sobjects/Profile");
    json!({
        "activateable": false,
        "createable": false,
        "custom": false,
        "customSetting": false,
        "deletable": false,
        "deprecatedAndHidden": false,
        "feedEnabled": false,
        "keyPrefix": "00e",
        "label": "Profile",
        "labelPlural": "Profiles",
        "layoutable": false,
        "mergeable": false,
        "mruEnabled": false,
        "name": "Profile",
        "queryable": true,
        "replicateable": true,
        "retrieveable": true,
        "searchable": false,
        "triggerable": false,
        "undeletable": false,
        "updateable": false,
        "urls": {"rowTemplate": format!("{p}/{{ID}}"), "describe": format!("{p}/describe"), "sobject": p}
    })
}

/// `GET /services/data/vNN.N/sobjects`: the objects this org has.
pub fn global(version: &str) -> String {
    json!({
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [profile_summary(version), user_summary(version)]
    })
    .to_string()
}

/// `GET /services/data/vNN.N/sobjects/User`: `objectDescribe` and `recentItems`.
pub fn user_basic_info(version: &str) -> String {
    json!({"objectDescribe": user_summary(version), "recentItems": []}).to_string()
}

/// `GET /services/data/vNN.N/sobjects/User/describe`.
pub fn user(version: &str) -> String {
    let mut v = user_summary(version);
    let fields: Vec<Value> = schema::USER_FIELDS.iter().map(field).collect();
    if let Value::Object(m) = &mut v {
        m.insert("fields".into(), Value::Array(fields));
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_keys_are_picklists_with_values() {
        let v: Value = serde_json::from_str(&user("v62.0")).unwrap();
        let f = |n: &str| {
            v["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == n)
                .cloned()
                .unwrap()
        };
        assert_eq!(f("TimeZoneSidKey")["type"], "picklist");
        assert_eq!(f("LocaleSidKey")["picklistValues"][0]["value"], "en_US");
        assert_eq!(f("Id")["type"], "id");
        assert_eq!(f("Id")["updateable"], false);
        assert_eq!(f("ProfileId")["referenceTo"][0], "Profile");
        assert_eq!(f("IsActive")["type"], "boolean");
    }
}
