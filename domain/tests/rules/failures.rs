//! Art. 9: system failures and late registrations.
use crate::common::*;

/// The id of the failure declared in these tests.
fn failure_id() -> Uuid {
    Uuid::from_u128(0xFA11)
}

fn failure(began: DateTime<Utc>, resolved: Option<DateTime<Utc>>) -> SystemFailure {
    SystemFailure {
        id: failure_id(),
        scope: FailureScope::Regional,
        ticket: "TCK-2024-0042".to_owned(),
        description: "Bandi e Servizi non raggiungibile".to_owned(),
        began_at: began,
        ticket_opened_at: Some(began),
        resolved_at: resolved,
        declared_by: support(),
    }
}

fn late_cmd(failure_id: Uuid) -> CaseCommand {
    CaseCommand::RecordEntry(RecordEntry {
        entry_id: eid(1),
        phase: Phase::III,
        figure: fig("educatore_professionale"),
        service: svc(DISPERSIONE),
        slot: slot(d(3, 4), "09:00", "10:00"),
        system_failure_id: Some(failure_id),
    })
}

/// Given phase III open and the `declared` failures, when the educator records the entry
/// delivered on 4 March at `now`, citing the failure `citing`.
fn recording_late(now: DateTime<Utc>, citing: Uuid, declared: Vec<SystemFailure>) -> CaseTest {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(late_cmd(citing))
        .by(educatore())
        .at(now)
        .failures(declared)
}

/// A failure from 18 March 10:00 to 22 March 12:00, across the normal deadline.
fn resolved_on_22_march() -> SystemFailure {
    failure(rome(2024, 3, 18, 10, 0), Some(rome(2024, 3, 22, 12, 0)))
}

// Delivered 4 March: normal deadline 19 March.

#[test]
fn late_entry_is_allowed_within_5_days_after_a_declared_failure_is_resolved() {
    let f = resolved_on_22_march();
    recording_late(rome(2024, 3, 27, 20, 0), f.id, vec![f.clone()]).then_matches(|e| {
        matches!(e, [CaseEvent::EntryRecorded { system_failure_id: Some(id), .. }] if *id == f.id)
    });
}

#[test]
fn late_entry_after_the_failure_grace_period_is_refused() {
    let f = resolved_on_22_march();
    recording_late(rome(2024, 3, 28, 8, 0), f.id, vec![f.clone()]).then_err(
        DomainError::SystemFailureGraceExpired {
            failure: f.id,
            until: d(3, 27),
            days: 5,
        },
    );
}

#[test]
fn a_failure_that_began_after_the_deadline_does_not_excuse_a_late_entry() {
    let f = failure(rome(2024, 3, 20, 10, 0), Some(rome(2024, 3, 21, 12, 0)));
    recording_late(rome(2024, 3, 22, 8, 0), f.id, vec![f.clone()]).then_err(
        DomainError::SystemFailureNotApplicable {
            failure: f.id,
            deadline: d(3, 19),
        },
    );
}

#[test]
fn a_failure_that_began_before_the_deadline_day_excuses_it() {
    // the failure began on 10 March, well before the deadline of 19 March, and lasted past it
    let f = failure(rome(2024, 3, 10, 10, 0), Some(rome(2024, 3, 25, 12, 0)));
    recording_late(rome(2024, 3, 26, 8, 0), f.id, vec![f]).then_matches(|e| e.len() == 1);
}

#[test]
fn a_failure_resolved_before_the_deadline_does_not_excuse_a_late_entry() {
    // Given a failure from 10 to 12 March (resolved a week before the deadline of 19 March),
    // when the educator records the 4 March hour on 20 March citing it, then it is refused: the
    // failure did not prevent recording within the term (the grace follows only a failure the
    // deadline fell into)
    let f = failure(rome(2024, 3, 10, 10, 0), Some(rome(2024, 3, 17, 12, 0)));
    recording_late(rome(2024, 3, 20, 8, 0), f.id, vec![f.clone()]).then_err(
        DomainError::SystemFailureNotApplicable {
            failure: f.id,
            deadline: d(3, 19),
        },
    );
    // resolved on the deadline day itself, it excuses
    let f = failure(rome(2024, 3, 10, 10, 0), Some(rome(2024, 3, 19, 12, 0)));
    recording_late(rome(2024, 3, 20, 8, 0), f.id, vec![f]).then_matches(|e| e.len() == 1);
}

#[test]
fn late_entry_during_an_unresolved_failure_is_allowed() {
    let f = failure(rome(2024, 3, 18, 10, 0), None);
    recording_late(rome(2024, 3, 25, 8, 0), f.id, vec![f]).then_matches(|e| e.len() == 1);
}

#[test]
fn late_entry_citing_an_undeclared_failure_is_refused() {
    let undeclared = Uuid::from_u128(0xBAD);
    recording_late(rome(2024, 3, 22, 8, 0), undeclared, vec![])
        .then_err(DomainError::SystemFailureUnknown(undeclared));
}

#[test]
fn a_failure_of_another_entes_system_does_not_excuse_the_entry() {
    let mut f = resolved_on_22_march();
    f.scope = FailureScope::Ente {
        ente: "ALTRA-COOP".to_owned(),
    };
    recording_late(rome(2024, 3, 23, 8, 0), f.id, vec![f])
        .then_err_code("system-failure-not-applicable");
}

#[test]
fn an_entry_on_time_does_not_rely_on_a_failure() {
    let f = failure(rome(2024, 3, 4, 10, 0), None);
    recording_late(evening(), f.id, vec![f]).then_matches(|e| {
        matches!(
            e,
            [CaseEvent::EntryRecorded {
                system_failure_id: None,
                ..
            }]
        )
    });
}

// ---- the failure stream -------------------------------------------------------------------

fn declare() -> FailureCommand {
    declare_ticket(rome(2024, 3, 18, 10, 0), None)
}

fn declare_ticket(
    began_at: DateTime<Utc>,
    ticket_opened_at: Option<DateTime<Utc>>,
) -> FailureCommand {
    FailureCommand::DeclareSystemFailure {
        failure_id: failure_id(),
        scope: FailureScope::Regional,
        ticket: "TCK-1".to_owned(),
        description: "down".to_owned(),
        began_at,
        ticket_opened_at,
    }
}

#[test]
fn the_failure_records_its_ticket_opened_at_most_a_day_after_it_began() {
    // Art. 9 "gli operatori devono aprire immediatamente un ticket".
    let actor = Actor::person(support(), ActorRole::Support);
    let now = rome(2024, 3, 19, 12, 0);
    let began = rome(2024, 3, 18, 18, 0);
    // The evening's failure, ticket first thing next morning: recorded with its ticket.
    let events = decide_failure(
        &None,
        &declare_ticket(began, Some(rome(2024, 3, 19, 8, 30))),
        &actor,
        now,
    )
    .unwrap();
    assert!(
        matches!(&events[0], FailureEvent::SystemFailureDeclared { ticket_opened_at, at, .. }
        if *ticket_opened_at == Some(rome(2024, 3, 19, 8, 30)) && *at == now)
    );
    let state = events.iter().fold(None, evolve_failure);
    assert_eq!(
        state.and_then(|f| f.ticket_opened_at),
        Some(rome(2024, 3, 19, 8, 30))
    );
    // Not given: the ticket is the declaration itself.
    let events = decide_failure(&None, &declare_ticket(began, None), &actor, now).unwrap();
    assert!(
        matches!(&events[0], FailureEvent::SystemFailureDeclared { ticket_opened_at, .. }
        if *ticket_opened_at == Some(now))
    );
    // More than a day before the ticket: not "immediately".
    assert_eq!(
        decide_failure(
            &None,
            &declare_ticket(rome(2024, 3, 17, 8, 0), Some(rome(2024, 3, 18, 9, 0))),
            &actor,
            now
        ),
        Err(DomainError::TicketNotImmediate {
            began_at: rome(2024, 3, 17, 8, 0),
            ticket_opened_at: rome(2024, 3, 18, 9, 0),
            hours: 24,
        })
    );
    // A ticket before the failure, or in the future: times out of order.
    for ticket in [rome(2024, 3, 18, 17, 0), rome(2024, 3, 19, 13, 0)] {
        assert_eq!(
            decide_failure(&None, &declare_ticket(began, Some(ticket)), &actor, now),
            Err(DomainError::InvalidFailureTimes)
        );
    }
}

fn resolve_at(resolved_at: DateTime<Utc>) -> FailureCommand {
    FailureCommand::ResolveSystemFailure {
        failure_id: failure_id(),
        resolved_at,
    }
}

#[test]
fn only_the_support_desk_declares_system_failures() {
    let err = decide_failure(
        &None,
        &declare(),
        &Actor::person(resp_asst(), ActorRole::Staff),
        rome(2024, 3, 18, 11, 0),
    );
    assert_eq!(err, Err(DomainError::NotSupportDesk));
}

#[test]
fn support_declares_and_resolves_a_failure_and_the_list_reflects_it() {
    let actor = Actor::person(support(), ActorRole::Support);
    let now = rome(2024, 3, 18, 11, 0);
    let events = decide_failure(&None, &declare(), &actor, now).unwrap();
    let state = events.iter().fold(None, evolve_failure);
    assert_eq!(state.as_ref().map(|f| f.resolved_at), Some(None));
    assert_eq!(
        decide_failure(&state, &declare(), &actor, now),
        Err(DomainError::FailureAlreadyDeclared)
    );
    let resolve = resolve_at(rome(2024, 3, 18, 10, 30));
    let events = decide_failure(&state, &resolve, &actor, now).unwrap();
    assert!(matches!(
        events[0],
        FailureEvent::SystemFailureResolved { .. }
    ));
    let state = events.iter().fold(state, evolve_failure);
    assert_eq!(
        state.as_ref().and_then(|f| f.resolved_at),
        Some(rome(2024, 3, 18, 10, 30))
    );
    assert_eq!(
        decide_failure(&state, &resolve, &actor, now),
        Err(DomainError::FailureAlreadyResolved)
    );
}

#[test]
fn a_failure_cannot_be_resolved_before_it_began_or_in_the_future() {
    let actor = Actor::person(support(), ActorRole::Support);
    let now = rome(2024, 3, 18, 11, 0);
    let state = decide_failure(&None, &declare(), &actor, now)
        .unwrap()
        .iter()
        .fold(None, evolve_failure);
    for at in [rome(2024, 3, 18, 9, 0), rome(2024, 3, 19, 9, 0)] {
        assert_eq!(
            decide_failure(&state, &resolve_at(at), &actor, now),
            Err(DomainError::InvalidFailureTimes)
        );
    }
    assert_eq!(
        decide_failure(&None, &resolve_at(now), &actor, now),
        Err(DomainError::FailureNotDeclared)
    );
}

/// Phase III with the PDI set and the educator's 4 March hour recorded late on 27 March under
/// the failure of 18-22 March.
fn late_entry_recorded() -> (Vec<CaseEvent>, SystemFailure) {
    let f = resolved_on_22_march();
    let mut h = case_in_phase(Phase::III, true);
    h.push(pdi_set());
    let (events, _) = recording_late(rome(2024, 3, 27, 20, 0), f.id, vec![f.clone()])
        .then_matches(|e| e.len() == 1);
    h.extend(events);
    (h, f)
}

fn cosign(entry: Uuid) -> CaseCommand {
    CaseCommand::CosignLateEntry(CosignLateEntry { entry_id: entry })
}

#[test]
fn a_late_entry_counts_once_the_support_desk_co_signs_it() {
    // Given a late entry under a failure, when the responsabile sends it, then the checklist
    // refuses it until the support desk co-signs; the entry stays the educator's
    let (h, f) = late_entry_recorded();
    let at = rome(2024, 3, 27, 21, 0);
    let err = requesting(h.clone(), &[eid(1)], at).then_err_code("checklist-failed");
    if let DomainError::ChecklistFailed(c) = &err {
        let failing: Vec<&str> = c.failures().map(|c| c.code.as_str()).collect();
        assert_eq!(failing, vec!["formal.late-entry-cosigned"]);
    }
    let state = CaseTest::given(h.clone())
        .when(cosign(eid(1)))
        .by_role(support(), ActorRole::Support)
        .at(at)
        .then(vec![CaseEvent::LateEntryCosigned {
            entry_id: eid(1),
            system_failure_id: f.id,
            by: support(),
            at,
        }]);
    let entry = &state.file.unwrap().entries[&eid(1)];
    assert_eq!(entry.professional, educatore());
    assert_eq!(entry.cosigned_by, Some(support()));
    let mut h = h;
    step(
        &mut h,
        cosign(eid(1)),
        Actor::person(support(), ActorRole::Support),
        at,
    );
    requesting(h, &[eid(1)], at)
        .then_matches(|e| matches!(e, [CaseEvent::ConfirmationRequested { .. }]));
}

#[test]
fn only_the_support_desk_co_signs_and_only_late_entries() {
    let (h, _) = late_entry_recorded();
    let at = rome(2024, 3, 27, 21, 0);
    CaseTest::given(h)
        .when(cosign(eid(1)))
        .by(resp_provider())
        .at(at)
        .then_err(DomainError::NotSupportDesk);
    CaseTest::given(phase3_with_entries(1, true))
        .when(cosign(eid(1)))
        .by_role(support(), ActorRole::Support)
        .at(evening())
        .then_err(DomainError::NotALateEntry(eid(1)));
}
