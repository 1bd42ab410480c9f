//! Extractors whose rejections speak the API's error format instead of axum's plain text. JSON
//! bodies and query strings are read through `serde_path_to_error`, so a value of the wrong
//! shape is reported with the path of the field it was found at (`details.field`).

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use scaivault_contract::ErrorCode;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::error::ApiError;

/// Largest accepted request body (more is refused with 413). A CSR or a 100-domain order fits
/// many times over.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!("the body is larger than {BODY_LIMIT} bytes"),
                )
                .with_details(json!({ "limit_bytes": BODY_LIMIT }))
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    rejection.body_text(),
                )
            }
        })?;
        let mut reader = serde_json::Deserializer::from_slice(&bytes);
        let value =
            serde_path_to_error::deserialize(&mut reader).map_err(|err| body_error(err, &bytes))?;
        reader.end().map_err(|err| syntax_error(&err))?;
        Ok(ApiJson(value))
    }
}

/// `application/json`, or any `application/*+json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn syntax_error(err: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidJson,
        format!("the body is not valid JSON: {err}"),
    )
}

fn body_error(err: serde_path_to_error::Error<serde_json::Error>, body: &[u8]) -> ApiError {
    use serde_json::error::Category;
    match err.inner().classify() {
        // serde_json reports some shape errors as syntax: an enum given an array or a number
        // reads as "expected value". Only a body that is not JSON at all is `invalid_json`
        // (read as a `Value`: skipping with `IgnoredAny` would not check that keys are UTF-8).
        Category::Syntax | Category::Eof
            if serde_json::from_slice::<serde_json::Value>(body).is_err() =>
        {
            syntax_error(err.inner())
        }
        Category::Syntax | Category::Eof => shape_error(
            "the body does not match the expected shape",
            &err.path().to_string(),
            &"a value of the wrong type",
        ),
        Category::Data | Category::Io => shape_error(
            "the body does not match the expected shape",
            &err.path().to_string(),
            err.inner(),
        ),
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection: PathRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    rejection.body_text(),
                )
            })
    }
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let reader = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(reader)
            .map(ApiQuery)
            .map_err(|err| {
                shape_error(
                    "the query string does not match",
                    &err.path().to_string(),
                    err.inner(),
                )
            })
    }
}

/// `invalid_request` for input of the wrong shape, naming the field (`details.field`) when
/// serde's path does: `domains`, `events[0]`, `eab.hmac_key`, or an unknown field's name. A path
/// that names no field (`.` for the whole body, `[0]` in a body that is not an object) leaves
/// `details` out rather than guess.
fn shape_error(what: &str, path: &str, err: &dyn std::fmt::Display) -> ApiError {
    let names_a_field = path
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if names_a_field {
        ApiError::invalid(path, format!("{what}: {path}: {err}"))
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("{what}: {err}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only the errors are read")]
    struct Body {
        name: String,
        domains: Vec<String>,
        #[serde(default)]
        eab: Option<Eab>,
        #[serde(default)]
        events: Vec<u8>,
        #[serde(default)]
        config: BTreeMap<String, String>,
        #[serde(default)]
        challenge_type: Option<scaivault_contract::ChallengeType>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only the errors are read")]
    struct Eab {
        hmac_key: String,
    }

    fn field(body: &str) -> (ErrorCode, Option<String>) {
        let mut reader = serde_json::Deserializer::from_slice(body.as_bytes());
        let err = serde_path_to_error::deserialize::<_, Body>(&mut reader)
            .map(|_| reader.end().expect("no trailing data"))
            .map_err(|err| body_error(err, body.as_bytes()))
            .expect_err("the body is refused");
        let field = err
            .details
            .and_then(|d| d["field"].as_str().map(str::to_owned));
        (err.code, field)
    }

    #[test]
    fn shape_errors_name_the_field_serde_stopped_at() {
        let invalid = |f: &str| (ErrorCode::InvalidRequest, Some(f.to_owned()));
        assert_eq!(
            field(r#"{"name": "a", "domains": "a"}"#),
            invalid("domains")
        );
        assert_eq!(
            field(r#"{"name": "a", "domains": [], "eab": {"hmac_key": 1}}"#),
            invalid("eab.hmac_key")
        );
        assert_eq!(
            field(r#"{"name": "a", "domains": [], "colour": 1}"#),
            invalid("colour")
        );
        assert_eq!(
            field(r#"{"name": "a", "domains": [], "events": ["x"]}"#),
            invalid("events[0]")
        );
        assert_eq!(
            field(r#"{"name": "a", "domains": [], "config": {"zone": 1}}"#),
            invalid("config.zone")
        );
        // serde_json calls an enum given an array a syntax error; the body is JSON all the same.
        assert_eq!(
            field(r#"{"name": "a", "domains": [], "challenge_type": [1, 2]}"#),
            invalid("challenge_type")
        );
        assert_eq!(field(r#"[1]"#), (ErrorCode::InvalidRequest, None));
        assert_eq!(
            field(r#"{"domains": []}"#),
            (ErrorCode::InvalidRequest, None)
        );
        assert_eq!(field(r#"{"name": "a""#), (ErrorCode::InvalidJson, None));
    }

    #[test]
    fn json_media_types() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/jsonx"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
