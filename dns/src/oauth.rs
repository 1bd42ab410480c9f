//! OAuth 2.0 for the providers that log in to get a bearer token (Azure: client credentials;
//! Google: JWT bearer grant): one token request and its error mapping, and the cache that
//! keeps the token until shortly before it expires so that an order's add and remove calls do
//! not each log in.

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use serde::Deserialize;

use crate::error::DnsError;
use crate::rest::{Reply, http_error, retry_after, sanitize};

/// How long before its expiry a cached token is replaced (at most half its lifetime).
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

/// A bearer token, cached while it is fresh. Debug is not implemented: it holds the token.
#[derive(Default)]
pub(crate) struct TokenCache {
    slot: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    value: String,
    renew_at: Instant,
}

impl TokenCache {
    /// The cached token while it is fresh, else a new one from `fetch` (the token and its
    /// lifetime). Concurrent callers wait for one `fetch` rather than each logging in.
    pub(crate) async fn get<F>(&self, fetch: impl FnOnce() -> F) -> Result<String, DnsError>
    where
        F: Future<Output = Result<(String, Duration), DnsError>>,
    {
        let mut cached = self.slot.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let (value, lifetime) = fetch().await?;
        let margin = TOKEN_MARGIN.min(lifetime / 2);
        *cached = Some(CachedToken {
            value: value.clone(),
            renew_at: Instant::now() + lifetime - margin,
        });
        Ok(value)
    }

    /// Drops the cached token (the API refused it: revoked or rotated), so the next call logs
    /// in again.
    pub(crate) async fn forget(&self) {
        *self.slot.lock().await = None;
    }
}

/// Sends a token request; the answer body of a 2xx, else the error [`oauth_error`] maps it to.
/// `who` (e.g. `"Azure login"`) starts every error message.
pub(crate) async fn request_token(
    request: RequestBuilder,
    who: &'static str,
) -> Result<String, DnsError> {
    let reply = Reply::receive(request, who, retry_after).await?;
    if !reply.status.is_success() {
        return Err(oauth_error(
            who,
            reply.status,
            reply.retry_after,
            &reply.body,
        ));
    }
    Ok(reply.body)
}

/// Maps an OAuth 2.0 token endpoint error (RFC 6749 §5.2: `{"error","error_description"}`):
/// a refused client or grant is a credentials problem even when the status is 400. Only those
/// two fields reach the error, never the rest of the body.
fn oauth_error(who: &str, status: reqwest::StatusCode, retry: Option<u64>, body: &str) -> DnsError {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_str::<OAuthError>(body) {
        Ok(e) => {
            let detail = format!(
                "{who}: {}: {}",
                e.error,
                e.error_description.unwrap_or_default()
            );
            match e.error.as_str() {
                "invalid_client" | "unauthorized_client" | "invalid_grant" | "access_denied" => {
                    DnsError::Auth(format!("HTTP {}: {}", status.as_u16(), sanitize(&detail)))
                }
                _ => http_error(status, retry, Some(&detail)),
            }
        }
        Err(_) => http_error(
            status,
            retry,
            Some(&format!("{who}: no OAuth error in the answer")),
        ),
    }
}
