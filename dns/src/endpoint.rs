//! Where the cloud providers may connect: the [`EndpointPolicy`], the check of a configured API
//! URL ([`check_endpoint`] when a provider is created, [`HttpClient::endpoint`] whenever one is
//! built), and the [`HttpClient`] that connects only to addresses the policy allows.
//!
//! A provider's `endpoint` (and `token_endpoint`, `login_endpoint`, and Google's key-file
//! `token_uri`) is chosen by an API caller, and the provider sends its credentials there. Under
//! [`EndpointPolicy::Public`] (the default) it must be https, its host must not be a local name,
//! and it must not be, or resolve to, a non-public address ([`scaivault_domain::outbound`]).
//! The check runs when the provider is created and again on every connection: the client's
//! resolver checks every answer (so a name that changes its answer later, DNS rebinding, cannot
//! reach a refused address), every request's URL is checked for an IP literal (which reqwest
//! connects to without asking the resolver), redirects are not followed and no proxy is used.
//!
//! RFC 2136 is not guarded: its `nameserver` is a DNS server the operator runs, normally on a
//! private network, reached over DNS (port 53) rather than HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, RequestBuilder, Url};
use scaivault_domain::outbound::{Guard, Host, Refused, check_host, check_without_lookup};

use crate::config::ResolvedConfig;
use crate::error::DnsError;

/// Upper bound on one request to a provider API, so that a stalled API cannot hold an order.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The config keys that hold a URL the provider connects to.
pub const ENDPOINT_KEYS: [&str; 3] = ["endpoint", "token_endpoint", "login_endpoint"];

/// Where the provider APIs may be (`[dns] allow_insecure_endpoints`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointPolicy {
    /// https only, and only public addresses.
    #[default]
    Public,
    /// http or https, any address: for local test servers of the provider APIs.
    Insecure,
}

impl EndpointPolicy {
    /// The policy of `[dns] allow_insecure_endpoints`.
    pub fn from_allow_insecure(allow: bool) -> Self {
        if allow { Self::Insecure } else { Self::Public }
    }

    fn guard(self) -> Guard {
        Guard {
            allow_private: self == Self::Insecure,
            setting: "[dns] allow_insecure_endpoints",
        }
    }
}

/// Why an endpoint is refused: a stable `reason` code and a message that says why, never what
/// a name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRefused {
    /// `invalid_url`, `scheme`, `credentials`, `blocked_name`, `unresolvable`, or the kind of
    /// address (`loopback`, `private`, `link_local`, `metadata`, ...).
    pub reason: &'static str,
    pub message: String,
}

impl EndpointRefused {
    fn new(reason: &'static str, message: String) -> Self {
        Self { reason, message }
    }

    fn refused(refused: Refused) -> Self {
        Self::new(refused.refusal.code(), refused.message)
    }

    /// As a provider error: a malformed URL is a configuration problem, the rest a refusal.
    fn into_dns_error(self, key: &str) -> DnsError {
        let message = format!("{key}: {}", self.message);
        match self.reason {
            "invalid_url" => DnsError::Config(message),
            _ => DnsError::Refused(message),
        }
    }
}

impl std::fmt::Display for EndpointRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses an endpoint URL and checks what can be checked without a lookup: the scheme, no
/// credentials, and the host when it is an IP literal or a local name.
fn parse(text: &str, policy: EndpointPolicy) -> Result<Url, EndpointRefused> {
    let url = Url::parse(text)
        .map_err(|e| EndpointRefused::new("invalid_url", format!("{text:?} is not a URL: {e}")))?;
    // A parsed http(s) URL always has a host and can be a base: the scheme decides.
    let allowed = match policy {
        EndpointPolicy::Public => url.scheme() == "https",
        EndpointPolicy::Insecure => matches!(url.scheme(), "http" | "https"),
    };
    if !allowed || url.cannot_be_a_base() || !url.has_host() {
        let message = match policy {
            EndpointPolicy::Public => format!(
                "{text:?} is not an https URL (set [dns] allow_insecure_endpoints to allow http)"
            ),
            EndpointPolicy::Insecure => format!("{text:?} is not an http(s) URL"),
        };
        return Err(EndpointRefused::new("scheme", message));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointRefused::new(
            "credentials",
            "credentials in the URL are not accepted".to_owned(),
        ));
    }
    check_literal(&url, policy)?;
    Ok(url)
}

/// Checks a URL's host when it is an IP literal or a local name (reqwest connects to an IP
/// literal without asking the resolver).
fn check_literal(url: &Url, policy: EndpointPolicy) -> Result<(), EndpointRefused> {
    let host = Host::from_url_host(url.host_str().unwrap_or_default());
    check_without_lookup(&host, policy.guard()).map_err(EndpointRefused::refused)
}

/// Checks a configured endpoint URL as a provider's creation does: its shape and scheme, and
/// (under [`EndpointPolicy::Public`]) every address its host resolves to now.
pub async fn check_endpoint(text: &str, policy: EndpointPolicy) -> Result<(), EndpointRefused> {
    let url = parse(text.trim(), policy)?;
    if policy == EndpointPolicy::Insecure {
        return Ok(());
    }
    let host = Host::from_url_host(url.host_str().unwrap_or_default());
    let port = url.port_or_known_default().unwrap_or(443);
    check_host(&host, port, policy.guard(), system_lookup)
        .await
        .map_err(|refused| {
            log_refused(url.host_str().unwrap_or_default(), &refused);
            EndpointRefused::refused(refused)
        })?;
    Ok(())
}

async fn system_lookup(name: String, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    tokio::net::lookup_host((name.as_str(), port))
        .await
        .map(Iterator::collect)
}

/// For the operator only: the caller is told why, not where the name points.
fn log_refused(host: &str, refused: &Refused) {
    if let Some(address) = refused.address {
        tracing::info!(host, %address, reason = refused.refusal.code(),
            "DNS provider endpoint refused");
    }
}

/// The HTTP client of the cloud providers: rustls with the system roots, a timeout per
/// request, no redirects, no proxy, and (under [`EndpointPolicy::Public`]) a resolver that
/// refuses names with a non-public answer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: EndpointPolicy,
}

impl HttpClient {
    pub fn new(policy: EndpointPolicy) -> Result<Self, DnsError> {
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            // A redirect would lead to a URL nobody checked; an API that answers one fails.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would make the connection, bypassing the resolver's check.
            .no_proxy();
        if policy == EndpointPolicy::Public {
            builder = builder.dns_resolver(Arc::new(GuardedResolver { policy }));
        }
        let client = builder
            .build()
            .map_err(|e| DnsError::Config(format!("DNS provider HTTP client: {e}")))?;
        Ok(Self { client, policy })
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> EndpointPolicy {
        self.policy
    }

    /// The URL under config `key` (else `default`), checked against the policy: `trim` gives
    /// the text to parse (surrounding whitespace, or a trailing slash, removed).
    pub(crate) fn endpoint(
        &self,
        config: &ResolvedConfig,
        key: &str,
        default: &str,
        trim: fn(&str) -> &str,
    ) -> Result<Url, DnsError> {
        let raw = config.optional(key).unwrap_or(default);
        parse(trim(raw), self.policy).map_err(|refused| refused.into_dns_error(key))
    }

    /// A request to `url`, whose host is checked once more (the resolver does not see IP
    /// literals).
    pub(crate) fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, DnsError> {
        self.check_url(&url)?;
        Ok(self.client.request(method, url))
    }

    /// Checks a URL about to be requested.
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), DnsError> {
        check_literal(url, self.policy).map_err(|refused| refused.into_dns_error("endpoint"))
    }

    /// The underlying client (for a request built elsewhere and checked with
    /// [`HttpClient::check_url`]).
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Resolves with the system resolver and refuses a name that is local or has any non-public
/// address in its answer; the connection then uses exactly the checked answer.
struct GuardedResolver {
    policy: EndpointPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.policy.guard();
        let host = Host::from_url_host(name.as_str());
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port (or the scheme's) in its place.
            match check_host(&host, 0, guard, system_lookup).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(refused) => {
                    log_refused(name.as_str(), &refused);
                    Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>)
                }
            }
        })
    }
}

/// The refusal behind a failed request, when the resolver refused its host.
pub(crate) fn refusal_of(err: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_endpoints_need_https_and_a_public_host() {
        let public = EndpointPolicy::Public;
        assert!(parse("https://api.cloudflare.com/client/v4", public).is_ok());
        for (url, reason) in [
            ("http://api.cloudflare.com/", "scheme"),
            ("ftp://api.cloudflare.com/", "scheme"),
            ("https://127.0.0.1:8443/", "loopback"),
            ("https://[::1]/", "loopback"),
            ("https://169.254.169.254/", "metadata"),
            ("https://10.1.2.3/", "private"),
            ("https://localhost/", "blocked_name"),
            ("https://metadata.google.internal/", "blocked_name"),
            ("https://user:pw@api.example.com/", "credentials"),
            ("not a url", "invalid_url"),
        ] {
            let refused = parse(url, public).expect_err(url);
            assert_eq!(refused.reason, reason, "{url}");
        }
        let insecure = EndpointPolicy::Insecure;
        assert!(parse("http://127.0.0.1:8080/", insecure).is_ok());
        assert!(parse("https://localhost/", insecure).is_ok());
        assert_eq!(
            parse("ftp://x.example/", insecure).expect_err("ftp").reason,
            "scheme"
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_local_answers_and_the_error_carries_the_refusal() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = HttpClient::new(EndpointPolicy::Public).expect("client");
        // The name resolves (through /etc/hosts) to loopback; the request must not be sent.
        let url = Url::parse("https://localhost.:1/").expect("url");
        let err = http.client().get(url).send().await.expect_err("refused");
        let refused = refusal_of(&err).expect("a refusal in the source chain");
        assert_eq!(refused.refusal.code(), "blocked_name");
    }
}
