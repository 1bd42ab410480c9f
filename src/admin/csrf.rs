//! CSRF protection for the console's forms: every form carries the session's random token in a
//! hidden `csrf` field, and a POST that comes with the session cookie but without that token is
//! refused before any handler runs. (The cookie is also `SameSite=Strict`; the token covers
//! browsers and proxies that do not honour it.)

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use subtle::ConstantTimeEq;

/// The hidden field's name.
pub const FIELD: &str = "csrf";

/// The largest form body the console reads (its forms are small; a PEM CSR is the largest).
const FORM_LIMIT: usize = 256 * 1024;

/// `request` unchanged when its form carries `expected`; otherwise 403.
pub async fn verify(request: Request, expected: &str) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"))?;
    let presented = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        tracing::warn!(path = %parts.uri.path(), "console form refused: missing or wrong CSRF token");
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "this form did not come from this console session (CSRF token missing or wrong); \
             reload the page and try again",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, super::page::bare("Refused", message)).into_response()
}
