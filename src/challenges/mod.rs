//! Challenge responders: http-01 (RFC 8555 §8.3) on the API listener and on extra plain-HTTP
//! listeners, and tls-alpn-01 (RFC 8737) on TLS listeners. Both answer from the store, so a
//! restarted service (or another instance) answers challenges it did not start.

pub mod http01;
pub mod tls_alpn01;
