//! Secrets stored under paths such as `infra/aws/route53/access-key-id`. DNS providers refer to
//! them by path, so a path is validated strictly: it is part of other records' configuration.

use time::OffsetDateTime;

use crate::seal::MasterKey;
use crate::{Error, Result};

impl SecretRecord {
    /// The value as text without surrounding whitespace, as credentials are used; `None` when
    /// it is not UTF-8.
    pub fn open_text(&self, key: &MasterKey) -> Result<Option<String>> {
        let plain = key.open(&aad(&self.path), &self.sealed)?;
        Ok(String::from_utf8(plain)
            .ok()
            .map(|text| text.trim().to_owned()))
    }
}

/// Longest accepted path, in bytes.
pub const MAX_PATH_LEN: usize = 512;
/// Largest accepted value, in bytes.
pub const MAX_VALUE_LEN: usize = 64 * 1024;

/// A stored secret; `sealed` holds the value sealed under [`aad`] of the path.
#[derive(Debug, Clone)]
pub struct SecretRecord {
    pub path: String,
    pub sealed: Vec<u8>,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A stored secret as a listing shows it: everything but the sealed value, which a listing
/// never reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub path: String,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The associated data a secret's value is sealed with: its record id.
pub fn aad(path: &str) -> String {
    format!("secret:{path}")
}

/// Checks a path: `/`-separated segments of `[A-Za-z0-9._-]`, none empty, `.` or `..`.
pub fn validate_path(path: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid("path", format!("{why}: {path:?}")));
    if path.is_empty() || path.len() > MAX_PATH_LEN {
        return bad(&format!("a secret path has 1 to {MAX_PATH_LEN} bytes"));
    }
    for segment in path.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return bad("a secret path has no empty, '.' or '..' segments");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return bad("a secret path uses only letters, digits, '.', '_', '-' and '/'");
        }
    }
    Ok(())
}

/// Checks a listing's path prefix: the beginning of a path, so the same characters (`/`
/// included, as in `infra/aws/`) and at most [`MAX_PATH_LEN`] bytes; empty matches every path.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.len() > MAX_PATH_LEN {
        return Err(Error::invalid(
            "prefix",
            format!("a path prefix has at most {MAX_PATH_LEN} bytes"),
        ));
    }
    if !prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
    {
        return Err(Error::invalid(
            "prefix",
            format!("a path prefix uses only letters, digits, '.', '_', '-' and '/': {prefix:?}"),
        ));
    }
    Ok(())
}

/// Checks a value's size.
pub fn validate_value(value: &str) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::invalid(
            "value",
            format!("a secret value has at most {MAX_VALUE_LEN} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(validate_path("infra/aws/route53/access-key-id").is_ok());
        assert!(validate_path("a").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a/../b", "a b", "a/./b", "ä"] {
            assert!(validate_path(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_path(&"a".repeat(MAX_PATH_LEN + 1)).is_err());
    }

    #[test]
    fn prefixes() {
        for good in ["", "infra/", "infra/aw", "dns/bind/tsig", "a.b_c-d"] {
            assert!(validate_prefix(good).is_ok(), "{good:?} must be accepted");
        }
        for bad in ["a b", "a%", "ä", "a\\b"] {
            assert!(validate_prefix(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_prefix(&"a".repeat(MAX_PATH_LEN + 1)).is_err());
    }
}
