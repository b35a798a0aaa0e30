#![allow(dead_code)]

pub use chrono::{DateTime, NaiveDate, Utc};
pub use diario_domain::case::*;
pub use diario_domain::testing::CaseTest;
pub use diario_domain::testing::fixtures::*;
pub use diario_domain::*;
pub use uuid::Uuid;

/// The #UP phase III service of the fixture entries.
pub const DISPERSIONE: &str = "contrasto_dispersione_scolastica";

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

/// The reason the amendments of these tests give.
pub const MATERIAL_ERROR: &str = "orario trascritto male";

pub fn amend(entry: Uuid, figure: &str, service: &str, s: TimeSlot) -> CaseCommand {
    CaseCommand::AmendEntry(AmendEntry {
        entry_id: entry,
        figure: fig(figure),
        service: svc(service),
        slot: s,
        system_failure_id: None,
        reason: Some(MATERIAL_ERROR.into()),
    })
}

pub fn withdraw(entry: Uuid) -> CaseCommand {
    CaseCommand::WithdrawEntry(WithdrawEntry {
        entry_id: entry,
        reason: None,
    })
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
            reason: Some(reason.to_owned()),
        },
    })
}

pub fn open_phase(phase: Phase) -> CaseCommand {
    CaseCommand::OpenPhaseDiary(OpenPhaseDiary { phase })
}

pub fn enable(ente: Ente, professional: FiscalCode, figures: &[&str]) -> CaseCommand {
    CaseCommand::EnableProfessional(EnableProfessional {
        ente,
        professional,
        figures: figures.iter().map(|f| fig(f)).collect(),
    })
}

pub fn expire(id: Uuid) -> CaseCommand {
    CaseCommand::ExpireConfirmationRequest(ExpireConfirmationRequest { request_id: id })
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

/// Given `history`, when the provider responsabile asks at `at` to confirm `entries` of phase
/// III with request rid(1).
pub fn requesting(history: Vec<CaseEvent>, entries: &[Uuid], at: DateTime<Utc>) -> CaseTest {
    CaseTest::given(history)
        .when(request(rid(1), Phase::III, entries))
        .by(resp_provider())
        .at(at)
}

/// Given `history`, when `by` closes the phase I diary (request rid(1)) at the evening of 4 March.
pub fn closing_phase_i(history: Vec<CaseEvent>, by: FiscalCode) -> CaseTest {
    CaseTest::given(history)
        .when(close(Phase::I, rid(1)))
        .by(by)
        .at(evening())
}

/// Given `history`, when the parent gives `answer` at `at`.
pub fn parent_answers(history: Vec<CaseEvent>, answer: CaseCommand, at: DateTime<Utc>) -> CaseTest {
    CaseTest::given(history)
        .when(answer)
        .by_role(parent(), ActorRole::Recipient)
        .at(at)
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
                service: svc(DISPERSIONE),
                max_minutes: 600,
            },
            PdiCap {
                service: svc("accompagnamento_inclusione"),
                max_minutes: 600,
            },
        ],
        total_max_minutes: Some(900),
        document: None,
        reason: None,
        raised_after_hours: false,
        by: resp_provider(),
        at: t0(),
    }
}

/// Entry `i` of the fixture histories: one hour on `day`, entry 1 from 08:00 to 09:00.
pub fn nth_hour(day: NaiveDate, i: u128) -> TimeSlot {
    slot(
        day,
        &format!("{:02}:00", 7 + i),
        &format!("{:02}:00", 8 + i),
    )
}

/// `EntryRecorded` by the provider educator as educatore professionale.
pub fn edu_entry(entry: Uuid, phase: Phase, service: &str, s: TimeSlot) -> CaseEvent {
    recorded(
        entry,
        phase,
        educatore(),
        "educatore_professionale",
        service,
        s,
    )
}

/// `EntryRecorded` in phase I by the ASST psychologist.
pub fn psi_entry(entry: Uuid, service: &str, s: TimeSlot) -> CaseEvent {
    recorded(entry, Phase::I, psicologo(), "psicologo", service, s)
}

/// Phase III open, PDI set, educator entries 1..=n on 4 March (one hour each, from 08:00).
pub fn phase3_with_entries(n: u128, enrolled: bool) -> Vec<CaseEvent> {
    let mut h = case_in_phase(Phase::III, enrolled);
    h.push(pdi_set());
    h.extend((1..=n).map(|i| {
        let s = nth_hour(d(3, 4), i);
        edu_entry(eid(i), Phase::III, DISPERSIONE, s)
    }));
    h
}

/// Phase I open with psychologist entries 1..=n on 4 March (one hour each, from 08:00).
pub fn phase1_with_entries(n: u128, enrolled: bool) -> Vec<CaseEvent> {
    let mut h = case_in_phase(Phase::I, enrolled);
    h.extend((1..=n).map(|i| psi_entry(eid(i), "colloquio_valutazione", nth_hour(d(3, 4), i))));
    h
}

/// Phase I with `n` entries, all validated by the ASST responsabile at the evening of 4 March.
pub fn phase1_validated(n: u128, enrolled: bool) -> Vec<CaseEvent> {
    let mut h = phase1_with_entries(n, enrolled);
    step(
        &mut h,
        validate_all(Phase::I),
        staff(resp_asst()),
        evening(),
    );
    h
}

/// `history` after the phase's responsabile closed its diary (with `request_id`, used in
/// whole-diary phases) at the evening of 4 March.
pub fn closed_in_the_evening(
    mut history: Vec<CaseEvent>,
    phase: Phase,
    request_id: Uuid,
) -> Vec<CaseEvent> {
    let responsabile = if phase == Phase::I {
        resp_asst()
    } else {
        resp_provider()
    };
    step(
        &mut history,
        close(phase, request_id),
        staff(responsabile),
        evening(),
    );
    if matches!(
        history.last(),
        Some(CaseEvent::ConfirmationRequested { .. })
    ) {
        delivered(&mut history, request_id, evening());
    }
    history
}

/// The dispatcher's report that FirmaLOM received the current sending of `id` at `at`.
pub fn deliver(history: &[CaseEvent], id: Uuid, at: DateTime<Utc>) -> CaseCommand {
    let sent_at = fold(history.iter()).file.unwrap().requests[&id].sent_at;
    CaseCommand::RecordNotificationDelivery(RecordNotificationDelivery {
        request_id: id,
        sent_at,
        received_at: at,
    })
}

/// The dispatcher's report that the current sending of `id` could not be delivered.
pub fn undeliverable(history: &[CaseEvent], id: Uuid) -> CaseCommand {
    let sent_at = fold(history.iter()).file.unwrap().requests[&id].sent_at;
    CaseCommand::RecordNotificationUndelivered(RecordNotificationUndelivered {
        request_id: id,
        sent_at,
        attempts: 4,
        last_error: "FirmaLOM answered 404 Not Found".to_owned(),
    })
}

/// `history` after FirmaLOM received the current sending of `id` at `at` (recorded then).
pub fn delivered(history: &mut Vec<CaseEvent>, id: Uuid, at: DateTime<Utc>) {
    let cmd = deliver(history, id, at);
    step(history, cmd, Actor::System, at);
}

/// Phase I with two validated entries, closed with request rid(1) at the evening of 4 March.
pub fn phase1_closed(enrolled: bool) -> Vec<CaseEvent> {
    closed_in_the_evening(phase1_validated(2, enrolled), Phase::I, rid(1))
}

/// Phase III with one entry, closed by the provider responsabile at the evening of 4 March.
pub fn phase3_closed() -> Vec<CaseEvent> {
    closed_in_the_evening(phase3_with_entries(1, true), Phase::III, rid(9))
}

/// Phase III with two entries in pending request rid(1) sent at the evening of 4 March.
pub fn phase3_requested() -> Vec<CaseEvent> {
    let mut h = phase3_with_entries(3, true);
    let sent = request(rid(1), Phase::III, &[eid(1), eid(2)]);
    step(&mut h, sent, staff(resp_provider()), evening());
    delivered(&mut h, rid(1), evening());
    h
}

/// Phase III with two entries in pending request rid(1) sent at the evening of 4 March, its
/// notification not (yet) received by FirmaLOM.
pub fn phase3_sent_not_delivered() -> Vec<CaseEvent> {
    let mut h = phase3_with_entries(3, true);
    let sent = request(rid(1), Phase::III, &[eid(1), eid(2)]);
    step(&mut h, sent, staff(resp_provider()), evening());
    h
}

/// [`phase3_requested`] after the recipient's `answer` on the [`next_morning`].
pub fn phase3_answered(answer: CaseCommand) -> Vec<CaseEvent> {
    let mut h = phase3_requested();
    step(&mut h, answer, signer(), next_morning());
    h
}

/// [`phase3_requested`] after the scheduler expired rid(1) at midnight of 6 March.
pub fn phase3_expired() -> Vec<CaseEvent> {
    let mut h = phase3_requested();
    step(
        &mut h,
        expire(rid(1)),
        Actor::System,
        rome(2024, 3, 6, 0, 0),
    );
    h
}

/// The request's deadline: one civil day after the evening of 4 March.
pub fn deadline() -> DateTime<Utc> {
    rome(2024, 3, 5, 18, 0)
}

/// The morning of 5 March 2024 in Rome: an answer then is within the deadline.
pub fn next_morning() -> DateTime<Utc> {
    rome(2024, 3, 5, 9, 0)
}
