//! `GET /healthz` and `GET /readyz`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// Each dependency: `database` (`ok`, `unreachable`) and `actors` (`ok`, `stopped`).
    pub checks: BTreeMap<String, String>,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub instance_id: String,
}
