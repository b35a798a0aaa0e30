//! `peer-bench`: the append and stream-loading workload of `diario-bench` (tests/src/bin/
//! diario-bench.rs, `append`; BENCHMARKS.md §1 and §5) run against two peer event stores from
//! crates.io — cqrs-es with postgres-es, and esrs with its `PgStore` — each next to a raw
//! baseline measured in the same run on the same server, so that the ratios can be set beside
//! ours. See README.md beside Cargo.toml.
//!
//! Markdown tables go to stdout; progress goes to stderr.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventRepository, PersistedEventStore};
use cqrs_es::{DomainEvent, EventStore as _};
use esrs::manager::AggregateManager;
use esrs::store::EventStore as _;
use esrs::store::postgres::{PgStore, PgStoreBuilder};
use esrs::{Aggregate as _, AggregateState};
use postgres_es::{PostgresCqrs, PostgresEventRepository};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Executor, Row};
use uuid::Uuid;

/// The schema postgres-es documents (`db/init.sql` of the crate): the `events` table, and the
/// `snapshots` table its snapshot and aggregate stores need. The view table and the sample
/// rows of that file are not needed here.
const POSTGRES_ES_SCHEMA: [&str; 2] = [
    "CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
)",
    "CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
)",
];

/// The baseline table of `diario-bench append`, unchanged.
const RAW_SCHEMA: &str = "CREATE TABLE bench_raw (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload JSONB NOT NULL)";

// ---------------------------------------------------------------------------------------------
// The workload: an `EntryRecorded` event of about 300 bytes, as in diario-bench.

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Slot {
    date: String,
    start: String,
    end: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct EntryRecorded {
    entry_id: Uuid,
    phase: u8,
    professional: String,
    figure: String,
    service: String,
    slot: Slot,
    minutes: u32,
    system_failure_id: Option<Uuid>,
    at: DateTime<Utc>,
    n: u64,
}

/// The payload of `diario-bench`'s `payload(n)`, field for field.
fn entry(n: u64) -> EntryRecorded {
    EntryRecorded {
        entry_id: Uuid::now_v7(),
        phase: 3,
        professional: "RSSMRA85T10A562S".into(),
        figure: "educatore_professionale".into(),
        service: "accompagnamento_inclusione".into(),
        slot: Slot {
            date: "2026-03-02".into(),
            start: "09:00".into(),
            end: "10:30".into(),
        },
        minutes: 90,
        system_failure_id: None,
        at: Utc::now(),
        n,
    }
}

/// The domain event both libraries store (serde's external tag: `{"EntryRecorded": {…}}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum CaseEvent {
    EntryRecorded(EntryRecorded),
}

// ---------------------------------------------------------------------------------------------
// cqrs-es: a trivial aggregate whose one command emits one event.

#[derive(Default, Serialize, Deserialize)]
struct CqrsCase {
    entries: u64,
}

impl DomainEvent for CaseEvent {
    fn event_type(&self) -> String {
        "EntryRecorded".into()
    }
    fn event_version(&self) -> String {
        "2".into()
    }
}

impl cqrs_es::Aggregate for CqrsCase {
    const TYPE: &'static str = "case";
    type Command = EntryRecorded;
    type Event = CaseEvent;
    type Error = Infallible;
    type Services = ();

    async fn handle(
        &mut self,
        command: EntryRecorded,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Infallible> {
        sink.write(CaseEvent::EntryRecorded(command), self).await;
        Ok(())
    }

    fn apply(&mut self, _event: CaseEvent) {
        self.entries += 1;
    }
}

type CqrsStore = PersistedEventStore<PostgresEventRepository, CqrsCase>;

// ---------------------------------------------------------------------------------------------
// esrs: the same aggregate (its table is `bench_events`, created by the store's migrations).

struct EsrsCase;

impl esrs::Aggregate for EsrsCase {
    const NAME: &'static str = "bench";
    type State = u64;
    type Command = EntryRecorded;
    type Event = CaseEvent;
    type Error = Infallible;

    fn handle_command(_state: &u64, command: EntryRecorded) -> Result<Vec<CaseEvent>, Infallible> {
        Ok(vec![CaseEvent::EntryRecorded(command)])
    }

    fn apply_event(state: u64, _event: CaseEvent) -> u64 {
        state + 1
    }
}

// ---------------------------------------------------------------------------------------------
// Write paths.

#[derive(Clone, Copy, Debug, PartialEq)]
enum WritePath {
    /// `diario-bench`'s baseline: BEGIN; INSERT INTO bench_raw …; COMMIT.
    Raw,
    /// `postgres_cqrs` → `CqrsFramework::execute`: load the aggregate by replaying its events,
    /// handle, commit.
    CqrsFramework,
    /// `postgres_aggregate_cqrs` → `CqrsFramework::execute`: load the aggregate from its
    /// snapshot row, handle, commit events and the snapshot in one transaction.
    CqrsAggregateStore,
    /// The aggregate kept by the writer; handle, then `PersistedEventStore::commit` at the
    /// sequence the writer knows (what `execute` does after its load).
    CqrsCommit,
    /// `AggregateManager::load` (replays the stream) then `AggregateManager::handle_command`.
    EsrsManager,
    /// The `AggregateState` kept by the writer; `Aggregate::handle_command`, then
    /// `PgStore::persist` (the README's "using the store" path).
    EsrsPersist,
}

impl WritePath {
    const PEERS: [WritePath; 5] = [
        WritePath::CqrsFramework,
        WritePath::CqrsAggregateStore,
        WritePath::CqrsCommit,
        WritePath::EsrsManager,
        WritePath::EsrsPersist,
    ];

    fn label(self) -> &'static str {
        match self {
            WritePath::Raw => "raw INSERT tx",
            WritePath::CqrsFramework => {
                "cqrs-es `CqrsFramework::execute`, event store (replay stream + handle + commit)"
            }
            WritePath::CqrsAggregateStore => {
                "cqrs-es `CqrsFramework::execute`, aggregate store (snapshot + handle + commit events & snapshot)"
            }
            WritePath::CqrsCommit => {
                "cqrs-es `PersistedEventStore::commit` (aggregate cached by the writer)"
            }
            WritePath::EsrsManager => {
                "esrs `AggregateManager` (load: replay stream + `handle_command` + persist)"
            }
            WritePath::EsrsPersist => "esrs `PgStore::persist` (state cached by the writer)",
        }
    }

    /// Does each command read the whole stream first (so its cost grows with the stream)?
    fn replays(self) -> bool {
        matches!(self, WritePath::CqrsFramework | WritePath::EsrsManager)
    }
}

struct Peers {
    raw: PgPool,
    cqrs_pool: PgPool,
    cqrs_framework: PostgresCqrs<CqrsCase>,
    cqrs_aggregate_store: PostgresCqrs<CqrsCase>,
    cqrs_store: CqrsStore,
    cqrs_repo: PostgresEventRepository,
    esrs_pool: PgPool,
    esrs_store: PgStore<EsrsCase>,
    esrs_manager: AggregateManager<PgStore<EsrsCase>>,
}

/// One writer task: its own stream, and the state a caching writer keeps.
struct Writer {
    path: WritePath,
    peers: Arc<Peers>,
    cqrs_id: String,
    esrs_id: Uuid,
    esrs_state: Option<AggregateState<u64>>,
}

impl Writer {
    fn new(path: WritePath, peers: Arc<Peers>, run: &str, writer: usize) -> Writer {
        let esrs_id = Uuid::new_v4();
        Writer {
            path,
            peers,
            cqrs_id: format!("{run}-{writer}"),
            esrs_id,
            esrs_state: Some(AggregateState::with_id(esrs_id)),
        }
    }

    /// Appends the writer's `n`-th event (0-based) to its stream.
    async fn append(&mut self, n: u64) -> Result<(), String> {
        let p = &*self.peers;
        match self.path {
            WritePath::Raw => raw_insert(&p.raw, n).await,
            WritePath::CqrsFramework => p
                .cqrs_framework
                .execute(&self.cqrs_id, entry(n))
                .await
                .map_err(|e| format!("cqrs-es execute: {e}")),
            WritePath::CqrsAggregateStore => p
                .cqrs_aggregate_store
                .execute(&self.cqrs_id, entry(n))
                .await
                .map_err(|e| format!("cqrs-es execute (aggregate store): {e}")),
            WritePath::CqrsCommit => {
                cqrs_commit(&p.cqrs_store, &self.cqrs_id, n, entry(n)).await?;
                Ok(())
            }
            WritePath::EsrsManager => {
                let state = p
                    .esrs_manager
                    .load(self.esrs_id)
                    .await
                    .map_err(|e| format!("esrs load: {e}"))?
                    .unwrap_or_else(|| AggregateState::with_id(self.esrs_id));
                match p.esrs_manager.handle_command(state, entry(n)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(never)) => match never {},
                    Err(e) => Err(format!("esrs handle_command: {e}")),
                }
            }
            WritePath::EsrsPersist => {
                let mut state = self.esrs_state.take().ok_or("esrs state lost")?;
                let Ok(events) = EsrsCase::handle_command(state.inner(), entry(n));
                let stored = p
                    .esrs_store
                    .persist(&mut state, events)
                    .await
                    .map_err(|e| format!("esrs persist: {e}"))?;
                self.esrs_state = Some(state.apply_store_events(stored, EsrsCase::apply_event));
                Ok(())
            }
        }
    }
}

/// Handle on an aggregate known to be at sequence `sequence`, then commit through the store:
/// the framework's `execute` without its load. The commit is the store's normal one: the
/// events' sequences follow `sequence`, and the primary key refuses a sequence already taken.
async fn cqrs_commit(
    store: &CqrsStore,
    aggregate_id: &str,
    sequence: u64,
    command: EntryRecorded,
) -> Result<(), String> {
    let mut context = EventStoreAggregateContext {
        aggregate_id: aggregate_id.to_owned(),
        aggregate: CqrsCase { entries: sequence },
        current_sequence: sequence as usize,
        current_snapshot: None,
    };
    let sink = EventSink::default();
    let Ok(()) = cqrs_es::Aggregate::handle(&mut context.aggregate, command, &(), &sink).await;
    let events = sink.collect().await;
    store
        .commit(events, context, HashMap::new())
        .await
        .map(|_| ())
        .map_err(|e| format!("cqrs-es commit: {e}"))
}

async fn raw_insert(pool: &PgPool, n: u64) -> Result<(), String> {
    let body = serde_json::to_string(&entry(n)).map_err(|e| e.to_string())?;
    async {
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO bench_raw (payload) VALUES ($1::jsonb)")
            .bind(&body)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
    .await
    .map_err(|e: sqlx::Error| format!("raw insert: {e}"))
}

/// Runs the writers concurrently for `duration`, as `diario-bench`'s `run`: returns completed
/// appends per second (summed over writers) and the events each writer appended.
async fn run(writers: Vec<Writer>, duration: Duration) -> Result<(f64, Vec<u64>), String> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut writer in writers {
        let done = done.clone();
        tasks.spawn(async move {
            let mut n = 0;
            while start.elapsed() < duration {
                writer.append(n).await?;
                n += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<u64, String>(n)
        });
    }
    let mut counts = Vec::new();
    let mut failure = None;
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Ok(n)) => counts.push(n),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(format!("a writer panicked: {e}")),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((
        done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64(),
        counts,
    ))
}

// ---------------------------------------------------------------------------------------------
// Options.

struct Options {
    url: String,
    writers: Vec<usize>,
    seconds: u64,
    stream_events: u64,
    loads: usize,
    pool: u32,
}

const USAGE: &str = "peer-bench [--url postgres://postgres@127.0.0.1:5432] [--writers 1,8,32] \
[--seconds 4] [--stream-events 1000] [--loads 50] [--pool 10]

Append throughput and stream loading of cqrs-es + postgres-es and esrs (PgStore), each next to
raw INSERT / SELECT baselines measured in the same run. --url names a server where the user may
CREATE DATABASE; a fresh database peer_bench_<random> is made there and dropped at the end.
Markdown tables on stdout, progress on stderr.";

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        url: "postgres://postgres@127.0.0.1:5432".into(),
        writers: vec![1, 8, 32],
        seconds: 4,
        stream_events: 1000,
        loads: 50,
        pool: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or(format!("{name} needs a value"))?,
        };
        let number = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|e| format!("{name} {v}: {e}"))
        };
        match name.as_str() {
            "--url" => o.url = value,
            "--writers" => {
                o.writers = value
                    .split(',')
                    .map(|w| number(w).map(|w| w as usize))
                    .collect::<Result<_, _>>()?;
                if o.writers.contains(&0) {
                    return Err("--writers: each count must be at least 1".into());
                }
            }
            "--seconds" => o.seconds = number(&value)?.max(1),
            "--stream-events" => o.stream_events = number(&value)?,
            "--loads" => o.loads = number(&value)?.max(1) as usize,
            "--pool" => o.pool = number(&value)?.max(1) as u32,
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Database setup.

/// `url` with its database replaced by `name` (query parameters kept).
fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A pool of `size` connections, all opened before it is returned.
async fn pool(url: &str, size: u32) -> Result<PgPool, String> {
    let pool = PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .map_err(|e| format!("connect to {url}: {e}"))?;
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(pool.acquire().await.map_err(|e| e.to_string())?);
    }
    drop(held);
    Ok(pool)
}

async fn build_peers(url: &str, size: u32) -> Result<Peers, String> {
    let raw = pool(url, size).await?;
    raw.execute(RAW_SCHEMA).await.map_err(|e| e.to_string())?;

    let cqrs_pool = pool(url, size).await?;
    for ddl in POSTGRES_ES_SCHEMA {
        cqrs_pool.execute(ddl).await.map_err(|e| e.to_string())?;
    }
    let cqrs_framework = postgres_es::postgres_cqrs(cqrs_pool.clone(), vec![], ());
    let cqrs_aggregate_store = postgres_es::postgres_aggregate_cqrs(cqrs_pool.clone(), vec![], ());
    let cqrs_store =
        PersistedEventStore::new_event_store(PostgresEventRepository::new(cqrs_pool.clone()));
    let cqrs_repo = PostgresEventRepository::new(cqrs_pool.clone());

    let esrs_pool = pool(url, size).await?;
    // Runs esrs's own migrations: creates bench_events with its indexes.
    let esrs_store: PgStore<EsrsCase> = PgStoreBuilder::new(esrs_pool.clone())
        .try_build()
        .await
        .map_err(|e| format!("esrs PgStore: {e}"))?;
    let esrs_manager = AggregateManager::new(esrs_store.clone());
    Ok(Peers {
        raw,
        cqrs_pool,
        cqrs_framework,
        cqrs_aggregate_store,
        cqrs_store,
        cqrs_repo,
        esrs_pool,
        esrs_store,
        esrs_manager,
    })
}

// ---------------------------------------------------------------------------------------------
// Measurements.

struct AppendRow {
    path: WritePath,
    writers: usize,
    rate: f64,
    /// The raw INSERT rate before and after the peers' runs at this writer count.
    raw: (f64, f64),
    mean_stream: f64,
}

async fn appends(peers: &Arc<Peers>, o: &Options) -> Result<Vec<AppendRow>, String> {
    let duration = Duration::from_secs(o.seconds);
    let measure = |path: WritePath, w: usize, label: String| {
        let writers = (0..w)
            .map(|i| Writer::new(path, peers.clone(), &label, i))
            .collect();
        run(writers, duration)
    };
    let mut rows = Vec::new();
    for &w in &o.writers {
        // The raw baseline brackets the peers' runs: measured before and after, averaged.
        eprintln!("[append] {w} writers: raw INSERT (before)");
        let (before, _) = measure(WritePath::Raw, w, String::new()).await?;
        let mut runs = Vec::new();
        for path in WritePath::PEERS {
            eprintln!("[append] {w} writers: {}", path.label());
            let (rate, counts) = measure(path, w, format!("{path:?}-w{w}")).await?;
            let mean_stream = counts.iter().sum::<u64>() as f64 / counts.len() as f64;
            runs.push((path, rate, mean_stream));
        }
        eprintln!("[append] {w} writers: raw INSERT (after)");
        let (after, _) = measure(WritePath::Raw, w, String::new()).await?;
        eprintln!("[append] {w} writers: raw {before:.0} before, {after:.0} after");
        let raw = (before, after);
        for (path, rate, mean_stream) in runs {
            rows.push(AppendRow {
                path,
                writers: w,
                rate,
                raw,
                mean_stream,
            });
        }
    }
    Ok(rows)
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

impl Stats {
    /// Nearest-rank quantiles, as `diario-bench`'s `Stats::of`.
    fn of(mut v: Vec<Duration>) -> Stats {
        v.sort();
        let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
        Stats {
            p50: at(0.50),
            p99: at(0.99),
        }
    }

    fn show(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!("{:.2} / {:.2}", ms(self.p50), ms(self.p99))
    }
}

struct LoadRow {
    label: &'static str,
    events: usize,
    library: Stats,
    raw: Stats,
}

async fn timed<T, E: std::fmt::Display>(
    samples: &mut Vec<Duration>,
    what: &str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    let start = Instant::now();
    let out = f.await.map_err(|e| format!("{what}: {e}"))?;
    samples.push(start.elapsed());
    Ok(out)
}

fn decode_payloads(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    rows.iter().map(|r| r.try_get(0)).collect()
}

fn expect_len(what: &str, got: usize, want: u64) -> Result<(), String> {
    if got as u64 == want {
        Ok(())
    } else {
        Err(format!("{what} returned {got} events, not {want}"))
    }
}

async fn loads(peers: &Arc<Peers>, o: &Options) -> Result<Vec<LoadRow>, String> {
    let k = o.stream_events;
    let p = &**peers;

    eprintln!("[load] appending {k} events to one cqrs-es aggregate and one esrs aggregate");
    let cqrs_id = "load-stream".to_owned();
    for n in 0..k {
        cqrs_commit(&p.cqrs_store, &cqrs_id, n, entry(n)).await?;
    }
    let mut writer = Writer::new(WritePath::EsrsPersist, peers.clone(), "load", 0);
    for n in 0..k {
        writer.append(n).await?;
    }
    let esrs_id = writer.esrs_id;
    // Planner statistics as autovacuum would have them, as diario-bench does before timing.
    for table in ["events", "bench_events"] {
        p.raw
            .execute(format!("ANALYZE {table}").as_str())
            .await
            .map_err(|e| e.to_string())?;
    }

    let cqrs_sql = "SELECT payload FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence";
    let esrs_sql =
        "SELECT payload FROM bench_events WHERE aggregate_id = $1 ORDER BY sequence_number";
    let (mut c_load, mut c_get, mut c_raw) = (Vec::new(), Vec::new(), Vec::new());
    let (mut e_load, mut e_by, mut e_raw) = (Vec::new(), Vec::new(), Vec::new());
    let (mut c_events, mut e_events) = (0, 0);
    // `loads` + 1 rounds, each library path and its raw SELECT alternating; the first round
    // (cold caches, statements not yet prepared) is dropped below.
    for _ in 0..=o.loads {
        // The event store behind `postgres_cqrs` is built the same way (events only, no
        // snapshots); `CqrsFramework` does not hand its store out.
        let context = timed(
            &mut c_load,
            "cqrs-es load_aggregate",
            p.cqrs_store.load_aggregate(&cqrs_id),
        )
        .await?;
        c_events = context.current_sequence;
        let got = timed(
            &mut c_get,
            "cqrs-es get_events",
            p.cqrs_repo.get_events::<CqrsCase>(&cqrs_id),
        )
        .await?;
        expect_len("cqrs-es get_events", got.len(), k)?;
        let rows = timed(&mut c_raw, "raw SELECT (events)", async {
            let rows = sqlx::query(cqrs_sql)
                .bind(<CqrsCase as cqrs_es::Aggregate>::TYPE)
                .bind(&cqrs_id)
                .fetch_all(&p.cqrs_pool)
                .await?;
            decode_payloads(&rows)
        })
        .await?;
        expect_len("raw SELECT (events)", rows.len(), k)?;
        let state = timed(
            &mut e_load,
            "esrs AggregateManager::load",
            p.esrs_manager.load(esrs_id),
        )
        .await?;
        e_events = state.as_ref().map_or(0, |s| *s.inner());
        let by = timed(
            &mut e_by,
            "esrs by_aggregate_id",
            p.esrs_store.by_aggregate_id(esrs_id),
        )
        .await?;
        expect_len("esrs by_aggregate_id", by.len(), k)?;
        let rows = timed(&mut e_raw, "raw SELECT (bench_events)", async {
            let rows = sqlx::query(esrs_sql)
                .bind(esrs_id)
                .fetch_all(&p.esrs_pool)
                .await?;
            decode_payloads(&rows)
        })
        .await?;
        expect_len("raw SELECT (bench_events)", rows.len(), k)?;
    }
    for samples in [
        &mut c_load,
        &mut c_get,
        &mut c_raw,
        &mut e_load,
        &mut e_by,
        &mut e_raw,
    ] {
        samples.remove(0);
    }
    Ok(vec![
        LoadRow {
            label: "cqrs-es `PersistedEventStore::load_aggregate` (get_events + deserialize + apply)",
            events: c_events,
            library: Stats::of(c_load),
            raw: Stats::of(c_raw.clone()),
        },
        LoadRow {
            label: "cqrs-es `PostgresEventRepository::get_events` (rows as serialized events)",
            events: k as usize,
            library: Stats::of(c_get),
            raw: Stats::of(c_raw),
        },
        LoadRow {
            label: "esrs `AggregateManager::load` (by_aggregate_id + fold)",
            events: e_events as usize,
            library: Stats::of(e_load),
            raw: Stats::of(e_raw.clone()),
        },
        LoadRow {
            label: "esrs `PgStore::by_aggregate_id` (decoded store events)",
            events: k as usize,
            library: Stats::of(e_by),
            raw: Stats::of(e_raw),
        },
    ])
}

// ---------------------------------------------------------------------------------------------
// Versions and output.

/// The version of `name` this binary was built with, from the Cargo.lock of this crate.
fn locked_version(name: &str) -> &'static str {
    const LOCK: &str = include_str!("../Cargo.lock");
    let needle = format!("name = \"{name}\"\nversion = \"");
    LOCK.find(&needle)
        .map(|i| {
            let rest = &LOCK[i + needle.len()..];
            &rest[..rest.find('"').unwrap_or(0)]
        })
        .unwrap_or("?")
}

async fn bench(url: &str, o: &Options) -> Result<(), String> {
    let peers = Arc::new(build_peers(url, o.pool).await?);
    let server: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&peers.raw)
        .await
        .map_err(|e| e.to_string())?;
    let append_rows = appends(&peers, o).await?;
    let load_rows = loads(&peers, o).await?;

    println!(
        "Peers measured: cqrs-es {} + postgres-es {}, esrs {} (both on sqlx {}); PostgreSQL {server}; \
         a pool of {} connections per library and for the baselines; {} s per append measurement; \
         one event per commit, each writer on its own stream.",
        locked_version("cqrs-es"),
        locked_version("postgres-es"),
        locked_version("esrs"),
        locked_version("sqlx"),
        o.pool,
        o.seconds,
    );
    println!();
    println!("| library | writers | appends/s | raw INSERT tx/s (same run) | library / raw |");
    println!("|---|---:|---:|---:|---:|");
    for r in &append_rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} |",
            r.path.label(),
            r.writers,
            r.rate,
            (r.raw.0 + r.raw.1) / 2.0,
            r.rate / ((r.raw.0 + r.raw.1) / 2.0)
        );
    }
    println!();
    let grown: Vec<String> = append_rows
        .iter()
        .filter(|r| r.path.replays())
        .map(|r| {
            format!(
                "{} with {} writer(s): {:.0}",
                short(r.path),
                r.writers,
                r.mean_stream
            )
        })
        .collect();
    let mut brackets: Vec<String> = append_rows
        .iter()
        .map(|r| format!("{} writer(s) {:.0} / {:.0}", r.writers, r.raw.0, r.raw.1))
        .collect();
    brackets.dedup();
    println!(
        "Raw INSERT tx/s is the mean of a run before and a run after the peers' runs at that writer \
         count (before / after: {}). The replaying paths read the whole stream on every command, \
         so their rate falls as the stream grows; events per stream at the end of the run: {}.",
        brackets.join(", "),
        grown.join("; ")
    );
    println!();
    println!("| library | events | load p50 / p99 ms | raw SELECT p50 / p99 ms |");
    println!("|---|---:|---:|---:|");
    for r in &load_rows {
        println!(
            "| {} | {} | {} | {} |",
            r.label,
            r.events,
            r.library.show(),
            r.raw.show()
        );
    }
    println!();
    println!(
        "{} timed loads each, alternating with the raw SELECT of the same rows from the library's \
         table (`payload` decoded as JSON), after one untimed round; the stream sits in a table \
         that also holds the append runs' streams.",
        o.loads
    );
    Ok(())
}

fn short(path: WritePath) -> &'static str {
    match path {
        WritePath::CqrsFramework => "cqrs-es execute",
        WritePath::EsrsManager => "esrs AggregateManager",
        _ => "",
    }
}

#[tokio::main]
async fn main() {
    let o = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let name = format!("peer_bench_{}", Uuid::new_v4().simple());
    let admin = match PgPoolOptions::new()
        .max_connections(1)
        .connect(&o.url)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "PostgreSQL is not reachable at {}: {e}\nStart it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
                o.url
            );
            std::process::exit(1);
        }
    };
    if let Err(e) = admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
    {
        eprintln!("CREATE DATABASE {name}: {e}");
        std::process::exit(1);
    }
    eprintln!("[setup] database {name}");
    let result = bench(&database_url(&o.url, &name), &o).await;
    let dropped = admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await;
    if let Err(e) = dropped {
        eprintln!("DROP DATABASE {name}: {e}");
    }
    if let Err(e) = result {
        eprintln!("peer-bench failed: {e}");
        std::process::exit(1);
    }
}
