//! Art. 5: non-blocking alerts on the current diary.
use crate::common::*;

fn codes(h: &[CaseEvent], now: DateTime<Utc>, measure: &Measure) -> Vec<AlertCode> {
    let mut c: Vec<AlertCode> = alerts(&fold(h.iter()), measure, now)
        .into_iter()
        .map(|a| a.code)
        .collect();
    c.sort();
    c.dedup();
    c
}

#[test]
fn alerts_list_the_non_blocking_problems_of_the_diary() {
    let m = up();
    // recipient without FirmaLOM, phase I entries not validated
    let h = phase1_with_entries(1, false);
    assert_eq!(
        codes(&h, evening(), &m),
        vec![
            AlertCode::DigitalConfirmationUnavailable,
            AlertCode::EntriesAwaitingValidation
        ]
    );
    // phase III without PDI, entries not sent days later
    let mut h = case_in_phase(Phase::III, true);
    let nine_to_ten = slot(d(3, 4), "09:00", "10:00");
    h.push(edu_entry(eid(1), Phase::III, DISPERSIONE, nine_to_ten));
    let c = codes(&h, rome(2024, 3, 8, 9, 0), &m);
    assert!(c.contains(&AlertCode::PdiCapsMissing));
    assert!(c.contains(&AlertCode::EntriesNotSentForConfirmation));
    assert!(c.contains(&AlertCode::ChecklistWouldFail));
}

#[test]
fn an_overdue_request_and_a_rejection_are_alerted() {
    let m = up();
    let h = phase3_requested();
    assert!(codes(&h, rome(2024, 3, 6, 9, 0), &m).contains(&AlertCode::RequestOverdue));
    assert!(!codes(&h, next_morning(), &m).contains(&AlertCode::RequestOverdue));
    let h = phase3_answered(reject(rid(1), "no"));
    assert!(codes(&h, rome(2024, 3, 5, 10, 0), &m).contains(&AlertCode::EntriesRejected));
}

#[test]
fn alerts_never_refuse_anything() {
    // a case with alerts still accepts a valid entry
    let h = phase1_with_entries(1, false);
    assert!(!alerts(&fold(h.iter()), &up(), evening()).is_empty());
    let afternoon = slot(d(3, 4), "15:00", "16:00");
    CaseTest::given(h)
        .when(rec(eid(9), Phase::I, "psicologo", "stesura_pi", afternoon))
        .by(psicologo())
        .at(evening())
        .then_matches(|e| e.len() == 1);
}
