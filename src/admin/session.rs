//! Login sessions: a random id (the cookie's value) mapped in memory to the token that logged in
//! (by id; the token itself never leaves the login request).
//!
//! A session never outlives its token: it ends at the token's expiry at the latest, and the gate
//! asks the store about the token on every request ([`crate::api::auth::Authenticator::recheck`]),
//! so deleting the token ends its sessions at their next request, on every instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scaivault_domain::timestamp;

use crate::api::auth::Principal;

/// The session cookie's name.
pub const COOKIE: &str = "sv_admin_session";
/// How long a session lasts after login, at most.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// One session: whose it is, until when, and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_id: String,
    pub ends: Instant,
    /// The console's forms carry it (`csrf`); a POST without it is refused ([`super::csrf`]).
    pub csrf: String,
}

/// The live sessions (lost on restart: log in again).
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, Session>>>);

impl Sessions {
    /// Opens a session for `principal`, ending after [`LIFETIME`] or at the token's expiry,
    /// whichever comes first; returns its id and how long it lasts.
    pub fn open(&self, principal: &Principal) -> (String, Duration) {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let lifetime = principal.expires_at.map_or(LIFETIME, |at| {
            let left = at - timestamp::now();
            Duration::try_from(left)
                .unwrap_or(Duration::ZERO)
                .min(LIFETIME)
        });
        let now = Instant::now();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, session| session.ends > now);
        map.insert(
            id.clone(),
            Session {
                token_id: principal.token_id.clone(),
                ends: now + lifetime,
                csrf: hex::encode(rand::random::<[u8; 32]>()),
            },
        );
        (id, lifetime)
    }

    /// The session `id` while it lasts.
    pub fn get(&self, id: &str) -> Option<Session> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|session| session.ends > Instant::now())
            .cloned()
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// The session id in a request's `Cookie` headers.
pub fn from_headers(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}
