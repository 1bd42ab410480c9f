//! The JSON bodies of the DigitalOcean API v2 that this provider reads: domains, paged domain
//! record lists and error answers. Records are created from a JSON value.

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub(super) id: String,
    #[serde(default)]
    pub(super) message: String,
}

#[derive(Deserialize)]
pub(super) struct DomainReply {
    pub(super) domain: Domain,
}

#[derive(Deserialize)]
pub(super) struct Domain {
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct RecordList {
    #[serde(default)]
    pub(super) domain_records: Vec<Record>,
    pub(super) links: Option<Links>,
}

#[derive(Deserialize)]
pub(super) struct Links {
    pub(super) pages: Option<Pages>,
}

#[derive(Deserialize)]
pub(super) struct Pages {
    pub(super) next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Record {
    pub(super) id: u64,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) data: String,
}
