//! dns-01 (RFC 8555 §8.4): DNS providers that add and remove one TXT value at a name, and the
//! propagation check that waits until every authoritative nameserver serves it.
//!
//! Every provider adds and removes exactly one value and leaves other values of the same RRset
//! alone: an apex and its wildcard share `_acme-challenge.<name>` with two different values, and
//! other clients may have records there too.

pub mod azure;
pub mod cloudflare;
pub mod digitalocean;
pub mod google;
pub mod hetzner;
mod names;
mod oauth;
pub mod propagation;
pub mod provider_slots;
mod rest;
pub mod rfc2136;
pub mod route53;
mod txt;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

/// Why a DNS provider call failed, classified so an order error says what to fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DnsError {
    /// Credentials refused (HTTP 401/403, TSIG BADKEY/BADSIG, DNS REFUSED/NOTAUTH).
    #[error("the DNS provider refused the credentials: {0}")]
    Auth(String),
    /// The provider's rate limit (HTTP 429); `retry_after` in seconds when given.
    #[error("the DNS provider's rate limit was hit: {message}")]
    RateLimited {
        message: String,
        retry_after: Option<u64>,
    },
    /// The provider failed (HTTP 5xx, DNS SERVFAIL).
    #[error("the DNS provider failed: {0}")]
    Server(String),
    /// The provider refused the request (other HTTP 4xx, e.g. no such zone).
    #[error("the DNS provider rejected the request: {0}")]
    Rejected(String),
    /// The provider could not be reached.
    #[error("the DNS provider could not be reached: {0}")]
    Transport(String),
    /// The provider's configuration is unusable (bad key, bad secret format).
    #[error("the DNS provider's configuration is unusable: {0}")]
    Config(String),
}

impl DnsError {
    /// Whether retrying later may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DnsError::RateLimited { .. } | DnsError::Server(_) | DnsError::Transport(_)
        )
    }
}

/// A provider's config with every `<name>_path` secret resolved: the value is under `<name>`
/// (e.g. `api_token_path` → `api_token`). Debug never prints values.
#[derive(Clone, Default)]
pub struct ResolvedConfig {
    values: BTreeMap<String, String>,
}

impl fmt::Debug for ResolvedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl ResolvedConfig {
    /// A config from resolved values.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self { values }
    }

    /// A value that must be present.
    pub fn required(&self, key: &str) -> Result<&str, DnsError> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| DnsError::Config(format!("missing {key}")))
    }

    /// A value that must be present and goes into a URL path as one segment: trimmed, and
    /// without `/`, `?` or `#` (Azure and Google address resources by such names).
    pub(crate) fn required_segment(&self, key: &str) -> Result<String, DnsError> {
        let value = self.required(key)?.trim().to_owned();
        if value.contains(['/', '?', '#']) {
            return Err(DnsError::Config(format!(
                "{key} must not contain '/', '?' or '#'"
            )));
        }
        Ok(value)
    }

    /// A value that may be absent.
    pub fn optional(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Writes dns-01 TXT records. Names are fully qualified, lower-case, without a trailing dot,
/// e.g. `_acme-challenge.example.test`.
#[async_trait]
pub trait DnsProvider: Send + Sync + fmt::Debug {
    /// Adds `value` to the TXT RRset at `fqdn`, keeping the other values. Adding a value that is
    /// already there succeeds.
    async fn add_txt(&self, fqdn: &str, value: &str) -> Result<(), DnsError>;
    /// Removes exactly `value` from the TXT RRset at `fqdn`, keeping the other values. Removing
    /// a value that is not there succeeds.
    async fn remove_txt(&self, fqdn: &str, value: &str) -> Result<(), DnsError>;
}

/// The provider of type `kind` for a resolved config. `http` is the shared HTTP client for the
/// cloud APIs (rustls, system roots).
pub fn build(
    kind: &str,
    config: &ResolvedConfig,
    http: &reqwest::Client,
) -> Result<Box<dyn DnsProvider>, DnsError> {
    Ok(match kind {
        "rfc2136" => Box::new(rfc2136::Rfc2136::new(config)?),
        "aws_route53" => Box::new(route53::Route53::new(config, http.clone())?),
        "cloudflare" => Box::new(cloudflare::Cloudflare::new(config, http.clone())?),
        "google_cloud_dns" => Box::new(google::GoogleCloudDns::new(config, http.clone())?),
        "azure_dns" => Box::new(azure::AzureDns::new(config, http.clone())?),
        "digitalocean" => Box::new(digitalocean::DigitalOcean::new(config, http.clone())?),
        "hetzner" => Box::new(hetzner::Hetzner::new(config, http.clone())?),
        other => return Err(DnsError::Config(format!("unknown provider type {other:?}"))),
    })
}

/// Maps an HTTP status and body of a provider API onto a [`DnsError`] (shared by the cloud
/// providers: 401/403 credentials, 429 rate limit with Retry-After, 5xx provider failure).
pub fn http_error(status: reqwest::StatusCode, retry_after: Option<u64>, body: &str) -> DnsError {
    let body: String = body.chars().take(300).collect();
    let message = format!("HTTP {}: {body}", status.as_u16());
    match status.as_u16() {
        401 | 403 => DnsError::Auth(message),
        429 => DnsError::RateLimited {
            message,
            retry_after,
        },
        500..=599 => DnsError::Server(message),
        _ => DnsError::Rejected(message),
    }
}
