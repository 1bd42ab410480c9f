//! The schemas of the OpenAPI document that are not the handlers' own types: the error body
//! every error carries, and the response shapes handlers assemble as JSON around the domain
//! records. Handlers name them in their `#[utoipa::path]` annotations; the shapes are never
//! built, they describe what the handler's `json!` writes.

use std::collections::BTreeMap;

use scaivault_domain::account::AccountRecord;
use scaivault_domain::certificate::{CertificateRecord, CertificateVersion};
use scaivault_domain::dns_provider::{DnsChallengeRecord, DnsProviderRecord};
use scaivault_domain::event::Event;
use scaivault_domain::order::{ChallengeRecord, OrderRecord};
use scaivault_domain::provider::{Provider, ProviderStatus};
use scaivault_domain::revocation::RevocationReason;
use scaivault_domain::secret::SecretRecord;
use scaivault_domain::token::TokenRecord;
use scaivault_domain::webhook::{DeliveryRecord, WebhookRecord};
use serde::Serialize;
use utoipa::ToSchema;

/// Every error the API sends (see [`super::error::ApiError`]).
#[derive(utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable: `invalid_request`, `invalid_json`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `rate_limited`, `backend_rate_limited`, `backend_error`, `ca_rejected`,
    /// `eab_required`, `provider_discontinued`, `no_private_key`, `payload_too_large`,
    /// `unsupported_media_type`, `method_not_allowed`, `unavailable`, `internal`.
    code: String,
    message: String,
    /// Depends on the code: `field` (the offending field), `required_scope`, `retry_after`
    /// (seconds, also in the `Retry-After` header), `ca_problem` (the CA's RFC 7807 problem).
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// Each dependency: `database` (`ok`, `unreachable`) and `actors` (`ok`, `stopped`).
    pub checks: BTreeMap<String, String>,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub instance_id: String,
}

/// A new token: the record and, only this once, its value.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub record: TokenRecord,
    /// The bearer token. Shown only here; store it.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenRecord>,
}

/// A secret with its value.
#[derive(Serialize, ToSchema)]
pub struct SecretWithValue {
    #[serde(flatten)]
    pub record: SecretRecord,
    pub value: String,
}

/// One ACME provider.
#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    pub name: Provider,
    pub display_name: String,
    pub status: ProviderStatus,
    /// When the provider stopped its ACME service, for discontinued ones.
    pub discontinued_on: Option<String>,
    /// Whether the CA refuses accounts without External Account Binding (RFC 8555 §7.3.4).
    pub eab_required: bool,
    /// The directory URL per environment (`null` where the provider has none).
    pub environments: ProviderEnvironments,
    pub notes: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderEnvironments {
    pub production: Option<String>,
    pub staging: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    pub providers: Vec<ProviderView>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountRecord>,
}

/// An order with each challenge to answer.
#[derive(Serialize, ToSchema)]
pub struct OrderWithChallenges {
    #[serde(flatten)]
    pub order: OrderRecord,
    pub challenges: Vec<ChallengeRecord>,
}

/// An order with its challenges and, for dns-01, its TXT records.
#[derive(Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderRecord,
    pub challenges: Vec<ChallengeRecord>,
    /// dns-01 only: where each TXT value went and whether its removal is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_records: Option<Vec<DnsChallengeRecord>>,
}

/// A renewal order; `joined` when it is the renewal already in flight.
#[derive(Serialize, ToSchema)]
pub struct RenewalOrder {
    #[serde(flatten)]
    pub order: OrderRecord,
    pub challenges: Vec<ChallengeRecord>,
    pub joined: bool,
}

/// A page of orders, newest first.
#[derive(Serialize, ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderRecord>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A page of managed certificates, newest first.
#[derive(Serialize, ToSchema)]
pub struct CertificateList {
    pub certificates: Vec<CertificateRecord>,
    pub next_cursor: Option<String>,
}

/// A managed certificate with every version; serial numbers as `1A:2B:..`.
#[derive(Serialize, ToSchema)]
pub struct CertificateDetail {
    #[serde(flatten)]
    pub certificate: CertificateRecord,
    pub versions: Vec<CertificateVersion>,
}

/// The outcome of `POST /v1/pki/revoke`.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// As `1A:2B:..`.
    pub serial_number: String,
    pub certificate_id: String,
    pub version: i64,
    pub order_id: String,
    /// Always `revoked`.
    pub status: String,
    pub reason: RevocationReason,
    #[schema(format = DateTime)]
    pub revoked_at: String,
    /// Whether the CA was told (RFC 8555 §7.6).
    pub via_acme: bool,
    /// Whether the managed certificate itself is now revoked (its current version was).
    pub certificate_revoked: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DnsProviderList {
    pub dns_providers: Vec<DnsProviderRecord>,
}

/// A page of events, oldest first.
#[derive(Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

/// A webhook as shown after its creation: never the secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    #[serde(flatten)]
    pub record: WebhookRecord,
    /// Always `true`.
    pub secret_set: bool,
}

/// A new webhook with, only this once, its signing secret.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub record: WebhookRecord,
    pub secret_set: bool,
    /// The HMAC-SHA256 key of `X-ScaiVault-Signature`. Shown only here.
    pub secret: String,
}

/// A page of webhooks, newest first.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
    pub next_cursor: Option<String>,
}

/// A page of a webhook's deliveries, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryRecord>,
    pub next_cursor: Option<String>,
}
