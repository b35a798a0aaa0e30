//! The benchmark suite behind BENCHMARKS.md. Every figure is printed next to a baseline
//! measured in the same run; tables are Markdown so the output can be pasted as is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate, Utc};
use diario_commands::{Caller, CommandHandler, CommandOptions, Principal, TestClock};
use diario_domain::{CaseCommand, FiscalCode, Measure};
use diario_log::{EventStore, GlobalPosition};
use diario_tests::datagen::{self, Seeded, evening, people};
use diario_tests::{Backend, TestDb};
use serde_json::json;

const SEED: u64 = 20_221_215; // DGR XI/7503 of 15 December 2022

fn measure() -> &'static Measure {
    static M: std::sync::OnceLock<Measure> = std::sync::OnceLock::new();
    M.get_or_init(|| match Measure::up_default() {
        Ok(m) => m,
        Err(e) => panic!("the #UP catalogue does not load: {e}"),
    })
}

/// Awaits `work`, adding how long it took to `sample`.
async fn timed<T>(sample: &mut Vec<Duration>, work: impl std::future::Future<Output = T>) -> T {
    let t = Instant::now();
    let out = work.await;
    sample.push(t.elapsed());
    out
}

/// Percentiles of a latency sample.
struct Stats {
    n: usize,
    p50: Duration,
    p99: Duration,
    p999: Duration,
}

impl Stats {
    fn of(mut v: Vec<Duration>) -> Stats {
        v.sort();
        let at = |q: f64| {
            if v.is_empty() {
                Duration::ZERO
            } else {
                v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
            }
        };
        Stats {
            n: v.len(),
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Seeds about `events` events of typical cases (fixed seed), 4 writers in parallel.
/// Returns the number of events written.
async fn seed(store: Arc<dyn EventStore>, events: usize, seed: u64) -> usize {
    let per_writer = events.div_ceil(4);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4u64 {
        let store = store.clone();
        tasks.spawn(async move {
            let mut rng = Seeded::new(seed.wrapping_add(w));
            let base = NaiveDate::from_ymd_opt(2024, 1, 8).unwrap_or_default();
            let mut written = 0usize;
            while written < per_writer {
                let start = base + Days::days(rng.below(500) as i64);
                let days = 10 + rng.below(30) as u32;
                let case = datagen::typical_case(&mut rng, measure(), start, days);
                match datagen::append_case(&*store, &case, 1000).await {
                    Ok(v) => written += v as usize,
                    Err(e) => panic!("seeding failed: {e}"),
                }
            }
            written
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        total += r.unwrap_or_else(|e| panic!("seeder: {e}"));
    }
    total
}

/// Reads the whole log with `read_all` until `expected` events were seen.
async fn read_everything(store: &dyn EventStore, expected: usize) -> usize {
    let mut cursor = GlobalPosition::START;
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen < expected && Instant::now() < deadline {
        let page = store
            .read_all(cursor, 1000)
            .await
            .unwrap_or_else(|e| panic!("read_all: {e}"));
        if page.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        seen += page.len();
        if let Some(last) = page.last() {
            cursor = last.global_position;
        }
    }
    seen
}

/// Seeds `events` events, reads them back with `read_all` (baseline), rebuilds every
/// projection in one pass, and — when `growth_small` is given — measures command and dashboard
/// latency on this store against a store of `growth_small` events (section 6), so the large
/// store is seeded and projected once for both sections.
pub async fn rebuild(backend: Backend, events: usize, growth_small: Option<usize>) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    let t = Instant::now();
    let n = seed(store.clone(), events, SEED).await;
    eprintln!("seeded {n} events in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let read = read_everything(&*store, n).await;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let applied = rebuild_all(&db.db, &*store)
        .await
        .unwrap_or_else(|e| panic!("rebuild: {e}"));
    let rebuild_s = t.elapsed().as_secs_f64();
    let per_projection = applied.values().copied().max().unwrap_or(0);
    println!(
        "| backend | events | read_all only (baseline) | rebuild of all projections, one pass | rebuild / read_all |"
    );
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| {backend:?} | {read} | {:.0} events/s ({read_s:.1} s) | {:.0} events/s ({rebuild_s:.1} s; {per_projection} events into each of {} projections) | {:.2} |",
        read as f64 / read_s,
        read as f64 / rebuild_s,
        applied.len(),
        (read as f64 / rebuild_s) / (read as f64 / read_s),
    );
    if let Some(small) = growth_small {
        let large = growth_measure(&db, n).await;
        let small_n = small;
        let small = growth_point(small).await;
        println!();
        println!(
            "### 6. How cost grows: {small_n} vs. {n} events in the store ({backend:?}; the large store is the one rebuilt above)"
        );
        println!();
        print_growth(&small, &large);
    }
    db.cleanup().await;
}

pub async fn replay(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    // Background: other cases in the same store.
    let n = seed(store.clone(), 20_000, SEED).await;
    let mut rng = Seeded::new(SEED ^ 0xCA5E);
    let start = NaiveDate::from_ymd_opt(2024, 2, 1).unwrap_or_default();
    let case = datagen::long_case(&mut rng, measure(), start, 985);
    let version = datagen::append_case(&*store, &case, 1000)
        .await
        .unwrap_or_else(|e| panic!("append: {e}"));
    let stream = diario_tests::case_stream(case.case_id);
    let as_of = datagen::evening(start + Days::days(30));
    let clock = Arc::new(TestClock::new(Utc::now()));
    let catalogue = catalogue();
    let (mut read, mut fold, mut hist) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..30 {
        timed(&mut read, store.read_stream(&stream, 1))
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        // A new handler each time: the fold from the first event, not the cached state.
        let handler = CommandHandler::new(store.clone(), catalogue.clone(), clock.clone());
        timed(&mut fold, handler.load_case(case.case_id))
            .await
            .unwrap_or_else(|e| panic!("load: {e}"));
        let history = diario_projections::history_as_of(&*store, &catalogue, case.case_id, as_of);
        timed(&mut hist, history)
            .await
            .unwrap_or_else(|e| panic!("history: {e}"));
    }
    let (r, f, h) = (Stats::of(read), Stats::of(fold), Stats::of(hist));
    println!(
        "| backend | case events | store events | read_stream (baseline) p50 / p99 ms | load + fold p50 / p99 ms | history as of p50 / p99 ms | history / read |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {backend:?} | {version} | {} | {} / {} | {} / {} | {} / {} | {:.1} |",
        n + version as usize,
        ms(r.p50),
        ms(r.p99),
        ms(f.p50),
        ms(f.p99),
        ms(h.p50),
        ms(h.p99),
        h.p50.as_secs_f64() / r.p50.as_secs_f64().max(1e-9)
    );
    db.cleanup().await;
}

/// Command latency (record an entry through the command handler) and dashboard latency on a
/// store of `events` events.
async fn growth_point(events: usize) -> (usize, Stats, Stats, Stats) {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.db.event_store();
    let n = seed(store.clone(), events, SEED).await;
    rebuild_all(&db.db, &*store)
        .await
        .unwrap_or_else(|e| panic!("rebuild: {e}"));
    let point = growth_measure(&db, n).await;
    db.cleanup().await;
    point
}

/// Section 6 on a seeded, projected store of `n` events.
async fn growth_measure(db: &TestDb, n: usize) -> (usize, Stats, Stats, Stats) {
    let store = db.db.event_store();
    // Steady state: planner statistics as autovacuum would have them after a bulk load.
    db.raw("ANALYZE").await;
    let day = NaiveDate::from_ymd_opt(2025, 6, 2).unwrap_or_default();
    let clock = TestClock::new(evening(day));
    let handler = CommandHandler::new(store.clone(), catalogue(), Arc::new(clock.clone()));
    let mut rng = Seeded::new(SEED ^ 0x600D);
    let case = datagen::typical_case(&mut rng, measure(), day - Days::days(3), 0);
    datagen::append_case(&*store, &case, 1000)
        .await
        .unwrap_or_else(|e| panic!("append: {e}"));
    let educatore = Principal {
        cf: FiscalCode::parse(people::EDUCATORE).unwrap_or_else(|e| panic!("{e}")),
        grants: Vec::new(),
        platform_admin: false,
        failures: None,
    };
    let (mut cmd, mut base, mut dash) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..60u32 {
        // Ten half-hour sessions a day (08:00, 09:00 … 17:00), recorded the same evening.
        let date = day + Days::days(i64::from(i / 10));
        let hour = 8 + i % 10;
        clock.set(evening(date));
        let command: CaseCommand = serde_json::from_value(json!({
            "type": "RecordEntry", "entry_id": rng.uuid(), "phase": 3,
            "figure": "educatore_professionale", "service": "contrasto_dispersione_scolastica",
            "slot": {"date": date.to_string(), "start": format!("{hour:02}:00"), "end": format!("{hour:02}:30")}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let (caller, options) = (Caller::Person(&educatore), CommandOptions::new());
        let record = handler.execute_case(case.case_id, &command, &caller, &options);
        timed(&mut cmd, record)
            .await
            .unwrap_or_else(|e| panic!("record: {e}"));
        timed(&mut base, handler.load_case(case.case_id))
            .await
            .unwrap_or_else(|e| panic!("load: {e}"));
    }
    for _ in 0..40 {
        let dashboard = diario_projections::ats_dashboard(&db.db, "ATS-MILANO", evening(day), 30);
        timed(&mut dash, dashboard)
            .await
            .unwrap_or_else(|e| panic!("dashboard: {e}"));
    }
    (n, Stats::of(cmd), Stats::of(base), Stats::of(dash))
}

pub async fn growth(small: usize, large: usize) {
    let a = growth_point(small).await;
    let b = growth_point(large).await;
    print_growth(&a, &b);
}

fn print_growth(a: &(usize, Stats, Stats, Stats), b: &(usize, Stats, Stats, Stats)) {
    println!(
        "| events in store | record entry p50 / p99 ms | load case (baseline) p50 ms | ATS dashboard p50 / p99 ms |"
    );
    println!("|---:|---:|---:|---:|");
    for (n, c, l, d) in [a, b] {
        println!(
            "| {n} | {} / {} | {} | {} / {} |",
            ms(c.p50),
            ms(c.p99),
            ms(l.p50),
            ms(d.p50),
            ms(d.p99)
        );
    }
    println!(
        "| ratio large / small | {:.2} | {:.2} | {:.2} |",
        b.1.p50.as_secs_f64() / a.1.p50.as_secs_f64().max(1e-9),
        b.2.p50.as_secs_f64() / a.2.p50.as_secs_f64().max(1e-9),
        b.3.p50.as_secs_f64() / a.3.p50.as_secs_f64().max(1e-9),
    );
}

/// Record-entry latency on a case of about 1,000 events against one of about 20, through the
/// command handler on one store: warm (one handler, its cache primed, as a running server) and
/// cold (a new handler for each command: the first command after a start).
pub async fn history(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    let mut rng = Seeded::new(SEED ^ 0x4157);
    let start = NaiveDate::from_ymd_opt(2024, 2, 1).unwrap_or_default();
    let small = datagen::typical_case(&mut rng, measure(), start, 0);
    let large = datagen::long_case(&mut rng, measure(), start, 985);
    let mut versions = Vec::new();
    for case in [&small, &large] {
        let v = datagen::append_case(&*store, case, 1000)
            .await
            .unwrap_or_else(|e| panic!("append: {e}"));
        versions.push(v);
    }
    // After the long case's last session (985 / 16 days from the 4th day).
    let day0 = start + Days::days(70);
    let clock = TestClock::new(evening(day0));
    let educatore = Principal {
        cf: FiscalCode::parse(people::EDUCATORE).unwrap_or_else(|e| panic!("{e}")),
        grants: Vec::new(),
        platform_admin: false,
        failures: None,
    };
    let catalogue = catalogue();
    let mut k = 0u32;
    // Records one half-hour session (each command its own slot, eight a day) and times it.
    let mut record = async |handler: &CommandHandler, case_id, sample: &mut Vec<Duration>| {
        let date = day0 + Days::days(i64::from(k / 8));
        let (h, m) = (8 + (k % 8) / 2, 30 * (k % 2));
        k += 1;
        clock.set(evening(date));
        let command: CaseCommand = serde_json::from_value(json!({
            "type": "RecordEntry", "entry_id": uuid::Uuid::now_v7(), "phase": 3,
            "figure": "educatore_professionale", "service": "contrasto_dispersione_scolastica",
            "slot": {"date": date.to_string(), "start": format!("{h:02}:{m:02}"),
                     "end": format!("{:02}:{:02}", h + (m + 30) / 60, (m + 30) % 60)}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let (caller, options) = (Caller::Person(&educatore), CommandOptions::new());
        let outcome = timed(
            sample,
            handler.execute_case(case_id, &command, &caller, &options),
        )
        .await
        .unwrap_or_else(|e| panic!("record: {e}"));
        assert_eq!(outcome.events.len(), 1, "the entry is recorded");
    };
    let new_handler =
        || CommandHandler::new(store.clone(), catalogue.clone(), Arc::new(clock.clone()));
    let (mut warm, mut cold) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    let warm_handler = new_handler();
    let mut primed = Vec::new();
    for case in [&small, &large] {
        record(&warm_handler, case.case_id, &mut primed).await;
    }
    for _ in 0..150 {
        for (i, case) in [&small, &large].into_iter().enumerate() {
            record(&warm_handler, case.case_id, &mut warm[i]).await;
        }
    }
    for _ in 0..15 {
        for (i, case) in [&small, &large].into_iter().enumerate() {
            record(&new_handler(), case.case_id, &mut cold[i]).await;
        }
    }
    let [ws, wl] = warm.map(Stats::of);
    let [cs, cl] = cold.map(Stats::of);
    println!(
        "| {backend:?}: case events | warm record entry p50 / p99 ms | cold (first command of a new handler) p50 / p99 ms |"
    );
    println!("|---:|---:|---:|");
    for (v, w, c) in [(versions[0], &ws, &cs), (versions[1], &wl, &cl)] {
        println!(
            "| {v} | {} / {} | {} / {} |",
            ms(w.p50),
            ms(w.p99),
            ms(c.p50),
            ms(c.p99)
        );
    }
    println!(
        "| ratio {} / {} events | {:.2} | {:.2} |",
        versions[1],
        versions[0],
        wl.p50.as_secs_f64() / ws.p50.as_secs_f64().max(1e-9),
        cl.p50.as_secs_f64() / cs.p50.as_secs_f64().max(1e-9)
    );
    db.cleanup().await;
}

pub async fn http(concurrency: usize, duration: Duration) {
    http::run(concurrency, duration).await;
}

mod http;

/// Every read model rebuilt in one pass over the log.
async fn rebuild_all(
    db: &diario_log::Database,
    store: &dyn EventStore,
) -> Result<std::collections::BTreeMap<String, u64>, diario_log::FollowError> {
    diario_log::follower::rebuild(db, store, &diario_projections::read_models(&catalogue())).await
}

fn catalogue() -> diario_domain::Catalogue {
    diario_tests::catalogue()
}
