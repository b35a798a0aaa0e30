//! Art. 6 phases I–II: validation, closure and whole-diary confirmation.
use crate::common::*;

#[test]
fn closing_a_phase_i_diary_sends_the_whole_diary_for_confirmation() {
    closing_phase_i(phase1_validated(2, true), resp_asst()).then_matches(|e| match e {
        [
            CaseEvent::PhaseDiaryClosed {
                phase: Phase::I,
                entry_ids,
                total_minutes: 120,
                ..
            },
            CaseEvent::ConfirmationRequested {
                request_id,
                scope: RequestScope::WholeDiary,
                entry_ids: requested,
                checklist,
                deadline: dl,
                confirmers,
                ..
            },
        ] => {
            entry_ids.len() == 2
                && requested == entry_ids
                && *request_id == rid(1)
                && checklist.passed
                && dl.is_none()
                && confirmers == &vec![parent()]
        }
        _ => false,
    });
}

#[test]
fn only_the_responsabile_closes_a_diary() {
    closing_phase_i(phase1_validated(1, true), psicologo()).then_err(
        DomainError::NotPhaseResponsabile {
            phase: Phase::I,
            ente: Ente::Asst,
        },
    );
}

#[test]
fn a_whole_diary_is_closed_only_when_every_entry_is_validated() {
    let mut h = phase1_validated(1, true);
    h.push(psi_entry(
        eid(7),
        "stesura_pi",
        slot(d(3, 4), "14:00", "15:00"),
    ));
    closing_phase_i(h, resp_asst())
        .then_err(DomainError::UnvalidatedEntriesAtClosure(vec![eid(7)]));
}

#[test]
fn an_empty_whole_diary_is_not_closed() {
    closing_phase_i(case_in_phase(Phase::I, true), resp_asst())
        .then_err(DomainError::EmptyDiary(Phase::I));
}

#[test]
fn per_entry_requests_are_not_used_in_phases_i_and_ii() {
    CaseTest::given(phase1_with_entries(1, true))
        .when(request(rid(1), Phase::I, &[eid(1)]))
        .by(resp_asst())
        .at(evening())
        .then_err(DomainError::PerEntryConfirmationNotApplicable(Phase::I));
}

#[test]
fn confirming_the_whole_diary_hands_it_to_ats() {
    let at = next_morning();
    let state = parent_answers(phase1_closed(true), confirm(rid(1)), at).then(vec![
        CaseEvent::EntriesConfirmed {
            request_id: rid(1),
            phase: Phase::I,
            entry_ids: vec![eid(1), eid(2)],
            channel: ConfirmationChannel::Firmalom,
            confirmed_cost_cents: Some(Cents(9000)),
            by: parent(),
            at,
        },
        CaseEvent::DiaryHandedToAts {
            phase: Phase::I,
            ats: "ATS-MILANO".to_owned(),
            confirmed_entry_ids: vec![eid(1), eid(2)],
            confirmed_minutes: 120,
            confirmed_cost_cents: Some(Cents(9000)),
            by: None,
            at,
        },
    ]);
    let file = state.file.unwrap();
    assert_eq!(file.diaries[&Phase::I].status, DiaryStatus::HandedToAts);
    assert!(file.entries.values().all(|e| e.confirmed));
}

#[test]
fn a_rejection_reopens_the_phase_for_amendments_and_a_new_closure() {
    let mut h = phase1_closed(true);
    let at = next_morning();
    let reason = "il colloquio del 4 marzo è durato mezz'ora";
    let state = parent_answers(h.clone(), reject(rid(1), reason), at).then(vec![
        CaseEvent::ConfirmationRejected {
            request_id: rid(1),
            phase: Phase::I,
            entry_ids: vec![eid(1), eid(2)],
            reason: Some(reason.to_owned()),
            by: parent(),
            at,
        },
    ]);
    let file = state.file.unwrap();
    assert_eq!(file.diaries[&Phase::I].status, DiaryStatus::Open);
    assert!(file.entries.values().all(|e| !e.validated && e.rejected));
    // the author amends, the responsabile validates and closes again with a new request
    step(&mut h, reject(rid(1), "errore"), signer(), at);
    let half_hour = slot(d(3, 4), "08:00", "08:30");
    let amended = amend(eid(1), "psicologo", "colloquio_valutazione", half_hour);
    step(&mut h, amended, staff(psicologo()), at);
    step(&mut h, validate_all(Phase::I), staff(resp_asst()), at);
    CaseTest::given(h)
        .when(close(Phase::I, rid(2)))
        .by(resp_asst())
        .at(at)
        .then_matches(|e| {
            matches!(e, [CaseEvent::PhaseDiaryClosed { total_minutes: 90, .. }, CaseEvent::ConfirmationRequested { request_id, .. }] if *request_id == rid(2))
        });
}

#[test]
fn a_closed_phase_diary_cannot_be_closed_again() {
    CaseTest::given(phase1_closed(true))
        .when(close(Phase::I, rid(2)))
        .by(resp_asst())
        .at(evening())
        .then_err(DomainError::DiaryClosed(Phase::I));
}
