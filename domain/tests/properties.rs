//! Property tests over random command sequences :
//! - confirmed entries never change;
//! - nothing is accepted after a diary is handed to ATS or the pathway is interrupted;
//! - folding the produced events reproduces the state (incrementally, from scratch and after a
//!   JSON round trip through `upcast`);
//! - totals equal the sum of the entries;
//! - an entry is in at most one pending request.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use diario_domain::case::*;
use diario_domain::testing::fixtures::*;
use diario_domain::values::civil_date;
use diario_domain::*;
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Record {
        id: u8,
        kind: u8,
        days_back: u8,
        start: u8,
        len: u8,
    },
    Amend {
        id: u8,
        kind: u8,
        days_back: u8,
        start: u8,
        len: u8,
        who: u8,
    },
    Withdraw {
        id: u8,
        who: u8,
    },
    OpenPhase(u8),
    Validate(u8),
    Close(u8, u8),
    Request(u8, Vec<u8>),
    Resend(u8),
    Answer(u8, bool, bool),
    Expire(u8),
    Pdi,
    Interrupt,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..16, 0u8..20, 16u8..40, 1u8..4).prop_map(|(id, days_back, start, len)| Op::Record { id, kind: id % 8, days_back, start, len }),
        3 => (0u8..16, 0u8..8, 0u8..20, 16u8..40, 1u8..4, 0u8..4).prop_map(|(id, kind, days_back, start, len, who)| Op::Amend { id, kind, days_back, start, len, who }),
        1 => (0u8..16, 0u8..4).prop_map(|(id, who)| Op::Withdraw { id, who }),
        2 => (1u8..5).prop_map(Op::OpenPhase),
        2 => (1u8..3).prop_map(Op::Validate),
        2 => (1u8..5, 0u8..4).prop_map(|(p, r)| Op::Close(p, r)),
        4 => (0u8..4, proptest::collection::vec(0u8..6, 1..4)).prop_map(|(r, e)| Op::Request(r, e)),
        1 => (0u8..4).prop_map(Op::Resend),
        6 => (0u8..4, prop_oneof![3 => Just(true), 1 => Just(false)], prop_oneof![5 => Just(true), 1 => Just(false)]).prop_map(|(r, c, s)| Op::Answer(r, c, s)),
        1 => (0u8..4).prop_map(Op::Expire),
        1 => Just(Op::Pdi),
    ]
}

/// Mostly short steps (so answers can arrive within the day), sometimes long jumps (so
/// deadlines and the 15-day window are crossed).
fn step_len() -> impl Strategy<Value = i64> {
    prop_oneof![4 => 0i64..4, 1 => 0i64..60]
}

/// (phase, author, figure, service)
fn kind(k: u8) -> (Phase, FiscalCode, &'static str, &'static str) {
    match k {
        0 => (Phase::I, psicologo(), "psicologo", "colloquio_valutazione"),
        1 => (Phase::I, psicologo(), "psicologo", "stesura_pi"),
        2 => (
            Phase::II,
            educatore(),
            "educatore_professionale",
            "osservazione",
        ),
        3 => (Phase::II, case_manager(), "case_manager", "case_management"),
        4 => (
            Phase::III,
            educatore(),
            "educatore_professionale",
            "contrasto_dispersione_scolastica",
        ),
        5 => (
            Phase::III,
            educatore(),
            "educatore_professionale",
            "accompagnamento_inclusione",
        ),
        6 => (
            Phase::III,
            case_manager(),
            "case_manager",
            "case_management",
        ),
        _ => (
            Phase::IV,
            educatore(),
            "educatore_professionale",
            "follow_up",
        ),
    }
}

fn phase(n: u8) -> Phase {
    Phase::try_from(n).unwrap_or(Phase::I)
}

fn responsabile(p: Phase) -> FiscalCode {
    if p == Phase::I {
        resp_asst()
    } else {
        resp_provider()
    }
}

fn person(cf: FiscalCode) -> Actor {
    Actor::person(cf, ActorRole::Staff)
}

fn who(n: u8) -> FiscalCode {
    match n {
        0 => psicologo(),
        1 => educatore(),
        2 => case_manager(),
        _ => outsider(),
    }
}

fn slot_for(now: DateTime<Utc>, days_back: u8, start: u8, len: u8) -> TimeSlot {
    let day = civil_date(now) - Duration::days(i64::from(days_back));
    let s = chrono::NaiveTime::from_hms_opt(u32::from(start) / 2, u32::from(start % 2) * 30, 0)
        .unwrap();
    let e = s + Duration::minutes(30 * i64::from(len));
    TimeSlot::new(day, s, e).unwrap()
}

fn to_command(op: &Op, now: DateTime<Utc>, state: &CaseState) -> (CaseCommand, Actor) {
    // answers mostly target a request that is actually pending, otherwise the generator would
    // almost never reach confirmations
    let pending: Vec<Uuid> = state
        .file
        .iter()
        .flat_map(|f| f.requests.values())
        .filter(|r| {
            r.status == RequestStatus::Pending && r.channel == ConfirmationChannel::Firmalom
        })
        .map(|r| r.id)
        .collect();
    let target = |r: u8| {
        if pending.is_empty() || r == 3 {
            rid(u128::from(r))
        } else {
            pending[usize::from(r) % pending.len()]
        }
    };
    let live: Vec<(Uuid, FiscalCode, Phase)> = state
        .file
        .iter()
        .flat_map(|f| f.entries.values())
        .filter(|e| !e.withdrawn)
        .map(|e| (e.id, e.professional.clone(), e.phase))
        .collect();
    let existing = |id: u8, w: u8| -> (Uuid, FiscalCode, Option<Phase>) {
        if live.is_empty() || id == 15 {
            (eid(u128::from(id)), who(w), None)
        } else {
            let (e, author, p) = live[usize::from(id) % live.len()].clone();
            (e, if w == 3 { outsider() } else { author }, Some(p))
        }
    };
    match op.clone() {
        Op::Record {
            id,
            kind: k,
            days_back,
            start,
            len,
        } => {
            let (p, author, f, s) = kind(k);
            (
                CaseCommand::RecordEntry(RecordEntry {
                    entry_id: eid(u128::from(id)),
                    phase: p,
                    figure: fig(f),
                    service: svc(s),
                    slot: slot_for(now, days_back, start, len),
                    system_failure_id: None,
                }),
                person(author),
            )
        }
        Op::Amend {
            id,
            kind: k,
            days_back,
            start,
            len,
            who: w,
        } => {
            let (entry_id, actor, p) = existing(id, w);
            // mostly keep the entry's phase so that amendments can succeed
            let k = match p {
                Some(Phase::I) => k % 2,
                Some(Phase::II) => 2 + k % 2,
                Some(Phase::III) => 4 + k % 3,
                Some(Phase::IV) => 7,
                None => k,
            };
            let (_, _, f, s) = kind(k);
            (
                CaseCommand::AmendEntry(AmendEntry {
                    entry_id,
                    figure: fig(f),
                    service: svc(s),
                    slot: slot_for(now, days_back, start, len),
                    system_failure_id: None,
                    reason: Some("errore materiale".into()),
                }),
                person(actor),
            )
        }
        Op::Withdraw { id, who: w } => {
            let (entry_id, actor, _) = existing(id, w);
            (
                CaseCommand::WithdrawEntry(WithdrawEntry {
                    entry_id,
                    reason: None,
                }),
                person(actor),
            )
        }
        Op::OpenPhase(n) => {
            // usually the next phase in order (n == 4 tries an arbitrary one)
            let next = Phase::ALL.into_iter().find(|p| {
                state
                    .file
                    .as_ref()
                    .is_some_and(|f| !f.diaries.contains_key(p))
            });
            let p = if n == 4 {
                phase(n)
            } else {
                next.unwrap_or(Phase::IV)
            };
            (
                CaseCommand::OpenPhaseDiary(OpenPhaseDiary { phase: p }),
                person(responsabile(p)),
            )
        }
        Op::Validate(n) => (
            CaseCommand::ValidateEntries(ValidateEntries {
                phase: phase(n),
                entry_ids: None,
            }),
            person(responsabile(phase(n))),
        ),
        Op::Close(n, r) => (
            CaseCommand::ClosePhaseDiary(ClosePhaseDiary {
                phase: phase(n),
                request_id: rid(u128::from(r)),
            }),
            person(responsabile(phase(n))),
        ),
        Op::Request(r, entries) => {
            // even requests are for phase III, odd ones for IV; they mostly list entries that
            // exist and are not yet sent (index 5 picks an arbitrary id to exercise refusals)
            let p = if r % 2 == 0 { Phase::III } else { Phase::IV };
            let sendable: Vec<Uuid> = state
                .file
                .iter()
                .flat_map(|f| f.live_entries(p))
                .filter(|e| !e.confirmed && e.pending_request.is_none())
                .map(|e| e.id)
                .collect();
            let pick = |e: u8| {
                if sendable.is_empty() || e == 5 {
                    eid(u128::from(e) + 4)
                } else {
                    sendable[usize::from(e) % sendable.len()]
                }
            };
            (
                CaseCommand::RequestConfirmation(RequestConfirmation {
                    request_id: rid(u128::from(r)),
                    phase: p,
                    entry_ids: entries.iter().map(|e| pick(*e)).collect(),
                }),
                person(resp_provider()),
            )
        }
        Op::Resend(r) => (
            CaseCommand::ResendConfirmation(ResendConfirmation {
                request_id: rid(u128::from(r)),
            }),
            person(resp_provider()),
        ),
        Op::Answer(r, yes, right_signer) => (
            CaseCommand::AnswerConfirmation(AnswerConfirmation {
                request_id: target(r),
                answer: if yes {
                    Answer::Confirmed
                } else {
                    Answer::Rejected {
                        reason: Some("no".into()),
                    }
                },
            }),
            Actor::person(
                if right_signer { parent() } else { outsider() },
                ActorRole::Recipient,
            ),
        ),
        Op::Expire(r) => (
            CaseCommand::ExpireConfirmationRequest(ExpireConfirmationRequest {
                request_id: rid(u128::from(r)),
            }),
            Actor::System,
        ),
        Op::Pdi => (
            CaseCommand::SetPdiCaps(SetPdiCaps {
                caps: vec![
                    PdiCap {
                        service: svc("contrasto_dispersione_scolastica"),
                        max_minutes: 900,
                    },
                    PdiCap {
                        service: svc("accompagnamento_inclusione"),
                        max_minutes: 900,
                    },
                    PdiCap {
                        service: svc("case_management"),
                        max_minutes: 600,
                    },
                ],
                total_max_minutes: Some(1800),
                pdi_document_id: None,
                reason: None,
            }),
            person(resp_provider()),
        ),
        Op::Interrupt => (
            CaseCommand::InterruptPathway(InterruptPathway {
                cause: InterruptionCause::Relocation,
                reason: Some("trasferito".into()),
            }),
            person(resp_provider()),
        ),
    }
}

type Snapshot = (Phase, FiscalCode, FigureId, ServiceId, TimeSlot);

fn confirmed(state: &CaseState) -> BTreeMap<Uuid, Snapshot> {
    state
        .file
        .iter()
        .flat_map(|f| f.entries.values())
        .filter(|e| e.confirmed)
        .map(|e| {
            (
                e.id,
                (
                    e.phase,
                    e.professional.clone(),
                    e.figure.clone(),
                    e.service.clone(),
                    e.slot,
                ),
            )
        })
        .collect()
}

fn event_phase(e: &CaseEvent, state: &CaseState) -> Option<Phase> {
    let entry_phase = |id: &Uuid| {
        state
            .file
            .as_ref()
            .and_then(|f| f.entries.get(id))
            .map(|e| e.phase)
    };
    match e {
        CaseEvent::EntryRecorded { phase, .. }
        | CaseEvent::EntriesValidated { phase, .. }
        | CaseEvent::ConfirmationRequested { phase, .. }
        | CaseEvent::EntriesConfirmed { phase, .. }
        | CaseEvent::ConfirmationRejected { phase, .. }
        | CaseEvent::PaperDiaryGenerated { phase, .. }
        | CaseEvent::PhaseDiaryClosed { phase, .. }
        | CaseEvent::DiaryHandedToAts { phase, .. } => Some(*phase),
        CaseEvent::EntryAmended { entry_id, .. } | CaseEvent::EntryWithdrawn { entry_id, .. } => {
            entry_phase(entry_id)
        }
        _ => None,
    }
}

fn check_invariants(state: &CaseState, measure: &Measure) -> Result<(), TestCaseError> {
    let Some(file) = &state.file else {
        return Ok(());
    };
    // totals equal the sum of the entries
    let totals = state.totals(measure);
    for p in Phase::ALL {
        let live: Vec<_> = file.live_entries(p).collect();
        let minutes: u64 = live.iter().map(|e| u64::from(e.minutes())).sum();
        let conf: u64 = live
            .iter()
            .filter(|e| e.confirmed)
            .map(|e| u64::from(e.minutes()))
            .sum();
        let t = totals.get(&p).cloned().unwrap_or_default();
        prop_assert_eq!(t.minutes, minutes);
        prop_assert_eq!(t.confirmed_minutes, conf);
        prop_assert_eq!(t.minutes_by_figure.values().sum::<u64>(), minutes);
        prop_assert_eq!(t.minutes_by_service.values().sum::<u64>(), minutes);
    }
    // an entry is in at most one pending request, and that request lists it
    for e in file.entries.values() {
        let pending: Vec<_> = file
            .requests
            .values()
            .filter(|r| r.status == RequestStatus::Pending && r.entries.contains_key(&e.id))
            .map(|r| r.id)
            .collect();
        prop_assert!(pending.len() <= 1, "entry {} in {:?}", e.id, pending);
        prop_assert_eq!(e.pending_request, pending.first().copied());
        prop_assert!(!(e.confirmed && e.withdrawn));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_respect_the_invariants(
        enrolled in prop_oneof![4 => Just(true), 1 => Just(false)],
        steps in proptest::collection::vec((op(), step_len()), 1..70),
        interrupt_at in proptest::option::weighted(0.2, 0usize..70),
        start_phase in 1u8..5,
    ) {
        let measure = up();
        let mut history = case_in_phase(phase(start_phase), enrolled);
        let mut state = fold(history.iter());
        let mut now = rome(2024, 3, 1, 10, 0);
        for (i, (op, half_hours)) in steps.into_iter().enumerate() {
            now += Duration::minutes(30 * half_hours);
            let op = if interrupt_at == Some(i) { Op::Interrupt } else { op };
            let (cmd, actor) = to_command(&op, now, &state);
            let before_confirmed = confirmed(&state);
            let handed: Vec<Phase> = state.file.iter()
                .flat_map(|f| f.diaries.values())
                .filter(|d| d.status == DiaryStatus::HandedToAts)
                .map(|d| d.phase)
                .collect();
            let interrupted = state.file.as_ref().is_some_and(|f| f.interrupted_at.is_some());
            let ctx = Context::new(actor, now, &measure);
            let result = decide(&state, &cmd, &ctx);
            let Ok(events) = result else { continue };
            // nothing is accepted after the interruption
            prop_assert!(!interrupted, "accepted {:?} after interruption", cmd.name());
            // nothing touches a diary already handed to ATS
            for e in &events {
                if let Some(p) = event_phase(e, &state) {
                    prop_assert!(!handed.contains(&p), "{} on handed phase {}", e.event_type(), p);
                }
                prop_assert_eq!(e.at(), now);
            }
            let next = events.iter().fold(state.clone(), evolve);
            history.extend(events.iter().cloned());
            // confirmed entries never change
            let after_confirmed = confirmed(&next);
            for (id, snap) in &before_confirmed {
                prop_assert_eq!(after_confirmed.get(id), Some(snap), "confirmed entry {} changed", id);
                let live = next.file.as_ref().and_then(|f| f.entries.get(id)).is_some_and(|e| !e.withdrawn);
                prop_assert!(live);
            }
            // fold consistency: from scratch and through JSON + upcast
            prop_assert_eq!(&fold(history.iter()), &next);
            let reread: Vec<CaseEvent> = history
                .iter()
                .map(|e| upcast(e.event_type(), e.schema_version(), serde_json::to_value(e).unwrap()).unwrap())
                .collect();
            prop_assert_eq!(&fold(reread.iter()), &next);
            prop_assert_eq!(next.version, history.len() as u64);
            check_invariants(&next, &measure)?;
            // entries are never in the future
            for e in next.file.iter().flat_map(|f| f.entries.values()) {
                prop_assert!(e.slot.end_instant() <= e.recorded_at.max(now));
            }
            state = next;
        }
    }
}

/// A sanity check that the generator reaches the interesting states (confirmations,
/// closures, hand-overs) — otherwise the properties above would hold vacuously.
#[test]
fn the_generator_reaches_confirmation_and_closure() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let measure = up();
    let mut runner = TestRunner::deterministic();
    let (mut confirmed_seen, mut handed_seen) = (0, 0);
    let mut seen: BTreeMap<&str, u32> = BTreeMap::new();
    let mut errors: BTreeMap<String, u32> = BTreeMap::new();
    for run in 0..300 {
        let steps = proptest::collection::vec((op(), step_len()), 1..70)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut state = fold(case_in_phase(Phase::ALL[run % 4], true).iter());
        let mut now = rome(2024, 3, 1, 10, 0);
        for (op, hh) in steps {
            now += Duration::minutes(30 * hh);
            let (cmd, actor) = to_command(&op, now, &state);
            let result = decide(&state, &cmd, &Context::new(actor, now, &measure));
            if let Err(e) = &result {
                *errors
                    .entry(format!("{}:{}", cmd.name(), e.code()))
                    .or_insert(0) += 1;
            }
            if let Ok(events) = result {
                for e in &events {
                    *seen.entry(e.event_type()).or_insert(0) += 1;
                    match e {
                        CaseEvent::EntriesConfirmed { .. } => confirmed_seen += 1,
                        CaseEvent::DiaryHandedToAts { .. } => handed_seen += 1,
                        _ => {}
                    }
                }
                state = events.iter().fold(state, evolve);
            }
        }
    }
    eprintln!("{seen:?}\n{errors:#?}");
    assert!(
        confirmed_seen > 20,
        "confirmations reached: {confirmed_seen}"
    );
    assert!(handed_seen > 20, "hand-overs reached: {handed_seen}");
}
