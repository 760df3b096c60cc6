//! The standard User fields a job may name in `[mapping]` and `[defaults]`,
//! with their lengths and whether Salesforce takes them on create: one table,
//! from the User object reference ("User | Object Reference for the
//! Salesforce Platform", and reference sheet §2.5, §4.2 beside SPEC).
//!
//! The table is what the job file is checked against before anything is
//! contacted (a misspelt field is a job error, exit 2); `check` and `plan`
//! then ask the org itself (`sobjects/User/describe`), which also knows its
//! custom fields (`__c`) and the field-level settings of this org.

/// One standard User field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserField {
    /// API name, as Salesforce spells it.
    pub name: &'static str,
    /// Maximum length in characters for text fields whose limit the
    /// reference documents; `None`: not text, or not checked here.
    pub max_length: Option<usize>,
    /// Whether a create may set it (read-only system fields may not).
    pub createable: bool,
}

const fn f(name: &'static str, max: usize) -> UserField {
    UserField {
        name,
        max_length: if max == 0 { None } else { Some(max) },
        createable: true,
    }
}

const fn read_only(name: &'static str) -> UserField {
    UserField {
        name,
        max_length: None,
        createable: false,
    }
}

/// Standard User fields (0: no length checked here). Families of booleans
/// beyond these (`UserPreferences...`) are recognised by [`USER_PREFERENCES`].
pub static USER_FIELDS: &[UserField] = &[
    f("AboutMe", 1000),
    read_only("AccountId"),
    f("Alias", 8),
    read_only("BadgeText"),
    read_only("BannerPhotoUrl"),
    f("CallCenterId", 0),
    f("City", 40),
    f("CommunityNickname", 40),
    f("CompanyName", 80),
    f("ContactId", 0),
    f("Country", 80),
    f("CountryCode", 0),
    read_only("CreatedById"),
    read_only("CreatedDate"),
    f("DefaultGroupNotificationFrequency", 0),
    f("DelegatedApproverId", 0),
    f("Department", 80),
    f("DigestFrequency", 0),
    f("Division", 80),
    f("Email", 128),
    f("EmailEncodingKey", 40),
    f("EmailPreferencesAutoBcc", 0),
    f("EmailPreferencesAutoBccStayInTouch", 0),
    f("EmailPreferencesStayInTouchReminder", 0),
    f("EmployeeNumber", 20),
    f("EndDay", 0),
    f("Extension", 40),
    f("Fax", 40),
    f("FederationIdentifier", 512),
    f("FirstName", 40),
    f("ForecastEnabled", 0),
    read_only("FullPhotoUrl"),
    f("GeocodeAccuracy", 0),
    read_only("Id"),
    f("IndividualId", 0),
    f("IsActive", 0),
    read_only("IsProfilePhotoActive"),
    f("LanguageLocaleKey", 40),
    read_only("LastLoginDate"),
    read_only("LastModifiedById"),
    read_only("LastModifiedDate"),
    f("LastName", 80),
    read_only("LastPasswordChangeDate"),
    read_only("LastReferencedDate"),
    read_only("LastViewedDate"),
    f("Latitude", 0),
    f("LocaleSidKey", 40),
    f("Longitude", 0),
    f("ManagerId", 0),
    read_only("MediumPhotoUrl"),
    f("MiddleName", 40),
    f("MobilePhone", 40),
    read_only("Name"),
    read_only("OfflineTrialExpirationDate"),
    f("Phone", 40),
    f("PostalCode", 20),
    f("ProfileId", 0),
    f("ReceivesAdminInfoEmails", 0),
    f("ReceivesInfoEmails", 0),
    f("SenderEmail", 80),
    f("SenderName", 80),
    f("Signature", 1333),
    read_only("SmallPhotoUrl"),
    f("StartDay", 0),
    f("State", 80),
    f("StateCode", 0),
    f("Street", 255),
    f("Suffix", 40),
    read_only("SystemModstamp"),
    f("TimeZoneSidKey", 40),
    f("Title", 80),
    f("Username", 80),
    f("UserPermissionsAvantgoUser", 0),
    f("UserPermissionsCallCenterAutoLogin", 0),
    f("UserPermissionsChatterAnswersUser", 0),
    f("UserPermissionsInteractionUser", 0),
    f("UserPermissionsJigsawProspectingUser", 0),
    f("UserPermissionsKnowledgeUser", 0),
    f("UserPermissionsLiveAgentUser", 0),
    f("UserPermissionsMarketingUser", 0),
    f("UserPermissionsMobileUser", 0),
    f("UserPermissionsOfflineUser", 0),
    f("UserPermissionsSFContentUser", 0),
    f("UserPermissionsSiteforceContributorUser", 0),
    f("UserPermissionsSiteforcePublisherUser", 0),
    f("UserPermissionsSupportUser", 0),
    f("UserPermissionsWorkDotComUserFeature", 0),
    f("UserRoleId", 0),
    read_only("UserType"),
];

/// The prefix of the `UserPreferences...` booleans (about a hundred, all
/// createable): accepted by prefix, then checked by name against the org's
/// describe.
pub const USER_PREFERENCES: &str = "UserPreferences";

/// What the table says about a field name a job uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Standard(&'static UserField),
    /// A `UserPreferences...` boolean.
    Preference,
    /// A custom field (`__c`): only the org knows it.
    Custom,
    Unknown,
}

/// Looks `name` up, case-insensitively (the API is).
pub fn lookup(name: &str) -> Known {
    if let Some(f) = USER_FIELDS
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
    {
        return Known::Standard(f);
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with("__c") && name.len() > 3 {
        Known::Custom
    } else if lower.len() > USER_PREFERENCES.len()
        && lower.starts_with(&USER_PREFERENCES.to_ascii_lowercase())
    {
        Known::Preference
    } else {
        Known::Unknown
    }
}

/// The field's documented maximum length, when the table has one.
pub fn max_length(name: &str) -> Option<usize> {
    match lookup(name) {
        Known::Standard(f) => f.max_length,
        _ => None,
    }
}

/// The standard field whose name is nearest `name` (at most two edits,
/// ignoring case): the one a typo most likely meant.
pub fn nearest(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    USER_FIELDS
        .iter()
        .map(|f| (edits(&name, &f.name.to_ascii_lowercase()), f.name))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

/// The job's fields (`fields`: `(job-file key, field)`) that the org's
/// describe refuses: not a User field of this org (a custom field not
/// created, a typo) or one a create cannot set. One message per field,
/// naming the key, with the org's field a typo most likely meant.
pub fn refused_by_org<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    described: &[super::DescribedField],
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, name) in fields {
        match described.iter().find(|d| d.name.eq_ignore_ascii_case(name)) {
            Some(d) if d.createable => {}
            Some(d) => out.push(format!(
                "{key}: the org's User.{} cannot be set on create (describe: createable false)",
                d.name
            )),
            None => {
                let lower = name.to_ascii_lowercase();
                let meant = described
                    .iter()
                    .map(|d| (edits(&lower, &d.name.to_ascii_lowercase()), &d.name))
                    .filter(|&(e, _)| e <= 2)
                    .min_by_key(|&(e, _)| e)
                    .map(|(_, n)| format!("; did you mean \"{n}\"?"))
                    .unwrap_or_default();
                out.push(format!(
                    "{key}: the org's User object has no field \"{name}\"{meant}"
                ));
            }
        }
    }
    out
}

/// Levenshtein distance, in characters.
pub(crate) fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_answers_standard_custom_preference_and_unknown_names() {
        assert!(
            matches!(lookup("Title"), Known::Standard(f) if f.max_length == Some(80) && f.createable)
        );
        assert!(matches!(lookup("username"), Known::Standard(f) if f.name == "Username"));
        assert!(matches!(lookup("Name"), Known::Standard(f) if !f.createable));
        assert_eq!(lookup("Cost_Center__c"), Known::Custom);
        assert_eq!(lookup("UserPreferencesHideS1BrowserUI"), Known::Preference);
        assert_eq!(lookup("Titel"), Known::Unknown);
        assert_eq!(lookup("__c"), Known::Unknown);
    }

    #[test]
    fn a_typo_gets_the_field_it_most_likely_meant() {
        assert_eq!(nearest("Titel"), Some("Title"));
        assert_eq!(nearest("Deparment"), Some("Department"));
        assert_eq!(
            nearest("FederationId"),
            None,
            "too far from FederationIdentifier"
        );
        assert_eq!(edits("kitten", "sitting"), 3);
    }

    #[test]
    fn the_org_refuses_unknown_and_read_only_fields_custom_ones_included() {
        let described = |name: &str, createable| super::super::DescribedField {
            name: name.into(),
            createable,
        };
        let org = [
            described("Title", true),
            described("Cost_Center__c", true),
            described("Name", false),
        ];
        let refused = refused_by_org(
            [
                ("mapping.Title", "Title"),
                ("mapping.Cost_Centre__c", "Cost_Centre__c"),
                ("defaults.Name", "Name"),
            ],
            &org,
        );
        assert_eq!(
            refused,
            [
                "mapping.Cost_Centre__c: the org's User object has no field \"Cost_Centre__c\"; did you mean \"Cost_Center__c\"?",
                "defaults.Name: the org's User.Name cannot be set on create (describe: createable false)",
            ]
        );
    }

    #[test]
    fn names_are_unique_and_sorted_for_readers() {
        let names: Vec<&str> = USER_FIELDS.iter().map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| n.to_ascii_lowercase());
        sorted.dedup();
        assert_eq!(names, sorted);
    }
}
