//! The local rate-limit ledger's rules: which entries a new order adds, how they are counted
//! against a provider's published limits over sliding windows, and when a refused caller may
//! try again. Pure: the store keeps the entries, the actors ask and record.
//!
//! Four limits over windows, as Let's Encrypt publishes them (and as other CAs may be
//! configured): new orders per account, certificates per registered domain (the public suffix
//! plus one label, from the Public Suffix List: `a.b.example.co.uk` counts for `example.co.uk`),
//! duplicate certificates (the same exact set of names), and failed authorizations per
//! identifier per account. An order is counted when the CA has created it; a renewal the CA
//! exempts (an ARI order accepted with `replaces`) is not counted. A failed authorization is
//! counted when an order's authorization for an identifier ends invalid, and checked for each
//! identifier of every order, exempt or not: the CA validates those too.

use std::collections::BTreeSet;
use std::time::Duration;

use psl::Psl;
use serde::Serialize;
use time::OffsetDateTime;

use crate::provider::{Environment, Provider};

/// One limit: at most `max` entries within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

/// A provider's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub orders_per_account: Option<Limit>,
    pub certificates_per_domain: Option<Limit>,
    pub duplicates: Option<Limit>,
    /// Authorizations of the account not yet valid or invalid, at any one time (not a window:
    /// they clear as orders finish or expire). Counted from the account's pending orders.
    pub pending_authorizations: Option<u32>,
    /// Authorizations that ended invalid, per identifier and account.
    pub failed_authorizations: Option<Limit>,
}

impl RateLimits {
    /// The longest window of these limits: entries older than it count for none of them, so a
    /// prune of the scope may drop them (and nothing younger, whichever kind it records).
    pub fn longest_window(&self) -> Option<Duration> {
        [
            self.orders_per_account,
            self.certificates_per_domain,
            self.duplicates,
            self.failed_authorizations,
        ]
        .into_iter()
        .flatten()
        .map(|limit| limit.window)
        .max()
    }
}

/// What a ledger entry counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// A new order; subject: the account id.
    Order,
    /// A certificate for a registered domain; subject: the registered domain.
    Certificate,
    /// A certificate for an exact set of names; subject: the names, sorted, comma-joined.
    Duplicate,
    /// An authorization still pending; subject: the account id. Never a ledger row: counted
    /// from the account's pending orders.
    PendingAuthorization,
    /// An authorization that ended invalid; subject: [`failure_subject`] (account and
    /// identifier).
    FailedAuthorization,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Order => "order",
            LedgerKind::Certificate => "certificate",
            LedgerKind::Duplicate => "duplicate",
            LedgerKind::PendingAuthorization => "pending_authorization",
            LedgerKind::FailedAuthorization => "failed_authorization",
        }
    }

    /// The name of the configuration key of this limit.
    pub fn limit_name(self) -> &'static str {
        match self {
            LedgerKind::Order => "orders_per_account",
            LedgerKind::Certificate => "certificates_per_domain",
            LedgerKind::Duplicate => "duplicates",
            LedgerKind::PendingAuthorization => "pending_authorizations",
            LedgerKind::FailedAuthorization => "failed_authorizations",
        }
    }
}

impl std::fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one ledger row counts: within `scope` (the CA, by its directory URL), one `kind` of
/// entry for `subject`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LedgerKey {
    pub scope: String,
    pub kind: LedgerKind,
    pub subject: String,
}

/// A ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub key: LedgerKey,
    pub account_id: String,
    pub at: OffsetDateTime,
}

/// A refusal: the limit, what it counted and when the caller may try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct RateLimitRefusal {
    pub kind: LedgerKind,
    pub subject: String,
    pub count: u32,
    pub max: u32,
    pub window: Duration,
    /// When enough counted entries have left the window for one more.
    pub retry_after: Duration,
}

impl RateLimitRefusal {
    fn describe(&self) -> String {
        let limit = self.kind.limit_name();
        let (count, max, subject) = (self.count, self.max, &self.subject);
        let wait = self.retry_after.as_secs();
        if self.kind == LedgerKind::PendingAuthorization {
            format!(
                "the local rate-limit ledger refuses: account {subject} would have {count} \
                 {limit} (at most {max}); they clear as its pending orders finish; try again in \
                 {wait} s"
            )
        } else {
            format!(
                "the local rate-limit ledger refuses: {count} of {max} {limit} for {subject} \
                 within {}; try again in {wait} s",
                crate::timestamp::short_duration(self.window)
            )
        }
    }
}

/// How long a caller refused for pending authorizations is told to wait: they clear as the
/// account's orders are validated, which takes seconds to minutes, not a window's length.
pub const PENDING_AUTHORIZATIONS_RETRY: Duration = Duration::from_secs(60);

/// Whether an order adding `new` authorizations fits next to the account's `pending` ones.
pub fn check_pending_authorizations(
    account_id: &str,
    max: u32,
    pending: u32,
    new: u32,
) -> Result<(), RateLimitRefusal> {
    let count = pending.saturating_add(new);
    if count <= max {
        return Ok(());
    }
    Err(RateLimitRefusal {
        kind: LedgerKind::PendingAuthorization,
        subject: account_id.to_owned(),
        count,
        max,
        window: Duration::ZERO,
        retry_after: PENDING_AUTHORIZATIONS_RETRY,
    })
}

/// The registered domain of `name` (lower-case ASCII, a wildcard's `*.` ignored): the public
/// suffix plus one label by the Public Suffix List (with its `*` default rule, so an unlisted
/// TLD counts as a suffix). A name that is itself a public suffix counts as itself, and so does
/// an IP address (RFC 8738): it has no registered domain, and the Public Suffix List would
/// otherwise lump `127.0.0.1` with every address ending in `.0.1`.
pub fn registered_domain(name: &str) -> String {
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return ip.to_string();
    }
    let name = name.strip_prefix("*.").unwrap_or(name);
    let name = name.strip_suffix('.').unwrap_or(name);
    match psl::List.domain(name.as_bytes()) {
        Some(domain) => String::from_utf8_lossy(domain.as_bytes()).into_owned(),
        None => name.to_owned(),
    }
}

/// The duplicate-certificate subject of a set of names: sorted, deduplicated, comma-joined.
pub fn duplicate_subject(names: &[String]) -> String {
    let set: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

/// The subject of an account's failed authorizations for `identifier`: `<account id>:<identifier>`.
/// Account ids have no `:`, so the first one separates them even for an IPv6 address.
pub fn failure_subject(account_id: &str, identifier: &str) -> String {
    format!("{account_id}:{identifier}")
}

/// The failed-authorization keys of `identifiers` through `account_id` at the CA `scope`, each
/// with its limit (none when the table does not limit failures): checked before every order,
/// recorded when an authorization ends invalid.
pub fn failure_keys(
    limits: &RateLimits,
    scope: &str,
    account_id: &str,
    identifiers: &[String],
) -> Vec<(LedgerKey, Limit)> {
    let Some(limit) = limits.failed_authorizations else {
        return Vec::new();
    };
    let identifiers: BTreeSet<&str> = identifiers.iter().map(String::as_str).collect();
    identifiers
        .into_iter()
        .map(|identifier| {
            let key = LedgerKey {
                scope: scope.to_owned(),
                kind: LedgerKind::FailedAuthorization,
                subject: failure_subject(account_id, identifier),
            };
            (key, limit)
        })
        .collect()
}

/// The ledger keys a new order for `names` through `account_id` at the CA `scope` counts
/// under, each with its limit: only the limited ones.
pub fn keys_for_order(
    limits: &RateLimits,
    scope: &str,
    account_id: &str,
    names: &[String],
) -> Vec<(LedgerKey, Limit)> {
    let mut keys = Vec::new();
    let key = |kind, subject: String| LedgerKey {
        scope: scope.to_owned(),
        kind,
        subject,
    };
    if let Some(limit) = limits.orders_per_account {
        keys.push((key(LedgerKind::Order, account_id.to_owned()), limit));
    }
    if let Some(limit) = limits.certificates_per_domain {
        let domains: BTreeSet<String> = names.iter().map(|n| registered_domain(n)).collect();
        for domain in domains {
            keys.push((key(LedgerKind::Certificate, domain), limit));
        }
    }
    if let Some(limit) = limits.duplicates {
        keys.push((key(LedgerKind::Duplicate, duplicate_subject(names)), limit));
    }
    keys
}

/// The start of `limit`'s window ending at `now`: entries at or before it no longer count.
pub fn window_start(limit: Limit, now: OffsetDateTime) -> OffsetDateTime {
    older_than(limit.window, now)
}

/// `window` before `now`.
pub fn older_than(window: Duration, now: OffsetDateTime) -> OffsetDateTime {
    now - time::Duration::try_from(window).unwrap_or(time::Duration::MAX)
}

/// Whether one more entry for `key` fits `limit`, given the times of the entries still in the
/// window (any order). When it does not, the refusal says when it will: when the oldest entries
/// have left the window so that fewer than `max` remain.
pub fn check(
    key: &LedgerKey,
    limit: Limit,
    entries: &[OffsetDateTime],
    now: OffsetDateTime,
) -> Result<(), RateLimitRefusal> {
    let start = window_start(limit, now);
    let mut counted: Vec<OffsetDateTime> =
        entries.iter().copied().filter(|at| *at > start).collect();
    let count = u32::try_from(counted.len()).unwrap_or(u32::MAX);
    if count < limit.max {
        return Ok(());
    }
    counted.sort();
    // `count - max + 1` entries must leave; the last of them is at this index.
    let index = usize::try_from(count - limit.max).unwrap_or(usize::MAX);
    let leaves_at = counted
        .get(index)
        .map(|at| *at + time::Duration::try_from(limit.window).unwrap_or(time::Duration::MAX))
        .unwrap_or(now);
    let wait = (leaves_at - now).max(time::Duration::ZERO);
    // Whole seconds, rounded up: a caller that waits exactly that long fits.
    let whole = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
    Err(RateLimitRefusal {
        kind: key.kind,
        subject: key.subject.clone(),
        count,
        max: limit.max,
        window: limit.window,
        retry_after: Duration::from_secs(u64::try_from(whole).unwrap_or(0)),
    })
}

/// The limits configured per table: a provider's production directory (`letsencrypt`,
/// `zerossl`, ...), its staging directory (`letsencrypt_staging`, ...), and `custom` for every
/// custom account; a table not configured is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderLimits(pub std::collections::BTreeMap<String, RateLimits>);

impl ProviderLimits {
    /// The limits of the table `name`; unlimited when not configured.
    pub fn of(&self, name: &str) -> RateLimits {
        self.0.get(name).copied().unwrap_or_default()
    }

    /// The limits that apply to an account: its provider's table for its environment.
    pub fn of_account(&self, provider: Provider, environment: Environment) -> RateLimits {
        self.of(&table_name(provider, environment))
    }

    /// The longest window of any table: a ledger entry older than it counts for no limit.
    pub fn longest_window(&self) -> Option<Duration> {
        self.0.values().filter_map(RateLimits::longest_window).max()
    }
}

/// The `[rate_limits.<table>]` of a provider's environment: the provider's name for production,
/// with `_staging` for staging (staging directories have their own, looser limits: production
/// numbers would refuse what the CA accepts). `custom` has one table: its directory is the
/// caller's, whatever it calls its environment.
pub fn table_name(provider: Provider, environment: Environment) -> String {
    match (provider, environment) {
        (Provider::Custom, _) | (_, Environment::Production) => provider.as_str().to_owned(),
        (_, Environment::Staging) => format!("{}_staging", provider.as_str()),
    }
}

/// Whether `name` is a table `[rate_limits.<name>]` can configure.
pub fn is_table_name(name: &str) -> bool {
    let (provider, staging) = match name.strip_suffix("_staging") {
        Some(provider) => (provider, true),
        None => (name, false),
    };
    match provider.parse::<Provider>() {
        Ok(Provider::Custom) => !staging,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// Let's Encrypt's published limits (2026): 300 new orders per account per 3 h, 50 certificates
/// per registered domain per 7 days, 5 duplicate certificates per 7 days, 300 pending
/// authorizations per account, 5 failed authorizations per identifier per account per hour.
pub const LETSENCRYPT: RateLimits = RateLimits {
    orders_per_account: Some(Limit {
        max: 300,
        window: Duration::from_secs(3 * 3600),
    }),
    certificates_per_domain: Some(Limit {
        max: 50,
        window: Duration::from_secs(7 * 86_400),
    }),
    duplicates: Some(Limit {
        max: 5,
        window: Duration::from_secs(7 * 86_400),
    }),
    pending_authorizations: Some(300),
    failed_authorizations: Some(Limit {
        max: 5,
        window: Duration::from_secs(3600),
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn registered_domains_follow_the_public_suffix_list() {
        assert_eq!(registered_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(registered_domain("www.example.com"), "example.com");
        assert_eq!(registered_domain("example.com"), "example.com");
        assert_eq!(registered_domain("*.api.example.org"), "example.org");
        // A private-section suffix: each GitHub Pages site is its own registered domain.
        assert_eq!(registered_domain("x.alice.github.io"), "alice.github.io");
        // Unlisted TLDs fall under the `*` rule.
        assert_eq!(registered_domain("host1.t1.example.test"), "example.test");
        // A bare public suffix counts as itself.
        assert_eq!(registered_domain("co.uk"), "co.uk");
        // An IP address counts under itself.
        assert_eq!(registered_domain("127.0.0.1"), "127.0.0.1");
        assert_eq!(registered_domain("10.0.0.1"), "10.0.0.1");
        assert_eq!(registered_domain("2001:db8::1"), "2001:db8::1");
        assert_eq!(registered_domain("::1"), "::1");
    }

    #[test]
    fn duplicates_ignore_order() {
        assert_eq!(
            duplicate_subject(&names(&["b.example.com", "a.example.com"])),
            duplicate_subject(&names(&["a.example.com", "b.example.com"]))
        );
        assert_eq!(
            duplicate_subject(&names(&["b.example.com", "a.example.com"])),
            "a.example.com,b.example.com"
        );
    }

    #[test]
    fn keys_cover_each_registered_domain_once() {
        let keys = keys_for_order(
            &LETSENCRYPT,
            "https://ca/dir",
            "acme_1",
            &names(&["a.example.com", "b.example.com", "www.example.org"]),
        );
        let kinds: Vec<(LedgerKind, &str)> = keys
            .iter()
            .map(|(k, _)| (k.kind, k.subject.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (LedgerKind::Order, "acme_1"),
                (LedgerKind::Certificate, "example.com"),
                (LedgerKind::Certificate, "example.org"),
                (
                    LedgerKind::Duplicate,
                    "a.example.com,b.example.com,www.example.org"
                ),
            ]
        );
        assert!(keys_for_order(&RateLimits::default(), "s", "a", &names(&["x.com"])).is_empty());
    }

    #[test]
    fn sliding_window_counts_and_retry_after() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).expect("time");
        let limit = Limit {
            max: 2,
            window: Duration::from_secs(3600),
        };
        let key = LedgerKey {
            scope: "s".into(),
            kind: LedgerKind::Certificate,
            subject: "example.com".into(),
        };
        let ago = |secs: i64| now - time::Duration::seconds(secs);
        assert!(check(&key, limit, &[], now).is_ok());
        assert!(check(&key, limit, &[ago(10)], now).is_ok());
        // Two in the window: the oldest (30 min ago) leaves in 30 min.
        let refusal = check(&key, limit, &[ago(10), ago(1800)], now).expect_err("full");
        assert_eq!(refusal.retry_after, Duration::from_secs(1800));
        assert_eq!((refusal.count, refusal.max), (2, 2));
        assert!(
            refusal.to_string().contains("certificates_per_domain"),
            "{refusal}"
        );
        // Entries outside the window do not count.
        assert!(check(&key, limit, &[ago(10), ago(3600), ago(7200)], now).is_ok());
        // Over the limit (say, limits lowered): wait until enough have left.
        let refusal =
            check(&key, limit, &[ago(100), ago(200), ago(300), ago(400)], now).expect_err("over");
        // Three must leave; the third oldest (200 s ago) leaves in 3400 s.
        assert_eq!(refusal.retry_after, Duration::from_secs(3400));
        // A zero limit refuses everything, with no wait to name.
        let zero = Limit {
            max: 0,
            window: Duration::from_secs(60),
        };
        assert_eq!(
            check(&key, zero, &[], now).expect_err("zero").retry_after,
            Duration::ZERO
        );
    }

    #[test]
    fn staging_has_its_own_table_and_custom_one_for_all() {
        use Environment::{Production, Staging};
        assert_eq!(table_name(Provider::Letsencrypt, Production), "letsencrypt");
        assert_eq!(
            table_name(Provider::Letsencrypt, Staging),
            "letsencrypt_staging"
        );
        assert_eq!(table_name(Provider::Custom, Staging), "custom");
        for name in [
            "letsencrypt",
            "letsencrypt_staging",
            "google_staging",
            "custom",
        ] {
            assert!(is_table_name(name), "{name}");
        }
        for name in [
            "custom_staging",
            "pebble",
            "_staging",
            "letsencrypt_production",
        ] {
            assert!(!is_table_name(name), "{name}");
        }
        let limits = ProviderLimits([("letsencrypt".to_owned(), LETSENCRYPT)].into());
        assert_eq!(
            limits.of_account(Provider::Letsencrypt, Production),
            LETSENCRYPT
        );
        assert_eq!(
            limits.of_account(Provider::Letsencrypt, Staging),
            RateLimits::default()
        );
    }

    #[test]
    fn failures_are_keyed_per_account_and_identifier() {
        let keys = failure_keys(
            &LETSENCRYPT,
            "https://ca/dir",
            "acme_1",
            &names(&[
                "b.example.com",
                "a.example.com",
                "2001:db8::1",
                "a.example.com",
            ]),
        );
        let subjects: Vec<&str> = keys.iter().map(|(k, _)| k.subject.as_str()).collect();
        assert_eq!(
            subjects,
            vec![
                "acme_1:2001:db8::1",
                "acme_1:a.example.com",
                "acme_1:b.example.com"
            ]
        );
        assert!(keys.iter().all(|(k, limit)| {
            k.kind == LedgerKind::FailedAuthorization
                && limit.max == 5
                && k.scope == "https://ca/dir"
        }));
        // Not counted with the order itself: recorded only when an authorization fails.
        assert!(
            keys_for_order(&LETSENCRYPT, "s", "acme_1", &names(&["a.example.com"]))
                .iter()
                .all(|(k, _)| k.kind != LedgerKind::FailedAuthorization)
        );
        assert!(failure_keys(&RateLimits::default(), "s", "a", &names(&["x.com"])).is_empty());
        assert_eq!(
            LedgerKind::FailedAuthorization.limit_name(),
            "failed_authorizations"
        );
    }

    #[test]
    fn the_longest_window_covers_every_kind() {
        assert_eq!(
            LETSENCRYPT.longest_window(),
            Some(Duration::from_secs(7 * 86_400))
        );
        let failures_only = RateLimits {
            failed_authorizations: Some(Limit {
                max: 5,
                window: Duration::from_secs(3600),
            }),
            ..RateLimits::default()
        };
        assert_eq!(
            failures_only.longest_window(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(RateLimits::default().longest_window(), None);
    }

    #[test]
    fn pending_authorizations_count_the_new_order_too() {
        assert!(check_pending_authorizations("acme_1", 300, 297, 3).is_ok());
        let refusal = check_pending_authorizations("acme_1", 300, 298, 3).expect_err("over");
        assert_eq!((refusal.count, refusal.max), (301, 300));
        assert_eq!(refusal.kind.limit_name(), "pending_authorizations");
        assert_eq!(refusal.retry_after, PENDING_AUTHORIZATIONS_RETRY);
        assert!(
            refusal
                .to_string()
                .contains("301 pending_authorizations (at most 300)")
        );
    }
}
