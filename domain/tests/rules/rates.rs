//! Money that can be recomputed (Reg. UE 2021/1060 art. 53(1)(b)): an entry is priced by the
//! catalogue version in force on its delivery date, the rate and the version are recorded with
//! it, and what was claimed never changes when the catalogue does.
use crate::common::*;

/// #UP as shipped (version "1", from the start: psicologo €45/h) and a version "2" from 10
/// March 2024 in which the psicologo costs €50/h.
fn versions() -> (Measure, Measure) {
    let v1 = up();
    let mut v2 = up();
    v2.version = Some("2".into());
    v2.effective_from = Some(d(3, 10));
    for f in &mut v2.figures {
        if f.id.as_str() == "psicologo" {
            f.hourly_cost_cents = Some(Cents(5000));
        }
    }
    (v1, v2)
}

/// Phase I open, the psicologo enabled; decided on 11 March 2024 (version "2" in force) with
/// both versions known.
fn record_on_11_march(history: &[CaseEvent], delivered: NaiveDate) -> Vec<CaseEvent> {
    let (v1, v2) = versions();
    let all = [&v1, &v2];
    let now = rome(2024, 3, 11, 18, 0);
    let ctx = Context::new(staff(psicologo()), now, &v2).with_versions(&all);
    let cmd = rec(
        eid(1),
        Phase::I,
        "psicologo",
        "colloquio_valutazione",
        slot(delivered, "09:00", "10:00"),
    );
    decide(&fold(history), &cmd, &ctx).unwrap()
}

fn rate_of(events: &[CaseEvent]) -> Option<Rate> {
    match &events[0] {
        CaseEvent::EntryRecorded { rate, .. } | CaseEvent::EntryAmended { rate, .. } => {
            rate.clone()
        }
        other => panic!("not an entry event: {other:?}"),
    }
}

#[test]
fn an_entry_delivered_before_a_change_and_recorded_after_it_keeps_the_old_rate() {
    let events = record_on_11_march(&case_in_phase(Phase::I, true), d(3, 4));
    assert_eq!(
        rate_of(&events),
        Some(Rate {
            unit_cost_cents: Some(Cents(4500)),
            catalogue_version: Some("1".into()),
            effective_from: None,
        })
    );
}

#[test]
fn an_entry_delivered_after_a_change_takes_the_new_rate_and_names_the_version() {
    let events = record_on_11_march(&case_in_phase(Phase::I, true), d(3, 10));
    assert_eq!(
        rate_of(&events),
        Some(Rate {
            unit_cost_cents: Some(Cents(5000)),
            catalogue_version: Some("2".into()),
            effective_from: Some(d(3, 10)),
        })
    );
}

#[test]
fn an_amendment_to_another_date_is_priced_on_that_date() {
    let mut h = case_in_phase(Phase::I, true);
    h.push(psi_entry(
        eid(1),
        "colloquio_valutazione",
        slot(d(3, 10), "09:00", "10:00"),
    ));
    let (v1, v2) = versions();
    let all = [&v1, &v2];
    let ctx = Context::new(staff(psicologo()), rome(2024, 3, 11, 18, 0), &v2).with_versions(&all);
    // Delivered on 10 March (version "2"), corrected on the 11th to the 4th: version "1".
    let moved = amend(
        eid(1),
        "psicologo",
        "colloquio_valutazione",
        slot(d(3, 4), "09:00", "10:00"),
    );
    let events = decide(&fold(&h), &moved, &ctx).unwrap();
    assert_eq!(
        rate_of(&events).and_then(|r| r.unit_cost_cents),
        Some(Cents(4500))
    );
}

#[test]
fn a_claim_is_worth_its_recorded_rates_whatever_the_catalogue_says_later() {
    // Phase I confirmed at €45/h, then the catalogue doubles the rate: the claim does not move.
    let mut history = phase1_closed(true);
    step(&mut history, confirm(rid(1)), signer(), next_morning());
    let state = fold(&history);
    let before = state.totals(&up())[&Phase::I].confirmed_cost;
    let mut dearer = up();
    for f in &mut dearer.figures {
        f.hourly_cost_cents = f.hourly_cost_cents.map(|c| Cents(c.0 * 2));
    }
    assert!(before.0 > 0);
    assert_eq!(state.totals(&dearer)[&Phase::I].confirmed_cost, before);
    let handed = history.iter().find_map(|e| match e {
        CaseEvent::DiaryHandedToAts {
            confirmed_cost_cents,
            ..
        } => *confirmed_cost_cents,
        _ => None,
    });
    assert_eq!(handed, Some(before), "the hand-over records the claim");
}

#[test]
fn versions_of_a_measure_each_name_themselves_and_take_effect_on_their_own_date() {
    let (v1, v2) = versions();
    let catalogue = Catalogue::new(vec![v2.clone(), v1.clone()]).unwrap();
    let id = v1.id.clone();
    assert_eq!(catalogue.in_force(&id, d(3, 9)), Some(&v1));
    assert_eq!(catalogue.in_force(&id, d(3, 10)), Some(&v2));
    assert_eq!(catalogue.get(&id), Some(&v2), "the newest for reading");
    assert_eq!(catalogue.iter().filter(|m| m.id == id).count(), 1);
    let mut same_day = v2.clone();
    same_day.version = Some("3".into());
    assert!(matches!(
        Catalogue::new(vec![v1.clone(), v2.clone(), same_day]),
        Err(CatalogueError::SameEffectiveDate { .. })
    ));
    let mut unnamed = v2;
    unnamed.version = None;
    assert!(matches!(
        Catalogue::new(vec![v1, unnamed]),
        Err(CatalogueError::VersionMissing(_))
    ));
}

#[test]
fn an_operators_file_with_an_unknown_figure_is_refused_naming_the_file() {
    let mut v: serde_json::Value =
        serde_json::from_str(diario_domain::catalogue::SHIPPED_MEASURES[0].1).unwrap();
    v["version"] = "2".into();
    v["effective_from"] = "2024-03-10".into();
    v["services"][0]["figures"] = serde_json::json!(["astronauta"]);
    let err = Catalogue::with_files(&[("up-2.json".into(), v.to_string())]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("up-2.json") && text.contains("astronauta"),
        "{text}"
    );
    v["services"][0]["figures"] = serde_json::json!(["psicologo"]);
    let catalogue = Catalogue::with_files(&[("up-2.json".into(), v.to_string())]).unwrap();
    assert_eq!(catalogue.versions(&MeasureId::new("up")).len(), 2);
}
