//! `scaivault`: the ACME client service of the ScaiVault secrets and PKI platform.

mod admin;
mod api;
mod bootstrap;
mod challenges;
mod config;
mod duration;
mod key_check;
mod listen;
mod master_key;
mod rotate;
mod serve;
mod state;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "scaivault",
    version,
    about = "ScaiVault ACME: certificates that never expire by surprise"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (default: the embedded defaults, then config/default.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Re-seal every sealed value under a new master key. Stop every instance first; the
    /// service refuses to start until the rotation has finished, and an interrupted rotation
    /// resumes when run again. Afterwards, point `[security] master_key_file` at the new key.
    RotateMasterKey {
        /// The new key: a 32-byte key file, or a path where a new key is created (mode 0600).
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

fn main() -> ExitCode {
    // sqlx and rcgen pull in both rustls crypto providers; without a process default some
    // libraries panic when they build a TLS config.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let config = match config::Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("scaivault: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.server.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("scaivault: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let done = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve::run(config)),
        Command::RotateMasterKey { new_key_file } => {
            runtime.block_on(rotate::run(&config, &new_key_file))
        }
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("scaivault: {err}");
            ExitCode::FAILURE
        }
    }
}
