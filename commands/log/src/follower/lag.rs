//! How far followers are behind the log (for `/metrics` and `/readyz`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Checkpoint, checkpoint};
use crate::db::Database;
use crate::sql::Val;
use crate::store::{GlobalPosition, StoreError};

/// How far a follower is behind the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowerLag {
    /// Follower name.
    pub follower: String,
    /// Its checkpoint.
    pub checkpoint: GlobalPosition,
    /// Events stored after the checkpoint (including those of transactions still in flight
    /// on PostgreSQL, which `read_all` does not hand out yet).
    pub events_behind: i64,
    /// Seconds since the oldest unapplied event was recorded (0 when caught up).
    pub seconds_behind: f64,
    /// `recorded_at` of the oldest unapplied event.
    pub oldest_unapplied_recorded_at: Option<DateTime<Utc>>,
}

/// Events stored after a checkpoint, and the `recorded_at` of the oldest of them.
pub(super) async fn events_behind(
    db: &Database,
    cp: &Checkpoint,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let row = if db.is_postgres() {
        db.fetch_one(
            "SELECT count(*) AS n, min(recorded_at) AS oldest FROM events \
             WHERE (transaction_id, position) > ($1::text::xid8, $2)",
            &[
                cp.position.transaction.to_string().into(),
                cp.position.position.into(),
            ],
        )
        .await?
    } else {
        // SQLite writes one transaction at a time: positions alone order the log.
        db.fetch_one(
            "SELECT count(*) AS n, min(recorded_at) AS oldest FROM events WHERE position > $1",
            &[Val::from(cp.position.position)],
        )
        .await?
    };
    Ok((row.i64("n")?, row.opt_instant("oldest")?))
}

/// The lag of the named followers measured at `now`.
pub async fn lag_at(
    db: &Database,
    names: &[&str],
    now: DateTime<Utc>,
) -> Result<Vec<FollowerLag>, StoreError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let cp = checkpoint(db, name).await?;
        let (behind, oldest) = events_behind(db, &cp).await?;
        let seconds = oldest
            .map(|t| ((now - t).num_milliseconds().max(0) as f64) / 1000.0)
            .unwrap_or(0.0);
        out.push(FollowerLag {
            follower: (*name).to_owned(),
            checkpoint: cp.position,
            events_behind: behind,
            seconds_behind: seconds,
            oldest_unapplied_recorded_at: oldest,
        });
    }
    Ok(out)
}

/// One Prometheus gauge in the text format: its `# HELP` and `# TYPE` lines and one sample per
/// follower, labelled `projection="<name>"`.
pub fn gauge<'a, V: std::fmt::Display>(
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (&'a str, V)>,
) -> String {
    let mut s = format!("# HELP {name} {help}\n# TYPE {name} gauge\n");
    for (follower, value) in samples {
        s.push_str(&format!("{name}{{projection=\"{follower}\"}} {value}\n"));
    }
    s
}

/// Prometheus text lines for the lag (`diario_projection_lag_events`,
/// `diario_projection_lag_seconds`, one series per follower), ready to append to `/metrics`.
pub fn lag_metrics(lags: &[FollowerLag]) -> String {
    let events = lags.iter().map(|l| (l.follower.as_str(), l.events_behind));
    let seconds = lags.iter().map(|l| (l.follower.as_str(), l.seconds_behind));
    gauge(
        "diario_projection_lag_events",
        "Events stored after the follower's checkpoint.",
        events,
    ) + &gauge(
        "diario_projection_lag_seconds",
        "Age of the oldest event not yet applied.",
        seconds,
    )
}
