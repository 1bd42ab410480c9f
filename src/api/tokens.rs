//! `/v1/auth/tokens`: API tokens with scopes. The value is returned once, at creation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_contract::{CreateToken, CreatedToken, ErrorBody, PageQuery, Token, TokenList};
use scaivault_domain::scope::Scope;
use scaivault_domain::{timestamp, token};

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{Cursor, Page};
use crate::state::AppState;

#[utoipa::path(
    post, path = "/v1/auth/tokens", operation_id = "create_token", tag = "tokens", security(("bearer" = ["admin"])),
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created; the token value is shown only here", body = CreatedToken),
        (status = 400, description = "`invalid_request`: bad name, scope or expires_in (`details.field`)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller lacks `admin`, or a scope it tries to grant (`details.missing_scopes`)", body = ErrorBody),
    ),
)]
/// A token can grant only scopes its creator holds, so `admin` alone cannot mint its way to
/// `secrets:read` or `pki:keys`.
pub async fn create(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "name: 1 to 100 characters"));
    }
    if body.scopes.is_empty() {
        return Err(ApiError::invalid(
            "scopes",
            "scopes: give at least one scope",
        ));
    }
    let scopes: Vec<Scope> = body.scopes.into_iter().map(Into::into).collect();
    principal.require_all(&scopes)?;
    let now = timestamp::now();
    let expires_at = match body.expires_in.as_deref() {
        None => None,
        Some(text) => {
            let duration = humantime::parse_duration(text).map_err(|_| {
                ApiError::invalid(
                    "expires_in",
                    format!("expires_in: {text:?} is not a duration like \"90d\""),
                )
            })?;
            let duration = time::Duration::try_from(duration)
                .map_err(|_| ApiError::invalid("expires_in", "expires_in: too long"))?;
            Some(now + duration)
        }
    };
    let minted = token::mint(name, scopes, now, expires_at);
    state.store.insert_token(&minted.record).await?;
    tracing::info!(token = %minted.record.id, by = %principal.token_id, "created API token");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            record: Token::from(&minted.record),
            token: minted.value,
        }),
    ))
}

#[utoipa::path(
    get, path = "/v1/auth/tokens", operation_id = "list_tokens", tag = "tokens", security(("bearer" = ["admin"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of tokens, newest first (never a value)", body = TokenList),
        (status = 400, description = "`invalid_request`: bad limit or cursor", body = ErrorBody),
    ),
)]
/// Tokens, newest first, `limit` (default 50, at most 100) per page; `next_cursor` continues.
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<TokenList>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let tokens = state
        .store
        .tokens_page(page.limit, page.before.clone())
        .await?;
    let next = page.next(
        tokens.last().map(|t| Cursor {
            created_at: timestamp::to_millis(t.created_at),
            id: t.id.clone(),
        }),
        tokens.len(),
    );
    Ok(Json(TokenList {
        tokens: tokens.iter().map(Token::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(
    delete, path = "/v1/auth/tokens/{id}", operation_id = "delete_token", tag = "tokens", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Token id (`tok_...`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_token(&id).await? {
        state.auth.forget(&id);
        tracing::info!(token = %id, by = %principal.token_id, "deleted API token");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("token {id} not found")))
    }
}
