//! Art. 1: the documents of the pathway; Art. 8: PDI caps from a PDI version; Art. 6-7: the
//! four-eyes check of paper scans.
use crate::common::*;

fn without_documents(h: Vec<CaseEvent>) -> Vec<CaseEvent> {
    h.into_iter()
        .filter(|e| !matches!(e, CaseEvent::DocumentAdded { .. }))
        .collect()
}

fn add(n: u128, kind: &str) -> CaseCommand {
    CaseCommand::AddDocument(AddDocument {
        document_id: did(n),
        kind: kind.to_owned(),
        title: None,
        document_sha256: sha(7),
        media_type: "application/pdf".to_owned(),
    })
}

fn caps(max: u32, reason: Option<&str>) -> CaseCommand {
    caps_with_total(max, Some(900), reason)
}

fn caps_with_total(max: u32, total: Option<u32>, reason: Option<&str>) -> CaseCommand {
    CaseCommand::SetPdiCaps(SetPdiCaps {
        caps: vec![PdiCap {
            service: svc(DISPERSIONE),
            max_minutes: max,
        }],
        total_max_minutes: total,
        pdi_document_id: None,
        reason: reason.map(str::to_owned),
    })
}

#[test]
fn a_phase_diary_is_not_closed_without_its_output_document() {
    // Given phase I validated but no Progetto individualizzato recorded
    let h = without_documents(phase1_validated(1, true));
    // When the responsabile closes it, then the missing output is named
    closing_phase_i(h.clone(), resp_asst()).then_err(DomainError::ClosingDocumentMissing {
        phase: Phase::I,
        kind: "progetto_individualizzato".into(),
        name: "Progetto individualizzato (PI)".into(),
    });
    // With the PI recorded, the closure goes through
    let mut with_pi = h;
    with_pi.push(document_added("progetto_individualizzato", 1));
    closing_phase_i(with_pi, resp_asst())
        .then_matches(|e| matches!(e, [CaseEvent::PhaseDiaryClosed { .. }, ..]));
}

#[test]
fn a_document_that_does_not_close_the_phase_is_not_required() {
    // The intermediate evaluation report of phase III is not an output that closes it: the
    // final report is. Without the final report, the refusal names it.
    let h = without_documents(phase3_with_entries(0, true));
    let mut with_intermediate = h.clone();
    with_intermediate.push(document_added("relazione_valutazione_intermedia", 3));
    CaseTest::given(with_intermediate)
        .when(close(Phase::III, rid(1)))
        .by(resp_provider())
        .at(evening())
        .then_err_code("closing-document-missing");
    let mut with_final = h;
    with_final.push(document_added("relazione_valutazione_finale", 4));
    CaseTest::given(with_final)
        .when(close(Phase::III, rid(1)))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| matches!(e, [CaseEvent::PhaseDiaryClosed { .. }, ..]));
}

#[test]
fn documents_are_recorded_by_hash_with_versions_by_the_phase_staff() {
    let h = case_in_phase(Phase::II, true);
    let (events, state) = CaseTest::given(h.clone())
        .when(add(10, "piano_di_intervento"))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(e, [CaseEvent::DocumentAdded { version: 2, phase: Phase::II, title, .. }]
                if title == "Piano di intervento (PDI)")
        });
    assert_eq!(events.len(), 1);
    let file = state.file.expect("case");
    assert_eq!(
        file.latest_document("piano_di_intervento").map(|d| d.id),
        Some(did(10)),
        "the second PDI is the latest version"
    );
    // the case manager may record it too; an educator of the case may not
    CaseTest::given(h.clone())
        .when(add(11, "piano_di_intervento"))
        .by(case_manager())
        .at(evening())
        .then_matches(|e| matches!(e, [CaseEvent::DocumentAdded { .. }]));
    CaseTest::given(h.clone())
        .when(add(11, "piano_di_intervento"))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::DocumentNotAllowed(Phase::II));
    // the PI is phase I's: the ASST responsabile records it, not the provider's
    CaseTest::given(h.clone())
        .when(add(12, "progetto_individualizzato"))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::DocumentNotAllowed(Phase::I));
    CaseTest::given(h.clone())
        .when(add(12, "pagella"))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::DocumentKindUnknown("pagella".into()));
    CaseTest::given(h)
        .when(add(2, "piano_di_intervento"))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::DocumentIdAlreadyUsed(did(2)));
}

#[test]
fn a_document_is_shared_through_firmalom_and_answered_by_a_confirmer() {
    let share = CaseCommand::ShareDocument(ShareDocument {
        document_id: did(2),
        request_id: rid(40),
    });
    let mut h = case_in_phase(Phase::II, true);
    let (shared, _) = CaseTest::given(h.clone())
        .when(share.clone())
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| matches!(e, [CaseEvent::DocumentShared { request_id, .. }] if *request_id == rid(40)));
    // without FirmaLOM there is nothing to send it to
    CaseTest::given(case_in_phase(Phase::II, false))
        .when(share.clone())
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::DigitalConfirmationUnavailable);
    h.extend(shared);
    // one pending sharing at a time
    CaseTest::given(h.clone())
        .when(CaseCommand::ShareDocument(ShareDocument {
            document_id: did(2),
            request_id: rid(41),
        }))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::DocumentSharePending(did(2)));
    let answer = |confirmed| {
        CaseCommand::AnswerDocument(AnswerDocument {
            request_id: rid(40),
            confirmed,
            reason: None,
        })
    };
    CaseTest::given(h.clone())
        .when(answer(true))
        .by_role(outsider(), ActorRole::Recipient)
        .at(next_morning())
        .then_err(DomainError::NotAConfirmer);
    let (answered, state) = CaseTest::given(h.clone())
        .when(answer(true))
        .by_role(parent(), ActorRole::Recipient)
        .at(next_morning())
        .then_matches(|e| {
            matches!(
                e,
                [CaseEvent::DocumentAnswered {
                    confirmed: true,
                    ..
                }]
            )
        });
    let file = state.file.expect("case");
    let (_, s) = file.document_share(rid(40)).expect("the sharing");
    assert_eq!(s.status, RequestStatus::Confirmed);
    h.extend(answered);
    CaseTest::given(h)
        .when(answer(false))
        .by_role(parent(), ActorRole::Recipient)
        .at(next_morning())
        .then_err(DomainError::RequestNotPending(rid(40)));
}

#[test]
fn pdi_caps_name_the_pdi_version_they_come_from() {
    // Given phase II without a PDI document, caps are refused naming the document
    let h = without_documents(case_in_phase(Phase::II, true));
    CaseTest::given(h.clone())
        .when(caps(600, None))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::PdiDocumentRequired(
            "piano_di_intervento".into(),
        ));
    // With it, the caps and then every checklist of phase III carry its version and hash
    let mut with_pdi = h;
    with_pdi.push(document_added("piano_di_intervento", 2));
    let (events, _) = CaseTest::given(with_pdi.clone())
        .when(caps(600, None))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(e, [CaseEvent::PdiCapsSet { document: Some(d), raised_after_hours: false, .. }]
                if d.document_id == did(2) && d.version == 1 && d.kind == "piano_di_intervento")
        });
    with_pdi.extend(events);
    with_pdi.push(phase_opened(Phase::III));
    with_pdi.push(edu_entry(
        eid(1),
        Phase::III,
        DISPERSIONE,
        nth_hour(d(3, 4), 1),
    ));
    requesting(with_pdi, &[eid(1)], evening()).then_matches(|e| {
        matches!(e, [CaseEvent::ConfirmationRequested { checklist, .. }]
            if checklist.pdi_document.as_ref().is_some_and(|d| d.document_id == did(2)))
    });
}

#[test]
fn raising_pdi_caps_after_phase_iii_hours_needs_a_reason_shown_to_ats() {
    // pdi_set() allows 600 min of DISPERSIONE; phase III has one hour
    let h = phase3_with_entries(1, true);
    CaseTest::given(h.clone())
        .when(caps(900, None))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::PdiRaiseReasonMissing);
    let (_, state) = CaseTest::given(h.clone())
        .when(caps(900, Some("nuovo PDI dopo la verifica intermedia")))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(
                e,
                [CaseEvent::PdiCapsSet {
                    raised_after_hours: true,
                    reason: Some(_),
                    ..
                }]
            )
        });
    let raises = state.file.expect("case").pdi.expect("caps").raises;
    assert_eq!(raises.len(), 1);
    assert_eq!(raises[0].reason, "nuovo PDI dopo la verifica intermedia");
    // lowering needs no reason
    CaseTest::given(h.clone())
        .when(caps(300, None))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(
                e,
                [CaseEvent::PdiCapsSet {
                    raised_after_hours: false,
                    ..
                }]
            )
        });
    // removing the overall cap allows more: a raise
    CaseTest::given(h.clone())
        .when(caps_with_total(300, None, None))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::PdiRaiseReasonMissing);
    // before any phase III hour, raising needs no reason either
    CaseTest::given(phase3_with_entries(0, true))
        .when(caps(900, None))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(
                e,
                [CaseEvent::PdiCapsSet {
                    raised_after_hours: false,
                    ..
                }]
            )
        });
}

fn scan_uploaded() -> Vec<CaseEvent> {
    let mut h = phase3_with_entries(1, false);
    step(
        &mut h,
        CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
            paper_id: rid(5),
            phase: Phase::III,
            entry_ids: Some(vec![eid(1)]),
        }),
        staff(resp_provider()),
        evening(),
    );
    step(
        &mut h,
        CaseCommand::UploadPaperConfirmation(UploadPaperConfirmation {
            paper_id: rid(5),
            document_sha256: sha(9),
            signed_by: parent(),
        }),
        staff(resp_provider()),
        next_morning(),
    );
    h
}

fn check(accepted: bool, reason: Option<&str>) -> CaseCommand {
    CaseCommand::CheckPaperScan(CheckPaperScan {
        paper_id: rid(5),
        accepted,
        reason: reason.map(str::to_owned),
    })
}

#[test]
fn a_paper_scan_awaits_the_ats_four_eyes_check() {
    let h = scan_uploaded();
    let file = fold(h.iter()).file.expect("case");
    assert_eq!(
        file.requests[&rid(5)].scan.as_ref().map(|s| s.check),
        Some(ScanCheck::AwaitingCheck)
    );
    // only an ATS operator checks, and not someone of the case
    CaseTest::given(h.clone())
        .when(check(true, None))
        .by(resp_asst())
        .at(next_morning())
        .then_err(DomainError::NotAtsOperator);
    CaseTest::given(h.clone())
        .when(check(true, None))
        .by_role(resp_provider(), ActorRole::AtsOperator)
        .at(next_morning())
        .then_err(DomainError::ScanCheckSamePerson);
    let (events, state) = CaseTest::given(h.clone())
        .when(check(true, None))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(next_morning())
        .then_matches(|e| {
            matches!(e, [CaseEvent::PaperScanChecked { accepted: true, entry_ids, document_sha256, .. }]
                if entry_ids == &vec![eid(1)] && *document_sha256 == sha(9))
        });
    assert_eq!(
        state.file.expect("case").requests[&rid(5)]
            .scan
            .as_ref()
            .map(|s| s.check),
        Some(ScanCheck::Checked)
    );
    let mut checked = h.clone();
    checked.extend(events);
    CaseTest::given(checked)
        .when(check(true, None))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(next_morning())
        .then_err(DomainError::ScanNotAwaitingCheck(rid(5)));
    // a refusal needs a reason
    CaseTest::given(h)
        .when(check(false, None))
        .by_role(ats_operator(), ActorRole::AtsOperator)
        .at(next_morning())
        .then_err(DomainError::ReasonRequired);
}

#[test]
fn a_refused_scan_is_replaced_by_a_new_upload_that_awaits_its_check() {
    let mut h = scan_uploaded();
    step(
        &mut h,
        check(false, Some("firma illeggibile")),
        Actor::person(ats_operator(), ActorRole::AtsOperator),
        next_morning(),
    );
    let file = fold(h.iter()).file.expect("case");
    assert_eq!(
        file.requests[&rid(5)].scan.as_ref().map(|s| s.check),
        Some(ScanCheck::Refused)
    );
    let at = next_morning();
    let state = CaseTest::given(h)
        .when(CaseCommand::UploadPaperConfirmation(
            UploadPaperConfirmation {
                paper_id: rid(5),
                document_sha256: sha(10),
                signed_by: parent(),
            },
        ))
        .by(resp_provider())
        .at(at)
        .then(vec![CaseEvent::PaperConfirmationUploaded {
            paper_id: rid(5),
            phase: Phase::III,
            entry_ids: vec![eid(1)],
            document_sha256: sha(10),
            signed_by: parent(),
            by: resp_provider(),
            at,
        }]);
    let scan = state.file.expect("case").requests[&rid(5)]
        .scan
        .clone()
        .expect("scan");
    assert_eq!(
        (scan.check, scan.sha256),
        (ScanCheck::AwaitingCheck, sha(10))
    );
}
