//! A small local HTTP server for testing REST DNS provider clients: every request goes through
//! one handler that checks it against the provider's published API and answers as the provider
//! documents. A request that breaks the API is recorded as a violation (and answered 400), so a
//! test can assert that the client never sent one.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request as the fake saw it (path segments and query percent-decoded).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn segments(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// The single value of a query parameter (a repeated one is a violation).
    pub fn query(&self, key: &str) -> Result<Option<&str>, String> {
        let mut found = self.query.iter().filter(|(k, _)| k == key);
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(format!("query parameter {key} repeated"));
        }
        Ok(first)
    }

    /// Fails on query parameters outside `allowed`.
    pub fn only_query(&self, allowed: &[&str]) -> Result<(), String> {
        match self
            .query
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((k, _)) => Err(format!("undocumented query parameter {k:?}")),
            None => Ok(()),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The JSON object body, checking `Content-Type: application/json`.
    pub fn json_object(&self) -> Result<serde_json::Map<String, Value>, String> {
        let content_type = self.header("content-type").unwrap_or_default();
        if !content_type.starts_with("application/json") {
            return Err(format!(
                "body sent as {content_type:?}, not application/json"
            ));
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(format!("body is not a JSON object: {other}")),
            Err(e) => Err(format!("body is not JSON: {e}")),
        }
    }

    pub fn no_body(&self) -> Result<(), String> {
        if self.body.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected body on {} {}", self.method, self.path))
        }
    }
}

/// The fake's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Result<Answer, String> + Send + Sync;

struct Inner {
    handler: Box<Handler>,
    seen: Mutex<Vec<Request>>,
    violations: Mutex<Vec<String>>,
    injected: Mutex<Vec<Answer>>,
}

/// A running fake; stops when dropped.
pub struct Fake {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    /// Starts a fake on 127.0.0.1 with an ephemeral port.
    pub async fn start(
        handler: impl Fn(&Request) -> Result<Answer, String> + Send + Sync + 'static,
    ) -> Self {
        let inner = Arc::new(Inner {
            handler: Box::new(handler),
            seen: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            injected: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, inner, task }
    }

    /// Answers the next request (after it was seen) with `answer`, whatever it is.
    pub fn inject(&self, answer: Answer) {
        self.inner.injected.lock().unwrap().push(answer);
    }

    pub fn seen(&self) -> Vec<Request> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// `METHOD /path?query` of every request so far.
    pub fn seen_lines(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|r| {
                let query: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if query.is_empty() {
                    format!("{} {}", r.method, r.path)
                } else {
                    format!("{} {}?{}", r.method, r.path, query.join("&"))
                }
            })
            .collect()
    }

    pub fn violations(&self) -> Vec<String> {
        self.inner.violations.lock().unwrap().clone()
    }

    /// Panics with every violation recorded so far.
    pub fn assert_clean(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "requests broke the published API:\n{}\nrequests:\n{}",
            violations.join("\n"),
            self.seen_lines().join("\n")
        );
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let query = uri
        .query()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (form_decode(k), form_decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    let request = Request {
        method,
        path,
        segments,
        query,
        headers,
        body,
    };
    inner.seen.lock().unwrap().push(request.clone());
    let injected = {
        let mut injected = inner.injected.lock().unwrap();
        (!injected.is_empty()).then(|| injected.remove(0))
    };
    let answer = match injected {
        Some(answer) => answer,
        None => match (inner.handler)(&request) {
            Ok(answer) => answer,
            Err(violation) => {
                let line = format!("{} {}: {violation}", request.method, request.path);
                inner.violations.lock().unwrap().push(line.clone());
                Answer::json(400, serde_json::json!({ "fake_violation": line }))
            }
        },
    };
    render(answer)
}

fn render(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap();
    let mut response = match answer.body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    for (name, value) in answer.headers {
        response.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// Installs the rustls crypto provider (several are linked into the workspace).
pub fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The HTTP client the providers get (as `build` hands them), allowing the fakes' plain
/// http endpoints on 127.0.0.1 (`[dns] allow_insecure_endpoints`).
pub fn http() -> scaivault_dns::HttpClient {
    init();
    scaivault_dns::HttpClient::new(scaivault_dns::EndpointPolicy::Insecure).expect("HTTP client")
}

/// A resolved provider config from pairs.
pub fn config(pairs: &[(&str, &str)]) -> scaivault_dns::ResolvedConfig {
    scaivault_dns::ResolvedConfig::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// A base URL on which nothing listens.
pub async fn closed_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
