//! The JSON bodies of the Hetzner Cloud API's DNS part that this provider reads: zones, TXT
//! RRsets, RRset actions and error answers. Action requests are sent as JSON values.

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct ErrorReply {
    pub(super) error: ApiError,
}

#[derive(Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub(super) code: String,
    #[serde(default)]
    pub(super) message: String,
}

#[derive(Deserialize)]
pub(super) struct ZoneReply {
    pub(super) zone: Zone,
}

#[derive(Deserialize)]
pub(super) struct ZoneList {
    #[serde(default)]
    pub(super) zones: Vec<Zone>,
}

#[derive(Deserialize)]
pub(super) struct Zone {
    pub(super) id: serde_json::Value,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct RrSetReply {
    pub(super) rrset: RrSet,
}

#[derive(Deserialize)]
pub(super) struct RrSet {
    #[serde(default)]
    pub(super) records: Vec<RecordValue>,
}

#[derive(Deserialize)]
pub(super) struct RecordValue {
    pub(super) value: String,
}

#[derive(Deserialize)]
pub(super) struct ActionReply {
    pub(super) action: Action,
}

#[derive(Deserialize)]
pub(super) struct Action {
    pub(super) id: u64,
    pub(super) status: String,
    pub(super) error: Option<ApiError>,
}
