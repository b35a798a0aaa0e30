//! The flat amounts of "autonomia 2016" (seed 003 §12) and the payments on them (§13), with the
//! Avviso's numbers: €480 / €480 / €3,840 at higher intensity, €284 / €284 / €4,232 at lower,
//! a 40% advance once the PI is defined.
use std::collections::BTreeSet;

use chrono::NaiveDate;
use diario_domain::catalogue::Measure;
use diario_domain::flat_amounts::*;
use diario_domain::values::Cents;
use diario_domain::voucher::{Accesses, CaseVoucher};

use diario_domain::testing::fixtures::autonomia;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn voucher(intensity: &str) -> CaseVoucher {
    CaseVoucher {
        start: d(2017, 2, 1),
        intensity: intensity.into(),
        suspensions: Vec::new(),
    }
}

fn docs(kinds: &[&str]) -> BTreeSet<String> {
    kinds.iter().map(|k| (*k).to_owned()).collect()
}

const PI: &str = "progetto_individuale";

/// A pathway of `intensity` with `counted` accesses of `required`.
fn pathway<'a>(
    v: &'a CaseVoucher,
    documents: &'a BTreeSet<String>,
    counted: u32,
    required: u32,
) -> Pathway<'a> {
    Pathway {
        voucher: v,
        documents,
        accesses: Accesses { counted, required },
        objectives_achieved: None,
        formal_check_passed: false,
        interrupted: false,
    }
}

fn statuses(c: &Claim) -> Vec<(i64, &'static str)> {
    c.lines
        .iter()
        .map(|l| {
            let s = match l.status {
                LineStatus::Due => "due",
                LineStatus::NotYetDue { .. } => "not yet due",
                LineStatus::NotDue { .. } => "not due",
            };
            (l.amount.0, s)
        })
        .collect()
}

const DURING: fn() -> NaiveDate = || d(2017, 9, 1);

#[test]
fn a_realised_pathway_at_higher_intensity_claims_the_whole_voucher() {
    // Given a higher-intensity pathway with the PI, 70 accesses, the objectives declared
    // achieved and the case manager's formal check passed.
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI, "relazione_finale_individuale"]);
    let mut p = pathway(&v, &documents, 70, 70);
    p.objectives_achieved = Some(true);
    p.formal_check_passed = true;
    // When claimed, then €480 + €480 + €3,840 = €4,800 are due.
    let c = claim(&m, &p, DURING()).unwrap();
    assert!(c.realised);
    assert_eq!(
        statuses(&c),
        [(48000, "due"), (48000, "due"), (384000, "due")]
    );
    assert_eq!(c.due, Cents(480_000));
}

#[test]
fn a_realised_pathway_at_lower_intensity_claims_its_own_table() {
    let m = autonomia();
    let v = voucher("minore_intensita");
    let documents = docs(&[PI]);
    let mut p = pathway(&v, &documents, 118, 118);
    p.objectives_achieved = Some(true);
    p.formal_check_passed = true;
    let c = claim(&m, &p, DURING()).unwrap();
    assert_eq!(
        statuses(&c),
        [(28400, "due"), (28400, "due"), (423200, "due")]
    );
    assert_eq!(c.due, Cents(480_000));
}

#[test]
fn an_interrupted_pathway_with_a_pi_pays_the_assessment_amount_and_nothing_else() {
    // Given a pathway with its PI and 30 accesses, interrupted.
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI]);
    let mut p = pathway(&v, &documents, 30, 70);
    p.interrupted = true;
    // When claimed, then the €480 of the assessment stay due, the rest never will be.
    let c = claim(&m, &p, DURING()).unwrap();
    assert_eq!(
        statuses(&c),
        [(48000, "due"), (48000, "not due"), (384000, "not due")]
    );
    assert_eq!(c.due, Cents(48_000));
    let LineStatus::NotDue { why } = &c.lines[2].status else {
        panic!("not due")
    };
    assert_eq!(why[0], Why::Interrupted);
    assert!(why.contains(&Why::AccessesShort {
        counted: 30,
        required: 70
    }));
}

#[test]
fn an_interrupted_pathway_without_a_pi_pays_nothing() {
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[]);
    let mut p = pathway(&v, &documents, 0, 70);
    p.interrupted = true;
    let c = claim(&m, &p, DURING()).unwrap();
    assert_eq!(
        statuses(&c),
        [(48000, "not due"), (48000, "not due"), (384000, "not due")]
    );
    assert_eq!(c.due, Cents(0));
}

#[test]
fn a_running_pathway_says_what_is_not_yet_due_and_why() {
    // Given a running pathway with its PI and 40 accesses of 70.
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI]);
    let p = pathway(&v, &documents, 40, 70);
    // When claimed, then the assessment is due, the rest not yet: accesses and objectives.
    let c = claim(&m, &p, DURING()).unwrap();
    assert_eq!(
        statuses(&c),
        [
            (48000, "due"),
            (48000, "not yet due"),
            (384000, "not yet due")
        ]
    );
    assert_eq!(
        c.lines[1].status,
        LineStatus::NotYetDue {
            why: vec![
                Why::AccessesShort {
                    counted: 40,
                    required: 70
                },
                Why::ObjectivesNotDeclared
            ]
        }
    );
}

#[test]
fn a_realised_pathway_waits_for_the_case_manager_s_formal_check() {
    // §9 D: the case manager checks the diaries before they are transmitted.
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI]);
    let mut p = pathway(&v, &documents, 70, 70);
    p.objectives_achieved = Some(true);
    let c = claim(&m, &p, DURING()).unwrap();
    assert_eq!(
        c.lines[2].status,
        LineStatus::NotYetDue {
            why: vec![Why::FormalCheckMissing]
        }
    );
    assert_eq!(c.due, Cents(48_000));
}

#[test]
fn objectives_declared_not_achieved_end_the_realisation_amounts() {
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI]);
    let mut p = pathway(&v, &documents, 90, 70);
    p.objectives_achieved = Some(false);
    let c = claim(&m, &p, DURING()).unwrap();
    assert!(!c.realised);
    assert_eq!(
        statuses(&c),
        [(48000, "due"), (48000, "not due"), (384000, "not due")]
    );
}

#[test]
fn accesses_short_when_the_validity_is_over_are_never_due() {
    // Given a voucher from 2017-02-01 (valid to 2018-01-31) with 69 accesses of 70.
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI]);
    let p = pathway(&v, &documents, 69, 70);
    // When claimed on 2018-02-01, then the realisation amounts are not due.
    let c = claim(&m, &p, d(2018, 2, 1)).unwrap();
    let LineStatus::NotDue { why } = &c.lines[2].status else {
        panic!("{:?}", c.lines[2].status)
    };
    assert_eq!(
        why[0],
        Why::ValidityOver {
            end: d(2018, 1, 31)
        }
    );
    // And on its last valid day they were only not yet due.
    let c = claim(&m, &p, d(2018, 1, 31)).unwrap();
    assert!(matches!(c.lines[2].status, LineStatus::NotYetDue { .. }));
}

#[test]
fn objectives_not_declared_by_the_end_of_the_closure_procedures_are_never_due() {
    // §11: closure procedures by 30 July 2018.
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI]);
    let p = pathway(&v, &documents, 70, 70);
    let c = claim(&m, &p, d(2018, 7, 31)).unwrap();
    let LineStatus::NotDue { why } = &c.lines[1].status else {
        panic!("{:?}", c.lines[1].status)
    };
    assert_eq!(why[0], Why::ClosureOver { by: d(2018, 7, 30) });
    let c = claim(&m, &p, d(2018, 7, 30)).unwrap();
    assert!(matches!(c.lines[1].status, LineStatus::NotYetDue { .. }));
}

#[test]
fn the_claim_never_passes_the_voucher() {
    // Given a measure whose flat amounts of one intensity were (wrongly) raised at run time.
    let mut m = autonomia();
    for a in &mut m.flat_amounts {
        a.amount_cents = Cents(300_000);
    }
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI]);
    let mut p = pathway(&v, &documents, 70, 70);
    p.objectives_achieved = Some(true);
    p.formal_check_passed = true;
    // When claimed, then the due amount is the voucher's €4,800, not €9,000.
    let c = claim(&m, &p, DURING()).unwrap();
    assert_eq!(c.due, Cents(480_000));
}

#[test]
fn flat_amounts_over_the_voucher_are_refused_at_load_time() {
    let text = diario_domain::catalogue::SHIPPED_MEASURES[1]
        .1
        .replace("\"amount_cents\": 384000", "\"amount_cents\": 384001");
    let err = Measure::from_json(&text).unwrap_err().to_string();
    assert!(err.contains("maggiore_intensita"), "{err}");
}

#[test]
fn a_flat_amount_naming_an_unknown_document_or_service_is_refused_at_load_time() {
    let text = diario_domain::catalogue::SHIPPED_MEASURES[1].1;
    let err = Measure::from_json(&text.replacen(
        "\"kind\": \"document\", \"document\": \"progetto_individuale\"",
        "\"kind\": \"document\", \"document\": \"progetto_individuato\"",
        1,
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("progetto_individuato"), "{err}");
    let err = Measure::from_json(&text.replace(
        "\"services\": [\"case_management\"]",
        "\"services\": [\"case_managment\"]",
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("case_managment"), "{err}");
}

#[test]
fn the_advance_is_40_percent_of_a_voucher_with_its_pi() {
    // §13: 40% of €4,800 = €1,920 once the PI is defined; nothing before.
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let none = docs(&[]);
    let p = pathway(&v, &none, 0, 70);
    let c = claim(&m, &p, DURING()).unwrap();
    assert_eq!(payment(&m, &p, &c).unwrap().advance, Cents(0));
    let with_pi = docs(&[PI]);
    let p = pathway(&v, &with_pi, 0, 70);
    let c = claim(&m, &p, DURING()).unwrap();
    let pay = payment(&m, &p, &c).unwrap();
    assert_eq!(
        (pay.advance, pay.due, pay.balance),
        (Cents(192_000), Cents(48_000), Cents(-144_000))
    );
}

#[test]
fn the_balance_of_an_ambito_is_the_due_amounts_net_of_the_advance() {
    // Given one realised pathway and one interrupted after its PI.
    let m = autonomia();
    let v = voucher("maggiore_intensita");
    let documents = docs(&[PI]);
    let mut realised = pathway(&v, &documents, 70, 70);
    realised.objectives_achieved = Some(true);
    realised.formal_check_passed = true;
    let mut interrupted = pathway(&v, &documents, 10, 70);
    interrupted.interrupted = true;
    let pays: Vec<Payment> = [realised, interrupted]
        .iter()
        .map(|p| payment(&m, p, &claim(&m, p, DURING()).unwrap()).unwrap())
        .collect();
    // When totalled, then advance €3,840, due €4,800 + €480, balance €1,440 to pay.
    let t = total(&pays);
    assert_eq!(t.advance, Cents(384_000));
    assert_eq!(t.due, Cents(528_000));
    assert_eq!(t.balance, Cents(144_000));
}

#[test]
fn a_third_measure_of_the_family_is_a_json_file() {
    // Given a sibling measure written as data only: its own id and calendar, a €6,000 voucher
    // with one intensity of 50 accesses, amounts of €600 + €5,400, a 30% advance.
    let mut v: serde_json::Value =
        serde_json::from_str(diario_domain::catalogue::SHIPPED_MEASURES[1].1).unwrap();
    v["id"] = "autonomia_2019".into();
    v["voucher"]["amount_cents"] = 600_000.into();
    v["voucher"]["advance"]["percent"] = 30.into();
    v["voucher"]["activities_end"] = "2020-06-15".into();
    v["voucher"]["final_report_by"] = "2020-07-30".into();
    v["intensities"] = serde_json::json!([
        { "id": "unica", "name": "Intensità unica", "min_accesses_for_realised": 50 }
    ]);
    v["flat_amounts"] = serde_json::json!([
        { "intensity": "unica", "services": ["valutazione_multidimensionale"], "output": "PI",
          "amount_cents": 60000,
          "due_when": { "kind": "document", "document": "progetto_individuale" } },
        { "intensity": "unica", "services": ["autonomia_personale"], "output": "Percorso",
          "amount_cents": 540000, "due_when": { "kind": "realised" } }
    ]);
    let m = Measure::from_json(&v.to_string()).expect("a valid measure");
    let voucher = CaseVoucher {
        start: d(2019, 2, 1),
        intensity: "unica".into(),
        suspensions: Vec::new(),
    };
    let documents = docs(&[PI]);
    let mut p = pathway(&voucher, &documents, 50, 50);
    p.objectives_achieved = Some(true);
    p.formal_check_passed = true;
    // When claimed, then its own numbers apply: €6,000 due, €1,800 advance.
    let c = claim(&m, &p, d(2019, 9, 1)).unwrap();
    assert_eq!(c.due, Cents(600_000));
    let pay = payment(&m, &p, &c).unwrap();
    assert_eq!((pay.advance, pay.balance), (Cents(180_000), Cents(420_000)));
}
