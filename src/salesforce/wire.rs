//! JSON shapes on the wire, as `reference/salesforce-rest.md` documents them.
//!
//! Note the two error shapes: top-level error arrays use `errorCode`, per-record
//! results (sObject Collections) use `statusCode`.

use serde::{Deserialize, Serialize};

/// `POST /services/oauth2/token` success. No `Debug`: it holds the access token.
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub access_token: String,
    pub instance_url: String,
    /// The identity URL, `https://login.salesforce.com/id/00D.../005...`: its
    /// last segment is the API user's Id.
    #[serde(default)]
    pub id: Option<String>,
}

/// `{"error":"invalid_grant","error_description":"authentication failure"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// One entry of a top-level error array: `[{"message":..,"errorCode":..,"fields":[..]}]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiErrorItem {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub error_code: String,
}

/// One page of `GET /query`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryPage {
    /// Records the whole query matches (every page), as Salesforce counted them.
    #[serde(default)]
    pub total_size: Option<u64>,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub next_records_url: Option<String>,
    #[serde(default)]
    pub records: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The body of `POST composite/sobjects`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CollectionRequest<'a> {
    pub all_or_none: bool,
    /// Each record encoded once, `attributes` included: a batch copies bytes, not trees.
    pub records: &'a [Box<serde_json::value::RawValue>],
}

/// One per-record result of an sObject Collections call, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordResult {
    /// Missing or `null` on failed creates (both are seen; the reference says tolerate both).
    #[serde(default)]
    pub id: Option<String>,
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<RecordError>,
}

/// `{statusCode, message, fields}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordError {
    #[serde(default)]
    pub status_code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// `GET /limits`: only the entry sfsync reads; the real answer has many more keys.
#[derive(Debug, Deserialize)]
pub(crate) struct LimitsAnswer {
    #[serde(rename = "DailyApiRequests")]
    pub daily_api_requests: LimitPair,
}

/// `GET sobjects/User/describe`: only the field list, and of each field
/// only what sfsync checks; the real answer has many more keys.
#[derive(Debug, Deserialize)]
pub(crate) struct DescribeAnswer {
    pub fields: Vec<DescribedField>,
}

/// One field of an org's User object, as its describe gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DescribedField {
    /// API name (`Title`, `Cost_Center__c`).
    pub name: String,
    /// Whether a create may set it.
    #[serde(default)]
    pub createable: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LimitPair {
    #[serde(rename = "Max")]
    pub max: u64,
    #[serde(rename = "Remaining")]
    pub remaining: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_results_tolerate_missing_and_null_ids() {
        let body = r#"[
          {"id": "0055g00000XyZa1AAB", "success": true, "errors": []},
          {"success": false, "errors": [{"statusCode": "INVALID_EMAIL_ADDRESS",
             "message": "Email: invalid email address: not-an-email", "fields": ["Email"]}]},
          {"id": null, "success": false, "errors": [{"statusCode": "DUPLICATE_USERNAME", "message": "Duplicate Username."}]}
        ]"#;
        let r: Vec<RecordResult> = serde_json::from_str(body).unwrap();
        assert_eq!(r[0].id.as_deref(), Some("0055g00000XyZa1AAB"));
        assert_eq!(r[1].id, None);
        assert_eq!(r[1].errors[0].status_code, "INVALID_EMAIL_ADDRESS");
        assert_eq!(r[2].id, None);
        assert!(r[2].errors[0].fields.is_empty());
    }

    #[test]
    fn error_arrays_and_pages_parse() {
        let e: Vec<ApiErrorItem> = serde_json::from_str(
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        )
        .unwrap();
        assert_eq!(e[0].error_code, "INVALID_SESSION_ID");
        let p: QueryPage = serde_json::from_str(
            r#"{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01g-2000","records":[{"Id":"005"}]}"#,
        )
        .unwrap();
        assert!(!p.done);
        assert_eq!(
            p.next_records_url.as_deref(),
            Some("/services/data/v62.0/query/01g-2000")
        );
        let l: LimitsAnswer = serde_json::from_str(
            r#"{"DailyApiRequests":{"Max":15000,"Remaining":14980},"ConcurrentSyncReportRuns":{"Max":20,"Remaining":20}}"#,
        )
        .unwrap();
        assert_eq!(
            (l.daily_api_requests.max, l.daily_api_requests.remaining),
            (15000, 14980)
        );
        let body = serde_json::to_string(&CollectionRequest {
            all_or_none: false,
            records: &[],
        })
        .unwrap();
        assert_eq!(body, r#"{"allOrNone":false,"records":[]}"#);
    }
}
