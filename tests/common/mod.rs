//! Set-up shared by the end-to-end tests: a Pebble, the service trusting Pebble's listener root,
//! on SQLite or on a fresh PostgreSQL database.

#![allow(dead_code)] // each test binary uses its own part of this module

use scaivault_testkit::{Pebble, PebbleOptions, PgDatabase, Service, ServiceOptions};

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A service with its peers; dropped in field order (service first).
pub struct Env {
    pub service: Service,
    pub pebble: Pebble,
    pub pg: Option<PgDatabase>,
}

/// Service options for `db`, with the database created when it is PostgreSQL.
pub fn options(db: Db) -> (ServiceOptions, Option<PgDatabase>) {
    let opts = ServiceOptions::new(env!("CARGO_BIN_EXE_scaivault"));
    match db {
        Db::Sqlite => (opts, None),
        Db::Postgres => {
            let pg = PgDatabase::create();
            (opts.postgres(pg.url()), Some(pg))
        }
    }
}

/// Starts Pebble with `pebble` options and the service on `db`, trusting Pebble's listener.
pub async fn start(db: Db, pebble: PebbleOptions) -> Env {
    let pebble = Pebble::start(pebble).await;
    let (opts, pg) = options(db);
    let service = Service::start(opts.extra_root(pebble.listener_root_pem_path())).await;
    Env {
        service,
        pebble,
        pg,
    }
}

/// The body registering a `custom` account at `pebble`.
pub fn custom_account(name: &str, pebble: &Pebble) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "provider": "custom",
        "environment": "staging",
        "email": "certs@acme.example",
        "directory_url": pebble.directory_url(),
    })
}

/// Declares `name` as two tests, one per store backend; `$body` is an `async fn(Db)`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::common::Db::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(super::common::Db::Postgres).await;
            }
        }
    };
}
