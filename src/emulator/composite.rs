//! `POST /services/data/vNN.N/composite` (reference §3.3): up to 25
//! subrequests run in order as one API call, each answered in
//! `compositeResponse` with its own `httpStatusCode`, `httpHeaders` and
//! `body`; the top level is always 200. A subrequest's `url` and `body` may
//! name an earlier answer as `@{referenceId.path}` (`@{newUser.id}`,
//! `@{q.records[0].Id}`). With `allOrNone`, the first failure rolls back the
//! users committed by earlier subrequests (the org is restored to its state
//! before the call) and every other subrequest answers an error.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::org::Org;
use super::routes::{Reply, Route, classify, error_array, json_response, operate};

/// Subrequests per call.
pub const MAX_SUBREQUESTS: usize = 25;

const ROLLED_BACK: &str =
    "The transaction was rolled back since another operation in the same transaction failed.";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompositeIn {
    #[serde(default)]
    all_or_none: bool,
    composite_request: Vec<SubIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubIn {
    method: String,
    url: String,
    reference_id: String,
    #[serde(default)]
    body: Option<Value>,
}

/// Follows `name.path` (dots and `[n]` indexes) through the earlier answers.
fn lookup<'a>(answers: &'a HashMap<String, Value>, reference: &str) -> Option<&'a Value> {
    let mut parts = reference.split('.');
    let mut cur = answers.get(parts.next()?)?;
    for part in parts {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            cur = cur.get(r[..end].parse::<usize>().ok()?)?;
            rest = &r[end + 1..];
        }
    }
    Some(cur)
}

/// Replaces every `@{ref.path}` in `text`; `Err` names the first that does
/// not resolve.
pub(crate) fn substitute(
    text: &str,
    answers: &HashMap<String, Value>,
    in_json: bool,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("@{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let reference = &after[..end];
        let v = lookup(answers, reference).ok_or_else(|| reference.to_string())?;
        let plain = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if in_json {
            // Inside a JSON string: escape as JSON string content.
            let quoted = Value::String(plain).to_string();
            out.push_str(&quoted[1..quoted.len() - 1]);
        } else {
            out.push_str(&plain);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn sub_error(reference_id: &str, status: u16, code: &str, message: &str) -> Value {
    json!({
        "body": [{"errorCode": code, "message": message}],
        "httpHeaders": {},
        "httpStatusCode": status,
        "referenceId": reference_id
    })
}

/// Runs a composite call.
pub(crate) async fn run(
    org: &Org,
    headers: &HeaderMap,
    body: &[u8],
    version: &str,
    api_user: Option<&str>,
) -> Reply {
    let parsed: CompositeIn = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => {
            return Reply::Http(
                error_array(
                    StatusCode::BAD_REQUEST,
                    "JSON_PARSER_ERROR",
                    &format!("The request body is not valid: {e}"),
                ),
                0,
            );
        }
    };
    let count = parsed.composite_request.len();
    if count == 0 || count > MAX_SUBREQUESTS {
        return Reply::Http(
            error_array(
                StatusCode::BAD_REQUEST,
                "INVALID_BATCH_REQUEST",
                &format!(
                    "compositeRequest must hold 1 to {MAX_SUBREQUESTS} subrequests, got {count}"
                ),
            ),
            0,
        );
    }
    let snapshot = parsed.all_or_none.then(|| org.read_users().clone());
    let mut answers: HashMap<String, Value> = HashMap::new();
    let mut out: Vec<Value> = Vec::with_capacity(count);
    let mut failed = false;
    let mut records = 0;
    for sub in &parsed.composite_request {
        if failed && parsed.all_or_none {
            out.push(sub_error(
                &sub.reference_id,
                400,
                "PROCESSING_HALTED",
                ROLLED_BACK,
            ));
            continue;
        }
        let url = match substitute(&sub.url, &answers, false) {
            Ok(u) => u,
            Err(r) => {
                failed = true;
                out.push(sub_error(
                    &sub.reference_id,
                    400,
                    "INVALID_REFERENCE",
                    &format!("Invalid reference specified. No value for {r} found"),
                ));
                continue;
            }
        };
        let sub_body = match &sub.body {
            None => String::new(),
            Some(b) => match substitute(&b.to_string(), &answers, true) {
                Ok(t) => t,
                Err(r) => {
                    failed = true;
                    out.push(sub_error(
                        &sub.reference_id,
                        400,
                        "INVALID_REFERENCE",
                        &format!("Invalid reference specified. No value for {r} found"),
                    ));
                    continue;
                }
            },
        };
        let method =
            Method::from_bytes(sub.method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (url.clone(), None),
        };
        let (route, sub_version) = classify(&method, &path);
        let allowed = !matches!(
            route,
            Route::Composite
                | Route::Token
                | Route::SoapLogin(_)
                | Route::Inspect(_)
                | Route::UserInfo
                | Route::Identity(..)
                | Route::Versions
        );
        let reply = if allowed {
            operate(
                org,
                route,
                headers,
                query.as_deref(),
                sub_body.as_bytes(),
                if path.to_ascii_lowercase().starts_with("/services/data/") {
                    &sub_version
                } else {
                    version
                },
                false,
                0,
                api_user,
            )
        } else {
            Reply::Http(
                error_array(
                    StatusCode::BAD_REQUEST,
                    "INVALID_BATCH_REQUEST",
                    &format!("{} {url} is not allowed in a composite request", sub.method),
                ),
                0,
            )
        };
        let Reply::Http(resp, n) = reply else {
            continue;
        };
        records += n;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status >= 400 {
            failed = true;
        } else {
            answers.insert(sub.reference_id.clone(), body.clone());
        }
        let http_headers = match location {
            Some(l) => json!({"Location": l}),
            None => json!({}),
        };
        out.push(json!({
            "body": body,
            "httpHeaders": http_headers,
            "httpStatusCode": status,
            "referenceId": sub.reference_id
        }));
    }
    if failed && let Some(before) = snapshot {
        *org.write_users() = before;
        for (i, sub) in parsed.composite_request.iter().enumerate() {
            let ok = out[i]["httpStatusCode"].as_u64().is_some_and(|s| s < 400);
            if ok {
                out[i] = sub_error(
                    &sub.reference_id,
                    400,
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    ROLLED_BACK,
                );
            }
        }
    }
    Reply::Http(
        json_response(
            StatusCode::OK,
            json!({"compositeResponse": out}).to_string(),
        ),
        records,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_through_fields_and_indexes() {
        let mut answers = HashMap::new();
        answers.insert("u".to_string(), json!({"id": "005A", "success": true}));
        answers.insert(
            "q".to_string(),
            json!({"records": [{"Id": "005B", "Name": "Ada \"L\""}]}),
        );
        assert_eq!(
            substitute("/sobjects/User/@{u.id}", &answers, false).unwrap(),
            "/sobjects/User/005A"
        );
        assert_eq!(
            substitute(r#"{"x":"@{q.records[0].Name}"}"#, &answers, true).unwrap(),
            r#"{"x":"Ada \"L\""}"#
        );
        assert_eq!(
            substitute("@{nope.id}", &answers, false).unwrap_err(),
            "nope.id"
        );
    }
}
