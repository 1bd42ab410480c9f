//! Google Cloud DNS (`google_cloud_dns`): adds and removes one TXT value through the Cloud DNS
//! API v1, authenticated as a service account.
//!
//! - Token: the OAuth 2.0 JWT bearer grant for service accounts
//!   (<https://developers.google.com/identity/protocols/oauth2/service-account#httprest>): an
//!   RS256 JWT signed with the key file's `private_key` (header `kid` = `private_key_id`),
//!   claims `iss` = `client_email`, `scope` =
//!   `https://www.googleapis.com/auth/ndev.clouddns.readwrite`, `aud` = the key file's
//!   `token_uri`, `iat` and `exp` (one hour, the maximum), posted as
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…` to `token_uri` (or
//!   the configured `token_endpoint`). The access token is cached until five minutes before
//!   `expires_in` runs out.
//! - Read: `GET {endpoint}/dns/v1/projects/{project}/managedZones/{managed_zone}/rrsets
//!   ?name={fqdn.}&type=TXT` (<https://cloud.google.com/dns/docs/reference/rest/v1/resourceRecordSets/list>).
//! - Write: `POST …/managedZones/{managed_zone}/changes` with `additions` and `deletions`
//!   (<https://cloud.google.com/dns/docs/reference/rest/v1/changes/create>). A change is atomic;
//!   the deletion must match the existing RRset exactly, so the RRset is echoed back as listed
//!   and the new one added with the value added or removed (rrdatas are quoted
//!   character-strings). A concurrent writer makes the change fail with `409 alreadyExists` or
//!   `412 conditionNotMet` (<https://cloud.google.com/dns/docs/error-messages>): the RRset is
//!   re-read and the change retried once.
//!
//! Google APIs may answer rate limits with 403 and reason `rateLimitExceeded` /
//! `userRateLimitExceeded` as well as 429: both become [`DnsError::RateLimited`]. The change is
//! not awaited to `done`: the propagation check queries the authoritative nameservers itself.

mod wire;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use self::wire::{Claims, KeyFile, ManagedZone, RrsetList, TokenAnswer};
use crate::config::ResolvedConfig;
use crate::endpoint::HttpClient;
use crate::error::DnsError;
use crate::names::{absolute, in_zone, normalize};
use crate::oauth::{self, TokenCache};
use crate::provider::DnsProvider;
use crate::rest::{Reply, http_error, retry_after, unreadable};
use crate::txt::{quote_strings, unquote_strings};

const DEFAULT_ENDPOINT: &str = "https://dns.googleapis.com";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Read-write access to Cloud DNS and nothing else.
const SCOPE: &str = "https://www.googleapis.com/auth/ndev.clouddns.readwrite";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of the JWT assertion: Google accepts at most one hour.
const ASSERTION_LIFETIME: u64 = 3600;
/// TTL of an RRset that this provider creates (an existing one keeps its own).
const TTL: u64 = 60;

/// Google Cloud DNS. Debug never prints the key or the token.
pub struct GoogleCloudDns {
    http: HttpClient,
    endpoint: reqwest::Url,
    token_endpoint: reqwest::Url,
    /// The `aud` claim: the key file's `token_uri`.
    audience: String,
    client_email: String,
    key_id: Option<String>,
    key: EncodingKey,
    project: String,
    managed_zone: String,
    token: TokenCache,
}

impl fmt::Debug for GoogleCloudDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleCloudDns")
            .field("endpoint", &self.endpoint.as_str())
            .field("client_email", &self.client_email)
            .field("project", &self.project)
            .field("managed_zone", &self.managed_zone)
            .finish_non_exhaustive()
    }
}

impl GoogleCloudDns {
    /// Reads `service_account_json` (the key file), `project`, `managed_zone`, optional
    /// `endpoint` and optional `token_endpoint`.
    pub fn new(config: &ResolvedConfig, http: HttpClient) -> Result<Self, DnsError> {
        let key_file: KeyFile = serde_json::from_str(config.required("service_account_json")?)
            .map_err(|e| {
                // serde_json's message names the field or position, never the content.
                DnsError::Config(format!("service_account_json is not a key file: {e}"))
            })?;
        if let Some(kind) = key_file.kind.as_deref()
            && kind != "service_account"
        {
            return Err(DnsError::Config(format!(
                "service_account_json is of type {kind:?}, not \"service_account\""
            )));
        }
        let key = EncodingKey::from_rsa_pem(key_file.private_key.as_bytes()).map_err(|e| {
            DnsError::Config(format!(
                "service_account_json private_key is not an RSA PEM key: {e}"
            ))
        })?;
        let audience = key_file
            .token_uri
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
        // The key file's `token_uri` is checked like a configured endpoint: the assertion goes
        // there.
        let token_endpoint = http.endpoint(config, "token_endpoint", &audience, unslashed)?;
        Ok(Self {
            endpoint: http.endpoint(config, "endpoint", DEFAULT_ENDPOINT, unslashed)?,
            token_endpoint,
            audience,
            client_email: key_file.client_email,
            key_id: key_file.private_key_id,
            key,
            project: config.required_segment("project")?,
            managed_zone: config.required_segment("managed_zone")?,
            http,
            token: TokenCache::default(),
        })
    }

    /// The managed zone's resource URL.
    fn managed_zone_url(&self) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .pop_if_empty()
            .extend([
                "dns",
                "v1",
                "projects",
                &self.project,
                "managedZones",
                &self.managed_zone,
            ]);
        url
    }

    /// A collection of the managed zone (`rrsets`, `changes`).
    fn zone_url(&self, last: &str) -> reqwest::Url {
        let mut url = self.managed_zone_url();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .push(last);
        url
    }

    /// The managed zone's DNS name (`managedZones.get`), lower-case without the trailing dot.
    async fn zone_name(&self) -> Result<String, DnsError> {
        let body = self
            .send(self.http.request(Method::GET, self.managed_zone_url())?)
            .await?
            .ok_or_else(|| DnsError::Server("Cloud DNS answered a get with a conflict".into()))?;
        let zone: ManagedZone =
            serde_json::from_str(&body).map_err(|e| unreadable("Cloud DNS", "managed zone", &e))?;
        Ok(zone.dns_name.trim_end_matches('.').to_ascii_lowercase())
    }

    /// An access token, from the cache while it is fresh.
    async fn token(&self) -> Result<String, DnsError> {
        self.token.get(|| self.log_in()).await
    }

    /// A new access token and its lifetime.
    async fn log_in(&self) -> Result<(String, Duration), DnsError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.audience,
            iat: now,
            exp: now + ASSERTION_LIFETIME,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| DnsError::Config(format!("cannot sign the JWT assertion: {e}")))?;
        let request = self
            .http
            .request(Method::POST, self.token_endpoint.clone())?
            .form(&[
                ("grant_type", JWT_BEARER),
                ("assertion", assertion.as_str()),
            ]);
        let body = oauth::request_token(request, "Google token endpoint").await?;
        let answer: TokenAnswer = serde_json::from_str(&body)
            .map_err(|e| unreadable("Google token endpoint", "answer", &e))?;
        let lifetime = Duration::from_secs(answer.expires_in);
        tracing::debug!(lifetime_s = lifetime.as_secs(), "google token obtained");
        Ok((answer.access_token, lifetime))
    }

    /// Sends one API request with the bearer token; the body on success, `Ok(None)` on a
    /// 409/412 conflict.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Option<String>, DnsError> {
        let token = self.token().await?;
        let Reply {
            status,
            retry_after: retry,
            body,
            ..
        } = Reply::receive(request.bearer_auth(token), "Cloud DNS", retry_after).await?;
        if status.is_success() {
            return Ok(Some(body));
        }
        if matches!(status.as_u16(), 409 | 412) {
            tracing::debug!(status = status.as_u16(), "cloud dns change conflicted");
            return Ok(None);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            self.token.forget().await;
        }
        Err(api_error(status, retry, &body))
    }

    /// The TXT RRset at `name` (absolute) exactly as listed, if any.
    async fn read(&self, name: &str) -> Result<Option<Value>, DnsError> {
        let mut url = self.zone_url("rrsets");
        url.query_pairs_mut()
            .append_pair("name", name)
            .append_pair("type", "TXT");
        let body = self
            .send(self.http.request(Method::GET, url)?)
            .await?
            .ok_or_else(|| DnsError::Server("Cloud DNS answered a list with a conflict".into()))?;
        let list: RrsetList =
            serde_json::from_str(&body).map_err(|e| unreadable("Cloud DNS", "rrsets list", &e))?;
        Ok(list.rrsets.into_iter().find(|set| {
            set["type"] == "TXT"
                && set["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }))
    }

    /// Replaces `current` by an RRset with `rrdatas` (none: deletes it). `false` on a conflict.
    async fn change(
        &self,
        name: &str,
        current: Option<&Value>,
        rrdatas: Vec<String>,
    ) -> Result<bool, DnsError> {
        let ttl = current.and_then(|set| set["ttl"].as_u64()).unwrap_or(TTL);
        let mut change = json!({ "kind": "dns#change" });
        if let Some(current) = current {
            change["deletions"] = json!([current]);
        }
        if !rrdatas.is_empty() {
            change["additions"] = json!([{
                "kind": "dns#resourceRecordSet",
                "name": name,
                "type": "TXT",
                "ttl": ttl,
                "rrdatas": rrdatas,
            }]);
        }
        Ok(self
            .send(
                self.http
                    .request(Method::POST, self.zone_url("changes"))?
                    .json(&change),
            )
            .await?
            .is_some())
    }
}

#[async_trait]
impl DnsProvider for GoogleCloudDns {
    /// The managed zone's DNS name, when it encloses `fqdn`.
    async fn zone_of(&self, fqdn: &str) -> Result<Option<String>, DnsError> {
        let zone = self.zone_name().await?;
        Ok(in_zone(&normalize(fqdn)?, &zone).then_some(zone))
    }

    async fn present(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let name = absolute(fqdn);
        for _ in 0..2 {
            let current = self.read(&name).await?;
            let mut rrdatas = rrdatas(current.as_ref());
            if rrdatas.iter().any(|raw| unquote_strings(raw) == value) {
                return Ok(());
            }
            rrdatas.push(quote_strings(value));
            if self.change(&name, current.as_ref(), rrdatas).await? {
                return Ok(());
            }
        }
        Err(DnsError::Rejected(format!(
            "the Cloud DNS RRset at {name} kept changing concurrently"
        )))
    }

    async fn clean_up(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let name = absolute(fqdn);
        for _ in 0..2 {
            let Some(current) = self.read(&name).await? else {
                return Ok(());
            };
            let all = rrdatas(Some(&current));
            let rest: Vec<String> = all
                .iter()
                .filter(|raw| unquote_strings(raw) != value)
                .cloned()
                .collect();
            if rest.len() == all.len() {
                return Ok(());
            }
            if self.change(&name, Some(&current), rest).await? {
                return Ok(());
            }
        }
        Err(DnsError::Rejected(format!(
            "the Cloud DNS RRset at {name} kept changing concurrently"
        )))
    }
}

fn rrdatas(set: Option<&Value>) -> Vec<String> {
    set.and_then(|s| s["rrdatas"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Maps a Google API error (`{"error":{"code","message","errors":[{"reason"}]}}`); rate-limit
/// reasons on 403 are rate limits, not refused credentials.
fn api_error(status: reqwest::StatusCode, retry: Option<u64>, body: &str) -> DnsError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().map(|v| &v["error"]);
    let message = error
        .and_then(|e| e["message"].as_str())
        .unwrap_or("no error message in the answer")
        .to_owned();
    let reason = error
        .and_then(|e| e["errors"][0]["reason"].as_str())
        .unwrap_or_default();
    if status == reqwest::StatusCode::FORBIDDEN
        && matches!(reason, "rateLimitExceeded" | "userRateLimitExceeded")
    {
        return DnsError::RateLimited {
            message: format!("HTTP 403 {reason}: {}", crate::rest::sanitize(&message)),
            retry_after: retry,
        };
    }
    let message = if reason.is_empty() {
        message
    } else {
        format!("{reason}: {message}")
    };
    http_error(status, retry, Some(&message))
}

/// An endpoint as configured, without its trailing slash.
fn unslashed(raw: &str) -> &str {
    raw.trim_end_matches('/')
}
