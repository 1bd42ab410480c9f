//! Bearer-token authentication and scope checks. A missing, malformed, unknown or expired token
//! is 401; a valid token without the needed scope is 403.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use scaivault_domain::scope::Scope;
use scaivault_domain::token::{self, hashes_match};
use scaivault_domain::{SharedStore, timestamp};

use super::error::ApiError;
pub use super::principal::Principal;
use super::token_cache::TokenCache;

/// Verifies presented tokens.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// SHA-256 of `[security] admin_token`, when configured.
    configured_admin: Option<[u8; 32]>,
    /// SHA-256 of `[security] metrics_token`, when configured: it opens `GET /metrics` only.
    metrics_token: Option<[u8; 32]>,
    store: SharedStore,
    /// Tokens the store verified a moment ago ([`super::token_cache`]).
    cache: std::sync::Arc<TokenCache>,
}

/// A scope as a type, so a handler states what it needs in its signature.
pub trait RequiredScope {
    const SCOPE: Scope;
}

macro_rules! scopes {
    ($($name:ident),* $(,)?) => {
        /// Scope markers for [`Authorized`].
        pub mod need {
            $(
                #[derive(Debug)]
                pub struct $name;
                impl super::RequiredScope for $name {
                    const SCOPE: super::Scope = super::Scope::$name;
                }
            )*
        }
    };
}

scopes!(PkiRead, PkiWrite, PkiKeys, SecretsRead, SecretsWrite, Admin);

/// A caller whose token has scope `S`. As an extractor it runs before the body is read, so a
/// caller without the scope gets 403 whatever it sent, and learns nothing from validation.
#[derive(Debug)]
pub struct Authorized<S: RequiredScope>(pub Principal, std::marker::PhantomData<S>);

impl<S: RequiredScope> Authorized<S> {
    /// `principal`, when it holds `S`: how the admin console, which authenticates its own way
    /// (a session), calls the API's handlers under exactly the API's scope rules.
    pub fn grant(principal: Principal) -> Result<Self, ApiError> {
        principal.require(S::SCOPE)?;
        Ok(Authorized(principal, std::marker::PhantomData))
    }
}

impl<S: RequiredScope> std::ops::Deref for Authorized<S> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<S, State> FromRequestParts<State> for Authorized<S>
where
    S: RequiredScope + Send + Sync,
    State: Send + Sync,
    Arc<Authenticator>: FromRef<State>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        Self::grant(principal)
    }
}

/// The id shown for the configured bootstrap token, which has no row.
const CONFIGURED_ADMIN_ID: &str = "tok_configured_admin";

impl Authenticator {
    pub fn new(configured_admin: &str, metrics_token: &str, store: SharedStore) -> Self {
        Self {
            configured_admin: (!configured_admin.is_empty()).then(|| token::hash(configured_admin)),
            metrics_token: (!metrics_token.is_empty()).then(|| token::hash(metrics_token)),
            store,
            cache: std::sync::Arc::default(),
        }
    }

    /// Forgets a deleted token at once (see [`super::token_cache`] for other instances).
    pub fn forget(&self, token_id: &str) {
        self.cache.forget(token_id);
    }

    fn configured_admin() -> Principal {
        Principal {
            token_id: CONFIGURED_ADMIN_ID.into(),
            scopes: Scope::ALL.to_vec(),
            expires_at: None,
        }
    }

    /// The principal of a token verified earlier (a console session's), as the store has it
    /// now: 401 once the token is deleted or expired, and its current scopes otherwise. It
    /// asks the store every time, so a token deleted through any instance ends its sessions on
    /// all of them at their next request.
    pub async fn recheck(&self, token_id: &str) -> Result<Principal, ApiError> {
        if token_id == CONFIGURED_ADMIN_ID && self.configured_admin.is_some() {
            return Ok(Self::configured_admin());
        }
        let record = self
            .store
            .get_token(token_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the token of this session was deleted"))?;
        if record.is_expired(timestamp::now()) {
            return Err(ApiError::unauthorized(
                "the token of this session has expired",
            ));
        }
        Ok(Principal {
            token_id: record.id,
            scopes: record.scopes,
            expires_at: record.expires_at,
        })
    }

    /// Whether `presented` is the configured metrics token.
    pub fn is_metrics_token(&self, presented: &str) -> bool {
        self.metrics_token
            .as_ref()
            .is_some_and(|expected| hashes_match(expected, &token::hash(presented)))
    }

    /// The principal for a presented token value.
    pub async fn authenticate(&self, presented: &str) -> Result<Principal, ApiError> {
        let unknown = || ApiError::unauthorized("the bearer token is not valid");
        let key = token::hash(presented);
        if let Some(admin) = &self.configured_admin
            && hashes_match(admin, &key)
        {
            return Ok(Self::configured_admin());
        }
        let now = timestamp::now();
        if let Some(principal) = self.cache.get(&key, Instant::now(), now) {
            return Ok(principal);
        }
        let (id, secret) = token::parse(presented).ok_or_else(unknown)?;
        let record = self.store.get_token(id).await?.ok_or_else(unknown)?;
        if !hashes_match(&record.secret_hash, &token::hash(secret)) {
            return Err(unknown());
        }
        if record.is_expired(now) {
            return Err(ApiError::unauthorized("the bearer token has expired"));
        }
        let principal = Principal {
            token_id: record.id,
            scopes: record.scopes,
            expires_at: record.expires_at,
        };
        self.cache
            .insert(key, principal.clone(), record.expires_at, Instant::now());
        Ok(principal)
    }
}

/// The bearer token of a request (`Authorization: Bearer <token>`), or 401.
pub fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || ApiError::unauthorized("send Authorization: Bearer <token>");
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?;
    header
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(missing)
}

impl<State> FromRequestParts<State> for Principal
where
    State: Send + Sync,
    Arc<Authenticator>: FromRef<State>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, ApiError> {
        let value = bearer(parts)?;
        let principal = Arc::<Authenticator>::from_ref(state)
            .authenticate(value)
            .await?;
        tracing::Span::current().record("token", principal.token_id.as_str());
        Ok(principal)
    }
}
