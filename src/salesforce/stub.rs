//! TEMPORARY stand-in for the client API (replaced by the client branch).
#![allow(dead_code, clippy::unused_async)]

use std::collections::HashMap;
use std::time::Duration;

use super::SfUser;
use crate::job::{AuthConfig, SalesforceConfig, SecretError};

#[derive(Debug)]
pub struct Credentials;
impl Credentials {
    pub fn resolve(_auth: &AuthConfig) -> Result<Credentials, SecretError> {
        Ok(Credentials)
    }
}
pub struct ClientOptions {
    pub requests_per_second: f64,
    pub concurrency: usize,
    pub max_retries: u32,
    pub timeout: Duration,
}
#[derive(Debug, Clone, Copy)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}
#[derive(Debug, thiserror::Error)]
#[error("stub")]
pub struct SfError;
#[derive(Clone)]
pub struct Client;
impl Client {
    pub async fn connect(
        _c: &SalesforceConfig,
        _k: Credentials,
        _o: ClientOptions,
    ) -> Result<Client, SfError> {
        Err(SfError)
    }
    pub fn instance_url(&self) -> String {
        String::new()
    }
    pub async fn query_users(&self, _k: &[String]) -> Result<Vec<SfUser>, SfError> {
        Err(SfError)
    }
    pub async fn profile_ids_by_name(
        &self,
        _n: &[String],
    ) -> Result<HashMap<String, String>, SfError> {
        Err(SfError)
    }
    pub async fn profile_exists(&self, _id: &str) -> Result<bool, SfError> {
        Err(SfError)
    }
    pub async fn limits(&self) -> Result<ApiUsage, SfError> {
        Err(SfError)
    }
    pub fn api_calls(&self) -> u64 {
        0
    }
    pub fn last_usage(&self) -> Option<ApiUsage> {
        None
    }
}
