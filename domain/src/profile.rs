//! Certificate profiles (draft-ietf-acme-profiles) and the limits each one carries, so an order
//! that a CA would refuse is refused here, with the limit named, before any authorization is
//! created (and counted as failed) at the CA.
//!
//! Only published facts are kept; where a CA has not said, the field is `None` and nothing is
//! enforced. Sources (checked 2026-12): Let's Encrypt <https://letsencrypt.org/docs/profiles/>,
//! "Decreasing Certificate Lifetimes to 45 Days" (2025-12-02) and the rate-limit and integration
//! guides. Lifetimes change on known dates; [`Scheduled`] keeps the whole timeline so the table
//! stays right as they pass.

use std::time::Duration;

use time::{Date, OffsetDateTime};

use crate::timestamp::short_duration;
use crate::{Error, Result};

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// What a profile does with the subject common name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonName {
    /// The first name of at most 64 characters becomes the CN (none if every name is longer).
    FirstShortName,
    /// Certificates carry no CN; the names are only in subjectAltName.
    Omitted,
}

/// A value that changes on known dates: `initial` until the first step's date, then each
/// step's value from its date (steps in date order).
#[derive(Debug, Clone, Copy)]
pub struct Scheduled {
    pub initial: Duration,
    pub steps: &'static [(Date, Duration)],
}

impl Scheduled {
    const fn fixed(value: Duration) -> Self {
        Self {
            initial: value,
            steps: &[],
        }
    }

    /// The value in force at `at`.
    pub fn at(&self, at: OffsetDateTime) -> Duration {
        self.steps
            .iter()
            .take_while(|(from, _)| *from <= at.date())
            .last()
            .map_or(self.initial, |(_, value)| *value)
    }
}

/// One profile a CA publishes, with its limits.
#[derive(Debug, Clone, Copy)]
pub struct ProfileInfo {
    pub name: &'static str,
    /// The profile the CA uses for an order that names none.
    pub default: bool,
    pub description: &'static str,
    /// Most identifiers one order may carry.
    pub max_names: usize,
    pub common_name: CommonName,
    /// How long a pending authorization lives at the CA: the whole challenge (DNS propagation
    /// included) must fit in it.
    pub pending_authorization: Duration,
    /// How long a valid authorization is reused for new orders, where published.
    pub authorization_reuse: Option<Scheduled>,
    /// The certificates' lifetime.
    pub lifetime: Scheduled,
    /// Whether IP-address identifiers (RFC 8738) may be ordered.
    pub ip_addresses: bool,
}

/// Let's Encrypt's three profiles. `classic` shrinks to 64 days on 2027-02-10 and 45 days on
/// 2028-02-16, with authorization reuse cut to 10 days and then 7 hours; `tlsserver` issues
/// 45-day certificates since 2026-05-13.
pub const LETSENCRYPT_PROFILES: &[ProfileInfo] = &[
    ProfileInfo {
        name: "classic",
        default: true,
        description: "The default: the names in subjectAltName and the first short one as CN.",
        max_names: 100,
        common_name: CommonName::FirstShortName,
        pending_authorization: Duration::from_secs(7 * DAY),
        authorization_reuse: Some(Scheduled {
            initial: Duration::from_secs(30 * DAY),
            steps: &[
                (
                    time::macros::date!(2027 - 02 - 10),
                    Duration::from_secs(10 * DAY),
                ),
                (
                    time::macros::date!(2028 - 02 - 16),
                    Duration::from_secs(7 * HOUR),
                ),
            ],
        }),
        lifetime: Scheduled {
            initial: Duration::from_secs(90 * DAY),
            steps: &[
                (
                    time::macros::date!(2027 - 02 - 10),
                    Duration::from_secs(64 * DAY),
                ),
                (
                    time::macros::date!(2028 - 02 - 16),
                    Duration::from_secs(45 * DAY),
                ),
            ],
        },
        ip_addresses: false,
    },
    ProfileInfo {
        name: "tlsserver",
        default: false,
        description: "Server authentication only, no CN, at most 25 names.",
        max_names: 25,
        common_name: CommonName::Omitted,
        pending_authorization: Duration::from_secs(HOUR),
        authorization_reuse: None,
        lifetime: Scheduled {
            initial: Duration::from_secs(90 * DAY),
            steps: &[(
                time::macros::date!(2026 - 05 - 13),
                Duration::from_secs(45 * DAY),
            )],
        },
        ip_addresses: false,
    },
    ProfileInfo {
        name: "shortlived",
        default: false,
        description: "160-hour certificates, no CN, at most 25 names; the only profile for IP addresses.",
        max_names: 25,
        common_name: CommonName::Omitted,
        pending_authorization: Duration::from_secs(HOUR),
        authorization_reuse: None,
        lifetime: Scheduled::fixed(Duration::from_secs(160 * HOUR)),
        ip_addresses: true,
    },
];

/// The profile of `profiles` an order with `requested` gets: the named one, else the default.
/// `None` when the name is not in the table (a profile published since: the CA decides).
pub fn resolve<'a>(
    profiles: &'a [ProfileInfo],
    requested: Option<&str>,
) -> Option<&'a ProfileInfo> {
    match requested {
        Some(name) => profiles.iter().find(|profile| profile.name == name),
        None => profiles.iter().find(|profile| profile.default),
    }
}

/// What of an order the profile limits look at.
#[derive(Debug, Clone, Copy)]
pub struct OrderShape {
    /// How many identifiers the order carries.
    pub names: usize,
    /// For dns-01, the longest the service waits for propagation (`[dns] propagation_timeout`):
    /// the CA must not drop the pending authorization while we still wait.
    pub propagation_wait: Option<Duration>,
}

/// Refuses an order `profile` (of `ca`, for messages) would refuse, naming the limit.
pub fn check(ca: &str, profile: &ProfileInfo, order: OrderShape) -> Result<()> {
    if order.names > profile.max_names {
        return Err(Error::invalid(
            "domains",
            format!(
                "{ca}'s profile {:?} allows at most {} names per order; this order has {}: split it",
                profile.name, profile.max_names, order.names
            ),
        ));
    }
    if let Some(wait) = order.propagation_wait
        && wait >= profile.pending_authorization
    {
        return Err(Error::invalid(
            "profile",
            format!(
                "{ca}'s profile {:?} drops pending authorizations after {}, but dns-01 waits up to {} for propagation ([dns] propagation_timeout): lower it or use another profile",
                profile.name,
                short_duration(profile.pending_authorization),
                short_duration(wait)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(date: Date) -> OffsetDateTime {
        date.midnight().assume_utc()
    }

    #[test]
    fn lifetimes_follow_the_published_dates() {
        let classic = resolve(LETSENCRYPT_PROFILES, None).expect("a default");
        assert_eq!(classic.name, "classic");
        let days = |at| classic.lifetime.at(on(at)).as_secs() / DAY;
        assert_eq!(days(time::macros::date!(2026 - 12 - 03)), 90);
        assert_eq!(days(time::macros::date!(2027 - 02 - 09)), 90);
        assert_eq!(days(time::macros::date!(2027 - 02 - 10)), 64);
        assert_eq!(days(time::macros::date!(2028 - 02 - 15)), 64);
        assert_eq!(days(time::macros::date!(2028 - 02 - 16)), 45);
        let reuse = classic.authorization_reuse.expect("published");
        assert_eq!(
            short_duration(reuse.at(on(time::macros::date!(2028 - 03 - 01)))),
            "7h"
        );
        let tlsserver = resolve(LETSENCRYPT_PROFILES, Some("tlsserver")).expect("known");
        assert_eq!(
            short_duration(
                tlsserver
                    .lifetime
                    .at(on(time::macros::date!(2026 - 05 - 12)))
            ),
            "90d"
        );
        assert_eq!(
            short_duration(
                tlsserver
                    .lifetime
                    .at(on(time::macros::date!(2026 - 05 - 13)))
            ),
            "45d"
        );
        let shortlived = resolve(LETSENCRYPT_PROFILES, Some("shortlived")).expect("known");
        assert_eq!(
            short_duration(shortlived.lifetime.at(OffsetDateTime::now_utc())),
            "160h"
        );
        assert!(resolve(LETSENCRYPT_PROFILES, Some("brand-new")).is_none());
    }

    #[test]
    fn names_over_the_limit_are_refused_naming_it() {
        let tlsserver = resolve(LETSENCRYPT_PROFILES, Some("tlsserver")).expect("known");
        let shape = |names| OrderShape {
            names,
            propagation_wait: None,
        };
        check("Let's Encrypt", tlsserver, shape(25)).expect("at the limit");
        match check("Let's Encrypt", tlsserver, shape(26)).unwrap_err() {
            Error::Invalid { field, message } => {
                assert_eq!(field, "domains");
                assert!(message.contains("at most 25 names"), "{message}");
                assert!(message.contains("\"tlsserver\""), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let classic = resolve(LETSENCRYPT_PROFILES, None).expect("default");
        check("Let's Encrypt", classic, shape(100)).expect("classic takes 100");
        assert!(check("Let's Encrypt", classic, shape(101)).is_err());
    }

    #[test]
    fn propagation_must_fit_in_the_pending_authorization() {
        let shortlived = resolve(LETSENCRYPT_PROFILES, Some("shortlived")).expect("known");
        let shape = |secs| OrderShape {
            names: 1,
            propagation_wait: Some(Duration::from_secs(secs)),
        };
        check("Let's Encrypt", shortlived, shape(120)).expect("two minutes fit in an hour");
        match check("Let's Encrypt", shortlived, shape(2 * HOUR)).unwrap_err() {
            Error::Invalid { field, message } => {
                assert_eq!(field, "profile");
                assert!(message.contains("after 1h"), "{message}");
                assert!(message.contains("up to 2h"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let classic = resolve(LETSENCRYPT_PROFILES, None).expect("default");
        check("Let's Encrypt", classic, shape(2 * HOUR)).expect("seven days");
    }
}
