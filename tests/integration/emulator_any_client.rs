//! The emulator as a local Salesforce for any client (#20), over real HTTP:
//! SOAP login, identity, describe, composite, columns=true, and the server
//! hardening and wire defects each with its test.

use std::io::{Read, Write};

use serde_json::{Value, json};
use sfsync::emulator::{FaultKind, FaultPlan, OrgConfig};

use crate::support::emu::{Emu, V, new_user, split};

/// Replaces generated Ids, tokens and the port so bodies snapshot stably.
fn scrub_text(s: &str, emu: &Emu) -> String {
    let mut out = s.replace(&emu.base_url, "[base]");
    for (tag, prefix) in [("sessionId", "00D")] {
        if let (Some(a), Some(b)) = (
            out.find(&format!("<{tag}>{prefix}")),
            out.find(&format!("</{tag}>")),
        ) {
            let open = format!("<{tag}>").len();
            out.replace_range(a + open..b, "[session]");
        }
    }
    out
}

fn soap_request(user: &str, pass: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
  <env:Body>
    <n1:login xmlns:n1="urn:partner.soap.sforce.com">
      <n1:username>{user}</n1:username>
      <n1:password>{pass}</n1:password>
    </n1:login>
  </env:Body>
</env:Envelope>"#
    )
}

fn strict() -> OrgConfig {
    let mut cfg = OrgConfig::default();
    cfg.credentials.username = Some("svc@acme.com".into());
    cfg.credentials.password = Some(sfsync::job::Secret::new("pwTOKEN"));
    cfg
}

#[tokio::test]
async fn soap_partner_login_answers_the_documented_envelope_and_fault() {
    let emu = Emu::start(strict()).await;
    let url = emu.url("/services/Soap/u/62.0");
    let resp = emu
        .http
        .post(&url)
        .header("content-type", "text/xml; charset=UTF-8")
        .header("SOAPAction", "login")
        .body(soap_request("svc@acme.com", "pwTOKEN"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("sforce-limit-info").is_none());
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/xml;charset=UTF-8"
    );
    let xml = resp.text().await.unwrap();
    let session = xml
        .split("<sessionId>")
        .nth(1)
        .and_then(|s| s.split("</sessionId>").next())
        .unwrap()
        .to_string();
    insta::assert_snapshot!("soap_login_response", scrub_text(&xml, &emu));
    // The session works as a REST bearer token.
    let (s, _, b) = emu.get(&session, "limits").await;
    assert_eq!(s, 200, "{b}");

    let resp = emu
        .http
        .post(&url)
        .body(soap_request("svc@acme.com", "pw-without-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    insta::assert_snapshot!("soap_login_fault", resp.text().await.unwrap());
    assert_eq!(emu.counters().token_calls, 2);
    emu.stop().await;
}

#[tokio::test]
async fn userinfo_and_the_token_id_url_answer_for_the_session_user() {
    let emu = Emu::empty().await;
    let resp = emu.password_grant("admin@acme.com").await;
    let (_, _, tok) = split(resp).await;
    let token = tok["access_token"].as_str().unwrap();
    let id_url = tok["id"].as_str().unwrap();
    assert!(
        id_url.starts_with(&format!("{}/id/00D", emu.base_url)),
        "{id_url}"
    );

    let resp = emu
        .http
        .get(id_url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (s, limit, id) = split(resp).await;
    assert_eq!((s, limit), (200, None));
    assert_eq!(id["username"], "admin@acme.com");
    assert_eq!(id["id"], tok["id"]);
    // The session's own user answers as a record (the Salesforce CLI reads it after login).
    let user_id = id["user_id"].as_str().unwrap();
    let (s, _, me) = emu.get(token, &format!("sobjects/User/{user_id}")).await;
    assert_eq!((s, me["Username"].as_str()), (200, Some("admin@acme.com")));

    let resp = emu
        .http
        .get(emu.url("/services/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (s, _, info) = split(resp).await;
    assert_eq!(s, 200);
    let info: Value = serde_json::from_str(&scrub_text(&info.to_string(), &emu)).unwrap();
    insta::assert_json_snapshot!("userinfo", info);

    // Without a token: 401, never the user's details.
    let resp = emu
        .http
        .get(emu.url("/services/oauth2/userinfo"))
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(resp).await;
    assert_eq!(
        (s, b[0]["errorCode"].as_str()),
        (401, Some("INVALID_SESSION_ID"))
    );
    emu.stop().await;
}

#[tokio::test]
async fn describe_global_basic_info_and_user_describe_with_picklists() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let (s, limit, global) = emu.get(&token, "sobjects").await;
    assert_eq!(s, 200);
    assert!(limit.is_some(), "a REST resource carries Sforce-Limit-Info");
    insta::assert_json_snapshot!("describe_global", global);

    let (s, _, basic) = emu.get(&token, "sobjects/User").await;
    assert_eq!(
        s, 200,
        "GET sobjects/User is the basic-information resource"
    );
    let keys: Vec<&String> = basic.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["objectDescribe", "recentItems"]);
    assert_eq!(basic["objectDescribe"]["keyPrefix"], "005");

    let (s, _, d) = emu.get(&token, "sobjects/User/describe").await;
    assert_eq!(s, 200);
    let pick = |name: &str| {
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap()
    };
    insta::assert_json_snapshot!("describe_user_time_zone", pick("TimeZoneSidKey"));
    let summary: Vec<String> = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {} createable={} updateable={} picklist={}",
                f["name"].as_str().unwrap(),
                f["type"].as_str().unwrap(),
                f["length"],
                f["createable"],
                f["updateable"],
                f["picklistValues"].as_array().unwrap().len()
            )
        })
        .collect();
    insta::assert_snapshot!("describe_user_fields", summary.join("\n"));
    emu.stop().await;
}

#[tokio::test]
async fn an_id_in_a_single_create_is_invalid_field_and_a_201_has_location() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let mut rec = new_user("ada@acme.com");
    rec["Id"] = json!("005000000000001AAA");
    let (s, _, b) = emu.post(&token, "sobjects/User", &rec).await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!([{"message": "The Id field should not be specified in the sobject data.", "errorCode": "INVALID_FIELD"}])
    );

    let resp = emu
        .http
        .post(emu.api("sobjects/User"))
        .bearer_auth(&token)
        .json(&new_user("ada@acme.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let (_, _, created) = split(resp).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/services/data/{V}/sobjects/User/{id}"));
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "success", "errors"], "document order");

    // The Location answers, with `attributes` first (document order).
    let resp = emu
        .http
        .get(emu.url(&location))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (s, _, user) = split(resp).await;
    assert_eq!(s, 200);
    assert_eq!(
        user.as_object().unwrap().keys().next().unwrap(),
        "attributes"
    );
    let (_, page) = emu.query(&token, "SELECT Id, Username FROM User").await;
    let keys: Vec<&String> = page["records"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["attributes", "Id", "Username"]);
    emu.stop().await;
}

#[tokio::test]
async fn head_is_get_without_a_body_and_405_names_allow() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let resp = emu
        .http
        .head(emu.api("limits"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("sforce-limit-info").is_some());
    assert_eq!(resp.text().await.unwrap(), "");

    let resp = emu
        .http
        .delete(emu.api("sobjects/User/005000000000001AAA"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, HEAD, PATCH");
    let resp = emu
        .http
        .put(emu.api("sobjects/User"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, HEAD, POST");
    let (_, _, b) = split(resp).await;
    assert_eq!(
        b[0]["message"],
        "HTTP Method 'PUT' not allowed. Allowed are GET, HEAD, POST"
    );
    emu.stop().await;
}

#[tokio::test]
async fn sforce_limit_info_is_only_on_rest_resources() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let limit_of = |resp: reqwest::Response| {
        resp.headers()
            .get("sforce-limit-info")
            .map(|h| h.to_str().unwrap().to_string())
    };
    let get = |path: &str| emu.http.get(emu.url(path)).bearer_auth(&token).send();
    assert!(limit_of(get(&format!("/services/data/{V}/limits")).await.unwrap()).is_some());
    assert!(limit_of(get(&format!("/services/data/{V}/nothing")).await.unwrap()).is_some());
    for path in [
        "/services/data/",
        "/services/oauth2/userinfo",
        "/_emulator/counters",
        "/elsewhere",
    ] {
        assert_eq!(limit_of(get(path).await.unwrap()), None, "{path}");
    }
    emu.stop().await;
}

#[tokio::test]
async fn the_injected_429_does_not_use_the_daily_limit_code() {
    let cfg = OrgConfig {
        faults: FaultPlan {
            fault_rate: 1.0,
            kinds: vec![FaultKind::TooManyRequests],
            ..FaultPlan::default()
        },
        ..OrgConfig::default()
    };
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    let resp = emu
        .http
        .get(emu.api("limits"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let (_, _, b) = split(resp).await;
    assert_eq!(b[0]["errorCode"], "TOO_MANY_REQUESTS");
    emu.stop().await;
}

#[tokio::test]
async fn inspection_needs_a_token_unless_admin_open() {
    let emu = Emu::with_users(2).await;
    let resp = emu
        .http
        .get(emu.url("/_emulator/users"))
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(resp).await;
    assert_eq!(s, 401);
    assert!(!b.to_string().contains("seed.example.com"));
    emu.stop().await;

    let emu = Emu::start(OrgConfig {
        admin_open: true,
        ..OrgConfig::default()
    })
    .await;
    let resp = emu
        .http
        .get(emu.url("/_emulator/counters"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn a_deep_where_clause_answers_malformed_query_and_the_server_lives_on() {
    let emu = Emu::with_users(1).await;
    let token = emu.token().await;
    // Within the URI limit over GET ...
    let deep = format!(
        "SELECT Id FROM User WHERE {}IsActive = true{}",
        "(".repeat(2_000),
        ")".repeat(2_000)
    );
    let (s, b) = emu.query(&token, &deep).await;
    assert_eq!(
        (s, b[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_QUERY"))
    );
    let not = format!(
        "SELECT Id FROM User WHERE {}IsActive = true",
        "NOT ".repeat(2_000)
    );
    let (s, b) = emu.query(&token, &not).await;
    assert_eq!(
        (s, b[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_QUERY"))
    );
    // ... and 5,000 deep in a composite subrequest, where no URI limit applies.
    let q = format!(
        "SELECT+Id+FROM+User+WHERE+{}IsActive+=+true{}",
        "(".repeat(5_000),
        ")".repeat(5_000)
    );
    let body = json!({"compositeRequest": [
        {"method": "GET", "url": format!("/services/data/{V}/query?q={q}"), "referenceId": "deep"}
    ]});
    let (s, _, b) = emu.post(&token, "composite", &body).await;
    assert_eq!(s, 200);
    assert_eq!(b["compositeResponse"][0]["httpStatusCode"], 400);
    assert_eq!(
        b["compositeResponse"][0]["body"][0]["errorCode"],
        "MALFORMED_QUERY"
    );
    let (s, b) = emu
        .query(
            &token,
            "SELECT Id FROM User WHERE ((NOT (IsActive = false)))",
        )
        .await;
    assert_eq!((s, b["totalSize"].clone()), (200, json!(1)));
    emu.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_before_the_session_check() {
    let emu = Emu::start(OrgConfig {
        max_body: 1024,
        ..OrgConfig::default()
    })
    .await;
    let resp = emu
        .http
        .post(emu.api("composite/sobjects"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(resp).await;
    assert_eq!(s, 413, "{b}");
    assert_eq!(b[0]["errorCode"], "REQUEST_ENTITY_TOO_LARGE");
    assert_eq!(
        emu.counters().unauthorized,
        0,
        "refused before the session check"
    );
    emu.stop().await;
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_the_connection_closed() {
    let emu = Emu::start(OrgConfig {
        body_timeout: std::time::Duration::from_millis(300),
        ..OrgConfig::default()
    })
    .await;
    let token = emu.token().await;
    let addr = emu.base_url.trim_start_matches("http://").to_string();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST /services/data/{V}/sobjects/User HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"Username\""
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"));
    assert_eq!(emu.counters().users_created, 0);
    emu.stop().await;
}

#[tokio::test]
async fn composite_runs_subrequests_with_references_and_all_or_none_rolls_back() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let body = json!({
        "allOrNone": false,
        "compositeRequest": [
            {"method": "POST", "url": format!("/services/data/{V}/sobjects/User"), "referenceId": "newUser", "body": new_user("grace@acme.com")},
            {"method": "GET", "url": format!("/services/data/{V}/sobjects/User/@{{newUser.id}}"), "referenceId": "readBack"},
            {"method": "GET", "url": format!("/services/data/{V}/query?q=SELECT+Id,Username+FROM+User+WHERE+Id+=+'@{{newUser.id}}'"), "referenceId": "q"}
        ]
    });
    let (s, limit, b) = emu.post(&token, "composite", &body).await;
    assert_eq!(s, 200);
    assert_eq!(limit.as_deref(), Some("api-usage=1/15000"), "one API call");
    let r = &b["compositeResponse"];
    assert_eq!(r[0]["httpStatusCode"], 201);
    let id = r[0]["body"]["id"].as_str().unwrap();
    assert_eq!(
        r[0]["httpHeaders"]["Location"],
        format!("/services/data/{V}/sobjects/User/{id}")
    );
    assert_eq!(r[1]["httpStatusCode"], 200);
    assert_eq!(r[1]["body"]["Username"], "grace@acme.com");
    assert_eq!(r[2]["body"]["records"][0]["Id"], id);

    // allOrNone: the duplicate fails, the first create is rolled back.
    let body = json!({
        "allOrNone": true,
        "compositeRequest": [
            {"method": "POST", "url": format!("/services/data/{V}/sobjects/User"), "referenceId": "a", "body": new_user("hopper@acme.com")},
            {"method": "POST", "url": format!("/services/data/{V}/sobjects/User"), "referenceId": "dup", "body": new_user("grace@acme.com")},
            {"method": "GET", "url": format!("/services/data/{V}/limits"), "referenceId": "after"}
        ]
    });
    let (s, _, b) = emu.post(&token, "composite", &body).await;
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("composite_all_or_none", b);
    assert!(emu.user("hopper@acme.com").is_none(), "rolled back");
    assert_eq!(emu.users().len(), 1);

    let many: Vec<Value> = (0..26)
        .map(|i| json!({"method": "GET", "url": format!("/services/data/{V}/limits"), "referenceId": format!("l{i}")}))
        .collect();
    let (s, _, b) = emu
        .post(&token, "composite", &json!({"compositeRequest": many}))
        .await;
    assert_eq!(
        (s, b[0]["errorCode"].as_str()),
        (400, Some("INVALID_BATCH_REQUEST"))
    );
    emu.stop().await;
}

#[tokio::test]
async fn columns_true_answers_column_metadata() {
    let emu = Emu::with_users(3).await;
    let token = emu.token().await;
    let resp = emu
        .http
        .get(emu.api("query"))
        .query(&[
            ("q", "SELECT Id, Username, IsActive FROM User"),
            ("columns", "true"),
        ])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(resp).await;
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("query_columns_true", b);
    emu.stop().await;
}

#[tokio::test]
async fn public_url_is_what_the_token_and_soap_answers_hand_out() {
    let emu = Emu::start(OrgConfig {
        public_url: Some("https://emu.example.test:8443".into()),
        ..OrgConfig::default()
    })
    .await;
    let resp = emu
        .http
        .post(emu.url("/services/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "c"),
            ("client_secret", "s"),
            ("username", "u@x.com"),
            ("password", "p"),
        ])
        .send()
        .await
        .unwrap();
    let (_, _, tok) = split(resp).await;
    assert_eq!(tok["instance_url"], "https://emu.example.test:8443");
    assert!(
        tok["id"]
            .as_str()
            .unwrap()
            .starts_with("https://emu.example.test:8443/id/00D")
    );
    let resp = emu
        .http
        .post(emu.url("/services/Soap/u/62.0"))
        .body(soap_request("u@x.com", "p"))
        .send()
        .await
        .unwrap();
    let xml = resp.text().await.unwrap();
    assert!(
        xml.contains("<serverUrl>https://emu.example.test:8443/services/Soap/u/62.0/00D"),
        "{xml}"
    );
    emu.stop().await;
}

#[tokio::test]
async fn organization_answers_one_row_in_the_order_asked() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let (s, b) = emu
        .query(&token, "SELECT Name, IsSandbox, Id FROM Organization")
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["totalSize"], 1);
    let rec = &b["records"][0];
    let keys: Vec<&String> = rec.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["attributes", "Name", "IsSandbox", "Id"]);
    assert_eq!(rec["IsSandbox"], false);
    assert!(rec["Id"].as_str().unwrap().starts_with("00D"));
    emu.stop().await;
}
