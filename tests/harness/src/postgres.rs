//! A fresh PostgreSQL database per test on the machine's server.
//!
//! Tests share one PostgreSQL server (127.0.0.1:5432, user `postgres`, trust authentication, as
//! `scripts/test` sets up) but never a database: each gets a uniquely named one, dropped with
//! `WITH (FORCE)` on drop so that connections the service left open do not keep it alive.
//! `psql` does the administration to keep the harness free of a database driver.

use std::process::Command;

const PG_HOST: &str = "127.0.0.1";
const PG_PORT: u16 = 5432;
const PG_USER: &str = "postgres";

/// A database that exists until this value is dropped.
#[derive(Debug)]
pub struct PgDatabase {
    name: String,
}

impl PgDatabase {
    /// Creates `scaivault_test_<pid>_<random>`. Panics (with the `scripts/test` hint) when psql
    /// is missing or the server does not answer.
    pub fn create() -> PgDatabase {
        let name = format!(
            "scaivault_test_{}_{:016x}",
            std::process::id(),
            rand::random::<u64>()
        );
        psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        if crate::keep_artifacts() {
            eprintln!("SCAIVAULT_TEST_KEEP: keeping database {name}");
        }
        PgDatabase { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `postgres://postgres@127.0.0.1:5432/<name>`.
    pub fn url(&self) -> String {
        format!("postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{}", self.name)
    }

    /// Runs SQL in this database through psql and returns its unaligned, tuples-only output
    /// (fields separated by `|`), e.g. to inspect what the service stored.
    pub fn query(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if crate::keep_artifacts() {
            return;
        }
        // Not `psql()`: a panic in drop during unwinding would abort and hide the real failure.
        let _ = base_command("postgres")
            .arg("-c")
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

fn base_command(database: &str) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args([
        "-h",
        PG_HOST,
        "-p",
        &PG_PORT.to_string(),
        "-U",
        PG_USER,
        "-d",
        database,
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
    ])
    .env("PGCONNECT_TIMEOUT", "10");
    cmd
}

fn psql(database: &str, sql: &str) -> String {
    let out = match base_command(database).arg("-c").arg(sql).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => crate::missing_peer("psql", "PATH"),
        Err(e) => panic!("cannot run psql: {e}"),
    };
    if !out.status.success() {
        panic!(
            "psql on {PG_HOST}:{PG_PORT}/{database} failed for `{sql}`: {}\n\
             (is PostgreSQL running? scripts/test starts it)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}
