//! One professional, one hour (Reg. UE 2021/1060 art. 53(1)(b); Art. 5): the same person's
//! entries never overlap, whatever case or measure they are on.
use crate::common::*;
use diario_domain::agenda::*;

/// Another case of the same professional.
fn other_case() -> Uuid {
    Uuid::from_u128(0xB)
}

fn up_id() -> MeasureId {
    up().id.clone()
}

/// An agenda holding entry 90 on the other case, 4 March 09:00-11:00.
fn agenda_with_other_case_morning() -> AgendaState {
    evolve_agenda(
        AgendaState::new(),
        &AgendaEvent::SlotClaimed {
            entry_id: eid(90),
            case_id: other_case(),
            measure_id: up_id(),
            slot: slot(d(3, 4), "09:00", "11:00"),
            imported: false,
            at: evening(),
        },
    )
}

/// The educator's changes on this case for `events`, given phase III open.
fn educator_changes(events: &[CaseEvent]) -> AgendaChanges {
    let state = fold(&case_in_phase(Phase::III, true));
    let mut all = changes(&state, case_id(), events);
    assert_eq!(all.len(), 1, "one professional's agenda is moved");
    all.remove(0)
}

fn educator_records(entry: Uuid, start: &str, end: &str) -> CaseEvent {
    recorded(
        entry,
        Phase::III,
        educatore(),
        "educatore_professionale",
        DISPERSIONE,
        slot(d(3, 4), start, end),
    )
}

#[test]
fn recording_an_entry_claims_its_slot_in_the_authors_agenda() {
    let recorded = educator_records(eid(1), "14:00", "15:00");
    let change = educator_changes(std::slice::from_ref(&recorded));
    assert_eq!(change.professional, educatore());
    let events = decide_agenda(&AgendaState::new(), &change, evening()).unwrap();
    assert_eq!(
        events,
        vec![AgendaEvent::SlotClaimed {
            entry_id: eid(1),
            case_id: case_id(),
            measure_id: up_id(),
            slot: slot(d(3, 4), "14:00", "15:00"),
            imported: false,
            at: evening(),
        }]
    );
}

#[test]
fn an_entry_overlapping_the_professionals_entry_on_another_case_is_refused_naming_that_case() {
    // Given the educator's 09:00-11:00 on another case, when this case records 10:00-12:00
    // for the same educator, then it is refused and the other case is named.
    let change = educator_changes(&[educator_records(eid(1), "10:00", "12:00")]);
    assert_eq!(
        decide_agenda(&agenda_with_other_case_morning(), &change, evening()),
        Err(DomainError::OverlappingEntryOnOtherCase {
            case_id: other_case(),
            entry_id: eid(90),
        })
    );
    assert_eq!(
        DomainError::OverlappingEntryOnOtherCase {
            case_id: other_case(),
            entry_id: eid(90),
        }
        .code(),
        "overlapping-entry-other-case"
    );
}

#[test]
fn touching_slots_on_two_cases_are_both_billed() {
    let change = educator_changes(&[educator_records(eid(1), "11:00", "12:00")]);
    let events = decide_agenda(&agenda_with_other_case_morning(), &change, evening()).unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn another_professionals_agenda_is_not_this_ones() {
    // The psychologist's hour at the same time is not in the educator's agenda.
    let state = fold(&case_in_phase(Phase::III, true));
    let psi = recorded(
        eid(2),
        Phase::I,
        psicologo(),
        "psicologo",
        "valutazione_multidimensionale",
        slot(d(3, 4), "09:00", "10:00"),
    );
    let all = changes(&state, case_id(), &[psi]);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].professional, psicologo());
}

#[test]
fn a_withdrawn_entrys_time_is_free_again_on_every_case() {
    // Given entry 90 withdrawn on its case, the same time can be billed here.
    let mut history = case_in_phase(Phase::III, true);
    history.push(educator_records(eid(90), "09:00", "11:00"));
    let state = fold(&history);
    let withdrawn = CaseEvent::EntryWithdrawn {
        entry_id: eid(90),
        reason: Some("errore".into()),
        by: educatore(),
        at: evening(),
    };
    let release = changes(&state, other_case(), &[withdrawn]);
    assert_eq!(
        release[0].changes,
        vec![AgendaChange::Release { entry_id: eid(90) }]
    );
    let events = decide_agenda(&agenda_with_other_case_morning(), &release[0], evening()).unwrap();
    let agenda = events
        .iter()
        .fold(agenda_with_other_case_morning(), evolve_agenda);
    assert!(agenda.is_empty());
    let change = educator_changes(&[educator_records(eid(1), "10:00", "12:00")]);
    assert!(decide_agenda(&agenda, &change, evening()).is_ok());
}

#[test]
fn an_amendment_moves_the_claim_and_is_checked_against_the_other_cases() {
    let mut history = case_in_phase(Phase::III, true);
    history.push(educator_records(eid(1), "14:00", "15:00"));
    let state = fold(&history);
    let agenda = decide_agenda(
        &agenda_with_other_case_morning(),
        &educator_changes(&[educator_records(eid(1), "14:00", "15:00")]),
        evening(),
    )
    .unwrap()
    .iter()
    .fold(agenda_with_other_case_morning(), evolve_agenda);
    let amended = |start: &str, end: &str| CaseEvent::EntryAmended {
        entry_id: eid(1),
        figure: fig("educatore_professionale"),
        service: svc(DISPERSIONE),
        slot: slot(d(3, 4), start, end),
        minutes: 60,
        system_failure_id: None,
        rate: None,
        reason: Some("orario".into()),
        by: educatore(),
        at: evening(),
    };
    // Moving within its own old slot is no overlap with itself.
    let own = changes(&state, case_id(), &[amended("14:30", "15:30")]);
    assert!(decide_agenda(&agenda, &own[0], evening()).is_ok());
    // Moving onto the other case's morning is refused.
    let onto = changes(&state, case_id(), &[amended("10:00", "11:00")]);
    assert_eq!(
        decide_agenda(&agenda, &onto[0], evening()),
        Err(DomainError::OverlappingEntryOnOtherCase {
            case_id: other_case(),
            entry_id: eid(90),
        })
    );
}

#[test]
fn the_import_of_history_claims_each_live_entry_once_and_keeps_overlaps_for_the_report() {
    let mut a = case_in_phase(Phase::III, true);
    a.push(educator_records(eid(1), "09:00", "11:00"));
    a.push(educator_records(eid(2), "15:00", "16:00"));
    a.push(CaseEvent::EntryWithdrawn {
        entry_id: eid(2),
        reason: Some("errore".into()),
        by: educatore(),
        at: evening(),
    });
    let a = fold(&a);
    let mut b = case_in_phase(Phase::III, true);
    b.push(educator_records(eid(3), "10:00", "12:00"));
    let b = fold(&b);
    let cases = [(case_id(), &a), (other_case(), &b)];
    let events = import_claims(&AgendaState::new(), &educatore(), &cases, evening());
    assert_eq!(events.len(), 2, "the withdrawn entry claims nothing");
    assert!(
        events
            .iter()
            .all(|e| matches!(e, AgendaEvent::SlotClaimed { imported: true, .. }))
    );
    let agenda = events.iter().fold(AgendaState::new(), evolve_agenda);
    assert_eq!(overlaps(&agenda), vec![(eid(1), eid(3))]);
    // A second import finds nothing left to claim.
    assert!(import_claims(&agenda, &educatore(), &cases, evening()).is_empty());
}
