//! The HTTP plumbing the cloud DNS providers share: a small JSON REST client for the APIs that
//! are plain JSON with a bearer token (Cloudflare, DigitalOcean, Hetzner), reading an answer
//! whole ([`Reply::receive`], also used by Route 53, Azure and Google), `Retry-After`, and the
//! [`DnsError`] an HTTP status means ([`http_error`]).
//!
//! One copy, so that every provider words a transport failure the same way (`<label>: <error>`),
//! and the REST providers send the same `Accept` header and map a failed answer through
//! [`http_error`] with the API's own error text.
//!
//! An error never carries a provider's raw answer: an order's error (shown to API callers)
//! holds the HTTP status and at most the API's documented error field ([`ErrorDetail`]),
//! [`sanitize`]d. The raw body of every failed answer goes to the log at debug level, truncated.

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::config::ResolvedConfig;
use crate::endpoint::{HttpClient, refusal_of};
use crate::error::DnsError;

/// Most characters of an API's error text kept in an error.
const DETAIL_MAX: usize = 200;
/// Most characters of a failed answer's body written to the log.
const LOGGED_BODY_MAX: usize = 1024;

/// Reads how many seconds to wait from an answer's headers.
pub(crate) type RetryAfter = fn(&HeaderMap) -> Option<u64>;

/// Reads the API's own error text from a failed answer's body: its documented error fields
/// only (`None`: the body has none, and the error says only the status).
pub(crate) type ErrorDetail = fn(&str) -> Option<String>;

/// A JSON REST API at `endpoint`, authenticated with `Authorization: Bearer <token>`. `label`
/// (e.g. `"Cloudflare API"`) starts every error message. Not `Debug`: the token stays private.
pub(crate) struct RestClient {
    http: HttpClient,
    endpoint: Url,
    token: String,
    label: &'static str,
    retry_after: RetryAfter,
}

impl RestClient {
    /// The client for a provider config with `api_token` and optional `endpoint` (else
    /// `default_endpoint`; surrounding whitespace ignored, a trailing slash kept and dropped by
    /// [`RestClient::url`]); `Retry-After` is read with [`retry_after`].
    pub(crate) fn from_config(
        config: &ResolvedConfig,
        http: HttpClient,
        default_endpoint: &str,
        label: &'static str,
    ) -> Result<Self, DnsError> {
        let token = config.required("api_token")?.trim().to_owned();
        let endpoint = http.endpoint(config, "endpoint", default_endpoint, str::trim)?;
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
            .request(method, url)?
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json");
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
            .map_err(|e| transport_error(label, &e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| transport_error(label, &e))?;
        if !status.is_success() {
            // For the operator: the raw answer never goes into an error (see the module doc).
            let logged: String = body.chars().take(LOGGED_BODY_MAX).collect();
            tracing::debug!(api = label, status = status.as_u16(), body = %logged.escape_debug(),
                "DNS provider API answered with an error status");
        }
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
        Err(http_error(
            self.status,
            self.retry_after,
            detail(&self.body).as_deref(),
        ))
    }

    /// The JSON body of a 2xx answer (see [`Reply::check`] for other answers).
    pub(crate) fn json<T: DeserializeOwned>(&self, detail: ErrorDetail) -> Result<T, DnsError> {
        self.check(detail)?;
        serde_json::from_str(&self.body).map_err(|e| unreadable(self.label, "answer", &e))
    }
}

/// A failure to send or read: [`DnsError::Refused`] when the resolver refused the endpoint's
/// host, else [`DnsError::Transport`].
fn transport_error(label: &str, err: &reqwest::Error) -> DnsError {
    match refusal_of(err) {
        Some(refused) => DnsError::Refused(format!("{label}: {}", refused.message)),
        None => DnsError::Transport(format!("{label}: {err}")),
    }
}

/// A 2xx answer that does not parse as the API documents it: the parser's message (which may
/// quote the body) goes to the log, the error says only what could not be read.
pub(crate) fn unreadable(label: &str, what: &str, err: &dyn std::fmt::Display) -> DnsError {
    tracing::debug!(api = label, error = %err, "unreadable DNS provider API answer");
    DnsError::Server(format!("{label}: unreadable {what}"))
}

/// Maps an HTTP status and the API's error text (its documented error fields, never the raw
/// body) onto a [`DnsError`] (shared by the cloud providers: 401/403 credentials, 429 rate limit
/// with Retry-After, 5xx provider failure).
pub(crate) fn http_error(
    status: reqwest::StatusCode,
    retry_after: Option<u64>,
    detail: Option<&str>,
) -> DnsError {
    let message = match detail.map(sanitize).filter(|d| !d.is_empty()) {
        Some(detail) => format!("HTTP {}: {detail}", status.as_u16()),
        None => format!("HTTP {} (no error detail in the answer)", status.as_u16()),
    };
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

/// An API's error text as it may appear in an error: control characters and runs of white
/// space collapsed to one space, at most [`DETAIL_MAX`] characters (then `…`).
pub(crate) fn sanitize(text: &str) -> String {
    let cleaned = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if cleaned.chars().count() <= DETAIL_MAX {
        return cleaned;
    }
    let mut cut: String = cleaned.chars().take(DETAIL_MAX).collect();
    cut.push('…');
    cut
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_hold_the_status_and_a_sanitized_detail_only() {
        let long = "x".repeat(500);
        let e = http_error(StatusCode::BAD_REQUEST, None, Some(&long));
        let text = e.to_string();
        assert!(
            text.contains("HTTP 400: xxx") && text.ends_with('…'),
            "{text}"
        );
        assert!(text.len() < 300, "{text}");
        let e = http_error(
            StatusCode::FORBIDDEN,
            None,
            Some("bad\r\n\u{1b}[31mtoken\tthere"),
        );
        assert!(
            matches!(&e, DnsError::Auth(m) if m == "HTTP 403: bad [31mtoken there"),
            "{e:?}"
        );
        let e = http_error(StatusCode::BAD_GATEWAY, None, None);
        assert!(
            matches!(&e, DnsError::Server(m) if m == "HTTP 502 (no error detail in the answer)"),
            "{e:?}"
        );
    }
}
