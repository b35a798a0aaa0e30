//! End-to-end over HTTP against the real `diario serve` process (release build when the
//! benchmark is a release build): recording entries vs. `GET /healthz` at the same
//! concurrency, projection lag sampled during the load, and the server's peak RSS.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use diario_tests::datagen::people;
use diario_tests::{Backend, TestDb, diario_binary};
use serde_json::{Value, json};

use super::{Stats, ms};

const SECRET: &str = "benchmark-secret-0123456789abcdef0123456789";
const ADMIN: &str = "ADMNTR80A01F205F";
const ATS: &str = "ATS-MILANO";

struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    auth: diario_api::AuthConfig,
}

impl Server {
    async fn start(db_url: &str) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let child = Command::new(diario_binary())
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("DIARIO_ADDR", format!("127.0.0.1:{port}"))
            .env("DIARIO_JWT_SECRET", SECRET)
            .env("DIARIO_PLATFORM_ADMINS", ADMIN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start diario serve: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        for _ in 0..300 {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await
                && r.status() == 200
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let auth = diario_api::AuthConfig::disabled()
            .with_secret(SECRET.as_bytes())
            .unwrap_or_else(|e| panic!("secret: {e}"));
        Server {
            child,
            base,
            client,
            auth,
        }
    }

    fn token(&self, cf: &str) -> String {
        self.auth
            .mint(cf, Duration::from_secs(3600))
            .unwrap_or_else(|e| panic!("mint: {e}"))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        cf: &str,
        body: Value,
    ) -> (u16, Value) {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token(cf))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn must(&self, path: &str, cf: &str, body: Value) -> Value {
        let (status, v) = self.send(reqwest::Method::POST, path, cf, body).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }

    fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Entries one case takes in the load: 47 half hours a day over the 14 days before today.
const SLOTS_PER_CASE: usize = 47 * 14;

/// Cases each writer of the load works through (room for 16 writers at 5,000 requests/s for
/// 15 s before a slot comes round again).
const CASES_PER_WRITER: usize = 8;

/// One case per professional, phases I–III open, the educator enabled.
async fn prepare_case(s: &Server, n: usize) -> String {
    let v = s
        .must(
            "/v1/cases",
            people::ATS_OPERATOR,
            diario_tests::standard_case_body(&format!("BENCH-{n}")),
        )
        .await;
    let id = v["case_id"].as_str().unwrap_or_default().to_owned();
    s.must(
        &format!("/v1/cases/{id}/phases/1/open"),
        people::RESP_ASST,
        json!({}),
    )
    .await;
    s.must(
        &format!("/v1/cases/{id}/phases/2/open"),
        people::RESP_PROVIDER,
        json!({}),
    )
    .await;
    s.must(
        &format!("/v1/cases/{id}/phases/3/open"),
        people::RESP_PROVIDER,
        json!({}),
    )
    .await;
    s.must(
        &format!("/v1/cases/{id}/professionals"),
        people::RESP_PROVIDER,
        json!({"ente": "provider", "professional": diario_tests::cf::numbered_professional(n), "figures": ["educatore_professionale"]}),
    )
    .await;
    id
}

/// Runs `op` from `concurrency` workers for `duration`; returns the latencies and the rate.
async fn load<F, Fut>(concurrency: usize, duration: Duration, op: F) -> (Stats, f64, usize)
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let op = op.clone();
        tasks.spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            let mut i = 0;
            while start.elapsed() < duration {
                let t = Instant::now();
                if !op(w, i).await {
                    errors += 1;
                }
                lat.push(t.elapsed());
                i += 1;
            }
            (lat, errors)
        });
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    while let Some(r) = tasks.join_next().await {
        let (l, e) = r.unwrap_or_else(|e| panic!("worker: {e}"));
        all.extend(l);
        errors += e;
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    (Stats::of(all), rate, errors)
}

pub async fn run(concurrency: usize, duration: Duration) {
    let db = TestDb::new(Backend::Postgres).await;
    let server = Arc::new(Server::start(&db.url).await);
    server
        .must(
            "/v1/admin/grants",
            ADMIN,
            json!({"fiscal_code": people::ATS_OPERATOR, "role": "ats_operator", "scope": ATS}),
        )
        .await;
    server
        .must(
            "/v1/organisations",
            ADMIN,
            diario_tests::standard_provider_body(),
        )
        .await;
    // Each writer is the educator of its cases, one professional per case: a case takes
    // `SLOTS_PER_CASE` entries, then the writer moves to its next case (a faster server must not
    // run out of free half hours in the 15-day window and turn into refusals).
    let mut cases = Vec::new();
    for n in 0..concurrency * CASES_PER_WRITER {
        cases.push(prepare_case(&server, n).await);
    }
    let cases = Arc::new(cases);
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..concurrency * CASES_PER_WRITER)
            .map(|n| server.token(&diario_tests::cf::numbered_professional(n)))
            .collect(),
    );
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Rome)
        .date_naive();

    // Projection lag sampled while the load runs.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (db, stop) = (db.db.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut events, mut seconds) = (Vec::new(), Vec::new());
            while !stop.load(Ordering::Relaxed) {
                if let Ok(lags) =
                    diario_log::follower::lag_at(&db, &diario_projections::PROJECTIONS, Utc::now())
                        .await
                {
                    events.push(lags.iter().map(|l| l.events_behind).max().unwrap_or(0));
                    seconds.push(
                        lags.iter()
                            .map(|l| l.seconds_behind)
                            .fold(0.0_f64, f64::max),
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            (events, seconds)
        })
    };
    let record = {
        let (server, cases, tokens) = (server.clone(), cases.clone(), tokens.clone());
        move |w: usize, i: usize| {
            let (server, cases, tokens) = (server.clone(), cases.clone(), tokens.clone());
            async move {
                // 47 half-hour slots a day, going back from yesterday: never overlapping,
                // always within the 15-day window; then the writer's next case.
                let c = w + concurrency * ((i / SLOTS_PER_CASE) % CASES_PER_WRITER);
                let i = i % SLOTS_PER_CASE;
                let date = today - Days::days(1 + (i / 47) as i64);
                let h = i % 47;
                let fmt = |h: usize| format!("{:02}:{:02}", h / 2, (h % 2) * 30);
                let body = json!({"phase": 3, "figure": "educatore_professionale",
                    "service": "contrasto_dispersione_scolastica",
                    "slot": {"date": date.to_string(), "start": fmt(h), "end": fmt(h + 1)}});
                match server
                    .client
                    .post(format!("{}/v1/cases/{}/entries", server.base, cases[c]))
                    .bearer_auth(tokens[c].as_str())
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success(),
                    Err(_) => false,
                }
            }
        }
    };
    let (rec, rec_rate, rec_errors) = load(concurrency, duration, record).await;
    stop.store(true, Ordering::Relaxed);
    let (lag_events, lag_seconds) = sampler.await.unwrap_or_default();
    let rss = server.peak_rss_kib();
    let health = {
        let server = server.clone();
        move |_: usize, _: usize| {
            let server = server.clone();
            async move {
                matches!(server.client.get(format!("{}/healthz", server.base)).send().await,
                    Ok(r) if r.status() == 200)
            }
        }
    };
    let (hz, hz_rate, hz_errors) = load(concurrency, duration, health).await;
    // The database's own rate at the same concurrency: single-row INSERT transactions of an
    // event-sized payload, on the same PostgreSQL, straight after the recording load.
    db.raw(
        "CREATE TABLE bench_raw (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload JSONB NOT NULL)",
    )
    .await;
    let raw_rate = crate::run(concurrency, duration, {
        let db = db.db.clone();
        move |_, n| {
            let db = db.clone();
            async move { crate::raw_insert(&db, n, false).await }
        }
    })
    .await;
    let pct = |v: &[i64], q: f64| {
        let mut v = v.to_vec();
        v.sort();
        v.get(((v.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0)
    };
    let pctf = |v: &[f64], q: f64| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(((v.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "| request ({concurrency} concurrent, {} s each) | requests/s | p50 ms | p99 ms | p99.9 ms | errors |",
        duration.as_secs()
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| `GET /healthz` (baseline) | {hz_rate:.0} | {} | {} | {} | {hz_errors} |",
        ms(hz.p50),
        ms(hz.p99),
        ms(hz.p999)
    );
    println!(
        "| `POST /v1/cases/{{id}}/entries` | {rec_rate:.0} | {} | {} | {} | {rec_errors} |",
        ms(rec.p50),
        ms(rec.p99),
        ms(rec.p999)
    );
    println!(
        "| entries / healthz | {:.3} | {:.1}× | {:.1}× | {:.1}× | |",
        rec_rate / hz_rate.max(1e-9),
        rec.p50.as_secs_f64() / hz.p50.as_secs_f64().max(1e-9),
        rec.p99.as_secs_f64() / hz.p99.as_secs_f64().max(1e-9),
        rec.p999.as_secs_f64() / hz.p999.as_secs_f64().max(1e-9)
    );
    println!("| raw single-row INSERT tx/s, same concurrency (baseline) | {raw_rate:.0} | | | | |");
    println!(
        "| entries / raw INSERT | {:.3} | p99 / p50 of entries: {:.1}× | | | |",
        rec_rate / raw_rate.max(1e-9),
        rec.p99.as_secs_f64() / rec.p50.as_secs_f64().max(1e-9)
    );
    println!();
    println!("| under the recording load | p50 | p99 | max | samples |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| projection lag (events behind) | {} | {} | {} | {} |",
        pct(&lag_events, 0.5),
        pct(&lag_events, 0.99),
        lag_events.iter().max().copied().unwrap_or(0),
        lag_events.len()
    );
    println!(
        "| projection lag (seconds) | {:.2} | {:.2} | {:.2} | {} |",
        pctf(&lag_seconds, 0.5),
        pctf(&lag_seconds, 0.99),
        lag_seconds.iter().copied().fold(0.0, f64::max),
        lag_seconds.len()
    );
    println!();
    println!(
        "Peak RSS of `diario serve` (VmHWM) after the recording load: {:.1} MiB ({} samples of {} requests)",
        rss as f64 / 1024.0,
        rec.n,
        rec.n
    );
    if let Ok(s) = Arc::try_unwrap(server) {
        s.stop();
    }
    db.cleanup().await;
}
