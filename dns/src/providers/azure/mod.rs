//! Azure DNS (`azure_dns`): adds and removes one TXT value through the Azure Resource Manager
//! record sets API (api-version 2018-05-01), authenticated as a service principal.
//!
//! - Token: OAuth 2.0 client credentials grant against the Microsoft identity platform,
//!   `POST {login_endpoint}/{tenant_id}/oauth2/v2.0/token` with `client_id`, `client_secret`,
//!   `scope=https://management.azure.com/.default` and `grant_type=client_credentials`
//!   (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>).
//!   The token is cached until five minutes before `expires_in` runs out (at most half its
//!   life), so an order's add and remove calls do not each log in.
//! - Record set: `GET`/`PUT`/`DELETE {endpoint}/subscriptions/{subscription_id}/resourceGroups/
//!   {resource_group}/providers/Microsoft.Network/dnsZones/{zone}/TXT/{relative name}
//!   ?api-version=2018-05-01` (<https://learn.microsoft.com/en-us/rest/api/dns/record-sets>).
//!   A record set is replaced whole by PUT, so values are merged: the set is read, the value
//!   added to or removed from `properties.TXTRecords`, and written back with `If-Match: {etag}`
//!   (or `If-None-Match: *` when creating) so that a concurrent change is not overwritten: a
//!   `412 Precondition Failed` re-reads and retries once. The last value removed deletes the
//!   record set (`DELETE` with `If-Match`; 200 deleted, 204 already gone).
//!
//! The relative name is the fqdn without `.{zone}` (`@` at the apex). 429 carries
//! `Retry-After` (<https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling>).

mod wire;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;

use self::wire::{ArmError, RecordSet, RecordSetBody, TokenAnswer, TxtRecord};
use crate::config::ResolvedConfig;
use crate::endpoint::HttpClient;
use crate::error::DnsError;
use crate::oauth::{self, TokenCache};
use crate::provider::DnsProvider;
use crate::rest::{Reply, http_error, retry_after, unreadable};

const API_VERSION: &str = "2018-05-01";
const DEFAULT_ENDPOINT: &str = "https://management.azure.com";
const DEFAULT_LOGIN_ENDPOINT: &str = "https://login.microsoftonline.com";
/// The Azure Resource Manager scope of the client credentials grant.
const SCOPE: &str = "https://management.azure.com/.default";
/// TTL of a record set that this provider creates (an existing one keeps its own).
const TTL: u64 = 60;

/// Azure DNS through Azure Resource Manager. Debug never prints the secret or the token.
pub struct AzureDns {
    http: HttpClient,
    endpoint: reqwest::Url,
    login_endpoint: reqwest::Url,
    tenant_id: String,
    client_id: String,
    client_secret: String,
    subscription_id: String,
    resource_group: String,
    zone: String,
    token: TokenCache,
}

impl fmt::Debug for AzureDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureDns")
            .field("endpoint", &self.endpoint.as_str())
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("subscription_id", &self.subscription_id)
            .field("resource_group", &self.resource_group)
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

impl AzureDns {
    /// Reads `tenant_id`, `client_id`, `client_secret`, `subscription_id`, `resource_group`,
    /// `zone`, optional `endpoint` and optional `login_endpoint`.
    pub fn new(config: &ResolvedConfig, http: HttpClient) -> Result<Self, DnsError> {
        Ok(Self {
            endpoint: http.endpoint(config, "endpoint", DEFAULT_ENDPOINT, unslashed)?,
            login_endpoint: http.endpoint(
                config,
                "login_endpoint",
                DEFAULT_LOGIN_ENDPOINT,
                unslashed,
            )?,
            tenant_id: config.required_segment("tenant_id")?,
            client_id: config.required("client_id")?.trim().to_owned(),
            client_secret: config.required("client_secret")?.to_owned(),
            subscription_id: config.required_segment("subscription_id")?,
            resource_group: config.required_segment("resource_group")?,
            zone: config
                .required_segment("zone")?
                .trim_end_matches('.')
                .to_ascii_lowercase(),
            http,
            token: TokenCache::default(),
        })
    }

    /// The record set name relative to the zone (`@` for the apex).
    fn relative_name(&self, fqdn: &str) -> Result<String, DnsError> {
        let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
        if fqdn == self.zone {
            return Ok("@".into());
        }
        fqdn.strip_suffix(&format!(".{}", self.zone))
            .map(str::to_owned)
            .ok_or_else(|| {
                DnsError::Config(format!("{fqdn} is not in the Azure DNS zone {}", self.zone))
            })
    }

    fn record_set_url(&self, relative: &str) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .pop_if_empty()
            .extend([
                "subscriptions",
                &self.subscription_id,
                "resourceGroups",
                &self.resource_group,
                "providers",
                "Microsoft.Network",
                "dnsZones",
                &self.zone,
                "TXT",
                relative,
            ]);
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION);
        url
    }

    /// A bearer token for Azure Resource Manager, from the cache while it is fresh.
    async fn token(&self) -> Result<String, DnsError> {
        self.token.get(|| self.log_in()).await
    }

    /// A new token and its lifetime.
    async fn log_in(&self) -> Result<(String, Duration), DnsError> {
        let mut url = self.login_endpoint.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .pop_if_empty()
            .extend([self.tenant_id.as_str(), "oauth2", "v2.0", "token"]);
        let request = self.http.request(Method::POST, url)?.form(&[
            ("client_id", self.client_id.as_str()),
            ("scope", SCOPE),
            ("client_secret", self.client_secret.as_str()),
            ("grant_type", "client_credentials"),
        ]);
        let body = oauth::request_token(request, "Azure login").await?;
        let answer: TokenAnswer = serde_json::from_str(&body)
            .map_err(|e| unreadable("Azure login", "token answer", &e))?;
        let lifetime = Duration::from_secs(answer.expires_in.seconds());
        tracing::debug!(lifetime_s = lifetime.as_secs(), "azure token obtained");
        Ok((answer.access_token, lifetime))
    }

    /// Sends one ARM request with the bearer token; the status and body of a 2xx, 404 or 412.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, String), DnsError> {
        let token = self.token().await?;
        let Reply {
            status,
            retry_after: retry,
            body,
            ..
        } = Reply::receive(request.bearer_auth(token), "Azure DNS", retry_after).await?;
        // 404 (no such record set) and 412 (etag mismatch) are answers the callers handle.
        if status.is_success()
            || status == reqwest::StatusCode::NOT_FOUND
            || status == reqwest::StatusCode::PRECONDITION_FAILED
        {
            return Ok((status, body));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // A revoked or rotated token: the next call logs in again.
            self.token.forget().await;
        }
        Err(http_error(status, retry, arm_message(&body).as_deref()))
    }

    /// The TXT record set, or `None` when there is none.
    async fn read(&self, url: &reqwest::Url) -> Result<Option<RecordSet>, DnsError> {
        let (status, body) = self
            .send(self.http.request(Method::GET, url.clone())?)
            .await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(http_error(status, None, arm_message(&body).as_deref()));
        }
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| unreadable("Azure DNS", "record set", &e))
    }

    /// Writes the record set with these values; `false` when the etag no longer matched.
    async fn write(
        &self,
        url: &reqwest::Url,
        current: Option<&RecordSet>,
        values: Vec<Vec<String>>,
    ) -> Result<bool, DnsError> {
        let mut properties = current
            .map(|set| set.properties.clone())
            .unwrap_or_default();
        properties.ttl = Some(properties.ttl.unwrap_or(TTL));
        properties.txt_records = values
            .into_iter()
            .map(|value| TxtRecord { value })
            .collect();
        let body = RecordSetBody { properties };
        let mut request = self.http.request(Method::PUT, url.clone())?.json(&body);
        request = match current.and_then(|set| set.etag.as_deref()) {
            Some(etag) => request.header(reqwest::header::IF_MATCH, etag),
            None => request.header(reqwest::header::IF_NONE_MATCH, "*"),
        };
        let (status, body) = self.send(request).await?;
        match status {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::PRECONDITION_FAILED => Ok(false),
            // 404: the zone itself (a record set PUT creates the set).
            s => Err(http_error(s, None, arm_message(&body).as_deref())),
        }
    }

    /// Deletes the record set if it is still at this etag; `false` when it changed.
    async fn delete(&self, url: &reqwest::Url, current: &RecordSet) -> Result<bool, DnsError> {
        let mut request = self.http.request(Method::DELETE, url.clone())?;
        if let Some(etag) = current.etag.as_deref() {
            request = request.header(reqwest::header::IF_MATCH, etag);
        }
        let (status, body) = self.send(request).await?;
        match status {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(true),
            reqwest::StatusCode::PRECONDITION_FAILED => Ok(false),
            s => Err(http_error(s, None, arm_message(&body).as_deref())),
        }
    }
}

#[async_trait]
impl DnsProvider for AzureDns {
    async fn present(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let url = self.record_set_url(&self.relative_name(fqdn)?);
        for _ in 0..2 {
            let current = self.read(&url).await?;
            let mut values = current
                .as_ref()
                .map(|set| {
                    set.properties
                        .txt_records
                        .iter()
                        .map(|r| r.value.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            if values.iter().any(|chunks| chunks.concat() == value) {
                return Ok(());
            }
            values.push(chunks(value));
            if self.write(&url, current.as_ref(), values).await? {
                return Ok(());
            }
            tracing::debug!("azure record set changed concurrently; reading again");
        }
        Err(DnsError::Rejected(format!(
            "the Azure DNS record set for {fqdn} kept changing concurrently"
        )))
    }

    async fn clean_up(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let url = self.record_set_url(&self.relative_name(fqdn)?);
        for _ in 0..2 {
            let Some(current) = self.read(&url).await? else {
                return Ok(());
            };
            let all = &current.properties.txt_records;
            let rest: Vec<Vec<String>> = all
                .iter()
                .filter(|r| r.value.concat() != value)
                .map(|r| r.value.clone())
                .collect();
            if rest.len() == all.len() {
                return Ok(());
            }
            let done = if rest.is_empty() {
                self.delete(&url, &current).await?
            } else {
                self.write(&url, Some(&current), rest).await?
            };
            if done {
                return Ok(());
            }
            tracing::debug!("azure record set changed concurrently; reading again");
        }
        Err(DnsError::Rejected(format!(
            "the Azure DNS record set for {fqdn} kept changing concurrently"
        )))
    }
}

/// A TXT value as Azure's `value` array: strings of at most 255 characters.
fn chunks(value: &str) -> Vec<String> {
    let chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(255).map(|c| c.iter().collect()).collect()
}

/// The `code: message` of an ARM error body (`{"error":{"code","message"}}`), if it is one.
fn arm_message(body: &str) -> Option<String> {
    serde_json::from_str::<ArmError>(body)
        .ok()
        .map(|ArmError { error }| {
            format!(
                "{}: {}",
                error.code.unwrap_or_default(),
                error.message.unwrap_or_default()
            )
        })
}

/// An endpoint as configured, without its trailing slash.
fn unslashed(raw: &str) -> &str {
    raw.trim_end_matches('/')
}
