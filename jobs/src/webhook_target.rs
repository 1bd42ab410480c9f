//! Where a webhook may point: the guard against server-side request forgery.
//!
//! A webhook URL is chosen by an API caller and fetched by the service from inside its network,
//! so unless `[webhooks] allow_private_targets` is set, a target is refused when its host is a
//! name reserved for local use (`localhost`, cloud metadata names, `.internal`, `.local`) or when
//! ANY address it resolves to is not a public unicast address: loopback, private (RFC 1918,
//! fc00::/7), link-local (169.254/16 with the 169.254.169.254 metadata service, fe80::/10),
//! unspecified, shared (CGNAT 100.64/10), multicast, broadcast, documentation, benchmarking and
//! other reserved ranges, and IPv6 forms embedding such an IPv4 address (mapped, compatible,
//! NAT64, 6to4).
//!
//! The check runs when the webhook is created and again before every delivery, and the delivery
//! connects to exactly the addresses that were checked (see `webhook.rs`), so a DNS answer that
//! changes between check and connect (rebinding) cannot reach a refused address.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

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

/// A URL's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Domain(String),
}

/// The URL's host (IP literals as the URL parser normalised them, e.g. `0x7f.1` → 127.0.0.1).
pub fn host(url: &Url) -> Option<Host> {
    let text = url.host_str()?;
    if let Some(v6) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return v6.parse().ok().map(|ip: Ipv6Addr| Host::Ip(ip.into()));
    }
    match text.parse::<Ipv4Addr>() {
        Ok(ip) => Some(Host::Ip(ip.into())),
        Err(_) => Some(Host::Domain(text.to_owned())),
    }
}

/// Names that point at the local host or machine-local services whatever DNS says.
fn blocked_name(host: &str) -> bool {
    const NAMES: [&str; 7] = [
        "localhost",
        "localhost.localdomain",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    ];
    // RFC 6761 (.localhost), ICANN's private-use .internal, mDNS .local.
    const SUFFIXES: [&str; 3] = [".localhost", ".internal", ".local"];
    NAMES.contains(&host) || SUFFIXES.iter().any(|suffix| host.ends_with(suffix))
}

/// The kind of a non-public address (`(reason, description)`), or `None` for a public unicast
/// address.
pub fn forbidden_address(ip: IpAddr) -> Option<(&'static str, &'static str)> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<(&'static str, &'static str)> {
    const RANGES: [([u8; 4], u32, &str, &str); 17] = [
        (
            [169, 254, 169, 254],
            32,
            "metadata",
            "the cloud metadata service",
        ),
        (
            [0, 0, 0, 0],
            8,
            "unspecified",
            "an unspecified (\"this network\") address",
        ),
        ([127, 0, 0, 0], 8, "loopback", "a loopback address"),
        ([10, 0, 0, 0], 8, "private", "a private (RFC 1918) address"),
        (
            [172, 16, 0, 0],
            12,
            "private",
            "a private (RFC 1918) address",
        ),
        (
            [192, 168, 0, 0],
            16,
            "private",
            "a private (RFC 1918) address",
        ),
        (
            [100, 64, 0, 0],
            10,
            "shared",
            "a shared (carrier-grade NAT) address",
        ),
        ([169, 254, 0, 0], 16, "link_local", "a link-local address"),
        (
            [192, 0, 0, 0],
            24,
            "reserved",
            "an IETF protocol assignment",
        ),
        (
            [192, 0, 2, 0],
            24,
            "documentation",
            "a documentation address",
        ),
        (
            [198, 51, 100, 0],
            24,
            "documentation",
            "a documentation address",
        ),
        (
            [203, 0, 113, 0],
            24,
            "documentation",
            "a documentation address",
        ),
        ([198, 18, 0, 0], 15, "reserved", "a benchmarking address"),
        ([192, 88, 99, 0], 24, "reserved", "a 6to4 relay address"),
        (
            [255, 255, 255, 255],
            32,
            "broadcast",
            "the broadcast address",
        ),
        ([224, 0, 0, 0], 4, "multicast", "a multicast address"),
        ([240, 0, 0, 0], 4, "reserved", "a reserved address"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, reason, what)| (*reason, *what))
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// The IPv4 address in bits `at..at + 32` of `ip`.
fn embedded_v4(ip: Ipv6Addr, at: u32) -> Ipv4Addr {
    let bits = u128::from(ip) >> (96 - at);
    Ipv4Addr::from(u32::try_from(bits & u128::from(u32::MAX)).unwrap_or(0))
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<(&'static str, &'static str)> {
    if ip.is_unspecified() {
        return Some(("unspecified", "the unspecified address"));
    }
    if ip.is_loopback() {
        return Some(("loopback", "a loopback address"));
    }
    // Forms that carry an IPv4 address: judged by that address (any other use is refused).
    let v6 = |text: &str| text.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if in_v6(ip, v6("::"), 96) {
        // IPv4-compatible (deprecated): ::a.b.c.d.
        return Some(
            forbidden_v4(embedded_v4(ip, 96))
                .unwrap_or(("reserved", "an IPv4-compatible IPv6 address")),
        );
    }
    if in_v6(ip, v6("64:ff9b::"), 96) {
        return forbidden_v4(embedded_v4(ip, 96));
    }
    if in_v6(ip, v6("2002::"), 16) {
        return forbidden_v4(embedded_v4(ip, 16));
    }
    const RANGES: [(&str, u32, &str, &str); 9] = [
        ("64:ff9b:1::", 48, "private", "a local-use NAT64 address"),
        ("100::", 64, "reserved", "a discard-only address"),
        (
            "2001::",
            23,
            "reserved",
            "an IETF protocol assignment (Teredo, ORCHID, ...)",
        ),
        ("2001:db8::", 32, "documentation", "a documentation address"),
        ("3fff::", 20, "documentation", "a documentation address"),
        ("fc00::", 7, "private", "a unique local (private) address"),
        ("fe80::", 10, "link_local", "a link-local address"),
        ("fec0::", 10, "private", "a site-local address"),
        ("ff00::", 8, "multicast", "a multicast address"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _, _)| in_v6(ip, v6(net), *prefix))
        .map(|(_, _, reason, what)| (*reason, *what))
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
    let (shown, addrs) = match host(url) {
        Some(Host::Ip(ip)) => (
            url.host_str().unwrap_or_default().to_owned(),
            vec![SocketAddr::new(ip, port)],
        ),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if !allow_private && blocked_name(&name) {
                return Err(TargetRefused::new(
                    "blocked_name",
                    format!(
                        "{name} names a local or internal service; webhooks go to public \
                         addresses (unless [webhooks] allow_private_targets)"
                    ),
                ));
            }
            let addrs = lookup(name.clone(), port).await.map_err(|err| {
                TargetRefused::new("unresolvable", format!("cannot resolve {name}: {err}"))
            })?;
            if addrs.is_empty() {
                return Err(TargetRefused::new(
                    "unresolvable",
                    format!("{name} resolves to no address"),
                ));
            }
            (name, addrs)
        }
        None => return Err(TargetRefused::new("invalid_url", "the URL has no host")),
    };
    if !allow_private {
        for addr in &addrs {
            if let Some((reason, what)) = forbidden_address(addr.ip()) {
                let subject =
                    if shown == addr.ip().to_string() || shown == format!("[{}]", addr.ip()) {
                        format!("{shown} is")
                    } else {
                        format!("{shown} resolves to {}, which is", addr.ip())
                    };
                return Err(TargetRefused::new(
                    reason,
                    format!(
                        "{subject} {what}; webhooks go to public addresses (unless [webhooks] \
                         allow_private_targets)"
                    ),
                ));
            }
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(ip: &str) -> Option<&'static str> {
        forbidden_address(ip.parse().expect("ip")).map(|(reason, _)| reason)
    }

    #[test]
    fn classifies_addresses() {
        for (ip, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "metadata"),
            ("169.254.1.1", "link_local"),
            ("0.0.0.0", "unspecified"),
            ("100.64.0.1", "shared"),
            ("100.127.255.254", "shared"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.200", "documentation"),
            ("198.18.0.1", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("fe80::1", "link_local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "metadata"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::10.0.0.1", "private"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "metadata"),
            ("2001:0:4136:e378::1", "reserved"),
        ] {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(reason(ip), None, "{ip} is public");
        }
    }

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
        for name in [
            "localhost",
            "LOCALHOST.",
            "app.localhost",
            "metadata.google.internal",
            "printer.local",
        ] {
            let refused = check(&format!("https://{name}/"), false, &["93.184.215.14"])
                .await
                .expect_err(name);
            assert_eq!(refused.reason, "blocked_name", "{name}");
        }
        // A public name whose answer holds one private address is refused as a whole.
        let refused = check(
            "https://hooks.example.com/",
            false,
            &["93.184.215.14", "10.0.0.7"],
        )
        .await
        .expect_err("mixed");
        assert_eq!(refused.reason, "private");
        assert!(
            refused.message.contains("resolves to 10.0.0.7"),
            "{}",
            refused.message
        );
        let ok = check("https://hooks.example.com/", false, &["93.184.215.14"])
            .await
            .expect("public");
        assert_eq!(ok.len(), 1);
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
