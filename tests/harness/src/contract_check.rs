//! Every JSON answer the tests receive, checked against the service's own OpenAPI document: the
//! schema of the operation that answered, for the status it answered with.
//!
//! The check is strict where the document alone would be lenient: an object may carry no
//! property its schema does not name (`unevaluatedProperties: false` is added to every object
//! schema that lists properties, and around every composition of schemas), so a field the
//! handlers send but the document does not describe fails as surely as a missing one. A status
//! the operation does not document fails too. Answers of routes the document does not have
//! (the admin listener, unknown paths) are not checked.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

/// The document's operations, each with a validator per documented status.
pub struct ContractCheck {
    operations: Vec<Operation>,
}

impl std::fmt::Debug for ContractCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContractCheck({} operations)", self.operations.len())
    }
}

struct Operation {
    method: Method,
    template: String,
    segments: Vec<Segment>,
    /// Documented statuses; `None` where the answer is not JSON (PEM, metrics text).
    responses: BTreeMap<String, Option<jsonschema::Validator>>,
}

#[derive(PartialEq)]
enum Segment {
    Literal(String),
    Param,
}

impl ContractCheck {
    /// Reads an OpenAPI 3.1 document. Panics when a schema does not compile: the document
    /// itself is broken then.
    pub fn from_document(document: &Value) -> Self {
        let components = strict_components(&document["components"]);
        let mut operations = Vec::new();
        for (template, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Ok(method) = method.to_uppercase().parse::<Method>() else {
                    continue;
                };
                let mut responses = BTreeMap::new();
                for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                    let schema = &response["content"]["application/json"]["schema"];
                    let validator = (!schema.is_null()).then(|| {
                        let mut root = json!({
                            "$schema": "https://json-schema.org/draft/2020-12/schema",
                            "components": components,
                            "allOf": [schema],
                        });
                        // A named schema is closed in `components`; an inline one that lists
                        // properties is closed here. A free-form object (the document itself)
                        // stays open.
                        if schema.get("properties").is_some() {
                            root["unevaluatedProperties"] = Value::Bool(false);
                        }
                        jsonschema::options()
                            .should_validate_formats(true)
                            .build(&root)
                            .unwrap_or_else(|err| {
                                panic!("{method} {template} {status}: bad schema: {err}")
                            })
                    });
                    responses.insert(status.clone(), validator);
                }
                operations.push(Operation {
                    method,
                    template: template.clone(),
                    segments: segments(template),
                    responses,
                });
            }
        }
        Self { operations }
    }

    /// Whether `body`, answered with `status` to `method path`, is what the document says.
    /// `Ok` also when no documented operation matches the request.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        body: &str,
    ) -> Result<(), String> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let Some(operation) = self.find(method, path) else {
            return Ok(());
        };
        let status = status.to_string();
        let Some(validator) = operation.responses.get(&status) else {
            return Err(format!(
                "{method} {}: status {status} is not documented (documented: {:?})",
                operation.template,
                operation.responses.keys().collect::<Vec<_>>()
            ));
        };
        let Some(validator) = validator else {
            return Ok(());
        };
        let value: Value = serde_json::from_str(body).map_err(|err| {
            format!(
                "{method} {} {status}: the answer is not JSON ({err}): {body:.300}",
                operation.template
            )
        })?;
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|err| format!("at {}: {err}", err.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {} {status} does not match its schema:\n  {}\nbody: {body:.2000}",
                operation.template,
                errors.join("\n  ")
            ))
        }
    }

    /// The operation serving `path`: the one with most literal segments among exact matches,
    /// else one whose last parameter takes the rest of the path (a wildcard, as `{path}` of a
    /// secret).
    fn find(&self, method: &Method, path: &str) -> Option<&Operation> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let exact = self
            .operations
            .iter()
            .filter(|op| op.method == *method && op.segments.len() == parts.len())
            .filter(|op| matches(&op.segments, &parts))
            .max_by_key(|op| literals(&op.segments));
        exact.or_else(|| {
            self.operations.iter().find(|op| {
                op.method == *method
                    && op.segments.last() == Some(&Segment::Param)
                    && op.segments.len() < parts.len()
                    && matches(
                        &op.segments[..op.segments.len() - 1],
                        &parts[..op.segments.len() - 1],
                    )
            })
        })
    }
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

fn matches(segments: &[Segment], parts: &[&str]) -> bool {
    segments
        .iter()
        .zip(parts)
        .all(|(segment, part)| match segment {
            Segment::Literal(literal) => literal == part,
            Segment::Param => !part.is_empty(),
        })
}

fn literals(segments: &[Segment]) -> usize {
    segments
        .iter()
        .filter(|s| matches!(s, Segment::Literal(_)))
        .count()
}

/// The components with every object schema closed to properties it does not name. A schema
/// that other schemas extend (`allOf` of it and more properties, as `#[serde(flatten)]`
/// writes) cannot be closed itself, or the extension's properties would be refused inside
/// it: the extensions use an open copy (`<name>.open`) and the name itself becomes the closed
/// composition of that copy.
fn strict_components(components: &Value) -> Value {
    let mut components = components.clone();
    let Some(schemas) = components["schemas"].as_object_mut() else {
        return components;
    };
    let mut extended = BTreeSet::new();
    for schema in schemas.values() {
        for part in schema["allOf"].as_array().into_iter().flatten() {
            if let Some(name) = part["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                extended.insert(name.to_owned());
            }
        }
    }
    for schema in schemas.values_mut() {
        // `get_mut`, not indexing: `IndexMut` would insert a null `allOf` into every schema.
        if let Some(parts) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
            for part in parts.iter_mut() {
                if let Some(target) = part["$ref"].as_str().map(str::to_owned) {
                    part["$ref"] = Value::String(format!("{target}.open"));
                }
            }
        }
    }
    for name in &extended {
        if let Some(open) = schemas.get(name).cloned() {
            schemas.insert(format!("{name}.open"), open);
            schemas.insert(
                name.clone(),
                json!({
                    "allOf": [{ "$ref": format!("#/components/schemas/{name}.open") }],
                    "unevaluatedProperties": false,
                }),
            );
        }
    }
    for (name, schema) in schemas.iter_mut() {
        let closable = schema.get("properties").is_some() || schema.get("allOf").is_some();
        if closable && !name.ends_with(".open") && schema.get("unevaluatedProperties").is_none() {
            schema["unevaluatedProperties"] = Value::Bool(false);
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        json!({
            "paths": {
                "/v1/things/{id}": { "get": { "responses": {
                    "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Detail" } } } },
                    "404": { "content": { "application/json": { "schema": { "type": "object" } } } }
                } } },
                "/v1/things/{id}/pem": { "get": { "responses": {
                    "200": { "content": { "text/plain": { "schema": { "type": "string" } } } }
                } } },
                "/v1/files/{path}": { "get": { "responses": {
                    "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Thing" } } } }
                } } }
            },
            "components": { "schemas": {
                "Thing": { "type": "object", "required": ["id"], "properties": {
                    "id": { "type": "string" },
                    "at": { "type": "string", "format": "date-time" }
                } },
                "Detail": { "allOf": [
                    { "$ref": "#/components/schemas/Thing" },
                    { "type": "object", "required": ["parts"], "properties": { "parts": { "type": "array" } } }
                ] }
            } }
        })
    }

    #[test]
    fn answers_are_held_to_their_schema() {
        let check = ContractCheck::from_document(&document());
        let get = Method::GET;
        assert_eq!(
            check.check(&get, "/v1/things/1", 200, r#"{"id": "1", "parts": []}"#),
            Ok(())
        );
        // Missing, extra and malformed fields, an undocumented status.
        for (status, body) in [
            (200, r#"{"id": "1"}"#),
            (200, r#"{"id": "1", "parts": [], "colour": "red"}"#),
            (200, r#"{"id": "1", "parts": [], "at": "yesterday"}"#),
            (500, r#"{}"#),
        ] {
            assert!(
                check.check(&get, "/v1/things/1", status, body).is_err(),
                "{status} {body}"
            );
        }
        // The open base of an extension is still closed where used alone.
        assert!(
            check
                .check(&get, "/v1/files/a/b/c", 200, r#"{"id": "1", "parts": []}"#)
                .is_err()
        );
        assert_eq!(
            check.check(&get, "/v1/files/a/b/c", 200, r#"{"id": "1"}"#),
            Ok(())
        );
        // Not JSON where JSON is not documented; routes the document does not have.
        assert_eq!(
            check.check(&get, "/v1/things/1/pem", 200, "-----BEGIN"),
            Ok(())
        );
        assert_eq!(check.check(&get, "/admin/x", 200, "<html>"), Ok(()));
        assert_eq!(
            check.check(&Method::POST, "/v1/things/1", 200, "{}"),
            Ok(())
        );
    }
}
