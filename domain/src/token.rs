//! API tokens. A token's value is `<id>.<secret>`: the id finds the row, and only a SHA-256 of
//! the 256-bit random secret is stored, compared in constant time, so neither the database nor a
//! timing side channel gives the value away. (A fast hash is right here: the secret has full
//! entropy, so there is nothing for a slow password hash to protect against.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::scope::Scope;

/// A stored API token (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub secret_hash: [u8; 32],
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

impl TokenRecord {
    /// Whether the token has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A freshly minted token: the record to store and the value to show once.
#[derive(Debug)]
pub struct MintedToken {
    pub record: TokenRecord,
    pub value: String,
}

/// Mints a token with a new id and a 256-bit random secret.
pub fn mint(
    name: &str,
    scopes: Vec<Scope>,
    now: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
) -> MintedToken {
    let id = crate::ids::new_id("tok");
    let secret = URL_SAFE_NO_PAD.encode(crate::ids::random_bytes(32));
    MintedToken {
        record: TokenRecord {
            id: id.clone(),
            name: name.to_owned(),
            scopes,
            secret_hash: hash(&secret),
            created_at: now,
            expires_at,
        },
        value: format!("{id}.{secret}"),
    }
}

/// Splits a presented value into `(id, secret)`; `None` when it is not of our form.
pub fn parse(value: &str) -> Option<(&str, &str)> {
    let (id, secret) = value.split_once('.')?;
    (id.starts_with("tok_") && !secret.is_empty()).then_some((id, secret))
}

/// SHA-256 of a secret (or of a whole configured bootstrap token).
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time comparison of two hashes.
pub fn hashes_match(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_value_verifies_and_others_do_not() {
        let minted = mint("ci", vec![Scope::PkiRead], crate::timestamp::now(), None);
        let (id, secret) = parse(&minted.value).expect("our form");
        assert_eq!(id, minted.record.id);
        assert!(hashes_match(&hash(secret), &minted.record.secret_hash));
        assert!(!hashes_match(&hash("other"), &minted.record.secret_hash));
        assert!(parse("no-dot").is_none());
        assert!(parse("acme_x.y").is_none());
    }
}
