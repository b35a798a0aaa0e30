//! Art. 6: interruption of the pathway.
use crate::common::*;

fn interrupt() -> CaseCommand {
    CaseCommand::InterruptPathway(InterruptPathway {
        reason: "il destinatario si è trasferito".to_owned(),
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
