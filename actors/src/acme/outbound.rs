//! Where the ACME client may connect: the service's outbound guard
//! ([`scaivault_domain::outbound`]) applied to every connection, not only to the directory URL
//! a caller registers with. A CA's directory and answers name further URLs (`newOrder`, order
//! and authorization URLs, the certificate), and a hostile CA could point them at an internal
//! address; so the check sits in the connector, where every URL ends up.
//!
//! Host names are checked by [`GuardedResolver`], the resolver of the TCP connector: it returns
//! exactly the addresses it checked, so the connection cannot use a different DNS answer
//! (rebinding). hyper's connector does not consult the resolver for IP literals, so those are
//! checked by [`check_literal`] before each request.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use scaivault_domain::outbound::{Guard, Host, Refused, check_host, check_without_lookup};

/// The setting that allows private CA addresses, named in refusals.
const SETTING: &str = "[acme] allow_private_directories";

/// The ACME policy: private addresses only when `[acme] allow_private_directories`.
pub(super) fn guard(allow_private: bool) -> Guard {
    Guard {
        allow_private,
        setting: SETTING,
    }
}

/// A resolver for hyper's `HttpConnector` that answers only with addresses the guard accepts.
#[derive(Debug, Clone, Copy)]
pub(super) struct GuardedResolver {
    pub guard: Guard,
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, BoxError>> + Send>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let guard = self.guard;
        Box::pin(async move {
            let host = Host::from_url_host(name.as_str());
            // Port 0: the connector puts the URL's port on each address it is given.
            let addrs = check_host(&host, 0, guard, |name, port| async move {
                tokio::net::lookup_host((name.as_str(), port))
                    .await
                    .map(Iterator::collect)
            })
            .await
            .map_err(|refused| Box::new(refused) as BoxError)?;
            Ok(addrs.into_iter())
        })
    }
}

/// Refuses a request whose host is an IP literal the guard does not accept (hyper connects to
/// literals without asking the resolver). Host names pass here; the resolver judges them.
pub(super) fn check_literal(uri: &http::Uri, guard: Guard) -> Result<(), Refused> {
    match uri.host().map(Host::from_url_host) {
        Some(host @ Host::Ip(_)) => check_without_lookup(&host, guard),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use tower::Service as _;

    use super::*;

    #[tokio::test]
    async fn literals_and_local_names_are_refused_unless_allowed() {
        for url in [
            "https://127.0.0.1:14000/dir",
            "https://[::1]/dir",
            "https://[::ffff:127.0.0.1]:8443/",
            "https://169.254.169.254/latest",
            "https://10.1.2.3/",
        ] {
            let uri: http::Uri = url.parse().expect("uri");
            let refused = check_literal(&uri, guard(false)).expect_err(url);
            assert!(refused.message.contains("refused by policy"), "{url}");
            assert!(check_literal(&uri, guard(true)).is_ok(), "{url}");
        }
        let public: http::Uri = "https://acme-v02.api.letsencrypt.org/directory"
            .parse()
            .expect("uri");
        assert!(check_literal(&public, guard(false)).is_ok());

        let mut resolver = GuardedResolver {
            guard: guard(false),
        };
        let name: Name = "localhost".parse().expect("name");
        let refused = resolver.call(name).await.expect_err("localhost");
        let refused = refused.downcast_ref::<Refused>().expect("a refusal");
        assert!(refused.by_policy());
        let mut open = GuardedResolver { guard: guard(true) };
        let addrs: Vec<_> = open
            .call("localhost".parse().expect("name"))
            .await
            .expect("allowed")
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
