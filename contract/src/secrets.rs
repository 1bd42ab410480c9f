//! `/v1/secrets/{path}`.

use scaivault_domain::secret::SecretRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

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
