//! Art. 8: automatic checks stored as a checklist; blocking failures refuse the request.
use crate::common::*;

fn with_service_cap(service: &str, max: u32) -> Measure {
    let mut m = up();
    for s in m.services.iter_mut().filter(|s| s.id.as_str() == service) {
        s.max_minutes_per_phase = Some(max);
    }
    m
}

fn failed_codes(err: &DomainError) -> Vec<(String, Option<String>)> {
    match err {
        DomainError::ChecklistFailed(c) => c
            .failures()
            .map(|c| (c.code.clone(), c.subject.clone()))
            .collect(),
        other => panic!("expected a checklist failure, got {other:?}"),
    }
}

#[test]
fn the_passing_checklist_is_stored_in_the_request_event() {
    CaseTest::given(phase3_with_entries(2, true))
        .when(request(rid(1), Phase::III, &[eid(1), eid(2)]))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| match e {
            [CaseEvent::ConfirmationRequested { checklist, .. }] => {
                let codes: Vec<&str> = checklist.checks.iter().map(|c| c.code.as_str()).collect();
                checklist.passed
                    && checklist.phase == Phase::III
                    && checklist.request_minutes == 120
                    && checklist.request_cost == Cents(6000) // 2 h × €30 (example rate)
                    && checklist.request_minutes_by_figure[&fig("educatore_professionale")] == 120
                    && codes.contains(&"cap.phase")
                    && codes.contains(&"cap.service")
                    && codes.contains(&"pdi.service")
                    && codes.contains(&"pdi.total")
                    && codes.contains(&"formal.no-overlap")
                    && checklist.checks.iter().all(|c| c.passed)
            }
            _ => false,
        });
}

#[test]
fn a_request_over_a_catalogue_service_cap_is_refused_with_the_full_checklist() {
    let err = CaseTest::given(phase3_with_entries(2, true))
        .when(request(rid(1), Phase::III, &[eid(1), eid(2)]))
        .by(resp_provider())
        .at(evening())
        .measure(with_service_cap("contrasto_dispersione_scolastica", 60))
        .then_err_code("checklist-failed");
    assert_eq!(
        failed_codes(&err),
        vec![(
            "cap.service".to_owned(),
            Some("contrasto_dispersione_scolastica".to_owned())
        )]
    );
    if let DomainError::ChecklistFailed(c) = &err {
        assert!(!c.passed);
        assert!(
            c.checks.len() > 5,
            "the full list is returned, not just the failure"
        );
        let failed = c.failures().next().unwrap();
        assert_eq!((failed.limit, failed.actual), (Some(60), Some(120)));
    }
}

#[test]
fn a_request_over_a_figure_cap_of_the_phase_is_refused() {
    let mut m = up();
    for p in m.phases.iter_mut().filter(|p| p.phase == Phase::III) {
        p.figure_caps.push(diario_domain::catalogue::FigureCap {
            figure: fig("educatore_professionale"),
            max_minutes: 60,
        });
    }
    let err = CaseTest::given(phase3_with_entries(2, true))
        .when(request(rid(1), Phase::III, &[eid(1), eid(2)]))
        .by(resp_provider())
        .at(evening())
        .measure(m)
        .then_err_code("checklist-failed");
    assert_eq!(
        failed_codes(&err),
        vec![(
            "cap.figure".to_owned(),
            Some("educatore_professionale".to_owned())
        )]
    );
}

#[test]
fn caps_count_entries_already_confirmed_or_pending() {
    // cap 120: the first request uses 120 minutes, a further hour exceeds it
    let m = with_service_cap("contrasto_dispersione_scolastica", 120);
    let mut h = phase3_with_entries(3, true);
    step_with(
        &mut h,
        request(rid(1), Phase::III, &[eid(1), eid(2)]),
        staff(resp_provider()),
        evening(),
        &m,
        &[],
    );
    let err = CaseTest::given(h)
        .when(request(rid(2), Phase::III, &[eid(3)]))
        .by(resp_provider())
        .at(evening())
        .measure(m)
        .then_err_code("checklist-failed");
    assert_eq!(failed_codes(&err)[0].0, "cap.service");
}

fn phase3_dispersione_plus(extra: Vec<CaseEvent>) -> (Vec<CaseEvent>, Vec<Uuid>) {
    // 10 one-hour entries of dispersione on 4 March = 600 minutes (PDI cap 600, total 900)
    let mut h = phase3_with_entries(10, true);
    let mut ids: Vec<Uuid> = (1..=10).map(eid).collect();
    for e in extra {
        if let CaseEvent::EntryRecorded { entry_id, .. } = &e {
            ids.push(*entry_id);
        }
        h.push(e);
    }
    (h, ids)
}

#[test]
fn a_phase_iii_request_over_a_pdi_service_cap_is_refused() {
    let (h, ids) = phase3_dispersione_plus(vec![recorded(
        eid(11),
        Phase::III,
        educatore(),
        "educatore_professionale",
        "contrasto_dispersione_scolastica",
        slot(d(3, 5), "09:00", "10:00"),
    )]);
    let err = CaseTest::given(h)
        .when(request(rid(1), Phase::III, &ids))
        .by(resp_provider())
        .at(rome(2024, 3, 5, 18, 0))
        .then_err_code("checklist-failed");
    assert_eq!(
        failed_codes(&err),
        vec![(
            "pdi.service".to_owned(),
            Some("contrasto_dispersione_scolastica".to_owned())
        )]
    );
}

#[test]
fn a_phase_iii_request_over_the_pdi_total_cap_is_refused() {
    let extra = (0..6)
        .map(|i| {
            recorded(
                eid(20 + i),
                Phase::III,
                educatore(),
                "educatore_professionale",
                "accompagnamento_inclusione",
                slot(
                    d(3, 5),
                    &format!("{:02}:00", 8 + i),
                    &format!("{:02}:00", 9 + i),
                ),
            )
        })
        .collect();
    let (h, ids) = phase3_dispersione_plus(extra);
    let err = CaseTest::given(h)
        .when(request(rid(1), Phase::III, &ids))
        .by(resp_provider())
        .at(rome(2024, 3, 5, 18, 0))
        .then_err_code("checklist-failed");
    assert_eq!(
        failed_codes(&err),
        vec![("pdi.total".to_owned(), Some("III".to_owned()))]
    );
}

#[test]
fn a_phase_iii_request_without_pdi_caps_is_refused() {
    let mut h = case_in_phase(Phase::III, true);
    h.push(recorded(
        eid(1),
        Phase::III,
        educatore(),
        "educatore_professionale",
        "contrasto_dispersione_scolastica",
        slot(d(3, 4), "09:00", "10:00"),
    ));
    let err = CaseTest::given(h)
        .when(request(rid(1), Phase::III, &[eid(1)]))
        .by(resp_provider())
        .at(evening())
        .then_err_code("checklist-failed");
    assert_eq!(failed_codes(&err), vec![("pdi.present".to_owned(), None)]);
}

#[test]
fn a_phase_iii_service_not_planned_in_the_pdi_is_refused() {
    let mut h = case_in_phase(Phase::III, true);
    h.push(pdi_set());
    h.push(recorded(
        eid(1),
        Phase::III,
        educatore(),
        "educatore_professionale",
        "sostegno_genitori",
        slot(d(3, 4), "09:00", "10:00"),
    ));
    let err = CaseTest::given(h)
        .when(request(rid(1), Phase::III, &[eid(1)]))
        .by(resp_provider())
        .at(evening())
        .then_err_code("checklist-failed");
    assert_eq!(
        failed_codes(&err),
        vec![("pdi.service-planned".to_owned(), None)]
    );
}

#[test]
fn pdi_caps_do_not_apply_outside_phase_iii() {
    let mut h = case_in_phase(Phase::IV, true);
    h.push(recorded(
        eid(1),
        Phase::IV,
        educatore(),
        "educatore_professionale",
        "follow_up",
        slot(d(3, 4), "09:00", "10:00"),
    ));
    CaseTest::given(h)
        .when(request(rid(1), Phase::IV, &[eid(1)]))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| matches!(e, [CaseEvent::ConfirmationRequested { .. }]));
}

#[test]
fn closing_a_whole_diary_over_its_caps_is_refused() {
    let mut m = up();
    for p in m.phases.iter_mut().filter(|p| p.phase == Phase::I) {
        p.max_minutes_per_case = Some(60);
    }
    let mut h = phase1_with_entries(2, true);
    step(
        &mut h,
        validate_all(Phase::I),
        staff(resp_asst()),
        evening(),
    );
    let err = CaseTest::given(h)
        .when(close(Phase::I, rid(1)))
        .by(resp_asst())
        .at(evening())
        .measure(m)
        .then_err_code("checklist-failed");
    assert_eq!(
        failed_codes(&err),
        vec![("cap.phase".to_owned(), Some("I".to_owned()))]
    );
}

#[test]
fn the_provider_responsabile_sets_valid_pdi_caps() {
    let cmd = |service: &str, max: u32| {
        CaseCommand::SetPdiCaps(SetPdiCaps {
            caps: vec![PdiCap {
                service: svc(service),
                max_minutes: max,
            }],
            total_max_minutes: None,
        })
    };
    CaseTest::given(case_in_phase(Phase::II, true))
        .when(cmd("counselling", 600))
        .by(resp_asst())
        .then_err_code("not-phase-responsabile");
    CaseTest::given(case_in_phase(Phase::II, true))
        .when(cmd("stesura_pdi", 600))
        .by(resp_provider())
        .then_err(DomainError::InvalidPdiCap(svc("stesura_pdi")));
    CaseTest::given(case_in_phase(Phase::II, true))
        .when(cmd("counselling", 0))
        .by(resp_provider())
        .then_err(DomainError::InvalidPdiCap(svc("counselling")));
    CaseTest::given(case_in_phase(Phase::II, true))
        .when(cmd("counselling", 600))
        .by(resp_provider())
        .then_matches(|e| matches!(e, [CaseEvent::PdiCapsSet { .. }]));
}
