//! The one SQL layer shared by both backends, for every table besides the event log itself:
//! values bound with the right type per backend ([`Val`]), rows read back into Rust types
//! whatever the column storage (native types on PostgreSQL, text on SQLite; [`Row`]),
//! transactions ([`Tx`]), and statements built piece by piece ([`Query`]) or as multi-row
//! inserts, both through `sqlx::QueryBuilder` so placeholders are the backend's own.
//!
//! Fixed statements use `$1, $2, …` (SQLite accepts them too). Generated statements never
//! number placeholders by hand: SQLite looks a numbered parameter's name up with a linear scan
//! for every bound value, which made statements with thousands of `$n` quadratic (54% of a
//! SQLite rebuild's CPU went to `sqlite3_bind_parameter_name`); `QueryBuilder` writes bare `?`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, QueryBuilder, Row as _, Sqlite, Transaction};
use uuid::Uuid;

use crate::db::Database;
use crate::store::StoreError;
use crate::time::{instant_text, parse_instant};

/// A bound value. Every variant carries an `Option` so that NULLs keep their type (PostgreSQL
/// needs it).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    /// A UUID column (`UUID` on PostgreSQL, text on SQLite).
    Uuid(Option<Uuid>),
    /// A `TIMESTAMPTZ` column on PostgreSQL, text in [`crate::INSTANT_FORMAT`] on SQLite. The
    /// portable TEXT instant columns of both backends take [`Val::instant_text`].
    Instant(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

impl Val {
    /// An instant for a TEXT column (on both backends), in the one instant format.
    pub fn instant_text(t: DateTime<Utc>) -> Val {
        Val::Text(Some(instant_text(t)))
    }

    /// A UUID for a TEXT column (on both backends).
    pub fn uuid_text(id: Uuid) -> Val {
        Val::Text(Some(id.to_string()))
    }
}

macro_rules! val_from {
    ($($t:ty => $variant:ident, $wrap:expr;)*) => {
        $(impl From<$t> for Val {
            fn from(v: $t) -> Self {
                Val::$variant($wrap(v))
            }
        })*
    };
}

val_from! {
    &str => Text, |v: &str| Some(v.to_owned());
    String => Text, Some;
    &String => Text, |v: &String| Some(v.clone());
    Option<String> => Text, std::convert::identity;
    i64 => Int, Some;
    Option<i64> => Int, std::convert::identity;
    bool => Bool, std::convert::identity;
    Uuid => Uuid, Some;
    Option<Uuid> => Uuid, std::convert::identity;
    DateTime<Utc> => Instant, Some;
    Option<DateTime<Utc>> => Instant, std::convert::identity;
    NaiveDate => Date, Some;
    Option<NaiveDate> => Date, std::convert::identity;
    serde_json::Value => Json, std::convert::identity;
    Vec<u8> => Bytes, std::convert::identity;
}

/// Something a value can be bound to: a query, a builder, or one row of `push_values`.
trait Bind<DB: sqlx::Database>: Sized {
    fn bind_one<T>(self, v: T) -> Self
    where
        T: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB> + Send + 'static;
}

impl<DB: sqlx::Database> Bind<DB> for sqlx::query::Query<'static, DB, DB::Arguments> {
    fn bind_one<T>(self, v: T) -> Self
    where
        T: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB> + Send + 'static,
    {
        self.bind(v)
    }
}

impl<DB: sqlx::Database> Bind<DB> for &mut QueryBuilder<DB> {
    fn bind_one<T>(self, v: T) -> Self
    where
        T: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB> + Send + 'static,
    {
        self.push_bind(v);
        self
    }
}

impl<DB: sqlx::Database> Bind<DB> for &mut Separated<'_, DB, &str> {
    fn bind_one<T>(self, v: T) -> Self
    where
        T: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB> + Send + 'static,
    {
        self.push_bind(v);
        self
    }
}

/// How each backend stores a [`Val`]: native types on PostgreSQL, text for ids, instants,
/// dates and JSON on SQLite.
trait Backend: sqlx::Database {
    fn bind<B: Bind<Self>>(b: B, v: &Val) -> B;
}

/// Binds each variant as its own Rust type.
fn bind_native<DB, B>(b: B, v: &Val) -> B
where
    DB: sqlx::Database,
    B: Bind<DB>,
    Option<String>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Option<i64>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    bool: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Option<Uuid>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Option<DateTime<Utc>>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Option<NaiveDate>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    serde_json::Value: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Vec<u8>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    match v {
        Val::Text(x) => b.bind_one(x.clone()),
        Val::Int(x) => b.bind_one(*x),
        Val::Bool(x) => b.bind_one(*x),
        Val::Uuid(x) => b.bind_one(*x),
        Val::Instant(x) => b.bind_one(*x),
        Val::Date(x) => b.bind_one(*x),
        Val::Json(x) => b.bind_one(x.clone()),
        Val::Bytes(x) => b.bind_one(x.clone()),
    }
}

impl Backend for Postgres {
    fn bind<B: Bind<Self>>(b: B, v: &Val) -> B {
        bind_native(b, v)
    }
}

impl Backend for Sqlite {
    fn bind<B: Bind<Self>>(b: B, v: &Val) -> B {
        let text = |t: Option<String>| Val::Text(t);
        match v {
            Val::Uuid(x) => bind_native(b, &text(x.map(|u| u.to_string()))),
            Val::Instant(x) => bind_native(b, &text(x.map(instant_text))),
            Val::Date(x) => bind_native(b, &text(x.map(|d| d.format("%Y-%m-%d").to_string()))),
            Val::Json(x) => bind_native(b, &text(Some(x.to_string()))),
            other => bind_native(b, other),
        }
    }
}

/// A fixed statement with its values bound in order.
fn fixed<DB: Backend>(sql: &str, args: &[Val]) -> sqlx::query::Query<'static, DB, DB::Arguments> {
    args.iter()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), |q, a| {
            DB::bind(q, a)
        })
}

/// A statement built piece by piece: SQL text and values in place, rendered with the
/// backend's placeholders by `sqlx::QueryBuilder`.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    Sql(String),
    Val(Val),
    Rows(Vec<Vec<Val>>),
}

impl Query {
    /// A statement starting with `sql` (no placeholders in it).
    pub fn new(sql: &str) -> Query {
        Query {
            pieces: vec![Piece::Sql(sql.to_owned())],
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Query {
        self.pieces.push(Piece::Sql(sql.to_owned()));
        self
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Query {
        self.pieces.push(Piece::Val(v.into()));
        self
    }

    /// Appends `sql` then a placeholder bound to `v` (`" AND ats = "`, `ats`).
    pub fn and(&mut self, sql: &str, v: impl Into<Val>) -> &mut Query {
        self.push(sql).bind(v)
    }

    /// [`Query::and`] when the value is there (an optional filter); nothing otherwise.
    pub fn and_some<V: Into<Val>>(&mut self, sql: &str, v: Option<V>) -> &mut Query {
        match v {
            Some(v) => self.and(sql, v),
            None => self,
        }
    }

    /// Appends `VALUES (…), (…)` with one tuple per row (`QueryBuilder::push_values` writes the
    /// `VALUES` keyword).
    pub fn values(&mut self, rows: Vec<Vec<Val>>) -> &mut Query {
        self.pieces.push(Piece::Rows(rows));
        self
    }

    fn build<DB: Backend>(&self) -> QueryBuilder<DB> {
        let mut qb = QueryBuilder::new("");
        for piece in &self.pieces {
            match piece {
                Piece::Sql(s) => {
                    qb.push(s);
                }
                Piece::Val(v) => {
                    DB::bind(&mut qb, v);
                }
                Piece::Rows(rows) => {
                    qb.push_values(rows, |mut row, vals| {
                        for v in vals {
                            DB::bind(&mut row, v);
                        }
                    });
                }
            }
        }
        qb
    }
}

/// Rows per multi-row statement: well under both backends' bound-parameter limits.
fn rows_per_statement(width: usize) -> usize {
    (30_000 / width.max(1)).clamp(1, 500)
}

/// A transaction on either backend.
pub enum Tx {
    /// PostgreSQL.
    Pg(Transaction<'static, Postgres>),
    /// SQLite (opened with `BEGIN IMMEDIATE`).
    Sqlite(Transaction<'static, Sqlite>),
}

impl Tx {
    pub async fn begin(db: &Database) -> Result<Tx, StoreError> {
        Ok(match db {
            Database::Postgres(pool) => Tx::Pg(pool.begin().await?),
            // IMMEDIATE: take the write lock up front, so a read followed by a write never
            // fails with SQLITE_BUSY on the lock upgrade.
            Database::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Pg(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Pg(tx) => tx.rollback().await?,
            Tx::Sqlite(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Pg(_))
    }

    /// Executes one fixed statement; returns the rows affected.
    pub async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, StoreError> {
        match self {
            Tx::Pg(tx) => affected(fixed::<Postgres>(sql, args), &mut **tx, PG_COUNT).await,
            Tx::Sqlite(tx) => affected(fixed::<Sqlite>(sql, args), &mut **tx, LITE_COUNT).await,
        }
    }

    /// Executes a built statement; returns the rows affected.
    pub async fn run(&mut self, q: &Query) -> Result<u64, StoreError> {
        match self {
            Tx::Pg(tx) => affected(q.build::<Postgres>().build(), &mut **tx, PG_COUNT).await,
            Tx::Sqlite(tx) => affected(q.build::<Sqlite>().build(), &mut **tx, LITE_COUNT).await,
        }
    }

    pub async fn fetch_all(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>, StoreError> {
        match self {
            Tx::Pg(tx) => rows(fixed::<Postgres>(sql, args), &mut **tx, Row::Pg).await,
            Tx::Sqlite(tx) => rows(fixed::<Sqlite>(sql, args), &mut **tx, Row::Lite).await,
        }
    }

    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        args: &[Val],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    /// Inserts many rows with multi-row `VALUES` statements (`head` is `INSERT INTO t (…)`);
    /// one statement per chunk instead of one per row is what keeps rebuilds fast.
    pub async fn insert_rows(&mut self, head: &str, rows: &[Vec<Val>]) -> Result<u64, StoreError> {
        self.insert_rows_then(head, rows, "").await
    }

    /// [`Tx::insert_rows`] with a clause after `VALUES (…)` (e.g. `ON CONFLICT … DO UPDATE`).
    pub async fn insert_rows_then(
        &mut self,
        head: &str,
        rows: &[Vec<Val>],
        tail: &str,
    ) -> Result<u64, StoreError> {
        let Some(width) = rows.first().map(Vec::len) else {
            return Ok(0);
        };
        let mut affected = 0;
        for chunk in rows.chunks(rows_per_statement(width)) {
            let mut q = Query::new(head);
            q.push(" ").values(chunk.to_vec()).push(tail);
            affected += self.run(&q).await?;
        }
        Ok(affected)
    }

    /// `DELETE FROM {table} WHERE {column} IN (…)` for many keys, in chunks.
    pub async fn delete_in(
        &mut self,
        table: &str,
        column: &str,
        keys: &[Val],
    ) -> Result<u64, StoreError> {
        let mut affected = 0;
        for chunk in keys.chunks(500) {
            let mut q = Query::new(&format!("DELETE FROM {table} WHERE {column} IN ("));
            for (i, k) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(",");
                }
                q.bind(k.clone());
            }
            q.push(")");
            affected += self.run(&q).await?;
        }
        Ok(affected)
    }
}

/// The rows of a statement, as [`Row`]s, on a pool or in a transaction.
async fn rows<'q, 'c, DB, E>(
    q: sqlx::query::Query<'q, DB, DB::Arguments>,
    executor: E,
    wrap: fn(DB::Row) -> Row,
) -> Result<Vec<Row>, StoreError>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    E: sqlx::Executor<'c, Database = DB>,
    'q: 'c,
{
    Ok(q.fetch_all(executor).await?.into_iter().map(wrap).collect())
}

const PG_COUNT: fn(&sqlx::postgres::PgQueryResult) -> u64 =
    sqlx::postgres::PgQueryResult::rows_affected;
const LITE_COUNT: fn(&sqlx::sqlite::SqliteQueryResult) -> u64 =
    sqlx::sqlite::SqliteQueryResult::rows_affected;

/// The rows a statement changed, on a pool or in a transaction.
async fn affected<'q, 'c, DB, E>(
    q: sqlx::query::Query<'q, DB, DB::Arguments>,
    executor: E,
    count: fn(&DB::QueryResult) -> u64,
) -> Result<u64, StoreError>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    E: sqlx::Executor<'c, Database = DB>,
    'q: 'c,
{
    Ok(count(&q.execute(executor).await?))
}

/// Statements on the pool, outside any transaction.
impl Database {
    /// Executes one fixed statement; returns the rows affected.
    pub async fn exec(&self, sql: &str, args: &[Val]) -> Result<u64, StoreError> {
        match self {
            Database::Postgres(pool) => {
                affected(fixed::<Postgres>(sql, args), pool, PG_COUNT).await
            }
            Database::Sqlite(pool) => affected(fixed::<Sqlite>(sql, args), pool, LITE_COUNT).await,
        }
    }

    pub async fn fetch_all(&self, sql: &str, args: &[Val]) -> Result<Vec<Row>, StoreError> {
        match self {
            Database::Postgres(pool) => rows(fixed::<Postgres>(sql, args), pool, Row::Pg).await,
            Database::Sqlite(pool) => rows(fixed::<Sqlite>(sql, args), pool, Row::Lite).await,
        }
    }

    pub async fn fetch_optional(&self, sql: &str, args: &[Val]) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    /// The one row a statement returns (an aggregate, a checkpoint that must exist).
    pub async fn fetch_one(&self, sql: &str, args: &[Val]) -> Result<Row, StoreError> {
        self.fetch_optional(sql, args)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("no row returned by {sql}")))
    }

    /// Runs a built statement and returns its rows.
    pub async fn query(&self, q: &Query) -> Result<Vec<Row>, StoreError> {
        match self {
            Database::Postgres(pool) => rows(q.build::<Postgres>().build(), pool, Row::Pg).await,
            Database::Sqlite(pool) => rows(q.build::<Sqlite>().build(), pool, Row::Lite).await,
        }
    }
}

/// A row from either backend.
pub enum Row {
    Pg(PgRow),
    Lite(SqliteRow),
}

fn corrupt(col: &str, what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {value:?} is not {what}"))
}

fn required<T>(col: &str, v: Option<T>) -> Result<T, StoreError> {
    v.ok_or_else(|| StoreError::Corrupt(format!("column {col} is NULL")))
}

impl Row {
    pub fn text(&self, col: &str) -> Result<String, StoreError> {
        required(col, self.opt_text(col)?)
    }

    pub fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        Ok(match self {
            Row::Pg(r) => r.try_get(col)?,
            Row::Lite(r) => r.try_get(col)?,
        })
    }

    /// An integer column; NULL is corrupt (aggregates that may be NULL: [`Row::opt_i64`]).
    pub fn i64(&self, col: &str) -> Result<i64, StoreError> {
        required(col, self.opt_i64(col)?)
    }

    pub fn opt_i64(&self, col: &str) -> Result<Option<i64>, StoreError> {
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

    /// A small unsigned number (a phase, a count stored as BIGINT).
    pub fn u8(&self, col: &str) -> Result<u8, StoreError> {
        let v = self.i64(col)?;
        u8::try_from(v).map_err(|_| corrupt(col, "a number from 0 to 255", &v.to_string()))
    }

    pub fn bool(&self, col: &str) -> Result<bool, StoreError> {
        Ok(match self {
            Row::Pg(r) => r.try_get(col)?,
            Row::Lite(r) => r.try_get::<i64, _>(col)? != 0,
        })
    }

    pub fn uuid(&self, col: &str) -> Result<Uuid, StoreError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(_) => self.uuid_text(col),
        }
    }

    pub fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, StoreError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(_) => self
                .opt_text(col)?
                .map(|s| Uuid::parse_str(&s).map_err(|_| corrupt(col, "a UUID", &s)))
                .transpose(),
        }
    }

    /// A UUID kept in a TEXT column (on both backends).
    pub fn uuid_text(&self, col: &str) -> Result<Uuid, StoreError> {
        let s = self.text(col)?;
        Uuid::parse_str(&s).map_err(|_| corrupt(col, "a UUID", &s))
    }

    pub fn instant(&self, col: &str) -> Result<DateTime<Utc>, StoreError> {
        required(col, self.opt_instant(col)?)
    }

    pub fn opt_instant(&self, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(_) => self
                .opt_text(col)?
                .map(|s| parse_instant(&s).ok_or_else(|| corrupt(col, "an RFC 3339 instant", &s)))
                .transpose(),
        }
    }

    pub fn date(&self, col: &str) -> Result<NaiveDate, StoreError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(_) => {
                let s = self.text(col)?;
                NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| corrupt(col, "a date", &s))
            }
        }
    }

    pub fn json(&self, col: &str) -> Result<serde_json::Value, StoreError> {
        match self {
            Row::Pg(r) => Ok(r.try_get(col)?),
            Row::Lite(r) => {
                let s: String = r.try_get(col)?;
                serde_json::from_str(&s).map_err(|_| corrupt(col, "JSON", &s))
            }
        }
    }

    pub fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
        Ok(match self {
            Row::Pg(r) => r.try_get(col)?,
            Row::Lite(r) => r.try_get(col)?,
        })
    }
}
