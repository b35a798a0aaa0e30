//! The "case_diaries" projection: how it writes the tables of the current diaries — the rows
//! of one case view, the difference between the rows the tables hold and the new ones, the
//! per-ATS counters the dashboard reads (docs/projections.md) — and the follower that applies
//! the log to them with a cache of recently written cases.
//!
//! Writing only what changed keeps a batch's cost proportional to the events in it, not to the
//! size of the cases they touch: recording one entry in a case of 1,000 entries writes one entry
//! row, the case row, its phase row and the counters — not 1,000 rows. The counters make the ATS
//! dashboard a read of a few dozen rows whatever the number of cases (BENCHMARKS.md, growth).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use diario_domain::{CaseState, Catalogue, evolve};
use diario_log::follower::Prepared;
use diario_log::{EventStore, FollowError, Follower, RecordedEvent, StoreError, StreamId, Tx, Val};
use uuid::Uuid;

use crate::EntryState;
use crate::diaries::{CaseDiary, NAME, Source, TABLES, load_state, read_case_diary};

/// A counter of the ATS dashboard: `(ats, metric, k1, k2)`.
type CounterKey = (String, &'static str, String, String);

/// The counter metrics (stored in `rm_ats_counters.metric`).
pub(crate) mod metric {
    /// Cases by status (`k1` = status).
    pub const CASES: &str = "cases";
    /// Phase diaries by phase and status (`k1` = phase, `k2` = status).
    pub const DIARIES: &str = "diaries";
    /// Minutes of live entries by phase and figure.
    pub const MINUTES: &str = "minutes";
    /// Minutes of confirmed entries by phase and figure.
    pub const CONFIRMED_MINUTES: &str = "confirmed_minutes";
    /// Requests by status (`k1` = status).
    pub const REQUESTS: &str = "requests";
    /// Live entries registered late under an Art. 9 system failure.
    pub const LATE_ENTRIES: &str = "late_entries";
}

/// The rows of one case view, keyed the way the tables are.
#[derive(Debug, Clone, PartialEq)]
struct CaseRows {
    pub case_id: Uuid,
    pub case: Vec<Val>,
    pub diaries: Vec<Vec<Val>>,
    pub entries: BTreeMap<Uuid, Vec<Val>>,
    pub requests: BTreeMap<Uuid, Vec<Val>>,
    pub alerts: Vec<Vec<Val>>,
    pub people: Vec<Vec<Val>>,
    pub counters: BTreeMap<CounterKey, i64>,
}

impl CaseRows {
    /// The rows of `c` (column order as in the INSERT heads below).
    fn of(c: &CaseDiary) -> CaseRows {
        let mut counters: BTreeMap<CounterKey, i64> = BTreeMap::new();
        let mut count = |m: &'static str, k1: String, k2: String, n: i64| {
            if n != 0 {
                *counters.entry((c.ats.clone(), m, k1, k2)).or_default() += n;
            }
        };
        count(
            metric::CASES,
            c.status.as_str().to_owned(),
            String::new(),
            1,
        );
        let case = vec![
            c.case_id.into(),
            (&c.measure_id).into(),
            (&c.ats).into(),
            (&c.asst).into(),
            (&c.provider).into(),
            c.status.as_str().into(),
            (&c.recipient_pseudonym).into(),
            c.recipient_minor.into(),
            c.firmalom_enrolled.into(),
            (&c.responsabile_asst).into(),
            (&c.responsabile_provider).into(),
            (&c.case_manager).into(),
            c.opened_at.into(),
            c.interrupted_at.into(),
            serde_json::json!(c.interruption).into(),
            c.last_entry_at.into(),
            c.last_entry_date.into(),
            c.minutes.into(),
            c.confirmed_minutes.into(),
            c.confirmed_cost_cents.into(),
            c.version.into(),
            c.last_event_at.into(),
            serde_json::json!(c.voucher).into(),
        ];
        let mut diaries = Vec::new();
        let mut entries = BTreeMap::new();
        let mut requests = BTreeMap::new();
        for d in &c.diaries {
            count(
                metric::DIARIES,
                d.phase.to_string(),
                d.status.as_str().to_owned(),
                1,
            );
            diaries.push(vec![
                c.case_id.into(),
                i64::from(d.phase).into(),
                (&c.ats).into(),
                (&c.provider).into(),
                d.status.as_str().into(),
                (&d.opened_by).into(),
                d.opened_at.into(),
                d.entries_count.into(),
                d.minutes.into(),
                d.confirmed_minutes.into(),
                d.confirmed_cost_cents.into(),
            ]);
            for e in &d.entries {
                if e.state != EntryState::Withdrawn {
                    let (phase, figure) = (e.phase.to_string(), e.figure.clone());
                    count(metric::MINUTES, phase.clone(), figure.clone(), e.minutes);
                    if e.state == EntryState::Confirmed {
                        count(metric::CONFIRMED_MINUTES, phase, figure, e.minutes);
                    }
                    if e.system_failure_id.is_some() {
                        count(metric::LATE_ENTRIES, String::new(), String::new(), 1);
                    }
                }
                entries.insert(
                    e.entry_id,
                    vec![
                        e.entry_id.into(),
                        c.case_id.into(),
                        i64::from(e.phase).into(),
                        (&c.ats).into(),
                        (&c.provider).into(),
                        (&e.professional).into(),
                        (&e.figure).into(),
                        (&e.service).into(),
                        e.date.into(),
                        (&e.start).into(),
                        (&e.end).into(),
                        e.minutes.into(),
                        e.state.as_str().into(),
                        e.validated.into(),
                        e.revision.into(),
                        e.system_failure_id.into(),
                        e.cosigned_by.clone().into(),
                        e.recorded_at.into(),
                        e.request_id.into(),
                        e.unit_cost_cents.into(),
                        e.cost_cents.into(),
                        e.scan_check.clone().into(),
                    ],
                );
            }
            for r in &d.requests {
                count(
                    metric::REQUESTS,
                    r.status.as_str().to_owned(),
                    String::new(),
                    1,
                );
                requests.insert(
                    r.request_id,
                    vec![
                        r.request_id.into(),
                        c.case_id.into(),
                        i64::from(r.phase).into(),
                        (&c.ats).into(),
                        (&c.provider).into(),
                        r.channel.as_str().into(),
                        r.status.as_str().into(),
                        r.sent_at.into(),
                        r.deadline.into(),
                        r.times_sent.into(),
                        serde_json::json!(r.entry_ids).into(),
                        serde_json::json!(r.rejections).into(),
                        r.delivered_at.into(),
                        serde_json::json!(r.undelivered).into(),
                    ],
                );
            }
        }
        let alerts = c
            .alerts
            .iter()
            .enumerate()
            .map(|(seq, a)| {
                vec![
                    c.case_id.into(),
                    (seq as i64).into(),
                    (&a.code).into(),
                    a.phase.map(i64::from).into(),
                    a.request_id.into(),
                    serde_json::json!(a.entry_ids).into(),
                    (&a.message).into(),
                    a.as_of.into(),
                ]
            })
            .collect();
        let people = c
            .people
            .iter()
            .map(|p| {
                vec![
                    (&p.person).into(),
                    c.case_id.into(),
                    (&p.role).into(),
                    (&p.ente).into(),
                    serde_json::json!(p.figures).to_string().into(),
                ]
            })
            .collect();
        CaseRows {
            case_id: c.case_id,
            case,
            diaries,
            entries,
            requests,
            alerts,
            people,
            counters,
        }
    }
}

/// What the tables hold for a case before the batch.
enum Base {
    /// Exactly these rows (known from the cache, or no rows at all before version 1).
    Known(Option<CaseRows>),
    /// These rows, read back from the tables: rewrite the case's rows whole.
    Read(Option<CaseRows>),
}

/// The writes of one batch, gathered over every case it touched.
#[derive(Default)]
struct BatchWrite {
    delete_cases: Vec<Val>,
    delete_case_diaries: Vec<Val>,
    delete_case_entries: Vec<Val>,
    delete_case_requests: Vec<Val>,
    delete_case_alerts: Vec<Val>,
    delete_case_people: Vec<Val>,
    delete_entries: Vec<Val>,
    delete_requests: Vec<Val>,
    cases: Vec<Vec<Val>>,
    diaries: Vec<Vec<Val>>,
    entries: Vec<Vec<Val>>,
    requests: Vec<Vec<Val>>,
    alerts: Vec<Vec<Val>>,
    people: Vec<Vec<Val>>,
    counters: BTreeMap<CounterKey, i64>,
}

impl BatchWrite {
    /// Adds the change of one case from `base` to `new` (`None`: the case has no view).
    fn change(&mut self, base: &Base, new: Option<&CaseRows>) {
        let (old, whole) = match base {
            Base::Known(old) => (old.as_ref(), false),
            Base::Read(old) => (old.as_ref(), true),
        };
        if let Some(o) = old {
            for (k, n) in &o.counters {
                *self.counters.entry(k.clone()).or_default() -= n;
            }
        }
        if let Some(n) = new {
            for (k, v) in &n.counters {
                *self.counters.entry(k.clone()).or_default() += v;
            }
        }
        if whole {
            if let Some(o) = old {
                let id = Val::from(o.case_id);
                self.delete_cases.push(id.clone());
                self.delete_case_diaries.push(id.clone());
                self.delete_case_entries.push(id.clone());
                self.delete_case_requests.push(id.clone());
                self.delete_case_people.push(id.clone());
                self.delete_case_alerts.push(id);
            }
            if let Some(n) = new {
                self.cases.push(n.case.clone());
                self.diaries.extend(n.diaries.iter().cloned());
                self.entries.extend(n.entries.values().cloned());
                self.requests.extend(n.requests.values().cloned());
                self.alerts.extend(n.alerts.iter().cloned());
                self.people.extend(n.people.iter().cloned());
            }
            return;
        }
        let empty = CaseRows {
            case_id: new.or(old).map(|r| r.case_id).unwrap_or_default(),
            case: Vec::new(),
            diaries: Vec::new(),
            entries: BTreeMap::new(),
            requests: BTreeMap::new(),
            alerts: Vec::new(),
            people: Vec::new(),
            counters: BTreeMap::new(),
        };
        let (o, n) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
        let id = Val::from(n.case_id);
        if o.case != n.case {
            if !o.case.is_empty() {
                self.delete_cases.push(id.clone());
            }
            if !n.case.is_empty() {
                self.cases.push(n.case.clone());
            }
        }
        if o.diaries != n.diaries {
            if !o.diaries.is_empty() {
                self.delete_case_diaries.push(id.clone());
            }
            self.diaries.extend(n.diaries.iter().cloned());
        }
        if o.alerts != n.alerts {
            if !o.alerts.is_empty() {
                self.delete_case_alerts.push(id.clone());
            }
            self.alerts.extend(n.alerts.iter().cloned());
        }
        if o.people != n.people {
            if !o.people.is_empty() {
                self.delete_case_people.push(id.clone());
            }
            self.people.extend(n.people.iter().cloned());
        }
        diff_keyed(
            &o.entries,
            &n.entries,
            &mut self.delete_entries,
            &mut self.entries,
        );
        diff_keyed(
            &o.requests,
            &n.requests,
            &mut self.delete_requests,
            &mut self.requests,
        );
    }

    /// Writes everything: deletes first, then multi-row inserts, then the counters.
    async fn write(self, tx: &mut Tx) -> Result<(), StoreError> {
        let deletes = [
            ("rm_alerts", "case_id", &self.delete_case_alerts),
            ("rm_case_people", "case_id", &self.delete_case_people),
            ("rm_requests", "case_id", &self.delete_case_requests),
            ("rm_requests", "request_id", &self.delete_requests),
            ("rm_entries", "case_id", &self.delete_case_entries),
            ("rm_entries", "entry_id", &self.delete_entries),
            ("rm_diaries", "case_id", &self.delete_case_diaries),
            ("rm_cases", "case_id", &self.delete_cases),
        ];
        for (table, column, keys) in deletes {
            tx.delete_in(table, column, keys).await?;
        }
        let inserts = [
            (
                "INSERT INTO rm_cases (case_id, measure_id, ats, asst, provider, status, \
                 recipient_pseudonym, recipient_minor, firmalom_enrolled, responsabile_asst, \
                 responsabile_provider, case_manager, opened_at, interrupted_at, interruption, last_entry_at, \
                 last_entry_date, minutes, confirmed_minutes, confirmed_cost_cents, version, \
                 last_event_at, voucher)",
                &self.cases,
            ),
            (
                "INSERT INTO rm_diaries (case_id, phase, ats, provider, status, opened_by, \
                 opened_at, entries, minutes, confirmed_minutes, confirmed_cost_cents)",
                &self.diaries,
            ),
            (
                "INSERT INTO rm_entries (entry_id, case_id, phase, ats, provider, professional, \
                 figure, service, service_date, start_time, end_time, minutes, state, validated, \
                 revision, system_failure_id, cosigned_by, recorded_at, request_id, unit_cost_cents, \
                 cost_cents, scan_check)",
                &self.entries,
            ),
            (
                "INSERT INTO rm_requests (request_id, case_id, phase, ats, provider, channel, \
                 status, sent_at, deadline, times_sent, entry_ids, rejections, delivered_at, \
                 undelivered)",
                &self.requests,
            ),
            (
                "INSERT INTO rm_alerts (case_id, seq, code, phase, request_id, entry_ids, \
                 message, as_of)",
                &self.alerts,
            ),
            (
                "INSERT INTO rm_case_people (person, case_id, role, ente, figures)",
                &self.people,
            ),
        ];
        for (head, rows) in inserts {
            tx.insert_rows(head, rows).await?;
        }
        let counters: Vec<Vec<Val>> = self
            .counters
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|((ats, m, k1, k2), n)| vec![ats.into(), m.into(), k1.into(), k2.into(), n.into()])
            .collect();
        if !counters.is_empty() {
            tx.insert_rows_then(
                "INSERT INTO rm_ats_counters (ats, metric, k1, k2, n)",
                &counters,
                " ON CONFLICT (ats, metric, k1, k2) DO UPDATE SET n = rm_ats_counters.n + excluded.n",
            )
            .await?;
            // A counter back at zero is no counter: the table then depends on the events only,
            // not on where batches happened to split them.
            tx.exec("DELETE FROM rm_ats_counters WHERE n = 0", &[])
                .await?;
        }
        Ok(())
    }
}

/// Rows keyed by id: delete the ones gone or changed, insert the ones new or changed.
fn diff_keyed(
    old: &BTreeMap<Uuid, Vec<Val>>,
    new: &BTreeMap<Uuid, Vec<Val>>,
    deletes: &mut Vec<Val>,
    inserts: &mut Vec<Vec<Val>>,
) {
    for (id, row) in old {
        if new.get(id) != Some(row) {
            deletes.push((*id).into());
        }
    }
    for (id, row) in new {
        if old.get(id) != Some(row) {
            inserts.push(row.clone());
        }
    }
}

/// The "case_diaries" projection: tables `rm_cases`, `rm_diaries`, `rm_entries`,
/// `rm_requests`, `rm_alerts` and the dashboard counters `rm_ats_counters`.
pub struct CaseDiaries {
    catalogue: Catalogue,
    /// Recently written cases: their folded state and the rows written for it, keyed by
    /// version. Valid whatever happened to transactions: both are functions of the case's
    /// events up to that version, and the tables hold exactly those rows whenever the
    /// checkpoint sits between that version and the next (see [`CaseDiaries::base`]).
    cache: Mutex<Cache>,
    /// States folded by `prepare` for the batch about to be applied (cases neither cached nor
    /// new): `apply` takes them, and reads back what the tables hold for them.
    prepared: Prepared<HashMap<Uuid, CaseState>>,
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
    state: CaseState,
    /// Exactly the rows the tables hold for this version (`None`: the case has no view).
    rows: Option<CaseRows>,
    used: u64,
}

fn version_of(state: &CaseState) -> Result<i64, FollowError> {
    i64::try_from(state.version)
        .map_err(|_| FollowError::Corrupt(format!("case version {} too large", state.version)))
}

impl Cache {
    /// Takes the case out if it is cached at `version`.
    fn take(&mut self, case_id: Uuid, version: i64) -> Option<(CaseState, Option<CaseRows>)> {
        let hit = self.cases.remove(&case_id)?;
        (u64::try_from(version) == Ok(hit.state.version)).then_some((hit.state, hit.rows))
    }

    fn has(&self, case_id: Uuid, version: i64) -> bool {
        self.cases
            .get(&case_id)
            .is_some_and(|c| u64::try_from(version) == Ok(c.state.version))
    }

    fn put(&mut self, case_id: Uuid, state: CaseState, rows: Option<CaseRows>) {
        self.tick += 1;
        let used = self.tick;
        self.cases.insert(case_id, Cached { state, rows, used });
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
    state: CaseState,
    base: Base,
}

impl CaseDiaries {
    /// Over the measure catalogue (unit costs, caps, alerts).
    pub fn new(catalogue: Catalogue) -> Self {
        CaseDiaries {
            catalogue,
            cache: Mutex::new(Cache::default()),
            prepared: Prepared::default(),
        }
    }

    fn rows(&self, state: &CaseState) -> Option<CaseRows> {
        let measure = state
            .file
            .as_ref()
            .and_then(|f| self.catalogue.get(&f.measure_id));
        CaseDiary::from_state(state, measure).map(|v| CaseRows::of(&v))
    }

    /// The case's state before its first event in this batch (`version` - 1), and what the
    /// tables hold for it. The batch starts right after the checkpoint, and a stream's events
    /// are in the global log in version order, so the tables hold the case as of exactly
    /// `version - 1`: nothing before version 1, the cached rows when the cache has that
    /// version, otherwise whatever the tables say (read back, and rewritten whole) for the
    /// state `prepare` folded.
    async fn base(&self, tx: &mut Tx, case_id: Uuid, version: i64) -> Result<Touched, FollowError> {
        if version <= 1 {
            return Ok(Touched {
                state: CaseState::default(),
                base: Base::Known(None),
            });
        }
        let cached = self
            .cache
            .lock()
            .map_err(|_| FollowError::Corrupt("case cache poisoned".into()))?
            .take(case_id, version - 1);
        if let Some((state, rows)) = cached {
            return Ok(Touched {
                state,
                base: Base::Known(rows),
            });
        }
        let state = self
            .prepared
            .with(|m| m.remove(&case_id))?
            .filter(|s| u64::try_from(version - 1) == Ok(s.version))
            .ok_or_else(|| {
                FollowError::Corrupt(format!(
                    "case {case_id}: version {} was not prepared for this batch",
                    version - 1
                ))
            })?;
        let held = read_case_diary(&mut Source::Tx(tx), case_id)
            .await
            .map_err(|e| FollowError::Corrupt(e.to_string()))?
            .map(|v| CaseRows::of(&v));
        Ok(Touched {
            state,
            base: Base::Read(held),
        })
    }
}

#[async_trait]
impl Follower for CaseDiaries {
    diario_log::follower_spec!(NAME, &TABLES);

    /// Folds, through the pool, the cases whose state before this batch is neither cached nor
    /// empty (their first event in the batch is not version 1).
    async fn prepare(
        &self,
        events: &[RecordedEvent],
        store: &dyn EventStore,
    ) -> Result<(), FollowError> {
        let mut seen = HashSet::new();
        let mut prepared = HashMap::new();
        for e in events {
            let Some(case_id) = StreamId::case_of(&e.stream_id) else {
                continue;
            };
            if !seen.insert(case_id) {
                continue;
            }
            let before = e.stream_version - 1;
            let cached = self.cache.lock().is_ok_and(|c| c.has(case_id, before));
            if before >= 1 && !cached {
                let state = load_state(store, &e.stream_id, before)
                    .await
                    .map_err(|e| FollowError::Corrupt(e.to_string()))?;
                prepared.insert(case_id, state);
            }
        }
        self.prepared.set(prepared)
    }

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        let mut touched: HashMap<Uuid, Touched> = HashMap::new();
        let mut order: Vec<Uuid> = Vec::new();
        for recorded in events {
            let Some(case_id) = StreamId::case_of(&recorded.stream_id) else {
                continue;
            };
            let v = recorded.stream_version;
            let mut case = match touched.remove(&case_id) {
                Some(t) if version_of(&t.state)? == v - 1 => t,
                Some(_) => {
                    return Err(FollowError::Corrupt(format!(
                        "case {case_id}: version {v} out of order in the log"
                    )));
                }
                None => {
                    order.push(case_id);
                    self.base(tx, case_id, v).await?
                }
            };
            case.state = evolve(case.state, recorded.case_event()?);
            touched.insert(case_id, case);
        }
        let mut write = BatchWrite::default();
        let mut written = Vec::with_capacity(order.len());
        for case_id in order {
            let Some(case) = touched.remove(&case_id) else {
                continue;
            };
            let rows = self.rows(&case.state);
            write.change(&case.base, rows.as_ref());
            written.push((case_id, case.state, rows));
        }
        write.write(tx).await?;
        if let Ok(mut cache) = self.cache.lock() {
            for (case_id, state, rows) in written {
                cache.put(case_id, state, rows);
            }
        }
        Ok(())
    }
}
