//! Configuration: the embedded `config/default.toml`, then the file given with `--config` (or
//! `config/default.toml` in the working directory), then `SCAIVAULT_<SECTION>__<KEY>`
//! environment variables. Unknown keys and bad values are refused with the key's name, because a
//! typo that silently falls back to a default is how certificates expire by surprise.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

use crate::duration::HumanDuration;

/// The embedded default; every key has a value here.
const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
/// The prefix of configuration environment variables.
const ENV_PREFIX: &str = "SCAIVAULT_";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub security: SecurityConfig,
    pub acme: AcmeConfig,
    pub challenges: ChallengesConfig,
    pub dns: DnsConfig,
    pub renewal: RenewalConfig,
    pub webhooks: WebhooksConfig,
    pub cluster: ClusterConfig,
    /// `[rate_limits.<provider>]`: the local rate-limit ledger's limits; none is unlimited.
    #[serde(default)]
    pub rate_limits: std::collections::BTreeMap<String, RateLimitConfig>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Empty disables the admin listener.
    #[serde(deserialize_with = "optional_addr")]
    pub admin_listen: Option<SocketAddr>,
    pub log_format: LogFormat,
    /// Orders (`POST /issue`, `POST .../renew`) per API token per minute; 0: unlimited.
    pub orders_per_minute: u32,
    /// Every listener: for the TLS handshake, and then for a complete request head.
    pub header_timeout: HumanDuration,
    /// Every HTTP listener: from a complete request head to the end of its answer.
    pub request_timeout: HumanDuration,
    /// Every HTTP listener: between two requests on a kept-alive connection.
    pub idle_timeout: HumanDuration,
    /// Every listener: connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// PEM certificate chain for the API and admin listeners (with `tls_key_file`); empty:
    /// plain HTTP.
    #[serde(deserialize_with = "optional_path")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    #[serde(deserialize_with = "optional_path")]
    pub tls_key_file: Option<PathBuf>,
    /// ACME account registrations per API token per minute; 0: unlimited.
    pub registrations_per_minute: u32,
}

impl ServerConfig {
    /// The timeouts and connection limit every listener applies.
    pub fn limits(&self) -> crate::listen::Limits {
        crate::listen::Limits {
            header_timeout: self.header_timeout.0,
            request_timeout: self.request_timeout.0,
            idle_timeout: self.idle_timeout.0,
            max_connections: self.max_connections,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
}

/// `[security]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    pub admin_token: String,
    pub master_key_file: PathBuf,
    /// A bearer token that opens `GET /metrics` and nothing else; empty: none (API tokens with
    /// `pki:read` are accepted either way).
    pub metrics_token: String,
}

impl fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityConfig")
            .field(
                "admin_token",
                &if self.admin_token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("master_key_file", &self.master_key_file)
            .field(
                "metrics_token",
                &if self.metrics_token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

/// `[acme]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    pub extra_roots: Vec<PathBuf>,
    /// `[acme.directories]`: directory URLs replacing a provider's published ones, by table name
    /// (`letsencrypt`, `letsencrypt_staging`, ...).
    #[serde(default)]
    pub directories: std::collections::BTreeMap<String, String>,
    /// ZeroSSL's API, where ZeroSSL accounts get their EAB credentials.
    pub zerossl_api: String,
    /// ACME requests in flight to one CA at a time (1 or more).
    pub max_concurrent_requests: usize,
    /// Connect to CAs at private addresses (loopback, private, link-local, ...) too.
    pub allow_private_directories: bool,
    /// Look CAA up before placing an order and refuse one it forbids (`caa_forbidden`).
    pub caa_precheck: bool,
    /// Per request to a CA: until connected, until the response headers, the whole exchange.
    pub connect_timeout: HumanDuration,
    pub header_timeout: HumanDuration,
    pub request_timeout: HumanDuration,
}

/// `[challenges]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengesConfig {
    pub http01_listen: Vec<SocketAddr>,
    pub tls_alpn01_listen: Vec<SocketAddr>,
}

/// `[dns]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    pub resolvers: Vec<SocketAddr>,
    pub propagation_timeout: HumanDuration,
    pub propagation_interval: HumanDuration,
    /// DNS provider API calls in flight per provider at a time (1 or more).
    pub max_concurrent_requests: usize,
    /// Lets provider endpoints be plain http and local or private addresses (test servers).
    pub allow_insecure_endpoints: bool,
}

/// `[renewal]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewalConfig {
    pub before_expiry: HumanDuration,
    pub retry_base: HumanDuration,
    pub retry_max: HumanDuration,
    /// `certificate.expiring` fires when a certificate is this close to `not_after`.
    pub expiring_within: HumanDuration,
    /// How often the expiry scan runs.
    pub scan_interval: HumanDuration,
}

/// `[webhooks]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Allow webhook URLs on loopback, private, link-local and other non-public addresses.
    pub allow_private_targets: bool,
    /// Per delivery attempt.
    pub timeout: HumanDuration,
    /// Attempts per delivery before it is given up (`failed`).
    pub max_attempts: u32,
    pub retry_base: HumanDuration,
    pub retry_max: HumanDuration,
}

/// `[cluster]`: several instances on one PostgreSQL database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// How long an instance's lease on an order lasts without renewal (renewed every third of
    /// it): after a crash, another instance takes the order over within about this long.
    pub lease: HumanDuration,
}

/// `[rate_limits.<table>]`: a provider's production directory (`letsencrypt`, `zerossl`,
/// `buypass`, `google`), its staging directory (`letsencrypt_staging`, ...), or `custom` for
/// every custom account: a count missing or 0 is unlimited; a window missing is Let's
/// Encrypt's (3h for orders, 1h for failed authorizations, 7d for the others).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// New orders per account per `orders_window`.
    pub orders_per_account: Option<u32>,
    pub orders_window: Option<HumanDuration>,
    /// Certificates per registered domain per `certificates_window`.
    pub certificates_per_domain: Option<u32>,
    pub certificates_window: Option<HumanDuration>,
    /// Certificates for the same exact set of names per `duplicates_window`.
    pub duplicates: Option<u32>,
    pub duplicates_window: Option<HumanDuration>,
    /// Authorizations of one account still pending at any one time (no window).
    pub pending_authorizations: Option<u32>,
    /// Authorizations that ended invalid, per identifier and account, per
    /// `failed_authorizations_window`.
    pub failed_authorizations: Option<u32>,
    pub failed_authorizations_window: Option<HumanDuration>,
}

impl RateLimitConfig {
    /// The domain's form of these limits.
    pub fn limits(&self) -> scaivault_domain::rate_limit::RateLimits {
        use scaivault_domain::rate_limit::Limit;
        let limit = |max: Option<u32>, window: Option<HumanDuration>, default_secs: u64| {
            max.filter(|max| *max > 0).map(|max| Limit {
                max,
                window: window.map_or(std::time::Duration::from_secs(default_secs), |w| w.0),
            })
        };
        scaivault_domain::rate_limit::RateLimits {
            orders_per_account: limit(self.orders_per_account, self.orders_window, 3 * 3600),
            certificates_per_domain: limit(
                self.certificates_per_domain,
                self.certificates_window,
                7 * 86_400,
            ),
            duplicates: limit(self.duplicates, self.duplicates_window, 7 * 86_400),
            pending_authorizations: self.pending_authorizations.filter(|max| *max > 0),
            failed_authorizations: limit(
                self.failed_authorizations,
                self.failed_authorizations_window,
                3600,
            ),
        }
    }
}

impl Config {
    /// The providers' directories with `[acme.directories]` applied (checked at load).
    pub fn directories(&self) -> scaivault_domain::provider::Directories {
        scaivault_domain::provider::Directories::new(
            self.acme
                .directories
                .iter()
                .map(|(name, url)| (name.as_str(), url.as_str())),
        )
        .unwrap_or_default()
    }

    /// Every configured provider's limits, for the ledger.
    pub fn provider_limits(&self) -> scaivault_domain::rate_limit::ProviderLimits {
        scaivault_domain::rate_limit::ProviderLimits(
            self.rate_limits
                .iter()
                .map(|(provider, config)| (provider.clone(), config.limits()))
                .collect(),
        )
    }
}

/// Why the configuration was refused; the message names every offending key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{0}")]
pub struct ConfigError(String);

fn optional_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is not an address like \"127.0.0.1:8081\""
        ))
    })
}

fn optional_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let text = String::deserialize(d)?;
    Ok((!text.trim().is_empty()).then(|| PathBuf::from(text)))
}

impl Config {
    /// Loads the configuration: defaults, then `file` (an explicit `--config` must exist), then
    /// the environment given as `(name, value)` pairs.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError(format!(
                        "  --config {}: no such file",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => {
                let local = Path::new("config/default.toml");
                if local.is_file() {
                    figment = figment.merge(Toml::file_exact(local));
                }
            }
        }
        let vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        let mut problems = Vec::new();
        for (name, _) in &vars {
            if !name[ENV_PREFIX.len()..].contains("__") {
                problems.push(format!(
                    "  {name}: not a configuration variable; they are named {ENV_PREFIX}<SECTION>__<KEY>, e.g. SCAIVAULT_DATABASE__URL"
                ));
            }
        }
        let config_vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name[ENV_PREFIX.len()..].contains("__"))
            .collect();
        figment = figment.merge(EnvVars(config_vars));
        let config: Config = match figment.extract() {
            Ok(config) => config,
            Err(errors) => {
                problems.extend(errors.into_iter().map(describe));
                return Err(ConfigError(problems.join("\n")));
            }
        };
        problems.extend(config.check());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(problems.join("\n")))
        }
    }

    /// Rules serde cannot express.
    fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            // Only the scheme: the rest of the URL may hold a password.
            let scheme = url
                .split_once(':')
                .map_or(url.as_str(), |(scheme, _)| scheme);
            problems.push(format!(
                "  database.url: must start with sqlite:// or postgres:// (not {scheme:?})"
            ));
        }
        let token = &self.security.admin_token;
        if !token.is_empty() && (token.len() < 16 || token.chars().any(char::is_whitespace)) {
            problems.push(
                "  security.admin_token: at least 16 characters without spaces (or empty to generate one)".into(),
            );
        }
        if self.dns.propagation_interval.0.is_zero() {
            problems.push("  dns.propagation_interval: must be greater than zero".into());
        }
        if self.dns.propagation_timeout.0 < self.dns.propagation_interval.0 {
            problems.push(
                "  dns.propagation_timeout: must be at least dns.propagation_interval".into(),
            );
        }
        if self.renewal.before_expiry.0.is_zero() {
            problems.push("  renewal.before_expiry: must be greater than zero".into());
        }
        if self.renewal.retry_base.0.is_zero()
            || self.renewal.retry_max.0 < self.renewal.retry_base.0
        {
            problems.push("  renewal.retry_base / retry_max: 0 < retry_base <= retry_max".into());
        }
        if self.renewal.scan_interval.0.is_zero() {
            problems.push("  renewal.scan_interval: must be greater than zero".into());
        }
        if self.webhooks.timeout.0.is_zero() {
            problems.push("  webhooks.timeout: must be greater than zero".into());
        }
        if self.acme.max_concurrent_requests == 0 {
            problems.push("  acme.max_concurrent_requests: at least 1".into());
        }
        if self.dns.max_concurrent_requests == 0 {
            problems.push("  dns.max_concurrent_requests: at least 1".into());
        }
        if self.webhooks.max_attempts == 0 {
            problems.push("  webhooks.max_attempts: at least 1".into());
        }
        if self.webhooks.retry_base.0.is_zero()
            || self.webhooks.retry_max.0 < self.webhooks.retry_base.0
        {
            problems.push("  webhooks.retry_base / retry_max: 0 < retry_base <= retry_max".into());
        }
        if self.cluster.lease.0 < std::time::Duration::from_secs(1) {
            problems.push("  cluster.lease: at least 1s".into());
        }
        for (provider, limits) in &self.rate_limits {
            if !scaivault_domain::rate_limit::is_table_name(provider) {
                problems.push(format!(
                    "  rate_limits.{provider}: not a provider's table (letsencrypt, zerossl, buypass, google, \
                     each with _staging for its staging directory, or custom)"
                ));
            }
            for (key, window) in [
                ("orders_window", limits.orders_window),
                ("certificates_window", limits.certificates_window),
                ("duplicates_window", limits.duplicates_window),
                (
                    "failed_authorizations_window",
                    limits.failed_authorizations_window,
                ),
            ] {
                if window.is_some_and(|w| w.0.is_zero()) {
                    problems.push(format!(
                        "  rate_limits.{provider}.{key}: must be greater than zero"
                    ));
                }
            }
        }
        if !(self.acme.zerossl_api.starts_with("https://")
            || self.acme.zerossl_api.starts_with("http://"))
        {
            problems.push("  acme.zerossl_api: an http(s):// URL".into());
        }
        for (name, url) in &self.acme.directories {
            if let Err(err) =
                scaivault_domain::provider::Directories::new([(name.as_str(), url.as_str())])
            {
                let message = match err {
                    scaivault_domain::Error::Invalid { message, .. } => message,
                    other => other.to_string(),
                };
                problems.push(format!("  acme.directories.{name}: {message}"));
            }
        }
        if self.server.admin_listen == Some(self.server.listen) {
            problems.push("  server.admin_listen: must differ from server.listen".into());
        }
        for (key, timeout) in [
            ("header_timeout", self.server.header_timeout),
            ("request_timeout", self.server.request_timeout),
            ("idle_timeout", self.server.idle_timeout),
        ] {
            if timeout.0.is_zero() {
                problems.push(format!("  server.{key}: must be greater than zero"));
            }
        }
        if self.server.max_connections == 0 {
            problems.push("  server.max_connections: at least 1".into());
        }
        match (&self.server.tls_cert_file, &self.server.tls_key_file) {
            (Some(_), None) => problems.push(
                "  server.tls_key_file: must be set with server.tls_cert_file (both or neither)"
                    .into(),
            ),
            (None, Some(_)) => problems.push(
                "  server.tls_cert_file: must be set with server.tls_key_file (both or neither)"
                    .into(),
            ),
            _ => {}
        }
        problems
    }
}

/// Configuration environment variables as a figment provider: `SCAIVAULT_DNS__RESOLVERS` sets
/// `dns.resolvers`. Values are read like TOML values where they parse (`["a", "b"]`, `42`),
/// else taken as strings, as figment's own `Env` provider does.
struct EnvVars(Vec<(String, String)>);

impl figment::Provider for EnvVars {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        use figment::value::{Dict, Value};
        let mut root = Dict::new();
        for (name, raw) in &self.0 {
            let path: Vec<String> = name[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
            let (last, sections) = path.split_last().expect("split yields at least one part");
            let mut dict = &mut root;
            for section in sections {
                let entry = dict
                    .entry(section.clone())
                    .or_insert_with(|| Value::from(Dict::new()));
                dict = match entry {
                    Value::Dict(_, inner) => inner,
                    _ => {
                        return Err(figment::Error::from(format!(
                            "{name}: {section} is not a section"
                        )));
                    }
                };
            }
            dict.insert(last.clone(), value);
        }
        Ok(figment::Profile::Default.collect(root))
    }
}

/// One figment error as a line naming the key and where the value came from.
fn describe(err: figment::Error) -> String {
    let key = if err.path.is_empty() {
        "(top level)".to_owned()
    } else {
        err.path.join(".")
    };
    let source = err
        .metadata
        .as_ref()
        .map(|meta| match &meta.source {
            Some(source) => format!(" (from {source})"),
            None => format!(" (from {})", meta.name),
        })
        .unwrap_or_default();
    format!("  {key}: {}{source}", err.kind)
}

#[cfg(test)]
mod tests;
