//! Connecting to the configured database and choosing the store implementation.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::store::{EventStore, StoreError, postgres, sqlite};

/// The database behind the service: PostgreSQL in production, a SQLite file by default.
#[derive(Clone, Debug)]
pub enum Database {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Database {
    /// Connects to `url` (`postgres://…` or `sqlite://path`; the SQLite file is created when
    /// missing).
    pub async fn connect(url: &str) -> Result<Database, StoreError> {
        Self::connect_with(url, 10).await
    }

    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Database, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Database::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(options)
                .await?;
            Ok(Database::Sqlite(pool))
        } else {
            Err(StoreError::UnsupportedUrl(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:",
            ))
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Database::Postgres(pool) => postgres::MIGRATOR.run(pool).await?,
            Database::Sqlite(pool) => sqlite::MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Checks the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.exec("SELECT 1", &[]).await?;
        Ok(())
    }

    /// The event store over this database.
    pub fn event_store(&self) -> Arc<dyn EventStore> {
        match self {
            Database::Postgres(pool) => Arc::new(postgres::PgEventStore::new(pool.clone())),
            Database::Sqlite(pool) => Arc::new(sqlite::SqliteEventStore::new(pool.clone())),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "postgres",
            Database::Sqlite(_) => "sqlite",
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }

    pub async fn close(&self) {
        match self {
            Database::Postgres(pool) => pool.close().await,
            Database::Sqlite(pool) => pool.close().await,
        }
    }
}
