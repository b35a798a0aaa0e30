//! Art. 6: interruption of the pathway.
use crate::common::*;

fn interrupt() -> CaseCommand {
    because(InterruptionCause::Relocation, None)
}

fn because(cause: InterruptionCause, reason: Option<&str>) -> CaseCommand {
    CaseCommand::InterruptPathway(InterruptPathway {
        cause,
        reason: reason.map(str::to_owned),
    })
}

#[test]
fn interruption_closes_the_pathway_and_ends_pending_requests() {
    let mut h = phase3_requested();
    // phase I, II and III are open; the III request rid(1) is pending
    let at = next_morning();
    let state = CaseTest::given(h.clone())
        .when(interrupt())
        .by(resp_provider())
        .at(at)
        .then_matches(|e| match e {
            [
                CaseEvent::PathwayInterrupted {
                    ended_request_ids,
                    closed_phases,
                    ..
                },
                handed @ ..,
            ] => {
                ended_request_ids == &vec![rid(1)]
                    && closed_phases == &vec![Phase::I, Phase::II, Phase::III]
                    && handed.len() == 3
                    && handed
                        .iter()
                        .all(|h| matches!(h, CaseEvent::DiaryHandedToAts { .. }))
            }
            _ => false,
        })
        .1;
    let file = state.file.unwrap();
    assert_eq!(file.requests[&rid(1)].status, RequestStatus::Ended);
    assert!(file.entries.values().all(|e| e.pending_request.is_none()));
    // the answer that arrives afterwards is refused
    step(&mut h, interrupt(), staff(resp_provider()), at);
    parent_answers(h, confirm(rid(1)), at).then_err(DomainError::PathwayClosed);
}

#[test]
fn the_case_manager_may_record_the_interruption() {
    CaseTest::given(phase3_requested())
        .when(interrupt())
        .by(case_manager())
        .at(evening())
        .then_matches(|e| matches!(e.first(), Some(CaseEvent::PathwayInterrupted { .. })));
}

#[test]
fn only_a_responsabile_or_the_case_manager_interrupts_the_pathway() {
    CaseTest::given(phase3_requested())
        .when(interrupt())
        .by(educatore())
        .at(evening())
        .then_err(DomainError::InterruptionNotAllowed);
}

#[test]
fn nothing_is_accepted_after_the_interruption() {
    let mut h = phase3_with_entries(1, true);
    step(&mut h, interrupt(), staff(resp_provider()), evening());
    let afternoon = slot(d(3, 4), "15:00", "16:00");
    CaseTest::given(h)
        .when(rec(
            eid(2),
            Phase::III,
            "educatore_professionale",
            DISPERSIONE,
            afternoon,
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::PathwayClosed);
}

#[test]
fn the_interruption_names_its_verified_cause() {
    // Given phase III, when the provider's responsabile records the interruption for a cause
    // of the list, then the event names it; "other" must be described
    CaseTest::given(phase3_requested())
        .when(because(InterruptionCause::Withdrawal, None))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(
                e.first(),
                Some(CaseEvent::PathwayInterrupted {
                    cause: Some(InterruptionCause::Withdrawal),
                    ..
                })
            )
        });
    CaseTest::given(phase3_requested())
        .when(because(InterruptionCause::Other, Some("  ")))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::ReasonRequired);
    CaseTest::given(phase3_requested())
        .when(because(InterruptionCause::Other, Some("ricovero prolungato")))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(e.first(), Some(CaseEvent::PathwayInterrupted { reason, .. }) if reason == "ricovero prolungato")
        });
}

#[test]
fn a_responsabile_whose_phases_are_all_with_ats_no_longer_interrupts() {
    // Given phase I confirmed and handed to ATS, when the ASST responsabile records the
    // interruption, then refused; the case manager and the provider's responsabile still can
    let mut h = phase1_closed(true);
    step(&mut h, confirm(rid(1)), signer(), next_morning());
    let by = |who: FiscalCode| {
        CaseTest::given(h.clone())
            .when(interrupt())
            .by(who)
            .at(next_morning())
    };
    by(resp_asst()).then_err(DomainError::InterruptionNotAllowed);
    for who in [case_manager(), resp_provider()] {
        by(who).then_matches(|e| matches!(e.first(), Some(CaseEvent::PathwayInterrupted { .. })));
    }
}
