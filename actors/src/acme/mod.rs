//! Talking ACME: the HTTP transport every account's protocol client uses ([`AcmeHttp`]: extra
//! trust roots, a CA's `Retry-After`, per-CA request limits, latency by endpoint, the outbound
//! guard, time and size limits), the account key change request instant-acme cannot make with a
//! key chosen beforehand (`key_change`), what a CA's problem documents mean ([`ProblemKind`]),
//! and the names a CA goes by in CAA records (`CaaIdentities`).

mod caa_identities;
mod convert;
mod endpoint;
mod http;
mod key_change;
mod limits;
mod nonce;
mod outbound;
mod problem;

pub(crate) use self::caa_identities::CaaIdentities;
pub(crate) use self::convert::{challenge_type, revocation_reason};
pub use self::http::{AcmeHttp, DEFAULT_REQUESTS_PER_CA, HttpPolicy, parse_retry_after};
pub(crate) use self::http::{capture_retry_after, error_retry_after};
pub(crate) use self::key_change::{KeyChangeTarget, SigningKey};
pub use self::limits::{Exceeded, HttpLimits, MAX_BODY_BYTES};
pub(crate) use self::nonce::{BAD_NONCE_RETRIES, retry_bad_nonce};
pub use self::problem::{AcmeProblem, ProblemKind};
