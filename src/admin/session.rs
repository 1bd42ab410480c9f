//! Login sessions: a random id (the cookie's value) mapped in memory to the principal that
//! logged in. The token itself never leaves the login request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::auth::Principal;

/// The session cookie's name.
pub const COOKIE: &str = "sv_admin_session";
/// How long a session lasts after login.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// The live sessions (lost on restart: log in again).
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, (Principal, Instant)>>>);

impl Sessions {
    /// Opens a session for `principal`; returns its id.
    pub fn open(&self, principal: Principal) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, (_, expires)| *expires > now);
        map.insert(id.clone(), (principal, now + LIFETIME));
        id
    }

    /// The principal of a live session.
    pub fn get(&self, id: &str) -> Option<Principal> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(principal, _)| principal.clone())
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
