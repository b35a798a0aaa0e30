//! Read model 1, "current diaries": per case and phase the status, entries with their state,
//! totals per figure and service, confirmation requests and alerts.
//!
//! The rows of a case are a pure function of the case's folded state (`diario_domain::fold`):
//! for each batch the projection folds every touched case up to the last version in the batch
//! and rewrites that case's rows. The same [`CaseDiary::from_state`] builds the answer of
//! `history_as_of`, so the read model and a replay agree by construction, and a rebuild (or a
//! runner that took over mid-stream) produces identical rows whatever the batch boundaries.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use diario_domain::alerts::{Alert, is_overdue};
use diario_domain::case::state::{DiaryStatus, RequestStatus};
use diario_domain::{CaseEvent, CaseState, Catalogue, Cents, Measure, alerts, evolve};
use diario_log::{Database, EventStore, LogEvent, Row, Tx, Val};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;
pub use crate::status::EntryState;
use crate::status::{CaseStatus, ChannelView, DiaryStatusView, RequestStatusView};

/// Projection name.
pub const NAME: &str = "case_diaries";

/// The tables of the projection (emptied by a rebuild, in this order).
pub const TABLES: [&str; 7] = [
    "rm_case_people",
    "rm_alerts",
    "rm_requests",
    "rm_entries",
    "rm_diaries",
    "rm_cases",
    "rm_ats_counters",
];

/// One entry (stringa).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryView {
    pub entry_id: Uuid,
    pub phase: u8,
    /// Author's fiscal code.
    pub professional: String,
    pub figure: String,
    pub service: String,
    #[serde(alias = "service_date")]
    pub date: NaiveDate,
    /// `HH:MM`, Europe/Rome.
    #[serde(alias = "start_time")]
    pub start: String,
    /// `HH:MM`, Europe/Rome.
    #[serde(alias = "end_time")]
    pub end: String,
    pub minutes: i64,
    pub state: EntryState,
    pub validated: bool,
    pub revision: i64,
    /// Art. 9 failure relied on for a late registration.
    pub system_failure_id: Option<Uuid>,
    /// Art. 9: who of the support desk co-signed this late entry (it counts once co-signed).
    #[serde(default)]
    pub cosigned_by: Option<String>,
    pub recorded_at: DateTime<Utc>,
    /// The pending request, or else the last request that included the entry.
    pub request_id: Option<Uuid>,
    /// €/hour of the figure in cents, when the measure has one.
    pub unit_cost_cents: Option<i64>,
    /// Confirmed entries: minutes × unit cost, rounded half-up per entry; 0 otherwise.
    pub cost_cents: i64,
    /// Entries confirmed on a signed paper diary: the ATS's four-eyes check of its scan,
    /// `awaiting_check`, `checked` or `refused` (absent for confirmations through FirmaLOM).
    #[serde(default)]
    pub scan_check: Option<String>,
}

/// A confirmation request (digital) or paper diary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestView {
    pub request_id: Uuid,
    pub phase: u8,
    pub channel: ChannelView,
    pub status: RequestStatusView,
    pub sent_at: DateTime<Utc>,
    /// Answer deadline (digital requests): one day from FirmaLOM's receipt of the notification
    /// (Art. 6); none while the notification is on its way.
    pub deadline: Option<DateTime<Utc>>,
    /// When FirmaLOM received the notification of the last sending.
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// The notification of the last sending could not be delivered: re-send at once, or cancel
    /// the request with a reason and use the paper diary.
    #[serde(default, deserialize_with = "json_or_null")]
    pub undelivered: Option<UndeliveredView>,
    pub times_sent: i64,
    pub entry_ids: Vec<Uuid>,
    /// The recipient's rejections, in order (Art. 6): the responsabile sees which entries were
    /// rejected and why, when a reason was given.
    #[serde(default)]
    pub rejections: Vec<RejectionView>,
}

/// A notification FirmaLOM never acknowledged (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UndeliveredView {
    /// Delivery attempts made.
    pub attempts: u32,
    /// The last error (HTTP status or network failure).
    pub last_error: String,
    /// When the dispatcher gave up.
    pub at: DateTime<Utc>,
}

/// A JSON column that may hold `null` (PostgreSQL `jsonb`, SQLite text), or a JSON value.
pub(crate) fn json_or_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let value = match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(text)) => {
            serde_json::from_str(&text).map_err(D::Error::custom)?
        }
        Some(v) => v,
        None => serde_json::Value::Null,
    };
    serde_json::from_value(value).map_err(D::Error::custom)
}

/// The interruption of a pathway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InterruptionView {
    /// `withdrawal`, `relocation`, `unreachable`, `other_service`, `objectives_reached`,
    /// `other`; none for interruptions recorded before causes were asked.
    pub cause: Option<String>,
    /// The cause in Italian.
    pub cause_label: Option<String>,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A rejection of a request or of some of its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectionView {
    pub entry_ids: Vec<Uuid>,
    /// The recipient's reason; none when they gave none.
    pub reason: Option<String>,
    /// The signer's fiscal code.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Minutes (and confirmed money) under one figure or service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Total {
    /// Figure or service id.
    pub key: String,
    pub minutes: i64,
    pub confirmed_minutes: i64,
    pub confirmed_cost_cents: i64,
}

/// One phase diary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhaseDiary {
    pub phase: u8,
    pub status: DiaryStatusView,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    /// Live (not withdrawn) entries.
    pub entries_count: i64,
    pub minutes: i64,
    pub confirmed_minutes: i64,
    pub confirmed_cost_cents: i64,
    pub totals_by_figure: Vec<Total>,
    pub totals_by_service: Vec<Total>,
    /// Every entry of the phase, withdrawn ones included, by date, start, id.
    pub entries: Vec<EntryView>,
    /// Every request of the phase, by sent_at, id.
    pub requests: Vec<RequestView>,
    /// The pending ones, with their deadlines.
    pub pending_requests: Vec<RequestView>,
}

/// An alert (Art. 5–6), computed as of `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertView {
    pub code: String,
    pub phase: Option<u8>,
    pub request_id: Option<Uuid>,
    pub entry_ids: Vec<Uuid>,
    pub message: String,
    pub as_of: DateTime<Utc>,
}

/// The current diaries of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseDiary {
    pub case_id: Uuid,
    pub measure_id: String,
    pub ats: String,
    pub asst: String,
    pub provider: String,
    /// `completed`: every phase of the measure handed to ATS.
    pub status: CaseStatus,
    pub recipient_pseudonym: String,
    pub recipient_minor: bool,
    pub firmalom_enrolled: bool,
    pub responsabile_asst: String,
    pub responsabile_provider: String,
    pub case_manager: String,
    pub opened_at: DateTime<Utc>,
    pub interrupted_at: Option<DateTime<Utc>>,
    /// The interruption (Art. 6): its cause, description and who recorded it.
    #[serde(default, deserialize_with = "json_or_null")]
    pub interruption: Option<InterruptionView>,
    /// Latest `recorded_at` of a live entry.
    pub last_entry_at: Option<DateTime<Utc>>,
    /// Latest service date of a live entry.
    pub last_entry_date: Option<NaiveDate>,
    pub minutes: i64,
    pub confirmed_minutes: i64,
    pub confirmed_cost_cents: i64,
    /// Stream version the view reflects.
    pub version: i64,
    /// Instant (`at`) of the last event folded.
    pub last_event_at: DateTime<Utc>,
    /// (Not columns of `rm_cases`: read from their own tables.)
    #[serde(default)]
    pub diaries: Vec<PhaseDiary>,
    #[serde(default)]
    pub alerts: Vec<AlertView>,
    /// Who the case names (responsabili, case manager, enabled professionals), by person.
    #[serde(default)]
    pub people: Vec<CasePerson>,
    /// Under a voucher measure (seed 003): the pathway's voucher and where it stands.
    #[serde(default, deserialize_with = "json_or_null")]
    pub voucher: Option<VoucherView>,
}

/// The voucher pathway of a case (seed 003): what the case records, and where it stands as of
/// the read (validity, accesses, flat amounts due, advance and balance: `docs/domain.md`,
/// choices 27–36).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoucherView {
    /// Intensity, start, suspensions, documents, confirmed service days, objectives, formal
    /// check, interruption (`diario_domain::flat_amounts::PathwayFacts`).
    #[schema(value_type = Object)]
    pub facts: diario_domain::flat_amounts::PathwayFacts,
    /// Computed at the read: validity, suspended days, accesses / required, claim lines with
    /// their status and reasons, payment (`PathwayStatus`).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub status: Option<diario_domain::flat_amounts::PathwayStatus>,
}

impl VoucherView {
    /// The same view with its status on `as_of` under `measure` (none without a voucher).
    pub fn at(mut self, measure: Option<&diario_domain::Measure>, as_of: NaiveDate) -> Self {
        self.status = measure.and_then(|m| self.facts.status(m, as_of).ok());
        self
    }
}

/// A person a case names, and as what (a row of `rm_case_people`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct CasePerson {
    /// Fiscal code.
    pub person: String,
    /// `responsabile`, `case_manager` or `professional`.
    pub role: String,
    /// `asst` or `provider`.
    pub ente: String,
    /// The figures a professional is enabled for (empty for the other roles).
    #[serde(default)]
    pub figures: Vec<String>,
}

impl CasePerson {
    /// The people `file` names, sorted.
    fn of(file: &diario_domain::CaseFile) -> Vec<CasePerson> {
        let person =
            |cf: &diario_domain::FiscalCode, role: &str, ente: diario_domain::Ente| CasePerson {
                person: cf.as_str().to_owned(),
                role: role.to_owned(),
                ente: ente.to_string(),
                figures: Vec::new(),
            };
        let mut out: Vec<CasePerson> = file
            .responsabili
            .iter()
            .map(|(ente, cf)| person(cf, "responsabile", *ente))
            .collect();
        out.push(person(
            &file.case_manager,
            "case_manager",
            diario_domain::Ente::Asst,
        ));
        for ((ente, cf), figures) in &file.professionals {
            let mut p = person(cf, "professional", *ente);
            p.figures = figures.iter().map(|f| f.as_str().to_owned()).collect();
            out.push(p);
        }
        out.sort();
        out
    }
}

/// The stored name of a scan's check.
pub fn scan_check_name(check: diario_domain::ScanCheck) -> &'static str {
    match check {
        diario_domain::ScanCheck::AwaitingCheck => "awaiting_check",
        diario_domain::ScanCheck::Checked => "checked",
        diario_domain::ScanCheck::Refused => "refused",
    }
}

fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Totals per figure / service from a phase's entries (withdrawn ones excluded).
fn totals(entries: &[EntryView]) -> (Vec<Total>, Vec<Total>) {
    let mut by_figure: BTreeMap<String, Total> = BTreeMap::new();
    let mut by_service: BTreeMap<String, Total> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.state != EntryState::Withdrawn) {
        for (map, key) in [(&mut by_figure, &e.figure), (&mut by_service, &e.service)] {
            let t = map.entry(key.clone()).or_insert_with(|| Total {
                key: key.clone(),
                minutes: 0,
                confirmed_minutes: 0,
                confirmed_cost_cents: 0,
            });
            t.minutes += e.minutes;
            if e.state == EntryState::Confirmed {
                t.confirmed_minutes += e.minutes;
                t.confirmed_cost_cents += e.cost_cents;
            }
        }
    }
    (
        by_figure.into_values().collect(),
        by_service.into_values().collect(),
    )
}

impl CaseDiary {
    /// The view of a folded case state. Alerts are computed as of the last folded event's
    /// instant (`as_of`), so the view depends on the events only.
    pub fn from_state(state: &CaseState, measure: Option<&Measure>) -> Option<CaseDiary> {
        let file = state.file.as_ref()?;
        let last_event_at = micros(state.last_event_at?);
        let mut entries_by_phase: BTreeMap<u8, Vec<EntryView>> = BTreeMap::new();
        for e in file.entries.values() {
            // The request that currently holds the entry, or the latest that included it.
            let last_request = file
                .requests
                .values()
                .filter(|r| r.entries.contains_key(&e.id))
                .max_by_key(|r| (r.sent_at, r.id));
            let state = if e.withdrawn {
                EntryState::Withdrawn
            } else if e.confirmed {
                EntryState::Confirmed
            } else if e.pending_request.is_some() {
                EntryState::Pending
            } else if e.rejected {
                EntryState::Rejected
            } else if last_request.is_some_and(|r| {
                matches!(r.status, RequestStatus::Expired | RequestStatus::Ended)
                    && r.entries.get(&e.id) == Some(&e.revision)
            }) {
                EntryState::Expired
            } else if e.validated {
                EntryState::Validated
            } else {
                EntryState::Draft
            };
            // The rate recorded with the entry (the version in force on its delivery date);
            // the catalogue's only for entries recorded before rates were.
            let unit = match &e.rate {
                Some(rate) => rate.unit_cost_cents,
                None => measure.and_then(|m| m.hourly_cost(&e.figure)),
            };
            let minutes = u64::from(e.minutes());
            let cost = match (state, unit) {
                (EntryState::Confirmed, Some(rate)) => Cents::for_minutes(minutes, rate).0,
                _ => 0,
            };
            entries_by_phase
                .entry(e.phase.number())
                .or_default()
                .push(EntryView {
                    entry_id: e.id,
                    phase: e.phase.number(),
                    professional: e.professional.as_str().to_owned(),
                    figure: e.figure.as_str().to_owned(),
                    service: e.service.as_str().to_owned(),
                    date: e.slot.date,
                    start: e.slot.start_hhmm(),
                    end: e.slot.end_hhmm(),
                    minutes: i(minutes),
                    state,
                    validated: e.validated,
                    revision: i64::from(e.revision),
                    system_failure_id: e.system_failure_id,
                    cosigned_by: e.cosigned_by.as_ref().map(|c| c.as_str().to_owned()),
                    recorded_at: micros(e.recorded_at),
                    request_id: e.pending_request.or(last_request.map(|r| r.id)),
                    unit_cost_cents: unit.map(|c| c.0),
                    cost_cents: cost,
                    scan_check: last_request
                        .filter(|_| state == EntryState::Confirmed)
                        .and_then(|r| r.scan.as_ref())
                        .map(|s| scan_check_name(s.check).to_owned()),
                });
        }
        let mut requests_by_phase: BTreeMap<u8, Vec<RequestView>> = BTreeMap::new();
        for r in file.requests.values() {
            requests_by_phase
                .entry(r.phase.number())
                .or_default()
                .push(RequestView {
                    request_id: r.id,
                    phase: r.phase.number(),
                    channel: r.channel.into(),
                    status: r.status.into(),
                    sent_at: micros(r.sent_at),
                    deadline: r.deadline.map(micros),
                    delivered_at: r.delivered_at.map(micros),
                    undelivered: r.undelivered.as_ref().map(|u| UndeliveredView {
                        attempts: u.attempts,
                        last_error: u.last_error.clone(),
                        at: micros(u.at),
                    }),
                    times_sent: i64::from(r.times_sent),
                    entry_ids: r.entries.keys().copied().collect(),
                    rejections: r
                        .rejections
                        .iter()
                        .map(|x| RejectionView {
                            entry_ids: x.entry_ids.clone(),
                            reason: x.reason.clone(),
                            by: x.by.as_str().to_owned(),
                            at: micros(x.at),
                        })
                        .collect(),
                });
        }
        let mut diaries = Vec::new();
        for d in file.diaries.values() {
            let n = d.phase.number();
            let mut entries = entries_by_phase.remove(&n).unwrap_or_default();
            sort_entries(&mut entries);
            let mut requests = requests_by_phase.remove(&n).unwrap_or_default();
            sort_requests(&mut requests);
            diaries.push(PhaseDiary::assemble(
                n,
                d.status.into(),
                d.opened_by.as_str().to_owned(),
                micros(d.opened_at),
                entries,
                requests,
            ));
        }
        let live = || {
            diaries
                .iter()
                .flat_map(|d| d.entries.iter())
                .filter(|e| e.state != EntryState::Withdrawn)
        };
        let status = if file.interrupted_at.is_some() {
            CaseStatus::Interrupted
        } else if measure.is_some_and(|m| {
            !m.phases.is_empty()
                && m.phases.iter().all(|p| {
                    file.diaries
                        .get(&p.phase)
                        .is_some_and(|d| d.status == DiaryStatus::HandedToAts)
                })
        }) {
            CaseStatus::Completed
        } else {
            CaseStatus::Open
        };
        let alerts = measure
            .map(|m| alerts(state, m, last_event_at))
            .unwrap_or_default()
            .into_iter()
            .map(|a| AlertView::of(a, last_event_at))
            .collect();
        Some(CaseDiary {
            case_id: file.case_id,
            measure_id: file.measure_id.as_str().to_owned(),
            ats: file.ats.clone(),
            asst: file.asst.clone(),
            provider: file.provider.clone(),
            status,
            recipient_pseudonym: file.recipient.pseudonym.clone(),
            recipient_minor: file.recipient.minor,
            firmalom_enrolled: file.recipient.firmalom_enrolled,
            responsabile_asst: file
                .responsabile(diario_domain::Ente::Asst)
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            responsabile_provider: file
                .responsabile(diario_domain::Ente::Provider)
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            case_manager: file.case_manager.as_str().to_owned(),
            people: CasePerson::of(file),
            opened_at: micros(file.opened_at),
            interrupted_at: file.interrupted_at.map(micros),
            interruption: file.interruption.as_ref().map(|i| InterruptionView {
                cause: i.cause.and_then(|c| {
                    serde_json::to_value(c)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                }),
                cause_label: i.cause.map(|c| c.label().to_owned()),
                reason: i.reason.clone(),
                by: i.by.as_str().to_owned(),
                at: micros(i.at),
            }),
            last_entry_at: live().map(|e| e.recorded_at).max(),
            last_entry_date: live().map(|e| e.date).max(),
            minutes: live().map(|e| e.minutes).sum(),
            confirmed_minutes: live()
                .filter(|e| e.state == EntryState::Confirmed)
                .map(|e| e.minutes)
                .sum(),
            confirmed_cost_cents: live().map(|e| e.cost_cents).sum(),
            version: i(state.version),
            last_event_at,
            diaries,
            alerts,
            voucher: diario_domain::flat_amounts::PathwayFacts::of(file).map(|facts| VoucherView {
                facts,
                status: None,
            }),
        })
    }
}

impl AlertView {
    fn of(a: Alert, as_of: DateTime<Utc>) -> AlertView {
        AlertView {
            code: a.code.as_str().to_owned(),
            phase: a.phase.map(|p| p.number()),
            request_id: a.request_id,
            entry_ids: a.entry_ids,
            message: a.message,
            as_of,
        }
    }
}

fn sort_entries(entries: &mut [EntryView]) {
    entries.sort_by(|a, b| (a.date, &a.start, a.entry_id).cmp(&(b.date, &b.start, b.entry_id)));
}

fn sort_requests(requests: &mut [RequestView]) {
    requests.sort_by_key(|r| (r.sent_at, r.request_id));
}

impl PhaseDiary {
    fn assemble(
        phase: u8,
        status: DiaryStatusView,
        opened_by: String,
        opened_at: DateTime<Utc>,
        entries: Vec<EntryView>,
        requests: Vec<RequestView>,
    ) -> PhaseDiary {
        let (by_figure, by_service) = totals(&entries);
        let live: Vec<&EntryView> = entries
            .iter()
            .filter(|e| e.state != EntryState::Withdrawn)
            .collect();
        PhaseDiary {
            phase,
            status,
            opened_by,
            opened_at,
            entries_count: live.len() as i64,
            minutes: live.iter().map(|e| e.minutes).sum(),
            confirmed_minutes: live
                .iter()
                .filter(|e| e.state == EntryState::Confirmed)
                .map(|e| e.minutes)
                .sum(),
            confirmed_cost_cents: live.iter().map(|e| e.cost_cents).sum(),
            totals_by_figure: by_figure,
            totals_by_service: by_service,
            pending_requests: requests
                .iter()
                .filter(|r| r.status == RequestStatusView::Pending)
                .cloned()
                .collect(),
            entries,
            requests,
        }
    }
}

/// Folds a case stream from the store up to (and including) `up_to_version`.
pub(crate) async fn load_state(
    store: &dyn EventStore,
    stream_id: &str,
    up_to_version: i64,
) -> Result<CaseState, ProjectionError> {
    let mut state = CaseState::default();
    for recorded in store.read_stream(stream_id, 1).await? {
        if recorded.stream_version > up_to_version {
            break;
        }
        state = evolve(state, &CaseEvent::decode(&recorded)?);
    }
    Ok(state)
}

/// [`case_diary`] with the alerts brought to `now`: the stored alerts are computed as of the
/// case's last event (so that the tables depend on the events only); a pending digital request
/// whose deadline has passed by `now` gets its `request-overdue` alert here (Art. 6), until
/// the scheduler records the expiry.
pub async fn case_diary_at(
    db: &Database,
    case_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<CaseDiary>, ProjectionError> {
    Ok(case_diary(db, case_id)
        .await?
        .map(|d| d.with_overdue_alerts(now)))
}

/// Read-your-writes variant for `GET /v1/cases/{id}` right after a write: the read model when
/// it already reflects `case` (a state folded by the write side), otherwise the view of `case`
/// itself (same structure, same values as the projection will write). Alerts brought to `now`.
/// `None` when the case is not opened.
pub async fn case_diary_consistent(
    db: &Database,
    case: &CaseState,
    catalogue: &Catalogue,
    now: DateTime<Utc>,
) -> Result<Option<CaseDiary>, ProjectionError> {
    let Some(file) = case.file.as_ref() else {
        return Ok(None);
    };
    let version = i64::try_from(case.version)
        .map_err(|_| ProjectionError::Corrupt(format!("case version {}", case.version)))?;
    let fresh = match case_diary(db, file.case_id).await? {
        Some(projected) if projected.version >= version => Some(projected),
        _ => CaseDiary::from_state(case, catalogue.get(&file.measure_id)),
    };
    let measure = catalogue.get(&file.measure_id);
    Ok(fresh.map(|d| d.with_overdue_alerts(now).with_voucher_status(measure, now)))
}

impl CaseDiary {
    /// The voucher's status as of `now` (Europe/Rome civil day).
    pub fn with_voucher_status(
        mut self,
        measure: Option<&diario_domain::Measure>,
        now: DateTime<Utc>,
    ) -> CaseDiary {
        let today = diario_domain::values::civil_date(now);
        self.voucher = self.voucher.map(|v| v.at(measure, today));
        self
    }

    /// Adds the domain's `request-overdue` alert for every request overdue at `now` (unless
    /// already present). Interrupted cases get none.
    pub fn with_overdue_alerts(mut self, now: DateTime<Utc>) -> CaseDiary {
        if self.status == CaseStatus::Interrupted {
            return self;
        }
        let overdue: Vec<(u8, Uuid, Vec<Uuid>)> = self
            .diaries
            .iter()
            .flat_map(|d| d.pending_requests.iter())
            .filter(|r| {
                is_overdue(
                    RequestStatus::from(r.status),
                    r.channel.into(),
                    r.deadline,
                    now,
                )
            })
            .map(|r| (r.phase, r.request_id, r.entry_ids.clone()))
            .collect();
        for (phase, request_id, entry_ids) in overdue {
            let already = self.alerts.iter().any(|a| {
                a.code == diario_domain::AlertCode::RequestOverdue.as_str()
                    && a.request_id == Some(request_id)
            });
            let Ok(phase) = diario_domain::Phase::try_from(phase) else {
                continue;
            };
            if !already {
                self.alerts.push(AlertView::of(
                    Alert::request_overdue(phase, request_id, entry_ids),
                    now,
                ));
            }
        }
        self
    }
}

/// The current diaries of a case from the read model (`GET /v1/cases/{id}`), or `None` when
/// the case is unknown (or not projected yet). Alerts are as of the case's last event; see
/// [`case_diary_at`] for alerts brought to the present.
pub async fn case_diary(
    db: &Database,
    case_id: Uuid,
) -> Result<Option<CaseDiary>, ProjectionError> {
    read_case_diary(&mut Source::Db(db), case_id).await
}

/// Where [`read_case_diary`] reads: the pool, or the projection's own transaction.
pub(crate) enum Source<'a> {
    Db(&'a Database),
    Tx(&'a mut Tx),
}

impl Source<'_> {
    async fn fetch_all(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>, ProjectionError> {
        Ok(match self {
            Source::Db(db) => db.fetch_all(sql, args).await?,
            Source::Tx(tx) => tx.fetch_all(sql, args).await?,
        })
    }
}

/// The case's view as the tables hold it.
pub(crate) async fn read_case_diary(
    src: &mut Source<'_>,
    case_id: Uuid,
) -> Result<Option<CaseDiary>, ProjectionError> {
    let Some(c) = src
        .fetch_all(
            "SELECT * FROM rm_cases WHERE case_id = $1",
            &[case_id.into()],
        )
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let mut entries: BTreeMap<u8, Vec<EntryView>> = BTreeMap::new();
    for r in src
        .fetch_all(
            "SELECT * FROM rm_entries WHERE case_id = $1",
            &[case_id.into()],
        )
        .await?
    {
        let e: EntryView = r.decode()?;
        entries.entry(e.phase).or_default().push(e);
    }
    let mut requests: BTreeMap<u8, Vec<RequestView>> = BTreeMap::new();
    for r in src
        .fetch_all(
            "SELECT * FROM rm_requests WHERE case_id = $1",
            &[case_id.into()],
        )
        .await?
    {
        let q: RequestView = r.decode()?;
        requests.entry(q.phase).or_default().push(q);
    }
    let mut diaries = Vec::new();
    for d in src
        .fetch_all(
            "SELECT * FROM rm_diaries WHERE case_id = $1 ORDER BY phase",
            &[case_id.into()],
        )
        .await?
    {
        let phase = d.u8("phase")?;
        let mut es = entries.remove(&phase).unwrap_or_default();
        sort_entries(&mut es);
        let mut rs = requests.remove(&phase).unwrap_or_default();
        sort_requests(&mut rs);
        diaries.push(PhaseDiary::assemble(
            phase,
            DiaryStatusView::parse(&d.text("status")?)?,
            d.text("opened_by")?,
            d.instant("opened_at")?,
            es,
            rs,
        ));
    }
    let mut alerts = Vec::new();
    for a in src
        .fetch_all(
            "SELECT * FROM rm_alerts WHERE case_id = $1 ORDER BY seq",
            &[case_id.into()],
        )
        .await?
    {
        alerts.push(a.decode()?);
    }
    let mut people = Vec::new();
    for p in src
        .fetch_all(
            "SELECT person, role, ente, figures FROM rm_case_people WHERE case_id = $1",
            &[case_id.into()],
        )
        .await?
    {
        people.push(CasePerson {
            person: p.text("person")?,
            role: p.text("role")?,
            ente: p.text("ente")?,
            figures: serde_json::from_str(&p.text("figures")?)
                .map_err(|e| ProjectionError::Corrupt(format!("rm_case_people.figures: {e}")))?,
        });
    }
    people.sort();
    Ok(Some(CaseDiary {
        diaries,
        alerts,
        people,
        ..c.decode()?
    }))
}
