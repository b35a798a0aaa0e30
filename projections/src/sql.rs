//! The little SQL layer shared by both backends: one SQL text with `$N` placeholders (SQLite
//! accepts them too), values bound with the right type per backend, rows read back into Rust
//! types whatever the column storage (native types on PostgreSQL, text on SQLite).

use chrono::{DateTime, NaiveDate, Utc};
use diario_commands::Database;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, Row as _, Sqlite, Transaction};
use uuid::Uuid;

use crate::ProjectionError;

/// A bound value. Every variant carries an `Option` so that NULLs keep their type (PostgreSQL
/// needs it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Uuid(Option<Uuid>),
    Instant(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    Json(serde_json::Value),
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(Some(v.to_owned()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(Some(v))
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::Text(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}
impl From<Uuid> for Val {
    fn from(v: Uuid) -> Self {
        Val::Uuid(Some(v))
    }
}
impl From<Option<Uuid>> for Val {
    fn from(v: Option<Uuid>) -> Self {
        Val::Uuid(v)
    }
}
impl From<DateTime<Utc>> for Val {
    fn from(v: DateTime<Utc>) -> Self {
        Val::Instant(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for Val {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Val::Instant(v)
    }
}
impl From<NaiveDate> for Val {
    fn from(v: NaiveDate) -> Self {
        Val::Date(Some(v))
    }
}
impl From<Option<NaiveDate>> for Val {
    fn from(v: Option<NaiveDate>) -> Self {
        Val::Date(v)
    }
}
impl From<serde_json::Value> for Val {
    fn from(v: serde_json::Value) -> Self {
        Val::Json(v)
    }
}

/// Instants on SQLite: the event store's text format (sortable, microseconds, `Z`).
pub(crate) fn instant_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
type LiteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>;

fn bind_pg<'q>(q: PgQuery<'q>, v: &Val) -> PgQuery<'q> {
    match v {
        Val::Text(x) => q.bind(x.clone()),
        Val::Int(x) => q.bind(*x),
        Val::Bool(x) => q.bind(*x),
        Val::Uuid(x) => q.bind(*x),
        Val::Instant(x) => q.bind(*x),
        Val::Date(x) => q.bind(*x),
        Val::Json(x) => q.bind(x.clone()),
    }
}

fn bind_lite<'q>(q: LiteQuery<'q>, v: &Val) -> LiteQuery<'q> {
    match v {
        Val::Text(x) => q.bind(x.clone()),
        Val::Int(x) => q.bind(*x),
        Val::Bool(x) => q.bind(*x),
        Val::Uuid(x) => q.bind(x.map(|u| u.to_string())),
        Val::Instant(x) => q.bind(x.map(instant_text)),
        Val::Date(x) => q.bind(x.map(|d| d.format("%Y-%m-%d").to_string())),
        Val::Json(x) => q.bind(x.to_string()),
    }
}

fn pg_query(sql: &str, args: &[Val]) -> PgQuery<'static> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for a in args {
        q = bind_pg(q, a);
    }
    q
}

fn lite_query(sql: &str, args: &[Val]) -> LiteQuery<'static> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for a in args {
        q = bind_lite(q, a);
    }
    q
}

/// A read-model transaction on either backend.
pub enum Tx {
    /// PostgreSQL.
    Pg(Transaction<'static, Postgres>),
    /// SQLite (opened with `BEGIN IMMEDIATE`).
    Sqlite(Transaction<'static, Sqlite>),
}

impl Tx {
    pub(crate) async fn begin(db: &Database) -> Result<Tx, ProjectionError> {
        Ok(match db {
            Database::Postgres(pool) => Tx::Pg(pool.begin().await?),
            // IMMEDIATE: take the write lock up front, so a read followed by a write never
            // fails with SQLITE_BUSY on the lock upgrade.
            Database::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    pub(crate) async fn commit(self) -> Result<(), ProjectionError> {
        match self {
            Tx::Pg(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<(), ProjectionError> {
        match self {
            Tx::Pg(tx) => tx.rollback().await?,
            Tx::Sqlite(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// Appends the `n`-th placeholder of a generated statement whose arguments are bound in
    /// order: `$n` on PostgreSQL, a bare `?` on SQLite. (SQLite looks a numbered parameter's
    /// name up with a linear scan for every bound value, which made statements with thousands
    /// of `$n` quadratic: 54% of a SQLite rebuild's CPU went to `sqlite3_bind_parameter_name`.)
    fn placeholder(&self, sql: &mut String, n: usize) {
        if self.is_postgres() {
            sql.push('$');
            sql.push_str(&n.to_string());
        } else {
            sql.push('?');
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Tx::Pg(_))
    }

    /// Executes one statement; returns the rows affected.
    pub(crate) async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, ProjectionError> {
        Ok(match self {
            Tx::Pg(tx) => pg_query(sql, args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Tx::Sqlite(tx) => lite_query(sql, args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    /// Inserts many rows with multi-row `VALUES` statements (`head` is `INSERT INTO t (…)`);
    /// one statement per chunk instead of one per row is what keeps rebuilds fast.
    pub(crate) async fn insert_rows(
        &mut self,
        head: &str,
        rows: &[Vec<Val>],
    ) -> Result<u64, ProjectionError> {
        self.insert_rows_then(head, rows, "").await
    }

    /// [`Tx::insert_rows`] with a clause after `VALUES (…)` (e.g. `ON CONFLICT … DO UPDATE`).
    pub(crate) async fn insert_rows_then(
        &mut self,
        head: &str,
        rows: &[Vec<Val>],
        tail: &str,
    ) -> Result<u64, ProjectionError> {
        let Some(width) = rows.first().map(Vec::len) else {
            return Ok(0);
        };
        // Stay well under both backends' bound-parameter limits.
        let per_chunk = (30_000 / width.max(1)).clamp(1, 500);
        let mut affected = 0;
        for chunk in rows.chunks(per_chunk) {
            let mut sql = String::with_capacity(head.len() + chunk.len() * width * 5);
            sql.push_str(head);
            sql.push_str(" VALUES ");
            let mut n = 0;
            for (i, row) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for j in 0..row.len() {
                    if j > 0 {
                        sql.push(',');
                    }
                    n += 1;
                    self.placeholder(&mut sql, n);
                }
                sql.push(')');
            }
            sql.push_str(tail);
            let args: Vec<Val> = chunk.iter().flatten().cloned().collect();
            affected += self.exec(&sql, &args).await?;
        }
        Ok(affected)
    }

    pub(crate) async fn fetch_all(
        &mut self,
        sql: &str,
        args: &[Val],
    ) -> Result<Vec<Row>, ProjectionError> {
        Ok(match self {
            Tx::Pg(tx) => pg_query(sql, args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Pg)
                .collect(),
            Tx::Sqlite(tx) => lite_query(sql, args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Lite)
                .collect(),
        })
    }

    /// `DELETE FROM {table} WHERE {column} IN (…)` for many keys, in chunks.
    pub(crate) async fn delete_in(
        &mut self,
        table: &str,
        column: &str,
        keys: &[Val],
    ) -> Result<u64, ProjectionError> {
        let mut affected = 0;
        for chunk in keys.chunks(500) {
            let mut sql = format!("DELETE FROM {table} WHERE {column} IN (");
            for n in 1..=chunk.len() {
                if n > 1 {
                    sql.push(',');
                }
                self.placeholder(&mut sql, n);
            }
            sql.push(')');
            affected += self.exec(&sql, chunk).await?;
        }
        Ok(affected)
    }

    pub(crate) async fn fetch_optional(
        &mut self,
        sql: &str,
        args: &[Val],
    ) -> Result<Option<Row>, ProjectionError> {
        Ok(match self {
            Tx::Pg(tx) => pg_query(sql, args)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Pg),
            Tx::Sqlite(tx) => lite_query(sql, args)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Lite),
        })
    }
}

/// Runs a query on the pool (outside any transaction).
pub(crate) async fn fetch_all(
    db: &Database,
    sql: &str,
    args: &[Val],
) -> Result<Vec<Row>, ProjectionError> {
    Ok(match db {
        Database::Postgres(pool) => pg_query(sql, args)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(Row::Pg)
            .collect(),
        Database::Sqlite(pool) => lite_query(sql, args)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(Row::Lite)
            .collect(),
    })
}

pub(crate) async fn fetch_optional(
    db: &Database,
    sql: &str,
    args: &[Val],
) -> Result<Option<Row>, ProjectionError> {
    Ok(fetch_all(db, sql, args).await?.into_iter().next())
}

/// A row from either backend.
pub(crate) enum Row {
    Pg(PgRow),
    Lite(SqliteRow),
}

fn corrupt(col: &str, what: &str, value: &str) -> ProjectionError {
    ProjectionError::Corrupt(format!("column {col}: {value:?} is not {what}"))
}

impl Row {
    pub(crate) fn text(&self, col: &str) -> Result<String, ProjectionError> {
        Ok(match self {
            Row::Pg(r) => r.try_get(col)?,
            Row::Lite(r) => r.try_get(col)?,
        })
    }

    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<String>, ProjectionError> {
        Ok(match self {
            Row::Pg(r) => r.try_get(col)?,
            Row::Lite(r) => r.try_get(col)?,
        })
    }

    pub(crate) fn i64(&self, col: &str) -> Result<i64, ProjectionError> {
        Ok(self.opt_i64(col)?.unwrap_or(0))
    }

    pub(crate) fn opt_i64(&self, col: &str) -> Result<Option<i64>, ProjectionError> {
        Ok(match self {
            Row::Pg(r) => {
                // SMALLINT / INTEGER / BIGINT columns all read as i64.
                if let Ok(v) = r.try_get::<Option<i64>, _>(col) {
                    v
                } else if let Ok(v) = r.try_get::<Option<i32>, _>(col) {
                    v.map(i64::from)
                } else {
                    r.try_get::<Option<i16>, _>(col)?.map(i64::from)
                }
            }
            Row::Lite(r) => r.try_get(col)?,
        })
    }

    pub(crate) fn bool(&self, col: &str) -> Result<bool, ProjectionError> {
        Ok(match self {
            Row::Pg(r) => r.try_get(col)?,
            Row::Lite(r) => r.try_get::<i64, _>(col)? != 0,
        })
    }

    pub(crate) fn uuid(&self, col: &str) -> Result<Uuid, ProjectionError> {
        self.opt_uuid(col)?
            .ok_or_else(|| ProjectionError::Corrupt(format!("column {col} is NULL")))
    }

    pub(crate) fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, ProjectionError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(r) => r
                .try_get::<Option<String>, _>(col)?
                .map(|s| Uuid::parse_str(&s).map_err(|_| corrupt(col, "a UUID", &s)))
                .transpose(),
        }
    }

    pub(crate) fn instant(&self, col: &str) -> Result<DateTime<Utc>, ProjectionError> {
        self.opt_instant(col)?
            .ok_or_else(|| ProjectionError::Corrupt(format!("column {col} is NULL")))
    }

    pub(crate) fn opt_instant(&self, col: &str) -> Result<Option<DateTime<Utc>>, ProjectionError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(r) => r
                .try_get::<Option<String>, _>(col)?
                .map(|s| {
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| corrupt(col, "an RFC 3339 instant", &s))
                })
                .transpose(),
        }
    }

    pub(crate) fn date(&self, col: &str) -> Result<NaiveDate, ProjectionError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(r) => {
                let s: String = r.try_get(col)?;
                NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| corrupt(col, "a date", &s))
            }
        }
    }

    pub(crate) fn opt_date(&self, col: &str) -> Result<Option<NaiveDate>, ProjectionError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(r) => r
                .try_get::<Option<String>, _>(col)?
                .map(|s| {
                    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                        .map_err(|_| corrupt(col, "a date", &s))
                })
                .transpose(),
        }
    }

    pub(crate) fn json(&self, col: &str) -> Result<serde_json::Value, ProjectionError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(r) => {
                let s: String = r.try_get(col)?;
                serde_json::from_str(&s).map_err(|_| corrupt(col, "JSON", &s))
            }
        }
    }

    pub(crate) fn uuids(&self, col: &str) -> Result<Vec<Uuid>, ProjectionError> {
        serde_json::from_value(self.json(col)?)
            .map_err(|e| ProjectionError::Corrupt(format!("column {col}: {e}")))
    }
}
