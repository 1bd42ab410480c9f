//! The one storage interface. SQLite and PostgreSQL implement it in the `store` crate, and the
//! same conformance suite runs against both, so the rest of the service never sees SQL.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::account::{AccountRecord, AccountStatus};
use crate::certificate::{CertificateRecord, CertificateVersion, Issuance};
use crate::dns_provider::{DnsChallengeRecord, DnsProviderRecord};
use crate::event::{Event, EventQuery};
use crate::lease::OrderLease;
use crate::order::{ChallengeRecord, OrderProgress, OrderQuery, OrderRecord};
use crate::rate_limit::{LedgerEntry, LedgerKey};
use crate::revocation::Revocation;
use crate::secret::SecretRecord;
use crate::token::TokenRecord;
use crate::webhook::{DeliveryAttempt, DeliveryRecord, DeliveryStatus, WebhookRecord};

/// A store shared by every part of the service.
pub type SharedStore = Arc<dyn Store>;

/// Persistence for every record the service keeps.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<()>;
    /// Which backend this is (`sqlite` or `postgres`), for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Sets `key` to `value` only if it has no value yet; `true` when this call set it. Atomic,
    /// so when several instances start together exactly one wins (e.g. the bootstrap token).
    async fn set_meta_if_absent(&self, key: &str, value: &str) -> Result<bool>;
    /// The value of `key`.
    async fn get_meta(&self, key: &str) -> Result<Option<String>>;

    /// Stores a new token.
    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    /// The token with this id.
    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>>;
    /// Every token, newest first.
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>>;
    /// Deletes a token; `false` when there was none.
    async fn delete_token(&self, id: &str) -> Result<bool>;

    /// Creates or replaces the secret at `record.path`; returns the stored record with its
    /// version (1 when created, incremented on each replacement) and created_at kept.
    async fn put_secret(&self, record: &SecretRecord) -> Result<SecretRecord>;
    /// The secret at `path`.
    async fn get_secret(&self, path: &str) -> Result<Option<SecretRecord>>;
    /// Deletes the secret at `path`; `false` when there was none.
    async fn delete_secret(&self, path: &str) -> Result<bool>;

    /// Stores a new account with its sealed credentials; `Error::Conflict` when the name is
    /// taken.
    async fn insert_account(
        &self,
        account: &AccountRecord,
        sealed_credentials: &[u8],
    ) -> Result<()>;
    /// The account with this id.
    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>>;
    /// Every account, newest first.
    async fn list_accounts(&self) -> Result<Vec<AccountRecord>>;
    /// The account's sealed credentials.
    async fn account_credentials(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Records a status change; `false` when there is no such account.
    async fn set_account_status(
        &self,
        id: &str,
        status: AccountStatus,
        at: OffsetDateTime,
    ) -> Result<bool>;

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
    /// Records a challenge's status (and error).
    async fn set_challenge_status(
        &self,
        order_id: &str,
        domain: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<()>;
    /// Takes the order's lease for `owner` until `expires_at`, atomically: only if nobody holds
    /// it, its lease expired before `now`, or `owner` already holds it (then it is extended).
    /// `true` when `owner` holds it now.
    async fn acquire_order_lease(
        &self,
        order_id: &str,
        owner: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool>;
    /// Extends every lease `owner` holds to `expires_at` in one statement; returns the ids of
    /// the orders whose leases it still holds (a lease another instance took is not among them).
    async fn renew_order_leases(
        &self,
        owner: &str,
        expires_at: OffsetDateTime,
    ) -> Result<Vec<String>>;
    /// Hands the order's lease back if `owner` holds it; `true` when it did.
    async fn release_order_lease(&self, order_id: &str, owner: &str) -> Result<bool>;
    /// Hands back every lease `owner` holds (graceful shutdown); returns how many.
    async fn release_order_leases(&self, owner: &str) -> Result<u64>;
    /// Drops every lease not held by `owner`; returns how many. Only for a database one
    /// instance uses (SQLite), at start: any other holder is an earlier process that died.
    async fn clear_foreign_order_leases(&self, owner: &str) -> Result<u64>;
    /// Drops leases that expired before `now` on orders that are final (or gone); returns how
    /// many. An instance killed between recording an order's end and handing its lease back
    /// leaves such a row: nobody would ever take it over, so nobody else would delete it.
    async fn clear_stale_order_leases(&self, now: OffsetDateTime) -> Result<u64>;
    /// Unfinished orders nobody drives: without a lease or with one expired before `now`,
    /// oldest first.
    async fn claimable_orders(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<String>>;
    /// The order's lease, if any (expired or not).
    async fn get_order_lease(&self, order_id: &str) -> Result<Option<OrderLease>>;
    /// The key authorization to serve for an http-01 `token` of an unfinished order.
    async fn http01_key_authorization(&self, token: &str) -> Result<Option<String>>;
    /// The key authorization to prove for `domain` over tls-alpn-01, for an unfinished order.
    async fn tls_alpn01_key_authorization(&self, domain: &str) -> Result<Option<String>>;

    /// Writes an issuance atomically: certificate (inserted, or updated to the new version),
    /// the version, and the order marked valid. `Error::Conflict` if the order already has one.
    async fn record_issuance(&self, issuance: &Issuance) -> Result<()>;
    /// The managed certificate with this id.
    async fn get_certificate(&self, id: &str) -> Result<Option<CertificateRecord>>;
    /// A page of certificates, newest first; `before` is a `(created_at millis, id)` cursor.
    async fn list_certificates(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<CertificateRecord>>;
    /// Valid certificates not yet reported for their current version that expire before
    /// `expires_before` or were due for renewal before `overdue_before`.
    async fn expiring_certificates(
        &self,
        expires_before: OffsetDateTime,
        overdue_before: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>>;
    /// Records that `certificate.expiring` was sent for `version`.
    async fn mark_expiring_notified(&self, id: &str, version: i64) -> Result<()>;
    /// Marks every pending renewal task of the certificate except `keep_key` as killed
    /// (superseded by a new version's task); returns how many. Needs the job queue's tables.
    async fn supersede_renewal_tasks(&self, certificate_id: &str, keep_key: &str) -> Result<u64>;
    /// Up to `limit` valid, automatically renewed certificates with an id after `after` that have
    /// no live renewal task, by id. Needs the job queue's tables.
    async fn renewal_gaps(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<crate::renewal::RenewalGap>>;
    /// Stores the first renewal task of each gap (due at its `renew_at`) in one statement, in
    /// the form the job queue stores it; a task whose key exists is skipped. Returns how many
    /// were stored. Start-up fills 100,000 gaps this way in seconds, where one push each took
    /// minutes. Needs the job queue's tables.
    async fn insert_renewal_tasks(&self, gaps: &[crate::renewal::RenewalGap]) -> Result<u64>;
    /// Sets the renewal time of `version` of the certificate (if still current) and the CA's
    /// suggested window it was chosen in (RFC 9773), `None` without ARI. `false` if the
    /// certificate has moved on to another version.
    async fn set_renewal_plan(
        &self,
        id: &str,
        version: i64,
        renew_at: OffsetDateTime,
        window: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<bool>;
    /// The ARI window the current `renew_at` was chosen in, if any.
    async fn renewal_window(&self, id: &str) -> Result<Option<(OffsetDateTime, OffsetDateTime)>>;
    /// The keys of the certificate's live (pending, queued, running) renewal tasks.
    async fn pending_renewal_tasks(&self, certificate_id: &str) -> Result<Vec<String>>;
    /// A certificate's versions, newest first.
    async fn certificate_versions(&self, id: &str) -> Result<Vec<CertificateVersion>>;
    /// The sealed private key of one version.
    async fn version_key(&self, id: &str, version: i64) -> Result<Option<Vec<u8>>>;
    /// The certificate version with this serial (as `pki::normalize_serial` spells it), with
    /// its revocation if it has one.
    async fn version_by_serial(&self, serial: &str) -> Result<Option<CertificateVersion>>;
    /// Marks a version revoked in one transaction: the version (when, why, whether the CA was
    /// told), the order that produced it, the managed certificate when the version is its
    /// current one, and the `certificate.revoked` event. Returns whether the managed
    /// certificate became revoked. `Error::Conflict` (saying when) if the version is already
    /// revoked, then nothing is written; `Error::NotFound` if there is no such version.
    async fn record_revocation(&self, revocation: &Revocation) -> Result<bool>;

    /// Stores a DNS provider; `Error::Conflict` when the name is taken.
    async fn insert_dns_provider(&self, provider: &DnsProviderRecord) -> Result<()>;
    /// The DNS provider with this id.
    async fn get_dns_provider(&self, id: &str) -> Result<Option<DnsProviderRecord>>;
    /// Every DNS provider, newest first.
    async fn list_dns_providers(&self) -> Result<Vec<DnsProviderRecord>>;
    /// Deletes a DNS provider unless an unfinished order uses it (`Error::Conflict`), atomically;
    /// `false` when there was none.
    async fn delete_dns_provider(&self, id: &str) -> Result<bool>;

    /// Records that an order is about to write `record` (state `present`), before the write, so
    /// a crash in between still leaves a record to clean up.
    async fn upsert_dns_record(&self, record: &DnsChallengeRecord) -> Result<()>;
    /// The TXT records an order wrote.
    async fn order_dns_records(&self, order_id: &str) -> Result<Vec<DnsChallengeRecord>>;
    /// Records the outcome of a removal attempt: `removed`, or `remove_failed` with the error
    /// and when to try again.
    async fn set_dns_record_state(
        &self,
        order_id: &str,
        domain: &str,
        state: &str,
        error: Option<&str>,
        next_try_at: OffsetDateTime,
    ) -> Result<()>;
    /// Records of final orders not yet removed whose next try is due (cleanup after failures
    /// and restarts).
    async fn due_dns_cleanups(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DnsChallengeRecord>>;

    /// Appends an event to the log.
    async fn insert_event(&self, event: &Event) -> Result<()>;
    /// A page of events, oldest first.
    async fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>>;

    // The local rate-limit ledger (see `rate_limit`).
    /// Appends ledger entries, all or none.
    async fn insert_ledger_entries(&self, entries: &[LedgerEntry]) -> Result<()>;
    /// The times of `key`'s entries later than `after`, oldest first.
    async fn ledger_times(
        &self,
        key: &LedgerKey,
        after: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>>;
    /// Deletes `scope`'s entries at or before `before`; how many.
    async fn prune_ledger(&self, scope: &str, before: OffsetDateTime) -> Result<u64>;

    // Webhooks. `insert_event` (and every other statement that records an event) also creates
    // a `pending` delivery for each webhook subscribed to the event's type, in the same
    // transaction.
    /// Stores a webhook with its sealed secret.
    async fn insert_webhook(&self, webhook: &WebhookRecord, sealed_secret: &[u8]) -> Result<()>;
    /// The webhook with this id.
    async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRecord>>;
    /// A page of webhooks, newest first; `before` is a `(created_at millis, id)` cursor.
    async fn list_webhooks(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<WebhookRecord>>;
    /// The webhook's sealed secret.
    async fn webhook_secret(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Deletes a webhook with its deliveries and their attempts; `false` when there was none.
    async fn delete_webhook(&self, id: &str) -> Result<bool>;
    /// The delivery with this id, with its attempts.
    async fn get_webhook_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>>;
    /// A page of a webhook's deliveries with their attempts, newest first; `before` is a
    /// `(created_at millis, id)` cursor.
    async fn list_webhook_deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<DeliveryRecord>>;
    /// Up to `limit` pending deliveries whose first attempt has not been queued yet, oldest
    /// first (without their attempts).
    async fn unqueued_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>>;
    /// Records that a delivery's first attempt is queued.
    async fn mark_delivery_queued(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    /// Records an attempt (replacing one with the same number) and moves a still pending
    /// delivery to `status`; `false` when the delivery is gone (its webhook deleted).
    async fn record_delivery_attempt(
        &self,
        attempt: &DeliveryAttempt,
        status: DeliveryStatus,
    ) -> Result<bool>;
    /// Sets when a pending delivery's next attempt after attempt `after` is due; `None` gives
    /// it up (`failed`). A no-op once a later attempt is recorded.
    async fn set_delivery_next_attempt(
        &self,
        id: &str,
        after: i64,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> Result<()>;

    // Metrics (`GET /metrics`), read at scrape time: one statement each, whatever the number of
    // rows, so a scrape stays cheap with many certificates.
    /// `(status, count)` of orders, one row per status that has orders.
    async fn order_counts_by_status(&self) -> Result<Vec<(String, i64)>>;
    /// The expiry of every `valid` managed certificate, by id.
    async fn certificate_expiries(&self) -> Result<Vec<crate::metrics::CertificateExpiry>>;
    /// Rows of the job queues' table (apalis') per queue and status.
    async fn job_queue_depths(&self) -> Result<Vec<crate::metrics::QueueDepth>>;
    /// Whether a task of the job queue `queue` is due now: a superset of what apalis' fetch would
    /// claim (pending, or failed with attempts left, and `run_at` reached), found by an index
    /// range seek, so a worker can skip apalis' fetch while nothing is due.
    async fn jobs_due(&self, queue: &str) -> Result<bool>;
}
