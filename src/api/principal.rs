//! The caller behind a request, once its token is verified.

use axum::http::StatusCode;
use scaivault_contract::ErrorCode;
use scaivault_domain::scope::Scope;
use serde_json::json;

use super::error::ApiError;

/// The caller behind a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: String,
    pub scopes: Vec<Scope>,
    /// The token's own expiry; sessions opened with it end then at the latest.
    pub expires_at: Option<time::OffsetDateTime>,
}

impl Principal {
    /// Refuses with 403 unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!("this token lacks the scope {scope}"),
            )
            .with_details(json!({ "required_scope": scope.as_str() })))
        }
    }

    /// Refuses with 403, naming what is missing, unless the token holds every one of `scopes`:
    /// a caller may hand on only what it has (an `admin` token must not mint `secrets:read`).
    pub fn require_all(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        let mut missing: Vec<Scope> = scopes
            .iter()
            .copied()
            .filter(|scope| !self.scopes.contains(scope))
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.iter().map(|scope| scope.as_str()).collect();
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!(
                "a token can grant only scopes it holds itself; this one lacks {}",
                names.join(", ")
            ),
        )
        .with_details(json!({ "missing_scopes": names })))
    }
}
