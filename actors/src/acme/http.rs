//! The HTTP client used to talk to ACME servers.
//!
//! instant-acme's `builder_with_root` would trust *only* one given certificate and drop the system
//! roots; operators need both (public CAs and their own enterprise or test CA), so this builds a
//! hyper client over a root store holding the system roots plus every certificate of each
//! `[acme] extra_roots` file.
//!
//! instant-acme 0.8's `Error::Api(Problem)` drops the response headers, so a CA's `Retry-After`
//! with an error (RFC 8555 §6.6, e.g. with `rateLimited`) would be lost. The client handed to
//! instant-acme therefore records the `Retry-After` of each error response in a task-local cell
//! that [`capture_retry_after`] scopes around one account operation; [`Error::from_acme`] reads
//! it back. Requests are awaited inline by instant-acme (nothing is spawned), so the cell seen by
//! the client is the one of the operation that made the request.
//!
//! The same client times every request for the `scaivault_acme_request_duration_seconds`
//! histogram, labelled with the endpoint kind ([`super::endpoint`]) and the account's provider
//! (a bounded set; a CA's host would let callers grow the label set at will).
//!
//! Every connection passes the outbound guard ([`super::outbound`]), and every request is bound
//! by time and size ([`super::limits`]).

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use scaivault_domain::outbound::Guard;
use scaivault_domain::provider::{Environment, Provider};
use tokio::sync::Semaphore;

use super::endpoint::{Endpoints, Payload};
use super::limits::{Exceeded, HttpLimits, MAX_BODY_BYTES};
use super::outbound::{self, GuardedResolver};
use crate::Error;

type Hyper = Client<HttpsConnector<HttpConnector<GuardedResolver>>, BodyWrapper<Bytes>>;

/// How the ACME client may reach CAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpPolicy {
    /// `[acme] allow_private_directories`: connect to any address (private and test CAs).
    pub allow_private: bool,
    pub limits: HttpLimits,
}

/// A cheaply cloneable HTTP client for ACME servers.
#[derive(Clone)]
pub struct AcmeHttp {
    client: Hyper,
    endpoints: Endpoints,
    limits: CaLimits,
    guard: Guard,
    time: HttpLimits,
}

impl std::fmt::Debug for AcmeHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcmeHttp")
    }
}

impl AcmeHttp {
    /// A client trusting the system roots and every certificate in `extra_roots` (PEM files),
    /// connecting where and for as long as `policy` allows.
    pub fn new(extra_roots: &[impl AsRef<Path>], policy: HttpPolicy) -> Result<Self, Error> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(system_roots = added, "loaded system trust roots");
        for path in extra_roots {
            let path = path.as_ref();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|err| Error::Roots(format!("{}: {err}", path.display())))?
                .collect::<Result<_, _>>()
                .map_err(|err| Error::Roots(format!("{}: {err}", path.display())))?;
            if certs.is_empty() {
                return Err(Error::Roots(format!(
                    "{}: no PEM certificate in the file",
                    path.display()
                )));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|err| Error::Roots(format!("{}: {err}", path.display())))?;
            }
            tracing::info!(file = %path.display(), "trusting extra ACME roots");
        }
        if roots.is_empty() {
            return Err(Error::Roots(
                "no trusted roots: the system has none and [acme] extra_roots is empty".into(),
            ));
        }
        let guard = outbound::guard(policy.allow_private);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::Roots(err.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http_connector(guard, policy.limits));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            client,
            endpoints: Endpoints::default(),
            limits: CaLimits::new(DEFAULT_REQUESTS_PER_CA),
            guard,
            time: policy.limits,
        })
    }

    /// At most `requests` ACME requests in flight to one CA (by host and port) at a time,
    /// whatever the number of orders: a thousand orders placed at once queue here instead of
    /// opening a thousand connections to the CA (`[acme] max_concurrent_requests`).
    pub fn with_requests_per_ca(mut self, requests: usize) -> Self {
        self.limits = CaLimits::new(requests);
        self
    }

    /// A boxed client for one instant-acme account of `provider` in `environment` (its
    /// requests' metrics label); it records error responses' `Retry-After` for
    /// [`capture_retry_after`].
    pub fn client(&self, provider: Provider, environment: Environment) -> Box<dyn HttpClient> {
        Box::new(RetryAfterRecorder {
            client: self.client.clone(),
            endpoints: self.endpoints.clone(),
            limits: self.limits.clone(),
            guard: self.guard,
            time: self.time,
            label: ca_label(provider, environment),
        })
    }
}

tokio::task_local! {
    /// The `Retry-After` of the last response of the current operation when it was an error
    /// (status >= 400); `None` after any other response.
    static ERROR_RETRY_AFTER: Cell<Option<Duration>>;
}

/// Runs `operation` with a fresh `Retry-After` cell, so that an [`Error`] built from an
/// instant-acme error inside it (with [`Error::from_acme`]) carries the CA's `Retry-After`.
pub(crate) async fn capture_retry_after<F: Future>(operation: F) -> F::Output {
    ERROR_RETRY_AFTER.scope(Cell::new(None), operation).await
}

/// The `Retry-After` of the last response in the current [`capture_retry_after`] scope, if that
/// response was an error; `None` outside any scope.
pub(crate) fn error_retry_after() -> Option<Duration> {
    ERROR_RETRY_AFTER.try_with(Cell::get).ok().flatten()
}

/// The TCP connector under TLS. `TCP_NODELAY` matters: a JWS POST is written in pieces, and
/// with Nagle's algorithm each request waits for the peer's delayed ACK (40 ms on Linux),
/// which made every ACME round trip on loopback cost ~40 ms instead of ~1 ms.
/// Names are resolved by the guard, which returns only the addresses it accepted.
fn http_connector(guard: Guard, limits: HttpLimits) -> HttpConnector<GuardedResolver> {
    let mut http = HttpConnector::new_with_resolver(GuardedResolver { guard });
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(limits.connect));
    http
}

/// The metrics label of a provider's CA: the `[acme.directories]` table name (`letsencrypt`,
/// `letsencrypt_staging`, ..., `custom`, `custom_staging`), a fixed set.
fn ca_label(provider: Provider, environment: Environment) -> &'static str {
    use Environment::{Production, Staging};
    match (provider, environment) {
        (Provider::Letsencrypt, Production) => "letsencrypt",
        (Provider::Letsencrypt, Staging) => "letsencrypt_staging",
        (Provider::Zerossl, Production) => "zerossl",
        (Provider::Zerossl, Staging) => "zerossl_staging",
        (Provider::Buypass, Production) => "buypass",
        (Provider::Buypass, Staging) => "buypass_staging",
        (Provider::Google, Production) => "google",
        (Provider::Google, Staging) => "google_staging",
        (Provider::Custom, Production) => "custom",
        (Provider::Custom, Staging) => "custom_staging",
    }
}

/// The hyper client of one account, noting each response's error `Retry-After` in the
/// task-local cell, timing each request, and holding it to the guard and the limits.
struct RetryAfterRecorder {
    client: Hyper,
    endpoints: Endpoints,
    limits: CaLimits,
    guard: Guard,
    time: HttpLimits,
    label: &'static str,
}

/// Requests in flight per CA when `[acme] max_concurrent_requests` is not set.
pub const DEFAULT_REQUESTS_PER_CA: usize = 32;

/// One semaphore per CA authority (`host:port`), created on first use.
#[derive(Clone)]
struct CaLimits {
    per_ca: usize,
    semaphores: Arc<std::sync::Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl CaLimits {
    fn new(per_ca: usize) -> Self {
        Self {
            per_ca: per_ca.max(1),
            semaphores: Arc::default(),
        }
    }

    fn of(&self, ca: &str) -> Arc<Semaphore> {
        let mut map = self
            .semaphores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(ca.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_ca)))
            .clone()
    }
}

impl HttpClient for RetryAfterRecorder {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let (client, endpoints, limits) = (
            self.client.clone(),
            self.endpoints.clone(),
            self.limits.clone(),
        );
        let (guard, time, label) = (self.guard, self.time, self.label);
        Box::pin(async move {
            // The request body (a JWS, or nothing) and the response body (small JSON or a PEM
            // chain, which instant-acme reads whole anyway) are buffered here, so the endpoint
            // can be told from them and the time covers the whole exchange.
            let (parts, body) = req.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            let (method, uri) = (parts.method.clone(), parts.uri.clone());
            outbound::check_literal(&uri, guard)
                .map_err(|refused| instant_acme::Error::Other(Box::new(refused)))?;
            let payload = Payload::of(&method, &body);
            let req = Request::from_parts(parts, BodyWrapper::from(body.to_vec()));
            let ca = uri.authority().map_or("", |a| a.as_str()).to_owned();
            // Held until the response body is read; the wait for it is not the CA's latency.
            let _permit = limits
                .of(&ca)
                .acquire_owned()
                .await
                .map_err(|err| instant_acme::Error::Other(Box::new(err)))?;
            let started = Instant::now();
            let (parts, bytes) = match exchange(&client, req, time).await {
                Ok(answer) => answer,
                Err(err) => {
                    let endpoint =
                        endpoints.classify(&method, &uri.to_string(), payload, None, b"");
                    scaivault_domain::metrics::observe_acme_request(
                        endpoint,
                        label,
                        started.elapsed(),
                    );
                    return Err(err);
                }
            };
            let took = started.elapsed();
            let content_type = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let endpoint =
                endpoints.classify(&method, &uri.to_string(), payload, content_type, &bytes);
            scaivault_domain::metrics::observe_acme_request(endpoint, label, took);
            let response = BytesResponse {
                parts,
                body: Box::new(bytes),
            };
            let retry_after = if response.parts.status.as_u16() >= 400 {
                response
                    .parts
                    .headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| parse_retry_after(value, SystemTime::now()))
            } else {
                None
            };
            // Outside a scope (e.g. a directory fetch at start-up) there is nothing to record.
            let _ = ERROR_RETRY_AFTER.try_with(|cell| cell.set(retry_after));
            Ok(response)
        })
    }
}

/// One request and its whole answer, within the time limits and the body cap. A limit hit
/// drops the request's future, which closes its connection.
async fn exchange(
    client: &Hyper,
    req: Request<BodyWrapper<Bytes>>,
    time: HttpLimits,
) -> Result<(http::response::Parts, Bytes), instant_acme::Error> {
    let exceeded = |what: Exceeded| instant_acme::Error::Other(Box::new(what));
    let whole = async {
        let response = tokio::time::timeout(time.headers, client.request(req))
            .await
            .map_err(|_| exceeded(Exceeded::Headers(time.headers)))?
            .map_err(|err| instant_acme::Error::Other(Box::new(err)))?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|err| {
                if err.is::<LengthLimitError>() {
                    exceeded(Exceeded::Body)
                } else {
                    instant_acme::Error::Other(err)
                }
            })?
            .to_bytes();
        Ok::<_, instant_acme::Error>((parts, bytes))
    };
    tokio::time::timeout(time.total, whole)
        .await
        .map_err(|_| exceeded(Exceeded::Total(time.total)))?
}

/// A `Retry-After` value (RFC 9110 §10.2.3: `delay-seconds` or an `HTTP-date`, in any of the
/// three date formats a recipient must accept) as a wait from `now`; a date in the past is no
/// wait. `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate rather than fail: the CA asked for "very long".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now),
            Some(Duration::from_secs(120))
        );
        // RFC 850 and asctime forms (RFC 9110 §5.6.7).
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:47 1994", now),
            Some(Duration::from_secs(10))
        );
        // In the past: no wait.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    /// A hostile CA's directory may name any URL for `newOrder` and the rest: every request
    /// of an account's client is held to the guard, whatever URL it goes to.
    #[tokio::test]
    async fn every_request_passes_the_guard() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let port = listener.local_addr().expect("address").port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        let server = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let http = AcmeHttp::new(&[] as &[&Path], HttpPolicy::default()).expect("client");
        let client = http.client(Provider::Custom, Environment::Production);
        for url in [
            format!("https://127.0.0.1:{port}/new-order"),
            format!("https://localhost:{port}/new-order"),
            format!("https://[::ffff:127.0.0.1]:{port}/new-order"),
            "https://169.254.169.254/latest/meta-data".to_owned(),
        ] {
            let request = Request::post(url.as_str())
                .body(BodyWrapper::from(b"{}".to_vec()))
                .expect("request");
            let Err(err) = client.request(request).await else {
                panic!("{url} was requested");
            };
            match Error::from_acme(&url, err) {
                Error::Forbidden { refused, .. } => {
                    assert!(refused.message.contains("refused by policy"), "{url}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "no connection was made"
        );
        server.abort();
    }

    #[tokio::test]
    async fn the_cell_is_per_scope() {
        assert_eq!(error_retry_after(), None);
        let inside = capture_retry_after(async {
            ERROR_RETRY_AFTER.with(|cell| cell.set(Some(Duration::from_secs(7))));
            error_retry_after()
        })
        .await;
        assert_eq!(inside, Some(Duration::from_secs(7)));
        assert_eq!(
            capture_retry_after(async { error_retry_after() }).await,
            None
        );
    }
}
