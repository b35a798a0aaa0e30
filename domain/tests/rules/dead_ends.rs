//! No dead ends: a validation can be withdrawn before closing, a pending paper diary can end
//! unsigned, the case manager can be replaced (Art. 3-6).
use crate::common::*;

fn withdraw_validation(entries: Option<Vec<Uuid>>, reason: Option<&str>) -> CaseCommand {
    CaseCommand::WithdrawValidation(WithdrawValidation {
        phase: Phase::I,
        entry_ids: entries,
        reason: reason.map(str::to_owned),
    })
}

#[test]
fn the_responsabile_withdraws_a_validation_before_closing() {
    // Given phase I with entries 1 and 2 validated, when the ASST responsabile withdraws the
    // validation of entry 2 with a reason, then entry 2 is editable again by its author
    let because = Some("orario da correggere");
    let at = rome(2024, 3, 5, 9, 0);
    let state = CaseTest::given(phase1_validated(2, true))
        .when(withdraw_validation(Some(vec![eid(2)]), because))
        .by(resp_asst())
        .at(at)
        .then(vec![CaseEvent::ValidationWithdrawn {
            phase: Phase::I,
            entry_ids: vec![eid(2)],
            reason: "orario da correggere".into(),
            by: resp_asst(),
            at,
        }]);
    let file = state.file.unwrap();
    assert!(file.entries[&eid(1)].validated && !file.entries[&eid(2)].validated);
    let mut h = phase1_validated(2, true);
    step(
        &mut h,
        withdraw_validation(None, because),
        staff(resp_asst()),
        at,
    );
    CaseTest::given(h)
        .when(amend(
            eid(2),
            "psicologo",
            "colloquio_valutazione",
            slot(d(3, 4), "09:00", "09:30"),
        ))
        .by(psicologo())
        .at(at)
        .then_matches(|e| matches!(e, [CaseEvent::EntryAmended { .. }]));
}

#[test]
fn a_validation_is_withdrawn_by_the_responsabile_with_a_reason_before_closing() {
    let by = |who: FiscalCode, reason: Option<&str>| {
        CaseTest::given(phase1_validated(2, true))
            .when(withdraw_validation(None, reason))
            .by(who)
            .at(evening())
    };
    by(resp_asst(), None).then_err(DomainError::ReasonRequired);
    by(psicologo(), Some("x")).then_err(DomainError::NotPhaseResponsabile {
        phase: Phase::I,
        ente: Ente::Asst,
    });
    CaseTest::given(phase1_with_entries(2, true))
        .when(withdraw_validation(None, Some("x")))
        .by(resp_asst())
        .at(evening())
        .then_err(DomainError::NoValidationToWithdraw(Phase::I));
    // after the closure the diary waits for the answer: a rejection reopens it
    CaseTest::given(phase1_closed(true))
        .when(withdraw_validation(None, Some("x")))
        .by(resp_asst())
        .at(evening())
        .then_err(DomainError::DiaryClosed(Phase::I));
}

fn generate(paper: Uuid, phase: Phase, entries: Option<Vec<Uuid>>) -> CaseCommand {
    CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
        paper_id: paper,
        phase,
        entry_ids: entries,
    })
}

fn cancel(refused: bool, reason: Option<&str>) -> CaseCommand {
    CaseCommand::CancelPaperDiary(CancelPaperDiary {
        paper_id: rid(5),
        refused_by_family: refused,
        reason: reason.map(str::to_owned),
    })
}

/// Phase III without FirmaLOM, entries 1 and 2 on paper diary rid(5) generated on 4 March.
fn phase3_paper_pending() -> Vec<CaseEvent> {
    let mut h = phase3_with_entries(2, false);
    let paper = generate(rid(5), Phase::III, Some(vec![eid(1), eid(2)]));
    step(&mut h, paper, staff(resp_provider()), evening());
    h
}

#[test]
fn a_pending_paper_diary_is_cancelled_with_a_reason_and_no_longer_blocks_closure() {
    let at = rome(2024, 3, 6, 9, 0);
    let cancelling = |reason| {
        CaseTest::given(phase3_paper_pending())
            .when(cancel(false, reason))
            .by(resp_provider())
            .at(at)
    };
    cancelling(None).then_err(DomainError::ReasonRequired);
    cancelling(Some("diario smarrito")).then(vec![CaseEvent::PaperDiaryCancelled {
        paper_id: rid(5),
        phase: Phase::III,
        entry_ids: vec![eid(1), eid(2)],
        refused_by_family: false,
        reason: Some("diario smarrito".into()),
        by: resp_provider(),
        at,
    }]);
    let mut h = phase3_paper_pending();
    step(
        &mut h,
        cancel(false, Some("diario smarrito")),
        staff(resp_provider()),
        at,
    );
    // the diary closes (its entries never confirmed), or a new paper diary is printed
    CaseTest::given(h.clone())
        .when(close(Phase::III, rid(9)))
        .by(resp_provider())
        .at(at)
        .then_matches(|e| matches!(e, [CaseEvent::PhaseDiaryClosed { .. }, ..]));
    CaseTest::given(h)
        .when(generate(rid(6), Phase::III, Some(vec![eid(1), eid(2)])))
        .by(resp_provider())
        .at(at)
        .then_matches(|e| matches!(e, [CaseEvent::PaperDiaryGenerated { .. }]));
}

#[test]
fn a_family_that_refuses_to_sign_is_recorded_as_a_rejection() {
    // Given phase I closed and its whole-diary paper pending, when the responsabile records
    // that the family refused to sign (no reason given), then the diary reopens as after a
    // rejection
    let mut h = phase1_closed(false);
    step(
        &mut h,
        generate(rid(5), Phase::I, None),
        staff(resp_asst()),
        evening(),
    );
    let at = rome(2024, 3, 6, 9, 0);
    let state = CaseTest::given(h)
        .when(cancel(true, None))
        .by(resp_asst())
        .at(at)
        .then(vec![CaseEvent::PaperDiaryCancelled {
            paper_id: rid(5),
            phase: Phase::I,
            entry_ids: vec![eid(1), eid(2)],
            refused_by_family: true,
            reason: None,
            by: resp_asst(),
            at,
        }]);
    let file = state.file.unwrap();
    assert_eq!(file.diaries[&Phase::I].status, DiaryStatus::Open);
    assert!(file.entries.values().all(|e| e.rejected && !e.validated));
    assert_eq!(file.requests[&rid(5)].status, RequestStatus::Rejected);
}

#[test]
fn only_a_pending_paper_diary_of_the_phase_responsabile_is_cancelled() {
    CaseTest::given(phase3_paper_pending())
        .when(cancel(false, Some("x")))
        .by(resp_asst())
        .at(evening())
        .then_err(DomainError::NotPhaseResponsabile {
            phase: Phase::III,
            ente: Ente::Provider,
        });
    CaseTest::given(phase3_requested())
        .when(CaseCommand::CancelPaperDiary(CancelPaperDiary {
            paper_id: rid(1),
            refused_by_family: true,
            reason: None,
        }))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::WrongConfirmationChannel(rid(1)));
}

fn new_case_manager() -> FiscalCode {
    outsider()
}

#[test]
fn the_ats_replaces_the_case_manager() {
    let change = || {
        CaseCommand::ChangeCaseManager(ChangeCaseManager {
            case_manager: new_case_manager(),
        })
    };
    let state = CaseTest::given(case_in_phase(Phase::III, true))
        .when(change())
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(evening())
        .then(vec![CaseEvent::CaseManagerChanged {
            previous: case_manager(),
            case_manager: new_case_manager(),
            by: ats_operator(),
            at: evening(),
        }]);
    assert_eq!(state.file.unwrap().case_manager, new_case_manager());
    for who in [resp_provider(), case_manager()] {
        CaseTest::given(case_in_phase(Phase::III, true))
            .when(change())
            .by(who)
            .at(evening())
            .then_err(DomainError::NotAtsOperator);
    }
    // the new case manager records the case manager's hours, the old one no longer does
    let mut h = case_in_phase(Phase::III, true);
    step(
        &mut h,
        change(),
        Actor::person(ats_operator(), ActorRole::AtsOperator),
        evening(),
    );
    let hour = |who| {
        CaseTest::given(h.clone())
            .when(rec(
                eid(1),
                Phase::III,
                "case_manager",
                "case_management",
                slot(d(3, 4), "09:00", "10:00"),
            ))
            .by(who)
            .at(evening())
    };
    hour(new_case_manager()).then_matches(|e| matches!(e, [CaseEvent::EntryRecorded { .. }]));
    hour(case_manager()).then_err(DomainError::ProfessionalNotEnabled {
        professional: case_manager(),
        phase: Phase::III,
    });
}
