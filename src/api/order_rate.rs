//! Orders per minute per API token: a runaway script must not burn through a CA's limits (Let's
//! Encrypt allows 300 new orders per account per 3 hours) before anyone notices. A sliding
//! window per token, kept in memory on each instance: cheap, and a caller spread over several
//! instances gets at most that many per instance.
//!
//! Account registrations are limited the same way, each one costing a round of requests to a CA
//! (and the CA's own limits on new accounts).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use scaivault_contract::ErrorCode;
use serde_json::json;

use super::error::ApiError;

const WINDOW: Duration = Duration::from_secs(60);

/// The limiter for `POST /v1/pki/acme/issue` and `POST /v1/pki/certificates/{id}/renew`, or
/// (with [`OrderRate::registrations`]) for `POST /v1/pki/acme/accounts`.
#[derive(Debug)]
pub struct OrderRate {
    per_minute: u32,
    /// What is counted and the setting that limits it, for the refusal's message.
    what: &'static str,
    setting: &'static str,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl OrderRate {
    /// `per_minute` orders per token per minute; 0 means unlimited.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            what: "orders",
            setting: "server.orders_per_minute",
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `per_minute` account registrations per token per minute; 0 means unlimited.
    pub fn registrations(per_minute: u32) -> Self {
        Self {
            what: "account registrations",
            setting: "server.registrations_per_minute",
            ..Self::new(per_minute)
        }
    }

    /// Counts one order (or registration) for `token_id`, or refuses with 429 `rate_limited` and a Retry-After
    /// saying when the oldest counted order leaves the window.
    pub fn admit(&self, token_id: &str) -> Result<(), ApiError> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget idle tokens now and then, so the map stays as large as the active callers.
        if seen.len() > 1024 {
            seen.retain(|_, times| times.back().is_some_and(|t| now - *t < WINDOW));
        }
        let times = seen.entry(token_id.to_owned()).or_default();
        while times.front().is_some_and(|t| now - *t >= WINDOW) {
            times.pop_front();
        }
        if times.len() < self.per_minute as usize {
            times.push_back(now);
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or(now);
        let wait = WINDOW.saturating_sub(now - oldest);
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!(
                "this token made {} {} in the last minute ({})",
                self.per_minute, self.what, self.setting
            ),
        )
        .with_details(json!({ "limit": self.per_minute, "retry_after": seconds }));
        error.retry_after = Some(seconds.max(1));
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_per_token() {
        let rate = OrderRate::new(2);
        assert!(rate.admit("a").is_ok());
        assert!(rate.admit("a").is_ok());
        let refused = rate.admit("a").expect_err("third");
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        assert!(rate.admit("b").is_ok(), "another token has its own window");
    }

    #[test]
    fn zero_is_unlimited() {
        let rate = OrderRate::new(0);
        for _ in 0..1000 {
            assert!(rate.admit("a").is_ok());
        }
    }
}
