//! [`DnsProvider`]: what every provider does for dns-01, present a TXT value and clean it up.

use std::fmt;

use async_trait::async_trait;

use crate::error::DnsError;

/// Writes dns-01 TXT records. Names are fully qualified, lower-case, without a trailing dot,
/// e.g. `_acme-challenge.example.test`.
#[async_trait]
pub trait DnsProvider: Send + Sync + fmt::Debug {
    /// Adds `value` to the TXT RRset at `fqdn`, keeping the other values. Adding a value that is
    /// already there succeeds.
    async fn present(&self, fqdn: &str, value: &str) -> Result<(), DnsError>;
    /// Removes exactly `value` from the TXT RRset at `fqdn`, keeping the other values. Removing
    /// a value that is not there succeeds.
    async fn clean_up(&self, fqdn: &str, value: &str) -> Result<(), DnsError>;
    /// The zone this provider serves that contains `fqdn` (lower-case, no trailing dot), as far
    /// as the provider itself can tell; `None` when it serves none or cannot tell (then only
    /// the zones configured for it count).
    async fn zone_of(&self, fqdn: &str) -> Result<Option<String>, DnsError> {
        let _ = fqdn;
        Ok(None)
    }
}
