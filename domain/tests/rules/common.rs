#![allow(dead_code)]

pub use chrono::{DateTime, NaiveDate, Utc};
pub use diario_domain::case::*;
pub use diario_domain::testing::CaseTest;
pub use diario_domain::testing::fixtures::*;
pub use diario_domain::*;
pub use uuid::Uuid;

/// A civil date in 2024.
pub fn d(m: u32, day: u32) -> NaiveDate {
    date(2024, m, day)
}

/// The evening of 4 March 2024 in Rome: entries of that morning are on time.
pub fn evening() -> DateTime<Utc> {
    rome(2024, 3, 4, 18, 0)
}

pub fn staff(cf: FiscalCode) -> Actor {
    Actor::person(cf, ActorRole::Staff)
}

pub fn signer() -> Actor {
    Actor::person(parent(), ActorRole::Recipient)
}

pub fn rec(entry: Uuid, phase: Phase, figure: &str, service: &str, s: TimeSlot) -> CaseCommand {
    CaseCommand::RecordEntry(RecordEntry {
        entry_id: entry,
        phase,
        figure: fig(figure),
        service: svc(service),
        slot: s,
        system_failure_id: None,
    })
}

pub fn amend(entry: Uuid, figure: &str, service: &str, s: TimeSlot) -> CaseCommand {
    CaseCommand::AmendEntry(AmendEntry {
        entry_id: entry,
        figure: fig(figure),
        service: svc(service),
        slot: s,
        system_failure_id: None,
    })
}

pub fn withdraw(entry: Uuid) -> CaseCommand {
    CaseCommand::WithdrawEntry(WithdrawEntry { entry_id: entry })
}

pub fn request(id: Uuid, phase: Phase, entries: &[Uuid]) -> CaseCommand {
    CaseCommand::RequestConfirmation(RequestConfirmation {
        request_id: id,
        phase,
        entry_ids: entries.to_vec(),
    })
}

pub fn confirm(id: Uuid) -> CaseCommand {
    CaseCommand::AnswerConfirmation(AnswerConfirmation {
        request_id: id,
        answer: Answer::Confirmed,
    })
}

pub fn reject(id: Uuid, reason: &str) -> CaseCommand {
    CaseCommand::AnswerConfirmation(AnswerConfirmation {
        request_id: id,
        answer: Answer::Rejected {
            reason: reason.to_owned(),
        },
    })
}

pub fn close(phase: Phase, request_id: Uuid) -> CaseCommand {
    CaseCommand::ClosePhaseDiary(ClosePhaseDiary { phase, request_id })
}

pub fn validate_all(phase: Phase) -> CaseCommand {
    CaseCommand::ValidateEntries(ValidateEntries {
        phase,
        entry_ids: None,
    })
}

/// Decides `cmd` on `history` and appends the events; panics if refused.
#[track_caller]
pub fn step(history: &mut Vec<CaseEvent>, cmd: CaseCommand, actor: Actor, now: DateTime<Utc>) {
    step_with(history, cmd, actor, now, &up(), &[]);
}

#[track_caller]
pub fn step_with(
    history: &mut Vec<CaseEvent>,
    cmd: CaseCommand,
    actor: Actor,
    now: DateTime<Utc>,
    measure: &Measure,
    failures: &[SystemFailure],
) {
    let state = fold(history.iter());
    let ctx = Context::new(actor, now, measure).with_failures(failures);
    match decide(&state, &cmd, &ctx) {
        Ok(events) => history.extend(events),
        Err(e) => panic!("setup step {} refused: {e} ({})", cmd.name(), e.code()),
    }
}

/// The PDI caps used by phase III tests.
pub fn pdi_set() -> CaseEvent {
    CaseEvent::PdiCapsSet {
        caps: vec![
            PdiCap {
                service: svc("contrasto_dispersione_scolastica"),
                max_minutes: 600,
            },
            PdiCap {
                service: svc("accompagnamento_inclusione"),
                max_minutes: 600,
            },
        ],
        total_max_minutes: Some(900),
        by: resp_provider(),
        at: t0(),
    }
}

/// Phase III open, PDI set, educator entries 1..=n on 4 March (one hour each, from 08:00).
pub fn phase3_with_entries(n: u128, enrolled: bool) -> Vec<CaseEvent> {
    let mut h = case_in_phase(Phase::III, enrolled);
    h.push(pdi_set());
    for i in 1..=n {
        let start = format!("{:02}:00", 7 + i);
        let end = format!("{:02}:00", 8 + i);
        h.push(recorded(
            eid(i),
            Phase::III,
            educatore(),
            "educatore_professionale",
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), &start, &end),
        ));
    }
    h
}

/// Phase I open with psychologist entries 1..=n on 4 March (one hour each, from 08:00).
pub fn phase1_with_entries(n: u128, enrolled: bool) -> Vec<CaseEvent> {
    let mut h = case_in_phase(Phase::I, enrolled);
    for i in 1..=n {
        let start = format!("{:02}:00", 7 + i);
        let end = format!("{:02}:00", 8 + i);
        h.push(recorded(
            eid(i),
            Phase::I,
            psicologo(),
            "psicologo",
            "colloquio_valutazione",
            slot(d(3, 4), &start, &end),
        ));
    }
    h
}

/// Phase I with two validated entries, closed with request rid(1) at the evening of 4 March.
pub fn phase1_closed(enrolled: bool) -> Vec<CaseEvent> {
    let mut h = phase1_with_entries(2, enrolled);
    step(
        &mut h,
        validate_all(Phase::I),
        staff(resp_asst()),
        evening(),
    );
    step(
        &mut h,
        close(Phase::I, rid(1)),
        staff(resp_asst()),
        evening(),
    );
    h
}

/// Phase III with two entries in pending request rid(1) sent at the evening of 4 March.
pub fn phase3_requested() -> Vec<CaseEvent> {
    let mut h = phase3_with_entries(3, true);
    step(
        &mut h,
        request(rid(1), Phase::III, &[eid(1), eid(2)]),
        staff(resp_provider()),
        evening(),
    );
    h
}

/// The request's deadline: one civil day after the evening of 4 March.
pub fn deadline() -> DateTime<Utc> {
    rome(2024, 3, 5, 18, 0)
}
