//! API token scopes, as API.md names them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What a token may do. Scopes are independent: `admin` does not imply `pki:keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "pki:read")]
    PkiRead,
    #[serde(rename = "pki:write")]
    PkiWrite,
    #[serde(rename = "pki:keys")]
    PkiKeys,
    #[serde(rename = "secrets:read")]
    SecretsRead,
    #[serde(rename = "secrets:write")]
    SecretsWrite,
    /// Tokens, webhooks and DNS providers.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope; the bootstrap admin token has all of them.
    pub const ALL: [Scope; 6] = [
        Scope::PkiRead,
        Scope::PkiWrite,
        Scope::PkiKeys,
        Scope::SecretsRead,
        Scope::SecretsWrite,
        Scope::Admin,
    ];

    /// The wire name, e.g. `pki:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PkiRead => "pki:read",
            Scope::PkiWrite => "pki:write",
            Scope::PkiKeys => "pki:keys",
            Scope::SecretsRead => "secrets:read",
            Scope::SecretsWrite => "secrets:write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "scopes",
                    format!(
                        "unknown scope {s:?}; known: {}",
                        Scope::ALL.map(Scope::as_str).join(", ")
                    ),
                )
            })
    }
}

/// Scopes as stored: one space-separated string, sorted and de-duplicated.
pub fn join(scopes: &[Scope]) -> String {
    let mut sorted = scopes.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The inverse of [`join`].
pub fn split(stored: &str) -> Result<Vec<Scope>, Error> {
    stored.split_whitespace().map(Scope::from_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown() {
        let joined = join(&[Scope::Admin, Scope::PkiRead, Scope::Admin]);
        assert_eq!(joined, "pki:read admin");
        assert_eq!(
            split(&joined).expect("split"),
            vec![Scope::PkiRead, Scope::Admin]
        );
        assert!("pki:everything".parse::<Scope>().is_err());
    }
}
