//! When to renew a certificate.
//!
//! A fixed "30 days before expiry" cannot work for short-lived certificates (Let's Encrypt's
//! `shortlived` profile lasts 160 hours; classic lifetimes shrink to 64 and then 45 days), so the
//! renewal time is the *earlier* of the configured window before `not_after` and the point where a
//! third of the lifetime is left — half for lifetimes under ten days — as Let's Encrypt recommends
//! when no ARI (RFC 9773) window is offered. The configured window is capped at half the
//! lifetime: taken literally, "30 days before expiry" of a 160-hour certificate lies before its
//! issuance and would renew it at once, forever. A little random jitter spreads renewals of
//! certificates issued together, so they do not hit the CA in one burst.

use std::time::Duration;

use time::OffsetDateTime;

/// Lifetimes shorter than this renew at half their lifetime instead of a third.
const SHORT_LIFETIME: Duration = Duration::from_secs(10 * 86_400);
/// The most jitter ever applied.
const MAX_JITTER: Duration = Duration::from_secs(3600);

/// The renewal time of a certificate valid from `not_before` to `not_after`, `before_expiry` the
/// configured window, `jitter` in `[0, 1)` (a random draw) moving it earlier by up to 1 % of the
/// lifetime (at most an hour). Never before `not_before`.
pub fn renew_at(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    before_expiry: Duration,
    jitter: f64,
) -> OffsetDateTime {
    let lifetime = (not_after - not_before).max(time::Duration::ZERO);
    let lifetime_std = Duration::try_from(lifetime).unwrap_or_default();
    let left = if lifetime_std < SHORT_LIFETIME {
        lifetime / 2_i32
    } else {
        lifetime / 3_i32
    };
    let window = time::Duration::try_from(before_expiry)
        .unwrap_or(time::Duration::MAX)
        .min(lifetime / 2_i32);
    let earliest_window = not_after - window;
    let by_fraction = not_after - left;
    let base = earliest_window.min(by_fraction);
    let spread = (lifetime / 100_i32).min(time::Duration::try_from(MAX_JITTER).unwrap_or_default());
    let jittered = base - spread * jitter.clamp(0.0, 1.0);
    jittered.max(not_before)
}

/// [`renew_at`] with a fresh random jitter.
pub fn schedule(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    before_expiry: Duration,
) -> OffsetDateTime {
    renew_at(not_before, not_after, before_expiry, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    const THIRTY_DAYS: Duration = Duration::from_secs(30 * 86_400);

    fn at(days: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(days)
    }

    #[test]
    fn ninety_days_renew_at_a_third_left() {
        // 90-day certificate: a third (30 days) and the 30-day window agree.
        assert_eq!(renew_at(at(0), at(90), THIRTY_DAYS, 0.0), at(60));
    }

    #[test]
    fn long_lifetimes_use_the_configured_window_only_if_earlier() {
        // 5 years: a third left is far earlier than 30 days before expiry.
        let not_after = at(5 * 365);
        assert_eq!(
            renew_at(at(0), not_after, THIRTY_DAYS, 0.0),
            not_after - time::Duration::days(5 * 365) / 3_i32
        );
        // 60 days: the 30-day window (day 30) is earlier than a third left (day 40).
        assert_eq!(renew_at(at(0), at(60), THIRTY_DAYS, 0.0), at(30));
        // 64 days (Let's Encrypt classic from 2027-02-10): the 30-day window (day 34) is
        // earlier than a third left (day 42.7).
        assert_eq!(renew_at(at(0), at(64), THIRTY_DAYS, 0.0), at(34));
        // 45 days: the window is capped at half the lifetime (day 22.5), earlier than a third
        // left (day 30).
        assert_eq!(
            renew_at(at(0), at(45), THIRTY_DAYS, 0.0),
            at(22) + time::Duration::hours(12)
        );
    }

    #[test]
    fn short_lifetimes_renew_at_half() {
        // 160 hours (Let's Encrypt shortlived): half left, not 30 days before (which is before
        // issuance).
        let not_before = at(0);
        let not_after = not_before + time::Duration::hours(160);
        assert_eq!(
            renew_at(not_before, not_after, THIRTY_DAYS, 0.0),
            not_before + time::Duration::hours(80)
        );
        // One minute (a test CA): half-way.
        let minute = not_before + time::Duration::minutes(1);
        assert_eq!(
            renew_at(not_before, minute, THIRTY_DAYS, 0.0),
            not_before + time::Duration::seconds(30)
        );
    }

    #[test]
    fn jitter_only_moves_earlier_and_stays_small() {
        let base = renew_at(at(0), at(90), THIRTY_DAYS, 0.0);
        let jittered = renew_at(at(0), at(90), THIRTY_DAYS, 0.999);
        assert!(jittered < base);
        assert!(base - jittered <= time::Duration::hours(1));
        let scheduled = schedule(at(0), at(90), THIRTY_DAYS);
        assert!(scheduled <= base && scheduled >= base - time::Duration::hours(1));
    }

    #[test]
    fn never_before_issuance() {
        assert_eq!(renew_at(at(10), at(10), THIRTY_DAYS, 0.5), at(10));
    }
}

/// A renewal time inside the CA's suggested window (RFC 9773 §4.2): uniformly random, so the
/// CA's clients spread over the window, and never before `now` (a window that has begun or
/// passed means "renew now").
pub fn pick_in_window(
    start: OffsetDateTime,
    end: OffsetDateTime,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let from = start.max(now);
    if end <= from {
        return from;
    }
    let span_ms = i64::try_from((end - from).whole_milliseconds()).unwrap_or(i64::MAX);
    from + time::Duration::milliseconds(rand::random_range(0..span_ms.max(1)))
}

/// The longest the service goes without asking the CA for a certificate's renewal information:
/// twice a day, whatever the window and whatever a longer Retry-After says, so a window the CA
/// moves into the past (a mass revocation) is seen within half a day.
pub const ARI_RECHECK_MAX: Duration = Duration::from_secs(12 * 3600);

/// How long to wait before asking the CA for renewal information again: its Retry-After
/// (RFC 9773 §4.3), kept sane: at least `floor` (a CA answering 0 must not make us spin) and
/// at most [`ARI_RECHECK_MAX`] (a long silence must not hide a moved window). The same bound
/// holds when the CA could not be asked: the lifetime-based time stands meanwhile.
pub fn ari_recheck_after(retry_after: Duration, floor: Duration) -> Duration {
    retry_after.clamp(floor, ARI_RECHECK_MAX)
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn picks_inside_the_window_and_not_in_the_past() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let start = now + time::Duration::hours(1);
        let end = start + time::Duration::hours(2);
        for _ in 0..200 {
            let at = pick_in_window(start, end, now);
            assert!(at >= start && at < end, "{at}");
        }
        let began = pick_in_window(now - time::Duration::hours(1), end, now);
        assert!(began >= now && began < end);
        assert_eq!(
            pick_in_window(
                now - time::Duration::hours(3),
                now - time::Duration::hours(1),
                now
            ),
            now
        );
    }

    #[test]
    fn recheck_is_clamped() {
        let floor = Duration::from_secs(1);
        assert_eq!(ari_recheck_after(Duration::ZERO, floor), floor);
        assert_eq!(
            ari_recheck_after(Duration::from_secs(6 * 3600), floor),
            Duration::from_secs(6 * 3600)
        );
        assert_eq!(
            ari_recheck_after(Duration::from_secs(7 * 86400), floor),
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(
            ari_recheck_after(Duration::from_secs(13 * 3600), floor),
            ARI_RECHECK_MAX
        );
    }
}
