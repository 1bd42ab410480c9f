//! Orders: one actor per order in flight, under a supervisor that restarts a failed one from the
//! store, on the instance that holds the order's lease.
//!
//! - [`Orders`] (`handle.rs`, `requests.rs`) is the handle: issue and renew, resume at start,
//!   stop at shutdown. It is built from one [`OrdersConfig`] (`config.rs`).
//! - `placement.rs` places an order at the CA through its account's actor, counted in the
//!   local rate-limit ledger (`rate_ledger.rs`), after the CAA pre-check (`caa_check.rs`);
//!   `pauses.rs` records and clears the CA's pauses of the account's identifiers.
//! - `actor.rs` drives an order through RFC 8555 §7.4 from the store and the CA's view of it;
//!   `issuance.rs` takes the last steps (CSR, storing the version, planning its renewal),
//!   `failure.rs` sorts what went wrong, `finish.rs` ends an order.
//! - `supervisor.rs` restarts failed actors with backoff; `leases.rs` decides which instance
//!   drives which order.
//! - `dns01.rs` publishes and removes dns-01 TXT records through the `scaivault-dns`
//!   providers, at most so many calls per provider at once (`provider_slots.rs`);
//!   `dns_probe.rs` runs the same steps on a probe value to test a provider.
//!
//! Files depend one way: handle → supervisor → actor → issuance/placement → context → config.

mod actor;
mod caa_check;
mod config;
mod context;
mod dns01;
mod dns_pick;
mod dns_probe;
mod failure;
mod finish;
mod handle;
mod issuance;
mod leases;
mod pauses;
mod placement;
mod provider_slots;
mod rate_ledger;
mod requests;
mod supervisor;

pub use self::caa_check::CaaReport;
pub use self::config::{Cluster, DnsSettings, OrdersConfig};
pub use self::dns_probe::{DnsProbe, DnsProbeError, ProbeStage};
pub use self::handle::Orders;
pub use self::requests::IssueRequest;
