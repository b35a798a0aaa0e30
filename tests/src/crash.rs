//! The crash campaign: write load through a real `diario serve` process, `kill -9` of the
//! server and immediate restarts of PostgreSQL (`pg_ctl restart -m immediate`) while writers
//! keep going, then the proof that every acknowledged write is in the log and the read models
//! exactly once, that a retry of each still gets its first answer, and that every chain holds.
//!
//! The PostgreSQL restarts run on a private cluster the campaign creates (`initdb` and
//! `pg_ctl` in a temporary folder, as the `postgres` user), so other tests keep their server.
//! [`run`] is what the short CI test and the `diario-crash` binary both call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use diario_log::{Database, GlobalPosition};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{Backend, TestDb, cf, diario_binary, free_port};

const SECRET: &str = "crash-campaign-secret-0123456789abcdef0123";
const ATS: &str = "ATS-MILANO";

/// How hard and how long.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    pub backend: Backend,
    /// Concurrent writers, each on its own cases.
    pub writers: usize,
    /// Cases per writer (40 half-hour entries fit in one case's phase I).
    pub cases_per_writer: usize,
    /// `kill -9` rounds of the server.
    pub kills: usize,
    /// Immediate PostgreSQL restarts (PostgreSQL only; on a private cluster).
    pub pg_restarts: usize,
    /// Write time before each kill or restart, and after the last one.
    pub round: Duration,
}

/// What the campaign did and proved.
#[derive(Debug, Clone, Default)]
pub struct CampaignReport {
    pub acknowledged: usize,
    pub attempts: usize,
    /// Attempts that got no answer (connection refused or reset, timeout) or a 5xx.
    pub unanswered: usize,
    pub kills: usize,
    pub pg_restarts: usize,
    pub cases: usize,
    /// Writes planned (the load must still be running at every kill and restart).
    pub planned: usize,
    pub events_checked: usize,
}

impl std::fmt::Display for CampaignReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} acknowledged writes ({} attempts, {} unanswered) across {} cases, {} kill -9, \
             {} PostgreSQL restarts; {} events in intact chains; every acknowledged write once \
             in the log and the read models",
            self.acknowledged,
            self.attempts,
            self.unanswered,
            self.cases,
            self.kills,
            self.pg_restarts,
            self.events_checked
        )
    }
}

/// A private PostgreSQL cluster in a temporary folder, owned by the `postgres` user.
pub struct PrivateCluster {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

impl PrivateCluster {
    /// `initdb` and start; panics with the reason when PostgreSQL's binaries or the
    /// `postgres` user are missing.
    pub fn start() -> PrivateCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).max())
            .filter(|b| b.join("initdb").exists())
            .expect("PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin");
        let dir = std::env::temp_dir().join(format!("diario-pg-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("cluster folder");
        as_postgres(
            &["chown", "-R", "postgres", &dir.display().to_string()],
            false,
        );
        let port = free_port();
        let cluster = PrivateCluster { dir, bin, port };
        cluster.pg(&[
            "initdb",
            "-D",
            &cluster.data(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ]);
        cluster.pg_ctl(&["start", "-w", "-t", "60"]);
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn pg(&self, args: &[&str]) {
        let tool = self.bin.join(args[0]).display().to_string();
        let mut all = vec![tool.as_str()];
        all.extend(&args[1..]);
        as_postgres(&all, true);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        let data = self.data();
        let mut all = vec!["pg_ctl", "-D", &data, "-l", &log, "-o", &options];
        all.extend(args);
        self.pg(&all);
    }

    /// The URL of its `postgres` database.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops PostgreSQL the way a crash does (`-m immediate`: no checkpoint, open
    /// connections cut) and starts it again.
    pub fn crash_and_restart(&self) {
        self.pg_ctl(&["restart", "-m", "immediate", "-w", "-t", "60"]);
    }

    pub fn stop(self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `args` as the `postgres` user (PostgreSQL refuses to run as root).
fn as_postgres(args: &[&str], as_user: bool) {
    let mut command = if as_user && is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).args(args);
        c
    } else {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    };
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The `diario serve` process, restartable on the same port.
struct ServerProcess {
    child: Option<Child>,
    db_url: String,
    port: u16,
    log: PathBuf,
}

impl ServerProcess {
    fn start(db_url: &str, log: PathBuf) -> ServerProcess {
        let mut s = ServerProcess {
            child: None,
            db_url: db_url.to_owned(),
            port: free_port(),
            log,
        };
        s.spawn();
        s
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log file");
        let child = Command::new(diario_binary())
            .arg("serve")
            .env("DATABASE_URL", &self.db_url)
            .env("DIARIO_ADDR", format!("127.0.0.1:{}", self.port))
            .env("DIARIO_JWT_SECRET", SECRET)
            .env("DIARIO_PLATFORM_ADMINS", cf::PLATFORM_ADMIN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start diario serve: {e}"));
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no flush, in-flight requests cut.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server at {base} did not become ready within 60 s");
}

/// One write a writer must get acknowledged: an entry on a case, with its key.
#[derive(Debug, Clone)]
struct Intent {
    case_id: Uuid,
    /// The psicologo of the case (each case has its own: one professional, one hour).
    professional: String,
    key: String,
    body: Value,
}

/// 40 half-hour entries of the case's psicologo in its phase I, on days before today (so
/// the real clock of the server accepts them within the 15 days).
fn intents_of(case_id: Uuid, professional: &str, writer: usize, case_n: usize) -> Vec<Intent> {
    let today = Utc::now().date_naive();
    let hm = |m: usize| format!("{:02}:{:02}", m / 60, m % 60);
    let mut out = Vec::new();
    for (s, service) in ["colloquio_valutazione", "valutazione_multidimensionale"]
        .iter()
        .enumerate()
    {
        let date = today
            .checked_sub_days(Days::new(1 + s as u64))
            .expect("a past date");
        for slot in 0..20 {
            let start = 8 * 60 + 30 * slot;
            out.push(Intent {
                case_id,
                professional: professional.to_owned(),
                key: format!("crash-{writer}-{case_n}-{s}-{slot}"),
                body: json!({
                    "phase": 1,
                    "figure": "psicologo",
                    "service": service,
                    "slot": { "date": date.to_string(), "start": hm(start), "end": hm(start + 30) }
                }),
            });
        }
    }
    out
}

struct Api {
    client: reqwest::Client,
    base: String,
    auth: diario_api::AuthConfig,
}

impl Api {
    fn token(&self, cf: &str) -> String {
        self.auth
            .mint(cf, Duration::from_secs(6 * 3600))
            .expect("mint a token")
    }

    async fn must(&self, path: &str, cf: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token(cf))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }

    /// Opens case `n` with phase I and `professional` enabled as its psicologo.
    async fn prepare_case(&self, n: usize, professional: &str) -> Uuid {
        let v = self
            .must(
                "/v1/cases",
                cf::ATS_OPERATOR,
                crate::standard_case_body(&format!("CRASH-{n}")),
            )
            .await;
        let id: Uuid = v["case_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("case id");
        self.must(
            &format!("/v1/cases/{id}/phases/1/open"),
            cf::RESP_ASST,
            json!({}),
        )
        .await;
        self.must(
            &format!("/v1/cases/{id}/professionals"),
            cf::RESP_ASST,
            json!({"ente": "asst", "professional": professional, "figures": ["psicologo"]}),
        )
        .await;
        id
    }
}

#[derive(Default)]
struct Tally {
    /// Key → (the intent, its entry id, the answer's body).
    acked: BTreeMap<String, (Intent, Uuid, Value)>,
    attempts: usize,
    unanswered: usize,
    refused: Vec<String>,
}

/// Sends `intent` until it is answered 201 (or `give_up` passes); another final answer is a
/// defect of the service and is recorded as such.
async fn settle(api: &Api, intent: &Intent, tally: &Mutex<Tally>, give_up: Instant) {
    let token = &api.token(&intent.professional);
    let url = format!("{}/v1/cases/{}/entries", api.base, intent.case_id);
    loop {
        let sent = api
            .client
            .post(&url)
            .bearer_auth(token)
            .header("idempotency-key", &intent.key)
            .json(&intent.body)
            .send()
            .await;
        let answer = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                r.bytes().await.ok().map(|b| (status, b.to_vec()))
            }
            Err(_) => None,
        };
        let mut t = tally.lock().await;
        t.attempts += 1;
        match answer {
            Some((201, body)) => {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let entry: Uuid = v["entry_id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("201 without entry_id: {v}"));
                t.acked
                    .insert(intent.key.clone(), (intent.clone(), entry, v));
                return;
            }
            Some((status, _)) if status >= 500 => t.unanswered += 1,
            None => t.unanswered += 1,
            Some((status, body)) => {
                t.refused.push(format!(
                    "{} → {status} {}",
                    intent.key,
                    String::from_utf8_lossy(&body)
                ));
                return;
            }
        }
        drop(t);
        if Instant::now() > give_up {
            tally
                .lock()
                .await
                .refused
                .push(format!("{}: no answer before the deadline", intent.key));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the campaign; panics (with the evidence) when a guarantee does not hold.
pub async fn run(opts: &CampaignOptions) -> CampaignReport {
    let cluster =
        (opts.backend == Backend::Postgres && opts.pg_restarts > 0).then(PrivateCluster::start);
    let db = match (&cluster, opts.backend) {
        (Some(c), _) => TestDb::postgres_on(&c.admin_url()).await,
        (None, backend) => TestDb::new(backend).await,
    };
    let log = std::env::temp_dir().join(format!("diario-crash-{}.log", Uuid::now_v7().simple()));
    let mut server = ServerProcess::start(&db.url, log.clone());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let api = Arc::new(Api {
        client: client.clone(),
        base: server.base(),
        auth: diario_api::AuthConfig::disabled()
            .with_secret(SECRET.as_bytes())
            .expect("secret"),
    });
    wait_ready(&client, &api.base).await;
    api.must(
        "/v1/admin/grants",
        cf::PLATFORM_ADMIN,
        json!({ "fiscal_code": cf::ATS_OPERATOR, "role": "ats_operator", "scope": ATS }),
    )
    .await;
    api.must(
        "/v1/admin/grants",
        cf::PLATFORM_ADMIN,
        json!({ "fiscal_code": cf::AUDITOR, "role": "auditor" }),
    )
    .await;
    api.must(
        "/v1/organisations",
        cf::PLATFORM_ADMIN,
        crate::standard_provider_body(),
    )
    .await;
    let mut plans: Vec<Vec<Intent>> = Vec::new();
    let mut case_ids = Vec::new();
    for w in 0..opts.writers {
        let mut plan = Vec::new();
        for c in 0..opts.cases_per_writer {
            let n = w * opts.cases_per_writer + c;
            let professional = cf::numbered_professional(n);
            let id = api.prepare_case(n, &professional).await;
            case_ids.push(id);
            plan.extend(intents_of(id, &professional, w, c));
        }
        plans.push(plan);
    }

    // ---- load, with the server killed and PostgreSQL crashed under it --------------------
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let sent = Arc::new(AtomicUsize::new(0));
    let plans_len = plans.iter().map(Vec::len).sum();
    let mut writers = Vec::new();
    for plan in plans {
        let (api, stop, tally, sent) = (api.clone(), stop.clone(), tally.clone(), sent.clone());
        writers.push(tokio::spawn(async move {
            for intent in plan {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                sent.fetch_add(1, Ordering::SeqCst);
                // Once started, an intent is retried until acknowledged: the campaign checks
                // what a client that keeps its key is told.
                let give_up = Instant::now() + Duration::from_secs(120);
                settle(&api, &intent, &tally, give_up).await;
            }
        }));
    }
    let mut report = CampaignReport {
        cases: case_ids.len(),
        planned: plans_len,
        ..CampaignReport::default()
    };
    // Every disruption must hit a server under load: the writers still have writes to send.
    let loaded = |what: &str| {
        let sent = sent.load(Ordering::SeqCst);
        assert!(
            sent < plans_len,
            "the load ended before the {what} ({sent} of {plans_len} writes sent): give the \
             writers more cases"
        );
    };
    for _ in 0..opts.kills {
        tokio::time::sleep(opts.round).await;
        loaded("kill");
        server.kill9();
        report.kills += 1;
        server.spawn();
        wait_ready(&client, &api.base).await;
    }
    if let Some(c) = &cluster {
        for _ in 0..opts.pg_restarts {
            tokio::time::sleep(opts.round).await;
            loaded("PostgreSQL restart");
            c.crash_and_restart();
            report.pg_restarts += 1;
        }
    }
    tokio::time::sleep(opts.round).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.expect("a writer panicked");
    }
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| ())
        .expect("writers are done")
        .into_inner();
    report.acknowledged = tally.acked.len();
    report.attempts = tally.attempts;
    report.unanswered = tally.unanswered;
    assert!(
        tally.refused.is_empty(),
        "writes refused or never answered (server log {}):\n{}",
        log.display(),
        tally.refused.join("\n")
    );
    assert_eq!(
        report.acknowledged,
        sent.load(Ordering::SeqCst),
        "every started write was acknowledged"
    );
    assert!(report.acknowledged > 0, "the load wrote nothing");

    // ---- the proof ------------------------------------------------------------------------
    wait_ready(&client, &api.base).await;
    // A retry of every acknowledged write gets its first answer and writes nothing.
    for (key, (intent, _, first)) in &tally.acked {
        let r = client
            .post(format!("{}/v1/cases/{}/entries", api.base, intent.case_id))
            .bearer_auth(api.token(&intent.professional))
            .header("idempotency-key", key)
            .json(&intent.body)
            .send()
            .await
            .expect("retry");
        let status = r.status().as_u16();
        let again: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status, &again),
            (201, first),
            "{key}: the first answer again"
        );
    }
    let events = all_events(&db.db).await;
    report.events_checked = events.len();
    let mut recorded: BTreeMap<Uuid, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e.event_type == "EntryRecorded") {
        let id: Uuid = e.payload["entry_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("EntryRecorded names its entry");
        *recorded.entry(id).or_default() += 1;
    }
    let acked: BTreeSet<Uuid> = tally.acked.values().map(|(_, e, _)| *e).collect();
    assert_eq!(acked.len(), report.acknowledged, "one entry id per key");
    let twice: Vec<_> = recorded.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "entries recorded more than once: {twice:?}"
    );
    let in_log: BTreeSet<Uuid> = recorded.keys().copied().collect();
    assert_eq!(
        in_log, acked,
        "the log holds exactly the acknowledged entries"
    );
    // The read models, once caught up, hold each acknowledged entry once.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = entry_ids_in_read_model(&db).await;
        if rows == acked {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the read model has {} entries, {} acknowledged",
            rows.len(),
            acked.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every chain holds, verified by the store and through the API.
    let store = db.db.event_store();
    for id in &case_ids {
        let stream = diario_log::StreamId::case(*id).to_string();
        let check = store.verify_stream(&stream).await.expect("verify");
        assert!(check.is_intact(), "{stream}: {check:?}");
        let r = client
            .get(format!(
                "{}/v1/cases/{id}/audit-trail/verification",
                api.base
            ))
            .bearer_auth(api.token(cf::AUDITOR))
            .send()
            .await
            .expect("verification");
        let v: Value = r.json().await.expect("verification body");
        assert_eq!(v["intact"], true, "{id}: {v}");
    }
    // Global positions are unique and in commit order.
    let positions: BTreeSet<_> = events.iter().map(|e| e.global_position).collect();
    assert_eq!(
        positions.len(),
        events.len(),
        "one event per global position"
    );

    server.stop();
    db.cleanup().await;
    if let Some(c) = cluster {
        c.stop();
    }
    let _ = std::fs::remove_file(&log);
    report
}

async fn all_events(db: &Database) -> Vec<diario_log::RecordedEvent> {
    let store = db.event_store();
    let mut out = Vec::new();
    let mut after = GlobalPosition::START;
    loop {
        let batch = store.read_all(after, 1000).await.expect("read the log");
        let Some(last) = batch.last() else {
            return out;
        };
        after = last.global_position;
        out.extend(batch);
    }
}

async fn entry_ids_in_read_model(db: &TestDb) -> BTreeSet<Uuid> {
    db.texts("SELECT CAST(entry_id AS TEXT) FROM rm_entries")
        .await
        .iter()
        .map(|s| s.parse().expect("entry id"))
        .collect()
}
