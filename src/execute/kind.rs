//! Operation kinds: what the runner needs to know about each, and nothing
//! more. A kind says how its records are sent (which verb on sObject
//! Collections) and how a lost answer is checked; batching, pacing, retries,
//! the budget and cancellation belong to the runner and are the same for all.
//!
//! - create: POST; a lost answer is checked by re-querying the usernames
//!   (a user is never created twice).
//!   On DUPLICATE_USERNAME a create with fallback usernames left yields a
//!   follow-up ([`Kind::follow_up`]): the same record under the next one.
//! - update, reactivate, deactivate, freeze: PATCH of records carrying their
//!   `Id`; a lost answer is checked by re-reading those records and comparing
//!   every sent field with what the org now holds.
//! - link manager: PATCH `ManagerId` of a new user, checked like an update.
//! - assign permission set, add to group (issue 17): POST of
//!   `PermissionSetAssignment` / `GroupMember` records in calls of their own
//!   (never with User records: setup objects, reference §3.5); a lost answer
//!   is checked by reading the assignees' rows of that object and looking for
//!   each pair sent. A duplicate assignment (`DUPLICATE_VALUE`, "Duplicate
//!   PermissionSetAssignment") means the user holds it: granted, not an error
//!   (it is what a resend after a lost answer meets). A duplicate membership
//!   is answered with the existing record by Salesforce itself (§3.4).

use std::collections::HashMap;

use serde_json::Value;
use serde_json::value::RawValue;

use super::batch::ItemFate;
use super::recover;
use crate::report::Outcome;
use crate::salesforce::{Client, RecordResult, SfError};

/// One kind of write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Reactivate,
    Deactivate,
    Freeze,
    LinkManager,
    AssignPermissionSet,
    AddToGroup,
}

impl Kind {
    /// The outcome of an item this kind applied.
    pub fn done(self) -> Outcome {
        match self {
            Kind::Create => Outcome::Created,
            Kind::Update => Outcome::Updated,
            Kind::Reactivate => Outcome::Reactivated,
            Kind::Deactivate => Outcome::Deactivated,
            Kind::Freeze => Outcome::Frozen,
            // Access writes leave their person's outcome as it was; the
            // runner's "applied" is read as granted by the caller.
            Kind::LinkManager | Kind::AssignPermissionSet | Kind::AddToGroup => Outcome::Created,
        }
    }

    /// For log lines: "create", "update", ...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Update => "update",
            Kind::Reactivate => "reactivate",
            Kind::Deactivate => "deactivate",
            Kind::Freeze => "freeze",
            Kind::LinkManager => "manager link",
            Kind::AssignPermissionSet => "permission set assignment",
            Kind::AddToGroup => "group membership",
        }
    }

    /// The sObject its records are (`UserLogin` for a freeze).
    pub fn sobject(self) -> &'static str {
        match self {
            Kind::Freeze => "UserLogin",
            Kind::AssignPermissionSet => "PermissionSetAssignment",
            Kind::AddToGroup => "GroupMember",
            _ => "User",
        }
    }

    /// Whether a DUPLICATE_USERNAME answer may be this run's own earlier
    /// write whose answer was lost (creates only), to be looked up first.
    pub fn rechecks_duplicates(self) -> bool {
        self == Kind::Create
    }

    /// The follow-up of a record Salesforce refused as DUPLICATE_USERNAME
    /// (held in another org), to be sent under the check value `next`: a
    /// create becomes the same record with `Username = next`. Other kinds
    /// have none.
    pub fn follow_up(self, record: &RawValue, next: &str) -> Option<Box<RawValue>> {
        if self != Kind::Create {
            return None;
        }
        let mut fields: serde_json::Map<String, Value> = serde_json::from_str(record.get()).ok()?;
        fields.insert("Username".into(), Value::String(next.to_owned()));
        serde_json::value::to_raw_value(&fields).ok()
    }

    /// Sends one batch; results in record order.
    pub async fn send(
        self,
        client: &Client,
        records: &[Box<RawValue>],
    ) -> Result<Vec<RecordResult>, SfError> {
        match self {
            Kind::Create => client.create_collection(records).await,
            Kind::AssignPermissionSet | Kind::AddToGroup => {
                let mut results = client.create_collection(records).await?;
                for r in &mut results {
                    if is_duplicate_assignment(r) {
                        r.success = true;
                        r.errors.clear();
                    }
                }
                Ok(results)
            }
            _ => client.update_collection(records).await,
        }
    }

    /// After a lost answer: which of `asked` (item, check key: the username
    /// for a create, the record Id otherwise) were applied. `records[i]` is
    /// what was sent for `asked[i]`.
    pub async fn check(
        self,
        client: &Client,
        asked: &[(usize, String)],
        records: &[Box<RawValue>],
        match_keys: &[String],
    ) -> Result<Vec<(usize, ItemFate)>, SfError> {
        match self {
            Kind::Create => recover::recover(client, asked, match_keys).await,
            Kind::AssignPermissionSet | Kind::AddToGroup => {
                let (user_field, targets): (&str, &[&str]) = if self == Kind::AddToGroup {
                    ("UserOrGroupId", &["GroupId"])
                } else {
                    ("AssigneeId", &["PermissionSetId", "PermissionSetGroupId"])
                };
                let sent: Vec<Option<(String, String)>> = records
                    .iter()
                    .map(|r| link_pair(r.get(), user_field, targets))
                    .collect();
                let mut users: Vec<String> =
                    sent.iter().flatten().map(|(u, _)| u.clone()).collect();
                users.sort();
                users.dedup();
                let fields: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
                let found = client
                    .read_by_ids(self.sobject(), user_field, &fields, &users)
                    .await?;
                let held: HashMap<(String, String), String> = found
                    .iter()
                    .filter_map(|row| {
                        let user = row.get(user_field)?.as_str()?;
                        let id = row.get("Id")?.as_str()?;
                        let target = targets
                            .iter()
                            .find_map(|t| row.get(*t).and_then(Value::as_str))?;
                        Some(((id15(user), id15(target)), id.to_owned()))
                    })
                    .collect();
                Ok(asked
                    .iter()
                    .zip(&sent)
                    .map(|((item, _), pair)| {
                        let fate = match pair
                            .as_ref()
                            .and_then(|(u, t)| held.get(&(id15(u), id15(t))))
                        {
                            Some(id) => ItemFate::Recovered(id.clone()),
                            None => ItemFate::Resend,
                        };
                        (*item, fate)
                    })
                    .collect())
            }
            _ => {
                let sent: Vec<serde_json::Map<String, Value>> = records
                    .iter()
                    .map(|r| serde_json::from_str(r.get()).unwrap_or_default())
                    .collect();
                let mut fields: Vec<String> = Vec::new();
                for rec in &sent {
                    for k in rec.keys() {
                        if k != "attributes" && k != "Id" && !fields.contains(k) {
                            fields.push(k.clone());
                        }
                    }
                }
                let ids: Vec<String> = asked.iter().map(|(_, id)| id.clone()).collect();
                let found = client
                    .read_by_ids(self.sobject(), "Id", &fields, &ids)
                    .await?;
                Ok(compare_applied(asked, &sent, &found))
            }
        }
    }
}

/// The first 15 characters of an Id (15- and 18-character forms compare alike).
fn id15(id: &str) -> String {
    id.get(..15).unwrap_or(id).to_owned()
}

/// `(user, target)` of a sent assignment or membership record.
fn link_pair(record: &str, user_field: &str, targets: &[&str]) -> Option<(String, String)> {
    let rec: serde_json::Map<String, Value> = serde_json::from_str(record).ok()?;
    let user = rec.get(user_field)?.as_str()?.to_owned();
    let target = targets
        .iter()
        .find_map(|t| rec.get(*t).and_then(Value::as_str))?
        .to_owned();
    Some((user, target))
}

/// Salesforce's refusal of an assignment the user already holds (reference
/// §3.1: the message says "Duplicate PermissionSetAssignment"; the code is
/// reported as DUPLICATE_VALUE).
pub fn is_duplicate_assignment(r: &RecordResult) -> bool {
    !r.success
        && !r.errors.is_empty()
        && r.errors.iter().all(|e| {
            e.status_code == "DUPLICATE_VALUE"
                || e.message.contains("Duplicate PermissionSetAssignment")
        })
}

/// A PATCH is applied when the org holds every sent value (text exactly,
/// booleans as values; `null` and empty text alike): then `Recovered`,
/// otherwise `Resend` (a PATCH sent twice changes nothing more).
pub fn compare_applied(
    asked: &[(usize, String)],
    sent: &[serde_json::Map<String, Value>],
    found: &[serde_json::Map<String, Value>],
) -> Vec<(usize, ItemFate)> {
    let id15 = |s: &str| s.get(..15).unwrap_or(s).to_owned();
    let by_id: HashMap<String, &serde_json::Map<String, Value>> = found
        .iter()
        .filter_map(|r| Some((id15(r.get("Id")?.as_str()?), r)))
        .collect();
    let same = |a: Option<&Value>, b: &Value| match (a.unwrap_or(&Value::Null), b) {
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        (x, y) => x == y,
    };
    asked
        .iter()
        .zip(sent)
        .map(|((item, id), rec)| {
            let fate = match by_id.get(&id15(id)) {
                Some(now)
                    if rec
                        .iter()
                        .filter(|(k, _)| *k != "attributes" && *k != "Id")
                        .all(|(k, v)| same(now.get(k), v)) =>
                {
                    ItemFate::Recovered(id.clone())
                }
                _ => ItemFate::Resend,
            };
            (*item, fate)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_names_itself_its_sobject_its_outcome_and_whether_duplicates_are_rechecked() {
        let kinds = [
            Kind::Create,
            Kind::Update,
            Kind::Reactivate,
            Kind::Deactivate,
            Kind::Freeze,
            Kind::LinkManager,
            Kind::AssignPermissionSet,
            Kind::AddToGroup,
        ];
        let seen: Vec<(&str, &str, Outcome, bool)> = kinds
            .iter()
            .map(|k| (k.name(), k.sobject(), k.done(), k.rechecks_duplicates()))
            .collect();
        assert_eq!(
            seen,
            [
                ("create", "User", Outcome::Created, true),
                ("update", "User", Outcome::Updated, false),
                ("reactivate", "User", Outcome::Reactivated, false),
                ("deactivate", "User", Outcome::Deactivated, false),
                ("freeze", "UserLogin", Outcome::Frozen, false),
                ("manager link", "User", Outcome::Created, false),
                (
                    "permission set assignment",
                    "PermissionSetAssignment",
                    Outcome::Created,
                    false
                ),
                ("group membership", "GroupMember", Outcome::Created, false),
            ]
        );
    }

    #[test]
    fn a_create_follows_up_under_the_next_username_and_other_kinds_do_not() {
        let sent =
            crate::execute::user_record([("Username", "ada@x.com"), ("LastName", "Lovelace")]);
        let next = Kind::Create.follow_up(&sent, "ada@x.com.acme").unwrap();
        assert_eq!(
            next.get(),
            r#"{"attributes":{"type":"User"},"Username":"ada@x.com.acme","LastName":"Lovelace"}"#
        );
        assert!(Kind::Update.follow_up(&sent, "x@y.com").is_none());
    }

    fn map(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_duplicate_assignment_is_held_and_other_refusals_are_not() {
        let result = |code: &str, message: &str| RecordResult {
            id: None,
            success: false,
            errors: vec![crate::salesforce::RecordError {
                status_code: code.into(),
                message: message.into(),
                fields: vec![],
            }],
        };
        assert!(is_duplicate_assignment(&result(
            "DUPLICATE_VALUE",
            "Duplicate PermissionSetAssignment"
        )));
        assert!(is_duplicate_assignment(&result(
            "SOME_OTHER_CODE",
            "Duplicate PermissionSetAssignment"
        )));
        assert!(!is_duplicate_assignment(&result(
            "FIELD_INTEGRITY_EXCEPTION",
            "Can't assign permission set Sales_User to user ada"
        )));
        let ok = RecordResult {
            id: Some("0Pa".into()),
            success: true,
            errors: vec![],
        };
        assert!(!is_duplicate_assignment(&ok));
    }

    #[test]
    fn a_sent_assignment_is_read_back_as_its_user_and_target() {
        let rec = r#"{"attributes":{"type":"PermissionSetAssignment"},"AssigneeId":"005A","PermissionSetGroupId":"0PGB"}"#;
        assert_eq!(
            link_pair(
                rec,
                "AssigneeId",
                &["PermissionSetId", "PermissionSetGroupId"]
            ),
            Some(("005A".to_owned(), "0PGB".to_owned()))
        );
        let rec =
            r#"{"attributes":{"type":"GroupMember"},"GroupId":"00GB","UserOrGroupId":"005A"}"#;
        assert_eq!(
            link_pair(rec, "UserOrGroupId", &["GroupId"]),
            Some(("005A".to_owned(), "00GB".to_owned()))
        );
        assert_eq!(link_pair("{}", "AssigneeId", &["PermissionSetId"]), None);
    }

    #[test]
    fn a_lost_patch_is_applied_only_when_every_sent_field_holds() {
        let asked = vec![
            (0, "005000000000001AAA".to_owned()),
            (1, "005000000000002AAA".to_owned()),
            (2, "005000000000003AAA".to_owned()),
        ];
        let sent = vec![
            map(
                serde_json::json!({"attributes": {"type": "User"}, "Id": "005000000000001AAA", "Title": "Manager", "Department": null}),
            ),
            map(
                serde_json::json!({"attributes": {"type": "User"}, "Id": "005000000000002AAA", "IsActive": false}),
            ),
            map(
                serde_json::json!({"attributes": {"type": "User"}, "Id": "005000000000003AAA", "IsActive": false}),
            ),
        ];
        let found = vec![
            map(serde_json::json!({"Id": "005000000000001", "Title": "Manager", "Department": ""})),
            map(serde_json::json!({"Id": "005000000000002AAA", "IsActive": true})),
        ];
        assert_eq!(
            compare_applied(&asked, &sent, &found),
            vec![
                (0, ItemFate::Recovered("005000000000001AAA".into())),
                (1, ItemFate::Resend),
                (2, ItemFate::Resend),
            ]
        );
    }
    /// A client logged in to an emulated org seeded with `users`, in this
    /// process over real HTTP on loopback (send and check call Salesforce).
    async fn org_with(
        users: Vec<crate::emulator::SeedUser>,
    ) -> (crate::emulator::RunningEmulator, Client) {
        org_from(crate::emulator::OrgConfig {
            users,
            ..Default::default()
        })
        .await
    }

    async fn org_from(
        config: crate::emulator::OrgConfig,
    ) -> (crate::emulator::RunningEmulator, Client) {
        use crate::job::{AuthConfig, SalesforceConfig, Secret, SecretFrom, SecretRef};
        let emu = crate::emulator::start(config)
            .await
            .expect("the emulator starts");
        let unused = |key: &str| SecretRef {
            key: key.into(),
            from: SecretFrom::Env("SFSYNC_TEST_UNUSED".into()),
        };
        let cfg = SalesforceConfig {
            instance_url: emu.base_url.clone(),
            login_url: emu.base_url.clone(),
            api_version: "v62.0".into(),
            sandbox: None,
            auth: AuthConfig::ClientCredentials {
                client_id: unused("salesforce.client_id_env"),
                client_secret: unused("salesforce.client_secret_env"),
            },
        };
        let creds = crate::salesforce::Credentials::password(
            Secret::new("test-client"),
            Secret::new("test-secret"),
            Secret::new("svc@example.com"),
            Secret::new("pw-and-token"),
        );
        let client = Client::connect(&cfg, creds, crate::salesforce::ClientOptions::default())
            .await
            .expect("logs in to the emulator");
        (emu, client)
    }

    fn raw(v: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&v).unwrap()
    }

    fn new_user(username: &str) -> Box<RawValue> {
        raw(serde_json::json!({
            "attributes": {"type": "User"}, "Username": username, "Email": username,
            "LastName": "Lovelace", "Alias": "alove", "TimeZoneSidKey": "America/Los_Angeles",
            "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
            "ProfileId": "00e90000001aV2o"
        }))
    }

    fn patch(id: &str, field: &str, value: Value) -> Box<RawValue> {
        raw(serde_json::json!({"attributes": {"type": "User"}, "Id": id, field: value}))
    }

    #[tokio::test]
    async fn a_create_posts_new_users_and_the_other_kinds_patch_existing_ones() {
        use crate::emulator::RequestKind;
        // given an org holding Bob
        let (emu, client) = org_with(vec![crate::emulator::SeedUser::new("bob@example.com")]).await;
        let bob = emu.org.users()[0].id.clone();
        // when Ada is created and Bob renamed, then deactivated
        let created = Kind::Create
            .send(&client, &[new_user("ada@example.com")])
            .await
            .unwrap();
        let renamed = Kind::Update
            .send(&client, &[patch(&bob, "FirstName", "Robert".into())])
            .await
            .unwrap();
        let deactivated = Kind::Deactivate
            .send(&client, &[patch(&bob, "IsActive", false.into())])
            .await
            .unwrap();
        // then Salesforce answered each record, and the org shows each write
        let ada = emu
            .org
            .users()
            .into_iter()
            .find(|u| u.username == "ada@example.com")
            .expect("Ada was created");
        assert_eq!(created.len(), 1);
        assert!(created[0].success, "{created:?}");
        assert_eq!(created[0].id.as_deref(), Some(ada.id.as_str()));
        assert_eq!(
            (
                renamed.len(),
                renamed[0].success,
                deactivated.len(),
                deactivated[0].success
            ),
            (1, true, 1, true)
        );
        let bob_now = emu.org.users().into_iter().find(|u| u.id == bob).unwrap();
        assert_eq!(
            (bob_now.first_name.as_deref(), bob_now.is_active),
            (Some("Robert"), false)
        );
        // one POST (the create) and two PATCHes of sObject Collections
        let kinds: Vec<RequestKind> = emu
            .org
            .log()
            .iter()
            .map(|r| r.kind)
            .filter(|k| k.is_api())
            .collect();
        assert_eq!(
            kinds,
            [
                RequestKind::CreateCollection,
                RequestKind::UpdateCollection,
                RequestKind::UpdateCollection
            ]
        );
        emu.stop().await.unwrap();
    }

    #[tokio::test]
    async fn a_lost_create_is_checked_by_username_and_a_lost_patch_by_rereading_it() {
        // given an org where Ada exists, renamed to Augusta; Bob was never created
        let (emu, client) = org_with(vec![
            crate::emulator::SeedUser::new("ada@example.com").with("FirstName", "Augusta"),
        ])
        .await;
        let ada = emu.org.users()[0].id.clone();
        let keys = ["Username".to_owned()];
        // when the creates of Ada (any case) and Bob lost their answers
        let creates = Kind::Create
            .check(
                &client,
                &[(4, "ADA@example.com".into()), (7, "bob@example.com".into())],
                &[new_user("ADA@example.com"), new_user("bob@example.com")],
                &keys,
            )
            .await
            .unwrap();
        // then Ada is found, Bob is sent again
        assert_eq!(
            creates,
            [(4, ItemFate::Recovered(ada.clone())), (7, ItemFate::Resend)]
        );
        // when two PATCHes of Ada lost theirs: one the org holds, one it does not
        let patches = Kind::Update
            .check(
                &client,
                &[(0, ada.clone()), (1, ada.clone())],
                &[
                    patch(&ada, "FirstName", "Augusta".into()),
                    patch(&ada, "FirstName", "Ada".into()),
                ],
                &keys,
            )
            .await
            .unwrap();
        assert_eq!(
            patches,
            [(0, ItemFate::Recovered(ada.clone())), (1, ItemFate::Resend)]
        );
        // and a deactivation is checked against IsActive (Ada is active)
        let deactivations = Kind::Deactivate
            .check(
                &client,
                &[(2, ada.clone())],
                &[patch(&ada, "IsActive", false.into())],
                &keys,
            )
            .await
            .unwrap();
        assert_eq!(deactivations, [(2, ItemFate::Resend)]);
        emu.stop().await.unwrap();
    }

    #[tokio::test]
    async fn assignments_and_memberships_are_inserted_a_duplicate_is_granted_and_a_lost_one_is_found_by_its_pair()
     {
        // given an org holding Bob, with the sample access objects
        let access = crate::emulator::AccessSeed::read(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("samples/salesforce-access.toml"),
        )
        .unwrap();
        let (emu, client) = org_from(crate::emulator::OrgConfig {
            users: vec![crate::emulator::SeedUser::new("bob@example.com")],
            access,
            ..Default::default()
        })
        .await;
        let bob = emu.org.users()[0].id.clone();
        let ids = |sobject: &'static str, field: &'static str, name: &'static str| {
            let client = &client;
            async move {
                client
                    .ids_by_name(sobject, field, &[name.to_owned()], None)
                    .await
                    .unwrap()[name]
                    .clone()
            }
        };
        let viewer = ids("PermissionSet", "Name", "Report_Viewer").await;
        let extras = ids("PermissionSet", "Name", "Chatter_Extras").await;
        let staff = ids("Group", "DeveloperName", "All_Staff").await;
        let assignment = |ps: &str| {
            raw(
                serde_json::json!({"attributes": {"type": "PermissionSetAssignment"},
                "AssigneeId": bob, "PermissionSetId": ps}),
            )
        };
        let membership = raw(serde_json::json!({"attributes": {"type": "GroupMember"},
            "GroupId": staff, "UserOrGroupId": bob}));
        // when Bob is given Report_Viewer and All_Staff, then Report_Viewer again
        let first = Kind::AssignPermissionSet
            .send(&client, &[assignment(&viewer)])
            .await
            .unwrap();
        let joined = Kind::AddToGroup
            .send(&client, std::slice::from_ref(&membership))
            .await
            .unwrap();
        let again = Kind::AssignPermissionSet
            .send(&client, &[assignment(&viewer)])
            .await
            .unwrap();
        // then each is inserted once, and Salesforce's duplicate refusal counts as granted
        assert!(
            first[0].success && joined[0].success,
            "{first:?} {joined:?}"
        );
        assert!(again[0].success && again[0].errors.is_empty(), "{again:?}");
        let rows = emu.org.access_rows();
        assert_eq!(
            rows.iter()
                .filter(|(_, what)| what == "PermissionSet:Report_Viewer")
                .count(),
            1,
            "{rows:?}"
        );
        assert_eq!(
            rows.iter()
                .filter(|(_, what)| what == "Group:All_Staff")
                .count(),
            1,
            "{rows:?}"
        );
        // when answers were lost: the held assignment and membership are found
        // by their (user, target) pair, the one never sent is sent again
        let lost = Kind::AssignPermissionSet
            .check(
                &client,
                &[(3, bob.clone()), (5, bob.clone())],
                &[assignment(&viewer), assignment(&extras)],
                &[],
            )
            .await
            .unwrap();
        assert!(matches!(lost[0], (3, ItemFate::Recovered(_))), "{lost:?}");
        assert_eq!(lost[1], (5, ItemFate::Resend));
        let lost = Kind::AddToGroup
            .check(&client, &[(8, bob.clone())], &[membership], &[])
            .await
            .unwrap();
        assert!(matches!(lost[0], (8, ItemFate::Recovered(_))), "{lost:?}");
    }
}
