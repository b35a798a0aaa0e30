//! Test support: a fresh database per test on PostgreSQL or SQLite.
//!
//! PostgreSQL tests never skip: when the server does not answer they fail with a message that
//! says how to start it.

pub mod contention;
pub mod crash;
pub mod datagen;
pub mod demo;
pub mod fake_firmalom;
pub mod oidc;
pub mod smtp;

/// Runs each `async fn name(db: &TestDb)` of the calling module as two tests, `postgres::name`
/// and `sqlite::name`, each on a fresh database dropped afterwards.
#[macro_export]
macro_rules! tests_on_each_backend {
    (@module $module:ident $backend:ident $($name:ident)*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::TestDb::new($crate::Backend::$backend).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::tests_on_each_backend!(@module postgres Postgres $($name)*);
        $crate::tests_on_each_backend!(@module sqlite Sqlite $($name)*);
    };
}

/// Runs each scenario `async fn scenario(backend: Backend)` as two tests, `$on_postgres` and
/// `$on_sqlite` (`#[tokio::test]` unless another test attribute is given first):
/// `scenario => on_postgres, on_sqlite;` per scenario.
#[macro_export]
macro_rules! scenario_on_each_backend {
    (#[$test:meta] $($scenario:ident => $on_postgres:ident, $on_sqlite:ident);+ $(;)?) => {
        $(
            #[$test]
            async fn $on_postgres() {
                $scenario($crate::Backend::Postgres).await;
            }
            #[$test]
            async fn $on_sqlite() {
                $scenario($crate::Backend::Sqlite).await;
            }
        )+
    };
    ($($scenario:ident => $on_postgres:ident, $on_sqlite:ident);+ $(;)?) => {
        $crate::scenario_on_each_backend!(
            #[tokio::test] $($scenario => $on_postgres, $on_sqlite);+
        );
    };
}

/// Installs the npm packages of `dir` (`npm ci`, pinned by its lock file) unless `package` is
/// there already; one installation at a time. Fails loudly when npm cannot do it.
pub fn npm_ci(dir: &std::path::Path, package: &str) {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if dir
        .join("node_modules")
        .join(package)
        .join("package.json")
        .exists()
    {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("npm (Node.js) is needed in {}: {e}", dir.display()));
    assert!(
        status.success(),
        "`npm ci` in {} failed ({status})",
        dir.display()
    );
}

/// The body of `POST /v1/cases` for the standard #UP case of the tests (ATS-MILANO, ASST-NORD-MILANO,
/// ENTE-ALFA, the `cf` responsabili and case manager, a minor enrolled in FirmaLOM whose parent
/// confirms) with the recipient's `pseudonym`.
pub fn standard_case_body(pseudonym: &str) -> serde_json::Value {
    serde_json::json!({
        "measure_id": "up",
        "ats": "ATS-MILANO",
        "asst": "ASST-NORD-MILANO",
        "provider": "ENTE-ALFA",
        "responsabile_asst": cf::RESP_ASST,
        "responsabile_provider": cf::RESP_PROVIDER,
        "case_manager": cf::CASE_MANAGER,
        "recipient": {
            "pseudonym": pseudonym,
            "minor": true,
            "firmalom_enrolled": true,
            "confirmers": [cf::PARENT]
        }
    })
}

/// The body of `POST /v1/organisations` that registers the provider of
/// [`standard_case_body`] (ENTE-ALFA, in ATS-MILANO's territory).
pub fn standard_provider_body() -> serde_json::Value {
    serde_json::json!({
        "code": "ENTE-ALFA",
        "name": "Cooperativa Sociale Alfa",
        "kind": "provider",
        "ats": "ATS-MILANO"
    })
}

/// The stored id of a case stream.
pub fn case_stream(case_id: Uuid) -> String {
    diario_log::StreamId::case(case_id).to_string()
}

/// The stored id of a system-failure stream.
pub fn failure_stream(failure_id: Uuid) -> String {
    diario_log::StreamId::failure(failure_id).to_string()
}

/// The metadata of a new command (fresh command and correlation ids, no cause) by `actor_cf`
/// as `actor_role`, at `occurred_at`.
pub fn command_metadata(
    actor_cf: &str,
    actor_role: &str,
    occurred_at: chrono::DateTime<chrono::Utc>,
) -> diario_log::EventMetadata {
    diario_log::EventMetadata {
        actor_cf: actor_cf.to_owned(),
        actor_role: actor_role.to_owned(),
        occurred_at,
        command_id: Uuid::now_v7(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
    }
}

use std::path::PathBuf;

use diario_log::Database;
use sqlx::Executor;
use uuid::Uuid;

/// Server used to create per-test databases; override with `DIARIO_TEST_PG_URL`.
pub fn pg_admin_url() -> String {
    std::env::var("DIARIO_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A migrated, empty database that belongs to one test.
pub struct TestDb {
    pub db: Database,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres { admin_url: String, name: String },
    Sqlite { dir: PathBuf },
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Postgres => Self::postgres().await,
            Backend::Sqlite => Self::sqlite().await,
        }
    }

    /// A new database on the local PostgreSQL server, dropped by [`TestDb::cleanup`].
    pub async fn postgres() -> TestDb {
        Self::postgres_on(&pg_admin_url()).await
    }

    /// A new database on the PostgreSQL server of `admin_url` (a user that may CREATE
    /// DATABASE), dropped by [`TestDb::cleanup`].
    pub async fn postgres_on(admin_url: &str) -> TestDb {
        let admin_url = admin_url.to_owned();
        let admin = match Database::connect_with(&admin_url, 1).await {
            Ok(Database::Postgres(pool)) => pool,
            Ok(_) => panic!("DIARIO_TEST_PG_URL must be a postgres:// URL, got {admin_url}"),
            Err(e) => panic!(
                "PostgreSQL is required for this test but is not reachable at {admin_url}: {e}\n\
                 Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
                 (or point DIARIO_TEST_PG_URL at a server where the user may CREATE DATABASE)"
            ),
        };
        let name = format!("diario_test_{}", Uuid::now_v7().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create the test database");
        admin.close().await;
        let url = match admin_url.rfind('/') {
            Some(i) => format!("{}/{name}", &admin_url[..i]),
            None => panic!("cannot derive a database URL from {admin_url}"),
        };
        let db = Database::connect_with(&url, 20)
            .await
            .expect("connect to the test database");
        db.migrate().await.expect("migrate the test database");
        TestDb {
            db,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    /// A new SQLite file in a temporary directory, removed by [`TestDb::cleanup`].
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("diario-test-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("create the temporary directory");
        let url = format!("sqlite://{}", dir.join("diario.db").display());
        let db = Database::connect_with(&url, 8)
            .await
            .expect("open the SQLite test database");
        db.migrate()
            .await
            .expect("migrate the SQLite test database");
        TestDb {
            db,
            url,
            cleanup: Cleanup::Sqlite { dir },
        }
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Database::Postgres(_) => Backend::Postgres,
            Database::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Runs raw SQL the application itself never runs (e.g. tampering with the log).
    pub async fn raw(&self, sql: &str) {
        if let Err(e) = self.try_raw(sql).await {
            panic!("raw SQL failed: {sql}: {e}");
        }
    }

    /// Runs raw SQL and returns the error, if any.
    pub async fn try_raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        match &self.db {
            Database::Postgres(pool) => pool
                .execute(sqlx::AssertSqlSafe(sql.to_owned()))
                .await
                .map(|_| ()),
            Database::Sqlite(pool) => pool
                .execute(sqlx::AssertSqlSafe(sql.to_owned()))
                .await
                .map(|_| ()),
        }
    }

    /// Counts rows with a `SELECT count(*) …` query.
    pub async fn count(&self, sql: &str) -> i64 {
        let q = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.db {
            Database::Postgres(pool) => sqlx::query_scalar(q).fetch_one(pool).await,
            Database::Sqlite(pool) => sqlx::query_scalar(q).fetch_one(pool).await,
        }
        .unwrap_or_else(|e| panic!("count failed: {sql}: {e}"))
    }

    /// The single text column of every row of a query.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        let q = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.db {
            Database::Postgres(pool) => sqlx::query_scalar(q).fetch_all(pool).await,
            Database::Sqlite(pool) => sqlx::query_scalar(q).fetch_all(pool).await,
        }
        .unwrap_or_else(|e| panic!("query failed: {sql}: {e}"))
    }

    /// Drops the database (PostgreSQL) or removes the file (SQLite).
    pub async fn cleanup(self) {
        self.db.close().await;
        match self.cleanup {
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(Database::Postgres(admin)) = Database::connect_with(&admin_url, 1).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                    admin.close().await;
                }
            }
            Cleanup::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The measure catalogue shipped with the domain (what `diario serve` runs).
pub fn catalogue() -> diario_domain::Catalogue {
    diario_domain::Catalogue::shipped().expect("the shipped catalogue is valid")
}

/// A command handler on `db` with the shipped catalogue and the system clock.
pub fn handler(db: &Database) -> diario_commands::CommandHandler {
    diario_commands::CommandHandler::new(
        db.event_store(),
        catalogue(),
        std::sync::Arc::new(diario_commands::SystemClock),
    )
}

/// Settings of a test server: the shipped catalogue, no background workers, no projection
/// runner (tests bring the read models up to date themselves, see [`catch_up_read_models`]).
pub fn quiet_settings() -> diario_api::Settings {
    let mut settings = diario_api::Settings::new(catalogue());
    settings.workers = None;
    settings.projections = None;
    settings
}

/// A server started by `diario_api::start` — the function `diario serve` uses — and served
/// on a random local port.
pub struct Served {
    pub base_url: String,
    pub state: diario_api::AppState,
    started: Option<diario_api::Started>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Served {
    pub async fn start(db: Database, settings: &diario_api::Settings) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        Self::start_on(db, settings, listener).await
    }

    /// The server on a listener bound beforehand (when the settings need its address, as the
    /// public URL of the browser login does).
    pub async fn start_on(
        db: Database,
        settings: &diario_api::Settings,
        listener: tokio::net::TcpListener,
    ) -> Served {
        let started = diario_api::start(db, settings);
        let state = started.state.clone();
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(diario_api::serve(
            listener,
            state.clone(),
            async move {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(5),
        ));
        Served {
            base_url: format!("http://{addr}"),
            state,
            started: Some(started),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the background tasks and the server gracefully.
    pub async fn stop(&mut self) {
        if let Some(started) = self.started.take() {
            started.stop().await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A real `diario` HTTP server on a random local port, backed by a fresh test database.
pub struct TestServer {
    pub base_url: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    served: Served,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        let db = TestDb::new(backend).await;
        let served = Served::start(db.db.clone(), &quiet_settings()).await;
        TestServer {
            base_url: served.base_url.clone(),
            client: reqwest::Client::new(),
            db,
            served,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `GET path` without a token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let sent = self.client.get(self.url(path)).send().await;
        sent.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Stops the server gracefully and drops the test database.
    pub async fn stop(mut self) {
        self.served.stop().await;
        self.db.cleanup().await;
    }
}

/// The `diario` binary, next to the test executable (`target/<profile>/diario`).
///
/// `cargo test` builds the binaries only for integration tests of their own package, so the
/// first caller builds it with the same cargo, profile and target directory (once per test
/// process; cargo does not hold its build lock while tests run).
pub fn diario_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().map_err(|e| format!("test executable path: {e}"))?;
        // Test executables live in `target/<profile>/deps`, benchmark binaries one level up.
        let dir = exe
            .parent()
            .map(|d| match d.file_name() {
                Some(n) if n == "deps" => d.parent().unwrap_or(d),
                _ => d,
            })
            .ok_or("no target directory above the test executable")?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "--quiet", "-p", "diario-api", "--bin", "diario"]);
        if dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .map_err(|e| format!("cannot run cargo to build diario: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build of the diario binary failed: {status}"));
        }
        let bin = dir.join(format!("diario{}", std::env::consts::EXE_SUFFIX));
        if bin.exists() {
            Ok(bin)
        } else {
            Err(format!("the diario binary is not at {}", bin.display()))
        }
    });
    match built {
        Ok(bin) => bin.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// A local port nobody listens on (for a server started as a separate process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// The `diario` binary with `args` (see [`diario_binary`]).
pub fn diario_command(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(diario_binary());
    command.args(args);
    command
}

/// Runs `command`, asserts that it succeeded (its standard error otherwise) and returns its
/// standard output.
pub fn run_ok(command: &mut std::process::Command) -> String {
    let out = command.output().expect("run the command");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command:?}: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8")
}

// ---------------------------------------------------------------------------------------------
// HTTP API test support: a server with token keys, a test clock and a platform
// administrator, plus token minting and request helpers.
// ---------------------------------------------------------------------------------------------

/// The HS256 secret of API test servers.
pub const TEST_JWT_SECRET: &str = "diario-test-secret-0123456789abcdef-0123456789";
/// The issuer and audience API test servers require.
pub const TEST_JWT_ISSUER: &str = "https://idp.test/diario";
pub const TEST_JWT_AUDIENCE: &str = "diario-api";

/// Fiscal codes used by the API tests (valid check characters).
pub mod cf {
    pub const PLATFORM_ADMIN: &str = "ADMNTR80A01F205F";
    pub const ATS_OPERATOR: &str = "RSSMRA85T10A562S";
    pub const OTHER_ATS_OPERATOR: &str = "ATSLTR82D14F205F";
    pub const ENTE_ADMIN: &str = "ENTDMN70C23F205U";
    pub const AUDITOR: &str = "AUDTRS75B12F205U";
    pub const SUPPORT: &str = "BRNPLA65S12L736K";
    pub const RESP_ASST: &str = "BNCLRA80A41F205G";
    pub const RESP_PROVIDER: &str = "VRDGPP70C15H501K";
    pub const CASE_MANAGER: &str = "NREFNC90D52L219T";
    pub const PSICOLOGO: &str = "GLLLCU88E10D969Z";
    pub const EDUCATORE: &str = "FRRSFN75M22B157W";
    pub const PARENT: &str = "CLMMRC78P10F205F";
    pub const OUTSIDER: &str = "MRNLSU92B60G273X";

    /// The `n`-th of a series of professionals (`n` < 1000), a valid fiscal code each: load
    /// tests give each case its own professional, since one person cannot bill the same
    /// time on two cases (one professional, one hour).
    pub fn numbered_professional(n: usize) -> String {
        assert!(n < 1000, "at most 1000 numbered professionals");
        let first15 = format!("PSCNMR80A01F{n:03}");
        let check = match diario_domain::FiscalCode::parse(&format!("{first15}A")) {
            Ok(_) => 'A',
            Err(diario_domain::values::FiscalCodeError::CheckCharacter { expected }) => expected,
            Err(e) => panic!("numbered fiscal code {first15}: {e}"),
        };
        format!("{first15}{check}")
    }
}

/// What a request returned.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
    pub json: serde_json::Value,
}

impl ApiResponse {
    /// Reads the status, headers and body of a response (the body as JSON when it is JSON).
    pub async fn read(response: reqwest::Response) -> ApiResponse {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("read the body").to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        ApiResponse {
            status,
            headers,
            bytes,
            json,
        }
    }

    /// The problem `type`'s code (last path segment), or "" when the body is not a problem.
    pub fn problem_code(&self) -> String {
        self.json["type"]
            .as_str()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// The token settings of API test servers: HS256 with issuer and audience checked, and
/// `cf::PLATFORM_ADMIN` as bootstrap platform administrator.
pub fn test_auth() -> diario_api::AuthConfig {
    diario_api::AuthConfig::disabled()
        .with_secret(TEST_JWT_SECRET.as_bytes())
        .expect("test secret")
        .with_issuer(Some(TEST_JWT_ISSUER.into()))
        .with_audience(Some(TEST_JWT_AUDIENCE.into()))
        .with_platform_admins(cf::PLATFORM_ADMIN)
        .expect("platform admin CF")
}

/// A real `diario` API server on a random port with HS256 tokens (issuer and audience
/// checked), a test clock, and `cf::PLATFORM_ADMIN` as bootstrap platform administrator.
pub struct ApiServer {
    pub base_url: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub state: diario_api::AppState,
    pub clock: diario_commands::TestClock,
    pub auth: diario_api::AuthConfig,
    served: Served,
}

impl ApiServer {
    /// Starts with the clock at `now`.
    pub async fn start(backend: Backend, now: chrono::DateTime<chrono::Utc>) -> ApiServer {
        Self::start_with(backend, now, |_| {}).await
    }

    /// Starts with the clock at `now` and the settings changed by `change`.
    pub async fn start_with(
        backend: Backend,
        now: chrono::DateTime<chrono::Utc>,
        change: impl FnOnce(&mut diario_api::Settings),
    ) -> ApiServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        Self::start_on(backend, now, listener, change).await
    }

    /// [`ApiServer::start_with`] on a listener bound beforehand (settings that need the
    /// server's address, such as the public URL of the browser login).
    pub async fn start_on(
        backend: Backend,
        now: chrono::DateTime<chrono::Utc>,
        listener: tokio::net::TcpListener,
        change: impl FnOnce(&mut diario_api::Settings),
    ) -> ApiServer {
        let db = TestDb::new(backend).await;
        let clock = diario_commands::TestClock::new(now);
        let mut settings = quiet_settings();
        settings.auth = test_auth();
        settings.test_clock = Some(clock.clone());
        change(&mut settings);
        let served = Served::start_on(db.db.clone(), &settings, listener).await;
        ApiServer {
            base_url: served.base_url.clone(),
            client: reqwest::Client::new(),
            db,
            state: served.state.clone(),
            clock,
            auth: settings.auth,
            served,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A valid token for `cf` (1 hour).
    pub fn token(&self, cf: &str) -> String {
        self.auth
            .mint(cf, std::time::Duration::from_secs(3600))
            .expect("mint a test token")
    }

    /// Sends a request as `as_cf` (None: no token) with an optional JSON body and headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        as_cf: Option<&str>,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(cf) = as_cf {
            req = req.bearer_auth(self.token(cf));
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).expect("serialise body"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        ApiResponse::read(req.send().await.expect("send the request")).await
    }

    /// A request as `who` with an optional JSON body, to be sent by awaiting it (or
    /// [`Call::refused`]); it succeeds with 200 unless [`Call::yielding`] says otherwise.
    pub fn call(
        &self,
        method: &'static str,
        path: impl Into<String>,
        who: &str,
        body: Option<serde_json::Value>,
    ) -> Call<'_> {
        Call {
            server: self,
            method,
            path: path.into(),
            who: who.to_owned(),
            body,
            headers: Vec::new(),
            success: 200,
            yields: |body| body,
        }
    }

    /// A multipart/form-data request as `who` (`parts`: name, file name, content type, data).
    pub async fn send_multipart(
        &self,
        path: &str,
        who: &str,
        parts: &[(&str, Option<&str>, &str, &[u8])],
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        let (content_type, body) = multipart(parts);
        let mut req = self
            .client
            .post(self.url(path))
            .bearer_auth(self.token(who))
            .header("content-type", content_type);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        ApiResponse::read(req.body(body).send().await.expect("multipart request")).await
    }

    /// Uploads a PDF document of the pathway of `kind` to a case as `who`.
    pub async fn upload_document(
        &self,
        case_id: Uuid,
        who: &str,
        kind: &str,
        pdf: &[u8],
    ) -> ApiResponse {
        self.send_multipart(
            &format!("/v1/cases/{case_id}/documents"),
            who,
            &[
                ("file", Some("documento.pdf"), "application/pdf", pdf),
                ("kind", None, "text/plain", kind.as_bytes()),
            ],
            &[],
        )
        .await
    }

    /// Records the #UP output that closes phase `n` (Art. 1: the PI, the PDI, the final
    /// evaluation report, the follow-up report) as the phase's responsabile; yields its id.
    pub async fn add_output(&self, case_id: Uuid, n: u8) -> Uuid {
        let (kind, who) = up_output(n);
        let pdf = sample_pdf(&format!("{kind} {case_id}"));
        let r = self.upload_document(case_id, who, kind, &pdf).await;
        assert_eq!(r.status, 201, "upload of {kind}: {}", r.json);
        r.json["events"][0]["document_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no document id in {}", r.json))
    }

    /// Moves the service clock through the HTTP test-clock route.
    pub async fn set_clock(&self, now: chrono::DateTime<chrono::Utc>) {
        let r = self
            .send(
                "PUT",
                "/v1/test-clock",
                None,
                Some(&serde_json::json!({ "now": now })),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "PUT /v1/test-clock: {:?}", r.json);
    }

    /// Stops the server gracefully and drops the test database.
    pub async fn stop(mut self) {
        self.served.stop().await;
        self.db.cleanup().await;
    }
}

/// A request to an [`ApiServer`] as someone, not sent yet. Awaiting it sends it, asserts the
/// status its endpoint answers on success and yields what the step produces (the body, or an
/// id taken from it); [`Call::refused`] asserts a refusal instead.
#[must_use = "a call is sent only when awaited"]
pub struct Call<'a, T = serde_json::Value> {
    server: &'a ApiServer,
    method: &'static str,
    path: String,
    who: String,
    body: Option<serde_json::Value>,
    headers: Vec<(&'static str, String)>,
    success: u16,
    yields: fn(serde_json::Value) -> T,
}

impl<'a, T> Call<'a, T> {
    /// The same request, succeeding with `success` and yielding `yields` of the body.
    pub fn yielding<U>(self, success: u16, yields: fn(serde_json::Value) -> U) -> Call<'a, U> {
        Call {
            server: self.server,
            method: self.method,
            path: self.path,
            who: self.who,
            body: self.body,
            headers: self.headers,
            success,
            yields,
        }
    }

    /// The same request with the header `name: value`.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Sends the request; asserts nothing.
    pub async fn send(self) -> ApiResponse {
        let (who, body) = (Some(self.who.as_str()), self.body.as_ref());
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (server, method) = (self.server, self.method);
        server.send(method, &self.path, who, body, &headers).await
    }

    /// Sends the request and asserts its success status; returns the whole body.
    pub async fn body(self) -> serde_json::Value {
        let (method, path, success) = (self.method, self.path.clone(), self.success);
        let r = self.send().await;
        assert_eq!(r.status, success, "{method} {path}: {}", r.json);
        r.json
    }

    /// Sends the request and asserts the refusal: its status and problem `type` code, as
    /// `application/problem+json` with a detail. Returns the problem.
    pub async fn refused(self, status: u16, code: &str) -> serde_json::Value {
        let (method, path) = (self.method, self.path.clone());
        let r = self.send().await;
        let got = (r.status, r.problem_code());
        assert_eq!(
            got,
            (status, code.to_owned()),
            "{method} {path}: {}",
            r.json
        );
        let content_type = r.header("content-type");
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        let problem_type = format!("https://diario.example/problems/{code}");
        assert_eq!(r.json["type"], problem_type);
        assert!(r.json["detail"].as_str().is_some_and(|d| !d.is_empty()));
        r.json
    }
}

impl<'a, T: 'a> std::future::IntoFuture for Call<'a, T> {
    type Output = T;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let yields = self.yields;
        Box::pin(async move { yields(self.body().await) })
    }
}

/// The #UP document kind that closes phase `n`, and who records it.
pub fn up_output(n: u8) -> (&'static str, &'static str) {
    match n {
        1 => ("progetto_individualizzato", cf::RESP_ASST),
        2 => ("piano_di_intervento", cf::RESP_PROVIDER),
        3 => ("relazione_valutazione_finale", cf::RESP_PROVIDER),
        _ => ("relazione_follow_up", cf::RESP_PROVIDER),
    }
}

/// A small PDF whose content names `label` (so two documents have two hashes).
pub fn sample_pdf(label: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% {label}\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}

/// A multipart/form-data body (built by hand: the tests' HTTP client has no multipart).
pub fn multipart(parts: &[(&str, Option<&str>, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("diario-{}", Uuid::now_v7().simple());
    let mut body = Vec::new();
    for (name, filename, content_type, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n")
                    .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The id in `field` of a JSON body.
pub fn id_in(body: &serde_json::Value, field: &str) -> Uuid {
    body[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {body}"))
}

// ---------------------------------------------------------------------------------------------
// FirmaLOM test support: an API server with the FirmaLOM secret, optionally the
// dispatcher towards a fake FirmaLOM, and the background workers (dispatcher, deadline
// scheduler) running with short intervals; a second server on the same database.
// ---------------------------------------------------------------------------------------------

/// The HMAC secret shared by the test servers and the fake FirmaLOM.
pub const TEST_FIRMALOM_SECRET: &[u8] = b"firmalom-e2e-secret-0123456789";

/// How a FirmaLOM test server runs.
#[derive(Debug, Clone)]
pub struct FirmalomSetup {
    /// Where notifications go (`None`: no dispatcher).
    pub url: Option<String>,
    /// Start the background workers (dispatcher and deadline scheduler).
    pub workers: bool,
    pub dispatch_interval: std::time::Duration,
    pub deadline_interval: std::time::Duration,
    pub first_retry: std::time::Duration,
}

impl FirmalomSetup {
    /// Callbacks only: no dispatcher, no scheduler.
    pub fn callbacks_only() -> Self {
        FirmalomSetup {
            url: None,
            workers: false,
            dispatch_interval: std::time::Duration::from_millis(100),
            deadline_interval: std::time::Duration::from_millis(100),
            first_retry: std::time::Duration::from_millis(100),
        }
    }

    /// Workers on, notifications to `url`.
    pub fn with_workers(url: Option<&str>) -> Self {
        FirmalomSetup {
            url: url.map(str::to_owned),
            workers: true,
            ..Self::callbacks_only()
        }
    }

    fn config(&self) -> diario_api::firmalom::FirmalomConfig {
        let mut c = diario_api::firmalom::FirmalomConfig::new(
            self.url.clone(),
            TEST_FIRMALOM_SECRET.to_vec(),
        );
        c.first_retry = self.first_retry;
        c.max_retry = self.first_retry * 8;
        c.request_timeout = std::time::Duration::from_secs(5);
        c
    }

    fn settings(&self) -> diario_api::scheduler::WorkerSettings {
        diario_api::scheduler::WorkerSettings {
            dispatch_interval: self.dispatch_interval,
            deadline_interval: self.deadline_interval,
            ..Default::default()
        }
    }
}

impl FirmalomSetup {
    /// These settings applied to a server's.
    fn apply(&self, settings: &mut diario_api::Settings) {
        settings.firmalom = Some(self.config());
        settings.workers = self.workers.then(|| self.settings());
    }
}

/// An [`ApiServer`] with FirmaLOM configured and, if asked, its background workers.
pub struct FirmalomServer {
    pub api: ApiServer,
    extra: Vec<(Served, Database)>,
}

impl std::ops::Deref for FirmalomServer {
    type Target = ApiServer;
    fn deref(&self) -> &ApiServer {
        &self.api
    }
}

impl FirmalomServer {
    /// Starts with the clock at `now`.
    pub async fn start(
        backend: Backend,
        now: chrono::DateTime<chrono::Utc>,
        setup: FirmalomSetup,
    ) -> FirmalomServer {
        let api = ApiServer::start_with(backend, now, |s| setup.apply(s)).await;
        FirmalomServer {
            api,
            extra: Vec::new(),
        }
    }

    /// Starts a second server on the same database (its own connection pool and workers,
    /// the same test clock); returns its base URL.
    pub async fn start_another(&mut self, setup: FirmalomSetup) -> String {
        let db = Database::connect_with(&self.api.db.url, 10)
            .await
            .expect("connect the second server");
        let mut settings = quiet_settings();
        settings.auth = self.api.auth.clone();
        settings.test_clock = Some(self.api.clock.clone());
        setup.apply(&mut settings);
        let served = Served::start(db.clone(), &settings).await;
        let base_url = served.base_url.clone();
        self.extra.push((served, db));
        base_url
    }

    /// Stops the workers and the servers, drops the test database.
    pub async fn stop(mut self) {
        for (mut served, db) in self.extra.drain(..) {
            served.stop().await;
            db.close().await;
        }
        self.api.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Read-side test support: bring the read models up to the end of the log, as the
// runner of `diario serve` does continuously.
// ---------------------------------------------------------------------------------------------

/// Applies every stored event to every read model of `db` (waiting, on PostgreSQL, for
/// transactions still in flight), like the live runner of `diario serve`.
pub async fn catch_up_read_models(db: &Database) {
    let store = db.event_store();
    diario_log::follower::catch_up_to_end(
        db,
        store.as_ref(),
        &diario_projections::read_models(&catalogue()),
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("catch up the read models: {e}"));
}

impl ApiServer {
    /// Brings the read models up to date (see [`catch_up_read_models`]).
    pub async fn catch_up(&self) {
        catch_up_read_models(&self.db.db).await;
    }
}

/// Runs `script` with `python3 -c` on a temporary file holding `input` (its path is
/// `sys.argv[1]`): how the tests check an export with code that is not ours. Returns whether
/// it succeeded and what it printed (stdout, then stderr). A missing `python3` fails loudly.
pub fn python_on(script: &str, input: &[u8]) -> (bool, String) {
    let path = std::env::temp_dir().join(format!("diario-py-{}.json", Uuid::now_v7().simple()));
    std::fs::write(&path, input).expect("write the input");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("python3 must be installed: {e}"));
    std::fs::remove_file(&path).ok();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
