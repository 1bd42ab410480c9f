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
}
