//! Art. 6: paper diary for recipients without FirmaLOM.
use crate::common::*;

fn generate(paper: Uuid, phase: Phase, entries: Option<Vec<Uuid>>) -> CaseCommand {
    CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
        paper_id: paper,
        phase,
        entry_ids: entries,
    })
}

fn sha() -> Sha256Hex {
    Sha256Hex::parse(&"ab".repeat(32)).unwrap()
}

fn upload(paper: Uuid, signed_by: FiscalCode) -> CaseCommand {
    CaseCommand::UploadPaperConfirmation(UploadPaperConfirmation {
        paper_id: paper,
        document_sha256: sha(),
        signed_by,
    })
}

#[test]
fn without_firmalom_a_paper_diary_is_generated_and_the_signed_upload_confirms() {
    let mut h = phase3_with_entries(2, false);
    let events = CaseTest::given(h.clone())
        .when(generate(rid(5), Phase::III, Some(vec![eid(1), eid(2)])))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(e, [CaseEvent::PaperDiaryGenerated { entry_ids, checklist, .. }] if entry_ids.len() == 2 && checklist.passed)
        })
        .0;
    h.extend(events);
    let at = rome(2024, 3, 8, 9, 0);
    CaseTest::given(h)
        .when(upload(rid(5), parent()))
        .by(resp_provider())
        .at(at)
        .then(vec![
            CaseEvent::PaperConfirmationUploaded {
                paper_id: rid(5),
                phase: Phase::III,
                entry_ids: vec![eid(1), eid(2)],
                document_sha256: sha(),
                signed_by: parent(),
                by: resp_provider(),
                at,
            },
            CaseEvent::EntriesConfirmed {
                request_id: rid(5),
                phase: Phase::III,
                entry_ids: vec![eid(1), eid(2)],
                channel: ConfirmationChannel::Paper,
                confirmed_cost_cents: Some(Cents(6000)),
                by: parent(),
                at,
            },
        ]);
}

#[test]
fn the_paper_diary_is_only_for_recipients_without_firmalom() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(generate(rid(5), Phase::III, Some(vec![eid(1)])))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::PaperDiaryNotAllowed);
}

/// Phase III without FirmaLOM, entry 1 on paper diary rid(5) generated at the evening of 4 March.
fn paper_pending() -> Vec<CaseEvent> {
    let mut h = phase3_with_entries(1, false);
    let paper = generate(rid(5), Phase::III, Some(vec![eid(1)]));
    step(&mut h, paper, staff(resp_provider()), evening());
    h
}

#[test]
fn entries_on_a_pending_paper_diary_are_not_editable() {
    CaseTest::given(paper_pending())
        .when(withdraw(eid(1)))
        .by(educatore())
        .at(evening())
        .then_err(DomainError::EntryInPendingRequest(eid(1)));
}

#[test]
fn the_paper_diary_must_be_signed_by_the_recipient_or_family_on_file() {
    CaseTest::given(paper_pending())
        .when(upload(rid(5), outsider()))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::NotAConfirmer);
}

#[test]
fn a_closed_whole_diary_is_confirmed_on_paper_and_handed_to_ats() {
    let mut h = phase1_closed(false);
    // a whole-diary paper is generated after closure, for every entry
    step(
        &mut h,
        generate(rid(5), Phase::I, None),
        staff(resp_asst()),
        evening(),
    );
    CaseTest::given(h)
        .when(upload(rid(5), parent()))
        .by(resp_asst())
        .at(rome(2024, 3, 6, 9, 0))
        .then_matches(|e| {
            matches!(
                e,
                [
                    CaseEvent::PaperConfirmationUploaded { .. },
                    CaseEvent::EntriesConfirmed { .. },
                    CaseEvent::DiaryHandedToAts {
                        phase: Phase::I,
                        confirmed_minutes: 120,
                        ..
                    }
                ]
            )
        });
}

#[test]
fn a_whole_diary_paper_is_generated_only_after_closure() {
    CaseTest::given(phase1_with_entries(1, false))
        .when(generate(rid(5), Phase::I, None))
        .by(resp_asst())
        .at(evening())
        .then_err(DomainError::PerEntryConfirmationNotApplicable(Phase::I));
}

#[test]
fn the_document_hash_is_validated() {
    assert!(Sha256Hex::parse("not-a-hash").is_err());
    let json = serde_json::json!({
        "type": "UploadPaperConfirmation",
        "paper_id": rid(5),
        "document_sha256": "xyz",
        "signed_by": "CLMMRC78P10F205F"
    });
    assert!(serde_json::from_value::<CaseCommand>(json).is_err());
}
