//! CAA (RFC 8659) with the ACME account and method parameters of RFC 8657: may this CA, for this
//! account and challenge type, issue for a name? Checked before an order is placed, so that a
//! name whose owner published "only that other CA" is refused here with a clear reason instead
//! of costing a failed authorization at the CA (which counts against its rate limits).
//!
//! - `record.rs`: a CAA record as found ([`CaaRecord`], [`CaaTag`]) and the relevant RRset of a
//!   name ([`CaaSet`]): the first non-empty CAA RRset met climbing from the name to its parents
//!   (RFC 8659 §3), which the `scaivault-dns` crate looks up.
//! - `issue_value.rs`: the value of an `issue`/`issuewild` property ([`IssueValue`], RFC 8659
//!   §4.2): issuer domain name and parameters.
//! - `decision.rs`: the pure decision ([`decide`]) and its reasons ([`CaaVerdict`],
//!   [`CaaDenial`], [`Objection`]).
//! - `pin.rs`: the records that pin issuance to one account ([`pinning_records`]).

mod decision;
mod issue_value;
mod pin;
mod record;

pub use self::decision::{CaaDenial, CaaRefusal, CaaRequest, CaaVerdict, Objection, decide};
pub use self::issue_value::IssueValue;
pub use self::pin::pinning_records;
pub use self::record::{CaaRecord, CaaSet, CaaTag, climb};
