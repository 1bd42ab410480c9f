//! A CA pausing issuance for an (account, identifier) pair, as Let's Encrypt does after a long
//! run of failed authorizations (<https://letsencrypt.org/docs/rate-limits/>, "Consecutive
//! Authorization Failures per Hostname per Account"). Waiting does not lift a pause: only the
//! subscriber visiting the CA's self-service link does. A newOrder for a paused identifier is
//! refused with a problem whose detail reads (Boulder's `wfe2`):
//!
//! ```text
//! Your account is temporarily prevented from requesting certificates for a.example.com,
//! b.example.com and possibly others. Please visit: https://portal.letsencrypt.org/sfe/v1/unpause?jwt=...
//! ```
//!
//! Its type is usually `rateLimited`, sometimes `unauthorized`, so the pause is recognised from
//! the detail's wording ([`PauseNotice::parse`]) whatever the type. Pure: the actors store the
//! pause ([`AccountPause`]), hold automatic renewals and answer callers with it.
//!
//! The unpause URL carries a JWT that lets whoever holds it unpause the account: it is shown to
//! API callers (read scope), never logged in full ([`redacted_url`]).

use std::time::Duration;

use time::OffsetDateTime;

/// How often a held automatic renewal asks the CA again: a paused newOrder costs the CA
/// nothing, but nothing short of the unpause link lifts it, so once a day is plenty.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(86_400);

/// The wording that says an account is paused for some identifiers.
const MARKER: &str = "temporarily prevented from requesting certificates for ";
/// What ends the list of identifiers.
const LIST_ENDS: [&str; 2] = [" and possibly others", ". "];
/// What precedes the unpause link.
const VISIT: &str = "Please visit:";

/// What a CA's pause refusal says: the identifiers it names and the link to unpause them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseNotice {
    /// The identifiers the CA named (lower-case; it may pause others it did not name).
    pub identifiers: Vec<String>,
    /// The CA's self-service link (with its JWT), when it gave one.
    pub unpause_url: Option<String>,
}

impl PauseNotice {
    /// Reads a pause from a problem's `detail`; `None` when it is not one.
    pub fn parse(detail: &str) -> Option<PauseNotice> {
        let start = detail.find(MARKER)? + MARKER.len();
        let rest = &detail[start..];
        let end = LIST_ENDS
            .iter()
            .filter_map(|ending| rest.find(ending))
            .min()
            .unwrap_or(rest.len());
        let identifiers: Vec<String> = rest[..end]
            .split(',')
            .flat_map(|part| part.split(" and "))
            .map(|name| name.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|name| is_identifier(name))
            .collect();
        if identifiers.is_empty() {
            return None;
        }
        let unpause_url = rest[end..].find(VISIT).and_then(|at| {
            let after = rest[end + at + VISIT.len()..].trim_start();
            let url: &str = after.split_whitespace().next().unwrap_or_default();
            // A sentence may end right after the link.
            let url = url.trim_end_matches(['.', ',', ')', '"', '\'']);
            url.starts_with("https://").then(|| url.to_owned())
        });
        Some(PauseNotice {
            identifiers,
            unpause_url,
        })
    }
}

/// A DNS name or IP address as a CA names it: no spaces, no quotes, not empty.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | ':' | '_'))
}

/// `url` without its query and fragment, for logs: the unpause JWT is a bearer capability.
pub fn redacted_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    match url.len() - end {
        0 => url.to_owned(),
        _ => format!("{}?…", &url[..end]),
    }
}

/// An order refused because the CA paused the account for some of its names. The message leaves
/// the unpause link out: it carries a bearer JWT, and messages reach logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the CA paused issuance through account {account_id} for {}: only its unpause link lifts the \
     pause (see the account)",
    .identifiers.join(", ")
)]
pub struct PauseRefusal {
    pub account_id: String,
    pub identifiers: Vec<String>,
    /// The CA's self-service link, when it gave one.
    pub unpause_url: Option<String>,
    /// When the CA first refused.
    pub since: OffsetDateTime,
}

/// One paused (account, identifier) pair, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPause {
    pub account_id: String,
    pub identifier: String,
    /// The link the CA gave the last time it refused; `None` if it gave none.
    pub unpause_url: Option<String>,
    /// When the CA first refused (kept while the pause lasts).
    pub paused_at: OffsetDateTime,
    /// When the CA last refused: held renewals probe again [`PROBE_INTERVAL`] after it.
    pub checked_at: OffsetDateTime,
}

impl AccountPause {
    /// The stored form of `notice` for `account_id`, refused at `at`.
    pub fn from_notice(account_id: &str, notice: &PauseNotice, at: OffsetDateTime) -> Vec<Self> {
        notice
            .identifiers
            .iter()
            .map(|identifier| AccountPause {
                account_id: account_id.to_owned(),
                identifier: identifier.clone(),
                unpause_url: notice.unpause_url.clone(),
                paused_at: at,
                checked_at: at,
            })
            .collect()
    }

    /// When a renewal held by this pause may ask the CA again.
    pub fn probe_at(&self) -> OffsetDateTime {
        self.checked_at + PROBE_INTERVAL
    }
}

/// An account's pauses taken together, as the API shows them: every paused identifier, the most
/// recent unpause link, the earliest pause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseSummary {
    pub identifiers: Vec<String>,
    pub unpause_url: Option<String>,
    pub since: OffsetDateTime,
    /// The latest refusal.
    pub checked_at: OffsetDateTime,
}

impl PauseSummary {
    /// `None` when `pauses` is empty.
    pub fn of(pauses: &[AccountPause]) -> Option<PauseSummary> {
        let latest = pauses.iter().max_by_key(|p| p.checked_at)?;
        let mut identifiers: Vec<String> = pauses.iter().map(|p| p.identifier.clone()).collect();
        identifiers.sort();
        identifiers.dedup();
        Some(PauseSummary {
            identifiers,
            unpause_url: pauses
                .iter()
                .filter(|p| p.unpause_url.is_some())
                .max_by_key(|p| p.checked_at)
                .and_then(|p| p.unpause_url.clone()),
            since: pauses.iter().map(|p| p.paused_at).min()?,
            checked_at: latest.checked_at,
        })
    }

    /// The pauses among `pauses` that cover one of `names` (a certificate's), summarised.
    pub fn covering(pauses: &[AccountPause], names: &[String]) -> Option<PauseSummary> {
        let covering: Vec<AccountPause> = pauses
            .iter()
            .filter(|p| names.iter().any(|n| n.eq_ignore_ascii_case(&p.identifier)))
            .cloned()
            .collect();
        Self::of(&covering)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LE: &str = "Your account is temporarily prevented from requesting certificates for \
                      mc.example.com and possibly others. Please visit: \
                      https://portal.letsencrypt.org/sfe/v1/unpause?jwt=abc.def.ghi";

    #[test]
    fn reads_lets_encrypts_pause() {
        let notice = PauseNotice::parse(LE).expect("a pause");
        assert_eq!(notice.identifiers, vec!["mc.example.com"]);
        assert_eq!(
            notice.unpause_url.as_deref(),
            Some("https://portal.letsencrypt.org/sfe/v1/unpause?jwt=abc.def.ghi")
        );
    }

    #[test]
    fn reads_several_identifiers_and_a_trailing_full_stop() {
        let detail = "Your account is temporarily prevented from requesting certificates for \
                      A.example.com, 192.0.2.7, 2001:db8::1 and possibly others. Please visit: \
                      https://portal.example/sfe/v1/unpause?jwt=x.y.z.";
        let notice = PauseNotice::parse(detail).expect("a pause");
        assert_eq!(
            notice.identifiers,
            vec!["a.example.com", "192.0.2.7", "2001:db8::1"]
        );
        assert_eq!(
            notice.unpause_url.as_deref(),
            Some("https://portal.example/sfe/v1/unpause?jwt=x.y.z")
        );
    }

    #[test]
    fn a_pause_without_a_link_is_still_a_pause() {
        let detail = "Your account is temporarily prevented from requesting certificates for \
                      www.example.org and possibly others.";
        let notice = PauseNotice::parse(detail).expect("a pause");
        assert_eq!(notice.identifiers, vec!["www.example.org"]);
        assert_eq!(notice.unpause_url, None);
        // Only an https link is taken.
        let odd = format!("{detail} Please visit: javascript:alert(1)");
        assert_eq!(PauseNotice::parse(&odd).expect("pause").unpause_url, None);
    }

    #[test]
    fn other_problems_are_not_pauses() {
        for detail in [
            "too many new orders recently: see https://letsencrypt.org/docs/rate-limits/",
            "too many failed authorizations (5) for \"a.example.com\" in the last 1h0m0s, retry \
             after 2026-01-01 00:00:00 UTC",
            "",
            "Your account is temporarily prevented from requesting certificates for  and possibly \
             others.",
        ] {
            assert_eq!(PauseNotice::parse(detail), None, "{detail}");
        }
    }

    #[test]
    fn links_are_logged_without_their_query() {
        assert_eq!(
            redacted_url("https://portal.letsencrypt.org/sfe/v1/unpause?jwt=abc.def.ghi"),
            "https://portal.letsencrypt.org/sfe/v1/unpause?…"
        );
        assert_eq!(redacted_url("https://a.example/x"), "https://a.example/x");
        assert_eq!(
            redacted_url("https://a.example/x#t"),
            "https://a.example/x?…"
        );
    }

    #[test]
    fn summaries_take_every_identifier_and_the_latest_link() {
        let at = |s: i64| OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).expect("time");
        let pause = |identifier: &str, url: Option<&str>, paused: i64, checked: i64| AccountPause {
            account_id: "acme_1".into(),
            identifier: identifier.into(),
            unpause_url: url.map(str::to_owned),
            paused_at: at(paused),
            checked_at: at(checked),
        };
        let pauses = vec![
            pause("b.example.com", Some("https://p/old"), 10, 20),
            pause("a.example.com", Some("https://p/new"), 30, 40),
            pause("c.example.com", None, 50, 60),
        ];
        let summary = PauseSummary::of(&pauses).expect("paused");
        assert_eq!(
            summary.identifiers,
            vec!["a.example.com", "b.example.com", "c.example.com"]
        );
        assert_eq!(summary.unpause_url.as_deref(), Some("https://p/new"));
        assert_eq!((summary.since, summary.checked_at), (at(10), at(60)));
        assert_eq!(PauseSummary::of(&[]), None);
        let names = vec!["B.example.com".to_owned(), "z.example.com".to_owned()];
        let covering = PauseSummary::covering(&pauses, &names).expect("covers b");
        assert_eq!(covering.identifiers, vec!["b.example.com"]);
        assert_eq!(covering.unpause_url.as_deref(), Some("https://p/old"));
        assert_eq!(pauses[0].probe_at(), at(20) + PROBE_INTERVAL);
        assert_eq!(
            PauseSummary::covering(&pauses, &["z.example.com".to_owned()]),
            None
        );
    }
}
