//! The XML bodies of the Route 53 API (2013-04-01) that this provider sends and reads:
//! `ChangeResourceRecordSets` requests, `ListResourceRecordSets` answers and error answers.

use serde::{Deserialize, Serialize};

#[derive(Serialize)]
#[serde(rename = "ChangeResourceRecordSetsRequest")]
pub(super) struct ChangeRequest<'a> {
    #[serde(rename = "@xmlns")]
    pub(super) xmlns: &'static str,
    #[serde(rename = "ChangeBatch")]
    pub(super) batch: ChangeBatch<'a>,
}

#[derive(Serialize)]
pub(super) struct ChangeBatch<'a> {
    #[serde(rename = "Comment")]
    pub(super) comment: &'static str,
    #[serde(rename = "Changes")]
    pub(super) changes: Changes<'a>,
}

#[derive(Serialize)]
pub(super) struct Changes<'a> {
    #[serde(rename = "Change")]
    pub(super) change: Vec<Change<'a>>,
}

#[derive(Serialize)]
pub(super) struct Change<'a> {
    #[serde(rename = "Action")]
    pub(super) action: &'static str,
    #[serde(rename = "ResourceRecordSet")]
    pub(super) set: RecordSet<'a>,
}

#[derive(Serialize)]
pub(super) struct RecordSet<'a> {
    #[serde(rename = "Name")]
    pub(super) name: &'a str,
    #[serde(rename = "Type")]
    pub(super) kind: &'static str,
    #[serde(rename = "TTL")]
    pub(super) ttl: u64,
    #[serde(rename = "ResourceRecords")]
    pub(super) records: Records,
}

#[derive(Serialize)]
pub(super) struct Records {
    #[serde(rename = "ResourceRecord")]
    pub(super) record: Vec<Record>,
}

#[derive(Serialize)]
pub(super) struct Record {
    #[serde(rename = "Value")]
    pub(super) value: String,
}

/// `GetHostedZone`'s answer, of which only the zone's name is read.
#[derive(Deserialize)]
pub(super) struct HostedZoneResponse {
    #[serde(rename = "HostedZone")]
    pub(super) zone: HostedZone,
}

#[derive(Deserialize)]
pub(super) struct HostedZone {
    #[serde(rename = "Name")]
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct ListResponse {
    #[serde(rename = "ResourceRecordSets", default)]
    pub(super) sets: ListedSets,
}

#[derive(Deserialize, Default)]
pub(super) struct ListedSets {
    #[serde(rename = "ResourceRecordSet", default)]
    pub(super) items: Vec<ListedSet>,
}

#[derive(Deserialize)]
pub(super) struct ListedSet {
    #[serde(rename = "Name")]
    pub(super) name: String,
    #[serde(rename = "Type")]
    pub(super) kind: String,
    #[serde(rename = "TTL")]
    pub(super) ttl: Option<u64>,
    #[serde(rename = "SetIdentifier")]
    pub(super) set_identifier: Option<String>,
    #[serde(rename = "ResourceRecords", default)]
    pub(super) records: ListedRecords,
}

impl ListedSet {
    /// The record values exactly as Route 53 lists them (quoted character-strings).
    pub(super) fn values(self) -> Vec<String> {
        self.records.items.into_iter().map(|r| r.value).collect()
    }
}

#[derive(Deserialize, Default)]
pub(super) struct ListedRecords {
    #[serde(rename = "ResourceRecord", default)]
    pub(super) items: Vec<ListedRecord>,
}

#[derive(Deserialize)]
pub(super) struct ListedRecord {
    #[serde(rename = "Value")]
    pub(super) value: String,
}

#[derive(Deserialize)]
pub(super) struct ErrorResponse {
    #[serde(rename = "Error")]
    pub(super) error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
pub(super) struct ErrorDetail {
    #[serde(rename = "Code")]
    pub(super) code: String,
    #[serde(rename = "Message")]
    pub(super) message: Option<String>,
}

/// `<InvalidChangeBatch><Messages><Message>…` (a 400 answer to a change batch).
#[derive(Deserialize)]
pub(super) struct InvalidChangeBatch {
    #[serde(rename = "Messages", default)]
    pub(super) messages: BatchMessages,
}

#[derive(Deserialize, Default)]
pub(super) struct BatchMessages {
    #[serde(rename = "Message", default)]
    pub(super) items: Vec<String>,
}
