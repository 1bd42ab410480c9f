//! `AcmeFront`: an HTTPS reverse proxy in front of a running [`Pebble`] that adds what Debian's
//! Pebble 2.4 cannot produce.
//!
//! Pebble 2.4 predates ACME Renewal Information (ARI, RFC 9773) and never rate-limits, so tests
//! of a client's ARI handling, of `rateLimited` (RFC 8555 §6.7) and of `alreadyReplaced`
//! (RFC 9773 §5) put this front between the client and Pebble. By default it is transparent:
//! every request goes to Pebble unchanged (method, path and query, headers, body) and Pebble's
//! answer comes back unchanged. A test can then tell it to
//!
//! - advertise ARI ([`AcmeFrontOptions::renewal_info`]): `renewalInfo` in the directory
//!   (RFC 9773 §3) and `GET /renewal-info/{certID}` (RFC 9773 §4.1–§4.3) answering a window and
//!   `Retry-After` set at run time ([`AcmeFront::set_renewal_window`]);
//! - answer the next *n* newOrder requests `429 rateLimited` ([`AcmeFront::rate_limit_new_orders`]);
//! - answer every newOrder naming a paused identifier as Let's Encrypt answers a paused
//!   (account, identifier) pair, with the unpause link ([`AcmeFront::pause_identifiers`]);
//! - answer the next *n* newOrder requests carrying `replaces` `409 alreadyReplaced`
//!   ([`AcmeFront::refuse_replaces`]);
//! - stall like a hung CA ([`AcmeFront::set_stalled`]): connections are accepted and then nothing
//!   is answered, neither on new connections nor on those the client keeps alive, until the
//!   stall is lifted;
//! - name the CA in CAA ([`AcmeFrontOptions::caa_identities`]): `meta.caaIdentities` in the
//!   directory (RFC 8555 §7.1.1), which Pebble 2.4 does not serve;
//! - let every order run out of time ([`AcmeFront::expire_orders`]): from then on each
//!   authorization is answered `expired` and each order `invalid`, as a CA answers once an
//!   order's authorizations expired (RFC 8555 §7.1.6), whatever Pebble says;
//!
//! and it records every newOrder payload and every certID asked about, so a test can assert what
//! the client sent.
//!
//! # Why no URL rewriting is needed
//!
//! Pebble builds every URL it hands out (directory entries, `Location`, `Link`, order,
//! authorization, challenge and certificate URLs, the account URL that becomes the JWS `kid`)
//! from the request's `Host` header (`relativeEndpoint` in Pebble's `wfe/wfe.go`), and it checks
//! a JWS's protected `url` (RFC 8555 §6.4) against `https://` + `Host` + the request URI. The
//! front therefore forwards the `Host` header exactly as the client sent it (the front's own
//! `127.0.0.1:PORT`) and the request URI byte for byte: Pebble then both accepts the client's
//! JWS, which names front URLs, and answers with front URLs. `tests/acme_front.rs` checks this
//! with a real client.
//!
//! # `replaces` against a CA without ARI
//!
//! Pebble 2.4 decodes newOrder payloads with Go's `encoding/json`, which ignores unknown fields,
//! so an order carrying `replaces` is created like any other, but the order object Pebble returns
//! has no `replaces`. RFC 9773 §5 says a server that accepts `replaces` MUST reflect it in the
//! order, and clients check that (instant-acme 0.8 rejects the order otherwise), so when ARI is
//! emulated the front adds the request's `replaces` to Pebble's newOrder response and to later
//! responses for that order ([`AcmeFrontOptions::echo_replaces`]).
//!
//! The front serves HTTP/1.1 over TLS with Pebble's own listener leaf (`localhost`/`127.0.0.1`,
//! signed by the throwaway listener root), so whatever trusts Pebble
//! ([`Pebble::listener_root_pem_path`] in `[acme] extra_roots`) trusts the front. It runs on the
//! tokio runtime of the test that started it and stops when dropped.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::Pebble;
use crate::net::free_port;

/// Where the front serves ARI: `<front>/renewal-info/{certID}`. Pebble has nothing under it.
const RENEWAL_INFO_PATH: &str = "/renewal-info";

/// How to run one [`AcmeFront`].
#[derive(Debug, Clone)]
pub struct AcmeFrontOptions {
    /// Advertise ARI: add `"renewalInfo": "<front>/renewal-info"` to the directory (RFC 9773 §3)
    /// and answer `GET <front>/renewal-info/{certID}` itself. Default `false`: the directory is
    /// Pebble's, as for a CA without ARI. Can be switched at run time with
    /// [`AcmeFront::set_renewal_info_advertised`].
    pub renewal_info: bool,
    /// Reflect a newOrder's `replaces` in Pebble's order objects (RFC 9773 §5), which Pebble 2.4
    /// does not do. Default `true`; `false` shows a client what a server that silently ignores
    /// `replaces` looks like.
    pub echo_replaces: bool,
    /// `meta.caaIdentities` to add to the directory (RFC 8555 §7.1.1: the names CAA records
    /// know this CA by). Empty (the default): Pebble's directory, which has none.
    pub caa_identities: Vec<String>,
}

impl Default for AcmeFrontOptions {
    fn default() -> Self {
        Self {
            renewal_info: false,
            echo_replaces: true,
            caa_identities: Vec::new(),
        }
    }
}

impl AcmeFrontOptions {
    /// The default options with ARI advertised ([`AcmeFrontOptions::renewal_info`]).
    pub fn with_renewal_info() -> Self {
        Self {
            renewal_info: true,
            ..Self::default()
        }
    }
}

/// One answer of the renewal-info resource (RFC 9773 §4.2) with its `Retry-After` (§4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalWindow {
    /// `suggestedWindow.start`.
    pub start: OffsetDateTime,
    /// `suggestedWindow.end`.
    pub end: OffsetDateTime,
    /// The `Retry-After` header in seconds: when the client should ask again (RFC 9773 §4.3.2).
    pub retry_after_secs: u64,
    /// `explanationURL`, if any.
    pub explanation_url: Option<String>,
}

impl RenewalWindow {
    /// A window without `explanationURL`.
    pub fn new(start: OffsetDateTime, end: OffsetDateTime, retry_after_secs: u64) -> Self {
        Self {
            start,
            end,
            retry_after_secs,
            explanation_url: None,
        }
    }

    /// The `RenewalInfo` JSON object (RFC 9773 §4.2), timestamps in RFC 3339.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "suggestedWindow": {
                "start": rfc3339(self.start),
                "end": rfc3339(self.end),
            }
        });
        if let Some(url) = &self.explanation_url {
            body["explanationURL"] = json!(url);
        }
        body
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .expect("an OffsetDateTime formats as RFC 3339")
}

/// A running front; its server stops when this is dropped.
pub struct AcmeFront {
    port: u16,
    state: Arc<State>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for AcmeFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeFront")
            .field("directory_url", &self.directory_url())
            .field("upstream", &self.state.upstream_base)
            .finish_non_exhaustive()
    }
}

impl Drop for AcmeFront {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts every open connection.
        self.server.abort();
    }
}

impl AcmeFront {
    /// Starts a front for `pebble` on a free `127.0.0.1` port and returns once it accepts
    /// connections. Must be called inside a tokio runtime, which then runs the front.
    pub async fn start(pebble: &Pebble, opts: AcmeFrontOptions) -> AcmeFront {
        let upstream = pebble.http_client();
        let pebble_dir_url = reqwest::Url::parse(&pebble.directory_url()).expect("Pebble URL");
        let upstream_base = pebble_dir_url.origin().ascii_serialization();
        let directory: Value = upstream
            .get(pebble_dir_url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("GET {pebble_dir_url}: {e}\n{}", pebble.log_text()))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {pebble_dir_url}: not JSON: {e}"));
        let path_of = |field: &str| -> String {
            let url = directory[field]
                .as_str()
                .unwrap_or_else(|| panic!("Pebble's directory has no {field}: {directory}"));
            reqwest::Url::parse(url)
                .unwrap_or_else(|e| panic!("Pebble's {field} {url:?}: {e}"))
                .path()
                .to_owned()
        };
        let new_order_path = path_of("newOrder");
        let new_nonce_url = format!("{upstream_base}{}", path_of("newNonce"));

        let state = Arc::new(State {
            upstream,
            upstream_base,
            directory_path: pebble_dir_url.path().to_owned(),
            new_order_path,
            new_nonce_url,
            echo_replaces: opts.echo_replaces,
            caa_identities: opts.caa_identities,
            inner: Mutex::new(Inner {
                advertise_renewal_info: opts.renewal_info,
                ..Inner::default()
            }),
            in_flight: Default::default(),
            peak_in_flight: Default::default(),
            stalled: tokio::sync::watch::Sender::new(false),
            stalled_connections: Default::default(),
            stalled_requests: Default::default(),
        });

        let acceptor = tls_acceptor(pebble.listener_cert_pem(), pebble.listener_key_pem());
        let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap_or_else(|e| panic!("AcmeFront cannot listen on 127.0.0.1:{port}: {e}"));
        let server = tokio::spawn(serve(listener, acceptor, Arc::clone(&state)));
        AcmeFront {
            port,
            state,
            server,
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The ACME directory through the front: Pebble's directory path on the front's port.
    pub fn directory_url(&self) -> String {
        format!("{}{}", self.base_url(), self.state.directory_path)
    }

    /// `https://127.0.0.1:PORT/renewal-info`, the `renewalInfo` the directory advertises when ARI
    /// is on (RFC 9773 §3); clients append `/{certID}`.
    pub fn renewal_info_url(&self) -> String {
        format!("{}{RENEWAL_INFO_PATH}", self.base_url())
    }

    /// The front's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Turns ARI on or off from now on (see [`AcmeFrontOptions::renewal_info`]): clients see
    /// the change when they next fetch the directory.
    pub fn set_renewal_info_advertised(&self, on: bool) {
        self.state.lock().advertise_renewal_info = on;
    }

    /// Answers every certID without a window of its own (see
    /// [`AcmeFront::set_renewal_info_for`]) with `suggestedWindow {start, end}` and
    /// `Retry-After: retry_after_secs`.
    pub fn set_renewal_window(
        &self,
        start: OffsetDateTime,
        end: OffsetDateTime,
        retry_after_secs: u64,
    ) {
        self.set_renewal_info(RenewalWindow::new(start, end, retry_after_secs));
    }

    /// Like [`AcmeFront::set_renewal_window`], with every field (e.g. `explanationURL`).
    pub fn set_renewal_info(&self, window: RenewalWindow) {
        self.state.lock().default_window = Some(window);
    }

    /// The answer for one certID (as [`ari_cert_id`] computes it), ahead of the default window.
    pub fn set_renewal_info_for(&self, cert_id: &str, window: RenewalWindow) {
        self.state.lock().windows.insert(cert_id.to_owned(), window);
    }

    /// Forgets every window: renewal-info answers `404` again.
    pub fn clear_renewal_info(&self) {
        let mut inner = self.state.lock();
        inner.default_window = None;
        inner.windows.clear();
    }

    /// Every certID asked about at `GET /renewal-info/{certID}`, oldest first (also malformed
    /// ones, and those answered `404`).
    pub fn renewal_info_requests(&self) -> Vec<String> {
        self.state.lock().renewal_info_requests.clone()
    }

    /// Answers the next `n` POSTs to newOrder with `429` `rateLimited` and
    /// `Retry-After: retry_after_secs`, as RFC 8555 §6.6 describes a rate limit, without passing them to Pebble; replaces any limit still
    /// pending. Checked before [`AcmeFront::refuse_replaces`].
    pub fn rate_limit_new_orders(&self, n: u32, retry_after_secs: u64) {
        let mut inner = self.state.lock();
        inner.rate_limited_new_orders = n;
        inner.rate_limit_retry_after_secs = retry_after_secs;
    }

    /// Answers every newOrder POST naming one of `identifiers` as Let's Encrypt answers a paused
    /// (account, identifier) pair (Boulder's `wfe2`): `problem`, with the detail "Your account
    /// is temporarily prevented from requesting certificates for <the paused names, joined by
    /// `, `> and possibly others. Please visit: <unpause_url>", without passing it to Pebble;
    /// until [`AcmeFront::unpause_identifiers`]. Checked after
    /// [`AcmeFront::rate_limit_new_orders`].
    pub fn pause_identifiers(
        &self,
        identifiers: &[String],
        unpause_url: &str,
        problem: PauseProblem,
    ) {
        let mut inner = self.state.lock();
        inner.paused = Some(Paused {
            identifiers: identifiers.iter().map(|i| i.to_ascii_lowercase()).collect(),
            unpause_url: unpause_url.to_owned(),
            problem,
        });
    }

    /// Lifts [`AcmeFront::pause_identifiers`]: newOrders pass to Pebble again.
    pub fn unpause_identifiers(&self) {
        self.state.lock().paused = None;
    }

    /// Answers the next `n` newOrder POSTs whose payload carries `replaces` with `409`
    /// `alreadyReplaced` (RFC 9773 §5), without passing them to Pebble; replaces any count still
    /// pending. Orders without `replaces` pass and do not count.
    pub fn refuse_replaces(&self, n: u32) {
        self.state.lock().refused_replaces = n;
    }

    /// The decoded JWS payload of every POST to newOrder, oldest first, including refused ones
    /// (and a client's retries after `badNonce`; `Value::Null` for an undecodable payload).
    pub fn new_order_payloads(&self) -> Vec<Value> {
        self.state.lock().new_order_payloads.clone()
    }

    /// How many requests (any method) reached the front for `path` (no query string), e.g.
    /// `/order-plz` for Pebble's newOrder.
    pub fn request_count(&self, path: &str) -> usize {
        self.state
            .lock()
            .request_counts
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// The most requests the front was handling at one time so far.
    pub fn peak_in_flight(&self) -> usize {
        self.state
            .peak_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests per path so far.
    pub fn request_counts(&self) -> BTreeMap<String, usize> {
        self.state.lock().request_counts.clone()
    }

    /// The newOrder URL through the front.
    pub fn new_order_url(&self) -> String {
        format!("{}{}", self.base_url(), self.state.new_order_path)
    }

    /// Stalls the front like a hung CA whose process still holds its listening socket (`true`),
    /// or lets it answer again (`false`).
    ///
    /// While stalled, the kernel still completes TCP handshakes and the front accepts every
    /// connection, but it never reads from a new one: the client's TLS ClientHello stays unread,
    /// the handshake never completes and nothing is ever sent. Connections opened before the
    /// stall, which a client keeps alive in its pool, are dealt with deliberately too, so that a
    /// client cannot slip through on one of them: each request arriving on such a connection is
    /// held as soon as hyper has parsed its head, before the front reads its body or passes
    /// anything to Pebble, and no response is written (the connection stays open, silent). Requests already passed to Pebble when the
    /// stall starts are answered normally.
    ///
    /// Nothing is closed: held sockets stay open until the client gives up or the front is
    /// dropped. Lifting the stall releases everything held, as a CA recovering would: held
    /// connections go on with their TLS handshake and held requests go to Pebble (if the client
    /// is still there). [`AcmeFront::stalled_connections`] and [`AcmeFront::stalled_requests`]
    /// count what was held, so a test can wait until a client has run into the stall; held
    /// requests reach [`AcmeFront::request_count`] only once released.
    pub fn set_stalled(&self, stalled: bool) {
        self.state.stalled.send_replace(stalled);
    }

    /// From now on every authorization answered is `expired` and every order `invalid` (the
    /// objects a POST-as-GET fetches; Pebble itself keeps its own state).
    pub fn expire_orders(&self) {
        self.state.lock().expire_orders = true;
    }

    /// How many connections were accepted while stalled (and left without a TLS handshake).
    pub fn stalled_connections(&self) -> usize {
        self.state
            .stalled_connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many requests arrived on already open connections while stalled (and were held
    /// without an answer).
    pub fn stalled_requests(&self) -> usize {
        self.state
            .stalled_requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The RFC 9773 §4.1 certID of the first certificate in `cert_pem` (a leaf, or a chain as ACME
/// delivers it, leaf first): base64url (no padding) of the Authority Key Identifier extension's
/// `keyIdentifier` octets, `.`, base64url of the serial number's DER content octets (the
/// `INTEGER` without tag and length, so with a leading `00` when the high bit is set).
///
/// Panics when the PEM holds no certificate or the certificate has no AKI `keyIdentifier`.
pub fn ari_cert_id(cert_pem: &str) -> String {
    use x509_cert::Certificate;
    use x509_cert::der::EncodeValue;
    use x509_cert::ext::pkix::AuthorityKeyIdentifier;

    let chain = Certificate::load_pem_chain(cert_pem.as_bytes())
        .unwrap_or_else(|e| panic!("ari_cert_id: not a PEM certificate: {e}"));
    let leaf = chain
        .first()
        .unwrap_or_else(|| panic!("ari_cert_id: no certificate in the PEM"));
    let tbs = leaf.tbs_certificate();
    let key_id = match tbs.get_extension::<AuthorityKeyIdentifier>() {
        Ok(Some((_, aki))) => aki.key_identifier,
        Ok(None) => None,
        Err(e) => panic!("ari_cert_id: bad Authority Key Identifier extension: {e}"),
    }
    .unwrap_or_else(|| panic!("ari_cert_id: no Authority Key Identifier keyIdentifier"));
    let mut serial = Vec::new();
    tbs.serial_number()
        .encode_value(&mut serial)
        .expect("a decoded serial number encodes");
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(key_id.as_bytes()),
        URL_SAFE_NO_PAD.encode(serial)
    )
}

/// What the handlers share.
struct State {
    upstream: reqwest::Client,
    /// `https://127.0.0.1:PEBBLE_PORT`.
    upstream_base: String,
    directory_path: String,
    new_order_path: String,
    new_nonce_url: String,
    echo_replaces: bool,
    caa_identities: Vec<String>,
    inner: Mutex<Inner>,
    /// Requests being handled now, and the most there ever were at once.
    in_flight: std::sync::atomic::AtomicUsize,
    peak_in_flight: std::sync::atomic::AtomicUsize,
    /// Whether the front plays a hung CA ([`AcmeFront::set_stalled`]); a watch channel, so that
    /// everything held wakes up when the stall is lifted.
    stalled: tokio::sync::watch::Sender<bool>,
    /// Connections accepted, and requests received on open connections, while stalled.
    stalled_connections: std::sync::atomic::AtomicUsize,
    stalled_requests: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Inner {
    advertise_renewal_info: bool,
    default_window: Option<RenewalWindow>,
    windows: HashMap<String, RenewalWindow>,
    renewal_info_requests: Vec<String>,
    rate_limited_new_orders: u32,
    rate_limit_retry_after_secs: u64,
    refused_replaces: u32,
    new_order_payloads: Vec<Value>,
    request_counts: BTreeMap<String, usize>,
    /// Order URL path → the `replaces` its newOrder carried, reflected in later order objects.
    order_replaces: HashMap<String, Value>,
    /// [`AcmeFront::expire_orders`].
    expire_orders: bool,
    /// [`AcmeFront::pause_identifiers`].
    paused: Option<Paused>,
}

/// The problem type a paused newOrder is answered with: Let's Encrypt sends `rateLimited`
/// (429) and has sent `unauthorized` (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseProblem {
    RateLimited,
    Unauthorized,
}

struct Paused {
    identifiers: Vec<String>,
    unpause_url: String,
    problem: PauseProblem,
}

/// Why a newOrder is answered by the front instead of Pebble.
enum Refusal {
    RateLimited {
        retry_after_secs: u64,
    },
    AlreadyReplaced,
    Paused {
        detail: String,
        problem: PauseProblem,
    },
}

impl Paused {
    /// The refusal of the newest payload in `payloads` (the one being answered), if it names a
    /// paused identifier.
    fn refusal(&self, payloads: &[Value]) -> Option<Refusal> {
        let payload = payloads.last()?;
        let named: Vec<String> = payload["identifiers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|identifier| identifier["value"].as_str())
            .map(str::to_ascii_lowercase)
            .filter(|value| self.identifiers.contains(value))
            .collect();
        if named.is_empty() {
            return None;
        }
        Some(Refusal::Paused {
            detail: format!(
                "Your account is temporarily prevented from requesting certificates for {} and \
                 possibly others. Please visit: {}",
                named.join(", "),
                self.unpause_url
            ),
            problem: self.problem,
        })
    }
}

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus `Content-Length`,
/// which hyper and reqwest set from the body they actually send.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns at once when the front is not stalled; otherwise counts one in `held` and
    /// returns when the stall is lifted (never, if the front is dropped first).
    async fn hold_while_stalled(&self, held: &std::sync::atomic::AtomicUsize) {
        let mut stalled = self.stalled.subscribe();
        if !*stalled.borrow_and_update() {
            return;
        }
        held.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // The sender lives in `self`, so this only returns once the stall is lifted.
        let _ = stalled.wait_for(|stalled| !*stalled).await;
    }

    /// [`State::handle`], counted in `in_flight` / `peak_in_flight`; held first while the front
    /// is stalled ([`AcmeFront::set_stalled`]), before anything is read, counted or forwarded.
    async fn handle_counted(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        use std::sync::atomic::Ordering;
        self.hold_while_stalled(&self.stalled_requests).await;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        let response = self.handle(req).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        response
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    &format!("AcmeFront could not read the request body: {e}"),
                );
            }
        };
        let path = parts.uri.path().to_owned();
        let host = request_host(&parts);
        let advertise_ari = {
            let mut inner = self.lock();
            *inner.request_counts.entry(path.clone()).or_default() += 1;
            inner.advertise_renewal_info
        };

        if advertise_ari
            && let Some(cert_id) = path
                .strip_prefix(RENEWAL_INFO_PATH)
                .and_then(|rest| rest.strip_prefix('/'))
        {
            return self.renewal_info(&parts.method, cert_id);
        }

        let is_new_order = parts.method == Method::POST && path == self.new_order_path;
        let mut replaces = None;
        if is_new_order {
            let payload = jws_payload(&body);
            replaces = payload.get("replaces").cloned();
            let refusal = {
                let mut inner = self.lock();
                inner.new_order_payloads.push(payload);
                if inner.rate_limited_new_orders > 0 {
                    inner.rate_limited_new_orders -= 1;
                    Some(Refusal::RateLimited {
                        retry_after_secs: inner.rate_limit_retry_after_secs,
                    })
                } else if let Some(refusal) = inner
                    .paused
                    .as_ref()
                    .and_then(|paused| paused.refusal(&inner.new_order_payloads))
                {
                    Some(refusal)
                } else if replaces.is_some() && inner.refused_replaces > 0 {
                    inner.refused_replaces -= 1;
                    Some(Refusal::AlreadyReplaced)
                } else {
                    None
                }
            };
            if let Some(refusal) = refusal {
                return self.refuse(refusal, &host).await;
            }
        }

        let (status, mut headers, mut body) = match self.forward(&parts, body).await {
            Ok(answer) => answer,
            Err(e) => {
                return problem(
                    StatusCode::BAD_GATEWAY,
                    "serverInternal",
                    &format!("AcmeFront could not reach Pebble: {e}"),
                );
            }
        };

        if status == StatusCode::OK && parts.method == Method::POST && self.lock().expire_orders {
            body = expired(body);
        }
        if status == StatusCode::OK
            && path == self.directory_path
            && !self.caa_identities.is_empty()
        {
            body = with_meta(&body, "caaIdentities", json!(self.caa_identities));
        }
        if status == StatusCode::OK && path == self.directory_path && advertise_ari {
            let renewal_info = format!("https://{host}{RENEWAL_INFO_PATH}");
            body = with_field(&body, "renewalInfo", json!(renewal_info), true);
        }
        if self.echo_replaces {
            if let Some(replaces) = replaces.filter(|_| status == StatusCode::CREATED) {
                body = with_field(&body, "replaces", replaces.clone(), false);
                if let Some(order_path) = headers
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|url| reqwest::Url::parse(url).ok())
                    .map(|url| url.path().to_owned())
                {
                    self.lock().order_replaces.insert(order_path, replaces);
                }
            } else if status == StatusCode::OK && parts.method == Method::POST {
                let replaces = self.lock().order_replaces.get(&path).cloned();
                if let Some(replaces) = replaces {
                    body = with_field(&body, "replaces", replaces, false);
                }
            }
        }

        for name in HOP_BY_HOP {
            headers.remove(*name);
        }
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }

    /// Passes the request to Pebble with the client's `Host` (see the module docs) and the exact
    /// request URI Pebble compares the JWS `url` against.
    async fn forward(
        &self,
        parts: &Parts,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), reqwest::Error> {
        let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let url = format!("{}{path_and_query}", self.upstream_base);
        let mut headers = parts.headers.clone();
        for name in HOP_BY_HOP {
            headers.remove(*name);
        }
        if !headers.contains_key(header::HOST)
            && let Some(authority) = parts.uri.authority()
            && let Ok(value) = HeaderValue::from_str(authority.as_str())
        {
            headers.insert(header::HOST, value);
        }
        let mut request = self
            .upstream
            .request(parts.method.clone(), url)
            .headers(headers);
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok((status, headers, body))
    }

    /// `GET /renewal-info/{certID}` (RFC 9773 §4.1): the window set for this certID or the
    /// default one, with `Retry-After` (§4.3); `404` when none is set.
    fn renewal_info(&self, method: &Method, cert_id: &str) -> Response<Full<Bytes>> {
        let window = {
            let mut inner = self.lock();
            inner.renewal_info_requests.push(cert_id.to_owned());
            inner
                .windows
                .get(cert_id)
                .or(inner.default_window.as_ref())
                .cloned()
        };
        if method != Method::GET {
            let mut response = problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "malformed",
                "the renewalInfo resource answers GET only (RFC 9773 §4.1)",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            return response;
        }
        if let Err(why) = check_cert_id(cert_id) {
            return problem(
                StatusCode::BAD_REQUEST,
                "malformed",
                &format!("malformed certID {cert_id:?}: {why}"),
            );
        }
        let Some(window) = window else {
            return problem(
                StatusCode::NOT_FOUND,
                "malformed",
                &format!("AcmeFront has no renewal window for certID {cert_id}"),
            );
        };
        let mut response = Response::new(Full::new(Bytes::from(window.to_json().to_string())));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(window.retry_after_secs),
        );
        response
    }

    /// A newOrder answered by the front, with a fresh nonce from Pebble: RFC 8555 §6.5 asks
    /// servers to send `Replay-Nonce` with error responses too, and a client that pools nonces
    /// keeps working only if it gets one.
    async fn refuse(&self, refusal: Refusal, host: &str) -> Response<Full<Bytes>> {
        let mut response = match refusal {
            Refusal::RateLimited { retry_after_secs } => {
                let mut response = problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rateLimited",
                    &format!(
                        "AcmeFront: too many new orders; retry after {retry_after_secs} seconds"
                    ),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
            Refusal::AlreadyReplaced => problem(
                StatusCode::CONFLICT,
                "alreadyReplaced",
                "AcmeFront: the certificate named in replaces already has a replacement order",
            ),
            Refusal::Paused {
                detail,
                problem: PauseProblem::RateLimited,
            } => problem(StatusCode::TOO_MANY_REQUESTS, "rateLimited", &detail),
            Refusal::Paused {
                detail,
                problem: PauseProblem::Unauthorized,
            } => problem(StatusCode::FORBIDDEN, "unauthorized", &detail),
        };
        let headers = response.headers_mut();
        if let Ok(link) = HeaderValue::from_str(&format!(
            "<https://{host}{}>;rel=\"index\"",
            self.directory_path
        )) {
            headers.insert(header::LINK, link);
        }
        match self.fresh_nonce().await {
            Ok(nonce) => {
                headers.insert("replay-nonce", nonce);
            }
            Err(e) => eprintln!("AcmeFront: no Replay-Nonce for a refused newOrder: {e}"),
        }
        response
    }

    /// `HEAD newNonce` at Pebble (RFC 8555 §7.2).
    async fn fresh_nonce(&self) -> Result<HeaderValue, String> {
        let response = self
            .upstream
            .head(&self.new_nonce_url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| format!("HEAD {}: {e}", self.new_nonce_url))?;
        response
            .headers()
            .get("replay-nonce")
            .cloned()
            .ok_or_else(|| format!("HEAD {}: no Replay-Nonce", self.new_nonce_url))
    }
}

/// The accept loop: TLS, then HTTP/1.1, one task per connection, all owned by a JoinSet so that
/// aborting this task (on [`AcmeFront`]'s drop) closes every connection too. A connection
/// accepted while the front is stalled is held, unread, before its TLS handshake.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("AcmeFront: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let state = Arc::clone(&state);
        connections.spawn(async move {
            state.hold_while_stalled(&state.stalled_connections).await;
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(state.handle_counted(req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// A TLS acceptor for a PEM certificate chain and key (the ACME front uses Pebble's listener
/// leaf), HTTP/1.1 only (ALPN), so requests always carry `Host`.
pub fn tls_acceptor(cert_pem: &str, key_pem: &str) -> TlsAcceptor {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("the certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("the key PEM");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("TLS server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// The authority the client addressed (`Host`, or the URI's for absolute-form requests).
fn request_host(parts: &Parts) -> String {
    parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| "127.0.0.1".to_owned())
}

/// The JSON payload of a flattened JWS (RFC 8555 §6.2, RFC 7515 §7.2.2); `Null` if there is
/// none or it is not JSON (an empty payload is a POST-as-GET).
fn jws_payload(body: &[u8]) -> Value {
    let Ok(jws) = serde_json::from_slice::<Value>(body) else {
        return Value::Null;
    };
    let Some(payload) = jws["payload"].as_str() else {
        return Value::Null;
    };
    URL_SAFE_NO_PAD
        .decode(payload)
        .or_else(|_| URL_SAFE.decode(payload))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

/// `body` (a JSON object) with `field` set to `value`: always when `overwrite`, otherwise only
/// when absent. Anything that is not a JSON object is returned unchanged.
/// An authorization (it has an `identifier`) as `expired`, an order (it has `finalize`) as
/// `invalid`; any other body unchanged.
fn expired(body: Bytes) -> Bytes {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let status = if object.contains_key("finalize") {
        "invalid"
    } else if object.contains_key("identifier") && object.contains_key("challenges") {
        "expired"
    } else {
        return body;
    };
    object.insert("status".into(), json!(status));
    Bytes::from(serde_json::to_vec(&Value::Object(object)).expect("JSON"))
}

fn with_field(body: &Bytes, field: &str, value: Value, overwrite: bool) -> Bytes {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    if !overwrite && object.contains_key(field) {
        return body.clone();
    }
    object.insert(field.to_owned(), value);
    Bytes::from(serde_json::to_vec_pretty(&Value::Object(object)).expect("JSON"))
}

/// `body` (a directory) with `meta.<field>` set to `value`, `meta` created if missing.
fn with_meta(body: &Bytes, field: &str, value: Value) -> Bytes {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    let meta = object.entry("meta").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        meta.insert(field.to_owned(), value);
    }
    Bytes::from(serde_json::to_vec_pretty(&Value::Object(object)).expect("JSON"))
}

/// A certID is two non-empty base64url parts without padding joined by `.` (RFC 9773 §4.1).
fn check_cert_id(cert_id: &str) -> Result<(), String> {
    let (aki, serial) = cert_id
        .split_once('.')
        .ok_or_else(|| "no '.' between keyIdentifier and serial".to_owned())?;
    for (name, part) in [("keyIdentifier", aki), ("serial", serial)] {
        if part.is_empty() {
            return Err(format!("empty {name}"));
        }
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| format!("{name} is not unpadded base64url: {e}"))?;
    }
    Ok(())
}

/// An RFC 8555 §6.7 problem document (RFC 7807) of type `urn:ietf:params:acme:error:{kind}`.
fn problem(status: StatusCode, kind: &str, detail: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "type": format!("urn:ietf:params:acme:error:{kind}"),
        "detail": detail,
        "status": status.as_u16(),
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, IsCa, Issuer, KeyIdMethod, KeyPair, SerialNumber};

    /// The example of RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:
    /// AE:2C:DE:01:C8:D4 and serial 0x87654321 (DER content 00 87 65 43 21) give
    /// `aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE`.
    #[test]
    fn cert_id_matches_the_rfc_9773_example() {
        let key_id = vec![
            0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
            0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf = CertificateParams::new(vec!["a.example.test".to_owned()]).unwrap();
        leaf.serial_number = Some(SerialNumber::from_slice(&[0x87, 0x65, 0x43, 0x21]));
        leaf.use_authority_key_identifier_extension = true;
        let leaf = leaf
            .signed_by(&KeyPair::generate().unwrap(), &issuer)
            .unwrap();

        assert_eq!(
            ari_cert_id(&leaf.pem()),
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
        );
    }

    #[test]
    fn cert_ids_are_checked_for_shape() {
        assert!(check_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").is_ok());
        assert!(check_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ").is_err());
        assert!(check_cert_id(".AIdlQyE").is_err());
        assert!(check_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE=").is_err());
        assert!(check_cert_id("aYhb+4dG.AIdlQyE").is_err());
    }

    #[test]
    fn jws_payloads_are_decoded_and_fields_added_only_to_objects() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"identifiers":[],"replaces":"a.b"}"#);
        let jws = json!({"protected": "e30", "payload": payload, "signature": ""});
        assert_eq!(
            jws_payload(jws.to_string().as_bytes()),
            json!({"identifiers": [], "replaces": "a.b"})
        );
        let post_as_get = json!({"protected": "e30", "payload": "", "signature": ""});
        assert_eq!(jws_payload(post_as_get.to_string().as_bytes()), Value::Null);

        let body = Bytes::from_static(br#"{"status":"pending","replaces":"x.y"}"#);
        let kept: Value =
            serde_json::from_slice(&with_field(&body, "replaces", json!("a.b"), false)).unwrap();
        assert_eq!(kept["replaces"], "x.y");
        let set: Value =
            serde_json::from_slice(&with_field(&body, "replaces", json!("a.b"), true)).unwrap();
        assert_eq!(set["replaces"], "a.b");
        let not_json = Bytes::from_static(b"-----BEGIN CERTIFICATE-----");
        assert_eq!(with_field(&not_json, "x", json!(1), true), not_json);
    }

    #[test]
    fn expired_marks_authorizations_and_orders_only() {
        let read = |b: Bytes| serde_json::from_slice::<Value>(&b).unwrap();
        let authz = json!({"identifier": {"type": "dns", "value": "a.test"}, "status": "valid", "challenges": []});
        let order = json!({"status": "ready", "finalize": "https://ca/f", "authorizations": []});
        let other = json!({"status": "valid", "contact": []});
        let bytes = |v: &Value| Bytes::from(serde_json::to_vec(v).unwrap());
        assert_eq!(read(expired(bytes(&authz)))["status"], "expired");
        assert_eq!(read(expired(bytes(&order)))["status"], "invalid");
        assert_eq!(read(expired(bytes(&other))), other);
        assert_eq!(
            expired(Bytes::from_static(b"not json")),
            Bytes::from_static(b"not json")
        );
    }
}
