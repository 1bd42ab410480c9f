//! Checking a destination host against the policy of its use.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::addresses::forbidden_address;
use super::refusal::{Refusal, Refused};

/// The policy of one use: whether private destinations are allowed, and the setting that allows
/// them (named in refusals, e.g. `[webhooks] allow_private_targets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    pub allow_private: bool,
    pub setting: &'static str,
}

/// A destination's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Domain(String),
}

impl Host {
    /// A URL's host as the URL parser normalised it (`[v6]` bracketed, odd IPv4 spellings such
    /// as `0x7f.1` already rewritten to `127.0.0.1`).
    pub fn from_url_host(text: &str) -> Host {
        if let Some(v6) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'))
            && let Ok(ip) = v6.parse::<Ipv6Addr>()
        {
            return Host::Ip(ip.into());
        }
        match text.parse::<Ipv4Addr>() {
            Ok(ip) => Host::Ip(ip.into()),
            Err(_) => Host::Domain(text.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

/// Names that point at the local host or machine-local services whatever DNS says.
pub fn blocked_name(host: &str) -> bool {
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
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    NAMES.contains(&host.as_str()) || SUFFIXES.iter().any(|suffix| host.ends_with(suffix))
}

/// The refusal message: why, and the setting that would allow it.
fn by_policy(guard: Guard, what: String) -> String {
    format!("{what}; refused by policy (set {} to allow)", guard.setting)
}

/// Judges what needs no lookup: an IP literal's address, and a name reserved for local use.
/// Any other name passes here; [`check_host`] judges what it resolves to. For connectors that
/// reach IP literals without asking their resolver, and for checks that must not wait on DNS.
pub fn check_without_lookup(host: &Host, guard: Guard) -> Result<(), Refused> {
    if guard.allow_private {
        return Ok(());
    }
    match host {
        Host::Ip(ip) => match forbidden_address(*ip) {
            Some(kind) => Err(Refused {
                refusal: Refusal::Address(kind),
                message: by_policy(guard, format!("{ip} is {}", kind.describe())),
                address: None,
            }),
            None => Ok(()),
        },
        Host::Domain(name) if blocked_name(name) => Err(Refused {
            refusal: Refusal::BlockedName,
            message: by_policy(guard, format!("{name} names a local or internal service")),
            address: None,
        }),
        Host::Domain(_) => Ok(()),
    }
}

/// The addresses a connection to `host:port` may use: the IP itself, or every address the name
/// resolves to (with `lookup`), each checked unless the guard allows private destinations.
pub async fn check_host<F, Fut>(
    host: &Host,
    port: u16,
    guard: Guard,
    lookup: F,
) -> Result<Vec<SocketAddr>, Refused>
where
    F: FnOnce(String, u16) -> Fut,
    Fut: Future<Output = io::Result<Vec<SocketAddr>>>,
{
    check_without_lookup(host, guard)?;
    let name = match host {
        Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, port)]),
        Host::Domain(name) => name,
    };
    let unresolvable = || Refused {
        refusal: Refusal::Unresolvable,
        message: format!("{name} does not resolve"),
        address: None,
    };
    let addrs = lookup(name.clone(), port)
        .await
        .map_err(|_| unresolvable())?;
    if addrs.is_empty() {
        return Err(unresolvable());
    }
    if !guard.allow_private
        && let Some((addr, kind)) = addrs
            .iter()
            .find_map(|addr| forbidden_address(addr.ip()).map(|kind| (addr, kind)))
    {
        return Err(Refused {
            refusal: Refusal::Address(kind),
            message: by_policy(guard, format!("{name} resolves to {}", kind.describe())),
            address: Some(addr.ip()),
        });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUARD: Guard = Guard {
        allow_private: false,
        setting: "[test] allow",
    };

    fn answer(ips: &[&str]) -> Vec<SocketAddr> {
        ips.iter()
            .map(|ip| SocketAddr::new(ip.parse().expect("ip"), 443))
            .collect()
    }

    async fn check(host: &str, guard: Guard, ips: &[&str]) -> Result<Vec<SocketAddr>, Refused> {
        let ips = answer(ips);
        check_host(&Host::from_url_host(host), 443, guard, |_, _| async move {
            Ok(ips)
        })
        .await
    }

    #[test]
    fn url_hosts() {
        assert_eq!(
            Host::from_url_host("[::ffff:a00:1]"),
            Host::Ip("::ffff:10.0.0.1".parse().expect("ip"))
        );
        assert_eq!(
            Host::from_url_host("127.0.0.1"),
            Host::Ip(Ipv4Addr::LOCALHOST.into())
        );
        assert_eq!(
            Host::from_url_host("Example.COM."),
            Host::Domain("example.com".into())
        );
    }

    #[tokio::test]
    async fn refuses_literals_names_and_private_answers_without_showing_them() {
        let refused = check("127.0.0.1", GUARD, &[]).await.expect_err("literal");
        assert_eq!(refused.refusal.code(), "loopback");
        assert!(
            refused
                .message
                .contains("refused by policy (set [test] allow")
        );
        assert_eq!(
            check("[::ffff:0:7f00:1]", GUARD, &[])
                .await
                .expect_err("translated")
                .refusal
                .code(),
            "loopback"
        );
        for name in [
            "localhost",
            "LOCALHOST.",
            "app.localhost",
            "metadata.google.internal",
            "printer.local",
        ] {
            let refused = check(name, GUARD, &["93.184.215.14"])
                .await
                .expect_err(name);
            assert_eq!(refused.refusal, Refusal::BlockedName, "{name}");
        }
        // A public name whose answer holds one private address is refused as a whole, and the
        // message does not say which address it was.
        let refused = check("hooks.example.com", GUARD, &["93.184.215.14", "10.0.0.7"])
            .await
            .expect_err("mixed");
        assert_eq!(refused.refusal.code(), "private");
        assert!(!refused.message.contains("10.0.0.7"), "{}", refused.message);
        assert_eq!(refused.address, Some("10.0.0.7".parse().expect("ip")));
        assert_eq!(
            check("hooks.example.com", GUARD, &[])
                .await
                .expect_err("empty")
                .refusal,
            Refusal::Unresolvable
        );
        let ok = check("hooks.example.com", GUARD, &["93.184.215.14"])
            .await
            .expect("public");
        assert_eq!(ok.len(), 1);
        let open = Guard {
            allow_private: true,
            ..GUARD
        };
        assert!(check("127.0.0.1", open, &[]).await.is_ok());
        assert!(check("localhost", open, &["127.0.0.1"]).await.is_ok());
    }
}
