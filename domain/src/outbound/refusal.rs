//! Why a destination was refused.

use std::fmt;
use std::net::IpAddr;

use super::addresses::AddressKind;

/// The kind of refusal, with a stable wire code ([`Refusal::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The host is a name reserved for local or internal services.
    BlockedName,
    /// The name does not resolve (or resolves to nothing).
    Unresolvable,
    /// The host is, or resolves to, a non-public address of this kind.
    Address(AddressKind),
}

impl Refusal {
    /// `blocked_name`, `unresolvable`, or the address kind (`loopback`, `private`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Refusal::BlockedName => "blocked_name",
            Refusal::Unresolvable => "unresolvable",
            Refusal::Address(kind) => kind.code(),
        }
    }
}

/// A refused destination: the kind, a message for the caller, and (for the log only) the
/// address that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub refusal: Refusal,
    /// For people: what was refused and why, without any resolved address.
    pub message: String,
    /// The resolved address that was refused, when a name led to it: log it, never show it.
    pub address: Option<IpAddr>,
}

impl Refused {
    /// Whether the refusal is a policy decision (as opposed to a name that does not resolve).
    pub fn by_policy(&self) -> bool {
        !matches!(self.refusal, Refusal::Unresolvable)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}
