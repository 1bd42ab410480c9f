//! Shared parts of the local cloud DNS API fakes (Route 53, Azure DNS, Google Cloud DNS): an
//! axum server on 127.0.0.1:0, a recorder of protocol violations (every check against the
//! provider's published API that failed) and of requests, and fault injection (answer the next
//! API request with a given status, headers and body).
//!
//! A fake answers a violating request with HTTP 418 and records it; every test ends with
//! [`Recorder::assert_clean`], so a request that breaks the published API fails the test even
//! when the provider code would have tolerated the answer.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderMap, Response, StatusCode, Uri};
use scaivault_dns::ResolvedConfig;

/// Installs the process crypto provider (sqlx and rcgen enable both rustls providers).
pub fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The HTTP client the providers get (as `build` hands them), allowing the fakes' plain
/// http endpoints on 127.0.0.1 (`[dns] allow_insecure_endpoints`).
pub fn http() -> scaivault_dns::HttpClient {
    init();
    scaivault_dns::HttpClient::new(scaivault_dns::EndpointPolicy::Insecure).expect("HTTP client")
}

/// A resolved provider config from key/value pairs.
pub fn config(pairs: &[(&str, &str)]) -> ResolvedConfig {
    ResolvedConfig::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Serves `router` on 127.0.0.1 on a free port; the base URL, e.g. `http://127.0.0.1:41234`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("fake server");
    });
    format!("http://{addr}")
}

/// A URL on 127.0.0.1 where nothing listens (for transport failures).
pub async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}")
}

/// An answer to inject in place of the fake's own.
#[derive(Clone, Debug)]
pub struct Fault {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: String,
}

impl Fault {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type,
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn response(&self) -> Response<Body> {
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", self.content_type);
        for (name, value) in &self.headers {
            builder = builder.header(*name, value);
        }
        builder
            .body(Body::from(self.body.clone()))
            .expect("fault response")
    }
}

#[derive(Default)]
struct Inner {
    violations: Vec<String>,
    requests: Vec<String>,
    fault: Option<Fault>,
}

/// What a fake saw: violations of the published API, a log of `METHOD path` lines, and the
/// fault to inject next.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

impl Recorder {
    /// Logs a request line (`GET /path`).
    pub fn request(&self, line: impl Into<String>) {
        self.inner.lock().unwrap().requests.push(line.into());
    }

    /// The request lines so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Answers the next API request with `fault`.
    pub fn inject(&self, fault: Fault) {
        self.inner.lock().unwrap().fault = Some(fault);
    }

    /// The injected fault, once.
    pub fn take_fault(&self) -> Option<Fault> {
        self.inner.lock().unwrap().fault.take()
    }

    /// Records violations; the 418 answer to give when there were any.
    pub fn judge(&self, what: &str, violations: Vec<String>) -> Option<Response<Body>> {
        if violations.is_empty() {
            return None;
        }
        let text = format!("{what}: {}", violations.join("; "));
        self.inner.lock().unwrap().violations.push(text.clone());
        Some(
            Response::builder()
                .status(StatusCode::IM_A_TEAPOT)
                .body(Body::from(text))
                .expect("violation response"),
        )
    }

    /// Panics listing every violation seen.
    pub fn assert_clean(&self) {
        let inner = self.inner.lock().unwrap();
        assert!(
            inner.violations.is_empty(),
            "requests broke the published API:\n{}",
            inner.violations.join("\n")
        );
    }
}

/// Collects failed checks.
#[derive(Default)]
pub struct Checks(pub Vec<String>);

impl Checks {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    pub fn eq<T: PartialEq + std::fmt::Debug + ?Sized>(&mut self, what: &str, got: &T, want: &T) {
        if got != want {
            self.0.push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }
}

/// The query parameters of `uri` (first value of each).
pub fn query(uri: &Uri) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

/// An `application/x-www-form-urlencoded` body as a map.
pub fn form(body: &[u8]) -> HashMap<String, String> {
    let uri: Uri = format!("/?{}", String::from_utf8_lossy(body))
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/"));
    query(&uri)
}

/// A header as text ("" when absent).
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A JSON answer.
pub fn json(status: u16, value: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(value.to_string()))
        .expect("json response")
}

/// A random token-like string.
pub fn random_token(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{prefix}{n:04}{nanos:09}")
}
