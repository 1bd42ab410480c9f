//! The JSON bodies of the Azure APIs that this provider exchanges: the Microsoft identity
//! platform's token answer, and ARM's TXT record sets (api-version 2018-05-01) and errors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An ARM error answer (`{"error":{"code","message"}}`).
#[derive(Deserialize)]
pub(super) struct ArmError {
    pub(super) error: ArmErrorDetail,
}

#[derive(Deserialize)]
pub(super) struct ArmErrorDetail {
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    pub(super) access_token: String,
    pub(super) expires_in: Seconds,
}

/// `expires_in` as a number (v2.0 endpoint) or a string (v1.0 endpoint).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Seconds {
    Number(u64),
    Text(String),
}

impl Seconds {
    pub(super) fn seconds(&self) -> u64 {
        match self {
            Seconds::Number(n) => *n,
            Seconds::Text(s) => s.trim().parse().unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RecordSet {
    pub(super) etag: Option<String>,
    #[serde(default)]
    pub(super) properties: Properties,
}

#[derive(Serialize)]
pub(super) struct RecordSetBody {
    pub(super) properties: Properties,
}

/// The writable part of `properties`: TTL, TXT records and metadata (kept across writes,
/// since PUT replaces the whole record set).
#[derive(Serialize, Deserialize, Clone, Default)]
pub(super) struct Properties {
    #[serde(rename = "TTL", skip_serializing_if = "Option::is_none")]
    pub(super) ttl: Option<u64>,
    #[serde(rename = "TXTRecords", default)]
    pub(super) txt_records: Vec<TxtRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) metadata: Option<Map<String, Value>>,
}

#[derive(Serialize, Deserialize, Clone)]
pub(super) struct TxtRecord {
    #[serde(default)]
    pub(super) value: Vec<String>,
}
