//! "My work": the cases that name a person (`rm_case_people`), each with what waits for them
//! (`GET /v1/me/cases`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diario_domain::{Catalogue, Ente, MeasureId};
use diario_log::Database;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;
use crate::queries::CaseSummary;

/// A case without a live entry for this many days is idle (as on the ATS dashboard).
pub const IDLE_DAYS: i64 = 30;

/// One thing that waits for the person on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Waiting {
    /// `to-validate` (entries of my phases not validated yet), `to-send` (validated, not yet
    /// sent for confirmation), `rejected` (entries the confirmers rejected: to correct),
    /// `expired` (requests that expired: to send again), `awaiting-confirmation` (requests
    /// pending with the confirmers), `my-drafts` (my own entries not validated yet), `idle`
    /// (an open case without entries for [`IDLE_DAYS`] days).
    pub code: String,
    /// Phase (absent for `idle`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<u8>,
    /// How many entries or requests.
    pub count: i64,
    /// For `awaiting-confirmation`: the earliest deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
}

/// A case that names me, and as what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MyCase {
    #[serde(flatten)]
    pub case: CaseSummary,
    /// My roles on the case: `responsabile`, `case_manager`, `professional`, each with its
    /// ente (`asst`, `provider`).
    pub roles: Vec<MyRole>,
    /// What waits for me, most urgent first.
    pub waiting: Vec<Waiting>,
}

/// One role of mine on a case.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct MyRole {
    pub role: String,
    pub ente: String,
    /// The figures a professional is enabled for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<String>,
}

/// Requests of one case grouped by (phase, status): how many, the earliest deadline.
type RequestGroup = (u8, String, i64, Option<DateTime<Utc>>);

const ORDER: [&str; 7] = [
    "rejected",
    "expired",
    "to-validate",
    "to-send",
    "awaiting-confirmation",
    "my-drafts",
    "idle",
];

fn ente_of(s: &str) -> Option<Ente> {
    match s {
        "asst" => Some(Ente::Asst),
        "provider" => Some(Ente::Provider),
        _ => None,
    }
}

/// The cases where `person` is responsabile, case manager or enabled professional, by most
/// recent activity, with what waits for them as of `now`.
pub async fn my_cases(
    db: &Database,
    catalogue: &Catalogue,
    person: &str,
    now: DateTime<Utc>,
) -> Result<Vec<MyCase>, ProjectionError> {
    let mut roles: BTreeMap<Uuid, Vec<MyRole>> = BTreeMap::new();
    for r in db
        .fetch_all(
            "SELECT case_id, role, ente, figures FROM rm_case_people WHERE person = $1",
            &[person.into()],
        )
        .await?
    {
        roles.entry(r.uuid("case_id")?).or_default().push(MyRole {
            role: r.text("role")?,
            ente: r.text("ente")?,
            figures: serde_json::from_str(&r.text("figures")?)
                .map_err(|e| ProjectionError::Corrupt(format!("rm_case_people.figures: {e}")))?,
        });
    }
    let mut out = Vec::new();
    if roles.is_empty() {
        return Ok(out);
    }
    let mine = "SELECT case_id FROM rm_case_people WHERE person = $1";
    let mut cases: BTreeMap<Uuid, CaseSummary> = BTreeMap::new();
    for r in db
        .fetch_all(
            &format!("SELECT * FROM rm_cases WHERE case_id IN ({mine})"),
            &[person.into()],
        )
        .await?
    {
        let c: CaseSummary = r.decode()?;
        cases.insert(c.case_id, c);
    }
    // (case, phase, state, mine) → entries.
    let mut entries: BTreeMap<Uuid, Vec<(u8, String, bool, i64)>> = BTreeMap::new();
    for r in db
        .fetch_all(
            &format!(
                "SELECT case_id, phase, state, CASE WHEN professional = $1 THEN 1 ELSE 0 END \
                 AS mine, COUNT(*) AS n FROM rm_entries WHERE case_id IN ({mine}) \
                 AND state IN ('draft', 'validated', 'rejected') GROUP BY 1, 2, 3, 4"
            ),
            &[person.into()],
        )
        .await?
    {
        entries.entry(r.uuid("case_id")?).or_default().push((
            r.u8("phase")?,
            r.text("state")?,
            r.i64("mine")? == 1,
            r.i64("n")?,
        ));
    }
    let mut requests: BTreeMap<Uuid, Vec<RequestGroup>> = BTreeMap::new();
    for r in db
        .fetch_all(
            &format!(
                "SELECT case_id, phase, status, COUNT(*) AS n, MIN(deadline) AS deadline \
                 FROM rm_requests WHERE case_id IN ({mine}) AND status IN ('pending', 'expired') \
                 GROUP BY 1, 2, 3"
            ),
            &[person.into()],
        )
        .await?
    {
        requests.entry(r.uuid("case_id")?).or_default().push((
            r.u8("phase")?,
            r.text("status")?,
            r.i64("n")?,
            r.opt_instant("deadline")?,
        ));
    }
    for (case_id, mut my_roles) in roles {
        let Some(case) = cases.remove(&case_id) else {
            continue;
        };
        my_roles.sort();
        let measure = catalogue.get(&MeasureId::new(case.measure_id.as_str()));
        let responsible_for: BTreeSet<Ente> = my_roles
            .iter()
            .filter(|r| r.role == "responsabile")
            .filter_map(|r| ente_of(&r.ente))
            .collect();
        let my_phase = |phase: u8| {
            measure
                .and_then(|m| m.phases.iter().find(|p| p.phase.number() == phase))
                .is_some_and(|p| responsible_for.contains(&p.registered_by))
        };
        let mut waiting = Vec::new();
        let mut add = |code: &str, phase: Option<u8>, count: i64, deadline| {
            if count > 0 {
                waiting.push(Waiting {
                    code: code.to_owned(),
                    phase,
                    count,
                    deadline,
                });
            }
        };
        let mut by_key: BTreeMap<(&str, u8), i64> = BTreeMap::new();
        for (phase, state, is_mine, n) in entries.remove(&case_id).unwrap_or_default() {
            let code = match state.as_str() {
                "draft" => "to-validate",
                "validated" => "to-send",
                _ => "rejected",
            };
            if my_phase(phase) {
                *by_key.entry((code, phase)).or_default() += n;
            } else if is_mine && state == "draft" {
                *by_key.entry(("my-drafts", phase)).or_default() += n;
            } else if is_mine && state == "rejected" {
                *by_key.entry(("rejected", phase)).or_default() += n;
            }
        }
        for ((code, phase), n) in by_key {
            add(code, Some(phase), n, None);
        }
        for (phase, status, n, deadline) in requests.remove(&case_id).unwrap_or_default() {
            if my_phase(phase) {
                let code = if status == "expired" {
                    "expired"
                } else {
                    "awaiting-confirmation"
                };
                add(code, Some(phase), n, deadline);
            }
        }
        let last = case.last_entry_at.unwrap_or(case.opened_at);
        let open = case.status == crate::CaseStatus::Open;
        let idle = open && now - last > Duration::days(IDLE_DAYS);
        add("idle", None, i64::from(idle), None);
        // An interrupted or completed pathway asks nothing more of anyone.
        if !open {
            waiting.clear();
        }
        waiting.sort_by_key(|w| {
            (
                ORDER
                    .iter()
                    .position(|c| *c == w.code)
                    .unwrap_or(ORDER.len()),
                w.phase,
            )
        });
        out.push(MyCase {
            case,
            roles: my_roles,
            waiting,
        });
    }
    out.sort_by(|a, b| {
        let key = |c: &MyCase| c.case.last_entry_at.unwrap_or(c.case.opened_at);
        key(b)
            .cmp(&key(a))
            .then(a.case.case_id.cmp(&b.case.case_id))
    });
    Ok(out)
}

/// One of my entries, with its case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MyEntry {
    pub case_id: Uuid,
    pub ats: String,
    pub provider: String,
    #[serde(flatten)]
    pub entry: crate::EntryView,
    /// My other live entries (on any case) whose time overlaps this one's.
    pub overlaps_with: Vec<Uuid>,
}

/// One day of a person's entries (withdrawn ones not counted), over every case and measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MyDay {
    pub date: NaiveDate,
    pub entries: i64,
    pub minutes: i64,
    pub confirmed_minutes: i64,
    /// Some of the day's entries overlap each other.
    pub overlaps: bool,
    /// The day is over the daily maximum of its measures (the lowest, when the day's entries
    /// are under several): that maximum, in minutes (`Measure::max_minutes_per_day`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_daily_max_minutes: Option<i64>,
    /// A reader limited to one ATS: the day's minutes on cases of other ATS — counted in the
    /// totals and the flags, not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes_elsewhere: Option<i64>,
}

/// My entries between two dates, by day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MyEntries {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// By date, start, case.
    pub entries: Vec<MyEntry>,
    /// Every day of the period that has entries.
    pub days: Vec<MyDay>,
    pub minutes: i64,
    pub confirmed_minutes: i64,
}

/// `person`'s entries delivered from `from` to `to` (both included) on every case, with totals
/// per day and the overlaps between live entries flagged (`GET /v1/me/entries`).
pub async fn my_entries(
    db: &Database,
    catalogue: &Catalogue,
    person: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<MyEntries, ProjectionError> {
    person_entries(db, catalogue, person, from, to, None).await
}

/// One professional's hours per day across cases and measures, for the person, the ATS and
/// auditors (`GET /v1/me/entries`, `GET /v1/people/{cf}/entries`): entries with their state and
/// case, totals per day, overlaps between live entries and days over the measure's daily
/// maximum flagged. With `ats`, only that ATS's entries are listed; the days still count every
/// entry (`minutes_elsewhere` says how much lies outside), so a reader of one ATS sees a day
/// over the maximum even when part of it is billed elsewhere.
pub async fn person_entries(
    db: &Database,
    catalogue: &Catalogue,
    person: &str,
    from: NaiveDate,
    to: NaiveDate,
    ats: Option<&str>,
) -> Result<MyEntries, ProjectionError> {
    let rows = db
        .fetch_all(
            "SELECT e.*, c.measure_id AS case_measure_id FROM rm_entries e \
             JOIN rm_cases c ON c.case_id = e.case_id WHERE e.professional = $1 \
             AND e.service_date >= $2 AND e.service_date <= $3 \
             ORDER BY e.service_date, e.start_time, e.case_id, e.entry_id",
            &[person.into(), from.into(), to.into()],
        )
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    let mut measures = Vec::with_capacity(rows.len());
    for r in &rows {
        entries.push(MyEntry {
            case_id: r.uuid("case_id")?,
            ats: r.text("ats")?,
            provider: r.text("provider")?,
            entry: r.decode()?,
            overlaps_with: Vec::new(),
        });
        measures.push(r.text("case_measure_id")?);
    }
    let live = |e: &MyEntry| e.entry.state != crate::EntryState::Withdrawn;
    // Same day, [start, end) intersecting ("HH:MM" compares as text).
    let overlapping: Vec<(usize, usize)> = (0..entries.len())
        .flat_map(|i| ((i + 1)..entries.len()).map(move |j| (i, j)))
        .filter(|&(i, j)| {
            let (a, b) = (&entries[i], &entries[j]);
            live(a)
                && live(b)
                && a.entry.date == b.entry.date
                && a.entry.start < b.entry.end
                && b.entry.start < a.entry.end
        })
        .collect();
    for (i, j) in overlapping {
        let (a, b) = (entries[i].entry.entry_id, entries[j].entry.entry_id);
        entries[i].overlaps_with.push(b);
        entries[j].overlaps_with.push(a);
    }
    let mut days: BTreeMap<NaiveDate, MyDay> = BTreeMap::new();
    let mut day_max: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for (e, measure) in entries.iter().zip(&measures).filter(|(e, _)| live(e)) {
        let day = days.entry(e.entry.date).or_insert(MyDay {
            date: e.entry.date,
            entries: 0,
            minutes: 0,
            confirmed_minutes: 0,
            overlaps: false,
            over_daily_max_minutes: None,
            minutes_elsewhere: ats.map(|_| 0),
        });
        day.entries += 1;
        day.minutes += e.entry.minutes;
        if e.entry.state == crate::EntryState::Confirmed {
            day.confirmed_minutes += e.entry.minutes;
        }
        day.overlaps |= !e.overlaps_with.is_empty();
        if let (Some(elsewhere), Some(ats)) = (day.minutes_elsewhere.as_mut(), ats)
            && e.ats != ats
        {
            *elsewhere += e.entry.minutes;
        }
        let max = catalogue
            .get(&MeasureId::new(measure.as_str()))
            .and_then(|m| m.max_minutes_per_day);
        if let Some(max) = max {
            let lowest = day_max.entry(e.entry.date).or_insert(i64::from(max));
            *lowest = (*lowest).min(i64::from(max));
        }
    }
    for day in days.values_mut() {
        if let Some(max) = day_max.get(&day.date)
            && day.minutes > *max
        {
            day.over_daily_max_minutes = Some(*max);
        }
    }
    if let Some(ats) = ats {
        entries.retain(|e| e.ats == ats);
    }
    let days: Vec<MyDay> = days.into_values().collect();
    Ok(MyEntries {
        from,
        to,
        minutes: days.iter().map(|d| d.minutes).sum(),
        confirmed_minutes: days.iter().map(|d| d.confirmed_minutes).sum(),
        entries,
        days,
    })
}
