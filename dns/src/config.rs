//! [`ResolvedConfig`]: a provider's settings with its secrets already read.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::DnsError;

/// A provider's config with every `<name>_path` secret resolved: the value is under `<name>`
/// (e.g. `api_token_path` → `api_token`). Debug never prints values.
#[derive(Clone, Default)]
pub struct ResolvedConfig {
    values: BTreeMap<String, String>,
}

impl fmt::Debug for ResolvedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl ResolvedConfig {
    /// A config from resolved values.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self { values }
    }

    /// A value that must be present.
    pub fn required(&self, key: &str) -> Result<&str, DnsError> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| DnsError::Config(format!("missing {key}")))
    }

    /// A value that must be present and goes into a URL path as one segment: trimmed, and
    /// without `/`, `?` or `#` (Azure and Google address resources by such names).
    pub(crate) fn required_segment(&self, key: &str) -> Result<String, DnsError> {
        let value = self.required(key)?.trim().to_owned();
        if value.contains(['/', '?', '#']) {
            return Err(DnsError::Config(format!(
                "{key} must not contain '/', '?' or '#'"
            )));
        }
        Ok(value)
    }

    /// A value that may be absent.
    pub fn optional(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}
