//! The crash campaign, short: a real `diario serve` under write load killed with `kill -9`
//! twice, and (PostgreSQL) its private cluster crashed and restarted once; every acknowledged
//! write is in the log and the read models exactly once, a retry gets its first answer, every
//! chain holds. The long version: `diario-crash` (BENCHMARKS.md / docs/operations).

use std::time::Duration;

use diario_tests::Backend;
use diario_tests::crash::{CampaignOptions, run};

fn short(backend: Backend) -> CampaignOptions {
    CampaignOptions {
        backend,
        writers: 4,
        cases_per_writer: 24,
        kills: 2,
        pg_restarts: usize::from(backend == Backend::Postgres),
        round: Duration::from_millis(1500),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_campaign_kill9_and_pg_restart_lose_and_double_nothing_on_postgres() {
    let report = run(&short(Backend::Postgres)).await;
    eprintln!("postgres: {report}");
    assert_eq!((report.kills, report.pg_restarts), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_campaign_kill9_loses_and_doubles_nothing_on_sqlite() {
    let report = run(&short(Backend::Sqlite)).await;
    eprintln!("sqlite: {report}");
    assert_eq!(report.kills, 2);
}
