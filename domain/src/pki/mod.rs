//! Keys, CSRs and certificates: the X.509 side of the ACME client.
//!
//! Everything here is pure computation on bytes and strings, so the order workflow, the API and
//! the store agree on one spelling of names, serials and chains, and each rule is tested once.

pub mod ari;
pub mod chain;
pub mod csr;
pub mod domains;
pub mod key_type;
pub mod serial;
pub mod tls_alpn;

pub use ari::renewal_cert_id;
pub use chain::{IssuedChain, parse_chain, private_key_matches};
pub use csr::{GeneratedKey, csr_from_pem, generate_key_and_csr};
pub use domains::{
    Identifier, MAX_DOMAINS, check_challenge_type, ip_from_reverse_name, normalize_domains,
    reverse_name,
};
pub use key_type::KeyType;
pub use serial::{normalize_serial, serial_with_colons};
pub use tls_alpn::tls_alpn01_certificate;
