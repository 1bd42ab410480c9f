//! The HTTP plumbing the cloud DNS providers share: a small JSON REST client for the APIs that
//! are plain JSON with a bearer token (Cloudflare, DigitalOcean, Hetzner), reading an answer
//! whole ([`Reply::receive`], also used by Route 53, Azure and Google), `Retry-After`, the
//! [`DnsError`] an HTTP status means ([`http_error`]), and the parsing of a configured `endpoint`.
//!
//! One copy, so that every provider words a transport failure the same way (`<label>: <error>`),
//! and the REST providers send the same `Accept` header and timeout and map a failed answer
//! through [`http_error`] with the API's own error text.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::config::ResolvedConfig;
use crate::error::DnsError;

/// Upper bound on one REST request, so that a stalled API cannot hold an order forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads how many seconds to wait from an answer's headers.
pub(crate) type RetryAfter = fn(&HeaderMap) -> Option<u64>;

/// Reads the API's own error text from a failed answer's body (`None`: the body is used as is).
pub(crate) type ErrorDetail = fn(&str) -> Option<String>;

/// A JSON REST API at `endpoint`, authenticated with `Authorization: Bearer <token>`. `label`
/// (e.g. `"Cloudflare API"`) starts every error message. Not `Debug`: the token stays private.
pub(crate) struct RestClient {
    http: reqwest::Client,
    endpoint: Url,
    token: String,
    label: &'static str,
    retry_after: RetryAfter,
}

impl RestClient {
    /// The client for a provider config with `api_token` and optional `endpoint` (else
    /// `default_endpoint`); `Retry-After` is read with [`retry_after`].
    pub(crate) fn from_config(
        config: &ResolvedConfig,
        http: reqwest::Client,
        default_endpoint: &str,
        label: &'static str,
    ) -> Result<Self, DnsError> {
        let token = config.required("api_token")?.trim().to_owned();
        let endpoint = parse_endpoint(config.optional("endpoint").unwrap_or(default_endpoint))?;
        Ok(Self {
            http,
            endpoint,
            token,
            label,
            retry_after,
        })
    }

    /// Reads the wait after a rate limit with `read` instead (an API with its own headers).
    pub(crate) fn with_retry_after(self, read: RetryAfter) -> Self {
        Self {
            retry_after: read,
            ..self
        }
    }

    pub(crate) fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The endpoint with `segments` appended (percent-encoded) and `query` added.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request (with a JSON `body` when given) and returns the answer, whatever its
    /// status.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<Reply, DnsError> {
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(REQUEST_TIMEOUT);
        if let Some(body) = &body {
            request = request.json(body);
        }
        Reply::receive(request, self.label, self.retry_after).await
    }
}

/// An answer read whole: status, seconds to wait (when the headers say), body.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<u64>,
    pub(crate) body: String,
    label: &'static str,
}

impl Reply {
    /// Sends `request` and reads the answer; a failure to send or read is a
    /// [`DnsError::Transport`] starting with `label`.
    pub(crate) async fn receive(
        request: RequestBuilder,
        label: &'static str,
        retry_after: RetryAfter,
    ) -> Result<Self, DnsError> {
        let response = request
            .send()
            .await
            .map_err(|e| DnsError::Transport(format!("{label}: {e}")))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| DnsError::Transport(format!("{label}: {e}")))?;
        Ok(Self {
            status,
            retry_after,
            body,
            label,
        })
    }

    /// `Ok` for a 2xx answer, else its [`http_error`] with the API's error text.
    pub(crate) fn check(&self, detail: ErrorDetail) -> Result<(), DnsError> {
        if self.status.is_success() {
            return Ok(());
        }
        let detail = detail(&self.body).unwrap_or_else(|| self.body.clone());
        Err(http_error(self.status, self.retry_after, &detail))
    }

    /// The JSON body of a 2xx answer (see [`Reply::check`] for other answers).
    pub(crate) fn json<T: DeserializeOwned>(&self, detail: ErrorDetail) -> Result<T, DnsError> {
        self.check(detail)?;
        serde_json::from_str(&self.body).map_err(|e| {
            DnsError::Server(format!(
                "{} answered HTTP {} with an unexpected body: {e}",
                self.label,
                self.status.as_u16()
            ))
        })
    }
}

/// Maps an HTTP status and body of a provider API onto a [`DnsError`] (shared by the cloud
/// providers: 401/403 credentials, 429 rate limit with Retry-After, 5xx provider failure).
pub(crate) fn http_error(
    status: reqwest::StatusCode,
    retry_after: Option<u64>,
    body: &str,
) -> DnsError {
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

/// `Retry-After` in seconds (the delta-seconds form the APIs send with a 429).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A configured REST `endpoint` (surrounding whitespace ignored; a trailing slash is kept,
/// [`RestClient::url`] drops it); http or https only.
pub(crate) fn parse_endpoint(raw: &str) -> Result<Url, DnsError> {
    http_url(raw, raw.trim(), "must be an http(s) URL")
}

/// A configured `endpoint` without its trailing slash (Route 53, Azure, Google); http or https
/// only. Differs from [`parse_endpoint`] only in what it trims and in its message.
pub(crate) fn parse_endpoint_unslashed(raw: &str) -> Result<Url, DnsError> {
    http_url(raw, raw.trim_end_matches('/'), "is not an http(s) URL")
}

fn http_url(raw: &str, text: &str, not_http: &str) -> Result<Url, DnsError> {
    let url = Url::parse(text)
        .map_err(|e| DnsError::Config(format!("endpoint {raw:?} is not a URL: {e}")))?;
    // A parsed http(s) URL always has a host and can be a base: the scheme decides.
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() || !url.has_host() {
        return Err(DnsError::Config(format!("endpoint {raw:?} {not_http}")));
    }
    Ok(url)
}
