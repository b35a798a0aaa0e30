//! Art. 6 phases III–IV: per-entry requests, answers, deadlines, expiry and re-sends.
use crate::common::*;

fn expire(id: Uuid) -> CaseCommand {
    CaseCommand::ExpireConfirmationRequest(ExpireConfirmationRequest { request_id: id })
}

fn resend(id: Uuid) -> CaseCommand {
    CaseCommand::ResendConfirmation(ResendConfirmation { request_id: id })
}

#[test]
fn one_request_may_cover_many_entries() {
    CaseTest::given(phase3_with_entries(3, true))
        .when(request(rid(1), Phase::III, &[eid(1), eid(2), eid(3)]))
        .by(resp_provider())
        .at(evening())
        .then_matches(|e| {
            matches!(e, [CaseEvent::ConfirmationRequested { scope: RequestScope::Entries, entry_ids, checklist, .. }]
                if entry_ids.len() == 3 && checklist.passed && checklist.request_minutes == 180)
        });
}

#[test]
fn only_the_responsabile_sends_confirmation_requests() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(request(rid(1), Phase::III, &[eid(1)]))
        .by(educatore())
        .at(evening())
        .then_err_code("not-phase-responsabile");
}

#[test]
fn an_entry_is_in_at_most_one_pending_request() {
    CaseTest::given(phase3_requested())
        .when(request(rid(2), Phase::III, &[eid(3), eid(2)]))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::EntryInPendingRequest(eid(2)));
}

#[test]
fn a_request_lists_at_least_one_entry_of_its_phase() {
    CaseTest::given(phase3_with_entries(1, true))
        .when(request(rid(1), Phase::III, &[]))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::EmptyConfirmationRequest);
    CaseTest::given(phase3_with_entries(1, true))
        .when(request(rid(1), Phase::IV, &[eid(1)]))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::DiaryNotOpened(Phase::IV));
}

#[test]
fn the_recipient_confirms_the_listed_entries() {
    let at = rome(2024, 3, 5, 9, 0);
    let state = CaseTest::given(phase3_requested())
        .when(confirm(rid(1)))
        .by_role(parent(), ActorRole::Recipient)
        .at(at)
        .then(vec![CaseEvent::EntriesConfirmed {
            request_id: rid(1),
            phase: Phase::III,
            entry_ids: vec![eid(1), eid(2)],
            channel: ConfirmationChannel::Firmalom,
            by: parent(),
            at,
        }]);
    let file = state.file.unwrap();
    assert!(file.entries[&eid(1)].confirmed && !file.entries[&eid(3)].confirmed);
    assert_eq!(file.diaries[&Phase::III].status, DiaryStatus::Open);
}

#[test]
fn only_the_recipient_or_family_on_file_answers() {
    CaseTest::given(phase3_requested())
        .when(confirm(rid(1)))
        .by_role(outsider(), ActorRole::Recipient)
        .at(rome(2024, 3, 5, 9, 0))
        .then_err(DomainError::NotAConfirmer);
}

#[test]
fn a_rejection_states_its_reason() {
    CaseTest::given(phase3_requested())
        .when(reject(rid(1), "  "))
        .by_role(parent(), ActorRole::Recipient)
        .at(rome(2024, 3, 5, 9, 0))
        .then_err(DomainError::RejectionReasonMissing);
}

#[test]
fn an_answer_within_one_day_is_accepted() {
    CaseTest::given(phase3_requested())
        .when(confirm(rid(1)))
        .by_role(parent(), ActorRole::Recipient)
        .at(deadline())
        .then_matches(|e| matches!(e, [CaseEvent::EntriesConfirmed { .. }]));
}

#[test]
fn a_late_answer_is_refused_and_the_request_is_expired() {
    let late = rome(2024, 3, 5, 18, 1);
    let state = CaseTest::given(phase3_requested())
        .when(confirm(rid(1)))
        .by_role(parent(), ActorRole::Recipient)
        .at(late)
        .then(vec![CaseEvent::ConfirmationRequestExpired {
            request_id: rid(1),
            phase: Phase::III,
            entry_ids: vec![eid(1), eid(2)],
            deadline: deadline(),
            refused_answer: Some(RefusedAnswer {
                by: parent(),
                at: late,
                would_confirm: true,
            }),
            by: Some(parent()),
            at: late,
        }]);
    let file = state.file.unwrap();
    assert!(!file.entries[&eid(1)].confirmed);
    assert_eq!(file.requests[&rid(1)].status, RequestStatus::Expired);
    let expired = CaseTest::given(phase3_requested())
        .when(confirm(rid(1)))
        .by_role(parent(), ActorRole::Recipient)
        .at(late)
        .then_matches(|_| true)
        .0;
    assert!(expired[0].refused_answer().is_some());
}

#[test]
fn the_scheduler_records_expiry_as_an_event() {
    let at = rome(2024, 3, 5, 18, 1);
    CaseTest::given(phase3_requested())
        .when(expire(rid(1)))
        .by_system()
        .at(at)
        .then(vec![CaseEvent::ConfirmationRequestExpired {
            request_id: rid(1),
            phase: Phase::III,
            entry_ids: vec![eid(1), eid(2)],
            deadline: deadline(),
            refused_answer: None,
            by: None,
            at,
        }]);
}

#[test]
fn the_scheduler_finds_overdue_requests() {
    let state = fold(phase3_requested().iter());
    assert!(state.overdue_requests(deadline()).is_empty());
    assert_eq!(
        state.overdue_requests(rome(2024, 3, 5, 18, 1)),
        vec![rid(1)]
    );
}

#[test]
fn a_request_does_not_expire_before_its_deadline() {
    CaseTest::given(phase3_requested())
        .when(expire(rid(1)))
        .by_system()
        .at(deadline())
        .then_err(DomainError::RequestNotYetExpired {
            deadline: deadline(),
        });
}

#[test]
fn an_answer_after_the_recorded_expiry_is_refused() {
    let mut h = phase3_requested();
    step(
        &mut h,
        expire(rid(1)),
        Actor::System,
        rome(2024, 3, 6, 0, 0),
    );
    CaseTest::given(h)
        .when(confirm(rid(1)))
        .by_role(parent(), ActorRole::Recipient)
        .at(rome(2024, 3, 6, 1, 0))
        .then_err(DomainError::RequestNotPending(rid(1)));
}

#[test]
fn a_request_is_resent_only_after_one_day_without_answer() {
    CaseTest::given(phase3_requested())
        .when(resend(rid(1)))
        .by(resp_provider())
        .at(rome(2024, 3, 5, 12, 0))
        .then_err(DomainError::ResendTooEarly {
            allowed_from: deadline(),
            days: 1,
        });
}

#[test]
fn resending_an_overdue_request_records_its_expiry_then_the_resend() {
    let at = rome(2024, 3, 6, 9, 0);
    let state = CaseTest::given(phase3_requested())
        .when(resend(rid(1)))
        .by(resp_provider())
        .at(at)
        .then_matches(|e| {
            matches!(e, [CaseEvent::ConfirmationRequestExpired { by: Some(_), .. }, CaseEvent::ConfirmationResent { deadline, checklist, .. }]
                if *deadline == rome(2024, 3, 7, 9, 0) && checklist.passed)
        })
        .1;
    let file = state.file.unwrap();
    assert_eq!(file.requests[&rid(1)].status, RequestStatus::Pending);
    assert_eq!(file.requests[&rid(1)].times_sent, 2);
    assert_eq!(file.entries[&eid(1)].pending_request, Some(rid(1)));
}

#[test]
fn an_expired_request_may_be_resent() {
    let mut h = phase3_requested();
    step(
        &mut h,
        expire(rid(1)),
        Actor::System,
        rome(2024, 3, 6, 0, 0),
    );
    CaseTest::given(h)
        .when(resend(rid(1)))
        .by(resp_provider())
        .at(rome(2024, 3, 6, 9, 0))
        .then_matches(|e| matches!(e, [CaseEvent::ConfirmationResent { .. }]));
}

#[test]
fn an_answered_request_is_not_resent() {
    let mut h = phase3_requested();
    step(&mut h, confirm(rid(1)), signer(), rome(2024, 3, 5, 9, 0));
    CaseTest::given(h)
        .when(resend(rid(1)))
        .by(resp_provider())
        .at(rome(2024, 3, 7, 9, 0))
        .then_err(DomainError::RequestAlreadyAnswered(rid(1)));
}

#[test]
fn a_resend_carries_the_same_unchanged_entries() {
    let mut h = phase3_requested();
    step(
        &mut h,
        expire(rid(1)),
        Actor::System,
        rome(2024, 3, 6, 0, 0),
    );
    step(
        &mut h,
        amend(
            eid(1),
            "educatore_professionale",
            "accompagnamento_inclusione",
            slot(d(3, 4), "08:00", "09:00"),
        ),
        staff(educatore()),
        rome(2024, 3, 6, 8, 0),
    );
    CaseTest::given(h)
        .when(resend(rid(1)))
        .by(resp_provider())
        .at(rome(2024, 3, 6, 9, 0))
        .then_err(DomainError::EntriesChangedSinceRequest);
}

#[test]
fn closing_a_phase_iii_diary_with_a_pending_request_is_refused() {
    CaseTest::given(phase3_requested())
        .when(close(Phase::III, rid(9)))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::PendingRequestAtClosure(rid(1)));
}

#[test]
fn closing_a_phase_iii_diary_hands_it_to_ats_listing_unconfirmed_entries() {
    let mut h = phase3_requested();
    let at = rome(2024, 3, 5, 9, 0);
    step(&mut h, confirm(rid(1)), signer(), at);
    CaseTest::given(h)
        .when(close(Phase::III, rid(9)))
        .by(resp_provider())
        .at(at)
        .then(vec![
            CaseEvent::PhaseDiaryClosed {
                phase: Phase::III,
                entry_ids: vec![eid(1), eid(2), eid(3)],
                unconfirmed_entry_ids: vec![eid(3)],
                total_minutes: 180,
                by: resp_provider(),
                at,
            },
            CaseEvent::DiaryHandedToAts {
                phase: Phase::III,
                ats: "ATS-MILANO".to_owned(),
                confirmed_entry_ids: vec![eid(1), eid(2)],
                confirmed_minutes: 120,
                by: resp_provider(),
                at,
            },
        ]);
}

#[test]
fn recipient_without_firmalom_gets_no_digital_request() {
    CaseTest::given(phase3_with_entries(1, false))
        .when(request(rid(1), Phase::III, &[eid(1)]))
        .by(resp_provider())
        .at(evening())
        .then_err(DomainError::DigitalConfirmationUnavailable);
}

#[test]
fn closing_a_phase_i_diary_without_firmalom_sends_no_digital_request() {
    let mut h = phase1_with_entries(1, false);
    step(
        &mut h,
        validate_all(Phase::I),
        staff(resp_asst()),
        evening(),
    );
    CaseTest::given(h)
        .when(close(Phase::I, rid(1)))
        .by(resp_asst())
        .at(evening())
        .then_matches(|e| matches!(e, [CaseEvent::PhaseDiaryClosed { .. }]));
}

#[test]
fn an_expired_request_is_not_resent_after_the_diary_passed_to_ats() {
    let mut h = phase3_requested();
    step(
        &mut h,
        expire(rid(1)),
        Actor::System,
        rome(2024, 3, 6, 0, 0),
    );
    step(
        &mut h,
        close(Phase::III, rid(9)),
        staff(resp_provider()),
        rome(2024, 3, 6, 8, 0),
    );
    CaseTest::given(h)
        .when(resend(rid(1)))
        .by(resp_provider())
        .at(rome(2024, 3, 6, 9, 0))
        .then_err(DomainError::DiaryClosed(Phase::III));
}
