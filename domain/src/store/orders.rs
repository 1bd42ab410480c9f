//! Orders and their challenges: what an order actor persists before each step, and what the
//! challenge responders serve.

use async_trait::async_trait;

use crate::Result;
use crate::order::{ChallengeRecord, OrderProgress, OrderQuery, OrderRecord};

#[async_trait]
pub trait OrderStore: Send + Sync + std::fmt::Debug {
    /// Stores a new order with its challenges, in one transaction.
    async fn insert_order(&self, order: &OrderRecord, challenges: &[ChallengeRecord])
    -> Result<()>;
    /// The order with this id.
    async fn get_order(&self, id: &str) -> Result<Option<OrderRecord>>;
    /// An order with its challenges (ordered by domain), in one round trip: what
    /// `GET /v1/pki/acme/orders/{id}` shows.
    async fn get_order_with_challenges(
        &self,
        id: &str,
    ) -> Result<Option<(OrderRecord, Vec<ChallengeRecord>)>>;
    /// A page of orders, newest first.
    async fn list_orders(&self, query: &OrderQuery) -> Result<Vec<OrderRecord>>;
    /// Ids of orders not in a final status, oldest first (resumed at start-up).
    async fn unfinished_orders(&self) -> Result<Vec<String>>;
    /// Points the order at a new order placed at the CA with its challenges (the old ones are
    /// dropped), back to `pending`, and counts the attempt; returns the new count.
    async fn replace_ca_order(
        &self,
        id: &str,
        order_url: &str,
        challenges: &[ChallengeRecord],
    ) -> Result<i64>;
    /// Records an order's new status (and error); `false` when there is no such order.
    async fn set_order_progress(&self, id: &str, progress: &OrderProgress) -> Result<bool>;
    /// Stores the sealed private key generated for an order, before its CSR goes to the CA, so a
    /// crash after finalisation still has the key for the certificate.
    async fn set_order_key(&self, id: &str, sealed_key: &[u8]) -> Result<()>;
    /// The sealed private key generated for an order.
    async fn order_key(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Counts one more restart of the order's actor; returns the new count.
    async fn count_order_restart(&self, id: &str) -> Result<i64>;
    /// The certificate's renewal order that has not finished yet, if any.
    async fn renewal_in_flight(&self, certificate_id: &str) -> Result<Option<OrderRecord>>;
    /// The order's challenges.
    async fn order_challenges(&self, order_id: &str) -> Result<Vec<ChallengeRecord>>;
    /// Ends every unfinished order of the account with `progress` (its account was
    /// deactivated); how many.
    async fn end_orders_of_account(
        &self,
        account_id: &str,
        progress: &OrderProgress,
    ) -> Result<u64>;
    /// Records a challenge's status (and error).
    async fn set_challenge_status(
        &self,
        order_id: &str,
        domain: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<()>;
    /// Replaces a challenge's key authorization: the account key changed (RFC 8555 §7.3.5)
    /// before the challenge was answered, and the CA expects the new key's.
    async fn set_challenge_key_authorization(
        &self,
        order_id: &str,
        domain: &str,
        key_authorization: &str,
    ) -> Result<()>;
    /// The key authorization to serve for an http-01 `token` of an unfinished order.
    async fn http01_key_authorization(&self, token: &str) -> Result<Option<String>>;
    /// The key authorization to prove for `domain` over tls-alpn-01, for an unfinished order.
    async fn tls_alpn01_key_authorization(&self, domain: &str) -> Result<Option<String>>;
    /// `(status, count)` of orders, one row per status that has orders, in one statement
    /// whatever the number of orders (`GET /metrics`).
    async fn order_counts_by_status(&self) -> Result<Vec<(String, i64)>>;
}
