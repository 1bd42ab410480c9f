//! Request ids: every request gets an `x-request-id`, echoed on the response and carried by
//! every log line of the request (the `request` span's `request_id` field).
//!
//! A caller may send its own id to correlate its logs with ours, but that text ends up verbatim
//! in our log lines, and the text format writes span fields unquoted: an id such as
//! `x method=DELETE path=/v1/secrets/...` would forge fields of the line, and a long one would
//! bloat every line of the request. So a caller's id is kept only when it is short and made of
//! characters that need no escaping anywhere; any other is replaced by one of ours, which the
//! response then carries, so the caller still learns the id to quote.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};

/// The header carrying the id, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest caller-supplied id kept; a UUID (36) or a ULID (26) fits with room to spare.
pub const MAX_LEN: usize = 64;

/// Whether a caller-supplied id is kept as is: 1 to [`MAX_LEN`] of `A-Z a-z 0-9 - _ . :`.
pub fn acceptable(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A fresh id: 16 random hex digits.
fn generate() -> HeaderValue {
    HeaderValue::from_str(&hex::encode(scaivault_domain::ids::random_bytes(8)))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Middleware (outermost, before the span is made): keeps an acceptable `x-request-id` and
/// replaces a missing or unacceptable one, so everything after it sees a clean id.
pub async fn assign(mut request: Request) -> Request {
    let keep = request
        .headers()
        .get(&HEADER)
        .is_some_and(|id| acceptable(id.as_bytes()));
    if !keep {
        request.headers_mut().insert(HEADER, generate());
    }
    request
}

/// The id of a request that went through [`assign`].
pub fn of<B>(request: &axum::http::Request<B>) -> &str {
    request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_ids_and_refuses_the_rest() {
        for id in [
            "abc-123",
            "0f1e2d3c4b5a6978",
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "svc:web.1_req",
        ] {
            assert!(acceptable(id.as_bytes()), "{id}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        for id in [
            "",
            "x method=DELETE",
            "a\tb",
            "a\"b",
            "a=b",
            "a{b}",
            "ü",
            long.as_str(),
        ] {
            assert!(!acceptable(id.as_bytes()), "{id:?}");
        }
        assert!(acceptable("a".repeat(MAX_LEN).as_bytes()));
        assert!(acceptable(generate().as_bytes()));
    }
}
