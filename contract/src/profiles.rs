//! A CA's certificate profiles and their limits, as `GET /v1/pki/acme/providers` lists them.

use scaivault_domain::profile::{ProfileInfo, Scheduled};
use scaivault_domain::timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CommonName;

/// One profile (draft-ietf-acme-profiles) with the limits the service checks before ordering.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileView {
    pub name: String,
    /// The profile of an order that names none.
    pub default: bool,
    pub description: String,
    /// Most identifiers per order; more is refused with 400 before the CA is asked.
    pub max_names: usize,
    pub common_name: CommonName,
    /// How long the CA keeps a pending authorization: dns-01 propagation must fit in it.
    pub pending_authorization_seconds: u64,
    /// How long a valid authorization is reused, where the CA has published it.
    pub authorization_reuse: Option<ScheduledView>,
    /// The certificates' lifetime, with its announced changes.
    pub lifetime: ScheduledView,
    /// Whether IP-address identifiers may be ordered under it.
    pub ip_addresses: bool,
}

/// A duration with the dates it changes on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduledView {
    /// In force now.
    pub current_seconds: u64,
    /// Before the first change.
    pub initial_seconds: u64,
    /// The announced changes, in date order (past ones included).
    pub changes: Vec<ScheduledChange>,
}

/// From `from` (a UTC date, `YYYY-MM-DD`) on, the value is `seconds`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduledChange {
    pub from: String,
    pub seconds: u64,
}

impl From<&Scheduled> for ScheduledView {
    fn from(value: &Scheduled) -> Self {
        Self {
            current_seconds: value.at(timestamp::now()).as_secs(),
            initial_seconds: value.initial.as_secs(),
            changes: value
                .steps
                .iter()
                .map(|(from, duration)| ScheduledChange {
                    from: from.to_string(),
                    seconds: duration.as_secs(),
                })
                .collect(),
        }
    }
}

impl From<&ProfileInfo> for ProfileView {
    fn from(info: &ProfileInfo) -> Self {
        Self {
            name: info.name.to_owned(),
            default: info.default,
            description: info.description.to_owned(),
            max_names: info.max_names,
            common_name: info.common_name.into(),
            pending_authorization_seconds: info.pending_authorization.as_secs(),
            authorization_reuse: info.authorization_reuse.as_ref().map(ScheduledView::from),
            lifetime: ScheduledView::from(&info.lifetime),
            ip_addresses: info.ip_addresses,
        }
    }
}
