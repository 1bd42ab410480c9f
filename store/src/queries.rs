//! Every statement the service runs, written once and expanded for each backend's pool.

use async_trait::async_trait;
use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::certificate::{
    CertificateRecord, CertificateStatus, CertificateVersion, Issuance,
};
use scaivault_domain::dns_provider::{DnsChallengeRecord, DnsProviderRecord};
use scaivault_domain::event::{Event, EventQuery};
use scaivault_domain::lease::OrderLease;
use scaivault_domain::order::{
    ChallengeRecord, OrderError, OrderProgress, OrderQuery, OrderRecord, OrderStatus,
};
use scaivault_domain::rate_limit::{LedgerEntry, LedgerKey};
use scaivault_domain::revocation::{Revocation, VersionRevocation};
use scaivault_domain::secret::SecretRecord;
use scaivault_domain::timestamp::{from_millis, to_millis};
use scaivault_domain::token::TokenRecord;
use scaivault_domain::webhook::{DeliveryAttempt, DeliveryRecord, DeliveryStatus, WebhookRecord};
use scaivault_domain::{Error, Result, Store, scope};
use sqlx::Row;
use time::OffsetDateTime;

use crate::error::query_error;
use crate::{PgStore, SqliteStore};

// Column lists as literal-producing macros: sqlx 0.9 takes only `&'static str` SQL, which
// `concat!` builds at compile time (no SQL is ever assembled at run time).
macro_rules! token_columns {
    () => {
        "id, name, scopes, secret_hash, created_at, expires_at"
    };
}
macro_rules! secret_columns {
    () => {
        "path, sealed, version, created_at, updated_at"
    };
}
macro_rules! account_columns {
    () => {
        "id, name, provider, environment, directory_url, email, status, account_url, eab_kid, \
         created_at, deactivated_at"
    };
}

/// Decodes a stored enum through its `FromStr`, reporting corrupt rows as store errors.
fn parse_stored<T: std::str::FromStr>(column: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| Error::Store(format!("column {column}: unexpected value {value:?}")))
}

/// A version's revocation columns (all NULL unless it is revoked; see `revocation_sql`).
fn revocation_from_columns(
    at: Option<i64>,
    reason: Option<String>,
    via_acme: Option<i64>,
) -> Result<Option<VersionRevocation>> {
    match (at, reason) {
        (Some(at), Some(reason)) => Ok(Some(VersionRevocation {
            at: from_millis(at),
            reason: parse_stored("revocation_reason", &reason)?,
            via_acme: via_acme.unwrap_or(0) != 0,
        })),
        _ => Ok(None),
    }
}

/// Lists are stored as JSON text on both backends.
fn to_json(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(|e| Error::Store(e.to_string()))
}

fn from_json(column: &str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| Error::Store(format!("column {column}: {e}")))
}

macro_rules! row_decoders {
    ($row:ty) => {
        fn order_from_row(row: &$row) -> Result<OrderRecord> {
            let text =
                |column: &str| -> Result<String> { row.try_get(column).map_err(query_error) };
            let opt = |column: &str| -> Result<Option<String>> {
                row.try_get(column).map_err(query_error)
            };
            let error = match (opt("error_code")?, opt("error_message")?) {
                (Some(code), Some(message)) => Some(OrderError { code, message }),
                _ => None,
            };
            Ok(OrderRecord {
                id: text("id")?,
                account_id: text("account_id")?,
                certificate_id: opt("certificate_id")?,
                domains: from_json("domains", &text("domains")?)?,
                challenge_type: parse_stored("challenge_type", &text("challenge_type")?)?,
                key_type: parse_stored("key_type", &text("key_type")?)?,
                csr_pem: opt("csr_pem")?,
                profile: opt("profile")?,
                auto_renew: row.try_get::<i64, _>("auto_renew").map_err(query_error)? != 0,
                dns_provider_id: opt("dns_provider_id")?,
                status: parse_stored::<OrderStatus>("status", &text("status")?)?,
                order_url: text("order_url")?,
                error,
                ca_attempts: row.try_get("ca_attempts").map_err(query_error)?,
                not_after: row
                    .try_get::<Option<i64>, _>("not_after")
                    .map_err(query_error)?
                    .map(from_millis),
                created_at: from_millis(row.try_get("created_at").map_err(query_error)?),
                updated_at: from_millis(row.try_get("updated_at").map_err(query_error)?),
            })
        }

        fn dns_provider_from_row(row: &$row) -> Result<DnsProviderRecord> {
            let text =
                |column: &str| -> Result<String> { row.try_get(column).map_err(query_error) };
            Ok(DnsProviderRecord {
                id: text("id")?,
                name: text("name")?,
                kind: text("kind")?,
                config: serde_json::from_str(&text("config")?)
                    .map_err(|e| Error::Store(format!("column config: {e}")))?,
                created_at: from_millis(row.try_get("created_at").map_err(query_error)?),
            })
        }

        fn dns_record_from_row(row: &$row) -> Result<DnsChallengeRecord> {
            let text =
                |column: &str| -> Result<String> { row.try_get(column).map_err(query_error) };
            Ok(DnsChallengeRecord {
                order_id: text("order_id")?,
                domain: text("domain")?,
                provider_id: text("provider_id")?,
                fqdn: text("fqdn")?,
                value: text("value")?,
                state: text("state")?,
                attempts: row.try_get("attempts").map_err(query_error)?,
                last_error: row.try_get("last_error").map_err(query_error)?,
            })
        }

        fn challenge_from_row(row: &$row) -> Result<ChallengeRecord> {
            Self::challenge_from_prefixed_row(row, "")
        }

        /// A challenge from columns named `<prefix><column>` (a join beside the order's own).
        fn challenge_from_prefixed_row(row: &$row, prefix: &str) -> Result<ChallengeRecord> {
            let text = |column: &str| -> Result<String> {
                row.try_get(format!("{prefix}{column}").as_str())
                    .map_err(query_error)
            };
            let challenge_type = text("challenge_type")?;
            Ok(ChallengeRecord {
                order_id: text("order_id")?,
                domain: text("domain")?,
                challenge_type: parse_stored("challenge_type", &challenge_type)?,
                status: text("status")?,
                token: text("token")?,
                key_authorization: text("key_authorization")?,
                authorization_url: text("authorization_url")?,
                challenge_url: text("challenge_url")?,
                error: row
                    .try_get(format!("{prefix}error").as_str())
                    .map_err(query_error)?,
            })
        }

        fn certificate_from_row(row: &$row) -> Result<CertificateRecord> {
            let text =
                |column: &str| -> Result<String> { row.try_get(column).map_err(query_error) };
            let int = |column: &str| -> Result<i64> { row.try_get(column).map_err(query_error) };
            Ok(CertificateRecord {
                id: text("id")?,
                account_id: text("account_id")?,
                domains: from_json("domains", &text("domains")?)?,
                challenge_type: parse_stored("challenge_type", &text("challenge_type")?)?,
                key_type: parse_stored("key_type", &text("key_type")?)?,
                dns_provider_id: row.try_get("dns_provider_id").map_err(query_error)?,
                profile: row.try_get("profile").map_err(query_error)?,
                auto_renew: int("auto_renew")? != 0,
                own_csr: int("own_csr")? != 0,
                current_version: int("current_version")?,
                status: CertificateStatus::parse(&text("status")?)?,
                serial_number: text("serial_number")?,
                not_after: from_millis(int("not_after")?),
                renew_at: row
                    .try_get::<Option<i64>, _>("renew_at")
                    .map_err(query_error)?
                    .map(from_millis),
                created_at: from_millis(int("created_at")?),
                updated_at: from_millis(int("updated_at")?),
            })
        }

        fn version_from_row(row: &$row) -> Result<CertificateVersion> {
            let text =
                |column: &str| -> Result<String> { row.try_get(column).map_err(query_error) };
            let int = |column: &str| -> Result<i64> { row.try_get(column).map_err(query_error) };
            Ok(CertificateVersion {
                certificate_id: text("certificate_id")?,
                version: int("version")?,
                order_id: text("order_id")?,
                serial_number: text("serial_number")?,
                issuer: text("issuer")?,
                sans: from_json("sans", &text("sans")?)?,
                not_before: from_millis(int("not_before")?),
                not_after: from_millis(int("not_after")?),
                chain_pem: text("chain_pem")?,
                has_private_key: row.try_get::<bool, _>("has_key").map_err(query_error)?,
                status: CertificateStatus::parse(&text("status")?)?,
                revocation: revocation_from_columns(
                    row.try_get("revoked_at").map_err(query_error)?,
                    row.try_get("revocation_reason").map_err(query_error)?,
                    row.try_get("revoked_via_acme").map_err(query_error)?,
                )?,
                created_at: from_millis(int("created_at")?),
            })
        }

        fn token_from_row(row: &$row) -> Result<TokenRecord> {
            let hash: Vec<u8> = row.try_get("secret_hash").map_err(query_error)?;
            Ok(TokenRecord {
                id: row.try_get("id").map_err(query_error)?,
                name: row.try_get("name").map_err(query_error)?,
                scopes: scope::split(&row.try_get::<String, _>("scopes").map_err(query_error)?)?,
                secret_hash: hash
                    .try_into()
                    .map_err(|_| Error::Store("secret_hash is not 32 bytes".into()))?,
                created_at: from_millis(row.try_get("created_at").map_err(query_error)?),
                expires_at: row
                    .try_get::<Option<i64>, _>("expires_at")
                    .map_err(query_error)?
                    .map(from_millis),
            })
        }

        fn secret_from_row(row: &$row) -> Result<SecretRecord> {
            Ok(SecretRecord {
                path: row.try_get("path").map_err(query_error)?,
                sealed: row.try_get("sealed").map_err(query_error)?,
                version: row.try_get("version").map_err(query_error)?,
                created_at: from_millis(row.try_get("created_at").map_err(query_error)?),
                updated_at: from_millis(row.try_get("updated_at").map_err(query_error)?),
            })
        }

        fn account_from_row(row: &$row) -> Result<AccountRecord> {
            let text =
                |column: &str| -> Result<String> { row.try_get(column).map_err(query_error) };
            Ok(AccountRecord {
                id: text("id")?,
                name: text("name")?,
                provider: parse_stored("provider", &text("provider")?)?,
                environment: parse_stored("environment", &text("environment")?)?,
                directory_url: text("directory_url")?,
                email: text("email")?,
                status: AccountStatus::parse(&text("status")?)?,
                account_url: text("account_url")?,
                eab_kid: row.try_get("eab_kid").map_err(query_error)?,
                created_at: from_millis(row.try_get("created_at").map_err(query_error)?),
                deactivated_at: row
                    .try_get::<Option<i64>, _>("deactivated_at")
                    .map_err(query_error)?
                    .map(from_millis),
            })
        }
    };
}

macro_rules! impl_store {
    ($store:ty, $row:ty, $conn:ty, $backend:literal, $jobs:literal, $now:literal, $json:literal) => {
        impl $store {
            row_decoders!($row);
            order_methods!($conn);
            certificate_methods!();
            revocation_methods!();
            dns_methods!();
            event_methods!();
            job_methods!($jobs, $now, $json);
            webhook_methods!($conn, $row);
            renewal_methods!();
            ledger_methods!();
            lease_methods!();
            metrics_methods!();
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(query_error)?;
                Ok(())
            }

            fn backend(&self) -> &'static str {
                $backend
            }

            async fn set_meta_if_absent(&self, key: &str, value: &str) -> Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(value)
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn get_meta(&self, key: &str) -> Result<Option<String>> {
                sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error)
            }

            async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
                sqlx::query(concat!(
                    "INSERT INTO api_tokens (",
                    token_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .bind(&token.id)
                .bind(&token.name)
                .bind(scope::join(&token.scopes))
                .bind(token.secret_hash.as_slice())
                .bind(to_millis(token.created_at))
                .bind(token.expires_at.map(to_millis))
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
                Ok(())
            }

            async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
                sqlx::query(concat!(
                    "SELECT ",
                    token_columns!(),
                    " FROM api_tokens WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error)?
                .map(|row| Self::token_from_row(&row))
                .transpose()
            }

            async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
                sqlx::query(concat!(
                    "SELECT ",
                    token_columns!(),
                    " FROM api_tokens ORDER BY created_at DESC, id"
                ))
                .fetch_all(&self.pool)
                .await
                .map_err(query_error)?
                .iter()
                .map(Self::token_from_row)
                .collect()
            }

            async fn delete_token(&self, id: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(query_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_secret(&self, record: &SecretRecord) -> Result<SecretRecord> {
                let row = sqlx::query(concat!(
                    "INSERT INTO secrets (",
                    secret_columns!(),
                    ") VALUES ($1, $2, 1, $3, $3) \
                     ON CONFLICT (path) DO UPDATE SET sealed = excluded.sealed, \
                     version = secrets.version + 1, updated_at = excluded.updated_at \
                     RETURNING ",
                    secret_columns!()
                ))
                .bind(&record.path)
                .bind(&record.sealed)
                .bind(to_millis(record.updated_at))
                .fetch_one(&self.pool)
                .await
                .map_err(query_error)?;
                Self::secret_from_row(&row)
            }

            async fn get_secret(&self, path: &str) -> Result<Option<SecretRecord>> {
                sqlx::query(concat!(
                    "SELECT ",
                    secret_columns!(),
                    " FROM secrets WHERE path = $1"
                ))
                .bind(path)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error)?
                .map(|row| Self::secret_from_row(&row))
                .transpose()
            }

            async fn delete_secret(&self, path: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM secrets WHERE path = $1")
                    .bind(path)
                    .execute(&self.pool)
                    .await
                    .map_err(query_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_account(
                &self,
                account: &AccountRecord,
                sealed_credentials: &[u8],
            ) -> Result<()> {
                sqlx::query(concat!(
                    "INSERT INTO acme_accounts (",
                    account_columns!(),
                    ", sealed_credentials) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(&account.id)
                .bind(&account.name)
                .bind(account.provider.as_str())
                .bind(account.environment.as_str())
                .bind(&account.directory_url)
                .bind(&account.email)
                .bind(account.status.as_str())
                .bind(&account.account_url)
                .bind(&account.eab_kid)
                .bind(to_millis(account.created_at))
                .bind(account.deactivated_at.map(to_millis))
                .bind(sealed_credentials)
                .execute(&self.pool)
                .await
                .map_err(|err| match query_error(err) {
                    Error::Conflict(_) => Error::Conflict(format!(
                        "an account named {:?} already exists",
                        account.name
                    )),
                    other => other,
                })?;
                Ok(())
            }

            async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>> {
                sqlx::query(concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM acme_accounts WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error)?
                .map(|row| Self::account_from_row(&row))
                .transpose()
            }

            async fn list_accounts(&self) -> Result<Vec<AccountRecord>> {
                sqlx::query(concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM acme_accounts ORDER BY created_at DESC, id"
                ))
                .fetch_all(&self.pool)
                .await
                .map_err(query_error)?
                .iter()
                .map(Self::account_from_row)
                .collect()
            }

            async fn account_credentials(&self, id: &str) -> Result<Option<Vec<u8>>> {
                sqlx::query_scalar("SELECT sealed_credentials FROM acme_accounts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error)
            }

            async fn set_account_status(
                &self,
                id: &str,
                status: AccountStatus,
                at: OffsetDateTime,
            ) -> Result<bool> {
                let deactivated_at = (status == AccountStatus::Deactivated).then(|| to_millis(at));
                let done = sqlx::query(
                    "UPDATE acme_accounts SET status = $2, deactivated_at = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(deactivated_at)
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
                Ok(done.rows_affected() == 1)
            }

            // Written once in orders_sql.rs, certificates_sql.rs and dns_sql.rs as inherent methods: the
            // trait impl forwards because #[async_trait] cannot see macro-generated methods.
            async fn insert_dns_provider(&self, provider: &DnsProviderRecord) -> Result<()> {
                self.sql_insert_dns_provider(provider).await
            }

            async fn get_dns_provider(&self, id: &str) -> Result<Option<DnsProviderRecord>> {
                self.sql_get_dns_provider(id).await
            }

            async fn list_dns_providers(&self) -> Result<Vec<DnsProviderRecord>> {
                self.sql_list_dns_providers().await
            }

            async fn delete_dns_provider(&self, id: &str) -> Result<bool> {
                self.sql_delete_dns_provider(id).await
            }

            async fn upsert_dns_record(&self, record: &DnsChallengeRecord) -> Result<()> {
                self.sql_upsert_dns_record(record).await
            }

            async fn order_dns_records(&self, order_id: &str) -> Result<Vec<DnsChallengeRecord>> {
                self.sql_order_dns_records(order_id).await
            }

            async fn set_dns_record_state(
                &self,
                order_id: &str,
                domain: &str,
                state: &str,
                error: Option<&str>,
                next_try_at: OffsetDateTime,
            ) -> Result<()> {
                self.sql_set_dns_record_state(order_id, domain, state, error, next_try_at)
                    .await
            }

            async fn due_dns_cleanups(
                &self,
                now: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<DnsChallengeRecord>> {
                self.sql_due_dns_cleanups(now, limit).await
            }

            async fn insert_order(
                &self,
                order: &OrderRecord,
                challenges: &[ChallengeRecord],
            ) -> Result<()> {
                self.sql_insert_order(order, challenges).await
            }

            async fn get_order(&self, id: &str) -> Result<Option<OrderRecord>> {
                self.sql_get_order(id).await
            }

            async fn get_order_with_challenges(
                &self,
                id: &str,
            ) -> Result<Option<(OrderRecord, Vec<ChallengeRecord>)>> {
                self.sql_get_order_with_challenges(id).await
            }

            async fn list_orders(&self, query: &OrderQuery) -> Result<Vec<OrderRecord>> {
                self.sql_list_orders(query).await
            }

            async fn unfinished_orders(&self) -> Result<Vec<String>> {
                self.sql_unfinished_orders().await
            }

            async fn replace_ca_order(
                &self,
                id: &str,
                order_url: &str,
                challenges: &[ChallengeRecord],
            ) -> Result<i64> {
                self.sql_replace_ca_order(id, order_url, challenges).await
            }
            async fn renewal_in_flight(&self, certificate_id: &str) -> Result<Option<OrderRecord>> {
                self.sql_renewal_in_flight(certificate_id).await
            }
            async fn expiring_certificates(
                &self,
                expires_before: OffsetDateTime,
                overdue_before: OffsetDateTime,
            ) -> Result<Vec<CertificateRecord>> {
                self.sql_expiring_certificates(expires_before, overdue_before)
                    .await
            }
            async fn mark_expiring_notified(&self, id: &str, version: i64) -> Result<()> {
                self.sql_mark_expiring_notified(id, version).await
            }
            async fn insert_event(&self, event: &Event) -> Result<()> {
                self.sql_insert_event(event).await
            }
            async fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
                self.sql_list_events(query).await
            }
            async fn insert_ledger_entries(&self, entries: &[LedgerEntry]) -> Result<()> {
                self.sql_insert_ledger_entries(entries).await
            }
            async fn ledger_times(
                &self,
                key: &LedgerKey,
                after: OffsetDateTime,
            ) -> Result<Vec<OffsetDateTime>> {
                self.sql_ledger_times(key, after).await
            }
            async fn prune_ledger(&self, scope: &str, before: OffsetDateTime) -> Result<u64> {
                self.sql_prune_ledger(scope, before).await
            }
            async fn set_order_progress(&self, id: &str, progress: &OrderProgress) -> Result<bool> {
                self.sql_set_order_progress(id, progress).await
            }

            async fn set_order_key(&self, id: &str, sealed_key: &[u8]) -> Result<()> {
                self.sql_set_order_key(id, sealed_key).await
            }

            async fn order_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
                self.sql_order_key(id).await
            }

            async fn count_order_restart(&self, id: &str) -> Result<i64> {
                self.sql_count_order_restart(id).await
            }

            async fn order_challenges(&self, order_id: &str) -> Result<Vec<ChallengeRecord>> {
                self.sql_order_challenges(order_id).await
            }

            async fn set_challenge_status(
                &self,
                order_id: &str,
                domain: &str,
                status: &str,
                error: Option<&str>,
            ) -> Result<()> {
                self.sql_set_challenge_status(order_id, domain, status, error)
                    .await
            }

            async fn acquire_order_lease(
                &self,
                order_id: &str,
                owner: &str,
                now: OffsetDateTime,
                expires_at: OffsetDateTime,
            ) -> Result<bool> {
                self.sql_acquire_order_lease(order_id, owner, now, expires_at)
                    .await
            }

            async fn renew_order_leases(
                &self,
                owner: &str,
                expires_at: OffsetDateTime,
            ) -> Result<Vec<String>> {
                self.sql_renew_order_leases(owner, expires_at).await
            }

            async fn release_order_lease(&self, order_id: &str, owner: &str) -> Result<bool> {
                self.sql_release_order_lease(order_id, owner).await
            }

            async fn release_order_leases(&self, owner: &str) -> Result<u64> {
                self.sql_release_order_leases(owner).await
            }

            async fn clear_foreign_order_leases(&self, owner: &str) -> Result<u64> {
                self.sql_clear_foreign_order_leases(owner).await
            }

            async fn clear_stale_order_leases(&self, now: OffsetDateTime) -> Result<u64> {
                self.sql_clear_stale_order_leases(now).await
            }

            async fn claimable_orders(
                &self,
                now: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<String>> {
                self.sql_claimable_orders(now, limit).await
            }

            async fn get_order_lease(&self, order_id: &str) -> Result<Option<OrderLease>> {
                self.sql_get_order_lease(order_id).await
            }

            async fn http01_key_authorization(&self, token: &str) -> Result<Option<String>> {
                self.sql_http01_key_authorization(token).await
            }

            async fn tls_alpn01_key_authorization(&self, domain: &str) -> Result<Option<String>> {
                self.sql_tls_alpn01_key_authorization(domain).await
            }

            async fn record_issuance(&self, issuance: &Issuance) -> Result<()> {
                self.sql_record_issuance(issuance).await
            }

            async fn get_certificate(&self, id: &str) -> Result<Option<CertificateRecord>> {
                self.sql_get_certificate(id).await
            }

            async fn list_certificates(
                &self,
                limit: u32,
                before: Option<(i64, String)>,
            ) -> Result<Vec<CertificateRecord>> {
                self.sql_list_certificates(limit, before).await
            }

            async fn certificate_versions(&self, id: &str) -> Result<Vec<CertificateVersion>> {
                self.sql_certificate_versions(id).await
            }

            async fn version_key(&self, id: &str, version: i64) -> Result<Option<Vec<u8>>> {
                self.sql_version_key(id, version).await
            }

            async fn version_by_serial(&self, serial: &str) -> Result<Option<CertificateVersion>> {
                self.sql_version_by_serial(serial).await
            }

            async fn record_revocation(&self, revocation: &Revocation) -> Result<bool> {
                self.sql_record_revocation(revocation).await
            }

            async fn supersede_renewal_tasks(
                &self,
                certificate_id: &str,
                keep_key: &str,
            ) -> Result<u64> {
                self.sql_supersede_renewal_tasks(certificate_id, keep_key)
                    .await
            }

            async fn renewal_gaps(
                &self,
                after: &str,
                limit: u32,
            ) -> Result<Vec<scaivault_domain::renewal::RenewalGap>> {
                self.sql_renewal_gaps(after, limit).await
            }

            async fn insert_renewal_tasks(
                &self,
                gaps: &[scaivault_domain::renewal::RenewalGap],
            ) -> Result<u64> {
                self.sql_insert_renewal_tasks(gaps).await
            }

            async fn pending_renewal_tasks(&self, certificate_id: &str) -> Result<Vec<String>> {
                self.sql_pending_renewal_tasks(certificate_id).await
            }

            async fn insert_webhook(
                &self,
                webhook: &WebhookRecord,
                sealed_secret: &[u8],
            ) -> Result<()> {
                self.sql_insert_webhook(webhook, sealed_secret).await
            }

            async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRecord>> {
                self.sql_get_webhook(id).await
            }

            async fn list_webhooks(
                &self,
                limit: u32,
                before: Option<(i64, String)>,
            ) -> Result<Vec<WebhookRecord>> {
                self.sql_list_webhooks(limit, before).await
            }

            async fn webhook_secret(&self, id: &str) -> Result<Option<Vec<u8>>> {
                self.sql_webhook_secret(id).await
            }

            async fn delete_webhook(&self, id: &str) -> Result<bool> {
                self.sql_delete_webhook(id).await
            }

            async fn get_webhook_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>> {
                self.sql_get_webhook_delivery(id).await
            }

            async fn list_webhook_deliveries(
                &self,
                webhook_id: &str,
                limit: u32,
                before: Option<(i64, String)>,
            ) -> Result<Vec<DeliveryRecord>> {
                self.sql_list_webhook_deliveries(webhook_id, limit, before)
                    .await
            }

            async fn unqueued_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>> {
                self.sql_unqueued_deliveries(limit).await
            }

            async fn mark_delivery_queued(&self, id: &str, at: OffsetDateTime) -> Result<()> {
                self.sql_mark_delivery_queued(id, at).await
            }

            async fn record_delivery_attempt(
                &self,
                attempt: &DeliveryAttempt,
                status: DeliveryStatus,
            ) -> Result<bool> {
                self.sql_record_delivery_attempt(attempt, status).await
            }

            async fn set_delivery_next_attempt(
                &self,
                id: &str,
                after: i64,
                next_attempt_at: Option<OffsetDateTime>,
            ) -> Result<()> {
                self.sql_set_delivery_next_attempt(id, after, next_attempt_at)
                    .await
            }

            async fn set_renewal_plan(
                &self,
                id: &str,
                version: i64,
                renew_at: OffsetDateTime,
                window: Option<(OffsetDateTime, OffsetDateTime)>,
            ) -> Result<bool> {
                self.sql_set_renewal_plan(id, version, renew_at, window)
                    .await
            }

            async fn renewal_window(
                &self,
                id: &str,
            ) -> Result<Option<(OffsetDateTime, OffsetDateTime)>> {
                self.sql_renewal_window(id).await
            }

            async fn order_counts_by_status(&self) -> Result<Vec<(String, i64)>> {
                self.sql_order_counts_by_status().await
            }

            async fn certificate_expiries(
                &self,
            ) -> Result<Vec<scaivault_domain::metrics::CertificateExpiry>> {
                self.sql_certificate_expiries().await
            }

            async fn job_queue_depths(&self) -> Result<Vec<scaivault_domain::metrics::QueueDepth>> {
                self.sql_job_queue_depths().await
            }

            async fn jobs_due(&self, queue: &str) -> Result<bool> {
                self.sql_jobs_due(queue).await
            }
        }
    };
}

impl_store!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    sqlx::SqliteConnection,
    "sqlite",
    "Jobs",
    "strftime('%s', 'now')",
    "$4"
);
impl_store!(
    PgStore,
    sqlx::postgres::PgRow,
    sqlx::PgConnection,
    "postgres",
    "apalis.jobs",
    "now()",
    "$4::jsonb"
);
