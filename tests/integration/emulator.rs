//! The emulator over real HTTP (reqwest), independent of sfsync's own client:
//! every endpoint, the documented error bodies, paging, limits, faults.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};
use sfsync::emulator::{FaultKind, FaultPlan, OrgConfig, RequestKind};

use crate::support::emu::{Emu, V, collection, new_user, split};

/// Replaces generated Ids and tokens so bodies snapshot stably.
fn scrub(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() == 18 && s.starts_with("005") => json!("[user id]"),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), scrub(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()),
        other => other.clone(),
    }
}

// ---------- token endpoint and versions ----------

#[tokio::test]
async fn password_grant_answers_the_documented_body_with_the_emulator_as_instance() {
    let emu = Emu::empty().await;
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
    let (status, limit, body) = split(resp).await;
    assert_eq!(status, 200);
    assert_eq!(limit, None, "token calls carry no Sforce-Limit-Info");
    assert_eq!(body["instance_url"], json!(emu.base_url));
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().unwrap().starts_with("00D"));
    assert!(body["access_token"].as_str().unwrap().contains('!'));
    assert!(body["issued_at"].as_str().unwrap().parse::<u64>().unwrap() > 1_600_000_000_000);
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "id",
            "instance_url",
            "issued_at",
            "signature",
            "token_type"
        ]
    );
    assert_eq!(emu.counters().token_calls, 1);
    assert_eq!(
        emu.counters().api_calls,
        0,
        "token requests are not counted against the allowance"
    );
    emu.stop().await;
}

#[tokio::test]
async fn strict_credentials_refuse_with_invalid_grant_bodies() {
    let mut cfg = OrgConfig::default();
    cfg.credentials.client_id = Some("cid".into());
    cfg.credentials.client_secret = Some(sfsync::job::Secret::new("csecret"));
    cfg.credentials.username = Some("svc@acme.com".into());
    cfg.credentials.password = Some(sfsync::job::Secret::new("pwTOKEN"));
    let emu = Emu::start(cfg).await;
    let post = |form: Vec<(&'static str, &'static str)>| {
        let req = emu.http.post(emu.url("/services/oauth2/token")).form(&form);
        async move { split(req.send().await.unwrap()).await }
    };
    let good = vec![
        ("grant_type", "password"),
        ("client_id", "cid"),
        ("client_secret", "csecret"),
        ("username", "svc@acme.com"),
        ("password", "pwTOKEN"),
    ];
    assert_eq!(post(good.clone()).await.0, 200);
    let mut wrong_pw = good.clone();
    wrong_pw[4] = ("password", "pw");
    let (s, _, b) = post(wrong_pw).await;
    assert_eq!(
        (s, b),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "authentication failure"})
        )
    );
    let mut wrong_id = good.clone();
    wrong_id[1] = ("client_id", "other");
    let (s, _, b) = post(wrong_id).await;
    assert_eq!(
        (s, b),
        (
            400,
            json!({"error": "invalid_client_id", "error_description": "client identifier invalid"})
        )
    );
    let (s, _, b) = post(vec![("grant_type", "authorization_code")]).await;
    assert_eq!(
        (s, b["error"].clone()),
        (400, json!("unsupported_grant_type"))
    );
    // client credentials with HTTP Basic.
    let resp = emu
        .http
        .post(emu.url("/services/oauth2/token"))
        .basic_auth("cid", Some("csecret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(resp).await;
    assert_eq!(s, 200);
    assert_eq!(b["scope"], "api");
    let resp = emu
        .http
        .post(emu.url("/services/oauth2/token"))
        .basic_auth("cid", Some("nope"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(resp).await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_client")));
    emu.stop().await;
}

#[tokio::test]
async fn versions_need_no_auth_and_carry_no_limit_header() {
    let emu = Emu::empty().await;
    let resp = emu
        .http
        .get(emu.url("/services/data/"))
        .send()
        .await
        .unwrap();
    let (status, limit, body) = split(resp).await;
    assert_eq!(status, 200);
    assert_eq!(limit, None);
    let list = body.as_array().unwrap();
    assert!(list.contains(
        &json!({"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"})
    ));
    assert_eq!(emu.counters().api_calls, 0);
    // A retired version answers 410 GONE.
    let token = emu.token().await;
    let (s, _, _) = emu.get(&token, "../v30.0/limits").await;
    assert_eq!(s, 410);
    emu.stop().await;
}

// ---------- sessions, limits ----------

#[tokio::test]
async fn unknown_or_missing_tokens_answer_invalid_session_id() {
    let emu = Emu::empty().await;
    let (s, limit, b) = emu.get("00Dbogus!token", "limits").await;
    assert_eq!(s, 401);
    assert!(limit.is_some());
    insta::assert_json_snapshot!("invalid_session", b);
    let resp = emu.http.get(emu.api("limits")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    // The OAuth scheme works like Bearer.
    let token = emu.token().await;
    let resp = emu
        .http
        .get(emu.api("limits"))
        .header("Authorization", format!("OAuth {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn limits_and_limit_header_count_every_api_call() {
    let emu = Emu::start(OrgConfig {
        daily_api_limit: 3,
        ..OrgConfig::default()
    })
    .await;
    let token = emu.token().await;
    let (s, limit, body) = emu.get(&token, "limits").await;
    assert_eq!(s, 200);
    assert_eq!(limit.as_deref(), Some("api-usage=1/3"));
    assert_eq!(body["DailyApiRequests"], json!({"Max": 3, "Remaining": 2}));
    assert_eq!(emu.query(&token, "SELECT Id FROM User").await.0, 200);
    let (s, limit, _) = emu.get(&token, "limits").await;
    assert_eq!((s, limit.as_deref()), (200, Some("api-usage=3/3")));
    let (s, limit, body) = emu.get(&token, "limits").await;
    assert_eq!(s, 403);
    assert_eq!(limit.as_deref(), Some("api-usage=3/3"));
    insta::assert_json_snapshot!("daily_limit_exceeded", body);
    assert_eq!(emu.counters().limit_refusals, 1);
    emu.stop().await;
}

#[tokio::test]
async fn tokens_expire_after_the_configured_number_of_calls() {
    let emu = Emu::start(OrgConfig {
        token_ttl_calls: 2,
        ..OrgConfig::default()
    })
    .await;
    let token = emu.token().await;
    assert_eq!(emu.get(&token, "limits").await.0, 200);
    assert_eq!(emu.get(&token, "limits").await.0, 200);
    let (s, _, body) = emu.get(&token, "limits").await;
    assert_eq!(s, 401);
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    let fresh = emu.token().await;
    assert_eq!(emu.get(&fresh, "limits").await.0, 200);
    assert_eq!(emu.counters().unauthorized, 1);
    emu.stop().await;
}

// ---------- queries ----------

#[tokio::test]
async fn full_read_pages_at_2000_with_locators_and_includes_inactive_users() {
    let mut cfg = OrgConfig {
        users: crate::support::emu::seed_users(5_001),
        ..OrgConfig::default()
    };
    cfg.users[17] = cfg.users[17].clone().inactive();
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    let soql = "SELECT Id, Username, Email, IsActive, FederationIdentifier, ProfileId FROM User ORDER BY Id";
    let (s, first) = emu.query(&token, soql).await;
    assert_eq!(s, 200);
    assert_eq!(first["totalSize"], 5_001);
    assert_eq!(first["done"], false);
    assert_eq!(first["records"].as_array().unwrap().len(), 2000);
    let mut seen: Vec<String> = Vec::new();
    let mut page = first;
    let mut pages = 1;
    loop {
        for r in page["records"].as_array().unwrap() {
            assert_eq!(r["attributes"]["type"], "User");
            assert_eq!(
                r["attributes"]["url"],
                json!(format!(
                    "/services/data/{V}/sobjects/User/{}",
                    r["Id"].as_str().unwrap()
                ))
            );
            seen.push(r["Username"].as_str().unwrap().to_string());
        }
        if page["done"] == true {
            assert!(page.get("nextRecordsUrl").is_none());
            break;
        }
        let next = page["nextRecordsUrl"].as_str().unwrap().to_string();
        assert!(next.starts_with(&format!("/services/data/{V}/query/")));
        let resp = emu
            .http
            .get(emu.url(&next))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (s, limit, body) = split(resp).await;
        assert_eq!(s, 200);
        assert!(limit.is_some());
        page = body;
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5_001);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5_001);
    assert_eq!(seen[0], "user00001@seed.example.com");
    let c = emu.counters();
    assert_eq!((c.query_calls, c.query_more_calls), (1, 2));
    let log = emu.log();
    let kinds: Vec<(RequestKind, usize)> = log
        .iter()
        .filter(|r| r.kind != RequestKind::Token)
        .map(|r| (r.kind, r.records))
        .collect();
    assert_eq!(
        kinds,
        [
            (RequestKind::Query, 2000),
            (RequestKind::QueryMore, 2000),
            (RequestKind::QueryMore, 1001)
        ]
    );
    emu.stop().await;
}

#[tokio::test]
async fn batch_size_header_is_honoured_and_clamped() {
    let emu = Emu::with_users(1_000).await;
    let token = emu.token().await;
    for (asked, got) in [
        ("batchSize=300", 300),
        ("batchSize=50", 200),
        ("batchSize=5000", 1000),
    ] {
        let resp = emu
            .http
            .get(emu.api("query"))
            .query(&[("q", "SELECT Id FROM User")])
            .header("Sforce-Query-Options", asked)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (_, _, body) = split(resp).await;
        assert_eq!(body["records"].as_array().unwrap().len(), got, "{asked}");
        assert_eq!(body["totalSize"], 1000);
    }
    emu.stop().await;
}

#[tokio::test]
async fn where_clauses_filter_and_bad_queries_answer_their_codes() {
    let mut cfg = OrgConfig {
        users: crate::support::emu::seed_users(50),
        ..OrgConfig::default()
    };
    cfg.users[4] = cfg.users[4].clone().inactive();
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    let count = |b: &Value| b["totalSize"].as_u64().unwrap();
    let (_, b) = emu
        .query(
            &token,
            "SELECT Id FROM User WHERE Username = 'USER00003@seed.example.com'",
        )
        .await;
    assert_eq!(count(&b), 1);
    let (_, b) = emu
        .query(&token, "SELECT Id FROM User WHERE IsActive = false")
        .await;
    assert_eq!(count(&b), 1);
    let (_, b) = emu.query(&token, "SELECT Id FROM User WHERE Username IN ('user00001@seed.example.com','user00002@seed.example.com','nobody@x.com')").await;
    assert_eq!(count(&b), 2);
    let (_, b) = emu.query(&token, "SELECT Id FROM User WHERE Username LIKE 'user0001%' AND (IsActive = true OR FederationIdentifier = null)").await;
    assert_eq!(count(&b), 10);
    let (_, b) = emu
        .query(
            &token,
            "SELECT Id, Name FROM Profile WHERE Name = 'Chatter Free User'",
        )
        .await;
    assert_eq!(b["records"][0]["Id"], "00e90000001aV2oAAE");
    assert_eq!(b["records"][0]["attributes"]["type"], "Profile");
    let (_, b) = emu.query(&token, "SELECT COUNT() FROM User").await;
    assert_eq!(b, json!({"totalSize": 50, "done": true, "records": []}));
    let (_, b) = emu
        .query(
            &token,
            "SELECT Id FROM User WHERE Username = 'nobody@x.com'",
        )
        .await;
    assert_eq!(b, json!({"totalSize": 0, "done": true, "records": []}));
    let (s, b) = emu.query(&token, "SELECT Id, Bogus FROM User").await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("INVALID_FIELD"))
    );
    insta::assert_json_snapshot!("invalid_field", b);
    let (s, b) = emu
        .query(&token, "SELECT Id FROM User WHERE Username = ")
        .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("MALFORMED_QUERY"))
    );
    let (s, b) = emu
        .query(&token, "SELECT Id FROM User GROUP BY Username")
        .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("MALFORMED_QUERY"))
    );
    let (s, _, b) = emu.get(&token, "query/01gEM0000000zzzAAA-2000").await;
    assert_eq!(s, 400);
    insta::assert_json_snapshot!("invalid_query_locator", b);
    emu.stop().await;
}

#[tokio::test]
async fn over_long_uris_answer_414() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let long = format!(
        "SELECT Id FROM User WHERE Username IN ({})",
        vec!["'someone.with.a.long.name@example.com'"; 500].join(",")
    );
    let (s, _) = emu.query(&token, &long).await;
    assert_eq!(s, 414);
    emu.stop().await;
}

// ---------- creates ----------

#[tokio::test]
async fn single_create_answers_201_and_the_user_is_queryable_by_both_id_forms() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let (s, limit, body) = emu
        .post(&token, "sobjects/User", &new_user("ada@example.com"))
        .await;
    assert_eq!(s, 201);
    assert!(limit.is_some());
    insta::assert_json_snapshot!("create_one_created", scrub(&body));
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 18);
    assert!(id.starts_with("005"));
    let (_, b) = emu
        .query(
            &token,
            &format!(
                "SELECT Username, CommunityNickname, UserType FROM User WHERE Id = '{}'",
                &id[..15]
            ),
        )
        .await;
    assert_eq!(b["records"][0]["Username"], "ada@example.com");
    assert_eq!(b["records"][0]["CommunityNickname"], "ada");
    assert_eq!(b["records"][0]["UserType"], "Standard");
    // Lower-case path and trailing slash, as the WSO2 connector sends it.
    let (s, _, _) = emu
        .post(&token, "sobjects/user/", &new_user("bob@example.com"))
        .await;
    assert_eq!(s, 201);
    let c = emu.counters();
    assert_eq!((c.users_created, c.create_one_calls), (2, 2));
    emu.stop().await;
}

#[tokio::test]
async fn single_create_errors_are_top_level_arrays_with_error_code() {
    let cfg = OrgConfig {
        foreign_usernames: vec!["taken@elsewhere.com".into()],
        ..OrgConfig::default()
    };
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut r = new_user("x@example.com");
    r.as_object_mut().unwrap().remove("LastName");
    r.as_object_mut().unwrap().remove("Email");
    cases.push(("required_field_missing", r));
    cases.push((
        "duplicate_username_foreign",
        new_user("Taken@Elsewhere.com"),
    ));
    let mut r = new_user("y@example.com");
    r["Email"] = json!("not-an-email");
    cases.push(("invalid_email", r));
    let mut r = new_user("z@example.com");
    r["Alias"] = json!("abcdefghij");
    cases.push(("string_too_long", r));
    cases.push(("username_not_email", new_user("not-a-username")));
    let mut r = new_user("p@example.com");
    r["ProfileId"] = json!("00e000000000001AAA");
    cases.push(("unknown_profile", r));
    let mut r = new_user("t@example.com");
    r["TimeZoneSidKey"] = json!("Mars/Base");
    cases.push(("bad_picklist", r));
    let mut r = new_user("f@example.com");
    r["Foo__c"] = json!("x");
    cases.push(("unknown_field", r));
    for (name, record) in cases {
        let (s, _, body) = emu.post(&token, "sobjects/User", &record).await;
        assert_eq!(s, 400, "{name}");
        assert!(body[0].get("errorCode").is_some(), "{name}: {body}");
        insta::assert_json_snapshot!(format!("create_one_{name}"), body);
    }
    let c = emu.counters();
    assert_eq!(c.users_created, 0);
    assert_eq!(c.duplicate_username_attempts, 1);
    assert!(emu.users().is_empty());
    emu.stop().await;
}

#[tokio::test]
async fn collection_answers_200_with_results_in_order_and_no_id_on_failures() {
    let emu = Emu::with_users(3).await;
    let token = emu.token().await;
    let mut bad_email = new_user("b.two@acme.com");
    bad_email["Email"] = json!("not-an-email");
    let records = vec![
        new_user("a.one@acme.com"),
        bad_email,
        new_user("USER00001@seed.example.com"),
        new_user("c.three@acme.com"),
        new_user("a.one@acme.com"),
    ];
    let (s, limit, body) = emu
        .post(&token, "composite/sobjects", &collection(&records, false))
        .await;
    assert_eq!(s, 200);
    assert!(limit.is_some());
    insta::assert_json_snapshot!("collection_mixed", scrub(&body));
    let results = body.as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(
        results
            .iter()
            .map(|r| r["success"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [true, false, false, true, false]
    );
    assert!(results[1].get("id").is_none());
    assert_eq!(
        results[4]["errors"][0]["statusCode"], "DUPLICATE_USERNAME",
        "a username twice in one call"
    );
    assert_eq!(emu.users().len(), 5);
    let c = emu.counters();
    assert_eq!(
        (
            c.users_created,
            c.creates_refused,
            c.duplicate_username_attempts,
            c.api_calls
        ),
        (2, 3, 2, 1)
    );
    emu.stop().await;
}

#[tokio::test]
async fn all_or_none_rolls_back_every_record() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let mut bad = new_user("bad@acme.com");
    bad["Alias"] = json!("much-too-long");
    let records = vec![new_user("one@acme.com"), bad, new_user("three@acme.com")];
    let (s, _, body) = emu
        .post(&token, "composite/sobjects", &collection(&records, true))
        .await;
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("collection_all_or_none", body);
    assert!(emu.users().is_empty());
    // allOrNone with all records valid commits them all.
    let (_, _, body) = emu
        .post(
            &token,
            "composite/sobjects",
            &collection(&[new_user("one@acme.com"), new_user("two@acme.com")], true),
        )
        .await;
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == true)
    );
    assert_eq!(emu.users().len(), 2);
    emu.stop().await;
}

#[tokio::test]
async fn more_than_200_records_are_refused_whole() {
    let emu = Emu::empty().await;
    let token = emu.token().await;
    let records: Vec<Value> = (0..201)
        .map(|i| new_user(&format!("u{i}@acme.com")))
        .collect();
    let (s, _, body) = emu
        .post(&token, "composite/sobjects", &collection(&records, false))
        .await;
    assert_eq!(s, 400);
    insta::assert_json_snapshot!("collection_over_200", body);
    assert!(emu.users().is_empty());
    let (s, _, body) = emu
        .post(
            &token,
            "composite/sobjects",
            &collection(&records[..200], false),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body.as_array().unwrap().len(), 200);
    assert_eq!(emu.users().len(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_username_have_exactly_one_winner() {
    let emu = Arc::new(Emu::empty().await);
    let token = emu.token().await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let emu = emu.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = new_user(if i % 2 == 0 {
                "race@acme.com"
            } else {
                "RACE@acme.com"
            });
            r["Alias"] = json!(format!("r{i}"));
            let (s, _, _) = if i % 3 == 0 {
                emu.post(&token, "composite/sobjects", &collection(&[r], false))
                    .await
            } else {
                emu.post(&token, "sobjects/User", &r).await
            };
            s
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let c = emu.counters();
    assert_eq!(c.users_created, 1);
    assert_eq!(c.duplicate_username_attempts, 31);
    assert_eq!(emu.users().len(), 1);
}

// ---------- faults ----------

fn faulty(kinds: Vec<FaultKind>, fault_rate: f64, lost_answer_rate: f64, seed: u64) -> OrgConfig {
    OrgConfig {
        faults: FaultPlan {
            seed,
            fault_rate,
            kinds,
            lost_answer_rate,
            ..FaultPlan::default()
        },
        ..OrgConfig::default()
    }
}

#[tokio::test]
async fn lost_answers_commit_then_close_the_connection() {
    let emu = Emu::start(faulty(vec![], 0.0, 1.0, 7)).await;
    let token = emu.token().await;
    let body = collection(
        &[new_user("lost1@acme.com"), new_user("lost2@acme.com")],
        false,
    );
    let err = emu
        .http
        .post(emu.api("composite/sobjects"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect_err("the answer is lost");
    assert!(!err.is_status(), "{err:?}");
    assert!(emu.user("lost1@acme.com").is_some() && emu.user("lost2@acme.com").is_some());
    let c = emu.counters();
    assert_eq!((c.lost_answers, c.users_created), (1, 2));
    let last = emu.log().into_iter().last().unwrap();
    assert_eq!(
        (last.kind, last.status, last.fault),
        (
            RequestKind::CreateCollection,
            None,
            Some(FaultKind::LostAnswer)
        )
    );
    // Queries never lose answers: the client can look the users up.
    let (s, b) = emu
        .query(
            &token,
            "SELECT Id FROM User WHERE Username IN ('lost1@acme.com','lost2@acme.com')",
        )
        .await;
    assert_eq!((s, b["totalSize"].clone()), (200, json!(2)));
    emu.stop().await;
}

#[tokio::test]
async fn dropped_connections_commit_nothing() {
    let emu = Emu::start(faulty(vec![FaultKind::Dropped], 1.0, 0.0, 7)).await;
    let token = emu.token().await;
    let err = emu
        .http
        .post(emu.api("sobjects/User"))
        .bearer_auth(&token)
        .json(&new_user("drop@acme.com"))
        .send()
        .await
        .expect_err("dropped");
    assert!(!err.is_status());
    assert!(emu.users().is_empty());
    assert_eq!(emu.counters().faults_dropped, 1);
    emu.stop().await;
}

#[tokio::test]
async fn server_unavailable_and_429_bodies() {
    let emu = Emu::start(faulty(vec![FaultKind::ServerUnavailable], 1.0, 0.0, 1)).await;
    let token = emu.token().await;
    let (s, _, b) = emu
        .post(
            &token,
            "composite/sobjects",
            &collection(&[new_user("a@acme.com")], false),
        )
        .await;
    assert_eq!(s, 503);
    assert_eq!(
        b,
        json!([{"message": "Server too busy", "errorCode": "SERVER_UNAVAILABLE"}])
    );
    assert!(emu.users().is_empty());
    emu.stop().await;

    let emu = Emu::start(faulty(vec![FaultKind::TooManyRequests], 1.0, 0.0, 1)).await;
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
    emu.stop().await;
}

#[tokio::test]
async fn unable_to_lock_row_fails_some_records_of_a_200_answer() {
    let emu = Emu::start(faulty(vec![FaultKind::LockRow], 1.0, 0.0, 3)).await;
    let token = emu.token().await;
    let records: Vec<Value> = (0..20)
        .map(|i| new_user(&format!("lock{i}@acme.com")))
        .collect();
    let (s, _, b) = emu
        .post(&token, "composite/sobjects", &collection(&records, false))
        .await;
    assert_eq!(s, 200);
    let results = b.as_array().unwrap();
    let locked: Vec<&Value> = results.iter().filter(|r| r["success"] == false).collect();
    assert!(
        !locked.is_empty() && locked.len() < 20,
        "{} locked",
        locked.len()
    );
    assert!(
        locked
            .iter()
            .all(|r| r["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW")
    );
    assert_eq!(emu.users().len(), 20 - locked.len());
    emu.stop().await;
}

#[tokio::test]
async fn the_same_seed_replays_the_same_faults() {
    async fn run(seed: u64) -> Vec<Option<FaultKind>> {
        let emu = Emu::start(faulty(FaultPlan::default().kinds, 0.4, 0.0, seed)).await;
        let token = emu.token().await;
        for i in 0..40 {
            let body = collection(&[new_user(&format!("s{i}@acme.com"))], false);
            let _ = emu
                .http
                .post(emu.api("composite/sobjects"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
        }
        let faults = emu
            .log()
            .into_iter()
            .filter(|r| r.kind == RequestKind::CreateCollection)
            .map(|r| r.fault)
            .collect();
        emu.stop().await;
        faults
    }
    let a = run(42).await;
    let b = run(42).await;
    let c = run(43).await;
    assert_eq!(a.len(), 40);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().filter(|f| f.is_some()).count() >= 5);
}
