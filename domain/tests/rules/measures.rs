//! The other measures (seeds 003 and 004) run through the same decider without code changes.
use crate::common::*;

fn opened_under(measure: &str) -> CaseEvent {
    match case_opened(true) {
        CaseEvent::CaseOpened {
            case_id,
            ats,
            asst,
            provider,
            responsabile_asst,
            responsabile_provider,
            case_manager,
            recipient,
            by,
            at,
            ..
        } => CaseEvent::CaseOpened {
            case_id,
            measure_id: MeasureId::new(measure),
            ats,
            asst,
            provider,
            responsabile_asst,
            responsabile_provider,
            case_manager,
            recipient,
            by,
            at,
        },
        other => other,
    }
}

fn measure(id: &str) -> Measure {
    Measure::shipped()
        .unwrap()
        .into_iter()
        .find(|m| m.id.as_str() == id)
        .unwrap()
}

#[test]
fn the_active_ageing_plan_records_volunteer_hours_valued_at_the_standard_unit_cost() {
    let m = measure("invecchiamento_attivo_2024");
    let mut h = vec![opened_under("invecchiamento_attivo_2024")];
    let as_provider = staff(resp_provider());
    step_with(
        &mut h,
        CaseCommand::OpenPhaseDiary(OpenPhaseDiary { phase: Phase::I }),
        as_provider.clone(),
        t0(),
        &m,
        &[],
    );
    step_with(
        &mut h,
        CaseCommand::EnableProfessional(EnableProfessional {
            ente: Ente::Provider,
            professional: outsider(),
            figures: vec![fig("volontario")],
        }),
        as_provider.clone(),
        t0(),
        &m,
        &[],
    );
    step_with(
        &mut h,
        rec(
            eid(1),
            Phase::I,
            "volontario",
            "socializzazione_inclusione",
            slot(d(3, 4), "09:00", "11:00"),
        ),
        staff(outsider()),
        evening(),
        &m,
        &[],
    );
    step_with(
        &mut h,
        request(rid(1), Phase::I, &[eid(1)]),
        as_provider,
        evening(),
        &m,
        &[],
    );
    step_with(&mut h, confirm(rid(1)), signer(), evening(), &m, &[]);
    let totals = fold(h.iter()).totals(&m);
    assert_eq!(totals[&Phase::I].confirmed_minutes, 120);
    assert_eq!(totals[&Phase::I].confirmed_cost, Cents(3274)); // 2 h × €16.37
}

#[test]
fn the_autonomy_voucher_runs_three_phases_with_the_pei_caps_in_phase_iii() {
    let m = measure("autonomia_2016");
    let mut h = vec![opened_under("autonomia_2016")];
    for (p, who) in [
        (Phase::I, resp_asst()),
        (Phase::II, resp_provider()),
        (Phase::III, resp_provider()),
    ] {
        step_with(
            &mut h,
            CaseCommand::OpenPhaseDiary(OpenPhaseDiary { phase: p }),
            staff(who),
            t0(),
            &m,
            &[],
        );
    }
    // the measure has no phase IV
    CaseTest::given(h.clone())
        .when(CaseCommand::OpenPhaseDiary(OpenPhaseDiary {
            phase: Phase::IV,
        }))
        .by(resp_provider())
        .measure(m.clone())
        .then_err(DomainError::PhaseNotInMeasure(Phase::IV));
    step_with(
        &mut h,
        CaseCommand::EnableProfessional(EnableProfessional {
            ente: Ente::Provider,
            professional: educatore(),
            figures: vec![fig("educatore_professionale")],
        }),
        staff(resp_provider()),
        t0(),
        &m,
        &[],
    );
    step_with(
        &mut h,
        rec(
            eid(1),
            Phase::III,
            "educatore_professionale",
            "autonomia_personale",
            slot(d(3, 4), "09:00", "10:00"),
        ),
        staff(educatore()),
        evening(),
        &m,
        &[],
    );
    // without the PEI caps the Art. 8 check fails, as in #UP phase III
    CaseTest::given(h)
        .when(request(rid(1), Phase::III, &[eid(1)]))
        .by(resp_provider())
        .at(evening())
        .measure(m)
        .then_err_code("checklist-failed");
}

#[test]
fn the_recipient_enrolment_can_change_and_switches_to_paper() {
    let mut h = phase3_with_entries(1, true);
    CaseTest::given(h.clone())
        .when(CaseCommand::ChangeRecipientEnrolment(
            ChangeRecipientEnrolment {
                firmalom_enrolled: false,
            },
        ))
        .by(educatore())
        .then_err(DomainError::EnrolmentChangeNotAllowed);
    step(
        &mut h,
        CaseCommand::ChangeRecipientEnrolment(ChangeRecipientEnrolment {
            firmalom_enrolled: false,
        }),
        staff(resp_provider()),
        evening(),
    );
    CaseTest::given(h)
        .when(CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
            paper_id: rid(5),
            phase: Phase::III,
            entry_ids: Some(vec![eid(1)]),
        }))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| matches!(e, [CaseEvent::PaperDiaryGenerated { .. }]));
}

#[test]
fn a_flat_amount_must_pay_for_services_of_its_own_measure() {
    let mut m = measure("autonomia_2016");
    assert!(m.validate().is_ok());
    m.flat_amounts[2]
        .services
        .push(ServiceId::new("servizi_socio_educativi"));
    assert!(matches!(
        m.validate(),
        Err(CatalogueError::UnknownService { service, .. }) if service.as_str() == "servizi_socio_educativi"
    ));
}

#[test]
fn a_catalogue_refuses_two_measures_with_one_id() {
    let up = measure("up");
    assert!(Catalogue::new(vec![up.clone()]).is_ok());
    assert!(matches!(
        Catalogue::new(vec![up.clone(), up]),
        Err(CatalogueError::DuplicateMeasure(id)) if id.as_str() == "up"
    ));
}
