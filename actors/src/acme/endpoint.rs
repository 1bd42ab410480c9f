//! Which ACME resource a request addressed, for the `endpoint` label of the ACME latency metric.
//!
//! instant-acme hands its HTTP client bare requests, so the kind is recovered from what the
//! client sees, in this order:
//! - the directory's resource URLs (RFC 8555 §7.1.1), learned from each directory response;
//! - `HEAD` is only ever sent to `newNonce` (§7.2), and a `GET` that is not the directory is a
//!   renewal information request (RFC 9773 §4.1: plain GETs, no JWS);
//! - a POST's JWS payload (§7.3 ff.): `{"csr"}` finalizes (§7.4), `{}` answers a challenge
//!   (§7.5.1), `{"identifiers"}` is a new order, `{"status"}` a deactivation, `{"contact"}`
//!   alone a contact update (§7.3.2), a JWS inside a key change (§7.3.5);
//! - a POST-as-GET (§6.3, empty payload) by what came back: a certificate chain (§7.4.2), an
//!   authorization (`challenges`, §7.1.4), an order (`finalize`, §7.1.3) or an account.
//!
//! The labels are a fixed set of names, so the metric's cardinality stays small whatever the
//! URLs look like.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;

/// At most this many learned URLs (a handful per CA directory): a bound, not a working limit.
const MAX_KNOWN: usize = 1024;

/// The resource URLs of every directory seen, shared by all of a process' ACME clients.
#[derive(Clone, Default)]
pub(crate) struct Endpoints(Arc<RwLock<HashMap<String, &'static str>>>);

/// What a POST's JWS payload says about the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payload {
    /// Not a POST, or a body that is not a JWS.
    None,
    /// POST-as-GET: the empty payload.
    Empty,
    /// A payload that names the operation.
    Kind(&'static str),
}

impl Payload {
    /// Reads a flattened JWS (`{"protected", "payload", "signature"}`) body.
    pub(crate) fn of(method: &Method, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Jws {
            payload: String,
        }
        if method != Method::POST {
            return Payload::None;
        }
        let Ok(jws) = serde_json::from_slice::<Jws>(body) else {
            return Payload::None;
        };
        if jws.payload.is_empty() {
            return Payload::Empty;
        }
        let Ok(json) = URL_SAFE_NO_PAD.decode(jws.payload.trim_end_matches('=')) else {
            return Payload::Kind("other");
        };
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(&json) else {
            return Payload::Kind("other");
        };
        Payload::Kind(if fields.is_empty() {
            "challenge"
        } else if fields.contains_key("csr") {
            "finalize"
        } else if fields.contains_key("identifiers") {
            "newOrder"
        } else if fields.contains_key("status") {
            "deactivate"
        } else if fields.contains_key("certificate") {
            "revokeCert"
        } else if fields.contains_key("termsOfServiceAgreed")
            || fields.contains_key("onlyReturnExisting")
        {
            "newAccount"
        } else if fields.contains_key("contact") {
            // A contact update posted to the account URL (RFC 8555 §7.3.2).
            "account"
        } else if fields.contains_key("protected") {
            // The inner JWS of a key change (RFC 8555 §7.3.5).
            "keyChange"
        } else {
            "other"
        })
    }
}

impl Endpoints {
    /// The endpoint kind of a request to `url` given its payload and the response.
    pub(crate) fn classify(
        &self,
        method: &Method,
        url: &str,
        payload: Payload,
        content_type: Option<&str>,
        body: &[u8],
    ) -> &'static str {
        if *method == Method::HEAD {
            return "newNonce";
        }
        if let Some(known) = self.known(url) {
            return known;
        }
        if *method == Method::GET {
            return if self.learn_directory(url, body) {
                "directory"
            } else {
                "renewalInfo"
            };
        }
        match payload {
            Payload::Kind(kind) => kind,
            Payload::None => "other",
            Payload::Empty => post_as_get(content_type, body),
        }
    }

    fn known(&self, url: &str) -> Option<&'static str> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            .copied()
    }

    /// Learns the resource URLs if `body` is a directory (it has `newNonce`); whether it was.
    fn learn_directory(&self, url: &str, body: &[u8]) -> bool {
        let Ok(serde_json::Value::Object(directory)) = serde_json::from_slice(body) else {
            return false;
        };
        if !directory.contains_key("newNonce") {
            return false;
        }
        let mut known = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() < MAX_KNOWN {
            known.insert(url.to_owned(), "directory");
            for name in [
                "newNonce",
                "newAccount",
                "newOrder",
                "newAuthz",
                "revokeCert",
                "keyChange",
            ] {
                if let Some(resource) = directory.get(name).and_then(|v| v.as_str()) {
                    known.insert(resource.to_owned(), name);
                }
            }
        }
        true
    }
}

/// The kind of object a POST-as-GET fetched.
fn post_as_get(content_type: Option<&str>, body: &[u8]) -> &'static str {
    if content_type.is_some_and(|t| t.starts_with("application/pem-certificate-chain")) {
        return "certificate";
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) if object.contains_key("challenges") => "authz",
        Ok(serde_json::Value::Object(object)) if object.contains_key("finalize") => "order",
        Ok(serde_json::Value::Object(object)) if object.contains_key("orders") => "account",
        _ => "postAsGet",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jws(payload: &str) -> Vec<u8> {
        let encoded = URL_SAFE_NO_PAD.encode(payload);
        serde_json::json!({"protected": "e30", "payload": encoded, "signature": "x"})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn directory_urls_are_learned() {
        let endpoints = Endpoints::default();
        let directory =
            br#"{"newNonce": "https://ca/nonce-plz", "newAccount": "https://ca/sign-me-up",
            "newOrder": "https://ca/order-plz", "revokeCert": "https://ca/revoke-cert",
            "keyChange": "https://ca/rollover", "meta": {}}"#;
        assert_eq!(
            endpoints.classify(
                &Method::GET,
                "https://ca/dir",
                Payload::None,
                None,
                directory
            ),
            "directory"
        );
        let post = |url: &str| {
            endpoints.classify(
                &Method::POST,
                url,
                Payload::of(&Method::POST, &jws("{\"x\":1}")),
                None,
                b"",
            )
        };
        assert_eq!(post("https://ca/order-plz"), "newOrder");
        assert_eq!(post("https://ca/sign-me-up"), "newAccount");
        assert_eq!(post("https://ca/revoke-cert"), "revokeCert");
        assert_eq!(post("https://ca/somewhere"), "other");
        assert_eq!(
            endpoints.classify(
                &Method::HEAD,
                "https://ca/nonce-plz",
                Payload::None,
                None,
                b""
            ),
            "newNonce"
        );
        assert_eq!(
            endpoints.classify(
                &Method::GET,
                "https://ca/renewal-info/abc.def",
                Payload::None,
                None,
                b"{\"suggestedWindow\":{}}"
            ),
            "renewalInfo"
        );
    }

    #[test]
    fn payloads_and_fetched_objects_name_the_rest() {
        let endpoints = Endpoints::default();
        let kind = |payload: &str, content_type: Option<&str>, body: &[u8]| {
            endpoints.classify(
                &Method::POST,
                "https://ca/x/1",
                Payload::of(&Method::POST, &jws(payload)),
                content_type,
                body,
            )
        };
        assert_eq!(kind("{\"csr\":\"MII\"}", None, b"{}"), "finalize");
        assert_eq!(kind("{}", None, b"{}"), "challenge");
        assert_eq!(
            kind("{\"status\":\"deactivated\"}", None, b"{}"),
            "deactivate"
        );
        assert_eq!(
            kind("{\"contact\":[\"mailto:a@b.example\"]}", None, b"{}"),
            "account"
        );
        assert_eq!(
            kind(
                "{\"contact\":[],\"termsOfServiceAgreed\":true,\"onlyReturnExisting\":true}",
                None,
                b"{}"
            ),
            "newAccount"
        );
        assert_eq!(
            kind(
                "{\"protected\":\"e30\",\"payload\":\"e30\",\"signature\":\"x\"}",
                None,
                b"{}"
            ),
            "keyChange"
        );
        assert_eq!(
            kind("", Some("application/pem-certificate-chain"), b"-----BEGIN"),
            "certificate"
        );
        assert_eq!(
            kind("", Some("application/json"), b"{\"challenges\":[]}"),
            "authz"
        );
        assert_eq!(
            kind("", Some("application/json"), b"{\"finalize\":\"u\"}"),
            "order"
        );
        assert_eq!(
            kind("", Some("application/problem+json"), b"{\"type\":\"t\"}"),
            "postAsGet"
        );
        assert_eq!(Payload::of(&Method::POST, b"not json"), Payload::None);
        assert_eq!(Payload::of(&Method::GET, &jws("{}")), Payload::None);
    }
}
