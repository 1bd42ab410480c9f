//! Real peers for ScaiVault's end-to-end tests.
//!
//! Every peer (Pebble, BIND, a PostgreSQL database, the `scaivault` binary itself) is started as a
//! child process on loopback, on its own free ports or its own `127.0.0.N` address, and stopped
//! (killed and waited for) when its handle is dropped. Readiness is always polled with an overall
//! timeout; a peer that does not come up makes the test panic with the tail of its captured log,
//! so a failure says why rather than "timed out".
//!
//! Everything shared between test processes (loopback addresses, database names) is allocated
//! through the operating system (lock files, `bind(:0)`, random names), never through in-process
//! counters, because cargo-nextest runs every test in its own process.
//!
//! ```no_run
//! use scaivault_testkit::{Bind, BindOptions, Pebble, PebbleOptions, Service, ServiceOptions};
//!
//! # async fn example() {
//! let bind = Bind::start(BindOptions::zones(["example.test"])).await;
//! let pebble = Pebble::start(PebbleOptions {
//!     dns_server: Some(bind.addr()),
//!     ..PebbleOptions::default()
//! })
//! .await;
//! // In an integration test of the root package: env!("CARGO_BIN_EXE_scaivault").
//! let service = Service::start(
//!     ServiceOptions::new("target/debug/scaivault")
//!         .extra_root(pebble.listener_root_pem_path())
//!         .set("dns", "resolvers", format!("[\"{}\"]", bind.addr())),
//! )
//! .await;
//! let (status, body) = service.client().get("/v1/pki/acme/providers").await;
//! assert_eq!(status, 200, "{body}");
//! # }
//! ```
//!
//! Set `SCAIVAULT_TEST_KEEP=1` to keep every peer's temporary directory (and database) after the
//! test and print where it is.

mod acme_front;
mod bind;
mod challtestsrv;
mod client;
mod client_typed;
mod config;
mod contract_check;
mod net;
mod pebble;
mod poll;
mod postgres;
mod process;
mod service;

pub use acme_front::{
    AcmeFront, AcmeFrontOptions, PauseProblem, RenewalWindow, ari_cert_id, tls_acceptor,
};
pub use bind::{Bind, BindOptions};
pub use challtestsrv::ChallTestSrv;
pub use client::{ApiClient, RawResponse};
pub use client_typed::ApiFailure;
pub use config::{ConfigToml, toml_string, toml_string_array};
pub use contract_check::ContractCheck;
pub use net::{LoopbackIp, free_port, lock_loopback_ip};
pub use pebble::{Pebble, PebbleOptions};
pub use postgres::PgDatabase;
pub use service::{Backend, Service, ServiceOptions};

/// Whether `SCAIVAULT_TEST_KEEP=1` asks to keep temporary directories and databases.
pub fn keep_artifacts() -> bool {
    std::env::var("SCAIVAULT_TEST_KEEP").is_ok_and(|v| v == "1")
}

/// Creates a temporary directory for one peer, kept (and announced on stderr) when
/// [`keep_artifacts`] says so.
pub(crate) fn peer_dir(prefix: &str) -> tempfile::TempDir {
    let mut dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory for {prefix}: {e}"));
    if keep_artifacts() {
        dir.disable_cleanup(true);
        eprintln!(
            "SCAIVAULT_TEST_KEEP: keeping {}",
            dir.path().to_string_lossy()
        );
    }
    dir
}

/// Panics with the hint that `scripts/test` installs the Debian peers.
pub(crate) fn missing_peer(what: &str, path: &str) -> ! {
    panic!(
        "{what} not found at {path}: run scripts/test, which installs the test peers \
         (Debian packages pebble bind9 bind9-dnsutils lego) and starts PostgreSQL"
    )
}
