//! The population of a sample for controls (`docs/sampling.md`): every case of the scope with
//! a confirmed cost above zero, read from `rm_cases` together with the `case_diaries`
//! checkpoint in one transaction, so the population is exactly the log up to that position.

use diario_domain::sampling::{LogPosition, Operation};
use diario_log::{Database, Tx};

use crate::ProjectionError;

/// The read model the population comes from.
pub const POPULATION_SOURCE: &str = "case_diaries";

/// The operations of `ats` (every ATS when `None`) and the log position they reflect.
pub async fn sample_population(
    db: &Database,
    ats: Option<&str>,
) -> Result<(Vec<Operation>, LogPosition), ProjectionError> {
    let mut tx = Tx::begin(db).await?;
    if tx.is_postgres() {
        // One snapshot for the checkpoint and the rows (SQLite's transaction is one already).
        tx.exec(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY",
            &[],
        )
        .await?;
    }
    let checkpoint = tx
        .fetch_optional(
            "SELECT transaction_id, position FROM projection_checkpoints WHERE projection = $1",
            &[POPULATION_SOURCE.into()],
        )
        .await?;
    let position = match checkpoint {
        Some(r) => LogPosition {
            transaction: u64::try_from(r.i64("transaction_id")?).unwrap_or(0),
            position: r.i64("position")?,
        },
        None => LogPosition {
            transaction: 0,
            position: 0,
        },
    };
    let rows = match ats {
        Some(ats) => {
            tx.fetch_all(
                "SELECT case_id, ats, provider, confirmed_cost_cents FROM rm_cases \
                 WHERE confirmed_cost_cents > 0 AND ats = $1 ORDER BY case_id",
                &[ats.into()],
            )
            .await?
        }
        None => {
            tx.fetch_all(
                "SELECT case_id, ats, provider, confirmed_cost_cents FROM rm_cases \
                 WHERE confirmed_cost_cents > 0 ORDER BY case_id",
                &[],
            )
            .await?
        }
    };
    tx.rollback().await?;
    let population = rows
        .iter()
        .map(|r| {
            Ok(Operation {
                case_id: r.uuid("case_id")?,
                ats: r.text("ats")?,
                provider: r.text("provider")?,
                expenditure_cents: r.i64("confirmed_cost_cents")?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    Ok((population, position))
}

/// The plans of `ats` (every ATS when `None`) with a countersigned staff cost, as operations
/// (`case_id` the plan, `provider` its lead partner, the expenditure its countersigned lines),
/// and the `plans` checkpoint they reflect: the population of the Region's sample over plans
/// (seed 004).
pub async fn plan_sample_population(
    db: &Database,
    ats: Option<&str>,
) -> Result<(Vec<Operation>, LogPosition), ProjectionError> {
    let mut tx = Tx::begin(db).await?;
    if tx.is_postgres() {
        tx.exec(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY",
            &[],
        )
        .await?;
    }
    let checkpoint = tx
        .fetch_optional(
            "SELECT transaction_id, position FROM projection_checkpoints WHERE projection = $1",
            &[crate::plans::NAME.into()],
        )
        .await?;
    let position = match checkpoint {
        Some(r) => LogPosition {
            transaction: u64::try_from(r.i64("transaction_id")?).unwrap_or(0),
            position: r.i64("position")?,
        },
        None => LogPosition {
            transaction: 0,
            position: 0,
        },
    };
    let rows = tx
        .fetch_all(
            "SELECT p.plan_id, p.ats, p.plan, CAST(SUM(c.amount_cents) AS BIGINT) AS amount \
             FROM rm_plans p JOIN rm_plan_costs c ON c.plan_id = p.plan_id \
             GROUP BY p.plan_id, p.ats, p.plan ORDER BY p.plan_id",
            &[],
        )
        .await?;
    tx.rollback().await?;
    let mut population = Vec::new();
    for r in rows {
        let plan_ats = r.text("ats")?;
        if ats.is_some_and(|a| a != plan_ats) {
            continue;
        }
        let plan: diario_domain::plan::PlanFile = serde_json::from_str(&r.text("plan")?)
            .map_err(|e| ProjectionError::Corrupt(format!("rm_plans.plan: {e}")))?;
        let amount = r.i64("amount")?;
        if amount > 0 {
            population.push(Operation {
                case_id: plan.plan_id,
                ats: plan_ats,
                provider: plan.lead,
                expenditure_cents: amount,
            });
        }
    }
    Ok((population, position))
}
