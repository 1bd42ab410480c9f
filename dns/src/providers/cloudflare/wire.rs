//! The JSON bodies of the Cloudflare API v4 that this provider reads: the response envelope
//! and the zone and DNS record objects in its `result`.

use serde::Deserialize;

/// The v4 response envelope.
#[derive(Deserialize)]
pub(super) struct Envelope<T> {
    #[serde(default)]
    pub(super) success: bool,
    #[serde(default)]
    pub(super) errors: Vec<ApiMessage>,
    pub(super) result: Option<T>,
    pub(super) result_info: Option<ResultInfo>,
}

#[derive(Deserialize)]
pub(super) struct ApiMessage {
    #[serde(default)]
    pub(super) code: i64,
    #[serde(default)]
    pub(super) message: String,
}

#[derive(Deserialize)]
pub(super) struct ResultInfo {
    pub(super) total_pages: Option<u32>,
}

#[derive(Deserialize)]
pub(super) struct Zone {
    pub(super) id: String,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct Record {
    pub(super) id: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) content: String,
}
