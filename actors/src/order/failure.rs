//! How a run of an order actor ends short of a certificate, and how errors are sorted into that.

use scaivault_domain::order::{OrderError, OrderRecord};

use super::dns01::PublishError;
use crate::Error;
use crate::acme::ProblemKind;

/// How a run ended short of a certificate.
pub(super) enum Failure {
    /// Retrying cannot help: the order ends invalid with this error.
    Final(OrderError),
    /// Retrying may help (network, timeouts, store).
    Transient(Error),
    /// The CA could not connect to this service's responder (it was down or restarting while
    /// the CA validated): placing the order again at the CA may succeed.
    Reorder(OrderError),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Transient(err)
    }
}

impl From<scaivault_domain::Error> for Failure {
    fn from(err: scaivault_domain::Error) -> Self {
        Failure::Transient(err.into())
    }
}

/// Sorts a protocol error into final (the CA decided) or transient (try again).
pub(super) fn classify(record: &OrderRecord, err: instant_acme::Error) -> Failure {
    match err {
        instant_acme::Error::Api(problem) => {
            let kind = ProblemKind::from_type(problem.r#type.as_deref());
            if kind.is_transient() {
                return Failure::Transient(Error::from_acme(
                    &record.order_url,
                    instant_acme::Error::Api(problem),
                ));
            }
            Failure::Final(OrderError::new(
                kind.name(),
                format!(
                    "the CA refused the order for {}: {} ({})",
                    record.domains.join(", "),
                    problem.detail.as_deref().unwrap_or("no detail"),
                    problem.r#type.as_deref().unwrap_or_default(),
                ),
            ))
        }
        instant_acme::Error::Timeout(_) => Failure::Transient(Error::Unavailable(format!(
            "order {}: the CA did not finish in time; polling again",
            record.id
        ))),
        other => Failure::Transient(Error::from_acme(&record.order_url, other)),
    }
}

/// Sorts a dns-01 publication failure: what retrying cannot fix ends the order, naming the
/// domain and the provider; the rest (rate limits, provider outages) is retried.
pub(super) fn publish_failure(provider_id: &str, err: PublishError) -> Failure {
    match err {
        PublishError::Setup(Error::Dns(err)) => Failure::Final(OrderError::new(
            "dns_provider_error",
            format!("dns-01: DNS provider {provider_id}: {err}"),
        )),
        PublishError::Setup(Error::Domain(scaivault_domain::Error::NotFound { kind, id })) => {
            Failure::Final(OrderError::new(
                "dns_provider_error",
                format!("dns-01: {kind} {id} not found"),
            ))
        }
        PublishError::Setup(err) => Failure::Transient(err),
        PublishError::Dns(_, err) if err.is_transient() => Failure::Transient(Error::Dns(err)),
        PublishError::Dns(domain, err) => Failure::Final(OrderError::new(
            "dns_provider_error",
            format!(
                "{domain}: dns-01: DNS provider {provider_id} could not write the TXT record: {err}"
            ),
        )),
        PublishError::Propagation(domain, err) => Failure::Final(OrderError::new(
            "dns_propagation_failed",
            format!("{domain}: dns-01: {err}"),
        )),
    }
}
