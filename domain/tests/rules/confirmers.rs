//! Art. 6: who confirms — the adult recipient personally or a minor's family, never the
//! case's staff; the ATS (or a responsabile, with a reason) changes the confirmers; a family
//! that installs FirmaLOM later switches from paper to digital.
use crate::common::*;

fn opening(minor: bool, confirmers: Vec<FiscalCode>) -> CaseTest {
    let mut c = open_case(true);
    c.recipient.minor = minor;
    c.recipient.confirmers = confirmers;
    CaseTest::given(vec![])
        .when(CaseCommand::OpenCase(c))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(t0())
}

fn ats() -> Actor {
    Actor::person(ats_operator(), ActorRole::AtsOperator)
}

#[test]
fn an_adult_recipient_confirms_personally() {
    opening(false, vec![parent(), outsider()]).then_err(DomainError::AdultConfirmsPersonally);
    opening(false, vec![outsider()]).then_matches(|e| matches!(e, [CaseEvent::CaseOpened { .. }]));
    // a minor's family may be two parents
    opening(true, vec![parent(), outsider()])
        .then_matches(|e| matches!(e, [CaseEvent::CaseOpened { .. }]));
}

#[test]
fn the_confirmers_are_never_the_case_s_staff_in_either_order() {
    // at opening
    opening(true, vec![case_manager()]).then_err(DomainError::ConfirmerIsStaff(case_manager()));
    opening(true, vec![parent(), resp_provider()])
        .then_err(DomainError::ConfirmerIsStaff(resp_provider()));
    // a confirmer is not enabled, nor made responsabile or case manager
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(enable(
            Ente::Provider,
            parent(),
            &["educatore_professionale"],
        ))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::ConfirmerIsStaff(parent()));
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(CaseCommand::ChangeResponsabile(ChangeResponsabile {
            ente: Ente::Provider,
            responsabile: parent(),
        }))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(evening())
        .then_err(DomainError::ConfirmerIsStaff(parent()));
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(CaseCommand::ChangeCaseManager(ChangeCaseManager {
            case_manager: parent(),
        }))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(evening())
        .then_err(DomainError::ConfirmerIsStaff(parent()));
    // and an enabled professional is not made a confirmer
    CaseTest::given(case_in_phase(Phase::III, true))
        .when(confirmers(vec![educatore()], None))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(evening())
        .then_err(DomainError::ConfirmerIsStaff(educatore()));
}

fn confirmers(cfs: Vec<FiscalCode>, reason: Option<&str>) -> CaseCommand {
    CaseCommand::ChangeConfirmers(ChangeConfirmers {
        confirmers: cfs,
        reason: reason.map(str::to_owned),
    })
}

#[test]
fn the_ats_or_a_responsabile_with_a_reason_changes_the_confirmers() {
    let changing = |who: Actor, reason: Option<&str>| {
        let mut t = CaseTest::given(case_in_phase(Phase::III, true))
            .when(confirmers(vec![parent(), outsider()], reason))
            .at(evening());
        t = match who.fiscal_code().cloned() {
            Some(cf) => t.by_role(cf, who.role().unwrap_or(ActorRole::Staff)),
            None => t,
        };
        t
    };
    let state = changing(ats(), None).then(vec![CaseEvent::ConfirmersChanged {
        previous: vec![parent()],
        confirmers: vec![parent(), outsider()],
        reason: None,
        by: ats_operator(),
        at: evening(),
    }]);
    assert_eq!(
        state.file.unwrap().recipient.confirmers,
        vec![parent(), outsider()]
    );
    changing(staff(resp_provider()), None).then_err(DomainError::ReasonRequired);
    changing(staff(resp_provider()), Some("la madre ha l'affido")).then_matches(|e| {
        matches!(
            e,
            [CaseEvent::ConfirmersChanged {
                reason: Some(_),
                ..
            }]
        )
    });
    changing(staff(educatore()), Some("x")).then_err(DomainError::EnrolmentChangeNotAllowed);
}

#[test]
fn a_family_that_installs_firmalom_later_switches_from_paper_to_digital() {
    // Given phase I closed on paper, the paper cancelled and the family now on FirmaLOM, when
    // the ASST responsabile sends the confirmation request, then it is the whole diary's
    let mut h = phase1_closed(false);
    let paper = CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
        paper_id: rid(5),
        phase: Phase::I,
        entry_ids: None,
    });
    step(&mut h, paper, staff(resp_asst()), evening());
    let cancel = CaseCommand::CancelPaperDiary(CancelPaperDiary {
        paper_id: rid(5),
        refused_by_family: false,
        reason: Some("la famiglia ha installato FirmaLOM".into()),
    });
    step(&mut h, cancel, staff(resp_asst()), evening());
    let enrol = CaseCommand::ChangeRecipientEnrolment(ChangeRecipientEnrolment {
        firmalom_enrolled: true,
    });
    step(&mut h, enrol, ats(), evening());
    CaseTest::given(h)
        .when(request(rid(7), Phase::I, &[]))
        .by(resp_asst())
        .at(evening())
        .then_matches(|e| {
            matches!(e, [CaseEvent::ConfirmationRequested { request_id, scope: RequestScope::WholeDiary, entry_ids, .. }] if *request_id == rid(7) && entry_ids.len() == 2)
        });
    // an open whole diary is still sent by closing it
    CaseTest::given(phase1_validated(2, true))
        .when(request(rid(7), Phase::I, &[]))
        .by(resp_asst())
        .at(evening())
        .then_err(DomainError::PerEntryConfirmationNotApplicable(Phase::I));
}
