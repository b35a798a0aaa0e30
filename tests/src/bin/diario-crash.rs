//! `diario-crash`: the crash campaign (see `diario_tests::crash`) at a chosen size — write
//! load through a real `diario serve`, `kill -9` rounds, immediate PostgreSQL restarts on a
//! private cluster — then the proof that no acknowledged write was lost or doubled and every
//! chain holds. Exits non-zero with the evidence when a guarantee fails.
//!
//! `cargo run --release -p diario-tests --bin diario-crash -- --backend postgres --kills 6 --pg-restarts 3`

use std::time::Duration;

use clap::Parser;
use diario_tests::Backend;
use diario_tests::crash::{CampaignOptions, run};

#[derive(Parser)]
#[command(name = "diario-crash")]
struct Cli {
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    backend: String,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// Cases per writer (40 entries each; the load must outlast the campaign).
    #[arg(long, default_value_t = 40)]
    cases_per_writer: usize,
    /// `kill -9` rounds of the server.
    #[arg(long, default_value_t = 6)]
    kills: usize,
    /// Immediate PostgreSQL restarts on a private cluster (PostgreSQL only).
    #[arg(long, default_value_t = 3)]
    pg_restarts: usize,
    /// Seconds of writing before each kill or restart.
    #[arg(long, default_value_t = 3)]
    round_secs: u64,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let backend = match cli.backend.as_str() {
        "postgres" => Backend::Postgres,
        "sqlite" => Backend::Sqlite,
        other => {
            eprintln!("--backend must be postgres or sqlite, not {other}");
            std::process::exit(2);
        }
    };
    let opts = CampaignOptions {
        backend,
        writers: cli.writers,
        cases_per_writer: cli.cases_per_writer,
        kills: cli.kills,
        pg_restarts: if backend == Backend::Postgres {
            cli.pg_restarts
        } else {
            0
        },
        round: Duration::from_secs(cli.round_secs),
    };
    let report = run(&opts).await;
    println!("{}: {report}", cli.backend);
}
