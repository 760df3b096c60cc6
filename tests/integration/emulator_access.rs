//! The emulator's access objects (issue 17) over real HTTP: seeded permission
//! sets, groups and roles queried by name; PermissionSetAssignment and
//! GroupMember inserts (single and collections) with the documented duplicate
//! and licence behaviour; role and manager on the User record
//! (`reference/salesforce-lifecycle.md` §3, §1.4).

use serde_json::{Value, json};
use sfsync::emulator::{AccessSeed, CHATTER_FREE_PROFILE_ID, OrgConfig, RequestKind, SeedUser};

use crate::support::emu::{Emu, collection_of, new_user};
use crate::support::run::repo;

/// An org with the sample access objects, a Standard User and two Chatter Free users.
fn org() -> OrgConfig {
    OrgConfig {
        users: vec![
            SeedUser::new("sam@acme.com"),
            SeedUser::new("cleo@acme.com").with("ProfileId", CHATTER_FREE_PROFILE_ID),
            SeedUser::new("cody@acme.com")
                .with("ProfileId", CHATTER_FREE_PROFILE_ID)
                .inactive(),
        ],
        access: AccessSeed::read(&repo().join("samples/salesforce-access.toml")).unwrap(),
        ..OrgConfig::default()
    }
}

fn id_of(emu: &Emu, username: &str) -> String {
    emu.user(username).expect("user exists").id
}

/// The Id of the one record a query names.
async fn lookup(emu: &Emu, token: &str, soql: &str) -> String {
    let (s, b) = emu.query(token, soql).await;
    assert_eq!((s, b["totalSize"].clone()), (200, json!(1)), "{soql}: {b}");
    b["records"][0]["Id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn seeded_access_objects_are_queried_by_their_names() {
    // Given the sample org's access objects,
    let emu = Emu::start(org()).await;
    let token = emu.token().await;
    // when each kind is looked up the way a client resolves names,
    let (s, b) = emu
        .query(
            &token,
            "SELECT Id, Name, Label, LicenseId, IsOwnedByProfile FROM PermissionSet \
             WHERE Name IN ('Sales_User','Report_Viewer') ORDER BY Name",
        )
        .await;
    // then each comes back with its fields, Ids of the documented prefixes.
    assert_eq!((s, b["totalSize"].clone()), (200, json!(2)));
    assert_eq!(b["records"][0]["Name"], "Report_Viewer");
    assert_eq!(b["records"][0]["LicenseId"], Value::Null);
    assert_eq!(b["records"][1]["Label"], "Sales User");
    assert!(
        b["records"][1]["LicenseId"]
            .as_str()
            .unwrap()
            .starts_with("100")
    );
    assert!(b["records"][1]["Id"].as_str().unwrap().starts_with("0PS"));
    let psg = lookup(
        &emu,
        &token,
        "SELECT Id FROM PermissionSetGroup WHERE DeveloperName = 'Sales_Bundle'",
    )
    .await;
    assert!(psg.starts_with("0PG"));
    let (_, b) = emu
        .query(
            &token,
            "SELECT DeveloperName, Type FROM Group WHERE Type = 'Regular' ORDER BY DeveloperName",
        )
        .await;
    let names: Vec<&str> = b["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["DeveloperName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["All_Staff", "Finance_Team", "Sales_Team"]);
    let role = lookup(
        &emu,
        &token,
        "SELECT Id, Name FROM UserRole WHERE DeveloperName = 'SalesRep'",
    )
    .await;
    assert!(role.starts_with("00E"));
    let (s, b) = emu
        .query(&token, "SELECT Id FROM PermissionSet WHERE Nope = 'x'")
        .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("INVALID_FIELD"))
    );
    emu.stop().await;
}

#[tokio::test]
async fn assignments_insert_through_collections_and_a_duplicate_is_refused() {
    // Given two users and two permission sets,
    let emu = Emu::start(org()).await;
    let token = emu.token().await;
    let (sam, cleo, cody) = (
        id_of(&emu, "sam@acme.com"),
        id_of(&emu, "cleo@acme.com"),
        id_of(&emu, "cody@acme.com"),
    );
    let viewer = lookup(
        &emu,
        &token,
        "SELECT Id FROM PermissionSet WHERE Name = 'Report_Viewer'",
    )
    .await;
    let bundle = lookup(
        &emu,
        &token,
        "SELECT Id FROM PermissionSetGroup WHERE DeveloperName = 'Sales_Bundle'",
    )
    .await;
    // when three assignments are inserted in one PSA-only call (an inactive assignee included),
    let body = collection_of(
        "PermissionSetAssignment",
        &[
            json!({"AssigneeId": sam, "PermissionSetId": viewer}),
            json!({"AssigneeId": cleo, "PermissionSetId": viewer}),
            json!({"AssigneeId": &sam[..15], "PermissionSetGroupId": bundle}),
            json!({"AssigneeId": cody, "PermissionSetId": viewer}),
        ],
        false,
    );
    let (s, _, b) = emu.post(&token, "composite/sobjects", &body).await;
    // then each succeeds with a 0Pa Id,
    assert_eq!(s, 200);
    for r in b.as_array().unwrap() {
        assert_eq!(r["success"], true, "{r}");
        assert!(r["id"].as_str().unwrap().starts_with("0Pa"));
    }
    // and a second insert of the same assignment is refused without an id.
    let again = collection_of(
        "PermissionSetAssignment",
        &[json!({"AssigneeId": sam, "PermissionSetId": viewer})],
        false,
    );
    let (_, _, b) = emu.post(&token, "composite/sobjects", &again).await;
    assert_eq!(
        b,
        json!([{"success": false, "errors": [{"statusCode": "DUPLICATE_VALUE", "message": "Duplicate PermissionSetAssignment", "fields": []}]}])
    );
    // Read back, the assignments are exactly what was inserted.
    let (_, q) = emu
        .query(&token, &format!("SELECT Id, PermissionSetId, PermissionSetGroupId FROM PermissionSetAssignment WHERE AssigneeId = '{sam}'"))
        .await;
    assert_eq!(q["totalSize"], 2);
    let (_, q) = emu
        .query(&token, "SELECT COUNT() FROM PermissionSetAssignment")
        .await;
    assert_eq!(q["totalSize"], 4);
    assert_eq!(emu.counters().create_collection_calls, 2);
    emu.stop().await;
}

#[tokio::test]
async fn an_assignment_names_one_target_and_all_or_none_rolls_back() {
    let emu = Emu::start(org()).await;
    let token = emu.token().await;
    let sam = id_of(&emu, "sam@acme.com");
    let viewer = lookup(
        &emu,
        &token,
        "SELECT Id FROM PermissionSet WHERE Name = 'Report_Viewer'",
    )
    .await;
    let bundle = lookup(
        &emu,
        &token,
        "SELECT Id FROM PermissionSetGroup WHERE DeveloperName = 'Sales_Bundle'",
    )
    .await;
    let (s, _, b) = emu
        .post(
            &token,
            "sobjects/PermissionSetAssignment",
            &json!({"AssigneeId": sam, "PermissionSetId": viewer, "PermissionSetGroupId": bundle}),
        )
        .await;
    assert_eq!(
        (s, b[0]["errorCode"].clone()),
        (400, json!("FIELD_INTEGRITY_EXCEPTION"))
    );
    let (s, _, b) = emu
        .post(
            &token,
            "sobjects/PermissionSetAssignment",
            &json!({"AssigneeId": sam, "PermissionSetId": viewer}),
        )
        .await;
    assert_eq!((s, b["success"].clone()), (201, json!(true)));
    let body = collection_of(
        "PermissionSetAssignment",
        &[
            json!({"AssigneeId": sam, "PermissionSetGroupId": bundle}),
            json!({"AssigneeId": sam, "PermissionSetId": "0PSEM0000000zzz"}),
        ],
        true,
    );
    let (_, _, b) = emu.post(&token, "composite/sobjects", &body).await;
    assert_eq!(
        b[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        b[1]["errors"][0]["statusCode"],
        "INVALID_CROSS_REFERENCE_KEY"
    );
    assert!(b[1].get("id").is_none());
    let (_, q) = emu
        .query(&token, "SELECT COUNT() FROM PermissionSetAssignment")
        .await;
    assert_eq!(q["totalSize"], 1, "the rolled-back assignment is gone");
    // A call may not mix Users and assignments.
    let mut mixed = body.clone();
    mixed["records"][1]["attributes"]["type"] = json!("User");
    let (s, _, _) = emu.post(&token, "composite/sobjects", &mixed).await;
    assert_eq!(s, 400);
    emu.stop().await;
}

#[tokio::test]
async fn a_permission_set_on_another_license_is_refused_for_that_user_only() {
    // Given Sales_User needs the Salesforce license,
    let emu = Emu::start(org()).await;
    let token = emu.token().await;
    let (sam, cleo) = (id_of(&emu, "sam@acme.com"), id_of(&emu, "cleo@acme.com"));
    let sales = lookup(
        &emu,
        &token,
        "SELECT Id FROM PermissionSet WHERE Name = 'Sales_User'",
    )
    .await;
    // when it is assigned to a Standard User and to a Chatter Free user,
    let body = collection_of(
        "PermissionSetAssignment",
        &[
            json!({"AssigneeId": sam, "PermissionSetId": sales}),
            json!({"AssigneeId": cleo, "PermissionSetId": sales}),
        ],
        false,
    );
    let (_, _, b) = emu.post(&token, "composite/sobjects", &body).await;
    // then only the Chatter Free user is refused, with the documented message.
    assert_eq!(b[0]["success"], true);
    assert_eq!(
        b[1],
        json!({"success": false, "errors": [{
            "statusCode": "FIELD_INTEGRITY_EXCEPTION",
            "message": "Can't assign permission set Sales User to user cleo@acme.com. The user license doesn't allow the permission: Salesforce",
            "fields": ["PermissionSetId"]
        }]})
    );
    emu.stop().await;
}

#[tokio::test]
async fn a_duplicate_membership_answers_with_the_existing_record() {
    let emu = Emu::start(org()).await;
    let token = emu.token().await;
    let (sam, cleo) = (id_of(&emu, "sam@acme.com"), id_of(&emu, "cleo@acme.com"));
    let team = lookup(
        &emu,
        &token,
        "SELECT Id FROM Group WHERE DeveloperName = 'Sales_Team'",
    )
    .await;
    let (s, _, first) = emu
        .post(
            &token,
            "sobjects/GroupMember",
            &json!({"GroupId": team, "UserOrGroupId": sam}),
        )
        .await;
    assert_eq!(s, 201);
    let body = collection_of(
        "GroupMember",
        &[
            json!({"GroupId": team, "UserOrGroupId": sam}),
            json!({"GroupId": team, "UserOrGroupId": cleo}),
        ],
        false,
    );
    let (s, _, b) = emu.post(&token, "composite/sobjects", &body).await;
    assert_eq!(s, 200);
    assert_eq!(
        b[0],
        json!({"id": first["id"], "success": true, "errors": []})
    );
    assert_eq!(b[1]["success"], true);
    assert_ne!(b[1]["id"], first["id"]);
    let (_, q) = emu
        .query(
            &token,
            &format!("SELECT UserOrGroupId FROM GroupMember WHERE GroupId = '{team}'"),
        )
        .await;
    assert_eq!(q["totalSize"], 2, "no duplicate row");
    let creates = emu
        .log()
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                RequestKind::CreateOne | RequestKind::CreateCollection
            )
        })
        .count();
    assert_eq!(creates, 2);
    emu.stop().await;
}

#[tokio::test]
async fn role_and_manager_ride_on_the_user_record() {
    // Given the sample roles,
    let emu = Emu::start(org()).await;
    let token = emu.token().await;
    let role = lookup(
        &emu,
        &token,
        "SELECT Id FROM UserRole WHERE DeveloperName = 'SalesRep'",
    )
    .await;
    let sam = id_of(&emu, "sam@acme.com");
    // a user is created with a role (15-character Id) and a manager,
    let mut r = new_user("rita@acme.com");
    r["UserRoleId"] = json!(&role[..15]);
    r["ManagerId"] = json!(sam);
    let (s, _, b) = emu.post(&token, "sobjects/User", &r).await;
    assert_eq!(s, 201, "{b}");
    let rita = b["id"].as_str().unwrap().to_string();
    let (_, q) = emu
        .query(
            &token,
            &format!("SELECT UserRoleId, ManagerId FROM User WHERE Id = '{rita}'"),
        )
        .await;
    assert_eq!(q["records"][0]["UserRoleId"], json!(role));
    assert_eq!(q["records"][0]["ManagerId"], json!(sam));
    // an unknown role is refused,
    let mut r = new_user("ron@acme.com");
    r["UserRoleId"] = json!("00EEM0000000zzz");
    let (s, _, b) = emu.post(&token, "sobjects/User", &r).await;
    assert_eq!(
        (s, b[0]["errorCode"].clone(), b[0]["fields"].clone()),
        (
            400,
            json!("INVALID_CROSS_REFERENCE_KEY"),
            json!(["UserRoleId"])
        )
    );
    // and a manager PATCH may not make a user its own manager or close a loop.
    let resp = emu
        .http
        .patch(emu.api(&format!("sobjects/User/{rita}")))
        .bearer_auth(&token)
        .json(&json!({"ManagerId": rita}))
        .send()
        .await
        .unwrap();
    let (s, _, b) = crate::support::emu::split(resp).await;
    assert_eq!(
        (s, b[0]["message"].clone()),
        (400, json!("A user can't be his or her own manager"))
    );
    let resp = emu
        .http
        .patch(emu.api(&format!("sobjects/User/{sam}")))
        .bearer_auth(&token)
        .json(&json!({"ManagerId": rita}))
        .send()
        .await
        .unwrap();
    let (s, _, b) = crate::support::emu::split(resp).await;
    assert_eq!(
        (s, b[0]["message"].clone()),
        (
            400,
            json!("You cannot set a hierarchy field to point to itself or a child record")
        )
    );
    emu.stop().await;
}

#[test]
fn the_access_seed_file_is_checked_and_errors_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("access.toml");
    std::fs::write(
        &p,
        "[[permission_set]]\nname = \"A\"\n[[permission_set]]\nname = \"a\"\n",
    )
    .unwrap();
    let err = AccessSeed::read(&p).unwrap_err().to_string();
    assert!(
        err.contains("access.toml") && err.contains("permission_set `a` appears twice"),
        "{err}"
    );
    std::fs::write(&p, "[[group]]\nname = \"A\"\n").unwrap();
    let err = AccessSeed::read(&p).unwrap_err().to_string();
    assert!(
        err.contains("access.toml") && err.contains("unknown field `name`"),
        "{err}"
    );
    let sample = AccessSeed::read(&repo().join("samples/salesforce-access.toml")).unwrap();
    assert_eq!(
        (
            sample.permission_set.len(),
            sample.permission_set_group.len(),
            sample.group.len(),
            sample.role.len()
        ),
        (3, 2, 3, 3)
    );
}
