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
    h.push(recorded(
        eid(1),
        Phase::III,
        educatore(),
        "educatore_professionale",
        "contrasto_dispersione_scolastica",
        slot(d(3, 4), "09:00", "10:00"),
    ));
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
    assert!(!codes(&h, rome(2024, 3, 5, 9, 0), &m).contains(&AlertCode::RequestOverdue));
    let mut h = h;
    step(
        &mut h,
        reject(rid(1), "no"),
        signer(),
        rome(2024, 3, 5, 9, 0),
    );
    assert!(codes(&h, rome(2024, 3, 5, 10, 0), &m).contains(&AlertCode::EntriesRejected));
}

#[test]
fn alerts_never_refuse_anything() {
    // a case with alerts still accepts a valid entry
    let h = phase1_with_entries(1, false);
    assert!(!alerts(&fold(h.iter()), &up(), evening()).is_empty());
    CaseTest::given(h)
        .when(rec(
            eid(9),
            Phase::I,
            "psicologo",
            "stesura_pi",
            slot(d(3, 4), "15:00", "16:00"),
        ))
        .by(psicologo())
        .at(evening())
        .then_matches(|e| e.len() == 1);
}
