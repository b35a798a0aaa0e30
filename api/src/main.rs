//! The `diario` binary: a thin entry point; everything lives in the library.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    let (cli, sources) = match diario_api::config::parse(std::env::args_os().collect(), &env) {
        Ok(parsed) => parsed,
        Err(e) => e.exit(),
    };
    let telemetry = diario_api::telemetry::init(
        cli.log_format,
        cli.otlp_endpoint.as_deref(),
        &cli.otlp_service_name,
    );
    let code = match diario_api::cli::run(cli, sources).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "diario stopped with an error");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    };
    // The spans still buffered go out before the process ends (a blocking flush).
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap_or_default();
    code
}
