//! The providers, one module each (its API's wire types in a `wire` module beside it), and
//! [`build`], which picks one by the `type` an operator configured.

mod azure;
mod cloudflare;
mod digitalocean;
mod google;
mod hetzner;
mod rfc2136;
mod route53;

pub use self::azure::AzureDns;
pub use self::cloudflare::Cloudflare;
pub use self::digitalocean::DigitalOcean;
pub use self::google::GoogleCloudDns;
pub use self::hetzner::Hetzner;
pub use self::rfc2136::Rfc2136;
pub use self::route53::Route53;

use crate::config::ResolvedConfig;
use crate::endpoint::HttpClient;
use crate::error::DnsError;
use crate::provider::DnsProvider;

/// The provider of type `kind` for a resolved config. `http` is the shared HTTP client for the
/// cloud APIs, whose endpoint policy each configured endpoint is checked against.
pub fn build(
    kind: &str,
    config: &ResolvedConfig,
    http: &HttpClient,
) -> Result<Box<dyn DnsProvider>, DnsError> {
    Ok(match kind {
        "rfc2136" => Box::new(Rfc2136::new(config)?),
        "aws_route53" => Box::new(Route53::new(config, http.clone())?),
        "cloudflare" => Box::new(Cloudflare::new(config, http.clone())?),
        "google_cloud_dns" => Box::new(GoogleCloudDns::new(config, http.clone())?),
        "azure_dns" => Box::new(AzureDns::new(config, http.clone())?),
        "digitalocean" => Box::new(DigitalOcean::new(config, http.clone())?),
        "hetzner" => Box::new(Hetzner::new(config, http.clone())?),
        other => return Err(DnsError::Config(format!("unknown provider type {other:?}"))),
    })
}
