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

// ---------- more create rules ----------

#[tokio::test]
async fn nickname_federation_id_and_license_rules() {
    let mut cfg = OrgConfig {
        users: crate::support::emu::seed_users(2),
        ..OrgConfig::default()
    };
    for p in &mut cfg.profiles {
        p.licenses = Some(3);
    }
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    let mut r = new_user("nick@acme.com");
    r["CommunityNickname"] = json!("USER00001");
    let (s, _, b) = emu.post(&token, "sobjects/User", &r).await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("DUPLICATE_COMM_NICKNAME"))
    );
    insta::assert_json_snapshot!("create_one_duplicate_nickname", b);
    let mut r = new_user("fed@acme.com");
    r["FederationIdentifier"] = json!("FED00002");
    let (s, _, b) = emu.post(&token, "sobjects/User", &r).await;
    assert_eq!(s, 400);
    insta::assert_json_snapshot!("create_one_duplicate_federation_id", b);
    // Two seeds hold Standard User licenses; one more fits, the next does not.
    assert_eq!(
        emu.post(&token, "sobjects/User", &new_user("third@acme.com"))
            .await
            .0,
        201
    );
    let (s, _, b) = emu
        .post(&token, "sobjects/User", &new_user("fourth@acme.com"))
        .await;
    assert_eq!(s, 400);
    insta::assert_json_snapshot!("create_one_license_limit", b);
    // An inactive user needs no license.
    let mut r = new_user("inactive@acme.com");
    r["IsActive"] = json!(false);
    assert_eq!(emu.post(&token, "sobjects/User", &r).await.0, 201);
    // Omitted nicknames are generated uniquely from the username's local part.
    let emu2 = Emu::empty().await;
    let token2 = emu2.token().await;
    let recs = [
        new_user("same@one.com"),
        new_user("same@two.com"),
        new_user("same@three.com"),
    ];
    let (_, _, b) = emu2
        .post(&token2, "composite/sobjects", &collection(&recs, false))
        .await;
    assert!(b.as_array().unwrap().iter().all(|r| r["success"] == true));
    let nicks: Vec<String> = emu2
        .users()
        .into_iter()
        .map(|u| u.community_nickname.unwrap())
        .collect();
    assert_eq!(nicks, ["same", "same1", "same2"]);
    emu2.stop().await;
    emu.stop().await;
}

#[tokio::test]
async fn get_patch_delete_and_describe_one_user() {
    let emu = Emu::with_users(2).await;
    let token = emu.token().await;
    let id = emu.users()[0].id.clone();
    let (s, _, b) = emu
        .get(&token, &format!("sobjects/User/{}", &id[..15]))
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["Id"], json!(id));
    assert_eq!(b["Username"], "user00001@seed.example.com");
    let resp = emu
        .http
        .patch(emu.api(&format!("sobjects/User/{id}")))
        .bearer_auth(&token)
        .json(&json!({"IsActive": false, "Email": "changed@acme.com", "Title": "Engineer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let u = emu.user("user00001@seed.example.com").unwrap();
    assert!(!u.is_active);
    assert_eq!(
        u.email.as_deref(),
        Some("user00001@seed.example.com"),
        "e-mail changes wait for confirmation"
    );
    let resp = emu
        .http
        .delete(emu.api(&format!("sobjects/User/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(emu.users().len(), 2);
    let (s, _, b) = emu.get(&token, "sobjects/User/005EM0000000zzz").await;
    assert_eq!((s, b[0]["errorCode"].clone()), (404, json!("NOT_FOUND")));
    let (s, _, b) = emu.get(&token, "sobjects/User/describe").await;
    assert_eq!(s, 200);
    let alias = b["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Alias")
        .unwrap();
    assert_eq!(alias["length"], 8);
    emu.stop().await;
}

#[tokio::test]
async fn concurrency_cap_refuses_requests_past_it() {
    let cfg = OrgConfig {
        max_in_flight: 2,
        faults: FaultPlan {
            latency: std::time::Duration::from_millis(1500),
            ..FaultPlan::default()
        },
        ..OrgConfig::default()
    };
    let emu = Arc::new(Emu::start(cfg).await);
    let token = emu.token().await;
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (emu, token) = (emu.clone(), token.clone());
        tasks.push(tokio::spawn(async move { emu.get(&token, "limits").await }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let (s, _, b) = t.await.unwrap();
        if s == 403 {
            assert_eq!(b[0]["message"], "ConcurrentPerOrgLongTxn Limit exceeded.");
        }
        statuses.push(s);
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 403, 403, 403]);
    // Refused requests leave at once, so the peak is at least the cap plus one.
    assert!(emu.counters().max_in_flight >= 3);
}

#[tokio::test]
async fn inspection_endpoints_serve_log_counters_and_users_as_json() {
    let emu = Emu::with_users(3).await;
    let token = emu.token().await;
    emu.get(&token, "limits").await;
    let counters: Value = emu
        .http
        .get(emu.url("/_emulator/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["api_calls"], 1);
    assert_eq!(counters["token_calls"], 1);
    let log: Value = emu
        .http
        .get(emu.url("/_emulator/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Token", "Limits", "Inspect"]);
    let users: Value = emu
        .http
        .get(emu.url("/_emulator/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 3);
    assert_eq!(users[0]["Username"], "user00001@seed.example.com");
    emu.stop().await;
}

// ---------- JWT bearer ----------

/// An RSA key pair made with openssl for this test (private PEM, public PEM).
fn rsa_pair(dir: &std::path::Path, name: &str) -> (Vec<u8>, Vec<u8>) {
    let key = dir.join(format!("{name}.key"));
    let pub_ = dir.join(format!("{name}.pub"));
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .status()
        .expect("openssl is installed")
        .success();
    assert!(ok);
    let ok = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&pub_)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    (std::fs::read(key).unwrap(), std::fs::read(pub_).unwrap())
}

#[tokio::test]
async fn jwt_bearer_verifies_signature_exp_and_aud() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = rsa_pair(dir.path(), "app");
    let (other_private, _) = rsa_pair(dir.path(), "other");
    let mut cfg = OrgConfig {
        jwt_public_key: Some(public),
        ..OrgConfig::default()
    };
    cfg.credentials.client_id = Some("consumer-key".into());
    cfg.credentials.username = Some("svc@acme.com".into());
    let emu = Emu::start(cfg).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |key: &[u8], claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_rsa_pem(key).unwrap(),
        )
        .unwrap()
    };
    let claims = |aud: &str, exp: u64, sub: &str| json!({"iss": "consumer-key", "sub": sub, "aud": aud, "exp": exp});
    let ask = |assertion: String| {
        let req = emu.http.post(emu.url("/services/oauth2/token")).form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string(),
            ),
            ("assertion", assertion),
        ]);
        async move { split(req.send().await.unwrap()).await }
    };
    let (s, _, b) = ask(sign(
        &private,
        claims("https://login.salesforce.com", now + 180, "svc@acme.com"),
    ))
    .await;
    assert_eq!(s, 200, "{b}");
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["access_token", "id", "instance_url", "scope", "token_type"]
    );
    let (s, _, _) = ask(sign(
        &private,
        claims(&emu.base_url, now + 180, "svc@acme.com"),
    ))
    .await;
    assert_eq!(s, 200, "the emulator's own URL is an accepted audience");
    let cases = [
        (
            sign(
                &private,
                claims("https://login.salesforce.com", now - 10, "svc@acme.com"),
            ),
            "expired authorization code",
        ),
        (
            sign(
                &private,
                claims("https://evil.example.com", now + 180, "svc@acme.com"),
            ),
            "audience is invalid",
        ),
        (
            sign(
                &private,
                claims(
                    "https://login.salesforce.com",
                    (now + 180) * 1000,
                    "svc@acme.com",
                ),
            ),
            "invalid assertion",
        ),
        (
            sign(
                &other_private,
                claims("https://login.salesforce.com", now + 180, "svc@acme.com"),
            ),
            "invalid assertion",
        ),
        (
            sign(
                &private,
                claims(
                    "https://login.salesforce.com",
                    now + 180,
                    "someone@acme.com",
                ),
            ),
            "user hasn't approved this consumer",
        ),
    ];
    for (assertion, why) in cases {
        let (s, _, b) = ask(assertion).await;
        assert_eq!(
            (s, b),
            (
                400,
                json!({"error": "invalid_grant", "error_description": why})
            )
        );
    }
    emu.stop().await;
}

// ---------- the subcommand and seed files ----------

fn emulator_args(extra: &[&str]) -> sfsync::cli::EmulatorArgs {
    use clap::Parser;
    let mut argv = vec!["sfsync", "emulator"];
    argv.extend_from_slice(extra);
    match sfsync::cli::Cli::try_parse_from(argv).unwrap().command {
        sfsync::cli::Command::Emulator(a) => a,
        _ => unreachable!(),
    }
}

#[test]
fn seed_files_load_and_bad_ones_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let profiles = p(
        "profiles.csv",
        "Id,Name,Licenses\n00e90000001aV2o,Chatter Free User,5000\n00eEM0000000009,Custom Sales,2\n",
    );
    let users = p(
        "users.csv",
        "Username,Email,FirstName,LastName,Alias,IsActive,FederationIdentifier,ProfileId\n\
         ada@acme.com,ada@acme.com,Ada,Lovelace,alove,true,ada,00e90000001aV2o\n\
         bob@acme.com,bob@acme.com,Bob,Smith,bsmit,false,,00eEM0000000009AAA\n",
    );
    let foreign = p("foreign.txt", "# taken elsewhere\n\ncarol@acme.com\n");
    let cfg = sfsync::emulator::OrgConfig::from_args(&emulator_args(&[
        "--users",
        &users,
        "--profiles",
        &profiles,
        "--foreign-usernames",
        &foreign,
    ]))
    .unwrap();
    assert_eq!(cfg.users.len(), 2);
    assert!(!cfg.users[1].is_active);
    assert_eq!(cfg.profiles[1].licenses, Some(2));
    assert_eq!(cfg.foreign_usernames, ["carol@acme.com"]);
    let org = sfsync::emulator::Org::new(cfg);
    let u = org.users();
    assert_eq!(u[0].profile_id, "00e90000001aV2oAAE");
    assert_eq!(u[0].user_type.as_deref(), Some("CsnOnly"));
    assert_eq!(u[1].federation_identifier, None);

    let err = |args: &[&str]| {
        sfsync::emulator::OrgConfig::from_args(&emulator_args(args))
            .unwrap_err()
            .to_string()
    };
    let bad_col = p("bad-col.csv", "Username,Shoe\nx@acme.com,42\n");
    assert_eq!(
        err(&["--users", &bad_col]),
        format!("{bad_col}:1: unknown User field `Shoe` in header")
    );
    let bad_profile = p(
        "bad-profile.csv",
        "Username,ProfileId\nx@acme.com,00e90000001aV2o\ny@acme.com,00e000000000001\n",
    );
    assert_eq!(
        err(&["--users", &bad_profile]),
        format!("{bad_profile}:3: ProfileId `00e000000000001` is not one of the org's profiles")
    );
    let twice = p("twice.csv", "Username\nx@acme.com\nX@acme.com\n");
    assert_eq!(
        err(&["--users", &twice]),
        format!("{twice}:3: username `X@acme.com` appears twice")
    );
    let bad_foreign = p("bad-foreign.txt", "ok@acme.com\nnot a username\n");
    assert_eq!(
        err(&["--foreign-usernames", &bad_foreign]),
        format!("{bad_foreign}:2: `not a username` is not a username")
    );
    assert!(err(&["--fault-rate", "1.5"]).contains("--fault-rate"));
    assert!(err(&["--faults", "503,boom"]).contains("boom"));
}

#[tokio::test]
async fn the_subcommand_prints_its_url_serves_and_saves_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("final.csv");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--save"])
        .arg(&save)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let http = reqwest::Client::new();
    let tok: Value = http
        .post(format!("{base}/services/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "c"),
            ("client_secret", "s"),
            ("username", "u@x.com"),
            ("password", "p"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http
        .post(format!("{base}/services/data/{V}/sobjects/User"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .json(&new_user("saved@acme.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let saved = std::fs::read_to_string(&save).unwrap();
    assert!(saved.starts_with("Id,Username,Email,"), "{saved}");
    assert!(
        saved
            .lines()
            .nth(1)
            .unwrap()
            .contains(",saved@acme.com,saved@acme.com,")
    );
    // The saved org seeds the next run.
    let cfg = sfsync::emulator::OrgConfig::from_args(&emulator_args(&[
        "--users",
        save.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(cfg.users.len(), 1);
}

#[test]
fn emulator_help_documents_every_option() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .args(["emulator", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--users",
        "--foreign-usernames",
        "--profiles",
        "--latency-ms",
        "--fault-rate",
        "--lost-answer-rate",
        "--seed",
        "--daily-api-limit",
        "--token-ttl",
        "--save",
        "--client-id",
        "--client-secret",
        "--username",
        "--password",
        "--jwt-public-key",
        "--jwt-audience",
        "--license-limit",
        "--licenses",
        "--undeactivatable",
        "--access",
        "--token-ttl-secs",
        "--max-in-flight",
        "--faults",
        "--retry-after-secs",
        "--client-credentials-on-generic-host",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[tokio::test]
async fn query_all_pages_like_query_and_oversized_headers_answer_431() {
    let emu = Emu::with_users(2_500).await;
    let token = emu.token().await;
    let resp = emu
        .http
        .get(emu.api("queryAll"))
        .query(&[("q", "SELECT Id FROM User LIMIT 2100")])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(resp).await;
    assert_eq!((s, b["totalSize"].clone()), (200, json!(2100)));
    let next = b["nextRecordsUrl"]
        .as_str()
        .unwrap()
        .replace("/query/", "/queryAll/");
    let resp = emu
        .http
        .get(emu.url(&next))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(resp).await;
    assert_eq!(
        (s, b["done"].clone(), b["records"].as_array().unwrap().len()),
        (200, json!(true), 100)
    );
    // A page can be fetched again (a client retrying after a fault gets the same rows).
    let resp = emu
        .http
        .get(emu.url(&next))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        split(resp).await.2["records"].as_array().unwrap().len(),
        100
    );
    let resp = emu
        .http
        .get(emu.api("limits"))
        .header("X-Padding", "x".repeat(16_400))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
    emu.stop().await;
}

#[tokio::test]
async fn latency_is_added_to_api_calls_and_tokens_can_expire_by_age() {
    let cfg = OrgConfig {
        faults: FaultPlan {
            latency: std::time::Duration::from_millis(200),
            ..FaultPlan::default()
        },
        ..OrgConfig::default()
    };
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    assert_eq!(emu.get(&token, "limits").await.0, 200);
    let log = emu.log();
    let limits = log.iter().find(|r| r.kind == RequestKind::Limits).unwrap();
    // Jitter is at most 20%, so at least 160 ms were spent in the emulator
    // (a lower bound a sleep guarantees; no upper bound is asserted).
    assert!(
        limits.finished_us - limits.started_us >= 160_000,
        "{limits:?}"
    );
    emu.stop().await;

    let emu = Emu::start(OrgConfig {
        token_ttl: Some(std::time::Duration::ZERO),
        ..OrgConfig::default()
    })
    .await;
    let token = emu.token().await;
    let (s, _, b) = emu.get(&token, "limits").await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (401, json!("INVALID_SESSION_ID"))
    );
    emu.stop().await;
}
