//! Extractors whose rejections speak the API's error format instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
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
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(err) => shape_error(
            format!(
                "the body does not match the expected shape: {}",
                err.body_text()
            ),
            JSON_DATA_PREFIX,
        ),
        JsonRejection::JsonSyntaxError(err) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {}", err.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {} bytes", BODY_LIMIT),
            )
            .with_details(json!({ "limit_bytes": BODY_LIMIT }))
        }
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            other.body_text(),
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
                    "invalid_request",
                    rejection.body_text(),
                )
            })
    }
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| shape_error(rejection.body_text(), QUERY_PREFIX))
    }
}

/// How axum introduces a serde error in a JSON body, and in a query string.
const JSON_DATA_PREFIX: &str = "Failed to deserialize the JSON body into the target type: ";
const QUERY_PREFIX: &str = "Failed to deserialize query string: ";

/// `invalid_request` for input of the wrong shape, naming the field (`details.field`) when the
/// error does: axum reports serde errors as `<prefix><path>: <problem>` (the path from
/// `serde_path_to_error`, e.g. `domains`, `events[0]`, `eab.hmac_key`, or an unknown field's
/// name), which is what a caller needs to fix the request. Anything else (no path, or a position
/// in a body that is not an object) leaves `details` out rather than guess.
fn shape_error(message: String, prefix: &str) -> ApiError {
    let field = message
        .split_once(prefix)
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(path, _)| path)
        .filter(|path| {
            path.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']'))
        })
        .map(str::to_owned);
    match field {
        Some(field) => ApiError::invalid(&field, message),
        None => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(message: &str, prefix: &str) -> Option<String> {
        shape_error(message.to_owned(), prefix)
            .details
            .and_then(|d| d["field"].as_str().map(str::to_owned))
    }

    #[test]
    fn shape_errors_name_the_field_when_serde_does() {
        let json = |rest: &str| format!("the body does not match: {JSON_DATA_PREFIX}{rest}");
        assert_eq!(
            field(
                &json(
                    "domains: invalid type: string \"a\", expected a sequence at line 1 column 9"
                ),
                JSON_DATA_PREFIX
            ),
            Some("domains".into())
        );
        assert_eq!(
            field(
                &json("eab.hmac_key: invalid type: integer `1`, expected a string"),
                JSON_DATA_PREFIX
            ),
            Some("eab.hmac_key".into())
        );
        assert_eq!(
            field(
                &json("colour: unknown field `colour`, expected `value`"),
                JSON_DATA_PREFIX
            ),
            Some("colour".into())
        );
        assert_eq!(
            field(
                &json("events[0]: invalid type: integer `1`"),
                JSON_DATA_PREFIX
            ),
            Some("events[0]".into())
        );
        assert_eq!(
            field(&json("[0]: invalid type: sequence"), JSON_DATA_PREFIX),
            None
        );
        assert_eq!(field(&json("missing field `name`"), JSON_DATA_PREFIX), None);
        assert_eq!(
            field(
                &format!("{QUERY_PREFIX}limit: invalid digit found in string"),
                QUERY_PREFIX
            ),
            Some("limit".into())
        );
        assert_eq!(field("something else: entirely", QUERY_PREFIX), None);
    }
}
