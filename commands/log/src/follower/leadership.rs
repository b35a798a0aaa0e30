//! Leadership over followers on PostgreSQL: one session advisory lock per follower, so that
//! several `diario serve` processes on one database apply each follower's batches from one of
//! them only. Correctness does not rest on it (the checkpoint's compare-and-set does).

use serde::Serialize;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::db::Database;
use crate::store::StoreError;

/// The advisory-lock key of a follower: a stable 64-bit FNV-1a hash of
/// `"diario-projection:" + name`.
pub fn leadership_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "diario-projection:".bytes().chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Who leads a follower (PostgreSQL), for `/readyz` and operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderInfo {
    /// Follower name.
    pub follower: String,
    /// Whether some session holds the follower's advisory lock (always true on SQLite,
    /// where the single process leads).
    pub led: bool,
    /// Backend pid of the leading session (PostgreSQL).
    pub pid: Option<i32>,
    /// The leading `diario` process, as [`instance_name`] names it (`host:pid`): on PostgreSQL
    /// the `application_name` of its leadership session; on SQLite this process.
    pub instance: Option<String>,
}

/// This process's name for operators: `host:pid` (the host from the kernel, as `hostname`
/// prints it).
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// The `application_name` prefix of a leadership session.
const SESSION_PREFIX: &str = "diario ";

/// Which of the named followers currently have a leader.
pub async fn leaders(db: &Database, names: &[&str]) -> Result<Vec<LeaderInfo>, StoreError> {
    let mut out = Vec::new();
    for name in names.iter().copied() {
        let info = match db {
            Database::Sqlite(_) => LeaderInfo {
                follower: name.to_owned(),
                led: true,
                pid: None,
                instance: Some(instance_name()),
            },
            Database::Postgres(_) => {
                let key = leadership_key(name);
                let row = db.fetch_all(
                    "SELECT l.pid, a.application_name FROM pg_locks l \
                     LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'advisory' AND l.granted \
                     AND l.objsubid = 1 AND l.classid::text::bigint = $1 \
                     AND l.objid::text::bigint = $2 \
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    &[((key >> 32) & 0xffff_ffff).into(), (key & 0xffff_ffff).into()],
                )
                .await?
                .into_iter()
                .next();
                let (pid, instance) = match row {
                    Some(r) => (
                        r.opt_i64("pid")?.and_then(|p| i32::try_from(p).ok()),
                        r.opt_text("application_name")?
                            .and_then(|a| a.strip_prefix(SESSION_PREFIX).map(str::to_owned)),
                    ),
                    None => (None, None),
                };
                LeaderInfo {
                    follower: name.to_owned(),
                    led: pid.is_some(),
                    pid,
                    instance,
                }
            }
        };
        out.push(info);
    }
    Ok(out)
}

/// Leadership over followers. On PostgreSQL, a dedicated connection (outside the pool)
/// holds one session advisory lock per follower it leads; when the process dies the server
/// closes the session and the locks go to the next runner that asks. On SQLite there is a
/// single process: every follower is led.
pub(super) struct Leadership {
    conn: Option<PgConnection>,
    led: Vec<&'static str>,
}

impl Leadership {
    pub(super) fn new() -> Self {
        Leadership {
            conn: None,
            led: Vec::new(),
        }
    }

    pub(super) async fn refresh(
        &mut self,
        db: &Database,
        names: &[&'static str],
    ) -> Vec<&'static str> {
        let Database::Postgres(pool) = db else {
            return names.to_vec();
        };
        if self.conn.is_none() {
            self.led.clear();
            let options = pool
                .connect_options()
                .as_ref()
                .clone()
                .application_name(&format!("{SESSION_PREFIX}{}", instance_name()));
            match PgConnection::connect_with(&options).await {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "follower leadership: cannot connect");
                    return Vec::new();
                }
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return Vec::new();
        };
        for name in names {
            if self.led.contains(name) {
                continue;
            }
            let got: Result<bool, _> = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(leadership_key(name))
                .fetch_one(&mut *conn)
                .await;
            match got {
                Ok(true) => {
                    tracing::info!(follower = name, "follower leadership taken");
                    self.led.push(name);
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "follower leadership connection lost");
                    self.conn = None;
                    self.led.clear();
                    return Vec::new();
                }
            }
        }
        // Still alive? (a dead session means the locks are gone)
        if !self.led.is_empty()
            && let Err(e) = sqlx::query("SELECT 1").execute(&mut *conn).await
        {
            tracing::warn!(error = %e, "follower leadership connection lost");
            self.conn = None;
            self.led.clear();
            return Vec::new();
        }
        self.led.clone()
    }

    pub(super) async fn release(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
        self.led.clear();
    }
}
