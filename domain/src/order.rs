//! ACME orders as ScaiVault keeps them (RFC 8555 §7.1.3), with the challenges it answers.
//!
//! The order row is written before every step of the flow, so an order can be resumed from the
//! store after a crash: together with the CA's own view of the order (fetched by URL) it says
//! exactly what is left to do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::pki::KeyType;
use crate::{Error, Result};

/// How domain control is proven (RFC 8555 §8.3, §8.4; RFC 8737).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChallengeType {
    #[serde(rename = "http-01")]
    Http01,
    #[serde(rename = "dns-01")]
    Dns01,
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

impl ChallengeType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeType::Http01 => "http-01",
            ChallengeType::Dns01 => "dns-01",
            ChallengeType::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

impl fmt::Display for ChallengeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChallengeType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "http-01" => Ok(ChallengeType::Http01),
            "dns-01" => Ok(ChallengeType::Dns01),
            "tls-alpn-01" => Ok(ChallengeType::TlsAlpn01),
            _ => Err(Error::invalid(
                "challenge_type",
                format!("unknown challenge type {s:?}; known: http-01, dns-01, tls-alpn-01"),
            )),
        }
    }
}

/// An order's status, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
    Deactivated,
    Revoked,
    Expired,
}

impl OrderStatus {
    /// Every status, for validation messages.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Ready,
        OrderStatus::Processing,
        OrderStatus::Valid,
        OrderStatus::Invalid,
        OrderStatus::Deactivated,
        OrderStatus::Revoked,
        OrderStatus::Expired,
    ];

    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Ready => "ready",
            OrderStatus::Processing => "processing",
            OrderStatus::Valid => "valid",
            OrderStatus::Invalid => "invalid",
            OrderStatus::Deactivated => "deactivated",
            OrderStatus::Revoked => "revoked",
            OrderStatus::Expired => "expired",
        }
    }

    /// Whether nothing more happens to an order in this status.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            OrderStatus::Pending | OrderStatus::Ready | OrderStatus::Processing
        )
    }
}

impl FromStr for OrderStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "status",
                    format!(
                        "unknown order status {s:?}; known: {}",
                        OrderStatus::ALL.map(OrderStatus::as_str).join(", ")
                    ),
                )
            })
    }
}

/// Why an order failed: a stable code and a message naming the domain, the challenge and the
/// CA's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderError {
    pub code: String,
    pub message: String,
}

impl OrderError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// An order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub id: String,
    pub account_id: String,
    /// The managed certificate this order renews, or the one it created once valid.
    pub certificate_id: Option<String>,
    pub domains: Vec<String>,
    pub challenge_type: ChallengeType,
    pub key_type: KeyType,
    /// The caller's CSR; then the service holds no private key.
    pub csr_pem: Option<String>,
    pub profile: Option<String>,
    pub auto_renew: bool,
    pub dns_provider_id: Option<String>,
    pub status: OrderStatus,
    /// The order's URL at the CA.
    pub order_url: String,
    pub error: Option<OrderError>,
    /// How many orders were placed at the CA for this one (see `Store::replace_ca_order`).
    pub ca_attempts: i64,
    pub not_after: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One identifier's challenge in an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    pub order_id: String,
    pub domain: String,
    pub challenge_type: ChallengeType,
    /// `pending`, `processing`, `valid` or `invalid` (RFC 8555 §7.1.6).
    pub status: String,
    pub token: String,
    pub key_authorization: String,
    pub authorization_url: String,
    pub challenge_url: String,
    pub error: Option<String>,
}

/// The associated data an order's generated private key is sealed with.
pub fn order_key_aad(order_id: &str) -> String {
    format!("acme_order_key:{order_id}")
}

/// A page of orders for `GET /v1/pki/acme/orders`.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub status: Option<OrderStatus>,
    pub limit: u32,
    /// Keyset cursor: orders strictly older than this `(created_at millis, id)`.
    pub before: Option<(i64, String)>,
}

/// What changes when an order makes progress.
#[derive(Debug, Clone)]
pub struct OrderProgress {
    pub status: OrderStatus,
    pub error: Option<OrderError>,
    pub at: OffsetDateTime,
}
