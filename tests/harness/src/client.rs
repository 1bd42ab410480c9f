//! A small client for the service's JSON API.
//!
//! Tests mostly care about status and JSON body, so the common calls return exactly that as
//! `(u16, Value)`; [`ApiClient::raw`] keeps headers and the body text for the rest (PEM
//! downloads, `Retry-After`, metrics). Transport errors panic with the URL: a test that expects
//! the service to be unreachable uses [`ApiClient::try_raw`]. The typed calls of
//! [`client_typed`](crate::client_typed) send and read the contract crate's bodies.
//!
//! Every answer is checked against the service's OpenAPI document ([`ContractCheck`]), fetched
//! once per client and its clones: a body that does not match its operation's schema, or a
//! status the operation does not document, panics with both, whatever the test asserts.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use crate::contract_check::ContractCheck;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The check of each service this process talks to, by base URL: built once (compiling the
/// document's schemas takes a while in debug builds), shared by every client of that service.
static CHECKS: LazyLock<Mutex<HashMap<String, Arc<ContractCheck>>>> = LazyLock::new(Mutex::default);

/// Bearer-authenticated client for one service instance; cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
}

/// A response with everything kept.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl RawResponse {
    /// The body as JSON: `Null` when empty, a JSON string holding the text when not JSON.
    pub fn json(&self) -> Value {
        body_to_json(&self.body)
    }

    /// A header's value, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

impl ApiClient {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8080`), sending `token` as bearer token.
    pub fn new(base_url: impl Into<String>, token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("reqwest client");
        Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The same client with another bearer token (e.g. one with fewer scopes).
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The same client without `Authorization` header, for 401 tests.
    pub fn without_token(&self) -> Self {
        Self {
            token: None,
            ..self.clone()
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let resp = self.raw(method, path, body).await;
        (resp.status, resp.json())
    }

    /// Any request; `path` is relative to the base URL (or a full `http(s)://` URL).
    /// Panics on transport errors.
    pub async fn raw(&self, method: Method, path: &str, body: Option<&Value>) -> RawResponse {
        let url = self.url(path);
        self.try_raw(method.clone(), path, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    /// Like [`ApiClient::raw`], returning transport errors instead of panicking.
    pub async fn try_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<RawResponse, reqwest::Error> {
        let mut req = self.http.request(method.clone(), self.url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await?;
        let ours = !path.starts_with("http://") && !path.starts_with("https://");
        if ours
            && let Some(contract) = self.contract().await
            && let Err(mismatch) = contract.check(&method, path, status, &body)
        {
            panic!("the answer does not match the OpenAPI document: {mismatch}");
        }
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// The service's OpenAPI document as a check, fetched on first use; `None` while it cannot
    /// be fetched (then nothing is checked, and it is tried again at the next answer). A
    /// listener without the document (the admin console) gets a check with no operations.
    async fn contract(&self) -> Option<Arc<ContractCheck>> {
        if let Some(contract) = checks().get(&self.base_url) {
            return Some(contract.clone());
        }
        let answer = self
            .http
            .get(self.url("/v1/openapi.json"))
            .send()
            .await
            .ok()?;
        let document: Value = if answer.status().is_success() {
            answer.json().await.ok()?
        } else {
            Value::Null
        };
        let contract = Arc::new(ContractCheck::from_document(&document));
        Some(
            checks()
                .entry(self.base_url.clone())
                .or_insert(contract)
                .clone(),
        )
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}/{path}", self.base_url)
        }
    }
}

fn body_to_json(body: &str) -> Value {
    if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
    }
}

fn checks() -> std::sync::MutexGuard<'static, HashMap<String, Arc<ContractCheck>>> {
    CHECKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
