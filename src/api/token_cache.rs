//! Verified tokens, remembered for a moment, so a busy caller costs one token lookup per [`TTL`]
//! instead of one per request: on PostgreSQL a lookup is a round trip to the database before
//! every request's own.
//!
//! What it changes for revocation: a token deleted through this instance is forgotten at once
//! ([`TokenCache::forget`]); on another instance sharing the database it keeps working for at
//! most [`TTL`]. A token's own expiry is checked on every use. Only successes are remembered, so
//! an unknown or wrong token always reaches the store, and the cache is keyed by the SHA-256 of
//! the presented value: it never holds a token in the clear.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::principal::Principal;

/// How long a verified token is trusted without asking the store again.
pub const TTL: Duration = Duration::from_secs(2);

/// Entries at most; when full, stale entries go first, then everything (the next requests only
/// pay one lookup each again).
const CAPACITY: usize = 10_000;

#[derive(Debug)]
struct Entry {
    principal: Principal,
    /// The token's own expiry.
    expires_at: Option<OffsetDateTime>,
    /// When this entry stops being trusted.
    fresh_until: Instant,
}

/// Recently verified tokens by the SHA-256 of their presented value.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl TokenCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The principal of a token verified less than [`TTL`] before `now` and not expired at
    /// `wall`; `None` otherwise (and a stale or expired entry is dropped).
    pub fn get(&self, key: &[u8; 32], now: Instant, wall: OffsetDateTime) -> Option<Principal> {
        let mut entries = self.entries();
        let entry = entries.get(key)?;
        if now < entry.fresh_until && entry.expires_at.is_none_or(|at| wall < at) {
            return Some(entry.principal.clone());
        }
        entries.remove(key);
        None
    }

    /// Remembers a token the store just verified at `now`.
    pub fn insert(
        &self,
        key: [u8; 32],
        principal: Principal,
        expires_at: Option<OffsetDateTime>,
        now: Instant,
    ) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            entries.retain(|_, entry| now < entry.fresh_until);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                principal,
                expires_at,
                fresh_until: now + TTL,
            },
        );
    }

    /// Forgets every entry of the token `token_id` (it was deleted).
    pub fn forget(&self, token_id: &str) {
        self.entries()
            .retain(|_, entry| entry.principal.token_id != token_id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scaivault_domain::scope::Scope;

    fn principal(id: &str) -> Principal {
        Principal {
            expires_at: None,
            token_id: id.into(),
            scopes: vec![Scope::PkiRead],
        }
    }

    fn key(n: u32) -> [u8; 32] {
        let mut key = [0; 32];
        key[..4].copy_from_slice(&n.to_be_bytes());
        key
    }

    #[test]
    fn trusted_for_the_ttl_only() {
        let cache = TokenCache::default();
        let (now, wall) = (Instant::now(), OffsetDateTime::now_utc());
        cache.insert(key(1), principal("tok_a"), None, now);
        let got = cache.get(&key(1), now + TTL / 2, wall).expect("fresh");
        assert_eq!(got.token_id, "tok_a");
        assert!(cache.get(&key(2), now, wall).is_none(), "another value");
        assert!(cache.get(&key(1), now + TTL, wall).is_none(), "stale");
        assert_eq!(cache.len(), 0, "a stale entry is dropped");
    }

    #[test]
    fn the_tokens_own_expiry_is_checked_on_every_use() {
        let cache = TokenCache::default();
        let (now, wall) = (Instant::now(), OffsetDateTime::now_utc());
        let expires = wall + time::Duration::seconds(1);
        cache.insert(key(1), principal("tok_a"), Some(expires), now);
        assert!(cache.get(&key(1), now, wall).is_some());
        assert!(
            cache.get(&key(1), now, expires).is_none(),
            "expired while fresh in the cache"
        );
    }

    #[test]
    fn forget_drops_every_entry_of_the_token() {
        let cache = TokenCache::default();
        let (now, wall) = (Instant::now(), OffsetDateTime::now_utc());
        cache.insert(key(1), principal("tok_a"), None, now);
        cache.insert(key(2), principal("tok_a"), None, now);
        cache.insert(key(3), principal("tok_b"), None, now);
        cache.forget("tok_a");
        assert!(cache.get(&key(1), now, wall).is_none());
        assert!(cache.get(&key(2), now, wall).is_none());
        assert!(cache.get(&key(3), now, wall).is_some());
    }

    #[test]
    fn bounded() {
        let cache = TokenCache::default();
        let now = Instant::now();
        for n in 0..CAPACITY as u32 {
            cache.insert(key(n), principal("tok_a"), None, now);
        }
        assert_eq!(cache.len(), CAPACITY);
        // All fresh: the map is cleared rather than grown.
        cache.insert(key(u32::MAX), principal("tok_b"), None, now);
        assert_eq!(cache.len(), 1);
        // Stale entries go first.
        for n in 0..CAPACITY as u32 - 1 {
            cache.insert(key(n), principal("tok_a"), None, now + TTL);
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.insert(key(u32::MAX - 1), principal("tok_c"), None, now + TTL);
        assert_eq!(
            cache.len(),
            CAPACITY,
            "only the stale tok_b entry was dropped"
        );
    }
}
