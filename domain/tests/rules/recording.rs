//! Art. 5: recording entries.
use crate::common::*;

fn edu(entry: Uuid, service: &str, s: TimeSlot) -> CaseCommand {
    rec(entry, Phase::III, "educatore_professionale", service, s)
}

/// 4 March, from `start` to `end`.
fn on_4_march(start: &str, end: &str) -> TimeSlot {
    slot(d(3, 4), start, end)
}

/// Entry 1 of phase III on 4 March, 09:00-10:00, as `figure` delivering `service`.
fn entry_as(figure: &str, service: &str) -> CaseCommand {
    rec(
        eid(1),
        Phase::III,
        figure,
        service,
        on_4_march("09:00", "10:00"),
    )
}

/// Given phase III open, when the educator records entry 1 (4 March, 09:00-10:00) as `figure`
/// delivering `service`, on the evening.
fn educator_records_as(figure: &str, service: &str) -> CaseTest {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(entry_as(figure, service))
        .by(educatore())
        .at(evening())
}

/// Given phase III open, when the educator records at `now` the hour of dispersione delivered
/// on 4 March, 09:00-10:00 (15 days later is 19 March).
fn educator_records_4_march_hour_at(now: DateTime<Utc>) -> CaseTest {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(entry_as("educatore_professionale", DISPERSIONE))
        .by(educatore())
        .at(now)
}

#[test]
fn an_enabled_professional_records_figure_service_date_and_times() {
    let s = on_4_march("09:00", "10:30");
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), DISPERSIONE, s))
        .by(educatore())
        .at(evening())
        .then(vec![CaseEvent::EntryRecorded {
            entry_id: eid(1),
            phase: Phase::III,
            professional: educatore(),
            figure: fig("educatore_professionale"),
            service: svc(DISPERSIONE),
            slot: s,
            minutes: 90,
            system_failure_id: None,
            rate: Some(up().rate(&fig("educatore_professionale"))),
            at: evening(),
        }]);
}

#[test]
fn the_figure_must_be_in_the_catalogue() {
    educator_records_as("astronauta", DISPERSIONE)
        .then_err(DomainError::FigureNotInCatalogue(fig("astronauta")));
}

#[test]
fn the_service_must_be_in_the_catalogue() {
    educator_records_as("educatore_professionale", "giardinaggio")
        .then_err(DomainError::ServiceNotInCatalogue(svc("giardinaggio")));
}

#[test]
fn the_service_must_belong_to_the_phase() {
    educator_records_as("educatore_professionale", "stesura_pdi").then_err(
        DomainError::ServiceNotInPhase {
            service: svc("stesura_pdi"),
            phase: Phase::III,
        },
    );
}

#[test]
fn the_figure_must_be_one_the_professional_was_enabled_for() {
    educator_records_as("psicologo", "counselling").then_err(
        DomainError::FigureNotEnabledForProfessional(fig("psicologo")),
    );
}

#[test]
fn the_figure_must_be_allowed_to_deliver_the_service() {
    // the educator is also enabled as mediatore, but counselling is for psychologists only
    educator_records_as("mediatore", "counselling").then_err(
        DomainError::FigureCannotDeliverService {
            figure: fig("mediatore"),
            service: svc("counselling"),
        },
    );
}

#[test]
fn entry_duration_must_be_a_multiple_of_30_minutes() {
    // Given phase III, when the educator records 09:00-09:45, then 45 minutes are refused
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), DISPERSIONE, on_4_march("09:00", "09:45")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::DurationNotMultiple {
            minutes: 45,
            granularity: 30,
        });
    // and the decider applies the measure's granularity
    let mut hourly = up();
    hourly.slot_granularity_minutes = 60;
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), DISPERSIONE, on_4_march("09:00", "10:30")))
        .by(educatore())
        .at(evening())
        .measure(hourly)
        .then_err(DomainError::DurationNotMultiple {
            minutes: 90,
            granularity: 60,
        });
}

/// Given phase III, when the educator records `s` at `now`, then it is recorded with `minutes`.
fn recorded_with_minutes(s: TimeSlot, now: DateTime<Utc>, minutes: u32) {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), DISPERSIONE, s))
        .by(educatore())
        .at(now)
        .then(vec![CaseEvent::EntryRecorded {
            entry_id: eid(1),
            phase: Phase::III,
            professional: educatore(),
            figure: fig("educatore_professionale"),
            service: svc(DISPERSIONE),
            slot: s,
            minutes,
            system_failure_id: None,
            rate: Some(up().rate(&fig("educatore_professionale"))),
            at: now,
        }]);
}

#[test]
fn a_session_may_start_at_a_quarter_past() {
    // Art. 5 asks for half an hour or multiples, not for starts on :00 or :30
    recorded_with_minutes(on_4_march("09:15", "10:15"), evening(), 60);
}

#[test]
fn a_session_may_end_at_midnight() {
    let late = on_4_march("23:30", "24:00");
    assert!(late.ends_at_midnight());
    recorded_with_minutes(late, rome(2024, 3, 5, 8, 0), 30);
    // ... but not before it is over
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), DISPERSIONE, late))
        .by(educatore())
        .at(rome(2024, 3, 4, 23, 45))
        .then_err(DomainError::EntryInTheFuture);
}

#[test]
fn a_night_with_a_change_of_time_counts_the_time_that_really_passed() {
    // 31 March 2024: at 02:00 the clocks go to 03:00; 00:00-04:00 lasted three hours
    let spring = slot(d(3, 31), "00:00", "04:00");
    recorded_with_minutes(spring, rome(2024, 3, 31, 18, 0), 180);
    // 27 October 2024: 03:00 goes back to 02:00; 00:00-04:00 lasted five hours (the case is
    // open until the end of the year in the fixture)
    let autumn = slot(date(2024, 10, 27), "00:00", "04:00");
    recorded_with_minutes(autumn, rome(2024, 10, 27, 18, 0), 300);
}

#[test]
fn a_clock_time_that_does_not_exist_is_refused() {
    // 02:30 on 31 March 2024 was skipped by the change to summer time
    assert!(matches!(
        TimeSlot::parse(d(3, 31), "02:30", "04:00"),
        Err(TimeSlotError::NonexistentLocalTime { field: "start", .. })
    ));
    let json = serde_json::json!({
        "type": "RecordEntry",
        "entry_id": eid(1),
        "phase": 3,
        "figure": "educatore_professionale",
        "service": DISPERSIONE,
        "slot": {"date": "2024-03-31", "start": "01:00", "end": "02:30"}
    });
    assert!(serde_json::from_value::<CaseCommand>(json).is_err());
}

/// Phase III open with the educator's entry 1: dispersione on 4 March, 09:00-10:00.
fn educator_busy_9_to_10() -> Vec<CaseEvent> {
    let mut h = case_in_phase(Phase::III, true);
    let nine_to_ten = on_4_march("09:00", "10:00");
    h.push(edu_entry(eid(1), Phase::III, DISPERSIONE, nine_to_ten));
    h
}

#[test]
fn a_professional_cannot_have_two_overlapping_entries_on_the_case() {
    let inclusione = |start, end| edu(eid(2), "accompagnamento_inclusione", on_4_march(start, end));
    CaseTest::given(educator_busy_9_to_10())
        .when(inclusione("09:30", "11:00"))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::OverlappingEntry { other: eid(1) });
    // back-to-back slots do not overlap
    CaseTest::given(educator_busy_9_to_10())
        .when(inclusione("10:00", "11:00"))
        .by(educatore())
        .at(evening())
        .then_matches(|e| e.len() == 1);
}

#[test]
fn another_professional_may_record_the_same_time() {
    let nine_to_ten = on_4_march("09:00", "10:00");
    CaseTest::given(educator_busy_9_to_10())
        .when(rec(
            eid(2),
            Phase::III,
            "case_manager",
            "case_management",
            nine_to_ten,
        ))
        .by(case_manager())
        .at(evening())
        .then_matches(|e| e.len() == 1);
}

#[test]
fn a_service_cannot_be_recorded_before_it_ends() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(edu(eid(1), DISPERSIONE, on_4_march("17:30", "18:30")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::EntryInTheFuture);
}

#[test]
fn recording_more_than_15_days_after_delivery_is_refused() {
    educator_records_4_march_hour_at(rome(2024, 3, 20, 8, 0)).then_err(
        DomainError::EntryRecordedTooLate {
            delivered: d(3, 4),
            deadline: d(3, 19),
            days: 15,
        },
    );
}

#[test]
fn recording_on_the_15th_day_after_delivery_is_allowed() {
    educator_records_4_march_hour_at(rome(2024, 3, 19, 23, 59)).then_matches(|e| e.len() == 1);
}

#[test]
fn the_15_days_are_civil_days_in_rome() {
    // 23:30 UTC on 19 March is already 20 March in Rome: too late.
    use chrono::TimeZone;
    let late_in_rome = Utc.with_ymd_and_hms(2024, 3, 19, 23, 30, 0).unwrap();
    educator_records_4_march_hour_at(late_in_rome).then_err_code("entry-recorded-too-late");
}

#[test]
fn nothing_is_recorded_in_a_diary_that_is_not_open() {
    CaseTest::given(case_in_phase(Phase::II, true))
        .when(entry_as("educatore_professionale", DISPERSIONE))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::DiaryNotOpened(Phase::III));
}

#[test]
fn nothing_is_recorded_after_the_diary_is_closed() {
    CaseTest::given(phase3_closed())
        .when(edu(eid(2), DISPERSIONE, on_4_march("15:00", "16:00")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::DiaryClosed(Phase::III));
}

#[test]
fn an_entry_id_is_used_once() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(edu(eid(1), DISPERSIONE, on_4_march("15:00", "16:00")))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::EntryIdAlreadyUsed(eid(1)));
}
