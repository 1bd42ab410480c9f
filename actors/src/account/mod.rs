//! ACME accounts: one actor per account, found by its id in ractor's registry, under a supervisor
//! that outlives it.
//!
//! The actor owns the account: its credentials (the private key, decrypted only inside it) and
//! its protocol client, restored from the store on the first message after a start, and it runs
//! the account-level work one message at a time, as RFC 8555 expects of one account key
//! (registration, new orders, revocation, key rollover, contact updates, deactivation). The protocol client does leave it:
//! [`Accounts::client`] hands a clone (the key stays shared, never copied out as material) to
//! each order actor, which drives its own order's authorizations, challenges and finalisation
//! concurrently with the others; a client taken before a key change is replaced at the order's
//! next drive (see `rollover`).
//!
//! Looking an account up never waits for a CA: the registry is ractor's (no lock of ours), and a
//! new actor does no network I/O before its first message, so one stalled CA holds up only the
//! work of its own accounts.

mod actor;
mod ca_order;
mod handle;
mod revocation;
mod rollover;
mod supervisor;
mod zerossl;

pub use self::ca_order::{CreatedChallenge, NewOrderSpec};
pub use self::handle::{Accounts, AccountsConfig, AriWindow};
pub use self::revocation::Revoked;
pub use self::zerossl::ZeroSslApi;
