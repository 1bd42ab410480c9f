//! `TokenStore`: API tokens (the secret's SHA-256, never the secret).

use async_trait::async_trait;
use scaivault_domain::store::TokenStore;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::token::TokenRecord;
use scaivault_domain::{Result, scope};

use crate::dialect::{Dialect, Statement, newest_first};
use crate::rows::TokenRow;
use crate::sql_store::SqlStore;

#[async_trait]
impl<D: Dialect> TokenStore for SqlStore<D> {
    async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
        sqlx::query::<D>(
            "INSERT INTO api_tokens (id, name, scopes, secret_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .arg(token.id.as_str())
        .arg(token.name.as_str())
        .arg(scope::join(&token.scopes))
        .arg(token.secret_hash.as_slice())
        .arg(to_millis(token.created_at))
        .arg(token.expires_at.map(to_millis))
        .run(self.on_pool())
        .await?;
        Ok(())
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query::<D>(
            "SELECT id, name, scopes, secret_hash, created_at, expires_at FROM api_tokens \
             WHERE id = $1",
        )
        .arg(id)
        .row(self.on_pool())
        .await?;
        row.map(TokenRow::into_record).transpose()
    }

    async fn tokens_page(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<TokenRecord>> {
        let rows: Vec<TokenRow> = sqlx::query::<D>(newest_first!(
            "SELECT id, name, scopes, secret_hash, created_at, expires_at FROM api_tokens"
        ))
        .page(limit, before)
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(TokenRow::into_record).collect()
    }

    async fn delete_token(&self, id: &str) -> Result<bool> {
        let deleted = sqlx::query::<D>("DELETE FROM api_tokens WHERE id = $1")
            .arg(id)
            .run(self.on_pool())
            .await?;
        Ok(deleted == 1)
    }
}
