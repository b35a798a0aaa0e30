//! How the "case_diaries" projection writes its tables: the rows of one case view, the
//! difference between the rows the tables hold and the new ones, and the per-ATS counters the
//! dashboard reads (DESIGN §5, docs/projections.md).
//!
//! Writing only what changed keeps a batch's cost proportional to the events in it, not to the
//! size of the cases they touch: recording one entry in a case of 1,000 entries writes one entry
//! row, the case row, its phase row and the counters — not 1,000 rows. The counters make the ATS
//! dashboard a read of a few dozen rows whatever the number of cases (BENCHMARKS.md, growth).

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::ProjectionError;
use crate::diaries::CaseDiary;
use crate::sql::{Tx, Val};

/// A counter of the ATS dashboard: `(ats, metric, k1, k2)`.
pub(crate) type CounterKey = (String, &'static str, String, String);

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
pub(crate) struct CaseRows {
    pub case_id: Uuid,
    pub case: Vec<Val>,
    pub diaries: Vec<Vec<Val>>,
    pub entries: BTreeMap<Uuid, Vec<Val>>,
    pub requests: BTreeMap<Uuid, Vec<Val>>,
    pub alerts: Vec<Vec<Val>>,
    pub counters: BTreeMap<CounterKey, i64>,
}

impl CaseRows {
    /// The rows of `c` (column order as in the INSERT heads below).
    pub(crate) fn of(c: &CaseDiary) -> CaseRows {
        let mut counters: BTreeMap<CounterKey, i64> = BTreeMap::new();
        let mut count = |m: &'static str, k1: String, k2: String, n: i64| {
            if n != 0 {
                *counters.entry((c.ats.clone(), m, k1, k2)).or_default() += n;
            }
        };
        count(metric::CASES, c.status.clone(), String::new(), 1);
        let case = vec![
            c.case_id.into(),
            (&c.measure_id).into(),
            (&c.ats).into(),
            (&c.asst).into(),
            (&c.provider).into(),
            (&c.status).into(),
            (&c.recipient_pseudonym).into(),
            c.recipient_minor.into(),
            c.firmalom_enrolled.into(),
            (&c.responsabile_asst).into(),
            (&c.responsabile_provider).into(),
            (&c.case_manager).into(),
            c.opened_at.into(),
            c.interrupted_at.into(),
            c.last_entry_at.into(),
            c.last_entry_date.into(),
            c.minutes.into(),
            c.confirmed_minutes.into(),
            c.confirmed_cost_cents.into(),
            c.version.into(),
            c.last_event_at.into(),
        ];
        let mut diaries = Vec::new();
        let mut entries = BTreeMap::new();
        let mut requests = BTreeMap::new();
        for d in &c.diaries {
            count(metric::DIARIES, d.phase.to_string(), d.status.clone(), 1);
            diaries.push(vec![
                c.case_id.into(),
                i64::from(d.phase).into(),
                (&c.ats).into(),
                (&c.provider).into(),
                (&d.status).into(),
                (&d.opened_by).into(),
                d.opened_at.into(),
                d.entries_count.into(),
                d.minutes.into(),
                d.confirmed_minutes.into(),
                d.confirmed_cost_cents.into(),
            ]);
            for e in &d.entries {
                if e.state != crate::EntryState::Withdrawn {
                    let (phase, figure) = (e.phase.to_string(), e.figure.clone());
                    count(metric::MINUTES, phase.clone(), figure.clone(), e.minutes);
                    if e.state == crate::EntryState::Confirmed {
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
                        e.recorded_at.into(),
                        e.request_id.into(),
                        e.unit_cost_cents.into(),
                        e.cost_cents.into(),
                    ],
                );
            }
            for r in &d.requests {
                count(metric::REQUESTS, r.status.clone(), String::new(), 1);
                requests.insert(
                    r.request_id,
                    vec![
                        r.request_id.into(),
                        c.case_id.into(),
                        i64::from(r.phase).into(),
                        (&c.ats).into(),
                        (&c.provider).into(),
                        (&r.channel).into(),
                        (&r.status).into(),
                        r.sent_at.into(),
                        r.deadline.into(),
                        r.times_sent.into(),
                        serde_json::json!(r.entry_ids).into(),
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
        CaseRows {
            case_id: c.case_id,
            case,
            diaries,
            entries,
            requests,
            alerts,
            counters,
        }
    }
}

/// What the tables hold for a case before the batch.
pub(crate) enum Base {
    /// Exactly these rows (known from the cache, or no rows at all before version 1).
    Known(Option<CaseRows>),
    /// These rows, read back from the tables: rewrite the case's rows whole.
    Read(Option<CaseRows>),
}

/// The writes of one batch, gathered over every case it touched.
#[derive(Default)]
pub(crate) struct BatchWrite {
    delete_cases: Vec<Val>,
    delete_case_diaries: Vec<Val>,
    delete_case_entries: Vec<Val>,
    delete_case_requests: Vec<Val>,
    delete_case_alerts: Vec<Val>,
    delete_entries: Vec<Val>,
    delete_requests: Vec<Val>,
    cases: Vec<Vec<Val>>,
    diaries: Vec<Vec<Val>>,
    entries: Vec<Vec<Val>>,
    requests: Vec<Vec<Val>>,
    alerts: Vec<Vec<Val>>,
    counters: BTreeMap<CounterKey, i64>,
}

impl BatchWrite {
    /// Adds the change of one case from `base` to `new` (`None`: the case has no view).
    pub(crate) fn change(&mut self, base: &Base, new: Option<&CaseRows>) {
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
                self.delete_case_alerts.push(id);
            }
            if let Some(n) = new {
                self.cases.push(n.case.clone());
                self.diaries.extend(n.diaries.iter().cloned());
                self.entries.extend(n.entries.values().cloned());
                self.requests.extend(n.requests.values().cloned());
                self.alerts.extend(n.alerts.iter().cloned());
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
    pub(crate) async fn write(self, tx: &mut Tx) -> Result<(), ProjectionError> {
        tx.delete_in("rm_alerts", "case_id", &self.delete_case_alerts)
            .await?;
        tx.delete_in("rm_requests", "case_id", &self.delete_case_requests)
            .await?;
        tx.delete_in("rm_requests", "request_id", &self.delete_requests)
            .await?;
        tx.delete_in("rm_entries", "case_id", &self.delete_case_entries)
            .await?;
        tx.delete_in("rm_entries", "entry_id", &self.delete_entries)
            .await?;
        tx.delete_in("rm_diaries", "case_id", &self.delete_case_diaries)
            .await?;
        tx.delete_in("rm_cases", "case_id", &self.delete_cases)
            .await?;
        tx.insert_rows(
            "INSERT INTO rm_cases (case_id, measure_id, ats, asst, provider, status, \
             recipient_pseudonym, recipient_minor, firmalom_enrolled, responsabile_asst, \
             responsabile_provider, case_manager, opened_at, interrupted_at, last_entry_at, \
             last_entry_date, minutes, confirmed_minutes, confirmed_cost_cents, version, \
             last_event_at)",
            &self.cases,
        )
        .await?;
        tx.insert_rows(
            "INSERT INTO rm_diaries (case_id, phase, ats, provider, status, opened_by, \
             opened_at, entries, minutes, confirmed_minutes, confirmed_cost_cents)",
            &self.diaries,
        )
        .await?;
        tx.insert_rows(
            "INSERT INTO rm_entries (entry_id, case_id, phase, ats, provider, professional, \
             figure, service, service_date, start_time, end_time, minutes, state, validated, \
             revision, system_failure_id, recorded_at, request_id, unit_cost_cents, \
             cost_cents)",
            &self.entries,
        )
        .await?;
        tx.insert_rows(
            "INSERT INTO rm_requests (request_id, case_id, phase, ats, provider, channel, \
             status, sent_at, deadline, times_sent, entry_ids)",
            &self.requests,
        )
        .await?;
        tx.insert_rows(
            "INSERT INTO rm_alerts (case_id, seq, code, phase, request_id, entry_ids, message, \
             as_of)",
            &self.alerts,
        )
        .await?;
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
