//! The other measures (seeds 003 and 004) run through the same decider without code changes.
use crate::common::*;

/// The fixture case, opened under another measure.
fn opened_under(measure: &str) -> CaseEvent {
    let mut opened = case_opened(true);
    if let CaseEvent::CaseOpened { measure_id, .. } = &mut opened {
        *measure_id = MeasureId::new(measure);
    }
    opened
}

fn measure(id: &str) -> Measure {
    Measure::shipped()
        .unwrap()
        .into_iter()
        .find(|m| m.id.as_str() == id)
        .unwrap()
}

/// Appends to `history` the events of each step, decided under `measure`; panics if one is
/// refused.
#[track_caller]
fn steps_under(
    measure: &Measure,
    history: &mut Vec<CaseEvent>,
    steps: Vec<(CaseCommand, Actor, DateTime<Utc>)>,
) {
    for (cmd, actor, now) in steps {
        step_with(history, cmd, actor, now, measure, &[]);
    }
}

/// Given the active-ageing measure (seed 004: `actual_staff_cost`), when an ATS operator opens
/// a recipient's case under it, then it is refused: its unit is the territorial plan, its hours
/// the people's timesheets (`plans`), so a volunteer's hour is never a cost of a case.
#[test]
fn a_plan_measure_opens_no_recipient_case() {
    let m = measure("invecchiamento_attivo_2024");
    let mut command = open_case(true);
    command.measure_id = m.id.clone();
    let actor = Actor::person(ats_operator(), ActorRole::AtsOperator);
    let ctx = Context::new(actor, t0(), &m);
    assert_eq!(
        decide(
            &CaseState::default(),
            &CaseCommand::OpenCase(command.clone()),
            &ctx
        ),
        Err(DomainError::PlanMeasure(m.id.clone()))
    );
    let up = measure("up");
    command.measure_id = up.id.clone();
    let ctx = Context::new(
        Actor::person(ats_operator(), ActorRole::AtsOperator),
        t0(),
        &up,
    );
    assert!(decide(&CaseState::default(), &CaseCommand::OpenCase(command), &ctx).is_ok());
}

#[test]
fn the_autonomy_voucher_runs_three_phases_with_the_pei_caps_in_phase_iii() {
    let m = measure("autonomia_2016");
    let mut h = vec![opened_under("autonomia_2016")];
    let as_provider = staff(resp_provider());
    steps_under(
        &m,
        &mut h,
        vec![
            (open_phase(Phase::I), staff(resp_asst()), t0()),
            (open_phase(Phase::II), as_provider.clone(), t0()),
            (open_phase(Phase::III), as_provider.clone(), t0()),
        ],
    );
    // the measure has no phase IV
    CaseTest::given(h.clone())
        .when(open_phase(Phase::IV))
        .by(resp_provider())
        .measure(m.clone())
        .then_err(DomainError::PhaseNotInMeasure(Phase::IV));
    let hour = slot(d(3, 4), "09:00", "10:00");
    steps_under(
        &m,
        &mut h,
        vec![
            (
                enable(Ente::Provider, educatore(), &["educatore_professionale"]),
                as_provider,
                t0(),
            ),
            (
                rec(
                    eid(1),
                    Phase::III,
                    "educatore_professionale",
                    "autonomia_personale",
                    hour,
                ),
                staff(educatore()),
                evening(),
            ),
        ],
    );
    // without the PEI caps the Art. 8 check fails, as in #UP phase III
    requesting(h, &[eid(1)], evening())
        .measure(m)
        .then_err_code("checklist-failed");
}

#[test]
fn the_recipient_enrolment_can_change_and_switches_to_paper() {
    let mut h = phase3_with_entries(1, true);
    let unenrol = CaseCommand::ChangeRecipientEnrolment(ChangeRecipientEnrolment {
        firmalom_enrolled: false,
    });
    CaseTest::given(h.clone())
        .when(unenrol.clone())
        .by(educatore())
        .then_err(DomainError::EnrolmentChangeNotAllowed);
    step(&mut h, unenrol, staff(resp_provider()), evening());
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

/// Given each shipped measure, when its data contradict the cost model it selects, then the
/// catalogue refuses it at start-up (docs/domain.md, "Rule kinds a measure selects").
#[test]
fn a_measure_s_data_must_fit_the_cost_model_it_selects() {
    let refused = |m: &Measure, needle: &str| match m.validate() {
        Err(CatalogueError::CostModel { why, .. }) => {
            assert!(why.contains(needle), "{why}");
        }
        other => panic!("expected a cost-model refusal naming {needle}, got {other:?}"),
    };
    let up = measure("up");
    assert_eq!(up.cost_model, CostModel::HourlyUnitCost);
    let mut unpriced = up.clone();
    unpriced.figures[0].hourly_cost_cents = None;
    refused(&unpriced, unpriced.figures[0].id.as_str());
    let aut = measure("autonomia_2016");
    assert_eq!(aut.cost_model, CostModel::FlatPerOutput);
    let mut priced = aut.clone();
    priced.figures[0].hourly_cost_cents = Some(Cents(3000));
    refused(&priced, "hourly cost");
    let mut no_amounts = aut.clone();
    no_amounts.flat_amounts.clear();
    refused(&no_amounts, "flat_amounts");
    let mut hourly_voucher = aut.clone();
    hourly_voucher.cost_model = CostModel::HourlyUnitCost;
    for f in &mut hourly_voucher.figures {
        f.hourly_cost_cents = Some(Cents(3000));
    }
    refused(&hourly_voucher, "flat_per_output");
    let ageing = measure("invecchiamento_attivo_2024");
    assert_eq!(ageing.cost_model, CostModel::ActualStaffCost);
    assert!(
        ageing.validate().is_ok(),
        "the volunteer's unit cost is allowed"
    );
    let mut staff_rate = ageing.clone();
    staff_rate.figures[0].hourly_cost_cents = Some(Cents(2000));
    refused(&staff_rate, "cost records");
}
