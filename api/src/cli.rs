//! Command-line interface: `diario serve`, `diario migrate`. Every flag can also be set from
//! the environment (see the configuration table in README.md).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use diario_commands::Database;

use crate::{AppState, serve};

/// Diario Online: the verifiable time register of the #UP measure.
#[derive(Debug, Parser)]
#[command(name = "diario", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the database migrations and exit.
    Migrate(DbArgs),
    /// Run the HTTP server (applies pending migrations first).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database URL: `postgres://…` or `sqlite://path` (the file is created on first run).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://diario.db")]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "DIARIO_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "DIARIO_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

/// Errors that stop the binary.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("database: {0}")]
    Store(#[from] diario_commands::StoreError),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Migrate(args) => {
            let db = Database::connect(&args.database_url).await?;
            db.migrate().await?;
            tracing::info!(backend = db.backend(), "migrations applied");
            db.close().await;
            Ok(())
        }
        Command::Serve(args) => {
            let db = Database::connect(&args.db.database_url).await?;
            db.migrate().await?;
            let state = AppState::new(db.clone());
            let listener = tokio::net::TcpListener::bind(args.addr).await?;
            tracing::info!(addr = %listener.local_addr()?, backend = db.backend(), "diario serving");
            serve(
                listener,
                state,
                crate::shutdown_signal(),
                Duration::from_secs(args.shutdown_grace_secs),
            )
            .await?;
            db.close().await;
            tracing::info!("diario stopped");
            Ok(())
        }
    }
}
