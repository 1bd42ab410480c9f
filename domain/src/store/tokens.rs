//! API tokens.

use async_trait::async_trait;

use crate::Result;
use crate::token::TokenRecord;

#[async_trait]
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// Stores a new token.
    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    /// The token with this id.
    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>>;
    /// A page of tokens, newest first: at most `limit`, strictly older than the
    /// `(created_at millis, id)` cursor `before`.
    async fn tokens_page(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<TokenRecord>>;
    /// Deletes a token; `false` when there was none.
    async fn delete_token(&self, id: &str) -> Result<bool>;
}
