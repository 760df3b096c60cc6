//! `[access]` and `[[access.rules]]` (SPEC "Access on create"): what a user
//! this job creates also gets. Names only: the org resolves them to Ids once
//! per run (`commands::access`), the planner decides per person
//! (`plan::access`).

use crate::template::Template;

/// What a person is granted: API names as the job file gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// `PermissionSet.Name`.
    pub permission_sets: Vec<String>,
    /// `PermissionSetGroup.DeveloperName`.
    pub permission_set_groups: Vec<String>,
    /// `Group.DeveloperName` of public groups (`Type = 'Regular'`).
    pub public_groups: Vec<String>,
    /// `UserRole.DeveloperName`, set as `UserRoleId` on the create record.
    pub role: Option<String>,
}

/// How a rule tests its attribute's values.
#[derive(Debug, Clone)]
pub enum RuleTest {
    /// Equal ignoring case; held in lower case.
    Equals(String),
    /// The regex finds a match in the value (anchor it with `^...$` for a whole value).
    Matches(regex::Regex),
}

impl RuleTest {
    /// Whether one value passes.
    pub fn test(&self, value: &str) -> bool {
        match self {
            RuleTest::Equals(want) => {
                value.eq_ignore_ascii_case(want) || value.to_lowercase() == *want
            }
            RuleTest::Matches(re) => re.is_match(value),
        }
    }
}

impl PartialEq for RuleTest {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RuleTest::Equals(a), RuleTest::Equals(b)) => a == b,
            (RuleTest::Matches(a), RuleTest::Matches(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// One `[[access.rules]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRule {
    /// Index into [`crate::job::Job::attributes`] of the attribute it tests.
    pub attribute: usize,
    pub test: RuleTest,
    /// `Profile.Name`; the first matching rule that names one wins over `[defaults]`.
    pub profile: Option<String>,
    /// What a match adds (its `role` replaces `[access] role`; the first matching rule naming one wins).
    pub grants: Grants,
}

/// `[access]`.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// Granted to every user the job creates.
    pub grants: Grants,
    /// The manager's Salesforce username; resolved to `ManagerId`.
    pub manager: Option<Template>,
    /// `true`: matched users also get what they lack (never removed).
    pub apply_to_existing: bool,
    /// In file order; every matching rule adds.
    pub rules: Vec<AccessRule>,
    /// How several values of one attribute are kept in a record: LDAP gives
    /// every value of a rule's attribute, joined with a newline; a CSV cell
    /// lists them separated by `;` (e.g. `Sales;Managers`).
    pub separator: char,
}

/// The separator of several values in one CSV cell of a rule's column.
pub const CSV_VALUE_SEPARATOR: char = ';';

/// The separator the LDAP reader joins a rule attribute's values with.
pub const LDAP_VALUE_SEPARATOR: char = '\n';

impl AccessConfig {
    /// Every name of each kind the job gives (base and rules), each once, in
    /// order of first use: what the run resolves.
    pub fn names(&self) -> AccessNames {
        let mut out = AccessNames::default();
        let all = std::iter::once(&self.grants).chain(self.rules.iter().map(|r| &r.grants));
        for g in all {
            push_all(&mut out.permission_sets, &g.permission_sets);
            push_all(&mut out.permission_set_groups, &g.permission_set_groups);
            push_all(&mut out.public_groups, &g.public_groups);
            push_all(&mut out.roles, g.role.iter());
        }
        push_all(
            &mut out.profiles,
            self.rules.iter().filter_map(|r| r.profile.as_ref()),
        );
        out
    }
}

fn push_all<'a>(to: &mut Vec<String>, names: impl IntoIterator<Item = &'a String>) {
    for n in names {
        if !to.iter().any(|t| t.eq_ignore_ascii_case(n)) {
            to.push(n.clone());
        }
    }
}

/// The distinct names of each kind an `[access]` section uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessNames {
    pub permission_sets: Vec<String>,
    pub permission_set_groups: Vec<String>,
    pub public_groups: Vec<String>,
    pub roles: Vec<String>,
    /// Rule profiles (`Profile.Name`).
    pub profiles: Vec<String>,
}
