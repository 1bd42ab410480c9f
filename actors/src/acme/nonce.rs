//! `badNonce` (RFC 8555 §6.5): the CA refused a request's nonce and did not process it, so
//! repeating it is safe.

use instant_acme::Error;

use crate::acme::ProblemKind;

/// Extra attempts after instant-acme's own three for a request the CA rejected with `badNonce`:
/// a CA rejecting a share of nonces (Pebble: 5 %) otherwise fails about one request in 8,000.
pub(crate) const BAD_NONCE_RETRIES: u32 = 3;

/// Runs `request` again while the CA answers `badNonce`, up to [`BAD_NONCE_RETRIES`] times.
pub(crate) async fn retry_bad_nonce<T, F, Fut>(mut request: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut attempts = 0;
    loop {
        match request().await {
            Err(Error::Api(problem))
                if ProblemKind::from_type(problem.r#type.as_deref()) == ProblemKind::BadNonce
                    && attempts < BAD_NONCE_RETRIES =>
            {
                attempts += 1;
            }
            other => return other,
        }
    }
}
