//! Every value sealed under the master key, wherever it is stored: what a master-key rotation
//! reads and re-seals.

use async_trait::async_trait;

use crate::Result;

/// A column that holds values sealed under the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    /// Secret values (DNS-provider credentials among them).
    Secrets,
    /// ACME account keys and EAB credentials.
    AccountCredentials,
    /// New ACME account keys of key changes not yet resolved (RFC 8555 §7.3.5).
    PendingAccountKeys,
    /// Private keys generated for orders that have not yet yielded a certificate.
    OrderKeys,
    /// Certificate versions' private keys.
    CertificateKeys,
    /// Webhook signing secrets.
    WebhookSecrets,
}

impl SealedColumn {
    /// Every sealed column; a new one must be added here, or rotation would leave it behind.
    pub const ALL: [SealedColumn; 6] = [
        SealedColumn::Secrets,
        SealedColumn::AccountCredentials,
        SealedColumn::PendingAccountKeys,
        SealedColumn::OrderKeys,
        SealedColumn::CertificateKeys,
        SealedColumn::WebhookSecrets,
    ];
}

/// The row a sealed value belongs to, which is also what it is sealed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedRow {
    Secret {
        path: String,
    },
    Account {
        id: String,
    },
    /// An account's pending key: sealed as its credentials are, as it replaces them.
    PendingAccountKey {
        id: String,
    },
    Order {
        id: String,
    },
    CertificateVersion {
        certificate_id: String,
        version: i64,
    },
    Webhook {
        id: String,
    },
}

impl SealedRow {
    /// The associated data the value is sealed with.
    pub fn aad(&self) -> String {
        match self {
            SealedRow::Secret { path } => crate::secret::aad(path),
            SealedRow::Account { id } | SealedRow::PendingAccountKey { id } => {
                crate::account::credentials_aad(id)
            }
            SealedRow::Order { id } => crate::order::order_key_aad(id),
            SealedRow::CertificateVersion {
                certificate_id,
                version,
            } => crate::certificate::version_key_aad(certificate_id, *version),
            SealedRow::Webhook { id } => crate::webhook::secret_aad(id),
        }
    }

    /// The column the value is in.
    pub fn column(&self) -> SealedColumn {
        match self {
            SealedRow::Secret { .. } => SealedColumn::Secrets,
            SealedRow::Account { .. } => SealedColumn::AccountCredentials,
            SealedRow::PendingAccountKey { .. } => SealedColumn::PendingAccountKeys,
            SealedRow::Order { .. } => SealedColumn::OrderKeys,
            SealedRow::CertificateVersion { .. } => SealedColumn::CertificateKeys,
            SealedRow::Webhook { .. } => SealedColumn::WebhookSecrets,
        }
    }
}

/// A sealed value and its row.
#[derive(Debug, Clone)]
pub struct SealedValue {
    pub row: SealedRow,
    pub sealed: Vec<u8>,
}

/// A value sealed again: `sealed` replaces `was`.
#[derive(Debug, Clone)]
pub struct Resealed {
    pub row: SealedRow,
    pub was: Vec<u8>,
    pub sealed: Vec<u8>,
}

#[async_trait]
pub trait SealedStore: Send + Sync {
    /// Up to `limit` values of `column` in row order, after the row `after` (from the first
    /// when `None`), so a caller pages through a column while it changes.
    async fn sealed_values(
        &self,
        column: SealedColumn,
        after: Option<&SealedRow>,
        limit: u32,
    ) -> Result<Vec<SealedValue>>;

    /// Writes every change in one transaction, each only where its row still holds `was` (a
    /// row written or deleted since it was read is left as it is); how many rows changed.
    async fn reseal(&self, changes: &[Resealed]) -> Result<u64>;
}
