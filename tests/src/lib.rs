//! Test support: a fresh database per test on PostgreSQL or SQLite.
//!
//! PostgreSQL tests never skip: when the server does not answer they fail with a message that
//! says how to start it.

use std::path::PathBuf;

use diario_commands::Database;
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
        let admin_url = pg_admin_url();
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
        let result = match &self.db {
            Database::Postgres(pool) => pool
                .execute(sqlx::AssertSqlSafe(sql.to_owned()))
                .await
                .map(|_| ()),
            Database::Sqlite(pool) => pool
                .execute(sqlx::AssertSqlSafe(sql.to_owned()))
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
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

/// A real `diario` HTTP server on a random local port, backed by a fresh test database.
pub struct TestServer {
    pub base_url: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        let db = TestDb::new(backend).await;
        let state = diario_api::AppState::new(db.db.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(diario_api::serve(
            listener,
            state,
            async move {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(5),
        ));
        TestServer {
            base_url: format!("http://{addr}"),
            client: reqwest::Client::new(),
            db,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server gracefully and drops the test database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.db.cleanup().await;
    }
}

/// The `diario` binary built by `cargo test --workspace` next to the test executable.
pub fn diario_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let bin = dir.join(format!("diario{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "the diario binary is not built at {}: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}
