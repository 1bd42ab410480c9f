//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the API, generated from the handlers'
//! `#[utoipa::path]` annotations. Request bodies are the types the handlers read. Most response
//! bodies are the schema-only types of [`super::schemas`], which describe the JSON the handlers build
//! with `json!` but are never constructed: nothing in the compiler ties them to the handlers, so
//! they are kept in step by hand (and by schemathesis' response-schema check, `scripts/fuzz-api`
//! with `FUZZ_CHECKS`).
//!
//! Whether every route of [`super::routes`] is in the document (and nothing else) is checked by
//! the test at the end of this file, against the router itself.

use std::sync::LazyLock;

use axum::http::header;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    Content, ObjectBuilder, OpenApi as Document, PathItem, Ref, RefOr, Required, Type,
};
use utoipa::{Modify, OpenApi};

use super::schemas::ErrorBody;
use super::{
    accounts, certificates, dns_providers, events, health, orders, revoke, secrets, tokens,
    webhooks,
};

/// The name of the bearer-token security scheme; operations list the scope they need with it.
pub const BEARER: &str = "bearer";

/// The document, serialised once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
});

/// The OpenAPI document of this API. No token: it describes the API, it reveals no data.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi_document",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = serde_json::Value)),
)]
pub async fn document() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// The document's root: every annotated handler and the schemas they reach.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ScaiVault ACME",
        description = "The ACME client of the ScaiVault secrets-and-PKI platform. Every call \
            except the probes, `/metrics`, this document and the http-01 responder needs \
            `Authorization: Bearer <token>`; each operation names the scope its token needs \
            (a missing, unknown or expired token is 401, a token without the scope 403). \
            Every error is `{\"error\": {\"code\", \"message\", \"details\"}}` with a stable \
            `code`.",
    ),
    paths(
        health::healthz,
        health::readyz,
        document,
        tokens::create,
        tokens::list,
        tokens::delete,
        secrets::put,
        secrets::get,
        secrets::delete,
        accounts::providers,
        accounts::register,
        accounts::list,
        accounts::get,
        accounts::deactivate,
        orders::issue,
        orders::list,
        orders::get,
        certificates::list,
        certificates::get,
        certificates::pem,
        certificates::key,
        certificates::renew,
        revoke::revoke,
        dns_providers::create,
        dns_providers::list,
        dns_providers::get,
        dns_providers::delete,
        events::list,
        webhooks::create,
        webhooks::list,
        webhooks::get,
        webhooks::delete,
        webhooks::deliveries,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Unannotated, &CommonErrors),
    tags(
        (name = "probes", description = "Liveness, readiness and metrics; no token"),
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

/// Routes whose handlers live outside `src/api` (or are added by the metrics work), described
/// here rather than with an annotation.
struct Unannotated;

impl Modify for Unannotated {
    fn modify(&self, openapi: &mut Document) {
        let text = |mime: &str, description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    mime,
                    Content::new(Some(ObjectBuilder::new().schema_type(Type::String))),
                )
                .build()
        };
        let challenge = OperationBuilder::new()
            .tag("challenges")
            .operation_id(Some("acme_challenge"))
            .summary(Some("Answers an http-01 challenge (RFC 8555 §8.3)"))
            .description(Some(
                "The key authorization of an unfinished order's challenge with this token, \
                 as the CA fetches it. Also served on `[challenges] http01_listen`.",
            ))
            .parameter(
                ParameterBuilder::new()
                    .name("token")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("The challenge token (base64url, RFC 8555 §8.1)"))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            )
            .response(
                "200",
                text("application/octet-stream", "The key authorization"),
            )
            .response(
                "404",
                error_response("No pending challenge with this token"),
            )
            .response("500", error_response("Internal error"));
        openapi.paths.add_path_operation(
            crate::challenges::http01::PATH,
            vec![HttpMethod::Get],
            challenge,
        );
        let metrics = OperationBuilder::new()
            .tag("probes")
            .operation_id(Some("metrics"))
            .summary(Some("Prometheus metrics"))
            .description(Some(
                "The Prometheus text exposition format, version 0.0.4.",
            ))
            .response(
                "200",
                text("text/plain", "Metrics in the Prometheus text format"),
            );
        openapi
            .paths
            .add_path_operation("/metrics", vec![HttpMethod::Get], metrics);
    }
}

/// The errors every operation of a kind can meet, added once here instead of on each handler:
/// 401 and 403 (and 500, as the token is looked up in the database) wherever a token is
/// needed; 400, 413 and 415 wherever a JSON body is read.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        revocation_fields(components);
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

/// A certificate version's `revoked_at`, `revocation_reason` and `revoked_via_acme`: present
/// only on a revoked version (a flattened `Option<VersionRevocation>` in the domain type).
fn revocation_fields(components: &mut utoipa::openapi::Components) {
    let Some(RefOr::T(Schema::Object(version))) = components.schemas.get_mut("CertificateVersion")
    else {
        return;
    };
    version.properties.insert(
        "revoked_at".into(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("When it was revoked; only on a revoked version"))
            .into(),
    );
    version.properties.insert(
        "revocation_reason".into(),
        Ref::from_schema_name("RevocationReason").into(),
    );
    version.properties.insert(
        "revoked_via_acme".into(),
        ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .description(Some(
                "Whether the CA was told (RFC 8555 §7.6); only on a revoked version",
            ))
            .into(),
    );
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

    /// `(METHOD, path)` of every route the router serves, read from its `Debug` output (axum
    /// has no public route listing): the `paths` map of route ids to paths, and per route id
    /// the methods its `MethodRouter` has an endpoint for. Wildcards `{*x}` read as `{x}`, as
    /// OpenAPI has no wildcard.
    fn router_routes() -> BTreeSet<(String, String)> {
        let debug = format!("{:?}", super::super::routes());
        let paths_at = debug
            .find("paths: {")
            .expect("axum's Router Debug output changed: no `paths: {`");
        // `RouteId(0): "/healthz", RouteId(1): "/readyz", ...}`: paths are quoted, and
        // contain braces, so read entry by entry.
        let mut rest = &debug[paths_at + "paths: {".len()..];
        let mut paths = std::collections::BTreeMap::new();
        while let Some(entry) = rest.strip_prefix("RouteId(") {
            let (id, after) = entry.split_once("): \"").expect("RouteId(n): \"path\"");
            let (path, after) = after.split_once('"').expect("closing quote");
            paths.insert(id.to_owned(), path.replace("{*", "{"));
            rest = after.strip_prefix(", ").unwrap_or(after);
        }
        assert!(
            rest.starts_with('}'),
            "unexpected Debug output at {rest:.80}"
        );
        let mut routes = BTreeSet::new();
        for (id, path) in &paths {
            let marker = format!("RouteId({id}): MethodRouter(MethodRouter {{");
            let start = debug
                .find(&marker)
                .unwrap_or_else(|| panic!("no MethodRouter for {path} in the Debug output"));
            let body = &debug[start + marker.len()..];
            let body = &body[..body.find("fallback:").expect("MethodRouter fields")];
            let mut methods = 0;
            for method in ["get", "put", "post", "delete", "patch", "options", "trace"] {
                let field = format!(" {method}: ");
                let at = body
                    .find(&field)
                    .unwrap_or_else(|| panic!("no {method} field for {path}"));
                if !body[at + field.len()..].starts_with("None") {
                    routes.insert((method.to_uppercase(), path.clone()));
                    methods += 1;
                }
            }
            assert!(methods > 0, "{path}: no method found in {body}");
        }
        routes
    }

    fn document_routes() -> BTreeSet<(String, String)> {
        let document = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let mut routes = BTreeSet::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
        routes
    }

    /// Adding a `.route(...)` (or a method to one) without documenting it, or documenting a
    /// route that is not served, fails here.
    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let served = router_routes();
        assert!(
            served.len() >= 30,
            "read only {} routes from the router: {served:?}",
            served.len()
        );
        let documented = document_routes();
        let document = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let mut ids = BTreeSet::new();
        for item in document["paths"].as_object().expect("paths").values() {
            for operation in item.as_object().expect("path item").values() {
                let id = operation["operationId"]
                    .as_str()
                    .expect("every operation has an id");
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            }
        }
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty() && unserved.is_empty(),
            "served but not in the OpenAPI document: {undocumented:?}; documented but not \
             served: {unserved:?}"
        );
    }

    /// Every operation that takes a token names its scope, and has the error answers.
    #[test]
    fn secured_operations_name_a_scope_and_the_error_body() {
        let document = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
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
        // A version without revocation must validate: the revocation fields are optional
        // properties, not an all-or-null flattened object.
        let version = &document["components"]["schemas"]["CertificateVersion"];
        assert!(version.get("allOf").is_none(), "{version}");
        assert_eq!(version["properties"]["revoked_via_acme"]["type"], "boolean");
        let required = version["required"].as_array().expect("required");
        assert!(!required.iter().any(|f| f == "revoked_at"), "{version}");
    }
}
