//! Where the service may connect when a caller chose the destination: webhook URLs, custom ACME
//! directories (and every URL a CA's directory names), DNS provider API endpoints.
//!
//! Unless the operator allows private destinations for that use, a destination is refused when
//! its host is a name reserved for local use (`localhost`, cloud metadata names, `.internal`,
//! `.local`) or when ANY address it resolves to is not a public unicast address ([`addresses`]).
//! Callers resolve through [`check_host`] and then connect to exactly the addresses it returned,
//! so a DNS answer that changes between check and connect (rebinding) cannot reach a refused
//! address.
//!
//! Refusals say why, never what a name resolved to: the address would tell a caller about the
//! inside of the network. It is kept in [`Refused::address`] for the log.

pub mod addresses;
mod check;
mod refusal;

pub use addresses::{AddressKind, forbidden_address};
pub use check::{Guard, Host, blocked_name, check_host, check_without_lookup};
pub use refusal::{Refusal, Refused};
