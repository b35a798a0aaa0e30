//! Read model 10: the territorial plans of seed 004 and the staff cost of their countersigned
//! timesheets, from the `plan-{id}` and `timesheet-{cf}-{YYYY-MM}` streams; and the plan's
//! report in the shape of the Allegato B1/B2 tables — per cost category (budget and actual),
//! per person and month — with the limits it breaks and the final report's state.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use diario_domain::Catalogue;
use diario_domain::plan::{Financing, PlanEvent, PlanFile, ReportStatus, evolve_plan};
use diario_domain::staff_cost::{PlanCosts, plan_totals, rules_of, volunteer_count};
use diario_domain::timesheet::TimesheetEvent;
use diario_domain::values::Cents;
use diario_log::{Database, FollowError, Follower, LogEvent, RecordedEvent, StreamId, Tx, Val};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;

/// Projection name.
pub const NAME: &str = "plans";

/// The tables of the projection.
pub const TABLES: [&str; 5] = [
    "rm_plans",
    "rm_plan_costs",
    "rm_plan_people",
    "rm_timesheet_rows",
    "rm_timesheet_signatures",
];

/// The "plans" projection.
pub struct Plans;

fn corrupt(e: impl std::fmt::Display) -> FollowError {
    FollowError::Corrupt(e.to_string())
}

fn financing_key(f: Financing) -> &'static str {
    match f {
        Financing::Contribution => "contribution",
        Financing::NetworkStaff => "network_staff",
        Financing::Volunteer => "volunteer",
    }
}

#[async_trait]
impl Follower for Plans {
    diario_log::follower_spec!(NAME, &TABLES);

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        for e in events {
            if e.stream_id.starts_with(StreamId::PLANS) {
                let event = PlanEvent::decode(e)?;
                let current = match &event {
                    PlanEvent::PlanOpened { .. } => None,
                    _ => {
                        let row = tx
                            .fetch_optional(
                                "SELECT plan FROM rm_plans WHERE plan_id = $1",
                                &[Val::Text(Some(plan_of(&e.stream_id)?))],
                            )
                            .await?;
                        match row {
                            Some(r) => Some(
                                serde_json::from_str::<PlanFile>(&r.text("plan")?)
                                    .map_err(corrupt)?,
                            ),
                            None => return Err(corrupt("plan event before PlanOpened")),
                        }
                    }
                };
                let Some(plan) = evolve_plan(current, &event) else {
                    continue;
                };
                let json = serde_json::to_string(&plan).map_err(corrupt)?;
                tx.exec(
                    "INSERT INTO rm_plans (plan_id, measure_id, ats, title, plan) \
                     VALUES ($1,$2,$3,$4,$5) ON CONFLICT (plan_id) DO UPDATE SET plan = excluded.plan",
                    &[
                        Val::uuid_text(plan.plan_id),
                        plan.measure_id.as_str().into(),
                        plan.ats.clone().into(),
                        plan.title.clone().into(),
                        json.into(),
                    ],
                )
                .await?;
                let people = plan.people.keys().map(|p| (p, "person"));
                let signers = plan.countersigners.iter().map(|p| (p, "countersigner"));
                for (person, role) in people.chain(signers) {
                    tx.exec(
                        "INSERT INTO rm_plan_people (plan_id, person, role) VALUES ($1,$2,$3) \
                         ON CONFLICT (plan_id, person, role) DO NOTHING",
                        &[
                            Val::uuid_text(plan.plan_id),
                            person.as_str().into(),
                            role.into(),
                        ],
                    )
                    .await?;
                }
            } else if e.stream_id.starts_with(StreamId::TIMESHEETS)
                && e.event_type != "TimesheetCountersigned"
            {
                match TimesheetEvent::decode(e)? {
                    TimesheetEvent::DayRecorded {
                        person, month, row, ..
                    } => {
                        tx.exec(
                            "INSERT INTO rm_timesheet_rows (row_id, person, month, plan_id, \
                             minutes, withdrawn) VALUES ($1,$2,$3,$4,$5,0)",
                            &[
                                Val::uuid_text(row.row_id),
                                person.as_str().into(),
                                month.key().into(),
                                Val::uuid_text(row.plan_id),
                                i64::from(row.minutes).into(),
                            ],
                        )
                        .await?;
                    }
                    TimesheetEvent::RowWithdrawn { row_id, .. } => {
                        tx.exec(
                            "UPDATE rm_timesheet_rows SET withdrawn = 1 WHERE row_id = $1",
                            &[Val::uuid_text(row_id)],
                        )
                        .await?;
                    }
                    TimesheetEvent::TimesheetSigned { person, month, at } => {
                        tx.exec(
                            "INSERT INTO rm_timesheet_signatures (person, month, signed_at) \
                             VALUES ($1,$2,$3)",
                            &[
                                person.as_str().into(),
                                month.key().into(),
                                Val::instant_text(at),
                            ],
                        )
                        .await?;
                    }
                    TimesheetEvent::TimesheetCountersigned { .. } => {}
                }
            } else if e.stream_id.starts_with(StreamId::TIMESHEETS) {
                let TimesheetEvent::TimesheetCountersigned {
                    person,
                    month,
                    plan_id,
                    by,
                    organisation,
                    financing,
                    cost_record,
                    rate,
                    lines,
                    at,
                } = TimesheetEvent::decode(e)?
                else {
                    continue;
                };
                let rate_json = serde_json::to_string(&rate).map_err(corrupt)?;
                let rows: Vec<Vec<Val>> = lines
                    .iter()
                    .map(|l| {
                        vec![
                            Val::uuid_text(plan_id),
                            person.as_str().into(),
                            month.key().into(),
                            l.action.clone().into(),
                            organisation.clone().into(),
                            financing_key(financing).into(),
                            i64::from(l.minutes).into(),
                            rate.cents.0.into(),
                            l.amount.0.into(),
                            Val::Text(cost_record.map(|r| r.to_string())),
                            rate_json.clone().into(),
                            by.as_str().into(),
                            Val::instant_text(at),
                        ]
                    })
                    .collect();
                tx.insert_rows(
                    "INSERT INTO rm_plan_costs (plan_id, person, month, action, organisation, \
                     financing, minutes, rate_cents, amount_cents, cost_record, rate, \
                     countersigned_by, countersigned_at)",
                    &rows,
                )
                .await?;
            }
        }
        Ok(())
    }
}

fn plan_of(stream_id: &str) -> Result<String, FollowError> {
    stream_id
        .strip_prefix(StreamId::PLANS)
        .and_then(|id| Uuid::parse_str(id).ok())
        .map(|id| id.to_string())
        .ok_or_else(|| corrupt(format!("plan stream id {stream_id}")))
}

/// A plan as read.
pub async fn plan(db: &Database, plan_id: Uuid) -> Result<Option<PlanFile>, ProjectionError> {
    let row = db
        .fetch_optional(
            "SELECT plan FROM rm_plans WHERE plan_id = $1",
            &[Val::uuid_text(plan_id)],
        )
        .await?;
    row.map(|r| {
        serde_json::from_str(&r.text("plan")?)
            .map_err(|e| ProjectionError::Corrupt(format!("rm_plans.plan: {e}")))
    })
    .transpose()
}

/// One line of the report: a person's month on one action, at the recorded rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanCostLine {
    pub person: String,
    pub organisation: String,
    /// `contribution` (A), `network_staff` (D) or `volunteer` (E).
    pub financing: String,
    /// `YYYY-MM`.
    pub month: String,
    pub action: String,
    pub minutes: i64,
    /// €/h in cents, as the countersignature recorded it.
    pub rate_cents: i64,
    pub amount_cents: i64,
    /// The cost record that priced it (none for a volunteer).
    pub cost_record: Option<String>,
    pub countersigned_by: String,
}

/// One category of the Allegato B1: budget and actual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryLine {
    /// `A`, `B`, `C`, `D`, `E`, `F`, `G`, `H`.
    pub key: String,
    pub name: String,
    pub budget_cents: i64,
    /// What the report counts: from the countersigned timesheets for A, D, E; the budget for
    /// B and F (not recorded by this service); the sums for C, G, H.
    pub actual_cents: i64,
}

/// The supporting documents of a plan's report: one per person and month countersigned, with
/// the amount it supports (the population of the ATS's control sample).
pub async fn plan_documents(
    db: &Database,
    plan_id: Uuid,
) -> Result<Vec<diario_domain::plan::PlanDocument>, ProjectionError> {
    let rows = db
        .fetch_all(
            "SELECT person, month, organisation, CAST(SUM(amount_cents) AS BIGINT) AS amount FROM rm_plan_costs \
             WHERE plan_id = $1 GROUP BY person, month, organisation ORDER BY person, month",
            &[Val::uuid_text(plan_id)],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let person = diario_domain::FiscalCode::parse(&r.text("person")?)
                .map_err(|e| ProjectionError::Corrupt(format!("rm_plan_costs.person: {e}")))?;
            let month = r.text("month")?;
            Ok(diario_domain::plan::PlanDocument {
                document_id: diario_domain::plan::document_id(plan_id, &person, &month),
                person,
                month,
                organisation: r.text("organisation")?,
                amount: Cents(r.i64("amount")?),
            })
        })
        .collect()
}

/// A control sample in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SampleSummary {
    pub seed: String,
    pub expenditure_pct: u32,
    pub population: usize,
    pub population_cents: i64,
    /// The documents drawn: (person, month, amount in cents).
    pub selected: Vec<(String, String, i64)>,
    pub selected_cents: i64,
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The controls of a plan's report (Allegato B §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanControls {
    /// Supporting documents (countersigned person-months).
    pub documents: usize,
    /// The measure's threshold: past it the ATS checks a sample.
    pub when_documents_over: Option<u32>,
    /// The share of spending the sample covers, at least.
    pub min_spending_percent: Option<u32>,
    /// Whether the ATS checks every document (at most the threshold) or a sample.
    pub sample_required: bool,
    pub samples: Vec<SampleSummary>,
}

/// The report of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanReport {
    pub plan_id: Uuid,
    pub title: String,
    pub ats: String,
    pub lead: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The last day of the final report (60 days after the end).
    pub report_due: NaiveDate,
    /// `running`, `due`, `due_soon`, `overdue` or `filed`, as of `as_of`.
    pub report_status: String,
    pub as_of: NaiveDate,
    pub categories: Vec<CategoryLine>,
    /// Volunteer work valued beyond the co-financing: not counted.
    pub volunteers_over_limit_cents: i64,
    /// G / H of the actuals, in basis points.
    pub cofinancing_bp: u32,
    /// The Allegato B limits the actuals break: (code, Italian sentence).
    pub flags: Vec<(String, String)>,
    pub lines: Vec<PlanCostLine>,
    pub controls: PlanControls,
}

/// The report of a plan as of `as_of`, or `None` for an unknown plan.
pub async fn plan_report(
    db: &Database,
    catalogue: &Catalogue,
    plan_id: Uuid,
    as_of: NaiveDate,
) -> Result<Option<PlanReport>, ProjectionError> {
    let Some(plan) = plan(db, plan_id).await? else {
        return Ok(None);
    };
    let measure = catalogue
        .get(&plan.measure_id)
        .ok_or_else(|| ProjectionError::Corrupt(format!("measure {}", plan.measure_id)))?;
    let rules = rules_of(measure).map_err(|e| ProjectionError::Corrupt(e.to_string()))?;
    let rows = db
        .fetch_all(
            "SELECT person, organisation, financing, month, action, minutes, rate_cents, \
             amount_cents, cost_record, countersigned_by FROM rm_plan_costs WHERE plan_id = $1 \
             ORDER BY person, month, action",
            &[Val::uuid_text(plan_id)],
        )
        .await?;
    let mut lines = Vec::new();
    let mut by_financing: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        let line = PlanCostLine {
            person: r.text("person")?,
            organisation: r.text("organisation")?,
            financing: r.text("financing")?,
            month: r.text("month")?,
            action: r.text("action")?,
            minutes: r.i64("minutes")?,
            rate_cents: r.i64("rate_cents")?,
            amount_cents: r.i64("amount_cents")?,
            cost_record: r.opt_text("cost_record")?,
            countersigned_by: r.text("countersigned_by")?,
        };
        *by_financing.entry(line.financing.clone()).or_default() += line.amount_cents;
        lines.push(line);
    }
    let b = plan.budget;
    let staff = Cents(by_financing.get("contribution").copied().unwrap_or(0));
    let network = Cents(by_financing.get("network_staff").copied().unwrap_or(0));
    // «nel limite massimo del valore del cofinanziamento»: the plan's co-financing less the
    // other co-financing (D actual, F as budgeted).
    let budget_g = b.network_staff.plus(b.volunteers).plus(b.cash);
    let room = Cents(budget_g.0 - network.0 - b.cash.0);
    // The volunteers' lines as countersigned, counted up to the room.
    let volunteers = volunteer_count(
        Cents(by_financing.get("volunteer").copied().unwrap_or(0)),
        room,
    );
    let counted = volunteers.counted;
    let actual = PlanCosts {
        staff,
        other: b.other,
        equipment: b.equipment,
        network_staff: network,
        volunteers: counted,
        cash: b.cash,
    };
    let totals = plan_totals(rules, &actual);
    let budget_totals = plan_totals(rules, &b);
    let cat = |key: &str, name: &str, budget: Cents, actual: Cents| CategoryLine {
        key: key.to_owned(),
        name: name.to_owned(),
        budget_cents: budget.0,
        actual_cents: actual.0,
    };
    let categories = vec![
        cat(
            "A",
            "Costi del personale interno ed esterno",
            b.staff,
            staff,
        ),
        cat(
            "B",
            "Altri costi (diretti diversi dal personale e indiretti)",
            b.other,
            b.other,
        ),
        cat(
            "C",
            "Totale contributo pubblico",
            budget_totals.public,
            totals.public,
        ),
        cat(
            "D",
            "Valorizzazione di personale già dipendente degli enti della rete",
            b.network_staff,
            network,
        ),
        cat(
            "E",
            "Valorizzazione del lavoro volontario",
            b.volunteers,
            counted,
        ),
        cat("F", "Quota economica", b.cash, b.cash),
        cat(
            "G",
            "Totale cofinanziamento",
            budget_totals.cofinancing,
            totals.cofinancing,
        ),
        cat("H", "Totale costo piano", budget_totals.total, totals.total),
    ];
    let flags = totals
        .flags
        .iter()
        .map(|f| {
            let code = serde_json::to_value(f)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str().map(str::to_owned)))
                .unwrap_or_default();
            (code, f.message())
        })
        .collect();
    let status = match diario_domain::plan::report_status(&plan, as_of) {
        ReportStatus::Running => "running",
        ReportStatus::Due => "due",
        ReportStatus::DueSoon => "due_soon",
        ReportStatus::Overdue => "overdue",
        ReportStatus::Filed => "filed",
    };
    let documents: std::collections::BTreeSet<(&str, &str)> = lines
        .iter()
        .map(|l| (l.person.as_str(), l.month.as_str()))
        .collect();
    let sampling = measure
        .cost_rules
        .as_ref()
        .and_then(|r| r.sampling.as_ref());
    let controls = PlanControls {
        documents: documents.len(),
        when_documents_over: sampling.map(|r| r.when_documents_over),
        min_spending_percent: sampling.map(|r| r.min_spending_percent),
        sample_required: diario_domain::plan::control_thresholds(measure, documents.len())
            .expenditure_pct
            < 100,
        samples: plan
            .samples
            .iter()
            .map(|s| {
                let selected: Vec<(String, String, i64)> = s
                    .documents
                    .iter()
                    .filter(|d| s.selected.contains(&d.document_id))
                    .map(|d| (d.person.as_str().to_owned(), d.month.clone(), d.amount.0))
                    .collect();
                SampleSummary {
                    seed: s.seed.clone(),
                    expenditure_pct: s.thresholds.expenditure_pct,
                    population: s.documents.len(),
                    population_cents: s.documents.iter().map(|d| d.amount.0).sum(),
                    selected_cents: selected.iter().map(|x| x.2).sum(),
                    selected,
                    by: s.by.as_str().to_owned(),
                    at: s.at,
                }
            })
            .collect(),
    };
    Ok(Some(PlanReport {
        controls,
        plan_id,
        title: plan.title.clone(),
        ats: plan.ats.clone(),
        lead: plan.lead.clone(),
        start: plan.start,
        end: plan.end,
        report_due: plan.report_due(),
        report_status: status.to_owned(),
        as_of,
        categories,
        volunteers_over_limit_cents: volunteers.over_limit.0,
        cofinancing_bp: totals.cofinancing_bp,
        flags,
        lines,
    }))
}

/// A plan in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanListed {
    pub plan_id: Uuid,
    pub title: String,
    pub ats: String,
}

/// The plans a person may open from the menu: those of `ats_codes` (their ATS) and those they
/// work on or countersign.
pub async fn plans_for(
    db: &Database,
    person: &str,
    ats_codes: &[String],
) -> Result<Vec<PlanListed>, ProjectionError> {
    let rows = db
        .fetch_all(
            "SELECT plan_id, title, ats, plan FROM rm_plans ORDER BY title, plan_id",
            &[],
        )
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let plan: PlanFile = serde_json::from_str(&r.text("plan")?)
            .map_err(|e| ProjectionError::Corrupt(format!("rm_plans.plan: {e}")))?;
        let mine = ats_codes.contains(&plan.ats)
            || plan.people.keys().any(|p| p.as_str() == person)
            || plan.countersigners.iter().any(|p| p.as_str() == person);
        if mine {
            out.push(PlanListed {
                plan_id: r.uuid_text("plan_id")?,
                title: r.text("title")?,
                ats: r.text("ats")?,
            });
        }
    }
    Ok(out)
}

/// The plans `person` works on.
pub async fn plans_of_person(
    db: &Database,
    person: &str,
) -> Result<Vec<PlanFile>, ProjectionError> {
    let rows = db
        .fetch_all(
            "SELECT p.plan FROM rm_plans p JOIN rm_plan_people pp ON pp.plan_id = p.plan_id \
             WHERE pp.person = $1 AND pp.role = 'person' ORDER BY p.title, p.plan_id",
            &[person.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.text("plan")?)
                .map_err(|e| ProjectionError::Corrupt(format!("rm_plans.plan: {e}")))
        })
        .collect()
}

/// One person's month on a plan, as the plan's page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanMonth {
    pub person: String,
    pub month: String,
    /// Minutes recorded on this plan (live rows).
    pub minutes: i64,
    pub signed: bool,
    pub countersigned: bool,
}

/// The months of a plan's people that have rows, with their signatures.
pub async fn plan_months(db: &Database, plan_id: Uuid) -> Result<Vec<PlanMonth>, ProjectionError> {
    let id = Val::uuid_text(plan_id);
    let rows = db
        .fetch_all(
            "SELECT r.person, r.month, CAST(SUM(r.minutes) AS BIGINT) AS minutes, \
             MAX(CASE WHEN s.signed_at IS NULL THEN 0 ELSE 1 END) AS signed \
             FROM rm_timesheet_rows r LEFT JOIN rm_timesheet_signatures s \
             ON s.person = r.person AND s.month = r.month \
             WHERE r.plan_id = $1 AND r.withdrawn = 0 GROUP BY r.person, r.month \
             ORDER BY r.month, r.person",
            std::slice::from_ref(&id),
        )
        .await?;
    let countersigned: std::collections::BTreeSet<(String, String)> = db
        .fetch_all(
            "SELECT DISTINCT person, month FROM rm_plan_costs WHERE plan_id = $1",
            &[id],
        )
        .await?
        .iter()
        .map(|r| Ok((r.text("person")?, r.text("month")?)))
        .collect::<Result<_, ProjectionError>>()?;
    rows.iter()
        .map(|r| {
            let (person, month) = (r.text("person")?, r.text("month")?);
            Ok(PlanMonth {
                countersigned: countersigned.contains(&(person.clone(), month.clone())),
                minutes: r.i64("minutes")?,
                signed: r.i64("signed")? == 1,
                person,
                month,
            })
        })
        .collect()
}

/// The roles `person` holds on plans (`person`, `countersigner`), for the menu.
pub async fn plan_roles(db: &Database, person: &str) -> Result<Vec<String>, ProjectionError> {
    db.fetch_all(
        "SELECT DISTINCT role FROM rm_plan_people WHERE person = $1 ORDER BY role",
        &[person.into()],
    )
    .await?
    .iter()
    .map(|r| Ok(r.text("role")?))
    .collect()
}
