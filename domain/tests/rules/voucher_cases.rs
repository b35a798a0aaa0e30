//! A case under "autonomia 2016" (seed 003) holds a voucher: assigned at opening (§10),
//! suspended and reactivated by the case manager, the extension authorised by the Region
//! (§9 E), nothing recorded on a suspended day or outside the validity, the objectives declared
//! with the final report and the formal check of the diaries (§9 D, §12).
use crate::common::*;

const ACCESS: &str = "autonomia_personale";

fn open_autonomia(voucher: Option<AssignVoucher>) -> CaseCommand {
    let mut c = open_case(true);
    c.measure_id = MeasureId::new("autonomia_2016");
    c.asst = "AMBITO-MILANO-CAPOFILA".to_owned();
    c.voucher = voucher;
    CaseCommand::OpenCase(c)
}

fn start() -> NaiveDate {
    date(2017, 2, 1)
}

/// An autonomia 2016 case of higher intensity from 1 February 2017, every phase diary open,
/// the provider's educator enabled, plus `more`.
fn case(more: Vec<CaseEvent>) -> Vec<CaseEvent> {
    let mut events = vec![
        case_opened_under("autonomia_2016", true),
        CaseEvent::VoucherAssigned {
            intensity: "maggiore_intensita".into(),
            start: start(),
            by: ats_operator(),
            at: t0(),
        },
        enabled(Ente::Provider, educatore(), &["educatore_professionale"]),
    ];
    for p in [Phase::I, Phase::II, Phase::III] {
        events.push(phase_opened(p));
    }
    events.extend(more);
    events
}

fn suspended(from: NaiveDate) -> CaseEvent {
    CaseEvent::PathwaySuspended {
        from,
        reason: "ricovero".into(),
        by: case_manager(),
        at: t0(),
    }
}

fn reactivated(from: NaiveDate, on: NaiveDate) -> CaseEvent {
    CaseEvent::PathwayReactivated {
        suspended_from: from,
        on,
        by: case_manager(),
        at: t0(),
    }
}

fn authorised(from: NaiveDate) -> CaseEvent {
    CaseEvent::SuspensionAuthorised {
        suspended_from: from,
        by: ats_operator(),
        at: t0(),
    }
}

/// Recording one morning of `day`, that evening.
fn record_on(day: NaiveDate, given: Vec<CaseEvent>) -> CaseTest {
    CaseTest::given(case(given))
        .when(rec(
            eid(1),
            Phase::III,
            "educatore_professionale",
            ACCESS,
            slot(day, "09:00", "11:00"),
        ))
        .by(educatore())
        .at(rome(day.year(), day.month(), day.day(), 18, 0))
        .measure(autonomia())
}

use chrono::Datelike;

#[test]
fn a_case_under_autonomia_2016_opens_with_its_voucher_and_intensity() {
    // Given nothing; when the ATS operator opens the case choosing the higher intensity,
    // then the voucher starts on the given day.
    let now = rome(2017, 1, 20, 10, 0);
    let (_, result) = CaseTest::given(vec![])
        .when(open_autonomia(Some(AssignVoucher {
            intensity: "maggiore_intensita".into(),
            start: Some(start()),
        })))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(now)
        .measure(autonomia())
        .run();
    let events = result.expect("opened");
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        CaseEvent::VoucherAssigned {
            intensity: "maggiore_intensita".into(),
            start: start(),
            by: ats_operator(),
            at: now,
        }
    );
    // Without a start, the voucher starts on the day the case opens.
    let (_, result) = CaseTest::given(vec![])
        .when(open_autonomia(Some(AssignVoucher {
            intensity: "minore_intensita".into(),
            start: None,
        })))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(now)
        .measure(autonomia())
        .run();
    assert!(matches!(
        &result.unwrap()[1],
        CaseEvent::VoucherAssigned { start, .. } if *start == date(2017, 1, 20)
    ));
}

#[test]
fn a_voucher_case_needs_a_known_intensity_and_a_case_without_voucher_measure_none() {
    let open = |voucher, measure| {
        CaseTest::given(vec![])
            .when(open_autonomia(voucher))
            .by_role(ats_operator(), ActorRole::AtsOperator)
            .at(rome(2017, 1, 20, 10, 0))
            .measure(measure)
    };
    open(None, autonomia()).then_err_code("voucher-required");
    open(
        Some(AssignVoucher {
            intensity: "media_intensita".into(),
            start: None,
        }),
        autonomia(),
    )
    .then_err_code("unknown-intensity");
    // #UP has no voucher.
    let mut up_case = open_case(true);
    up_case.voucher = Some(AssignVoucher {
        intensity: "maggiore_intensita".into(),
        start: None,
    });
    CaseTest::given(vec![])
        .when(CaseCommand::OpenCase(up_case))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .then_err_code("voucher-not-applicable");
}

#[test]
fn a_voucher_cannot_start_after_the_avviso_s_last_day_of_activities() {
    CaseTest::given(vec![])
        .when(open_autonomia(Some(AssignVoucher {
            intensity: "maggiore_intensita".into(),
            start: Some(date(2018, 6, 16)),
        })))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(rome(2018, 6, 10, 10, 0))
        .measure(autonomia())
        .then_err_code("outside-voucher-validity");
}

#[test]
fn the_case_manager_communicates_a_suspension() {
    let command = CaseCommand::SuspendPathway(SuspendPathway {
        from: date(2017, 5, 1),
        reason: "ricovero ospedaliero".into(),
    });
    CaseTest::given(case(vec![]))
        .when(command.clone())
        .by(case_manager())
        .at(rome(2017, 5, 2, 9, 0))
        .measure(autonomia())
        .then(vec![CaseEvent::PathwaySuspended {
            from: date(2017, 5, 1),
            reason: "ricovero ospedaliero".into(),
            by: case_manager(),
            at: rome(2017, 5, 2, 9, 0),
        }]);
    // Nobody else does.
    CaseTest::given(case(vec![]))
        .when(command)
        .by(resp_provider())
        .at(rome(2017, 5, 2, 9, 0))
        .measure(autonomia())
        .then_err_code("not-the-case-manager");
}

#[test]
fn nothing_is_recorded_on_a_suspended_day() {
    // Given a suspension from 1 May 2017, when a service of 10 May is recorded, then refused.
    record_on(date(2017, 5, 10), vec![suspended(date(2017, 5, 1))])
        .then_err_code("voucher-suspended");
    // After the reactivation on 1 June, 10 June is recorded; 31 May still is not.
    let back = vec![
        suspended(date(2017, 5, 1)),
        reactivated(date(2017, 5, 1), date(2017, 6, 1)),
    ];
    let (_, ok) = record_on(date(2017, 6, 10), back.clone()).run();
    assert!(ok.is_ok(), "{ok:?}");
    record_on(date(2017, 5, 31), back).then_err_code("voucher-suspended");
}

#[test]
fn a_suspension_cannot_cover_days_already_recorded() {
    let entry = recorded(
        eid(7),
        Phase::III,
        educatore(),
        "educatore_professionale",
        ACCESS,
        slot(date(2017, 5, 3), "09:00", "10:00"),
    );
    CaseTest::given(case(vec![entry]))
        .when(CaseCommand::SuspendPathway(SuspendPathway {
            from: date(2017, 5, 1),
            reason: "ricovero".into(),
        }))
        .by(case_manager())
        .at(rome(2017, 5, 4, 9, 0))
        .measure(autonomia())
        .then_err_code("voucher-suspended");
}

#[test]
fn a_reactivation_that_takes_the_suspensions_past_90_days_is_refused() {
    // Given 60 days suspended in March–April and a suspension open from 1 September.
    let given = vec![
        suspended(date(2017, 3, 1)),
        reactivated(date(2017, 3, 1), date(2017, 4, 30)),
        suspended(date(2017, 9, 1)),
    ];
    assert_eq!((date(2017, 4, 30) - date(2017, 3, 1)).num_days(), 60);
    let reactivate = |on| {
        CaseTest::given(case(given.clone()))
            .when(CaseCommand::ReactivatePathway(ReactivatePathway {
                suspended_from: date(2017, 9, 1),
                on,
            }))
            .by(case_manager())
            .at(rome(2017, 9, 2, 9, 0))
            .measure(autonomia())
    };
    // When reactivated after 31 more days (91 in total), then refused; after 30, accepted.
    reactivate(date(2017, 10, 2)).then_err_code("suspension-over-limit");
    reactivate(date(2017, 10, 1)).then(vec![CaseEvent::PathwayReactivated {
        suspended_from: date(2017, 9, 1),
        on: date(2017, 10, 1),
        by: case_manager(),
        at: rome(2017, 9, 2, 9, 0),
    }]);
}

#[test]
fn only_the_region_authorises_the_extension_and_once() {
    let given = vec![
        suspended(date(2017, 5, 1)),
        reactivated(date(2017, 5, 1), date(2017, 5, 31)),
    ];
    let authorise = |events: Vec<CaseEvent>, cf: FiscalCode, role| {
        CaseTest::given(case(events))
            .when(CaseCommand::AuthoriseSuspension(AuthoriseSuspension {
                suspended_from: date(2017, 5, 1),
            }))
            .by_role(cf, role)
            .at(rome(2017, 6, 1, 9, 0))
            .measure(autonomia())
    };
    authorise(given.clone(), ats_operator(), ActorRole::AtsOperator).then(vec![
        CaseEvent::SuspensionAuthorised {
            suspended_from: date(2017, 5, 1),
            by: ats_operator(),
            at: rome(2017, 6, 1, 9, 0),
        },
    ]);
    authorise(given.clone(), case_manager(), ActorRole::Staff).then_err_code("not-ats-operator");
    let mut twice = given;
    twice.push(authorised(date(2017, 5, 1)));
    authorise(twice, ats_operator(), ActorRole::AtsOperator)
        .then_err_code("suspension-already-authorised");
    authorise(vec![], ats_operator(), ActorRole::AtsOperator).then_err_code("suspension-not-found");
}

#[test]
fn nothing_is_recorded_after_the_validity_unless_authorised_days_extend_it() {
    // Given a voucher from 2017-02-01 (valid to 2018-01-31) with 30 days suspended in May.
    let mut given = vec![
        suspended(date(2017, 5, 1)),
        reactivated(date(2017, 5, 1), date(2017, 5, 31)),
    ];
    // When a service of 15 February 2018 is recorded, then refused while unauthorised…
    record_on(date(2018, 2, 15), given.clone()).then_err_code("outside-voucher-validity");
    // …and accepted once the Region authorised the extension (valid to 2018-03-02).
    given.push(authorised(date(2017, 5, 1)));
    let (_, ok) = record_on(date(2018, 2, 15), given.clone()).run();
    assert!(ok.is_ok(), "{ok:?}");
    record_on(date(2018, 3, 3), given).then_err_code("outside-voucher-validity");
}

fn final_report(n: u128, kind: &str) -> CaseEvent {
    CaseEvent::DocumentAdded {
        document_id: did(n),
        kind: kind.to_owned(),
        phase: Phase::III,
        version: 1,
        title: "Relazione finale individuale".into(),
        document_sha256: sha(9),
        media_type: "application/pdf".into(),
        by: case_manager(),
        at: t0(),
    }
}

#[test]
fn the_case_manager_declares_the_objectives_with_the_final_report() {
    let declare = |given: Vec<CaseEvent>, document: u128| {
        CaseTest::given(case(given))
            .when(CaseCommand::DeclareObjectives(DeclareObjectives {
                achieved: true,
                document_id: did(document),
            }))
            .by(case_manager())
            .at(rome(2018, 1, 20, 9, 0))
            .measure(autonomia())
    };
    // A document of another kind is not the final report.
    declare(vec![final_report(2, "piano_educativo_individuale")], 2)
        .then_err_code("final-report-required");
    let (state, result) = declare(vec![final_report(3, "relazione_finale_individuale")], 3).run();
    let events = result.expect("declared");
    let reference = state.file().unwrap().documents[&did(3)].reference();
    assert_eq!(
        events,
        vec![CaseEvent::ObjectivesDeclared {
            achieved: true,
            document: reference,
            by: case_manager(),
            at: rome(2018, 1, 20, 9, 0),
        }]
    );
    // Only the case manager declares.
    CaseTest::given(case(vec![final_report(3, "relazione_finale_individuale")]))
        .when(CaseCommand::DeclareObjectives(DeclareObjectives {
            achieved: true,
            document_id: did(3),
        }))
        .by(resp_provider())
        .measure(autonomia())
        .then_err_code("not-the-case-manager");
}

#[test]
fn a_formal_check_that_fails_says_what_was_found_and_counts_after_the_declaration() {
    let check = |passed, note: Option<&str>| {
        CaseTest::given(case(vec![]))
            .when(CaseCommand::RecordFormalCheck(RecordFormalCheck {
                passed,
                note: note.map(str::to_owned),
            }))
            .by(case_manager())
            .at(rome(2018, 1, 25, 9, 0))
            .measure(autonomia())
    };
    check(false, None).then_err_code("reason-required");
    check(true, None).then_matches(|events| {
        matches!(
            events[..],
            [CaseEvent::FormalCheckRecorded { passed: true, .. }]
        )
    });
    // A passed check before the declaration does not count for the claim (choice 34).
    let declared = CaseEvent::ObjectivesDeclared {
        achieved: true,
        document: DocumentRef {
            document_id: did(3),
            kind: "relazione_finale_individuale".into(),
            version: 1,
            document_sha256: sha(9),
        },
        by: case_manager(),
        at: rome(2018, 1, 20, 9, 0),
    };
    let check_at = |at| CaseEvent::FormalCheckRecorded {
        passed: true,
        note: None,
        checked_version: 9,
        by: case_manager(),
        at,
    };
    let before = fold(&case(vec![
        check_at(rome(2018, 1, 19, 9, 0)),
        declared.clone(),
    ]));
    assert!(!before.file().unwrap().formal_check_passed());
    let after = fold(&case(vec![declared, check_at(rome(2018, 1, 21, 9, 0))]));
    assert!(after.file().unwrap().formal_check_passed());
}

#[test]
fn a_case_without_a_voucher_has_no_suspensions() {
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(CaseCommand::SuspendPathway(SuspendPathway {
            from: d(3, 1),
            reason: "ricovero".into(),
        }))
        .by(case_manager())
        .then_err_code("voucher-not-applicable");
}

#[test]
fn the_pathway_counts_the_days_of_confirmed_services_only() {
    // Given three services on three days: one confirmed, one not yet, one withdrawn.
    let entry = |n, day| {
        recorded(
            eid(n),
            Phase::III,
            educatore(),
            "educatore_professionale",
            ACCESS,
            slot(day, "09:00", "10:00"),
        )
    };
    let confirmed = |ids: Vec<Uuid>| CaseEvent::EntriesConfirmed {
        request_id: rid(1),
        phase: Phase::III,
        entry_ids: ids,
        channel: ConfirmationChannel::Firmalom,
        confirmed_cost_cents: None,
        by: parent(),
        at: t0(),
    };
    let withdrawn = CaseEvent::EntryWithdrawn {
        entry_id: eid(3),
        reason: None,
        by: educatore(),
        at: t0(),
    };
    let state = fold(&case(vec![
        entry(1, date(2017, 4, 14)),
        entry(2, date(2017, 4, 15)),
        entry(3, date(2017, 4, 16)),
        withdrawn,
        confirmed(vec![eid(1)]),
    ]));
    // When the pathway's facts are read, then one access of 70, nothing due but the PI's.
    let facts = diario_domain::flat_amounts::PathwayFacts::of(state.file().unwrap()).unwrap();
    assert_eq!(facts.service_days.len(), 1);
    let status = facts.status(&autonomia(), date(2017, 9, 1)).unwrap();
    assert_eq!((status.accesses.counted, status.accesses.required), (1, 70));
    assert!(!status.claim.realised);
    assert_eq!(status.payment.due, values::Cents(0));
}
