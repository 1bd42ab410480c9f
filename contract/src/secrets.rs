//! `/v1/secrets` and `/v1/secrets/{path}`.

use scaivault_domain::secret::{SecretInfo, SecretRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// `PUT /v1/secrets/{path}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    pub value: String,
}

/// A secret without its value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Secret {
    pub path: String,
    /// 1 at creation, one more at every write.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&SecretRecord> for Secret {
    fn from(record: &SecretRecord) -> Self {
        Self {
            path: record.path.clone(),
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// A secret with its value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretWithValue {
    #[serde(flatten)]
    pub record: Secret,
    pub value: String,
}

/// `GET /v1/secrets?prefix=&limit=&cursor=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListSecrets {
    /// Only paths that begin with it, byte for byte (`infra/aws/`, or `infra/aw`); all when
    /// absent or empty.
    pub prefix: Option<String>,
    /// 1 to 100; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A secret in a listing: its path and history, never its value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretSummary {
    pub path: String,
    /// 1 at creation, one more at every write.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&SecretInfo> for SecretSummary {
    fn from(info: &SecretInfo) -> Self {
        Self {
            path: info.path.clone(),
            version: info.version,
            created_at: info.created_at,
            updated_at: info.updated_at,
        }
    }
}

/// A page of secrets, newest first (by creation; replacing a value keeps its place).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretSummary>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
