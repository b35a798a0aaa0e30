//! Art. 8: automatic checks stored as a checklist; blocking failures refuse the request.
use crate::common::*;

fn with_service_cap(service: &str, max: u32) -> Measure {
    let mut m = up();
    for s in m.services.iter_mut().filter(|s| s.id.as_str() == service) {
        s.max_minutes_per_phase = Some(max);
    }
    m
}

/// 4 March, 09:00-10:00.
fn nine_to_ten() -> TimeSlot {
    slot(d(3, 4), "09:00", "10:00")
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
    requesting(phase3_with_entries(2, true), &[eid(1), eid(2)], evening()).then_matches(
        |e| match e {
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
        },
    );
}

#[test]
fn a_request_over_a_catalogue_service_cap_is_refused_with_the_full_checklist() {
    let err = requesting(phase3_with_entries(2, true), &[eid(1), eid(2)], evening())
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
    let err = requesting(phase3_with_entries(2, true), &[eid(1), eid(2)], evening())
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
    let m = with_service_cap(DISPERSIONE, 120);
    let mut h = phase3_with_entries(3, true);
    let first = request(rid(1), Phase::III, &[eid(1), eid(2)]);
    step_with(&mut h, first, staff(resp_provider()), evening(), &m, &[]);
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
    let eleventh_hour = slot(d(3, 5), "09:00", "10:00");
    let (h, ids) = phase3_dispersione_plus(vec![edu_entry(
        eid(11),
        Phase::III,
        DISPERSIONE,
        eleventh_hour,
    )]);
    let err = requesting(h, &ids, rome(2024, 3, 5, 18, 0)).then_err_code("checklist-failed");
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
    // six more hours of inclusione on 5 March, from 08:00: 960 minutes in all
    let extra = (1..=6)
        .map(|i| {
            let s = nth_hour(d(3, 5), i);
            edu_entry(eid(19 + i), Phase::III, "accompagnamento_inclusione", s)
        })
        .collect();
    let (h, ids) = phase3_dispersione_plus(extra);
    let err = requesting(h, &ids, rome(2024, 3, 5, 18, 0)).then_err_code("checklist-failed");
    assert_eq!(
        failed_codes(&err),
        vec![("pdi.total".to_owned(), Some("III".to_owned()))]
    );
}

#[test]
fn a_phase_iii_request_without_pdi_caps_is_refused() {
    let mut h = case_in_phase(Phase::III, true);
    h.push(edu_entry(eid(1), Phase::III, DISPERSIONE, nine_to_ten()));
    let err = requesting(h, &[eid(1)], evening()).then_err_code("checklist-failed");
    assert_eq!(failed_codes(&err), vec![("pdi.present".to_owned(), None)]);
}

#[test]
fn a_phase_iii_service_not_planned_in_the_pdi_is_refused() {
    let mut h = case_in_phase(Phase::III, true);
    h.push(pdi_set());
    h.push(edu_entry(
        eid(1),
        Phase::III,
        "sostegno_genitori",
        nine_to_ten(),
    ));
    let err = requesting(h, &[eid(1)], evening()).then_err_code("checklist-failed");
    assert_eq!(
        failed_codes(&err),
        vec![("pdi.service-planned".to_owned(), None)]
    );
}

#[test]
fn pdi_caps_do_not_apply_outside_phase_iii() {
    let mut h = case_in_phase(Phase::IV, true);
    h.push(edu_entry(eid(1), Phase::IV, "follow_up", nine_to_ten()));
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
    let err = closing_phase_i(phase1_validated(2, true), resp_asst())
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
            pdi_document_id: None,
            reason: None,
        })
    };
    let in_phase_ii = || CaseTest::given(case_in_phase(Phase::II, true));
    in_phase_ii()
        .when(cmd("counselling", 600))
        .by(resp_asst())
        .then_err_code("not-phase-responsabile");
    // the service must be one of phase III, and its cap above zero
    for (service, max) in [("stesura_pdi", 600), ("counselling", 0)] {
        in_phase_ii()
            .when(cmd(service, max))
            .by(resp_provider())
            .then_err(DomainError::InvalidPdiCap(svc(service)));
    }
    in_phase_ii()
        .when(cmd("counselling", 600))
        .by(resp_provider())
        .then_matches(|e| matches!(e, [CaseEvent::PdiCapsSet { .. }]));
}

#[test]
fn a_refused_checklist_is_stored_too() {
    // Given two hours of dispersione over a 60-minute cap, when the responsabile sends them,
    // then the sending is refused and the refused checklist is recorded, naming the
    // catalogue version, so an inspector sees the failed attempt
    let mut capped = with_service_cap("contrasto_dispersione_scolastica", 60);
    capped.version = Some("2024-b".into());
    requesting(phase3_with_entries(2, true), &[eid(1), eid(2)], evening())
        .measure(capped)
        .then_matches(|e| match e {
            [
                CaseEvent::ChecklistRefused {
                    phase: Phase::III,
                    request_id,
                    checklist,
                    by,
                    ..
                },
            ] => {
                *request_id == rid(1)
                    && !checklist.passed
                    && checklist.catalogue_version.as_deref() == Some("2024-b")
                    && by == &resp_provider()
            }
            _ => false,
        });
    // a passing checklist names the version too
    requesting(phase3_with_entries(2, true), &[eid(1), eid(2)], evening()).then_matches(|e| {
        matches!(e, [CaseEvent::ConfirmationRequested { checklist, .. }] if checklist.catalogue_version.as_deref() == Some("1"))
    });
}
