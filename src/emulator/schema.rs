//! The emulated objects' fields: API names, labels (error messages start with
//! the label, as Salesforce's do), lengths, and which are createable.
//!
//! `User` text fields live in numbered slots of a packed record (see
//! [`super::org`]); booleans are bits. `Profile` is a small fixed table.

/// How a field is stored and typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Text in slot `slot`, at most `max` characters.
    Text { slot: usize, max: usize },
    /// A boolean bit.
    Bool { bit: u8 },
    /// `Name`: FirstName + " " + LastName, read-only.
    Name,
}

#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
    pub ty: Ty,
    pub createable: bool,
    pub required: bool,
}

const fn text(name: &'static str, label: &'static str, slot: usize, max: usize) -> FieldDef {
    FieldDef {
        name,
        label,
        ty: Ty::Text { slot, max },
        createable: true,
        required: false,
    }
}

const fn required(mut f: FieldDef) -> FieldDef {
    f.required = true;
    f
}

const fn read_only(mut f: FieldDef) -> FieldDef {
    f.createable = false;
    f
}

const fn boolean(name: &'static str, label: &'static str, bit: u8) -> FieldDef {
    FieldDef {
        name,
        label,
        ty: Ty::Bool { bit },
        createable: true,
        required: false,
    }
}

// Slot numbers of the text fields the emulator itself reads.
pub const ID: usize = 0;
pub const USERNAME: usize = 1;
pub const EMAIL: usize = 2;
pub const FIRST_NAME: usize = 3;
pub const LAST_NAME: usize = 4;
pub const ALIAS: usize = 7;
pub const NICKNAME: usize = 8;
pub const FEDERATION_ID: usize = 9;
pub const EMPLOYEE_NUMBER: usize = 10;
pub const PROFILE_ID: usize = 11;
pub const USER_TYPE: usize = 12;
pub const TIME_ZONE: usize = 13;
pub const LOCALE: usize = 14;
pub const EMAIL_ENCODING: usize = 15;
pub const LANGUAGE: usize = 16;
pub const CREATED_DATE: usize = 29;
pub const LAST_MODIFIED_DATE: usize = 30;
pub const USER_ROLE_ID: usize = 31;
pub const MANAGER_ID: usize = 32;
/// Number of text slots in a packed User (at most 64: null slots are bits of a u64).
pub const TEXT_SLOTS: usize = 33;

pub const IS_ACTIVE_BIT: u8 = 0;

/// Every User field the emulator knows, in describe order.
pub static USER_FIELDS: &[FieldDef] = &[
    read_only(text("Id", "User ID", ID, 18)),
    required(text("Username", "Username", USERNAME, 80)),
    required(text("Email", "Email", EMAIL, 128)),
    text("FirstName", "First Name", FIRST_NAME, 40),
    required(text("LastName", "Last Name", LAST_NAME, 80)),
    text("MiddleName", "Middle Name", 5, 40),
    text("Suffix", "Suffix", 6, 40),
    FieldDef {
        name: "Name",
        label: "Full Name",
        ty: Ty::Name,
        createable: false,
        required: false,
    },
    required(text("Alias", "Alias", ALIAS, 8)),
    text("CommunityNickname", "Nickname", NICKNAME, 40),
    text(
        "FederationIdentifier",
        "SAML Federation ID",
        FEDERATION_ID,
        512,
    ),
    text("EmployeeNumber", "Employee Number", EMPLOYEE_NUMBER, 20),
    required(text("ProfileId", "Profile ID", PROFILE_ID, 18)),
    text("UserRoleId", "Role ID", USER_ROLE_ID, 18),
    text("ManagerId", "Manager ID", MANAGER_ID, 18),
    read_only(text("UserType", "User Type", USER_TYPE, 40)),
    required(text("TimeZoneSidKey", "Time Zone", TIME_ZONE, 40)),
    required(text("LocaleSidKey", "Locale", LOCALE, 40)),
    required(text(
        "EmailEncodingKey",
        "Email Encoding",
        EMAIL_ENCODING,
        40,
    )),
    required(text("LanguageLocaleKey", "Language", LANGUAGE, 40)),
    text("Title", "Title", 17, 80),
    text("Department", "Department", 18, 80),
    text("CompanyName", "Company Name", 19, 80),
    text("Division", "Division", 20, 80),
    text("City", "City", 21, 40),
    text("State", "State/Province", 22, 80),
    text("Country", "Country", 23, 80),
    text("PostalCode", "Zip/Postal Code", 24, 20),
    text("Street", "Street", 25, 255),
    text("Phone", "Phone", 26, 40),
    text("MobilePhone", "Mobile", 27, 40),
    text("Fax", "Fax", 28, 40),
    read_only(text("CreatedDate", "Created Date", CREATED_DATE, 28)),
    read_only(text(
        "LastModifiedDate",
        "Last Modified Date",
        LAST_MODIFIED_DATE,
        28,
    )),
    boolean("IsActive", "Active", IS_ACTIVE_BIT),
    boolean("UserPermissionsMarketingUser", "Marketing User", 1),
    boolean("UserPermissionsOfflineUser", "Offline User", 2),
    boolean(
        "UserPermissionsCallCenterAutoLogin",
        "Auto-login To Call Center",
        3,
    ),
];

/// Looks a User field up by API name, case-insensitively (as SOQL and the REST API do).
pub fn user_field(name: &str) -> Option<&'static FieldDef> {
    USER_FIELDS
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
}

/// The field definition for a text slot.
pub fn slot_field(slot: usize) -> &'static FieldDef {
    USER_FIELDS
        .iter()
        .find(|f| matches!(f.ty, Ty::Text { slot: s, .. } if s == slot))
        .expect("every slot has a field")
}

/// Profile fields, as queryable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileField {
    Id,
    Name,
    UserType,
    UserLicenseId,
}

pub fn profile_field(name: &str) -> Option<(ProfileField, &'static str)> {
    [
        (ProfileField::Id, "Id"),
        (ProfileField::Name, "Name"),
        (ProfileField::UserType, "UserType"),
        (ProfileField::UserLicenseId, "UserLicenseId"),
    ]
    .into_iter()
    .find(|(_, n)| n.eq_ignore_ascii_case(name))
}

/// How a field of a small object (UserLogin, the access objects) compares and prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// An Id: compared exactly in 18-character form.
    Id,
    Bool,
}

/// A field of a small object: its API name, kind, and position in the row.
#[derive(Debug, PartialEq, Eq)]
pub struct ObjField {
    pub name: &'static str,
    pub kind: FieldKind,
    pub idx: usize,
}

const fn of(name: &'static str, kind: FieldKind, idx: usize) -> ObjField {
    ObjField { name, kind, idx }
}

/// `UserLogin` (lifecycle reference §2.3): one row per user.
pub static USER_LOGIN_FIELDS: &[ObjField] = &[
    of("Id", FieldKind::Id, 0),
    of("UserId", FieldKind::Id, 1),
    of("IsFrozen", FieldKind::Bool, 2),
    of("IsPasswordLocked", FieldKind::Bool, 3),
];

/// Looks a field of a small object up by API name, case-insensitively.
pub fn obj_field(fields: &'static [ObjField], name: &str) -> Option<&'static ObjField> {
    fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// `EmailEncodingKey` values (restricted picklist, reference §4.1).
pub const EMAIL_ENCODINGS: &[&str] = &[
    "UTF-8",
    "ISO-8859-1",
    "Shift_JIS",
    "ISO-2022-JP",
    "EUC-JP",
    "ks_c_5601-1987",
    "Big5",
    "GB2312",
    "Big5-HKSCS",
    "x-SJIS_0213",
];

/// `LanguageLocaleKey` values: the fully supported languages of reference §4.1
/// plus common end-user languages.
pub const LANGUAGES: &[&str] = &[
    "en_US", "de", "es", "fr", "it", "ja", "sv", "ko", "zh_TW", "zh_CN", "pt_BR", "nl_NL", "da",
    "th", "fi", "ru", "es_MX", "no", "en_GB", "en_AU", "en_CA", "fr_CA", "pl", "pt_PT", "cs", "tr",
    "hu", "el", "ro", "uk", "iw", "ar",
];

/// Time zones: the IANA `Area/Location` shape over the real areas, plus `GMT`.
/// Salesforce's list is long and changes; the shape check refuses typos such as
/// `Mars/Base` without refusing a real zone the list might lack.
pub fn valid_time_zone(v: &str) -> bool {
    const AREAS: &[&str] = &[
        "Africa",
        "America",
        "Antarctica",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    ];
    if v == "GMT" {
        return true;
    }
    let Some((area, rest)) = v.split_once('/') else {
        return false;
    };
    AREAS.contains(&area)
        && !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '-' | '+'))
}

/// Locales: `ll` or `ll_CC` (optionally `_Variant`), lower-case language, upper-case country.
pub fn valid_locale(v: &str) -> bool {
    let mut parts = v.split('_');
    let lang = parts.next().unwrap_or("");
    if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    match parts.next() {
        None => true,
        Some(cc) => {
            cc.len() == 2
                && cc.bytes().all(|b| b.is_ascii_uppercase())
                && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        }
    }
}
