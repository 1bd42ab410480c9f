//! `GET /v1/openapi.json` from the running binary: a valid OpenAPI 3 document, fetched without a
//! token, naming every path of the API contract, with each operation served by the binary (no
//! documented route falls through to the "no such endpoint" fallback or a 405).

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::{Db, options};
use reqwest::Method;
use scaivault_testkit::Service;
use serde_json::{Value, json};

/// Every path of the API contract (shared/API.md and the README), as OpenAPI spells it.
const CONTRACT_PATHS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/openapi.json",
    "/v1/auth/tokens",
    "/v1/auth/tokens/{id}",
    "/v1/secrets",
    "/v1/secrets/{path}",
    "/v1/pki/acme/providers",
    "/v1/pki/acme/accounts",
    "/v1/pki/acme/accounts/{id}",
    "/v1/pki/acme/accounts/{id}/pauses",
    "/v1/pki/acme/accounts/{id}/caa",
    "/v1/pki/acme/accounts/{id}/key-rollover",
    "/v1/pki/acme/issue",
    "/v1/pki/acme/orders",
    "/v1/pki/acme/orders/{id}",
    "/v1/pki/certificates",
    "/v1/pki/certificates/{id}",
    "/v1/pki/certificates/{id}/pem",
    "/v1/pki/certificates/{id}/key",
    "/v1/pki/certificates/{id}/renew",
    "/v1/pki/revoke",
    "/v1/pki/dns-providers",
    "/v1/pki/dns-providers/{id}",
    "/v1/pki/dns-providers/{id}/test",
    "/v1/events",
    "/v1/webhooks",
    "/v1/webhooks/{id}",
    "/v1/webhooks/{id}/deliveries",
    "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    "/.well-known/acme-challenge/{token}",
];

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

async fn document_is_complete_and_served(db: Db) {
    let (opts, _pg) = options(db);
    let service = Service::start(opts).await;
    let anonymous = service.client().without_token();

    let response = anonymous.raw(Method::GET, "/v1/openapi.json", None).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        response.headers
    );
    let document: Value = serde_json::from_str(&response.body).expect("the document is JSON");

    // OpenAPI 3 structure.
    let version = document["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "openapi {version}");
    assert!(document["info"]["title"].is_string());
    assert!(document["info"]["version"].is_string());
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer"})
    );
    let paths = document["paths"].as_object().expect("paths");
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let contract: BTreeSet<&str> = CONTRACT_PATHS.iter().copied().collect();
    let missing: Vec<_> = contract.difference(&documented).collect();
    assert!(missing.is_empty(), "missing from the document: {missing:?}");

    // Every reference resolves; every operation has responses, and every error status the
    // document names carries the error body.
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    assert!(!targets.is_empty());
    for target in &targets {
        let pointer = target.strip_prefix('#').expect("local reference");
        assert!(
            document.pointer(pointer).is_some(),
            "unresolved reference {target}"
        );
    }
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path}: no responses");
            for (status, answer) in responses {
                if status.starts_with('4') || status == "500" {
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            let secured = operation.get("security").is_some();
            operations.push((method.clone(), path.clone(), secured));
        }
    }
    assert!(operations.len() >= 33, "{} operations", operations.len());

    // Each documented operation is served: with the admin token, placeholder ids and an empty
    // object as body, the answer is the handler's (a 2xx, a 400 or a 404 naming the thing),
    // never the router's fallback. Secured operations refuse an anonymous caller with 401.
    let admin = service.client();
    for (method, path, secured) in &operations {
        let concrete = path
            .replace("{id}", "openapi_probe")
            .replace("{delivery_id}", "openapi_probe")
            .replace("{path}", "openapi/probe")
            .replace("{token}", "openapi_probe");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
        let answer = admin.raw(method.clone(), &concrete, body.as_ref()).await;
        let code = answer.json()["error"]["code"].clone();
        assert!(
            answer.status != 405 && !answer.body.contains("no such endpoint"),
            "{method} {path} is documented but not served: {} {}",
            answer.status,
            answer.body
        );
        assert!(
            answer.status < 500,
            "{method} {concrete}: {} {}",
            answer.status,
            answer.body
        );
        let anonymous = anonymous
            .raw(method.clone(), &concrete, body.as_ref())
            .await;
        if *secured {
            assert_eq!(anonymous.status, 401, "{method} {path}: {}", anonymous.body);
        } else {
            assert_eq!(
                anonymous.status, answer.status,
                "{method} {path} needs no token ({code})"
            );
        }
    }
}

on_both_backends!(document_is_complete_and_served);
