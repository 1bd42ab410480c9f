//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the API, generated from the route table
//! ([`super::routes`]): each handler's `#[utoipa::path]` annotation gives its path, method,
//! parameters and answers, and the bodies are the contract crate's types, the same the
//! handlers return. Here: the document's root, the error answers every operation of a kind
//! shares, and the one path OpenAPI spells differently from axum (a wildcard).

use std::sync::LazyLock;

use axum::http::header;
use scaivault_contract::ErrorBody;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, PathItem, Ref, RefOr};
use utoipa::{Modify, OpenApi};

/// The name of the bearer-token security scheme; operations list the scope they need with it.
pub const BEARER: &str = "bearer";

/// The document, serialised once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_pretty_json()
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
});

/// The whole document: the route table's operations, with the common error answers, and axum's
/// wildcard `{*path}` written as OpenAPI's `{path}`.
pub fn document() -> Document {
    let mut document = super::routes().into_openapi();
    CommonErrors.modify(&mut document);
    let wildcards: Vec<String> = document
        .paths
        .paths
        .keys()
        .filter(|path| path.contains("{*"))
        .cloned()
        .collect();
    for path in wildcards {
        if let Some(item) = document.paths.paths.remove(&path) {
            document.paths.paths.insert(path.replace("{*", "{"), item);
        }
    }
    document
}

/// The OpenAPI document of this API. No token: it describes the API, it reveals no data.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi_document",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn serve() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// The document's root; the paths come from the route table.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ScaiVault ACME",
        description = "The ACME client of the ScaiVault secrets-and-PKI platform. Every call \
            except the probes, this document and the http-01 responder needs \
            `Authorization: Bearer <token>` (`/metrics` also takes `[security] metrics_token`); each operation names the scope its token needs \
            (a missing, unknown or expired token is 401, a token without the scope 403). \
            Every error is `{\"error\": {\"code\", \"message\", \"details\"}}` with a stable \
            `code`.",
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "probes", description = "Liveness and readiness without a token; metrics with one"),
        (name = "meta", description = "This document"),
        (name = "tokens", description = "API tokens with scopes (scope `admin`)"),
        (name = "secrets", description = "Secrets sealed at rest"),
        (name = "acme", description = "ACME providers, accounts and orders"),
        (name = "certificates", description = "Managed certificates, renewal and revocation"),
        (name = "dns-providers", description = "Where dns-01 writes TXT records (scope `admin`)"),
        (name = "events", description = "The event log"),
        (name = "webhooks", description = "Signed event deliveries (scope `admin`)"),
        (name = "challenges", description = "ACME challenge responses for the CA; no token"),
    ),
)]
pub struct ApiDoc;

/// A reference to the error body, for responses built by hand.
fn error_content() -> Content {
    Content::new(Some(Ref::from_schema_name("ErrorBody")))
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", error_content())
        .build()
        .into()
}

/// The errors every operation of a kind can meet, added once here instead of on each handler:
/// 401 and 403 (and 500, as the token is looked up in the database) wherever a token is
/// needed; 400, 413 and 415 wherever a JSON body is read.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error_response(description));
                };
                if operation.security.is_some() {
                    add(
                        "401",
                        "`unauthorized`: no bearer token, or an unknown or expired one",
                    );
                    add("403", "`forbidden`: the token lacks the operation's scope");
                    add(
                        "500",
                        "`internal`: an unexpected failure (logged under the request id)",
                    );
                }
                if operation.request_body.is_some() {
                    add(
                        "400",
                        "`invalid_json` or `invalid_request`: the body is not valid JSON or not of this shape",
                    );
                    add("413", "`payload_too_large`: the body is larger than 1 MiB");
                    add(
                        "415",
                        "`unsupported_media_type`: the body was not sent as application/json",
                    );
                }
            }
        }
    }
}

/// The operations of a path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every operation has an id of its own, and the responder's path is the one its plain
    /// listener serves too.
    #[test]
    fn operations_have_unique_ids() {
        let document = serde_json::to_value(document()).expect("serialises");
        let mut ids = BTreeSet::new();
        for item in document["paths"].as_object().expect("paths").values() {
            for operation in item.as_object().expect("path item").values() {
                let id = operation["operationId"]
                    .as_str()
                    .expect("every operation has an id");
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            }
        }
        assert!(ids.len() >= 33, "{} operations: {ids:?}", ids.len());
        assert!(
            document["paths"][crate::challenges::http01::PATH]["get"].is_object(),
            "the http-01 responder is documented at its path"
        );
        assert!(document["paths"]["/v1/secrets/{path}"]["put"].is_object());
    }

    /// Every operation that takes a token names its scope, and has the error answers.
    #[test]
    fn secured_operations_name_a_scope_and_the_error_body() {
        let document = serde_json::to_value(document()).expect("serialises");
        let scopes = [
            "pki:read",
            "pki:write",
            "pki:keys",
            "secrets:read",
            "secrets:write",
            "admin",
        ];
        let mut secured = 0;
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("item") {
                let responses = &operation["responses"];
                let Some(security) = operation.get("security") else {
                    continue;
                };
                secured += 1;
                let needed = security[0][BEARER].as_array().expect("bearer requirement");
                assert!(
                    needed.len() == 1 && scopes.contains(&needed[0].as_str().unwrap_or("")),
                    "{method} {path}: scope {needed:?}"
                );
                for status in ["401", "403"] {
                    assert_eq!(
                        responses[status]["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
        assert!(secured >= 25, "{secured} secured operations");
        // A version without revocation must validate: the revocation fields are optional.
        let version = &document["components"]["schemas"]["CertificateVersion"];
        let required = version["required"].as_array().expect("required");
        assert!(!required.iter().any(|f| f == "revoked_at"), "{version}");
        assert!(version["properties"]["revoked_via_acme"].is_object());
    }
}
