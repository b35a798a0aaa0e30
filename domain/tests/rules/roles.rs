//! Art. 4: roles, responsabili, enabling; Art. 3: who registers which phase.
use crate::common::*;

fn open_case_cmd(confirmers: Vec<FiscalCode>) -> CaseCommand {
    let mut c = open_case(true);
    c.recipient.confirmers = confirmers;
    CaseCommand::OpenCase(c)
}

#[test]
fn ats_operator_opens_the_case_with_its_responsabili() {
    CaseTest::given(vec![])
        .when(open_case_cmd(vec![parent()]))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(t0())
        .then(vec![case_opened(true)]);
}

#[test]
fn only_an_ats_operator_opens_a_case() {
    CaseTest::given(vec![])
        .when(open_case_cmd(vec![parent()]))
        .by(resp_asst())
        .then_err(DomainError::NotAtsOperator);
}

#[test]
fn a_case_needs_at_least_one_confirmer() {
    CaseTest::given(vec![])
        .when(open_case_cmd(vec![]))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .then_err(DomainError::NoConfirmers);
}

#[test]
fn the_recipient_is_recorded_by_a_pseudonym_never_by_fiscal_code() {
    let with = |pseudonym: &str| {
        let mut c = open_case(true);
        c.recipient.pseudonym = pseudonym.to_owned();
        CaseCommand::OpenCase(c)
    };
    for bad in [
        "",
        "   ",
        "RSSMRA85T10A562S",
        "tinit-rssmra85t10a562s",
        "UP Mario RSSMRA85T10A562S",
        "RSSMRA 85T10 A562S",
        &"X".repeat(65),
        "UP-MI\u{7}-1",
    ] {
        CaseTest::given(vec![])
            .when(with(bad))
            .by_role(ats_operator(), ActorRole::AtsOperator)
            .then_err_code("invalid-pseudonym");
    }
    CaseTest::given(vec![])
        .when(with("UP-MI-000123"))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(t0())
        .then(vec![case_opened(true)]);
}

#[test]
fn a_case_is_opened_once() {
    CaseTest::given(vec![case_opened(true)])
        .when(open_case_cmd(vec![parent()]))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .then_err(DomainError::CaseAlreadyOpened);
}

#[test]
fn the_case_is_decided_under_its_own_measure() {
    let mut other = up();
    other.id = MeasureId::new("altra");
    CaseTest::given(vec![case_opened(true)])
        .when(open_phase(Phase::I))
        .by(resp_asst())
        .measure(other)
        .then_err_code("measure-mismatch");
}

#[test]
fn the_asst_responsabile_opens_the_phase_i_diary() {
    CaseTest::given(vec![case_opened(true)])
        .when(open_phase(Phase::I))
        .by(resp_asst())
        .at(t0())
        .then(vec![phase_opened(Phase::I)]);
}

#[test]
fn only_the_phase_responsabile_opens_a_diary() {
    // phase I is the ASST's, phase II the provider's
    let cases = [
        (vec![], Phase::I, resp_provider(), Ente::Asst),
        (
            vec![phase_opened(Phase::I)],
            Phase::II,
            resp_asst(),
            Ente::Provider,
        ),
    ];
    for (opened, phase, other_responsabile, ente) in cases {
        CaseTest::given([vec![case_opened(true)], opened].concat())
            .when(open_phase(phase))
            .by(other_responsabile)
            .then_err(DomainError::NotPhaseResponsabile { phase, ente });
    }
}

#[test]
fn phases_are_opened_in_order() {
    CaseTest::given(vec![case_opened(true)])
        .when(open_phase(Phase::II))
        .by(resp_provider())
        .then_err(DomainError::PreviousPhaseNotOpened {
            phase: Phase::II,
            previous: Phase::I,
        });
}

#[test]
fn a_phase_diary_is_opened_once() {
    CaseTest::given(vec![case_opened(true), phase_opened(Phase::I)])
        .when(open_phase(Phase::I))
        .by(resp_asst())
        .then_err(DomainError::DiaryAlreadyOpened(Phase::I));
}

#[test]
fn the_ente_changes_its_responsabile_and_only_the_new_one_acts() {
    let change = CaseCommand::ChangeResponsabile(ChangeResponsabile {
        ente: Ente::Asst,
        responsabile: outsider(),
    });
    let state = CaseTest::given(vec![case_opened(true)])
        .when(change.clone())
        .by_role(outsider(), ActorRole::EnteAdmin)
        .at(t0())
        .then(vec![CaseEvent::ResponsabileChanged {
            ente: Ente::Asst,
            previous: resp_asst(),
            responsabile: outsider(),
            by: outsider(),
            at: t0(),
        }]);
    assert_eq!(
        state.file.as_ref().and_then(|f| f.responsabile(Ente::Asst)),
        Some(&outsider())
    );
    let mut h = vec![case_opened(true)];
    step(&mut h, change, staff(resp_asst()), t0());
    CaseTest::given(h)
        .when(open_phase(Phase::I))
        .by(resp_asst())
        .then_err_code("not-phase-responsabile");
}

#[test]
fn a_staff_member_who_is_not_responsabile_cannot_change_the_responsabile() {
    CaseTest::given(vec![case_opened(true)])
        .when(CaseCommand::ChangeResponsabile(ChangeResponsabile {
            ente: Ente::Provider,
            responsabile: outsider(),
        }))
        .by(educatore())
        .then_err(DomainError::ResponsabileChangeNotAllowed(Ente::Provider));
}

#[test]
fn only_the_ente_responsabile_enables_professionals() {
    let cmd = enable(Ente::Provider, educatore(), &["educatore_professionale"]);
    CaseTest::given(vec![case_opened(true)])
        .when(cmd.clone())
        .by(resp_asst())
        .then_err(DomainError::NotEnteResponsabile(Ente::Provider));
    CaseTest::given(vec![case_opened(true)])
        .when(cmd)
        .by(resp_provider())
        .at(t0())
        .then(vec![enabled(
            Ente::Provider,
            educatore(),
            &["educatore_professionale"],
        )]);
}

#[test]
fn professionals_are_enabled_for_figures_of_the_measure() {
    CaseTest::given(vec![case_opened(true)])
        .when(enable(Ente::Provider, educatore(), &["astronauta"]))
        .by(resp_provider())
        .then_err(DomainError::FigureNotInCatalogue(fig("astronauta")));
}

/// Entry 1 on 4 March, 09:00-10:00, as `figure` delivering `service` in `phase`.
fn entry_as(phase: Phase, figure: &str, service: &str) -> CaseCommand {
    rec(
        eid(1),
        phase,
        figure,
        service,
        slot(d(3, 4), "09:00", "10:00"),
    )
}

/// Given the case in `phase`, when entry 1 is recorded there as `figure` delivering `service`.
fn recording_in(phase: Phase, figure: &str, service: &str) -> CaseTest {
    CaseTest::given(case_in_phase(phase, true)).when(entry_as(phase, figure, service))
}

/// The educator's usual entry in phase III.
fn educator_entry() -> CaseCommand {
    entry_as(Phase::III, "educatore_professionale", DISPERSIONE)
}

#[test]
fn only_enabled_professionals_record() {
    recording_in(Phase::III, "educatore_professionale", DISPERSIONE)
        .by(outsider())
        .at(evening())
        .then_err(DomainError::ProfessionalNotEnabled {
            professional: outsider(),
            phase: Phase::III,
        });
}

#[test]
fn a_disabled_professional_no_longer_records() {
    let mut h = case_in_phase(Phase::III, true);
    let disable = CaseCommand::DisableProfessional(DisableProfessional {
        ente: Ente::Provider,
        professional: educatore(),
    });
    step(&mut h, disable, staff(resp_provider()), t0());
    CaseTest::given(h)
        .when(educator_entry())
        .by(educatore())
        .at(evening())
        .then_err_code("professional-not-enabled");
}

#[test]
fn asst_professionals_record_only_in_the_asst_phase() {
    // Art. 3: phase II-IV hours are registered by the provider; the ASST psychologist was
    // enabled by the ASST only.
    recording_in(Phase::II, "psicologo", "colloquio_osservazione")
        .by(psicologo())
        .at(evening())
        .then_err(DomainError::ProfessionalNotEnabled {
            professional: psicologo(),
            phase: Phase::II,
        });
}

#[test]
fn the_case_manager_records_hours_in_phases_ii_to_iv() {
    recording_in(Phase::IV, "case_manager", "case_management")
        .by(case_manager())
        .at(evening())
        .then_matches(|e| {
            matches!(
                e,
                [CaseEvent::EntryRecorded {
                    phase: Phase::IV,
                    ..
                }]
            )
        });
}

#[test]
fn every_change_is_made_by_an_identified_person() {
    recording_in(Phase::III, "educatore_professionale", DISPERSIONE)
        .by_system()
        .at(evening())
        .then_err(DomainError::PersonRequired);
}

#[test]
fn the_case_manager_figure_is_the_designated_case_manager_s() {
    // Given #UP (the case manager belongs to the ASST), when a responsabile enables someone
    // under the case manager's figure, then only the designated case manager, by the ASST,
    // is accepted
    let enabling = |ente: Ente, who: FiscalCode, by: FiscalCode| {
        CaseTest::given(case_in_phase(Phase::III, true))
            .when(enable(ente, who, &["case_manager"]))
            .by(by)
            .at(evening())
    };
    let reserved = DomainError::CaseManagerFigureReserved(fig("case_manager"));
    enabling(Ente::Provider, educatore(), resp_provider()).then_err(reserved.clone());
    enabling(Ente::Provider, case_manager(), resp_provider()).then_err(reserved.clone());
    enabling(Ente::Asst, psicologo(), resp_asst()).then_err(reserved);
    enabling(Ente::Asst, case_manager(), resp_asst())
        .then_matches(|e| matches!(e, [CaseEvent::ProfessionalEnabled { .. }]));
}
