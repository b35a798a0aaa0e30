//! `diario-bench`: benchmarks that report every figure next to a baseline measured in the same
//! run on the same machine (see BENCHMARKS.md).
//!
//! `diario-bench append` — event-store append throughput at several writer counts, against
//! (a) raw single-row INSERT transactions into a plain table with the same payload and
//! (b) the same raw INSERTs serialised by a global advisory lock held to commit — the
//! alternative ordering technique the store does not use (docs/event-store.md).
//!
//! `diario-bench contention` — a burst of entries with several writers per case through two
//! servers on one PostgreSQL, against the same burst with one writer per case (issue of
//! colleagues saving on one case at the same moment).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::{Parser, Subcommand};
use diario_log::{Database, EventStore, ExpectedVersion, NewEvent};
use diario_tests::{Backend, TestDb};
use serde_json::json;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "diario-bench")]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Append throughput of the event store against raw INSERT baselines.
    Append {
        /// `postgres` or `sqlite`.
        #[arg(long, default_value = "postgres")]
        backend: String,
        /// Comma-separated writer counts.
        #[arg(long, default_value = "1,8,32", value_delimiter = ',')]
        writers: Vec<usize>,
        /// Seconds each measurement runs.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Projection rebuild over a seeded log vs. reading the same log with `read_all`.
    Rebuild {
        #[arg(long, default_value = "postgres")]
        backend: String,
        /// Events to seed (at least 1,000,000 for the reported figure).
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Also measure section 6 (growth) on this store against a store of this many events.
        #[arg(long)]
        growth_small: Option<usize>,
    },
    /// History-as-of and case replay for a case of about 1,000 events vs. reading its stream.
    Replay {
        #[arg(long, default_value = "postgres")]
        backend: String,
    },
    /// Record-entry latency on a case of ~1,000 events vs one of ~20, warm and cold cache.
    History {
        #[arg(long, default_value = "postgres")]
        backend: String,
    },
    /// Command and dashboard latency with a small and a large store (flat is the goal).
    Growth {
        #[arg(long, default_value_t = 10_000)]
        small: usize,
        #[arg(long, default_value_t = 1_000_000)]
        large: usize,
    },
    /// Busy cases: a burst of entries with several writers per case through two servers on one
    /// PostgreSQL, against the same burst with one writer per case.
    Contention {
        /// Writers per busy case.
        #[arg(long, default_value_t = 10)]
        writers: usize,
        /// Busy cases (the burst is cases × writers entries).
        #[arg(long, default_value_t = 20)]
        cases: usize,
        /// Repetitions of each burst.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// HTTP: recording entries vs. GET /healthz at fixed concurrency; projection lag; peak RSS.
    Http {
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
}

#[tokio::main]
async fn main() {
    match Cli::parse().command {
        BenchCommand::Append {
            backend,
            writers,
            seconds,
        } => {
            let backend = match backend.as_str() {
                "postgres" => Backend::Postgres,
                "sqlite" => Backend::Sqlite,
                other => {
                    eprintln!("unknown backend {other}: use postgres or sqlite");
                    std::process::exit(2);
                }
            };
            append(backend, &writers, Duration::from_secs(seconds)).await;
        }
        BenchCommand::Rebuild {
            backend,
            events,
            growth_small,
        } => {
            bench::rebuild(parse_backend(&backend), events, growth_small).await;
        }
        BenchCommand::Replay { backend } => bench::replay(parse_backend(&backend)).await,
        BenchCommand::History { backend } => bench::history(parse_backend(&backend)).await,
        BenchCommand::Growth { small, large } => bench::growth(small, large).await,
        BenchCommand::Contention {
            writers,
            cases,
            runs,
        } => contention(cases, writers, runs).await,
        BenchCommand::Http {
            concurrency,
            seconds,
        } => bench::http(concurrency, Duration::from_secs(seconds)).await,
    }
}

/// The busy burst and its baseline (as many cases as writes, one writer each), alternately,
/// `runs` times; p50/p99 of each and their ratio, and the writes not accepted at once.
async fn contention(cases: usize, writers: usize, runs: usize) {
    let total = cases * writers;
    println!(
        "contention: {total} entries at once through 2 servers on PostgreSQL; busy = {cases} cases × {writers} writers, baseline = {total} cases × 1 writer"
    );
    println!(
        "| run | busy p50 ms | busy p99 ms | baseline p50 ms | baseline p99 ms | p99 ratio | busy refused |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for run in 1..=runs {
        let busy = diario_tests::contention::burst(cases, writers).await;
        let base = diario_tests::contention::burst(total, 1).await;
        println!(
            "| {run} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}× | {} |",
            ms(busy.quantile(0.5)),
            ms(busy.quantile(0.99)),
            ms(base.quantile(0.5)),
            ms(base.quantile(0.99)),
            ms(busy.quantile(0.99)) / ms(base.quantile(0.99)),
            busy.refused().len()
        );
    }
}

fn parse_backend(name: &str) -> Backend {
    match name {
        "postgres" => Backend::Postgres,
        "sqlite" => Backend::Sqlite,
        other => {
            eprintln!("unknown backend {other}: use postgres or sqlite");
            std::process::exit(2);
        }
    }
}

#[path = "bench/mod.rs"]
mod bench;

/// A payload the size of a real `EntryRecorded` event.
fn payload(n: u64) -> serde_json::Value {
    json!({
        "entry_id": Uuid::now_v7(),
        "phase": 3,
        "professional": "RSSMRA85T10A562S",
        "figure": "educatore_professionale",
        "service": "accompagnamento_inclusione",
        "slot": {"date": "2026-03-02", "start": "09:00", "end": "10:30"},
        "minutes": 90,
        "system_failure_id": null,
        "at": Utc::now(),
        "n": n,
    })
}

async fn append(backend: Backend, writer_counts: &[usize], duration: Duration) {
    let db = TestDb::new(backend).await;
    let setup = "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)";
    let setup = match backend {
        Backend::Postgres => {
            "CREATE TABLE bench_raw (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload JSONB NOT NULL)"
        }
        Backend::Sqlite => setup,
    };
    db.raw(setup).await;
    println!(
        "| writers | event store appends/s | raw INSERT tx/s (baseline) | store / raw | raw INSERT serialised tx/s | serialised / raw |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &w in writer_counts {
        let store_rate = run(w, duration, {
            let store = db.db.event_store();
            move |writer, n| {
                let store = store.clone();
                async move { store_append(&*store, writer, n).await }
            }
        })
        .await;
        let raw_rate = run(w, duration, {
            let db = db.db.clone();
            move |_, n| {
                let db = db.clone();
                async move { raw_insert(&db, n, false).await }
            }
        })
        .await;
        let serial = match backend {
            Backend::Postgres => Some(
                run(w, duration, {
                    let db = db.db.clone();
                    move |_, n| {
                        let db = db.clone();
                        async move { raw_insert(&db, n, true).await }
                    }
                })
                .await,
            ),
            Backend::Sqlite => None,
        };
        let (serial_rate, serial_ratio) = match serial {
            Some(s) => (format!("{s:.0}"), format!("{:.2}", s / raw_rate)),
            None => ("n/a (SQLite is single-writer)".into(), "—".into()),
        };
        println!(
            "| {w} | {store_rate:.0} | {raw_rate:.0} | {:.2} | {serial_rate} | {serial_ratio} |",
            store_rate / raw_rate
        );
    }
    db.cleanup().await;
}

/// Runs `op` from `writers` concurrent tasks for `duration`; returns operations per second.
async fn run<F, Fut>(writers: usize, duration: Duration, op: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..writers {
        let (op, done) = (op.clone(), done.clone());
        tasks.spawn(async move {
            let mut n = 0;
            while start.elapsed() < duration {
                op(writer, n).await;
                n += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            eprintln!("a writer failed: {e}");
            std::process::exit(1);
        }
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn store_append(store: &dyn EventStore, writer: usize, n: u64) {
    let meta = diario_tests::command_metadata("RSSMRA85T10A562S", "professional", Utc::now());
    let event = NewEvent {
        event_type: "EntryRecorded".into(),
        schema_version: 2,
        payload: payload(n),
    };
    if let Err(e) = store
        .append(
            &format!("bench-{writer}"),
            ExpectedVersion::Any,
            vec![event],
            meta,
        )
        .await
    {
        eprintln!("append failed: {e}");
        std::process::exit(1);
    }
}

async fn raw_insert(db: &Database, n: u64, serialised: bool) {
    let body = payload(n).to_string();
    let result = match db {
        Database::Postgres(pool) => {
            async {
                let mut tx = pool.begin().await?;
                if serialised {
                    let lock = sqlx::query("SELECT pg_advisory_xact_lock(4242)");
                    lock.execute(&mut *tx).await?;
                }
                let insert = sqlx::query("INSERT INTO bench_raw (payload) VALUES ($1::jsonb)");
                insert.bind(&body).execute(&mut *tx).await?;
                tx.commit().await
            }
            .await
        }
        Database::Sqlite(pool) => {
            async {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let insert = sqlx::query("INSERT INTO bench_raw (payload) VALUES (?)");
                insert.bind(&body).execute(&mut *tx).await?;
                tx.commit().await
            }
            .await
        }
    };
    if let Err(e) = result {
        eprintln!("raw insert failed: {e}");
        std::process::exit(1);
    }
}
