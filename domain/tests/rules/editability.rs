//! Art. 5-6: who may change an entry, and until when.
use crate::common::*;

fn amend3(entry: Uuid, s: TimeSlot) -> CaseCommand {
    amend(
        entry,
        "educatore_professionale",
        "accompagnamento_inclusione",
        s,
    )
}

#[test]
fn the_author_amends_own_entry_with_the_full_new_values() {
    let s = slot(d(3, 4), "08:00", "08:30");
    CaseTest::given(phase3_with_entries(1, true))
        .when(amend3(eid(1), s))
        .by(educatore())
        .at(evening())
        .then(vec![CaseEvent::EntryAmended {
            entry_id: eid(1),
            figure: fig("educatore_professionale"),
            service: svc("accompagnamento_inclusione"),
            slot: s,
            minutes: 30,
            system_failure_id: None,
            by: educatore(),
            at: evening(),
        }]);
}

#[test]
fn only_the_author_amends_an_entry() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(amend3(eid(1), slot(d(3, 4), "08:00", "08:30")))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::NotEntryAuthor {
            author: educatore(),
        });
}

#[test]
fn only_the_author_withdraws_an_entry() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(withdraw(eid(1)))
        .by(case_manager())
        .at(evening())
        .then_err(DomainError::NotEntryAuthor {
            author: educatore(),
        });
    CaseTest::given(phase3_with_entries(1, true))
        .when(withdraw(eid(1)))
        .by(educatore())
        .at(evening())
        .then(vec![CaseEvent::EntryWithdrawn {
            entry_id: eid(1),
            by: educatore(),
            at: evening(),
        }]);
}

#[test]
fn an_amended_date_must_respect_the_15_day_window() {
    // on 20 March, moving the entry to 4 March (deadline 19 March) is refused...
    let mut h = case_in_phase(Phase::III, true);
    h.push(recorded(
        eid(1),
        Phase::III,
        educatore(),
        "educatore_professionale",
        "contrasto_dispersione_scolastica",
        slot(d(3, 18), "09:00", "10:00"),
    ));
    CaseTest::given(h.clone())
        .when(amend3(eid(1), slot(d(3, 4), "09:00", "10:00")))
        .by(educatore())
        .at(rome(2024, 3, 20, 9, 0))
        .then_err(DomainError::AmendedDateTooLate {
            delivered: d(3, 4),
            deadline: d(3, 19),
            days: 15,
        });
    // ...moving it to 6 March (deadline 21 March) is fine
    CaseTest::given(h)
        .when(amend3(eid(1), slot(d(3, 6), "09:00", "10:00")))
        .by(educatore())
        .at(rome(2024, 3, 20, 9, 0))
        .then_matches(|e| e.len() == 1);
}

#[test]
fn amending_other_fields_of_an_old_entry_keeps_its_date_and_is_allowed() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(amend3(eid(1), slot(d(3, 4), "08:00", "09:00")))
        .by(educatore())
        .at(rome(2024, 3, 30, 9, 0))
        .then_matches(|e| matches!(e, [CaseEvent::EntryAmended { .. }]));
}

#[test]
fn an_amendment_cannot_create_an_overlap() {
    CaseTest::given(phase3_with_entries(2, true))
        .when(amend3(eid(1), slot(d(3, 4), "08:30", "09:30")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::OverlappingEntry { other: eid(2) });
}

#[test]
fn phase_i_entries_are_editable_until_validated() {
    let mut h = phase1_with_entries(1, true);
    CaseTest::given(h.clone())
        .when(amend(
            eid(1),
            "psicologo",
            "valutazione_multidimensionale",
            slot(d(3, 4), "08:00", "09:00"),
        ))
        .by(psicologo())
        .at(evening())
        .then_matches(|e| e.len() == 1);
    step(
        &mut h,
        validate_all(Phase::I),
        staff(resp_asst()),
        evening(),
    );
    CaseTest::given(h.clone())
        .when(amend(
            eid(1),
            "psicologo",
            "valutazione_multidimensionale",
            slot(d(3, 4), "08:00", "09:00"),
        ))
        .by(psicologo())
        .at(evening())
        .then_err(DomainError::EntryValidated(eid(1)));
    CaseTest::given(h)
        .when(withdraw(eid(1)))
        .by(psicologo())
        .at(evening())
        .then_err(DomainError::EntryValidated(eid(1)));
}

#[test]
fn only_the_phase_responsabile_validates() {
    CaseTest::given(phase1_with_entries(1, true))
        .when(validate_all(Phase::I))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::NotPhaseResponsabile {
            phase: Phase::I,
            ente: Ente::Asst,
        });
}

#[test]
fn validation_applies_to_whole_diary_phases_only() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(validate_all(Phase::III))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::ValidationNotApplicable(Phase::III));
}

#[test]
fn phase_iii_entries_are_editable_until_included_in_a_pending_request() {
    let h = phase3_requested();
    // eid(3) is not in the request: editable
    CaseTest::given(h.clone())
        .when(amend3(eid(3), slot(d(3, 4), "10:00", "10:30")))
        .by(educatore())
        .at(evening())
        .then_matches(|e| e.len() == 1);
    // eid(1) is in the pending request: not editable
    CaseTest::given(h.clone())
        .when(amend3(eid(1), slot(d(3, 4), "08:00", "08:30")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::EntryInPendingRequest(eid(1)));
    CaseTest::given(h)
        .when(withdraw(eid(2)))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::EntryInPendingRequest(eid(2)));
}

#[test]
fn rejected_entries_become_editable_again() {
    let mut h = phase3_requested();
    step(
        &mut h,
        reject(rid(1), "orari errati"),
        signer(),
        rome(2024, 3, 5, 9, 0),
    );
    CaseTest::given(h)
        .when(amend3(eid(1), slot(d(3, 4), "08:00", "08:30")))
        .by(educatore())
        .at(rome(2024, 3, 5, 10, 0))
        .then_matches(|e| e.len() == 1);
}

#[test]
fn confirmed_entries_never_change() {
    let mut h = phase3_requested();
    step(&mut h, confirm(rid(1)), signer(), rome(2024, 3, 5, 9, 0));
    let later = rome(2024, 3, 5, 10, 0);
    CaseTest::given(h.clone())
        .when(amend3(eid(1), slot(d(3, 4), "08:00", "08:30")))
        .by(educatore())
        .at(later)
        .then_err(DomainError::EntryConfirmed(eid(1)));
    CaseTest::given(h.clone())
        .when(withdraw(eid(1)))
        .by(educatore())
        .at(later)
        .then_err(DomainError::EntryConfirmed(eid(1)));
    // nor can they be sent again
    CaseTest::given(h)
        .when(request(rid(2), Phase::III, &[eid(1)]))
        .by(resp_provider())
        .at(later)
        .then_err(DomainError::EntryConfirmed(eid(1)));
}

#[test]
fn nothing_can_be_changed_after_the_diary_is_closed() {
    let mut h = phase3_with_entries(1, true);
    step(
        &mut h,
        close(Phase::III, rid(9)),
        staff(resp_provider()),
        evening(),
    );
    CaseTest::given(h.clone())
        .when(amend3(eid(1), slot(d(3, 4), "08:00", "08:30")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::DiaryClosed(Phase::III));
    CaseTest::given(h)
        .when(withdraw(eid(1)))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::DiaryClosed(Phase::III));
}

#[test]
fn an_expired_request_releases_its_entries() {
    let mut h = phase3_requested();
    step(
        &mut h,
        CaseCommand::ExpireConfirmationRequest(ExpireConfirmationRequest { request_id: rid(1) }),
        Actor::System,
        rome(2024, 3, 5, 18, 1),
    );
    CaseTest::given(h)
        .when(amend3(eid(1), slot(d(3, 4), "08:00", "08:30")))
        .by(educatore())
        .at(rome(2024, 3, 6, 9, 0))
        .then_matches(|e| e.len() == 1);
}
