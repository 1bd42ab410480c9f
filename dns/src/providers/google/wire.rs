//! The JSON bodies that the Google Cloud DNS provider reads and sends: the service account key
//! file, the claims of the JWT bearer grant and the token answer, and the Cloud DNS v1 RRset
//! list. Change requests are built as JSON values, echoing RRsets as listed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The fields of a service account key file that the grant needs.
#[derive(Deserialize)]
pub(super) struct KeyFile {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) client_email: String,
    pub(super) private_key: String,
    pub(super) private_key_id: Option<String>,
    pub(super) token_uri: Option<String>,
}

/// The claims of the JWT assertion.
#[derive(Serialize)]
pub(super) struct Claims<'a> {
    pub(super) iss: &'a str,
    pub(super) scope: &'a str,
    pub(super) aud: &'a str,
    pub(super) iat: u64,
    pub(super) exp: u64,
}

/// The token endpoint's answer to the JWT bearer grant.
#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    pub(super) access_token: String,
    pub(super) expires_in: u64,
}

/// A `resourceRecordSets.list` answer; the RRsets are kept as listed, since a change's
/// deletion must echo one exactly.
/// `managedZones.get`, of which only the DNS name is read.
#[derive(Deserialize)]
pub(super) struct ManagedZone {
    #[serde(rename = "dnsName")]
    pub(super) dns_name: String,
}

#[derive(Deserialize)]
pub(super) struct RrsetList {
    #[serde(default)]
    pub(super) rrsets: Vec<Value>,
}
