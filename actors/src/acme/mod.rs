//! Talking ACME: the HTTP transport every account's protocol client uses ([`AcmeHttp`]: extra
//! trust roots, a CA's `Retry-After`, per-CA request limits, latency by endpoint), and what a
//! CA's problem documents mean ([`ProblemKind`]).

mod convert;
mod endpoint;
mod http;
mod nonce;
mod problem;

pub(crate) use self::convert::{challenge_type, revocation_reason};
pub use self::http::{AcmeHttp, DEFAULT_REQUESTS_PER_CA, parse_retry_after};
pub(crate) use self::http::{capture_retry_after, error_retry_after};
pub(crate) use self::nonce::{BAD_NONCE_RETRIES, retry_bad_nonce};
pub use self::problem::{AcmeProblem, ProblemKind};
