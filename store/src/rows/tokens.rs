//! API tokens and secrets.

use scaivault_domain::secret::{SecretInfo, SecretRecord};
use scaivault_domain::timestamp::from_millis;
use scaivault_domain::token::TokenRecord;
use scaivault_domain::{Error, Result, scope};

/// `api_tokens`.
#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    id: String,
    name: String,
    scopes: String,
    secret_hash: Vec<u8>,
    created_at: i64,
    expires_at: Option<i64>,
}

impl TokenRow {
    pub(crate) fn into_record(self) -> Result<TokenRecord> {
        Ok(TokenRecord {
            id: self.id,
            name: self.name,
            scopes: scope::split(&self.scopes)?,
            secret_hash: self
                .secret_hash
                .try_into()
                .map_err(|_| Error::corrupt("column secret_hash: not 32 bytes"))?,
            created_at: from_millis(self.created_at),
            expires_at: self.expires_at.map(from_millis),
        })
    }
}

/// `secrets`.
#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow {
    path: String,
    sealed: Vec<u8>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl SecretRow {
    pub(crate) fn into_record(self) -> SecretRecord {
        SecretRecord {
            path: self.path,
            sealed: self.sealed,
            version: self.version,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        }
    }
}

/// `secrets` without the sealed value (listings).
#[derive(sqlx::FromRow)]
pub(crate) struct SecretInfoRow {
    path: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl SecretInfoRow {
    pub(crate) fn into_record(self) -> SecretInfo {
        SecretInfo {
            path: self.path,
            version: self.version,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        }
    }
}
