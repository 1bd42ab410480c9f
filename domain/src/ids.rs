//! Public identifiers: a readable prefix (`acme_`, `tok_`, ...) and 96 random bits, so ids are
//! unguessable and a log line tells at a glance what kind of object it names.

use rand::RngCore;

/// A fresh id such as `acme_3f9a0c...` (prefix, underscore, 24 hex digits).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// `count` random bytes from the thread-local CSPRNG.
pub fn random_bytes(count: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; count];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_differ() {
        let a = new_id("acme");
        let b = new_id("acme");
        assert!(a.starts_with("acme_"));
        assert_eq!(a.len(), "acme_".len() + 24);
        assert_ne!(a, b);
    }
}
