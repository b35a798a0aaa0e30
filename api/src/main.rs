//! The `diario` binary: a thin entry point; everything lives in the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = diario_api::cli::Cli::parse();
    diario_api::telemetry::init();
    match diario_api::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "diario stopped with an error");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
