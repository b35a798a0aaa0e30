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

/// The educator's amendment of `entry` to half an hour of inclusione on 4 March, 08:00-08:30.
fn to_half_hour(entry: Uuid) -> CaseCommand {
    amend3(entry, slot(d(3, 4), "08:00", "08:30"))
}

/// Given phase III with the educator's entry 1 (4 March, 08:00-09:00), when `by` makes
/// `change` on the evening of 4 March.
fn changing_the_entry(change: CaseCommand, by: FiscalCode) -> CaseTest {
    CaseTest::given(phase3_with_entries(1, true))
        .when(change)
        .by(by)
        .at(evening())
}

#[test]
fn the_author_amends_own_entry_with_the_full_new_values() {
    let s = slot(d(3, 4), "08:00", "08:30");
    changing_the_entry(amend3(eid(1), s), educatore()).then(vec![CaseEvent::EntryAmended {
        entry_id: eid(1),
        figure: fig("educatore_professionale"),
        service: svc("accompagnamento_inclusione"),
        slot: s,
        minutes: 30,
        system_failure_id: None,
        rate: Some(up().rate(&fig("educatore_professionale"))),
        reason: Some(MATERIAL_ERROR.into()),
        by: educatore(),
        at: evening(),
    }]);
}

#[test]
fn the_reason_of_a_correction_or_a_withdrawal_is_kept_in_its_event() {
    let with_reason = |reason: &str| {
        CaseCommand::WithdrawEntry(diario_domain::case::WithdrawEntry {
            entry_id: eid(1),
            reason: Some(reason.into()),
        })
    };
    changing_the_entry(with_reason("  registrata due volte  "), educatore()).then(vec![
        CaseEvent::EntryWithdrawn {
            entry_id: eid(1),
            reason: Some("registrata due volte".into()),
            by: educatore(),
            at: evening(),
        },
    ]);
    // A blank reason is no reason.
    changing_the_entry(with_reason("   "), educatore()).then(vec![CaseEvent::EntryWithdrawn {
        entry_id: eid(1),
        reason: None,
        by: educatore(),
        at: evening(),
    }]);
}

#[test]
fn only_the_author_amends_an_entry() {
    changing_the_entry(to_half_hour(eid(1)), resp_provider()).then_err(
        DomainError::NotEntryAuthor {
            author: educatore(),
        },
    );
}

#[test]
fn only_the_author_withdraws_an_entry() {
    changing_the_entry(withdraw(eid(1)), case_manager()).then_err(DomainError::NotEntryAuthor {
        author: educatore(),
    });
    changing_the_entry(withdraw(eid(1)), educatore()).then(vec![CaseEvent::EntryWithdrawn {
        entry_id: eid(1),
        reason: None,
        by: educatore(),
        at: evening(),
    }]);
}

#[test]
fn an_amended_date_must_respect_the_15_day_window() {
    // on 20 March, moving the entry to 4 March (deadline 19 March) is refused...
    let mut h = case_in_phase(Phase::III, true);
    let on_18_march = slot(d(3, 18), "09:00", "10:00");
    h.push(edu_entry(eid(1), Phase::III, DISPERSIONE, on_18_march));
    let moved_to = |day| amend3(eid(1), slot(d(3, day), "09:00", "10:00"));
    CaseTest::given(h.clone())
        .when(moved_to(4))
        .by(educatore())
        .at(rome(2024, 3, 20, 9, 0))
        .then_err(DomainError::AmendedDateTooLate {
            delivered: d(3, 4),
            deadline: d(3, 19),
            days: 15,
        });
    // ...moving it to 6 March (deadline 21 March) is fine
    CaseTest::given(h)
        .when(moved_to(6))
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
    let valutazione = slot(d(3, 4), "08:00", "09:00");
    let amended = amend(
        eid(1),
        "psicologo",
        "valutazione_multidimensionale",
        valutazione,
    );
    CaseTest::given(phase1_with_entries(1, true))
        .when(amended.clone())
        .by(psicologo())
        .at(evening())
        .then_matches(|e| e.len() == 1);
    for change in [amended, withdraw(eid(1))] {
        CaseTest::given(phase1_validated(1, true))
            .when(change)
            .by(psicologo())
            .at(evening())
            .then_err(DomainError::EntryValidated(eid(1)));
    }
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
    changing_the_entry(validate_all(Phase::III), resp_provider())
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
    // eid(1) and eid(2) are in the pending request: not editable
    for (change, locked) in [(to_half_hour(eid(1)), eid(1)), (withdraw(eid(2)), eid(2))] {
        CaseTest::given(h.clone())
            .when(change)
            .by(educatore())
            .at(evening())
            .then_err(DomainError::EntryInPendingRequest(locked));
    }
}

#[test]
fn rejected_entries_become_editable_again() {
    CaseTest::given(phase3_answered(reject(rid(1), "orari errati")))
        .when(to_half_hour(eid(1)))
        .by(educatore())
        .at(rome(2024, 3, 5, 10, 0))
        .then_matches(|e| e.len() == 1);
}

#[test]
fn confirmed_entries_never_change() {
    let h = phase3_answered(confirm(rid(1)));
    let later = rome(2024, 3, 5, 10, 0);
    for change in [to_half_hour(eid(1)), withdraw(eid(1))] {
        CaseTest::given(h.clone())
            .when(change)
            .by(educatore())
            .at(later)
            .then_err(DomainError::EntryConfirmed(eid(1)));
    }
    // nor can they be sent again
    CaseTest::given(h)
        .when(request(rid(2), Phase::III, &[eid(1)]))
        .by(resp_provider())
        .at(later)
        .then_err(DomainError::EntryConfirmed(eid(1)));
}

#[test]
fn nothing_can_be_changed_after_the_diary_is_closed() {
    for change in [to_half_hour(eid(1)), withdraw(eid(1))] {
        CaseTest::given(phase3_closed())
            .when(change)
            .by(educatore())
            .at(evening())
            .then_err(DomainError::DiaryClosed(Phase::III));
    }
}

/// Art. 5: editing ends "all'invio della richiesta di conferma"; only a rejection gives the
/// entries back. Given an expired request, when its author amends or withdraws one of its
/// entries, then it is refused: the ente sends the request again.
#[test]
fn an_expired_request_does_not_give_its_entries_back() {
    for change in [to_half_hour(eid(1)), withdraw(eid(1))] {
        CaseTest::given(phase3_expired())
            .when(change)
            .by(educatore())
            .at(rome(2024, 3, 6, 9, 0))
            .then_err(DomainError::EntrySentForConfirmation(eid(1)));
    }
    // An entry the request did not hold stays editable.
    CaseTest::given(phase3_expired())
        .when(withdraw(eid(3)))
        .by(educatore())
        .at(rome(2024, 3, 6, 9, 0))
        .then_matches(|e| e.len() == 1);
}

/// An amendment of entry 1 (4 March, 08:00-09:00, dispersione) to `figure`, `service` and `s`
/// with `reason`.
fn correction(figure: &str, service: &str, s: TimeSlot, reason: Option<&str>) -> CaseCommand {
    CaseCommand::AmendEntry(AmendEntry {
        entry_id: eid(1),
        figure: fig(figure),
        service: svc(service),
        slot: s,
        system_failure_id: None,
        reason: reason.map(str::to_owned),
    })
}

#[test]
fn every_amendment_says_which_material_error_it_corrects() {
    // Given entry 1, when the educator amends it with no reason or a blank one, then refused
    for reason in [None, Some("   ")] {
        let change = correction(
            "educatore_professionale",
            DISPERSIONE,
            slot(d(3, 4), "08:00", "08:30"),
            reason,
        );
        changing_the_entry(change, educatore()).then_err(DomainError::CorrectionReasonMissing);
    }
}

/// Given entry 1 (4 March, window until 19 March), when the educator amends it on 30 March.
fn late_correction(figure: &str, service: &str, s: TimeSlot) -> CaseTest {
    CaseTest::given(phase3_with_entries(1, true))
        .when(correction(figure, service, s, Some(MATERIAL_ERROR)))
        .by(educatore())
        .at(rome(2024, 3, 30, 9, 0))
}

#[test]
fn after_the_window_an_amendment_cannot_add_minutes() {
    late_correction(
        "educatore_professionale",
        DISPERSIONE,
        slot(d(3, 4), "08:00", "09:30"),
    )
    .then_err(DomainError::LateAmendmentAddsMinutes {
        deadline: d(3, 19),
        before: 60,
        after: 90,
    });
    // the same hour at another time of the day is a correction of the times, not more hours
    late_correction(
        "educatore_professionale",
        DISPERSIONE,
        slot(d(3, 4), "07:15", "08:15"),
    )
    .then_matches(|e| matches!(e, [CaseEvent::EntryAmended { minutes: 60, .. }]));
}

#[test]
fn after_the_window_an_amendment_cannot_move_the_date() {
    late_correction(
        "educatore_professionale",
        DISPERSIONE,
        slot(d(3, 5), "08:00", "09:00"),
    )
    .then_err(DomainError::LateAmendmentMovesDate { deadline: d(3, 19) });
}

#[test]
fn after_the_window_an_amendment_cannot_pass_to_a_dearer_figure() {
    // Given the educator recorded as mediatore (28 €/h): to educatore (30 €/h) is refused
    let mut h = case_in_phase(Phase::III, true);
    h.push(CaseEvent::EntryRecorded {
        entry_id: eid(1),
        phase: Phase::III,
        professional: educatore(),
        figure: fig("mediatore"),
        service: svc(DISPERSIONE),
        slot: slot(d(3, 4), "08:00", "09:00"),
        minutes: 60,
        system_failure_id: None,
        rate: Some(up().rate(&fig("mediatore"))),
        at: evening(),
    });
    let to = |figure: &str, service: &str, s| {
        CaseTest::given(h.clone())
            .when(correction(figure, service, s, Some(MATERIAL_ERROR)))
            .by(educatore())
            .at(rome(2024, 3, 30, 9, 0))
    };
    let hour = slot(d(3, 4), "08:00", "09:00");
    to("educatore_professionale", DISPERSIONE, hour).then_err(
        DomainError::LateAmendmentRaisesUnitCost {
            deadline: d(3, 19),
            figure: fig("educatore_professionale"),
        },
    );
    // the service can still be corrected, and the entry shortened
    to("mediatore", "accompagnamento_inclusione", hour)
        .then_matches(|e| matches!(e, [CaseEvent::EntryAmended { .. }]));
    to("mediatore", DISPERSIONE, slot(d(3, 4), "08:00", "08:30"))
        .then_matches(|e| matches!(e, [CaseEvent::EntryAmended { minutes: 30, .. }]));
}

/// Phase III with the educator's entry 1 (4 March, 08:00-09:00), the educator then disabled
/// by the provider's responsabile.
fn author_disabled() -> Vec<CaseEvent> {
    let mut h = phase3_with_entries(1, true);
    h.push(CaseEvent::ProfessionalDisabled {
        ente: Ente::Provider,
        professional: educatore(),
        by: resp_provider(),
        at: evening(),
    });
    h
}

fn on_a_disabled_authors_entry(change: CaseCommand, by: FiscalCode) -> CaseTest {
    CaseTest::given(author_disabled())
        .when(change)
        .by(by)
        .at(rome(2024, 3, 5, 9, 0))
}

#[test]
fn the_responsabile_withdraws_the_entry_of_a_professional_no_longer_enabled() {
    let because = |reason: Option<&str>| {
        CaseCommand::WithdrawEntry(WithdrawEntry {
            entry_id: eid(1),
            reason: reason.map(str::to_owned),
        })
    };
    on_a_disabled_authors_entry(
        because(Some("l'educatore ha lasciato l'ente")),
        resp_provider(),
    )
    .then(vec![CaseEvent::EntryWithdrawn {
        entry_id: eid(1),
        reason: Some("l'educatore ha lasciato l'ente".into()),
        by: resp_provider(),
        at: rome(2024, 3, 5, 9, 0),
    }]);
    // always with a reason
    on_a_disabled_authors_entry(because(None), resp_provider())
        .then_err(DomainError::CorrectionReasonMissing);
    // another professional, or the other ente's responsabile, still cannot
    for who in [psicologo(), resp_asst()] {
        on_a_disabled_authors_entry(because(Some("x")), who).then_err(
            DomainError::NotEntryAuthor {
                author: educatore(),
            },
        );
    }
    // while the author is enabled, the entry stays the author's (Art. 5)
    changing_the_entry(because(Some("x")), resp_provider()).then_err(DomainError::NotEntryAuthor {
        author: educatore(),
    });
}

#[test]
fn the_responsabile_may_shorten_but_never_lengthen_or_re_date_it() {
    let to = |figure: &str, service: &str, s| correction(figure, service, s, Some(MATERIAL_ERROR));
    let edu = "educatore_professionale";
    let shorter = slot(d(3, 4), "08:30", "09:00");
    on_a_disabled_authors_entry(to(edu, DISPERSIONE, shorter), resp_provider()).then(vec![
        CaseEvent::EntryAmended {
            entry_id: eid(1),
            figure: fig(edu),
            service: svc(DISPERSIONE),
            slot: shorter,
            minutes: 30,
            system_failure_id: None,
            rate: Some(up().rate(&fig(edu))),
            reason: Some(MATERIAL_ERROR.into()),
            by: resp_provider(),
            at: rome(2024, 3, 5, 9, 0),
        },
    ]);
    for refused in [
        to(edu, DISPERSIONE, slot(d(3, 4), "08:00", "09:30")),
        to(edu, DISPERSIONE, slot(d(3, 4), "07:30", "08:30")),
        to(edu, DISPERSIONE, slot(d(3, 3), "08:00", "09:00")),
        to("mediatore", DISPERSIONE, shorter),
        to(edu, "accompagnamento_inclusione", shorter),
    ] {
        on_a_disabled_authors_entry(refused, resp_provider())
            .then_err(DomainError::ResponsabileMayOnlyShorten);
    }
}
