//! Orders and their challenges.

use scaivault_domain::order::{ChallengeRecord, OrderError, OrderRecord};
use scaivault_domain::timestamp::from_millis;
use scaivault_domain::{Error, Result};

use super::{from_json, stored};

/// `acme_orders`, as `SELECT_ORDER` in `orders.rs` reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct OrderRow {
    id: String,
    account_id: String,
    certificate_id: Option<String>,
    domains: String,
    challenge_type: String,
    key_type: String,
    csr_pem: Option<String>,
    profile: Option<String>,
    auto_renew: i64,
    dns_provider_id: Option<String>,
    status: String,
    order_url: String,
    error_code: Option<String>,
    error_message: Option<String>,
    not_after: Option<i64>,
    created_at: i64,
    updated_at: i64,
    ca_attempts: i64,
}

impl OrderRow {
    pub(crate) fn into_record(self) -> Result<OrderRecord> {
        let error = match (self.error_code, self.error_message) {
            (Some(code), Some(message)) => Some(OrderError { code, message }),
            _ => None,
        };
        Ok(OrderRecord {
            id: self.id,
            account_id: self.account_id,
            certificate_id: self.certificate_id,
            domains: from_json("domains", &self.domains)?,
            challenge_type: stored("challenge_type", &self.challenge_type)?,
            key_type: stored("key_type", &self.key_type)?,
            csr_pem: self.csr_pem,
            profile: self.profile,
            auto_renew: self.auto_renew != 0,
            dns_provider_id: self.dns_provider_id,
            status: stored("status", &self.status)?,
            order_url: self.order_url,
            error,
            ca_attempts: self.ca_attempts,
            not_after: self.not_after.map(from_millis),
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

/// `acme_challenges`.
#[derive(sqlx::FromRow)]
pub(crate) struct ChallengeRow {
    order_id: String,
    domain: String,
    challenge_type: String,
    status: String,
    token: String,
    key_authorization: String,
    authorization_url: String,
    challenge_url: String,
    error: Option<String>,
}

impl ChallengeRow {
    pub(crate) fn into_record(self) -> Result<ChallengeRecord> {
        Ok(ChallengeRecord {
            order_id: self.order_id,
            domain: self.domain,
            challenge_type: stored("challenge_type", &self.challenge_type)?,
            status: self.status,
            token: self.token,
            key_authorization: self.key_authorization,
            authorization_url: self.authorization_url,
            challenge_url: self.challenge_url,
            error: self.error,
        })
    }
}

/// An order joined with one of its challenges (their columns prefixed `c_`), or with none
/// (every `c_` column NULL): `SELECT_ORDER_WITH_CHALLENGES` in `orders.rs`.
#[derive(sqlx::FromRow)]
pub(crate) struct OrderWithChallengeRow {
    #[sqlx(flatten)]
    order: OrderRow,
    c_order_id: Option<String>,
    c_domain: Option<String>,
    c_challenge_type: Option<String>,
    c_status: Option<String>,
    c_token: Option<String>,
    c_key_authorization: Option<String>,
    c_authorization_url: Option<String>,
    c_challenge_url: Option<String>,
    c_error: Option<String>,
}

impl OrderWithChallengeRow {
    /// The order, and the challenge when the row has one.
    pub(crate) fn into_parts(self) -> Result<(OrderRow, Option<ChallengeRecord>)> {
        let Some(order_id) = self.c_order_id else {
            return Ok((self.order, None));
        };
        // NOT NULL columns of `acme_challenges`: NULL only when the join found no challenge.
        let column = |name: &str, value: Option<String>| {
            value.ok_or_else(|| Error::corrupt(format!("column {name}: NULL beside an order id")))
        };
        let challenge = ChallengeRow {
            order_id,
            domain: column("c_domain", self.c_domain)?,
            challenge_type: column("c_challenge_type", self.c_challenge_type)?,
            status: column("c_status", self.c_status)?,
            token: column("c_token", self.c_token)?,
            key_authorization: column("c_key_authorization", self.c_key_authorization)?,
            authorization_url: column("c_authorization_url", self.c_authorization_url)?,
            challenge_url: column("c_challenge_url", self.c_challenge_url)?,
            error: self.c_error,
        };
        Ok((self.order, Some(challenge.into_record()?)))
    }
}
