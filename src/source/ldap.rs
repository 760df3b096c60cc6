//! TEMPORARY stand-in for the LDAP source (replaced by the ldap branch).
#![allow(clippy::unused_async)]

use super::{SourceError, SourceRecord};
use crate::job::{LdapSource, Secret};

pub async fn read_all(
    _c: &LdapSource,
    _p: Option<&Secret>,
    _a: &[String],
) -> Result<Vec<SourceRecord>, SourceError> {
    Err(SourceError::Fatal("stub".into()))
}
pub async fn read_only(
    _c: &LdapSource,
    _p: Option<&Secret>,
    _a: &[String],
    _m: &str,
    _x: &[String],
) -> Result<Vec<SourceRecord>, SourceError> {
    Err(SourceError::Fatal("stub".into()))
}
pub async fn check(_c: &LdapSource, _p: Option<&Secret>) -> Vec<(String, Result<String, String>)> {
    Vec::new()
}
