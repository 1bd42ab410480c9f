//! Sealing secrets and private keys at rest with AES-256-GCM.
//!
//! Every record gets a fresh random 96-bit nonce, and the record's id is the associated data, so
//! a sealed value copied onto another row (or another secret path) fails to open instead of
//! silently decrypting there. Layout: `version (1) || nonce (12) || ciphertext+tag`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::{Error, Result};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
/// Length of a master key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// The master key that seals everything secret in the store.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A key from exactly [`KEY_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let cipher = Aes256Gcm::new_from_slice(bytes)
            .map_err(|_| Error::Crypto(format!("a master key is {KEY_LEN} bytes")))?;
        Ok(Self { cipher })
    }

    /// A fresh random key, as written to the master key file on first start.
    pub fn generate() -> (Self, Vec<u8>) {
        let bytes = crate::ids::random_bytes(KEY_LEN);
        let key = Self {
            cipher: Aes256Gcm::new_from_slice(&bytes).expect("KEY_LEN bytes make an AES-256 key"),
        };
        (key, bytes)
    }

    /// Seals `plaintext` for the record named `record_id`.
    pub fn seal(&self, record_id: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes = crate::ids::random_bytes(NONCE_LEN);
        let nonce = Nonce::from_slice(&nonce_bytes);
        let ciphertext = self
            .cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad: record_id.as_bytes(),
                },
            )
            .map_err(|_| Error::Crypto("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens a value sealed for `record_id`; fails on a wrong key, a wrong id or tampering.
    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(Error::Crypto(format!("record {record_id}: unknown format")));
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: record_id.as_bytes(),
                },
            )
            .map_err(|_| Error::Crypto(format!("record {record_id}: authentication failed")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fresh_nonces() {
        let (key, _) = MasterKey::generate();
        let a = key.seal("secret:x", b"hello").expect("seal");
        let b = key.seal("secret:x", b"hello").expect("seal");
        assert_ne!(a, b, "each seal uses a fresh nonce");
        assert_eq!(key.open("secret:x", &a).expect("open"), b"hello");
        assert!(
            !a.windows(5).any(|w| w == b"hello"),
            "no plaintext in the sealed bytes"
        );
    }

    #[test]
    fn record_id_is_bound() {
        let (key, _) = MasterKey::generate();
        let sealed = key.seal("secret:a", b"v").expect("seal");
        assert!(key.open("secret:b", &sealed).is_err());
    }

    #[test]
    fn wrong_key_and_tampering_fail() {
        let (key, _) = MasterKey::generate();
        let (other, _) = MasterKey::generate();
        let mut sealed = key.seal("r", b"value").expect("seal");
        assert!(other.open("r", &sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open("r", &sealed).is_err());
        assert!(key.open("r", &[]).is_err());
        assert!(MasterKey::from_bytes(&[0u8; 16]).is_err());
    }
}
