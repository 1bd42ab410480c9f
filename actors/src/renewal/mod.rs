//! Renewal: the service the renewal and expiry jobs call ([`RenewalService`]), the ARI plan that
//! decides when a version renews (RFC 9773), and the scheduler the order actors hand each new
//! version's first renewal to ([`RenewalScheduler`], implemented by the jobs crate).

mod ari;
mod expiring;
mod scheduler;
mod service;

pub(crate) use self::ari::ari_plan;
pub use self::scheduler::{RenewalScheduler, SharedScheduler};
pub use self::service::{HeldRenewal, RenewalFailure, RenewalOutcome, RenewalService};
