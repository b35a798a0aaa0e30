//! Read model 1, "current diaries": per case and phase the status, entries with their state,
//! totals per figure and service, confirmation requests and alerts.
//!
//! The rows of a case are a pure function of the case's folded state (`diario_domain::fold`):
//! for each batch the projection folds every touched case up to the last version in the batch
//! and rewrites that case's rows. The same [`CaseDiary::from_state`] builds the answer of
//! `history_as_of`, so the read model and a replay agree by construction, and a rebuild (or a
//! runner that took over mid-stream) produces identical rows whatever the batch boundaries.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use diario_commands::codec::decode_case_event;
use diario_commands::{Database, EventStore, RecordedEvent};
use diario_domain::case::state::{ConfirmationChannel, DiaryStatus, RequestStatus};
use diario_domain::{CaseState, Cents, Measure, alerts, evolve};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;
use crate::diary_rows::{Base, BatchWrite, CaseRows};
use crate::runner::Projection;
use crate::sql::{Row, Tx, fetch_all};

/// Projection name.
pub const NAME: &str = "case_diaries";

/// The state of an entry as the read model shows it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Recorded, editable, not yet validated or sent.
    Draft,
    /// Validated by the responsabile (phases I–II).
    Validated,
    /// In a pending confirmation request or paper diary.
    Pending,
    /// Confirmed by the recipient (final).
    Confirmed,
    /// Rejected in the last answered request.
    Rejected,
    /// Its last request expired (or was ended by an interruption) and it was not changed since.
    Expired,
    /// Withdrawn by its author.
    Withdrawn,
}

impl EntryState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Draft => "draft",
            EntryState::Validated => "validated",
            EntryState::Pending => "pending",
            EntryState::Confirmed => "confirmed",
            EntryState::Rejected => "rejected",
            EntryState::Expired => "expired",
            EntryState::Withdrawn => "withdrawn",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<EntryState> {
        Some(match s {
            "draft" => EntryState::Draft,
            "validated" => EntryState::Validated,
            "pending" => EntryState::Pending,
            "confirmed" => EntryState::Confirmed,
            "rejected" => EntryState::Rejected,
            "expired" => EntryState::Expired,
            "withdrawn" => EntryState::Withdrawn,
            _ => return None,
        })
    }
}

/// One entry (stringa).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryView {
    pub entry_id: Uuid,
    pub phase: u8,
    /// Author's fiscal code.
    pub professional: String,
    pub figure: String,
    pub service: String,
    pub date: NaiveDate,
    /// `HH:MM`, Europe/Rome.
    pub start: String,
    /// `HH:MM`, Europe/Rome.
    pub end: String,
    pub minutes: i64,
    pub state: EntryState,
    pub validated: bool,
    pub revision: i64,
    /// Art. 9 failure relied on for a late registration.
    pub system_failure_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
    /// The pending request, or else the last request that included the entry.
    pub request_id: Option<Uuid>,
    /// €/hour of the figure in cents, when the measure has one.
    pub unit_cost_cents: Option<i64>,
    /// Confirmed entries: minutes × unit cost, rounded half-up per entry; 0 otherwise.
    pub cost_cents: i64,
}

/// A confirmation request (digital) or paper diary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestView {
    pub request_id: Uuid,
    pub phase: u8,
    /// `firmalom` or `paper`.
    pub channel: String,
    /// `pending`, `confirmed`, `rejected`, `expired`, `ended`.
    pub status: String,
    pub sent_at: DateTime<Utc>,
    /// Answer deadline (digital requests).
    pub deadline: Option<DateTime<Utc>>,
    pub times_sent: i64,
    pub entry_ids: Vec<Uuid>,
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
    /// `open`, `closed`, `handed_to_ats`.
    pub status: String,
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
    /// `open`, `completed` (every phase of the measure handed to ATS), `interrupted`.
    pub status: String,
    pub recipient_pseudonym: String,
    pub recipient_minor: bool,
    pub firmalom_enrolled: bool,
    pub responsabile_asst: String,
    pub responsabile_provider: String,
    pub case_manager: String,
    pub opened_at: DateTime<Utc>,
    pub interrupted_at: Option<DateTime<Utc>>,
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
    pub diaries: Vec<PhaseDiary>,
    pub alerts: Vec<AlertView>,
}

fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn channel_str(c: ConfirmationChannel) -> &'static str {
    match c {
        ConfirmationChannel::Firmalom => "firmalom",
        ConfirmationChannel::Paper => "paper",
    }
}

fn request_status_str(s: RequestStatus) -> &'static str {
    match s {
        RequestStatus::Pending => "pending",
        RequestStatus::Confirmed => "confirmed",
        RequestStatus::Rejected => "rejected",
        RequestStatus::Expired => "expired",
        RequestStatus::Ended => "ended",
    }
}

fn diary_status_str(s: DiaryStatus) -> &'static str {
    match s {
        DiaryStatus::Open => "open",
        DiaryStatus::Closed => "closed",
        DiaryStatus::HandedToAts => "handed_to_ats",
    }
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
    pub fn from_state(folded: &Folded, measure: Option<&Measure>) -> Option<CaseDiary> {
        let state = &folded.state;
        let file = state.file.as_ref()?;
        let last_event_at = folded.last_event_at?;
        let last_event_at = micros(last_event_at);
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
            let unit = measure.and_then(|m| m.hourly_cost(&e.figure));
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
                    start: e.slot.start.format("%H:%M").to_string(),
                    end: e.slot.end.format("%H:%M").to_string(),
                    minutes: i(minutes),
                    state,
                    validated: e.validated,
                    revision: i64::from(e.revision),
                    system_failure_id: e.system_failure_id,
                    recorded_at: micros(e.recorded_at),
                    request_id: e.pending_request.or(last_request.map(|r| r.id)),
                    unit_cost_cents: unit.map(|c| c.0),
                    cost_cents: cost,
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
                    channel: channel_str(r.channel).to_owned(),
                    status: request_status_str(r.status).to_owned(),
                    sent_at: micros(r.sent_at),
                    deadline: r.deadline.map(micros),
                    times_sent: i64::from(r.times_sent),
                    entry_ids: r.entries.keys().copied().collect(),
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
                diary_status_str(d.status).to_owned(),
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
            "interrupted"
        } else if measure.is_some_and(|m| {
            !m.phases.is_empty()
                && m.phases.iter().all(|p| {
                    file.diaries
                        .get(&p.phase)
                        .is_some_and(|d| d.status == DiaryStatus::HandedToAts)
                })
        }) {
            "completed"
        } else {
            "open"
        };
        let alerts = measure
            .map(|m| alerts(state, m, last_event_at))
            .unwrap_or_default()
            .into_iter()
            .map(|a| AlertView {
                code: serde_json::to_value(a.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                phase: a.phase.map(|p| p.number()),
                request_id: a.request_id,
                entry_ids: a.entry_ids,
                message: a.message,
                as_of: last_event_at,
            })
            .collect();
        Some(CaseDiary {
            case_id: file.case_id,
            measure_id: file.measure_id.as_str().to_owned(),
            ats: file.ats.clone(),
            asst: file.asst.clone(),
            provider: file.provider.clone(),
            status: status.to_owned(),
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
            opened_at: micros(folded.opened_at.unwrap_or(last_event_at)),
            interrupted_at: file.interrupted_at.map(micros),
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
        })
    }
}

/// A case stream folded with `diario_domain::evolve`, plus the two instants `CaseState` does
/// not keep (when the case was opened, when the last event happened).
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// The domain state.
    pub state: CaseState,
    /// `at` of `CaseOpened`.
    pub opened_at: Option<DateTime<Utc>>,
    /// `at` of the last event folded.
    pub last_event_at: Option<DateTime<Utc>>,
}

impl Folded {
    /// Folds one more event.
    pub fn apply(&mut self, event: &diario_domain::CaseEvent) {
        if let diario_domain::CaseEvent::CaseOpened { at, .. } = event {
            self.opened_at = Some(*at);
        }
        self.last_event_at = Some(event.at());
        self.state = evolve(std::mem::take(&mut self.state), event);
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
        status: String,
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
                .filter(|r| r.status == "pending")
                .cloned()
                .collect(),
            entries,
            requests,
        }
    }
}

pub use diario_commands::codec::case_id_of;

/// Folds a case stream from the store up to (and including) `up_to_version`.
pub(crate) async fn load_folded(
    store: &dyn EventStore,
    stream_id: &str,
    up_to_version: i64,
) -> Result<Folded, ProjectionError> {
    let mut folded = Folded::default();
    for recorded in store.read_stream(stream_id, 1).await? {
        if recorded.stream_version > up_to_version {
            break;
        }
        folded.apply(&decode_case_event(&recorded)?);
    }
    Ok(folded)
}

/// The "case_diaries" projection: tables `rm_cases`, `rm_diaries`, `rm_entries`,
/// `rm_requests`, `rm_alerts` and the dashboard counters `rm_ats_counters`.
pub struct CaseDiaries {
    measures: Vec<Measure>,
    /// Recently written cases: their folded state and the rows written for it, keyed by
    /// version. Valid whatever happened to transactions: both are functions of the case's
    /// events up to that version, and the tables hold exactly those rows whenever the
    /// checkpoint sits between that version and the next (see [`CaseDiaries::base`]).
    cache: Mutex<Cache>,
}

/// Cases kept in memory (least recently written evicted first). A rebuild needs only the few
/// cases a batch boundary cuts through; the live runner, the cases being worked on.
const CACHE_LIMIT: usize = 1_000;

#[derive(Default)]
struct Cache {
    cases: HashMap<Uuid, Cached>,
    tick: u64,
}

struct Cached {
    folded: Folded,
    rows: Held,
    used: u64,
}

/// What the tables hold for a cached case version.
enum Held {
    /// Exactly these rows (`None`: the case has no view).
    Known(Option<CaseRows>),
    /// Folded ahead of the transaction (`prepare`): the rows are read back in it.
    Unknown,
}

impl Cache {
    /// Takes the case out if it is cached at `version`.
    fn take(&mut self, case_id: Uuid, version: i64) -> Option<(Folded, Held)> {
        let hit = self.cases.remove(&case_id)?;
        (i(hit.folded.state.version) == version).then_some((hit.folded, hit.rows))
    }

    fn has(&self, case_id: Uuid, version: i64) -> bool {
        self.cases
            .get(&case_id)
            .is_some_and(|c| i(c.folded.state.version) == version)
    }

    fn put(&mut self, case_id: Uuid, folded: Folded, rows: Held) {
        self.tick += 1;
        let used = self.tick;
        self.cases.insert(case_id, Cached { folded, rows, used });
        if self.cases.len() > CACHE_LIMIT {
            // Drop the least recently written half.
            let mut ticks: Vec<u64> = self.cases.values().map(|c| c.used).collect();
            ticks.sort_unstable();
            let cut = ticks[ticks.len() / 2];
            self.cases.retain(|_, c| c.used > cut);
        }
    }
}

/// A case being applied in a batch: its state so far and what the tables held before.
struct Touched {
    folded: Folded,
    base: Base,
}

impl CaseDiaries {
    /// With the given measure catalogues (for unit costs, caps and alerts).
    pub fn new(measures: Vec<Measure>) -> Self {
        CaseDiaries {
            measures,
            cache: Mutex::new(Cache::default()),
        }
    }

    fn measure(&self, id: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.id.as_str() == id)
    }

    fn rows(&self, folded: &Folded) -> Option<CaseRows> {
        let measure = folded
            .state
            .file
            .as_ref()
            .and_then(|f| self.measure(f.measure_id.as_str()));
        CaseDiary::from_state(folded, measure).map(|v| CaseRows::of(&v))
    }

    /// The case's state before its first event in this batch (`version` - 1), and what the
    /// tables hold for it. The batch starts right after the checkpoint, and a stream's events
    /// are in the global log in version order, so the tables hold the case as of exactly
    /// `version - 1`: nothing before version 1, the cached rows when the cache has that
    /// version, otherwise whatever the tables say (read back, and rewritten whole).
    async fn base(
        &self,
        store: &dyn EventStore,
        tx: &mut Tx,
        stream_id: &str,
        case_id: Uuid,
        version: i64,
    ) -> Result<Touched, ProjectionError> {
        let cached = match self.cache.lock() {
            Ok(mut c) => c.take(case_id, version - 1),
            Err(_) => None,
        };
        let folded = match cached {
            Some((folded, Held::Known(rows))) => {
                return Ok(Touched {
                    folded,
                    base: Base::Known(rows),
                });
            }
            Some((folded, Held::Unknown)) => folded,
            None if version <= 1 => {
                return Ok(Touched {
                    folded: Folded::default(),
                    base: Base::Known(None),
                });
            }
            // Not prepared (evicted meanwhile): read the stream now, through the pool.
            None => load_folded(store, stream_id, version - 1).await?,
        };
        let held = read_case_diary(&mut Source::Tx(tx), case_id)
            .await?
            .map(|v| CaseRows::of(&v));
        Ok(Touched {
            folded,
            base: Base::Read(held),
        })
    }
}

#[async_trait]
impl Projection for CaseDiaries {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "rm_alerts",
            "rm_requests",
            "rm_entries",
            "rm_diaries",
            "rm_cases",
            "rm_ats_counters",
        ]
    }

    /// Folds, through the pool, the cases whose state before this batch is neither cached nor
    /// empty (their first event in the batch is not version 1).
    async fn prepare(
        &self,
        events: &[RecordedEvent],
        store: &dyn EventStore,
    ) -> Result<(), ProjectionError> {
        let mut seen = std::collections::HashSet::new();
        let mut first: Vec<(Uuid, &RecordedEvent)> = Vec::new();
        for e in events {
            if let Some(case_id) = case_id_of(&e.stream_id)
                && seen.insert(case_id)
            {
                first.push((case_id, e));
            }
        }
        for (case_id, e) in first {
            let before = e.stream_version - 1;
            let known = before < 1 || self.cache.lock().is_ok_and(|c| c.has(case_id, before));
            if !known {
                let folded = load_folded(store, &e.stream_id, before).await?;
                if let Ok(mut cache) = self.cache.lock() {
                    cache.put(case_id, folded, Held::Unknown);
                }
            }
        }
        Ok(())
    }

    async fn apply(
        &self,
        events: &[RecordedEvent],
        store: &dyn EventStore,
        tx: &mut Tx,
    ) -> Result<(), ProjectionError> {
        let mut touched: HashMap<Uuid, Touched> = HashMap::new();
        let mut order: Vec<Uuid> = Vec::new();
        for recorded in events {
            let Some(case_id) = case_id_of(&recorded.stream_id) else {
                continue;
            };
            let v = recorded.stream_version;
            let mut case = match touched.remove(&case_id) {
                Some(t) if i(t.folded.state.version) == v - 1 => t,
                Some(_) => {
                    return Err(ProjectionError::Corrupt(format!(
                        "case {case_id}: version {v} out of order in the log"
                    )));
                }
                None => {
                    order.push(case_id);
                    self.base(store, tx, &recorded.stream_id, case_id, v)
                        .await?
                }
            };
            case.folded.apply(&decode_case_event(recorded)?);
            touched.insert(case_id, case);
        }
        let mut write = BatchWrite::default();
        let mut written = Vec::with_capacity(order.len());
        for case_id in order {
            let Some(case) = touched.remove(&case_id) else {
                continue;
            };
            let rows = self.rows(&case.folded);
            write.change(&case.base, rows.as_ref());
            written.push((case_id, case.folded, rows));
        }
        write.write(tx).await?;
        if let Ok(mut cache) = self.cache.lock() {
            for (case_id, folded, rows) in written {
                cache.put(case_id, folded, Held::Known(rows));
            }
        }
        Ok(())
    }
}

pub(crate) fn entry_from_row(r: &Row) -> Result<EntryView, ProjectionError> {
    let state = r.text("state")?;
    Ok(EntryView {
        entry_id: r.uuid("entry_id")?,
        phase: u8::try_from(r.i64("phase")?).unwrap_or(0),
        professional: r.text("professional")?,
        figure: r.text("figure")?,
        service: r.text("service")?,
        date: r.date("service_date")?,
        start: r.text("start_time")?,
        end: r.text("end_time")?,
        minutes: r.i64("minutes")?,
        state: EntryState::parse(&state)
            .ok_or_else(|| ProjectionError::Corrupt(format!("entry state {state:?}")))?,
        validated: r.bool("validated")?,
        revision: r.i64("revision")?,
        system_failure_id: r.opt_uuid("system_failure_id")?,
        recorded_at: r.instant("recorded_at")?,
        request_id: r.opt_uuid("request_id")?,
        unit_cost_cents: r.opt_i64("unit_cost_cents")?,
        cost_cents: r.i64("cost_cents")?,
    })
}

pub(crate) fn request_from_row(r: &Row) -> Result<RequestView, ProjectionError> {
    Ok(RequestView {
        request_id: r.uuid("request_id")?,
        phase: u8::try_from(r.i64("phase")?).unwrap_or(0),
        channel: r.text("channel")?,
        status: r.text("status")?,
        sent_at: r.instant("sent_at")?,
        deadline: r.opt_instant("deadline")?,
        times_sent: r.i64("times_sent")?,
        entry_ids: r.uuids("entry_ids")?,
    })
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
/// it already reflects the stream's head version, otherwise the case replayed from the event
/// store (same structure, same values as the projection will write). Alerts brought to `now`.
pub async fn case_diary_consistent(
    db: &Database,
    store: &dyn EventStore,
    case_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<CaseDiary>, ProjectionError> {
    let head = store
        .stream_head(&diario_commands::codec::case_stream(case_id))
        .await?
        .map(|h| h.version);
    let projected = case_diary(db, case_id).await?;
    let fresh = match (&projected, head) {
        (_, None) => return Ok(None),
        (Some(p), Some(v)) if p.version >= v => projected,
        _ => {
            let folded = load_folded(
                store,
                &diario_commands::codec::case_stream(case_id),
                i64::MAX,
            )
            .await?;
            let measure = folded
                .state
                .file
                .as_ref()
                .and_then(|f| crate::catalogue().iter().find(|m| m.id == f.measure_id));
            CaseDiary::from_state(&folded, measure)
        }
    };
    Ok(fresh.map(|d| d.with_overdue_alerts(now)))
}

impl CaseDiary {
    /// Adds `request-overdue` alerts for pending digital requests past their deadline at `now`
    /// (unless already present). Interrupted cases get none.
    pub fn with_overdue_alerts(mut self, now: DateTime<Utc>) -> CaseDiary {
        if self.status == "interrupted" {
            return self;
        }
        let overdue: Vec<RequestView> = self
            .diaries
            .iter()
            .flat_map(|d| d.pending_requests.iter())
            .filter(|r| r.channel == "firmalom" && r.deadline.is_some_and(|d| now > d))
            .cloned()
            .collect();
        for r in overdue {
            let already = self
                .alerts
                .iter()
                .any(|a| a.code == "request-overdue" && a.request_id == Some(r.request_id));
            if !already {
                self.alerts.push(AlertView {
                    code: "request-overdue".to_owned(),
                    phase: Some(r.phase),
                    request_id: Some(r.request_id),
                    entry_ids: r.entry_ids.clone(),
                    message: "Art. 6: richiesta scaduta senza risposta / request past its deadline"
                        .to_owned(),
                    as_of: now,
                });
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
    async fn fetch_all(
        &mut self,
        sql: &str,
        args: &[crate::sql::Val],
    ) -> Result<Vec<Row>, ProjectionError> {
        match self {
            Source::Db(db) => fetch_all(db, sql, args).await,
            Source::Tx(tx) => tx.fetch_all(sql, args).await,
        }
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
        let e = entry_from_row(&r)?;
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
        let q = request_from_row(&r)?;
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
        let phase = u8::try_from(d.i64("phase")?).unwrap_or(0);
        let mut es = entries.remove(&phase).unwrap_or_default();
        sort_entries(&mut es);
        let mut rs = requests.remove(&phase).unwrap_or_default();
        sort_requests(&mut rs);
        diaries.push(PhaseDiary::assemble(
            phase,
            d.text("status")?,
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
        alerts.push(AlertView {
            code: a.text("code")?,
            phase: a.opt_i64("phase")?.and_then(|p| u8::try_from(p).ok()),
            request_id: a.opt_uuid("request_id")?,
            entry_ids: a.uuids("entry_ids")?,
            message: a.text("message")?,
            as_of: a.instant("as_of")?,
        });
    }
    Ok(Some(CaseDiary {
        case_id,
        measure_id: c.text("measure_id")?,
        ats: c.text("ats")?,
        asst: c.text("asst")?,
        provider: c.text("provider")?,
        status: c.text("status")?,
        recipient_pseudonym: c.text("recipient_pseudonym")?,
        recipient_minor: c.bool("recipient_minor")?,
        firmalom_enrolled: c.bool("firmalom_enrolled")?,
        responsabile_asst: c.text("responsabile_asst")?,
        responsabile_provider: c.text("responsabile_provider")?,
        case_manager: c.text("case_manager")?,
        opened_at: c.instant("opened_at")?,
        interrupted_at: c.opt_instant("interrupted_at")?,
        last_entry_at: c.opt_instant("last_entry_at")?,
        last_entry_date: c.opt_date("last_entry_date")?,
        minutes: c.i64("minutes")?,
        confirmed_minutes: c.i64("confirmed_minutes")?,
        confirmed_cost_cents: c.i64("confirmed_cost_cents")?,
        version: c.i64("version")?,
        last_event_at: c.instant("last_event_at")?,
        diaries,
        alerts,
    }))
}
