//! Art. 5: recording entries.
use crate::common::*;

fn edu(entry: Uuid, service: &str, s: TimeSlot) -> CaseCommand {
    rec(entry, Phase::III, "educatore_professionale", service, s)
}

#[test]
fn an_enabled_professional_records_figure_service_date_and_times() {
    let s = slot(d(3, 4), "09:00", "10:30");
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), "contrasto_dispersione_scolastica", s))
        .by(educatore())
        .at(evening())
        .then(vec![CaseEvent::EntryRecorded {
            entry_id: eid(1),
            phase: Phase::III,
            professional: educatore(),
            figure: fig("educatore_professionale"),
            service: svc("contrasto_dispersione_scolastica"),
            slot: s,
            minutes: 90,
            system_failure_id: None,
            at: evening(),
        }]);
}

#[test]
fn the_figure_must_be_in_the_catalogue() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(rec(
            eid(1),
            Phase::III,
            "astronauta",
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "09:00", "10:00"),
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::FigureNotInCatalogue(fig("astronauta")));
}

#[test]
fn the_service_must_be_in_the_catalogue() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), "giardinaggio", slot(d(3, 4), "09:00", "10:00")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::ServiceNotInCatalogue(svc("giardinaggio")));
}

#[test]
fn the_service_must_belong_to_the_phase() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), "stesura_pdi", slot(d(3, 4), "09:00", "10:00")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::ServiceNotInPhase {
            service: svc("stesura_pdi"),
            phase: Phase::III,
        });
}

#[test]
fn the_figure_must_be_one_the_professional_was_enabled_for() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(rec(
            eid(1),
            Phase::III,
            "psicologo",
            "counselling",
            slot(d(3, 4), "09:00", "10:00"),
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::FigureNotEnabledForProfessional(fig(
            "psicologo",
        )));
}

#[test]
fn the_figure_must_be_allowed_to_deliver_the_service() {
    // the educator is also enabled as mediatore, but counselling is for psychologists only
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(rec(
            eid(1),
            Phase::III,
            "mediatore",
            "counselling",
            slot(d(3, 4), "09:00", "10:00"),
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::FigureCannotDeliverService {
            figure: fig("mediatore"),
            service: svc("counselling"),
        });
}

#[test]
fn entry_duration_must_be_a_multiple_of_30_minutes() {
    // 1) a slot off the half hour cannot even be built or deserialised
    assert!(TimeSlot::parse(d(3, 4), "09:00", "09:45").is_err());
    let json = serde_json::json!({
        "type": "RecordEntry",
        "entry_id": eid(1),
        "phase": 3,
        "figure": "educatore_professionale",
        "service": "contrasto_dispersione_scolastica",
        "slot": {"date": "2024-03-04", "start": "09:00", "end": "09:45"}
    });
    assert!(serde_json::from_value::<CaseCommand>(json).is_err());
    // 2) the decider applies the measure's granularity too
    let mut hourly = up();
    hourly.slot_granularity_minutes = 60;
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(
            eid(1),
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "09:00", "10:30"),
        ))
        .by(educatore())
        .at(evening())
        .measure(hourly)
        .then_err(DomainError::DurationNotMultiple {
            minutes: 90,
            granularity: 60,
        });
}

#[test]
fn a_professional_cannot_have_two_overlapping_entries_on_the_case() {
    let mut h = case_in_phase(Phase::III, true);
    h.push(recorded(
        eid(1),
        Phase::III,
        educatore(),
        "educatore_professionale",
        "contrasto_dispersione_scolastica",
        slot(d(3, 4), "09:00", "10:00"),
    ));
    CaseTest::given(h.clone())
        .when(edu(
            eid(2),
            "accompagnamento_inclusione",
            slot(d(3, 4), "09:30", "11:00"),
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::OverlappingEntry { other: eid(1) });
    // back-to-back slots do not overlap
    CaseTest::given(h)
        .when(edu(
            eid(2),
            "accompagnamento_inclusione",
            slot(d(3, 4), "10:00", "11:00"),
        ))
        .by(educatore())
        .at(evening())
        .then_matches(|e| e.len() == 1);
}

#[test]
fn another_professional_may_record_the_same_time() {
    let mut h = case_in_phase(Phase::III, true);
    h.push(recorded(
        eid(1),
        Phase::III,
        educatore(),
        "educatore_professionale",
        "contrasto_dispersione_scolastica",
        slot(d(3, 4), "09:00", "10:00"),
    ));
    CaseTest::given(h)
        .when(rec(
            eid(2),
            Phase::III,
            "case_manager",
            "case_management",
            slot(d(3, 4), "09:00", "10:00"),
        ))
        .by(case_manager())
        .at(evening())
        .then_matches(|e| e.len() == 1);
}

#[test]
fn a_service_cannot_be_recorded_before_it_ends() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(
            eid(1),
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "17:30", "18:30"),
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::EntryInTheFuture);
}

#[test]
fn recording_more_than_15_days_after_delivery_is_refused() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(
            eid(1),
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "09:00", "10:00"),
        ))
        .by(educatore())
        .at(rome(2024, 3, 20, 8, 0))
        .then_err(DomainError::EntryRecordedTooLate {
            delivered: d(3, 4),
            deadline: d(3, 19),
            days: 15,
        });
}

#[test]
fn recording_on_the_15th_day_after_delivery_is_allowed() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(
            eid(1),
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "09:00", "10:00"),
        ))
        .by(educatore())
        .at(rome(2024, 3, 19, 23, 59))
        .then_matches(|e| e.len() == 1);
}

#[test]
fn the_15_days_are_civil_days_in_rome() {
    // 23:30 UTC on 19 March is already 20 March in Rome: too late.
    use chrono::TimeZone;
    let late_in_rome = Utc.with_ymd_and_hms(2024, 3, 19, 23, 30, 0).unwrap();
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(
            eid(1),
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "09:00", "10:00"),
        ))
        .by(educatore())
        .at(late_in_rome)
        .then_err_code("entry-recorded-too-late");
}

#[test]
fn nothing_is_recorded_in_a_diary_that_is_not_open() {
    CaseTest::given(case_in_phase(Phase::II, true))
        .when(edu(
            eid(1),
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "09:00", "10:00"),
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::DiaryNotOpened(Phase::III));
}

#[test]
fn nothing_is_recorded_after_the_diary_is_closed() {
    let mut h = phase3_with_entries(1, true);
    step(
        &mut h,
        close(Phase::III, rid(9)),
        staff(resp_provider()),
        evening(),
    );
    CaseTest::given(h)
        .when(edu(
            eid(2),
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "15:00", "16:00"),
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::DiaryClosed(Phase::III));
}

#[test]
fn an_entry_id_is_used_once() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(edu(
            eid(1),
            "contrasto_dispersione_scolastica",
            slot(d(3, 4), "15:00", "16:00"),
        ))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::EntryIdAlreadyUsed(eid(1)));
}
