//! Where a webhook may point: the guard against server-side request forgery.
//!
//! A webhook URL is chosen by an API caller and fetched by the service from inside its network,
//! so unless `[webhooks] allow_private_targets` is set, a target is refused by the service's
//! outbound guard ([`scaivault_domain::outbound`]): local names, and names or addresses that are
//! not public unicast. A refusal says why, never what the name resolved to.
//!
//! The check runs when the webhook is created and again before every delivery, and the delivery
//! connects to exactly the addresses that were checked (see `webhook.rs`), so a DNS answer that
//! changes between check and connect (rebinding) cannot reach a refused address.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

use reqwest::Url;
pub use scaivault_domain::outbound::Host;
use scaivault_domain::outbound::{Guard, check_host};

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRefused {
    /// A stable code: `invalid_url`, `scheme`, `credentials`, `blocked_name`, `unresolvable`,
    /// or the kind of address (`loopback`, `private`, `link_local`, `metadata`, `unspecified`,
    /// `shared`, `multicast`, `broadcast`, `documentation`, `reserved`).
    pub reason: &'static str,
    /// For people: what was refused and why.
    pub message: String,
}

impl TargetRefused {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// Whether the URL itself is malformed (as opposed to pointing somewhere refused).
    pub fn is_malformed(&self) -> bool {
        matches!(self.reason, "invalid_url" | "scheme" | "credentials")
    }
}

impl fmt::Display for TargetRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TargetRefused {}

/// Parses a webhook URL: absolute `http` or `https` with a host, no credentials (the signature
/// authenticates deliveries, and the URL is shown by the API).
pub fn parse_url(text: &str) -> Result<Url, TargetRefused> {
    let url = Url::parse(text.trim())
        .map_err(|err| TargetRefused::new("invalid_url", format!("not a URL: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetRefused::new(
            "scheme",
            format!("scheme {:?}: only http and https", url.scheme()),
        ));
    }
    if url.host().is_none() {
        return Err(TargetRefused::new("invalid_url", "the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetRefused::new(
            "credentials",
            "credentials in the URL are not accepted; receivers verify X-ScaiVault-Signature",
        ));
    }
    Ok(url)
}

/// The policy for webhook targets.
fn guard(allow_private: bool) -> Guard {
    Guard {
        allow_private,
        setting: "[webhooks] allow_private_targets",
    }
}

/// The URL's host.
pub fn host(url: &Url) -> Option<Host> {
    url.host_str().map(Host::from_url_host)
}

/// The addresses a delivery to `url` may connect to: the URL's IP address, or every address its
/// name resolves to (the system resolver), each checked unless `allow_private` — then only the
/// scheme and shape of the URL are. The port is the URL's (or its scheme's default).
pub async fn check_target(
    url: &Url,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, TargetRefused> {
    check_target_with(url, allow_private, |host, port| async move {
        tokio::net::lookup_host((host.as_str(), port))
            .await
            .map(Iterator::collect)
    })
    .await
}

/// [`check_target`] with the name lookup given (tests use it to play a resolver that answers
/// with private addresses).
pub async fn check_target_with<F, Fut>(
    url: &Url,
    allow_private: bool,
    lookup: F,
) -> Result<Vec<SocketAddr>, TargetRefused>
where
    F: FnOnce(String, u16) -> Fut,
    Fut: Future<Output = io::Result<Vec<SocketAddr>>>,
{
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetRefused::new(
            "scheme",
            format!("scheme {:?}: only http and https", url.scheme()),
        ));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| TargetRefused::new("invalid_url", "the URL has no port"))?;
    let host = host(url).ok_or_else(|| TargetRefused::new("invalid_url", "the URL has no host"))?;
    check_host(&host, port, guard(allow_private), lookup)
        .await
        .map_err(|refused| {
            if let Some(address) = refused.address {
                // For the operator only: the caller is told why, not where the name points.
                tracing::info!(host = url.host_str().unwrap_or_default(), %address,
                    reason = refused.refusal.code(), "webhook target refused");
            }
            TargetRefused {
                reason: refused.refusal.code(),
                message: refused.message,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_http_urls_without_credentials() {
        assert!(parse_url("https://hooks.example.com/x").is_ok());
        assert!(parse_url("http://203.0.113.9:8080/").is_ok());
        assert_eq!(
            parse_url("ftp://example.com/").expect_err("ftp").reason,
            "scheme"
        );
        assert_eq!(
            parse_url("file:///etc/passwd").expect_err("file").reason,
            "scheme"
        );
        assert_eq!(
            parse_url("not a url").expect_err("junk").reason,
            "invalid_url"
        );
        assert_eq!(
            parse_url("https://user:pw@example.com/")
                .expect_err("userinfo")
                .reason,
            "credentials"
        );
    }

    async fn check(
        url: &str,
        allow: bool,
        answer: &[&str],
    ) -> Result<Vec<SocketAddr>, TargetRefused> {
        let answer: Vec<SocketAddr> = answer
            .iter()
            .map(|ip| SocketAddr::new(ip.parse().expect("ip"), 443))
            .collect();
        let url = parse_url(url).expect("url");
        check_target_with(&url, allow, |_, _| async move { Ok(answer) }).await
    }

    #[tokio::test]
    async fn refuses_literals_names_and_private_answers() {
        assert_eq!(
            check("http://127.0.0.1:9/", false, &[])
                .await
                .expect_err("lit")
                .reason,
            "loopback"
        );
        assert_eq!(
            check("http://[::1]:9/", false, &[])
                .await
                .expect_err("v6")
                .reason,
            "loopback"
        );
        assert_eq!(
            check("http://[::ffff:a00:1]/", false, &[])
                .await
                .expect_err("mapped")
                .reason,
            "private"
        );
        // The URL parser normalises odd IPv4 spellings before anything else sees them.
        assert_eq!(
            check("http://0x7f.1/", false, &[])
                .await
                .expect_err("hex")
                .reason,
            "loopback"
        );
        assert_eq!(
            check("http://2130706433/", false, &[])
                .await
                .expect_err("int")
                .reason,
            "loopback"
        );
        // Names and answers are judged by the shared guard (its own tests cover them); here,
        // that a refusal keeps the guard's code and message, which names this setting.
        let refused = check(
            "https://hooks.example.com/",
            false,
            &["93.184.215.14", "10.0.0.7"],
        )
        .await
        .expect_err("mixed");
        assert_eq!(refused.reason, "private");
        assert!(
            refused.message.contains("[webhooks] allow_private_targets")
                && !refused.message.contains("10.0.0.7"),
            "{}",
            refused.message
        );
        // Allowed: the same targets pass.
        assert!(check("http://127.0.0.1:9/", true, &[]).await.is_ok());
        assert!(
            check("https://localhost/", true, &["127.0.0.1"])
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn system_resolver_answers_for_localhost_names_are_refused() {
        // /etc/hosts maps localhost to loopback; the name rule refuses it before any lookup,
        // and a lookup through the real resolver for an IP literal is not made at all.
        let url = parse_url("http://localhost:1/").expect("url");
        assert_eq!(
            check_target(&url, false).await.expect_err("name").reason,
            "blocked_name"
        );
        let url = parse_url("http://127.0.0.1:1/").expect("url");
        assert_eq!(
            check_target(&url, false).await.expect_err("lit").reason,
            "loopback"
        );
        let allowed = check_target(&url, true).await.expect("allowed");
        assert_eq!(
            allowed,
            vec!["127.0.0.1:1".parse::<SocketAddr>().expect("addr")]
        );
    }
}
