//! Sealing secrets and private keys at rest with AES-256-GCM.
//!
//! Every record gets a fresh random 96-bit nonce, and the record's id is the associated data, so
//! a sealed value copied onto another row (or another secret path) fails to open instead of
//! silently decrypting there.
//!
//! Layout: `2 || key id (8) || nonce (12) || ciphertext+tag`. The key id is the start of the
//! key's [check value](MasterKey::check_value), so a value names the key that sealed it: a
//! master-key rotation skips values already sealed under the new key, and a value sealed under
//! another key fails with that key's fingerprint instead of a bare authentication error. Values
//! sealed before key ids existed (`1 || nonce (12) || ciphertext+tag`) still open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lc_rs::hmac;

use crate::{Error, Result};

/// Values without a key id, sealed by earlier versions.
const VERSION_LEGACY: u8 = 1;
const VERSION: u8 = 2;
const NONCE_LEN: usize = 12;
const KEY_ID_LEN: usize = 8;
/// Length of a master key in bytes (AES-256).
pub const KEY_LEN: usize = 32;
/// What a key's check value authenticates; changing it would make every stored check value
/// mismatch.
const CHECK_LABEL: &[u8] = b"scaivault master key check v1";

/// The `meta` key under which the store keeps the check value of the key that sealed it.
pub const META_KEY_CHECK: &str = "master_key_check";
/// The `meta` key under which an unfinished rotation keeps the check value of its new key.
pub const META_KEY_ROTATING_TO: &str = "master_key_rotating_to";

/// The master key that seals everything secret in the store.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
    check: [u8; 32],
}

/// Names a master key without revealing it: the first 8 bytes of its check value, as 16 hex
/// digits. Shown in start-up errors and stored in every value the key seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; KEY_ID_LEN]);

impl Fingerprint {
    /// The fingerprint of the key whose check value is `check` (hex, as stored in `meta`);
    /// `None` when it is not a check value.
    pub fn of_check_value(check: &str) -> Option<Self> {
        let bytes = hex::decode(check).ok()?;
        (bytes.len() == 32).then(|| Self::from_prefix(&bytes))
    }

    fn from_prefix(bytes: &[u8]) -> Self {
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&bytes[..KEY_ID_LEN]);
        Self(id)
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
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
        // An HMAC of a fixed label: it identifies the key but reveals nothing of it.
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, bytes), CHECK_LABEL);
        let mut check = [0u8; 32];
        check.copy_from_slice(tag.as_ref());
        Ok(Self { cipher, check })
    }

    /// A fresh random key, as written to the master key file on first start.
    pub fn generate() -> (Self, Vec<u8>) {
        let bytes = crate::ids::random_bytes(KEY_LEN);
        let key = Self::from_bytes(&bytes).expect("KEY_LEN bytes make an AES-256 key");
        (key, bytes)
    }

    /// The key's check value (hex), which the store keeps to recognise the key that sealed it.
    pub fn check_value(&self) -> String {
        hex::encode(self.check)
    }

    /// The key's [`Fingerprint`].
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::from_prefix(&self.check)
    }

    /// Whether `sealed` names this key as the one that sealed it (values sealed before key ids
    /// existed name none).
    pub fn sealed_this(&self, sealed: &[u8]) -> bool {
        sealed_by(sealed) == Some(self.fingerprint())
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
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&self.check[..KEY_ID_LEN]);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens a value sealed for `record_id`; fails on a wrong key, a wrong id or tampering.
    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let body = match sealed.first() {
            Some(&VERSION_LEGACY) => &sealed[1..],
            Some(&VERSION) if sealed.len() > KEY_ID_LEN => {
                let by = Fingerprint::from_prefix(&sealed[1..]);
                if by != self.fingerprint() {
                    return Err(Error::Crypto(format!(
                        "record {record_id}: sealed under the master key with fingerprint {by}, not {}",
                        self.fingerprint()
                    )));
                }
                &sealed[1 + KEY_ID_LEN..]
            }
            _ => return Err(Error::Crypto(format!("record {record_id}: unknown format"))),
        };
        if body.len() < NONCE_LEN {
            return Err(Error::Crypto(format!("record {record_id}: unknown format")));
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
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

/// The fingerprint of the key that sealed `sealed`, when the value names it.
pub fn sealed_by(sealed: &[u8]) -> Option<Fingerprint> {
    (sealed.first() == Some(&VERSION) && sealed.len() > KEY_ID_LEN)
        .then(|| Fingerprint::from_prefix(&sealed[1..]))
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

    #[test]
    fn values_name_their_key() {
        let (key, bytes) = MasterKey::generate();
        let (other, _) = MasterKey::generate();
        let again = MasterKey::from_bytes(&bytes).expect("key");
        assert_eq!(key.check_value(), again.check_value());
        assert_ne!(key.check_value(), other.check_value());
        assert_eq!(
            Fingerprint::of_check_value(&key.check_value()),
            Some(key.fingerprint())
        );
        let sealed = key.seal("r", b"v").expect("seal");
        assert!(key.sealed_this(&sealed));
        assert!(!other.sealed_this(&sealed));
        let err = other.open("r", &sealed).expect_err("other key").to_string();
        assert!(err.contains(&key.fingerprint().to_string()), "{err}");
        assert!(
            !sealed.windows(KEY_LEN).any(|w| w == bytes.as_slice()),
            "the key itself is not in the value"
        );
    }

    #[test]
    fn legacy_values_still_open() {
        let (key, _) = MasterKey::generate();
        let sealed = key.seal("r", b"old").expect("seal");
        // The same ciphertext in the layout without a key id.
        let mut legacy = vec![VERSION_LEGACY];
        legacy.extend_from_slice(&sealed[1 + KEY_ID_LEN..]);
        assert_eq!(key.open("r", &legacy).expect("open"), b"old");
        assert!(!key.sealed_this(&legacy));
        assert_eq!(sealed_by(&legacy), None);
    }
}
