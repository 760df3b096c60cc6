//! The emulator's lifecycle side (issue 15) over real HTTP: PATCH of one User
//! and of collections, read-only fields, e-mail changes held pending,
//! deactivation refusals, licences, UserLogin freeze, the SOQL a leaver query
//! sends, and faults on PATCH. Bodies are the documented ones
//! (`reference/salesforce-lifecycle.md` §1, §2).

use serde_json::{Value, json};
use sfsync::emulator::{
    CHATTER_FREE_PROFILE_ID, FaultKind, FaultPlan, OrgConfig, RequestKind, SYSTEM_ADMIN_PROFILE_ID,
    SeedUser, UNDEACTIVATABLE_MESSAGE,
};

use crate::support::emu::{Emu, collection_of, new_user, split};

/// The username `Emu::token` logs in with: the API user when it is in the org.
const API_USER: &str = "svc@example.com";

/// Replaces generated Ids so bodies snapshot stably.
fn scrub(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() == 18 && s.starts_with("005") => json!("[user id]"),
        Value::String(s) if s.len() == 18 && s.starts_with("0Yw") => json!("[login id]"),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), scrub(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()),
        other => other.clone(),
    }
}

/// An org with the API user, three people and one inactive person.
fn people() -> OrgConfig {
    OrgConfig {
        users: vec![
            SeedUser::new(API_USER).with("ProfileId", SYSTEM_ADMIN_PROFILE_ID),
            SeedUser::new("ann@acme.com")
                .with("Title", "Analyst")
                .with("Department", "Finance")
                .with("FederationIdentifier", "ann")
                .with("ProfileId", CHATTER_FREE_PROFILE_ID),
            SeedUser::new("bob@acme.com")
                .with("Title", "Engineer")
                .with("FederationIdentifier", "bob")
                .with("ProfileId", CHATTER_FREE_PROFILE_ID),
            SeedUser::new("cat@acme.com").with("ProfileId", CHATTER_FREE_PROFILE_ID),
            SeedUser::new("dan@acme.com").inactive(),
        ],
        ..OrgConfig::default()
    }
}

async fn patch(emu: &Emu, token: &str, rest: &str, body: &Value) -> (u16, Value) {
    let resp = emu
        .http
        .patch(emu.api(rest))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("PATCH");
    let (s, _, b) = split(resp).await;
    (s, b)
}

fn id_of(emu: &Emu, username: &str) -> String {
    emu.user(username).expect("user exists").id
}

// ---------- PATCH one user ----------

#[tokio::test]
async fn patch_one_user_answers_204_with_no_body_and_applies_the_change() {
    // Given a user with a title,
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let ann = id_of(&emu, "ann@acme.com");
    // when the title and department are PATCHed (15-character Id),
    let resp = emu
        .http
        .patch(emu.api(&format!("sobjects/User/{}", &ann[..15])))
        .bearer_auth(&token)
        .json(&json!({"Title": "Manager", "Department": "Sales"}))
        .send()
        .await
        .unwrap();
    // then the answer is 204 with an empty body and the record changed,
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.text().await.unwrap(), "");
    let (s, _, b) = emu.get(&token, &format!("sobjects/User/{ann}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        (b["Title"].clone(), b["Department"].clone()),
        (json!("Manager"), json!("Sales"))
    );
    // and a client that cannot PATCH may POST with `_HttpMethod=PATCH`.
    let resp = emu
        .http
        .post(emu.api(&format!("sobjects/User/{ann}?_HttpMethod=PATCH")))
        .bearer_auth(&token)
        .json(&json!({"Title": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (_, _, b) = emu.get(&token, &format!("sobjects/User/{ann}")).await;
    assert_eq!(b["Title"], Value::Null);
    // Both are logged as updates, so tests can count them.
    let patches: Vec<_> = emu
        .log()
        .into_iter()
        .filter(|r| r.kind == RequestKind::UpdateOne)
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        patches,
        [
            ("PATCH".to_string(), Some(204)),
            ("POST".to_string(), Some(204))
        ]
    );
    assert_eq!(emu.counters().update_one_calls, 2);
    assert_eq!(emu.counters().users_updated, 2);
    emu.stop().await;
}

#[tokio::test]
async fn patch_of_an_unknown_or_malformed_id_answers_404_or_malformed_id() {
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let (s, b) = patch(
        &emu,
        &token,
        "sobjects/User/005EM0000000zzz",
        &json!({"Title": "x"}),
    )
    .await;
    assert_eq!(
        (s, b),
        (
            404,
            json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
        )
    );
    let (s, b) = patch(
        &emu,
        &token,
        "sobjects/User/001EM0000000001",
        &json!({"Title": "x"}),
    )
    .await;
    assert_eq!(
        (s, b),
        (
            400,
            json!([{"message": "User ID: id value of incorrect type: 001EM0000000001", "errorCode": "MALFORMED_ID"}])
        )
    );
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{}", id_of(&emu, "ann@acme.com")),
        &json!({"Nickname__c": "x"}),
    )
    .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("INVALID_FIELD"))
    );
    emu.stop().await;
}

#[tokio::test]
async fn read_only_fields_are_refused_with_invalid_field_for_insert_update_and_nothing_changes() {
    // Given a user,
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let ann = id_of(&emu, "ann@acme.com");
    // when a PATCH sends a computed field beside a writable one,
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{ann}"),
        &json!({"Name": "Ann Other", "UserType": "Standard", "Title": "Boss"}),
    )
    .await;
    // then the whole record is refused with the documented message
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!([{
            "message": "Unable to create/update fields: Name, UserType. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
            "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
            "fields": ["Name", "UserType"]
        }])
    );
    // and the writable field was not applied either.
    let (_, _, b) = emu.get(&token, &format!("sobjects/User/{ann}")).await;
    assert_eq!(b["Title"], "Analyst");
    assert_eq!(emu.counters().updates_refused, 1);
    emu.stop().await;
}

#[tokio::test]
async fn an_email_change_is_held_pending_and_never_applied() {
    // Given an active and an inactive user,
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let ann = id_of(&emu, "ann@acme.com");
    // when the active one's e-mail is changed,
    let (s, _) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{ann}"),
        &json!({"Email": "ann.new@acme.com", "Title": "Lead"}),
    )
    .await;
    // then Salesforce accepts it (204), applies the other fields, keeps the
    // old address and holds the new one until the owner confirms it;
    assert_eq!(s, 204);
    let (_, b) = emu
        .query(
            &token,
            &format!("SELECT Email, Title FROM User WHERE Id = '{ann}'"),
        )
        .await;
    assert_eq!(
        (
            b["records"][0]["Email"].clone(),
            b["records"][0]["Title"].clone()
        ),
        (json!("ann@acme.com"), json!("Lead"))
    );
    assert_eq!(
        emu.org.pending_email("ann@acme.com").as_deref(),
        Some("ann.new@acme.com")
    );
    // and on an inactive user the change is refused.
    let dan = id_of(&emu, "dan@acme.com");
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{dan}"),
        &json!({"Email": "dan.new@acme.com"}),
    )
    .await;
    assert_eq!(s, 400);
    insta::assert_json_snapshot!("patch_email_of_inactive_user", b);
    assert_eq!(emu.org.pending_email("dan@acme.com"), None);
    emu.stop().await;
}

// ---------- collections ----------

#[tokio::test]
async fn collection_update_answers_per_record_results_in_order_and_failed_items_carry_no_id() {
    // Given three users,
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let (ann, bob) = (id_of(&emu, "ann@acme.com"), id_of(&emu, "bob@acme.com"));
    // when a collection updates two of them around a malformed Id and a taken username,
    let body = collection_of(
        "User",
        &[
            json!({"id": ann, "Title": "Manager"}),
            json!({"id": "001EM0000000001AAA", "Title": "x"}),
            json!({"id": bob, "Username": "ann@acme.com"}),
            json!({"id": bob, "Department": "R&D"}),
            json!({"Title": "no id"}),
        ],
        false,
    );
    let (s, b) = patch(&emu, &token, "composite/sobjects", &body).await;
    // then the call answers 200 with one result per record, in order,
    assert_eq!(s, 200);
    assert_eq!(b[0]["id"], json!(ann));
    assert_eq!(b[3]["id"], json!(bob));
    insta::assert_json_snapshot!("update_collection_mixed_results", scrub(&b));
    // and the good records were applied.
    assert!(emu.user("ann@acme.com").unwrap().is_active);
    let (_, q) = emu
        .query(&token, "SELECT Username, Title, Department FROM User WHERE Username IN ('ann@acme.com','bob@acme.com') ORDER BY Username")
        .await;
    assert_eq!(q["records"][0]["Title"], "Manager");
    assert_eq!(q["records"][1]["Department"], "R&D");
    assert_eq!(emu.counters().update_collection_calls, 1);
    emu.stop().await;
}

#[tokio::test]
async fn collection_update_with_all_or_none_rolls_back_the_valid_records() {
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let (ann, bob) = (id_of(&emu, "ann@acme.com"), id_of(&emu, "bob@acme.com"));
    let body = collection_of(
        "User",
        &[
            json!({"id": ann, "Title": "Manager", "IsActive": false}),
            json!({"id": bob, "Name": "Bob"}),
        ],
        true,
    );
    let (s, b) = patch(&emu, &token, "composite/sobjects", &body).await;
    assert_eq!(s, 200);
    // The valid record keeps its id, with success false and the roll-back code;
    assert_eq!(
        b[0],
        json!({"id": ann, "success": false, "errors": [{
            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
            "fields": []
        }]})
    );
    // the failing one has its own error and no id;
    assert_eq!(b[1]["success"], false);
    assert!(b[1].get("id").is_none());
    assert_eq!(
        b[1]["errors"][0]["statusCode"],
        "INVALID_FIELD_FOR_INSERT_UPDATE"
    );
    // and nothing was applied, the licence count included.
    let a = emu.user("ann@acme.com").unwrap();
    assert!(a.is_active);
    let (_, _, g) = emu.get(&token, &format!("sobjects/User/{ann}")).await;
    assert_eq!(g["Title"], "Analyst");
    let used: u64 = emu
        .org
        .licenses_used()
        .into_iter()
        .filter(|(l, _)| l == "Chatter Free")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(used, 3);
    emu.stop().await;
}

#[tokio::test]
async fn collection_update_refuses_more_than_200_records_and_mixed_types() {
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let ann = id_of(&emu, "ann@acme.com");
    let many: Vec<Value> = (0..201).map(|_| json!({"id": ann, "Title": "x"})).collect();
    let (s, b) = patch(
        &emu,
        &token,
        "composite/sobjects",
        &collection_of("User", &many, false),
    )
    .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("EXCEEDED_ID_LIMIT"))
    );
    let mut mixed = collection_of("User", &[json!({"id": ann, "Title": "x"})], false);
    mixed["records"].as_array_mut().unwrap().push(
        json!({"attributes": {"type": "UserLogin"}, "id": "0YwEM0000000001", "IsFrozen": true}),
    );
    let (s, _) = patch(&emu, &token, "composite/sobjects", &mixed).await;
    assert_eq!(s, 400);
    let (_, _, g) = emu.get(&token, &format!("sobjects/User/{ann}")).await;
    assert_eq!(g["Title"], "Analyst", "a refused call changes nothing");
    emu.stop().await;
}

// ---------- deactivation ----------

#[tokio::test]
async fn deactivating_the_api_user_is_refused_and_the_others_go_on() {
    // Given an org whose API user is one of its users,
    let emu = Emu::start(people()).await;
    let resp = emu
        .http
        .post(emu.url("/services/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "c"),
            ("client_secret", "s"),
            ("username", API_USER),
            ("password", "p"),
        ])
        .send()
        .await
        .unwrap();
    let (_, _, tok) = split(resp).await;
    let token = tok["access_token"].as_str().unwrap().to_string();
    let svc = id_of(&emu, API_USER);
    // the token's identity URL names that user,
    assert!(
        tok["id"].as_str().unwrap().ends_with(&format!("/{svc}")),
        "identity URL {} names the API user {svc}",
        tok["id"]
    );
    // when it and another user are deactivated in one collection,
    let cat = id_of(&emu, "cat@acme.com");
    let body = collection_of(
        "User",
        &[
            json!({"id": svc, "IsActive": false}),
            json!({"id": cat, "IsActive": false}),
        ],
        false,
    );
    let (s, b) = patch(&emu, &token, "composite/sobjects", &body).await;
    // then the API user is refused and stays active, and the other is deactivated.
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("deactivate_api_user_refused", scrub(&b));
    assert!(emu.user(API_USER).unwrap().is_active);
    assert!(!emu.user("cat@acme.com").unwrap().is_active);
    // A single PATCH is refused the same way, as a top-level error array.
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{svc}"),
        &json!({"IsActive": false}),
    )
    .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("FIELD_INTEGRITY_EXCEPTION"))
    );
    emu.stop().await;
}

#[tokio::test]
async fn an_undeactivatable_user_is_refused_and_its_rename_discarded_with_it() {
    // Given bob is the Default Workflow User,
    let cfg = OrgConfig {
        undeactivatable: vec!["BOB@acme.com".into()],
        ..people()
    };
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    let (bob, cat) = (id_of(&emu, "bob@acme.com"), id_of(&emu, "cat@acme.com"));
    // when bob is renamed and deactivated in one PATCH, and cat deactivated,
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{bob}"),
        &json!({"IsActive": false, "Username": "old-bob@acme.com"}),
    )
    .await;
    // then bob's save is refused with Salesforce's words and nothing of it lands,
    assert_eq!(
        (s, b),
        (
            400,
            json!([{"message": UNDEACTIVATABLE_MESSAGE, "errorCode": "FIELD_INTEGRITY_EXCEPTION", "fields": []}])
        )
    );
    let b_now = emu.user("bob@acme.com").expect("bob keeps his username");
    assert!(b_now.is_active);
    // other changes to bob are still allowed,
    let (s, _) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{bob}"),
        &json!({"Title": "Workflow"}),
    )
    .await;
    assert_eq!(s, 204);
    // and anyone else deactivates normally.
    let (s, _) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{cat}"),
        &json!({"IsActive": false}),
    )
    .await;
    assert_eq!(s, 204);
    assert!(!emu.user("cat@acme.com").unwrap().is_active);
    emu.stop().await;
}

// ---------- licences ----------

#[tokio::test]
async fn licences_are_counted_per_licence_on_create_and_on_reactivation() {
    // Given the Salesforce licence (Standard User and System Administrator)
    // capped at 3, with the API user and dan (inactive) on it,
    let mut cfg = people();
    for p in &mut cfg.profiles {
        p.licenses = Some(3);
    }
    cfg.users.push(SeedUser::new("eve@acme.com").inactive());
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    // one create fits (2 of 3 used),
    let (s, _, _) = emu
        .post(&token, "sobjects/User", &new_user("new@acme.com"))
        .await;
    assert_eq!(s, 201);
    // reactivating dan fills the licence (3 of 3),
    let dan = id_of(&emu, "dan@acme.com");
    let (s, _) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{dan}"),
        &json!({"IsActive": true}),
    )
    .await;
    assert_eq!(s, 204);
    // and then neither a create of a System Administrator nor a reactivation fits;
    let mut admin = new_user("admin2@acme.com");
    admin["ProfileId"] = json!(SYSTEM_ADMIN_PROFILE_ID);
    let (s, _, b) = emu.post(&token, "sobjects/User", &admin).await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("LICENSE_LIMIT_EXCEEDED"))
    );
    let eve = id_of(&emu, "eve@acme.com");
    let body = collection_of(
        "User",
        &[json!({"id": eve, "IsActive": true, "Title": "Back"})],
        false,
    );
    let (s, b) = patch(&emu, &token, "composite/sobjects", &body).await;
    assert_eq!(s, 200);
    assert_eq!(
        b,
        json!([{"success": false, "errors": [{"statusCode": "LICENSE_LIMIT_EXCEEDED", "message": "License Limit Exceeded", "fields": []}]}])
    );
    assert!(!emu.user("eve@acme.com").unwrap().is_active);
    // Deactivating one frees a licence for the next reactivation.
    let (s, _) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{dan}"),
        &json!({"IsActive": false}),
    )
    .await;
    assert_eq!(s, 204);
    let (_, b) = patch(&emu, &token, "composite/sobjects", &body).await;
    assert_eq!(b[0]["success"], true);
    assert!(emu.user("eve@acme.com").unwrap().is_active);
    // Chatter Free users never counted against the Salesforce licence.
    let used = emu.org.licenses_used();
    assert!(used.contains(&("Salesforce".to_string(), 3)), "{used:?}");
    assert!(used.contains(&("Chatter Free".to_string(), 3)), "{used:?}");
    emu.stop().await;
}

#[tokio::test]
async fn a_profile_change_to_another_licence_is_refused() {
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let ann = id_of(&emu, "ann@acme.com");
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{ann}"),
        &json!({"ProfileId": SYSTEM_ADMIN_PROFILE_ID}),
    )
    .await;
    assert_eq!(
        (s, b),
        (
            400,
            json!([{"message": "You can only reassign this user to a profile of the current license.", "errorCode": "FIELD_INTEGRITY_EXCEPTION", "fields": ["ProfileId"]}])
        )
    );
    emu.stop().await;
}

// ---------- UserLogin ----------

#[tokio::test]
async fn user_login_is_queried_by_user_id_and_frozen_by_single_and_collection_patch() {
    // Given three users,
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let ids: Vec<String> = ["ann@acme.com", "bob@acme.com", "cat@acme.com"]
        .iter()
        .map(|u| id_of(&emu, u))
        .collect();
    // when their UserLogin rows are read the way a freeze does,
    let soql = format!(
        "SELECT Id, UserId, IsFrozen FROM UserLogin WHERE UserId IN ('{}','{}','{}')",
        ids[0], ids[1], ids[2]
    );
    let (s, b) = emu.query(&token, &soql).await;
    // then there is one row per user, not frozen,
    assert_eq!((s, b["totalSize"].clone()), (200, json!(3)));
    insta::assert_json_snapshot!("user_login_rows", scrub(&b["records"][0]));
    let login: Vec<String> = b["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect();
    assert!(login.iter().all(|l| l.starts_with("0Yw")));
    // one is frozen by a single PATCH and two by a collection,
    let (s, _) = patch(
        &emu,
        &token,
        &format!("sobjects/UserLogin/{}", login[0]),
        &json!({"IsFrozen": true}),
    )
    .await;
    assert_eq!(s, 204);
    let body = collection_of(
        "UserLogin",
        &[
            json!({"id": login[1], "IsFrozen": true}),
            json!({"id": login[2], "IsFrozen": true}),
        ],
        false,
    );
    let (s, b) = patch(&emu, &token, "composite/sobjects", &body).await;
    assert_eq!(s, 200);
    assert_eq!(
        b,
        json!([
            {"id": login[1], "success": true, "errors": []},
            {"id": login[2], "success": true, "errors": []}
        ])
    );
    // and all three read back frozen while staying active (a freeze keeps the licence).
    let (_, b) = emu
        .query(
            &token,
            &format!(
                "SELECT UserId FROM UserLogin WHERE IsFrozen = true AND UserId IN ('{}','{}','{}')",
                ids[0], ids[1], ids[2]
            ),
        )
        .await;
    assert_eq!(b["totalSize"], 3);
    assert_eq!(emu.org.is_frozen("ann@acme.com"), Some(true));
    assert!(emu.user("ann@acme.com").unwrap().is_active);
    // UserLogin has no create and refuses a password lock.
    let (s, _, _) = emu
        .post(
            &token,
            &format!("sobjects/UserLogin/{}", login[0]),
            &json!({}),
        )
        .await;
    assert_eq!(s, 405);
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/UserLogin/{}", login[0]),
        &json!({"IsPasswordLocked": true}),
    )
    .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("FIELD_INTEGRITY_EXCEPTION"))
    );
    let (s, b) = patch(
        &emu,
        &token,
        "sobjects/UserLogin/0YwEM00000zzzzz",
        &json!({"IsFrozen": true}),
    )
    .await;
    assert_eq!((s, b[0]["errorCode"].clone()), (404, json!("NOT_FOUND")));
    emu.stop().await;
}

// ---------- SOQL for updates and leavers ----------

#[tokio::test]
async fn soql_reads_update_fields_and_the_leaver_scope() {
    // Given people on two profiles, one inactive and one without a Federation ID,
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    // when the leaver query of a job is sent,
    let (s, b) = emu
        .query(
            &token,
            "SELECT Id, Username, Title, Department, FederationIdentifier, Profile.Name FROM User \
             WHERE IsActive = true AND (Profile.Name = 'Chatter Free User' AND FederationIdentifier != null) \
             ORDER BY Username",
        )
        .await;
    // then only active, in-scope users come back, the relationship nested as Salesforce nests it.
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("leaver_scope_query", scrub(&b));
    let (_, b) = emu
        .query(
            &token,
            "SELECT COUNT() FROM User WHERE Profile.Name != 'Chatter Free User'",
        )
        .await;
    assert_eq!(b["totalSize"], 2);
    let (s, b) = emu
        .query(&token, "SELECT Id FROM User WHERE Manager.Name = 'x'")
        .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("INVALID_FIELD"))
    );
    emu.stop().await;
}

// ---------- faults ----------

#[tokio::test]
async fn lost_answers_and_lock_faults_apply_to_patch_as_to_post() {
    // Given every write loses its answer,
    let cfg = OrgConfig {
        faults: FaultPlan {
            lost_answer_rate: 1.0,
            ..FaultPlan::default()
        },
        ..people()
    };
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    let ann = id_of(&emu, "ann@acme.com");
    // when a collection update is sent,
    let body = collection_of("User", &[json!({"id": ann, "Title": "Lost"})], false);
    let err = emu
        .http
        .patch(emu.api("composite/sobjects"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect_err("the answer is lost");
    assert!(!err.is_status());
    // then the update was committed and the log shows the PATCH without an answer.
    let (_, q) = emu
        .query(
            &token,
            &format!("SELECT Title FROM User WHERE Id = '{ann}'"),
        )
        .await;
    assert_eq!(q["records"][0]["Title"], "Lost");
    let last = emu
        .log()
        .into_iter()
        .find(|r| r.kind == RequestKind::UpdateCollection)
        .unwrap();
    assert_eq!(
        (last.status, last.fault),
        (None, Some(FaultKind::LostAnswer))
    );
    assert_eq!(emu.counters().lost_answers, 1);
    emu.stop().await;

    // Given every write meets a locked row,
    let cfg = OrgConfig {
        faults: FaultPlan {
            fault_rate: 1.0,
            kinds: vec![FaultKind::LockRow],
            ..FaultPlan::default()
        },
        ..people()
    };
    let emu = Emu::start(cfg).await;
    let token = emu.token().await;
    let (ann, bob) = (id_of(&emu, "ann@acme.com"), id_of(&emu, "bob@acme.com"));
    let body = collection_of(
        "User",
        &[
            json!({"id": ann, "Title": "A"}),
            json!({"id": bob, "Title": "B"}),
        ],
        false,
    );
    let (s, b) = patch(&emu, &token, "composite/sobjects", &body).await;
    assert_eq!(s, 200);
    assert_eq!(b[0]["errors"][0]["statusCode"], "UNABLE_TO_LOCK_ROW");
    assert!(b[0].get("id").is_none());
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{bob}"),
        &json!({"Title": "C"}),
    )
    .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (500, json!("UNABLE_TO_LOCK_ROW"))
    );
    let (_, q) = emu
        .query(
            &token,
            &format!("SELECT Title FROM User WHERE Id = '{ann}'"),
        )
        .await;
    assert_eq!(
        q["records"][0]["Title"], "Analyst",
        "a locked row is not written"
    );
    emu.stop().await;
}

// ---------- flags ----------

#[test]
fn license_limit_and_undeactivatable_flags_build_the_config() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("undeactivatable.txt");
    std::fs::write(
        &file,
        "# default workflow user\nwf@acme.com\n\nlead.owner@acme.com\n",
    )
    .unwrap();
    let args = match sfsync::cli::Cli::try_parse_from([
        "sfsync",
        "emulator",
        "--license-limit",
        "7",
        "--undeactivatable",
        file.to_str().unwrap(),
    ])
    .unwrap()
    .command
    {
        sfsync::cli::Command::Emulator(a) => a,
        _ => unreachable!(),
    };
    let cfg = OrgConfig::from_args(&args).unwrap();
    assert!(cfg.profiles.iter().all(|p| p.licenses == Some(7)));
    assert_eq!(cfg.undeactivatable, ["wf@acme.com", "lead.owner@acme.com"]);
    std::fs::write(&file, "not a username\n").unwrap();
    let err = OrgConfig::from_args(&args).unwrap_err().to_string();
    assert!(err.contains("undeactivatable.txt:1"), "{err}");
}

#[tokio::test]
async fn a_rename_frees_the_old_username_and_a_rolled_back_rename_does_not() {
    // Given two users,
    let emu = Emu::start(people()).await;
    let token = emu.token().await;
    let (ann, bob) = (id_of(&emu, "ann@acme.com"), id_of(&emu, "bob@acme.com"));
    // when bob's rename rolls back with a failing record under allOrNone,
    let body = collection_of(
        "User",
        &[
            json!({"id": bob, "Username": "robert@acme.com"}),
            json!({"id": ann, "Username": "not-an-address"}),
        ],
        true,
    );
    let (_, b) = patch(&emu, &token, "composite/sobjects", &body).await;
    assert_eq!(b[1]["errors"][0]["statusCode"], "FIELD_INTEGRITY_EXCEPTION");
    // then bob keeps his username: it is still taken and the new one is free;
    assert!(emu.user("bob@acme.com").is_some());
    let (s, _, b) = emu
        .post(&token, "sobjects/User", &new_user("bob@acme.com"))
        .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("DUPLICATE_USERNAME"))
    );
    let (s, _, _) = emu
        .post(&token, "sobjects/User", &new_user("robert@acme.com"))
        .await;
    assert_eq!(s, 201);
    // and once a rename lands (case-only changes included), the old username is free again.
    let (s, _) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{bob}"),
        &json!({"Username": "Bobby@acme.com"}),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = emu
        .post(&token, "sobjects/User", &new_user("bob@acme.com"))
        .await;
    assert_eq!(s, 201);
    let (s, b) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{ann}"),
        &json!({"Username": "BOBBY@acme.com"}),
    )
    .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("DUPLICATE_USERNAME"))
    );
    let (s, _) = patch(
        &emu,
        &token,
        &format!("sobjects/User/{bob}"),
        &json!({"Username": "bobby@acme.com"}),
    )
    .await;
    assert_eq!(s, 204, "a user may change the case of its own username");
    emu.stop().await;
}
