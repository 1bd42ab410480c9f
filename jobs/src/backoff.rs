//! Exponential backoff that survives restarts.
//!
//! apalis' retry layer retries inside the worker process, so a failure that should wait minutes
//! or hours is re-enqueued as a new delayed task carrying its attempt number. The delay for
//! attempt `n` (0-based) is `min(max, base · 2ⁿ)` with up to ±20 % jitter so many failing tasks
//! do not retry in lock step, and never sooner than a server's `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `attempt + 1`, without jitter.
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 2u32.checked_pow(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay with jitter, floored at `retry_after` when the server asked for one.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let nominal = self.nominal(attempt);
        let jitter = rand::rng().random_range(0.8..=1.2);
        let jittered = nominal.mul_f64(jitter).min(self.max);
        jittered.max(retry_after.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base: Duration::from_secs(60),
        max: Duration::from_secs(6 * 3600),
    };

    #[test]
    fn doubles_then_caps() {
        assert_eq!(B.nominal(0), Duration::from_secs(60));
        assert_eq!(B.nominal(1), Duration::from_secs(120));
        assert_eq!(B.nominal(5), Duration::from_secs(1920));
        assert_eq!(B.nominal(20), B.max);
        assert_eq!(B.nominal(u32::MAX), B.max);
    }

    #[test]
    fn jitter_stays_in_band_and_retry_after_wins() {
        for attempt in 0..10 {
            let d = B.delay(attempt, None);
            let n = B.nominal(attempt);
            assert!(
                d >= n.mul_f64(0.8) && d <= n.mul_f64(1.2).min(B.max),
                "{d:?} vs {n:?}"
            );
        }
        let long = Duration::from_secs(7200);
        assert_eq!(B.delay(0, Some(long)), long);
    }
}
