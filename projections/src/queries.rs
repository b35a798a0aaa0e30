//! Query functions the HTTP layer serves: case lists, entries, the ATS dashboard and the cost
//! report. Pagination is by cursor (an opaque string: pass back `next_cursor`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diario_domain::Catalogue;
use diario_log::{Database, Query};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::case_diaries::metric;
use crate::diaries::EntryView;
use crate::status::{CaseStatus, DiaryStatusView, RequestStatusView};
use crate::{EntryState, ProjectionError};

/// Default and maximum page sizes.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

/// Which page to read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PageRequest {
    /// `next_cursor` of the previous page; `None` for the first.
    pub cursor: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
}

impl PageRequest {
    /// The first page of `limit` items.
    pub fn first(limit: i64) -> Self {
        PageRequest {
            cursor: None,
            limit: Some(limit),
        }
    }

    /// The page after `cursor`.
    pub fn after(cursor: Option<String>, limit: i64) -> Self {
        PageRequest {
            cursor,
            limit: Some(limit),
        }
    }

    pub(crate) fn limit(&self) -> i64 {
        self.limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass it back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T: serde::de::DeserializeOwned> Page<T> {
    /// Runs `q` (its filters and cursor condition written) ordered by `order`, fetching one
    /// row more than the page size to know whether another page follows, and reads the rows
    /// as `T`; `key` is the cursor of an item.
    pub(crate) async fn fetch(
        db: &Database,
        mut q: Query,
        order: &str,
        page: &PageRequest,
        key: impl Fn(&T) -> String,
    ) -> Result<Page<T>, ProjectionError> {
        let limit = page.limit();
        q.push(" ORDER BY ").push(order).and(" LIMIT ", limit + 1);
        let mut items = db
            .query(&q)
            .await?
            .iter()
            .map(|r| r.decode())
            .collect::<Result<Vec<T>, _>>()?;
        let more = items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = if more { items.last().map(key) } else { None };
        Ok(Page { items, next_cursor })
    }
}

/// Parses a `uuid:number` cursor.
pub(crate) fn cursor_pair(c: &str) -> Result<(Uuid, i64), ProjectionError> {
    let bad = || ProjectionError::BadCursor(c.to_owned());
    let (a, b) = c.rsplit_once(':').ok_or_else(bad)?;
    Ok((
        Uuid::parse_str(a).map_err(|_| bad())?,
        b.parse().map_err(|_| bad())?,
    ))
}

fn cursor_uuid(c: &str) -> Result<Uuid, ProjectionError> {
    Uuid::parse_str(c).map_err(|_| ProjectionError::BadCursor(c.to_owned()))
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

/// Filters of [`list_cases`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaseFilter {
    pub ats: Option<String>,
    pub provider: Option<String>,
    pub status: Option<CaseStatus>,
    /// Opened at or after.
    pub from: Option<DateTime<Utc>>,
    /// Opened before.
    pub to: Option<DateTime<Utc>>,
    /// Idle since before this instant: the last entry (or, without entries, the opening) is
    /// older — the full list behind the dashboard's longest-idle cases.
    pub idle_before: Option<DateTime<Utc>>,
}

/// One line of a case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseSummary {
    pub case_id: Uuid,
    pub measure_id: String,
    pub ats: String,
    pub asst: String,
    pub provider: String,
    pub status: CaseStatus,
    pub recipient_pseudonym: String,
    pub opened_at: DateTime<Utc>,
    pub interrupted_at: Option<DateTime<Utc>>,
    pub last_entry_at: Option<DateTime<Utc>>,
    pub minutes: i64,
    pub confirmed_minutes: i64,
    pub confirmed_cost_cents: i64,
    pub version: i64,
}

/// Cases by id (`GET /v1/ats/{ats}/cases`); cursor: the last case id.
pub async fn list_cases(
    db: &Database,
    filter: &CaseFilter,
    page: &PageRequest,
) -> Result<Page<CaseSummary>, ProjectionError> {
    let mut q = Query::new("SELECT * FROM rm_cases WHERE 1=1");
    q.and_some(" AND ats = ", filter.ats.as_ref());
    q.and_some(" AND provider = ", filter.provider.as_ref());
    q.and_some(" AND status = ", filter.status.as_ref().map(|v| v.as_str()));
    q.and_some(" AND opened_at >= ", filter.from);
    q.and_some(" AND opened_at < ", filter.to);
    q.and_some(
        " AND COALESCE(last_entry_at, opened_at) < ",
        filter.idle_before,
    );
    if let Some(c) = &page.cursor {
        q.and(" AND case_id > ", cursor_uuid(c)?);
    }
    Page::fetch(db, q, "case_id", page, |c: &CaseSummary| {
        c.case_id.to_string()
    })
    .await
}

// ------------------------------------------------------------------------------------------
// Entries
// ------------------------------------------------------------------------------------------

/// Filters of [`list_entries`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EntryFilter {
    pub case_id: Option<Uuid>,
    pub ats: Option<String>,
    pub provider: Option<String>,
    pub state: Option<EntryState>,
    pub phase: Option<u8>,
    /// Service date on or after.
    pub from: Option<NaiveDate>,
    /// Service date on or before.
    pub to: Option<NaiveDate>,
    /// Only entries that relied on an Art. 9 failure.
    pub under_system_failure: Option<bool>,
}

/// Entries by id; cursor: the last entry id.
pub async fn list_entries(
    db: &Database,
    filter: &EntryFilter,
    page: &PageRequest,
) -> Result<Page<EntryView>, ProjectionError> {
    let mut q = Query::new("SELECT * FROM rm_entries WHERE 1=1");
    q.and_some(" AND case_id = ", filter.case_id);
    q.and_some(" AND ats = ", filter.ats.as_ref());
    q.and_some(" AND provider = ", filter.provider.as_ref());
    q.and_some(" AND state = ", filter.state.as_ref().map(|v| v.as_str()));
    q.and_some(" AND phase = ", filter.phase.map(i64::from));
    q.and_some(" AND service_date >= ", filter.from);
    q.and_some(" AND service_date <= ", filter.to);
    match filter.under_system_failure {
        Some(true) => {
            q.push(" AND system_failure_id IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND system_failure_id IS NULL");
        }
        None => {}
    }
    if let Some(c) = &page.cursor {
        q.and(" AND entry_id > ", cursor_uuid(c)?);
    }
    Page::fetch(db, q, "entry_id", page, |e: &EntryView| {
        e.entry_id.to_string()
    })
    .await
}

// ------------------------------------------------------------------------------------------
// ATS dashboard
// ------------------------------------------------------------------------------------------

/// Open / closed diaries of a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhaseDiaryCounts {
    pub phase: u8,
    pub open: i64,
    /// Closed, waiting for confirmation (whole-diary phases).
    pub closed: i64,
    pub handed_to_ats: i64,
}

/// Minutes of a phase and figure (live entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhaseFigureMinutes {
    pub phase: u8,
    pub figure: String,
    pub minutes: i64,
    pub confirmed_minutes: i64,
}

/// Confirmation requests of the ATS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestCounts {
    /// Waiting for an answer (digital and paper).
    pub pending: i64,
    /// Pending digital requests whose deadline falls within the next 24 hours.
    pub expiring_within_24h: i64,
    /// Pending digital requests already past their deadline (expiry not yet recorded).
    pub overdue: i64,
    /// Requests recorded as expired.
    pub expired: i64,
    pub rejected: i64,
    pub confirmed: i64,
    /// Ended by an interruption of the pathway.
    pub ended: i64,
}

/// A case with no entry recorded recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdleCase {
    pub case_id: Uuid,
    pub provider: String,
    /// `None` when the case has no entry at all (then `opened_at` counts).
    pub last_entry_at: Option<DateTime<Utc>>,
    pub opened_at: DateTime<Utc>,
}

/// The ATS dashboard (`GET /v1/ats/{ats}/dashboard`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AtsDashboard {
    pub ats: String,
    pub now: DateTime<Utc>,
    pub cases_by_status: BTreeMap<String, i64>,
    pub diaries_by_phase: Vec<PhaseDiaryCounts>,
    pub minutes_by_phase_and_figure: Vec<PhaseFigureMinutes>,
    pub requests: RequestCounts,
    /// confirmed / (confirmed + rejected + expired) requests; `None` when none was answered.
    pub confirmation_rate: Option<f64>,
    /// Live entries registered late under a declared system failure (Art. 9).
    pub entries_under_system_failure: i64,
    /// The N of "no entry in the last N days".
    pub idle_days: i64,
    /// Open cases with no entry recorded in the last `idle_days` days, longest idle first
    /// (last entry, or opening when there is none; then case id), at most
    /// [`IDLE_CASES_SHOWN`].
    pub idle_cases: Vec<IdleCase>,
    /// More idle cases exist than the ones listed.
    pub idle_cases_more: bool,
    /// The voucher pathways of the ATS (seed 003), when it has any: accesses against the
    /// minimum, realised, money (filled by the reader with the catalogue, see
    /// [`crate::vouchers::VoucherReport::summary`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vouchers: Option<crate::vouchers::VoucherSummary>,
}

/// Idle cases listed on the dashboard: the longest idle ones, so the dashboard costs the same
/// however many cases the ATS has (BENCHMARKS.md, growth). The full list is
/// `GET /v1/ats/{ats}/cases?status=open&idle_before=…` (paginated).
pub const IDLE_CASES_SHOWN: usize = 10;

/// The dashboard of one ATS at `now`; `idle_days` is the N of "cases with no entry in the last
/// N days".
pub async fn ats_dashboard(
    db: &Database,
    ats: &str,
    now: DateTime<Utc>,
    idle_days: i64,
) -> Result<AtsDashboard, ProjectionError> {
    // Counts and minutes come from the counters the projection keeps (rm_ats_counters): a
    // few dozen rows whatever the number of cases of the ATS.
    let mut cases_by_status = BTreeMap::new();
    let mut phases: BTreeMap<u8, PhaseDiaryCounts> = BTreeMap::new();
    let mut minutes: BTreeMap<(u8, String), PhaseFigureMinutes> = BTreeMap::new();
    let mut requests = RequestCounts {
        pending: 0,
        expiring_within_24h: 0,
        overdue: 0,
        expired: 0,
        rejected: 0,
        confirmed: 0,
        ended: 0,
    };
    let mut late = 0;
    for r in db
        .fetch_all(
            "SELECT metric, k1, k2, n FROM rm_ats_counters WHERE ats = $1",
            &[ats.into()],
        )
        .await?
    {
        let (k1, k2, n) = (r.text("k1")?, r.text("k2")?, r.i64("n")?);
        let phase = || {
            k1.parse::<u8>()
                .map_err(|_| ProjectionError::Corrupt(format!("counter phase {k1:?}")))
        };
        match r.text("metric")?.as_str() {
            metric::CASES => {
                cases_by_status.insert(CaseStatus::parse(&k1)?.as_str().to_owned(), n);
            }
            metric::DIARIES => {
                let phase = phase()?;
                let c = phases.entry(phase).or_insert(PhaseDiaryCounts {
                    phase,
                    open: 0,
                    closed: 0,
                    handed_to_ats: 0,
                });
                match DiaryStatusView::parse(&k2)? {
                    DiaryStatusView::Open => c.open += n,
                    DiaryStatusView::Closed => c.closed += n,
                    DiaryStatusView::HandedToAts => c.handed_to_ats += n,
                }
            }
            m @ (metric::MINUTES | metric::CONFIRMED_MINUTES) => {
                let phase = phase()?;
                let line = minutes
                    .entry((phase, k2.clone()))
                    .or_insert(PhaseFigureMinutes {
                        phase,
                        figure: k2,
                        minutes: 0,
                        confirmed_minutes: 0,
                    });
                if m == metric::MINUTES {
                    line.minutes += n;
                } else {
                    line.confirmed_minutes += n;
                }
            }
            metric::REQUESTS => match RequestStatusView::parse(&k1)? {
                RequestStatusView::Pending => requests.pending = n,
                RequestStatusView::Expired => requests.expired = n,
                RequestStatusView::Rejected => requests.rejected = n,
                RequestStatusView::Confirmed => requests.confirmed = n,
                RequestStatusView::Ended => requests.ended = n,
            },
            metric::LATE_ENTRIES => late = n,
            other => {
                return Err(ProjectionError::Corrupt(format!(
                    "unknown dashboard counter {other:?}"
                )));
            }
        }
    }
    let minutes: Vec<PhaseFigureMinutes> = minutes.into_values().collect();
    let in_24h = now + Duration::hours(24);
    for r in db
        .fetch_all(
            "SELECT count(CASE WHEN deadline > $2 AND deadline <= $3 THEN 1 END) AS soon, \
         count(CASE WHEN deadline <= $2 THEN 1 END) AS overdue \
         FROM rm_requests WHERE ats = $1 AND status = 'pending' AND deadline IS NOT NULL",
            &[ats.into(), now.into(), in_24h.into()],
        )
        .await?
    {
        requests.expiring_within_24h = r.i64("soon")?;
        requests.overdue = r.i64("overdue")?;
    }
    let answered = requests.confirmed + requests.rejected + requests.expired;
    let confirmation_rate = (answered > 0).then(|| {
        let permyriad = (requests.confirmed * 10_000 + answered / 2) / answered;
        permyriad as f64 / 10_000.0
    });
    let since = now - Duration::days(idle_days);
    let mut idle_cases = Vec::new();
    for r in db
        .fetch_all(
            // Served in order by the index rm_cases_idle (migration 0007): reads at most
            // IDLE_CASES_SHOWN + 1 rows.
            "SELECT case_id, provider, last_entry_at, opened_at FROM rm_cases \
         WHERE ats = $1 AND status = 'open' AND COALESCE(last_entry_at, opened_at) < $2 \
         ORDER BY COALESCE(last_entry_at, opened_at), case_id LIMIT $3",
            &[
                ats.into(),
                since.into(),
                (IDLE_CASES_SHOWN as i64 + 1).into(),
            ],
        )
        .await?
    {
        idle_cases.push(r.decode()?);
    }
    Ok(AtsDashboard {
        ats: ats.to_owned(),
        now,
        cases_by_status,
        diaries_by_phase: phases.into_values().collect(),
        minutes_by_phase_and_figure: minutes,
        requests,
        confirmation_rate,
        entries_under_system_failure: late,
        idle_days,
        idle_cases_more: idle_cases.len() > IDLE_CASES_SHOWN,
        idle_cases: idle_cases.into_iter().take(IDLE_CASES_SHOWN).collect(),
        vouchers: None,
    })
}

/// [`ats_dashboard`] with the ATS's voucher pathways as of `now`'s civil day.
pub async fn ats_dashboard_with_vouchers(
    db: &Database,
    catalogue: &Catalogue,
    ats: &str,
    now: DateTime<Utc>,
    idle_days: i64,
) -> Result<AtsDashboard, ProjectionError> {
    let mut board = ats_dashboard(db, ats, now, idle_days).await?;
    let filter = crate::vouchers::VoucherFilter {
        ats: Some(ats.to_owned()),
        ..Default::default()
    };
    let report = crate::vouchers::voucher_report(
        db,
        catalogue,
        &filter,
        diario_domain::values::civil_date(now),
    )
    .await?;
    board.vouchers = report.summary();
    Ok(board)
}

// ------------------------------------------------------------------------------------------
// Cost report
// ------------------------------------------------------------------------------------------

/// Filters of [`cost_report`]. The period is the service date (Europe/Rome civil date).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostFilter {
    pub ats: Option<String>,
    pub provider: Option<String>,
    pub case_id: Option<Uuid>,
    /// Service date on or after.
    pub from: Option<NaiveDate>,
    /// Service date on or before.
    pub to: Option<NaiveDate>,
}

/// One line: the minutes of one figure in one case and month at one unit cost, in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostLine {
    pub ats: String,
    /// The case's provider.
    pub provider: String,
    /// The ente that delivered and claims these hours: the ASST for the phases it keeps (#UP
    /// phase I), the provider for the others.
    pub ente: String,
    /// `claimable` (confirmed, the phase diary handed to ATS), `confirmed-open` (confirmed, the
    /// diary not handed over yet), `awaiting-check` (confirmed on a paper diary whose scan the
    /// ATS has not checked yet), `scan-refused` (its scan was refused: a new one is due),
    /// `open` (recorded, not confirmed yet: not claimable).
    pub status: String,
    pub case_id: Uuid,
    /// `YYYY-MM` of the service date.
    pub period: String,
    pub figure: String,
    pub entries: i64,
    /// Confirmed minutes (0 on `open` lines).
    pub confirmed_minutes: i64,
    /// €/hour in cents, as recorded with the entries (`None`: the figure has no unit cost).
    pub unit_cost_cents: Option<i64>,
    /// Sum of the per-entry costs (minutes × unit cost / 60, rounded half-up per entry); on
    /// `open` lines what the hours would be worth once confirmed.
    pub cost_cents: i64,
}

/// One flat amount of a case whose measure pays per output (`cost_model: flat_per_output`,
/// seed 003 §12): euros per output, not hours × rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutputLine {
    pub ats: String,
    pub provider: String,
    /// The beneficiary that claims it: the Ambito's lead body.
    pub ente: String,
    pub case_id: Uuid,
    pub recipient_pseudonym: String,
    pub measure_id: String,
    /// The output the amount pays (`valutazione`, `case_management`, …).
    pub output: String,
    pub amount_cents: i64,
    /// `due`, `not_yet_due` or `not_due` as of the report's `to` date (today without it).
    pub status: String,
    /// Why a line is not (yet) due, as in the voucher report.
    pub reasons: Vec<crate::vouchers::ReasonView>,
}

/// A subtotal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostTotal {
    pub key: String,
    pub confirmed_minutes: i64,
    pub cost_cents: i64,
}

/// The cost report (`GET /v1/reports/costs`): confirmed hours × unit cost for the measures
/// priced by the hour, and the flat amounts per output for the measures that pay outputs
/// (their hours are evidence, not cost, and are not priced here). Money is integer cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostReport {
    pub filter: CostFilter,
    /// The confirmed lines (`claimable` and `confirmed-open`); the totals below count these.
    pub lines: Vec<CostLine>,
    /// Hours recorded and not confirmed yet (`open`): not claimable, shown apart.
    pub open_lines: Vec<CostLine>,
    /// Confirmed hours of diaries handed to ATS: what may be claimed now.
    pub claimable_cost_cents: i64,
    /// Confirmed hours of diaries not handed to ATS yet.
    pub confirmed_open_cost_cents: i64,
    /// Hours confirmed on paper whose scan awaits the ATS's check, or was refused: not
    /// claimable until a scan is checked.
    pub awaiting_check_cost_cents: i64,
    /// Recorded, not confirmed (the value they would have).
    pub open_cost_cents: i64,
    /// Measures of the report whose catalogue carries example values (placeholders, not the
    /// official unit costs): the amounts are not to be claimed as they stand.
    pub example_values: Vec<String>,
    pub by_case: Vec<CostTotal>,
    /// By provider, its own hours only (an ASST's phase I hours are under `by_ente`).
    pub by_provider: Vec<CostTotal>,
    /// By the ente that claims (ASST or provider).
    pub by_ente: Vec<CostTotal>,
    pub by_ats: Vec<CostTotal>,
    pub by_period: Vec<CostTotal>,
    pub by_figure: Vec<CostTotal>,
    pub total_confirmed_minutes: i64,
    /// Hours only (the lines above); the outputs are summed apart.
    pub total_cost_cents: i64,
    /// The flat amounts of the cases whose measure pays per output (seed 003 §12), as of the
    /// filter's `to` (today without it). The full filing, with the advance and the balance, is
    /// `GET /v1/reports/vouchers`.
    pub outputs: Vec<OutputLine>,
    /// The outputs due: what the Ambiti may claim for them.
    pub outputs_due_cents: i64,
    /// The outputs not due yet (a document, the objectives, the accesses still missing).
    pub outputs_not_yet_due_cents: i64,
}

/// Live entries grouped by ATS, provider, case, month, figure and unit cost, each line with
/// its status (`claimable`, `confirmed-open`, `open`) and the ente that claims it (the ASST for
/// the phases it keeps). The totals count the confirmed lines.
pub async fn cost_report(
    db: &Database,
    catalogue: &Catalogue,
    filter: &CostFilter,
    today: NaiveDate,
) -> Result<CostReport, ProjectionError> {
    let mut q = Query::new(
        "SELECT e.ats, e.provider, e.case_id, e.phase, e.service_date, e.figure, e.minutes, \
         e.unit_cost_cents, e.cost_cents, e.state, e.scan_check, c.asst, c.measure_id, \
         d.status AS diary_status FROM rm_entries e JOIN rm_cases c ON c.case_id = e.case_id \
         LEFT JOIN rm_diaries d ON d.case_id = e.case_id AND d.phase = e.phase \
         WHERE e.state <> 'withdrawn'",
    );
    q.and_some(" AND e.ats = ", filter.ats.as_ref());
    q.and_some(" AND e.provider = ", filter.provider.as_ref());
    q.and_some(" AND e.case_id = ", filter.case_id);
    q.and_some(" AND e.service_date >= ", filter.from);
    q.and_some(" AND e.service_date <= ", filter.to);
    // One line per unit cost too: entries of one figure and month priced by two catalogue
    // versions (a rate changed mid-month) are two lines, each with its own rate.
    type Key = (
        String,
        String,
        Uuid,
        String,
        String,
        Option<i64>,
        String,
        String,
    );
    let mut lines: BTreeMap<Key, CostLine> = BTreeMap::new();
    let mut example_values = std::collections::BTreeSet::new();
    for r in db.query(&q).await? {
        let date = r.date("service_date")?;
        let unit = r.opt_i64("unit_cost_cents")?;
        let measure = catalogue.get(&diario_domain::MeasureId::new(r.text("measure_id")?));
        if measure.is_some_and(|m| m.cost_model == diario_domain::CostModel::FlatPerOutput) {
            // Paid per output: the hours are the evidence of the accesses, not a cost.
            continue;
        }
        if let Some(m) = measure.filter(|m| m.example_values) {
            example_values.insert(m.id.as_str().to_owned());
        }
        let phase = diario_domain::Phase::try_from(u8::try_from(r.i64("phase")?).unwrap_or(0))
            .map_err(|_| ProjectionError::Corrupt("rm_entries.phase out of range".into()))?;
        let by_asst = measure
            .and_then(|m| m.phase(phase))
            .is_some_and(|p| p.registered_by == diario_domain::Ente::Asst);
        let ente = if by_asst {
            r.text("asst")?
        } else {
            r.text("provider")?
        };
        let confirmed = r.text("state")? == "confirmed";
        let scan = r.opt_text("scan_check")?;
        let status = match (
            confirmed,
            scan.as_deref(),
            r.opt_text("diary_status")?.as_deref(),
        ) {
            (false, _, _) => "open",
            (true, Some("awaiting_check"), _) => "awaiting-check",
            (true, Some("refused"), _) => "scan-refused",
            (true, _, Some("handed_to_ats")) => "claimable",
            (true, _, _) => "confirmed-open",
        };
        let minutes = r.i64("minutes")?;
        let cost = if confirmed {
            r.i64("cost_cents")?
        } else {
            unit.map_or(0, |u| {
                diario_domain::Cents::for_minutes(
                    u64::try_from(minutes).unwrap_or(0),
                    diario_domain::Cents(u),
                )
                .0
            })
        };
        let key: Key = (
            r.text("ats")?,
            r.text("provider")?,
            r.uuid("case_id")?,
            date.format("%Y-%m").to_string(),
            r.text("figure")?,
            unit,
            status.to_owned(),
            ente,
        );
        let line = lines.entry(key.clone()).or_insert_with(|| CostLine {
            ats: key.0.clone(),
            provider: key.1.clone(),
            ente: key.7.clone(),
            status: key.6.clone(),
            case_id: key.2,
            period: key.3.clone(),
            figure: key.4.clone(),
            entries: 0,
            confirmed_minutes: 0,
            unit_cost_cents: unit,
            cost_cents: 0,
        });
        line.entries += 1;
        if confirmed {
            line.confirmed_minutes += minutes;
        }
        line.cost_cents += cost;
    }
    let (lines, open_lines): (Vec<CostLine>, Vec<CostLine>) =
        lines.into_values().partition(|l| l.status != "open");
    let sum_of = |status: &str, from: &[CostLine]| -> i64 {
        from.iter()
            .filter(|l| l.status == status)
            .map(|l| l.cost_cents)
            .sum()
    };
    let group = |key: &dyn Fn(&CostLine) -> String| -> Vec<CostTotal> {
        let mut m: BTreeMap<String, CostTotal> = BTreeMap::new();
        for l in &lines {
            let k = key(l);
            let t = m.entry(k.clone()).or_insert(CostTotal {
                key: k,
                confirmed_minutes: 0,
                cost_cents: 0,
            });
            t.confirmed_minutes += l.confirmed_minutes;
            t.cost_cents += l.cost_cents;
        }
        m.into_values().collect()
    };
    let by_provider = {
        let own: Vec<CostLine> = lines
            .iter()
            .filter(|l| l.ente == l.provider)
            .cloned()
            .collect();
        let mut m: BTreeMap<String, CostTotal> = BTreeMap::new();
        for l in &own {
            let t = m.entry(l.provider.clone()).or_insert(CostTotal {
                key: l.provider.clone(),
                confirmed_minutes: 0,
                cost_cents: 0,
            });
            t.confirmed_minutes += l.confirmed_minutes;
            t.cost_cents += l.cost_cents;
        }
        m.into_values().collect()
    };
    let outputs = output_lines(db, catalogue, filter, today, &mut example_values).await?;
    let outputs_sum = |status: &str| -> i64 {
        outputs
            .iter()
            .filter(|l| l.status == status)
            .map(|l| l.amount_cents)
            .sum()
    };
    Ok(CostReport {
        outputs_due_cents: outputs_sum("due"),
        outputs_not_yet_due_cents: outputs_sum("not_yet_due"),
        filter: filter.clone(),
        claimable_cost_cents: sum_of("claimable", &lines),
        confirmed_open_cost_cents: sum_of("confirmed-open", &lines),
        awaiting_check_cost_cents: sum_of("awaiting-check", &lines)
            + sum_of("scan-refused", &lines),
        open_cost_cents: open_lines.iter().map(|l| l.cost_cents).sum(),
        example_values: example_values.into_iter().collect(),
        by_case: group(&|l| l.case_id.to_string()),
        by_provider,
        by_ente: group(&|l| l.ente.clone()),
        by_ats: group(&|l| l.ats.clone()),
        by_period: group(&|l| l.period.clone()),
        by_figure: group(&|l| l.figure.clone()),
        total_confirmed_minutes: lines.iter().map(|l| l.confirmed_minutes).sum(),
        total_cost_cents: lines.iter().map(|l| l.cost_cents).sum(),
        lines,
        open_lines,
        outputs,
    })
}

/// The flat amounts of the filter's voucher cases, as of `to` (or `today`), read through the
/// voucher report so both reports say the same.
async fn output_lines(
    db: &Database,
    catalogue: &Catalogue,
    filter: &CostFilter,
    today: NaiveDate,
    example_values: &mut std::collections::BTreeSet<String>,
) -> Result<Vec<OutputLine>, ProjectionError> {
    let voucher_filter = crate::vouchers::VoucherFilter {
        ats: filter.ats.clone(),
        provider: filter.provider.clone(),
        case_id: filter.case_id,
        ..Default::default()
    };
    let as_of = filter.to.unwrap_or(today);
    let report = crate::vouchers::voucher_report(db, catalogue, &voucher_filter, as_of).await?;
    let mut out = Vec::new();
    for a in &report.ambiti {
        for c in &a.cases {
            let measure = catalogue.get(&diario_domain::MeasureId::new(&c.measure_id));
            if measure.is_some_and(|m| m.example_values) {
                example_values.insert(c.measure_id.clone());
            }
            out.extend(c.lines.iter().map(|l| OutputLine {
                ats: c.ats.clone(),
                provider: c.provider.clone(),
                ente: a.ambito.clone(),
                case_id: c.case_id,
                recipient_pseudonym: c.recipient_pseudonym.clone(),
                measure_id: c.measure_id.clone(),
                output: l.output.clone(),
                amount_cents: l.amount_cents,
                status: l.status.clone(),
                reasons: l.reasons.clone(),
            }));
        }
    }
    Ok(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// The report's lines as CSV (RFC 4180, comma separated, header line, `\r\n`). Amounts are
/// given both in integer cents and as euros with two decimals (text, no float). The hour lines
/// come first (`output` empty), then the flat amounts per output (`output` set, no period,
/// figure nor minutes).
pub fn cost_report_csv(report: &CostReport) -> String {
    let mut out = String::from(
        "ats,provider,case_id,period,figure,entries,confirmed_minutes,unit_cost_cents,cost_cents,cost_eur,status,ente,output\r\n",
    );
    for l in &report.lines {
        let row = [
            csv_field(&l.ats),
            csv_field(&l.provider),
            l.case_id.to_string(),
            l.period.clone(),
            csv_field(&l.figure),
            l.entries.to_string(),
            l.confirmed_minutes.to_string(),
            l.unit_cost_cents.map(|c| c.to_string()).unwrap_or_default(),
            l.cost_cents.to_string(),
            euros(l.cost_cents),
            l.status.clone(),
            csv_field(&l.ente),
            String::new(),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    // The flat amounts per output: no period, figure nor minutes; `status` is the output's.
    for o in &report.outputs {
        let row = [
            csv_field(&o.ats),
            csv_field(&o.provider),
            o.case_id.to_string(),
            String::new(),
            String::new(),
            "0".to_owned(),
            "0".to_owned(),
            String::new(),
            o.amount_cents.to_string(),
            euros(o.amount_cents),
            o.status.clone(),
            csv_field(&o.ente),
            csv_field(&o.output),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}
