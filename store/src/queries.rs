//! Every statement the service runs, written once and expanded for each backend's pool.

use async_trait::async_trait;
use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::secret::SecretRecord;
use scaivault_domain::timestamp::{from_millis, to_millis};
use scaivault_domain::token::TokenRecord;
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

macro_rules! row_decoders {
    ($row:ty) => {
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
    ($store:ty, $row:ty, $backend:literal) => {
        impl $store {
            row_decoders!($row);
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
        }
    };
}

impl_store!(SqliteStore, sqlx::sqlite::SqliteRow, "sqlite");
impl_store!(PgStore, sqlx::postgres::PgRow, "postgres");
