//! The private key algorithms a certificate can be issued for.
//!
//! The set is what every public ACME CA accepts for TLS server certificates (CA/Browser Forum
//! Baseline Requirements §6.1.5): ECDSA on P-256/P-384 and RSA of 2048 or 4096 bits. P-256 is the
//! default because it is the smallest and fastest key every client supports.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The algorithm and size of a certificate's private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum KeyType {
    #[default]
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
}

/// Every name, in the order error messages list them.
const KNOWN: &str = "ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096";

impl KeyType {
    /// Every key type, in declaration order.
    pub const ALL: [KeyType; 4] = [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Rsa4096,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "key_type",
                    format!("unknown key type {s:?}; known: {KNOWN}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for k in KeyType::ALL {
            assert_eq!(k.as_str().parse::<KeyType>().unwrap(), k);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<KeyType>(&json).unwrap(), k);
        }
        assert_eq!(KeyType::Rsa4096.to_string(), "rsa-4096");
    }

    #[test]
    fn default_is_p256() {
        assert_eq!(KeyType::default(), KeyType::EcdsaP256);
    }

    #[test]
    fn unknown_names_are_refused_listing_the_known_ones() {
        for bad in ["ECDSA-P256", "ed25519", "rsa-1024", ""] {
            let err = bad.parse::<KeyType>().unwrap_err();
            match &err {
                Error::Invalid { field, message } => {
                    assert_eq!(field, "key_type");
                    assert!(message.contains(&format!("{bad:?}")), "{message}");
                    assert!(message.ends_with(KNOWN), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(serde_json::from_str::<KeyType>("\"rsa-1024\"").is_err());
    }
}
