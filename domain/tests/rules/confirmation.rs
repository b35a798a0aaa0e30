//! Art. 6 phases III–IV: per-entry requests, answers, deadlines, expiry and re-sends.
use crate::common::*;

/// Given `history`, when the provider responsabile re-sends request rid(1) at `at`.
fn resending(history: Vec<CaseEvent>, at: DateTime<Utc>) -> CaseTest {
    CaseTest::given(history)
        .when(CaseCommand::ResendConfirmation(ResendConfirmation {
            request_id: rid(1),
        }))
        .by(resp_provider())
        .at(at)
}

/// Given `history`, when the provider responsabile closes the phase III diary at `at`.
fn closing_phase_iii(history: Vec<CaseEvent>, at: DateTime<Utc>) -> CaseTest {
    CaseTest::given(history)
        .when(close(Phase::III, rid(9)))
        .by(resp_provider())
        .at(at)
}

/// Given [`phase3_requested`], when the scheduler expires rid(1) at `at`.
fn scheduler_expires_at(at: DateTime<Utc>) -> CaseTest {
    CaseTest::given(phase3_requested())
        .when(expire(rid(1)))
        .by_system()
        .at(at)
}

/// One minute past the [`deadline`] of rid(1).
fn just_late() -> DateTime<Utc> {
    rome(2024, 3, 5, 18, 1)
}

/// The morning of 6 March, after the scheduler expired rid(1) at midnight.
fn morning_of_6_march() -> DateTime<Utc> {
    rome(2024, 3, 6, 9, 0)
}

#[test]
fn one_request_may_cover_many_entries() {
    requesting(phase3_with_entries(3, true), &[eid(1), eid(2), eid(3)], evening())
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
    let refusals = [
        (Phase::III, vec![], DomainError::EmptyConfirmationRequest),
        (
            Phase::IV,
            vec![eid(1)],
            DomainError::DiaryNotOpened(Phase::IV),
        ),
    ];
    for (phase, entries, expected) in refusals {
        CaseTest::given(phase3_with_entries(1, true))
            .when(request(rid(1), phase, &entries))
            .by(resp_provider())
            .at(evening())
            .then_err(expected);
    }
}

#[test]
fn the_recipient_confirms_the_listed_entries() {
    let at = next_morning();
    let state = parent_answers(phase3_requested(), confirm(rid(1)), at).then(vec![
        CaseEvent::EntriesConfirmed {
            request_id: rid(1),
            phase: Phase::III,
            entry_ids: vec![eid(1), eid(2)],
            channel: ConfirmationChannel::Firmalom,
            confirmed_cost_cents: Some(Cents(6000)),
            by: parent(),
            at,
        },
    ]);
    let file = state.file.unwrap();
    assert!(file.entries[&eid(1)].confirmed && !file.entries[&eid(3)].confirmed);
    assert_eq!(file.diaries[&Phase::III].status, DiaryStatus::Open);
}

#[test]
fn only_the_recipient_or_family_on_file_answers() {
    CaseTest::given(phase3_requested())
        .when(confirm(rid(1)))
        .by_role(outsider(), ActorRole::Recipient)
        .at(next_morning())
        .then_err(DomainError::NotAConfirmer);
}

#[test]
fn a_rejection_is_recorded_even_without_a_reason() {
    // Given request 1 pending, when the family rejects it saying nothing (or blanks), then the
    // rejection is recorded with no reason (Art. 6 asks for none)
    for answer in [reject(rid(1), "  "), reject_silently(rid(1))] {
        parent_answers(phase3_requested(), answer, next_morning()).then(vec![
            CaseEvent::ConfirmationRejected {
                request_id: rid(1),
                phase: Phase::III,
                entry_ids: vec![eid(1), eid(2)],
                reason: None,
                by: parent(),
                at: next_morning(),
            },
        ]);
    }
}

fn reject_silently(id: Uuid) -> CaseCommand {
    CaseCommand::AnswerConfirmation(AnswerConfirmation {
        request_id: id,
        answer: Answer::Rejected { reason: None },
    })
}

/// The answer on request 1 entry by entry: (entry, confirmed, reason).
fn per_entry(outcomes: &[(Uuid, bool, Option<&str>)]) -> CaseCommand {
    CaseCommand::AnswerConfirmation(AnswerConfirmation {
        request_id: rid(1),
        answer: Answer::PerEntry {
            entries: outcomes
                .iter()
                .map(|(entry_id, confirmed, reason)| EntryAnswer {
                    entry_id: *entry_id,
                    confirmed: *confirmed,
                    reason: reason.map(str::to_owned),
                })
                .collect(),
        },
    })
}

#[test]
fn the_recipient_confirms_some_entries_of_a_request_and_rejects_others() {
    // Given request 1 with entries 1 and 2, when the family confirms 1 and rejects 2, then
    // entry 1 is confirmed and entry 2 is rejected, editable again
    let answer = per_entry(&[(eid(1), true, None), (eid(2), false, Some("non c'ero"))]);
    let state = parent_answers(phase3_requested(), answer, next_morning()).then(vec![
        CaseEvent::EntriesConfirmed {
            request_id: rid(1),
            phase: Phase::III,
            entry_ids: vec![eid(1)],
            channel: ConfirmationChannel::Firmalom,
            confirmed_cost_cents: Some(Cents(3000)),
            by: parent(),
            at: next_morning(),
        },
        CaseEvent::ConfirmationRejected {
            request_id: rid(1),
            phase: Phase::III,
            entry_ids: vec![eid(2)],
            reason: Some("non c'ero".into()),
            by: parent(),
            at: next_morning(),
        },
    ]);
    let file = state.file.unwrap();
    assert!(file.entries[&eid(1)].confirmed);
    assert!(!file.entries[&eid(2)].confirmed && file.entries[&eid(2)].pending_request.is_none());
    // and the author may correct entry 2
    let mut h = phase3_requested();
    step(
        &mut h,
        per_entry(&[(eid(1), true, None), (eid(2), false, None)]),
        signer(),
        next_morning(),
    );
    CaseTest::given(h)
        .when(amend(
            eid(2),
            "educatore_professionale",
            DISPERSIONE,
            slot(d(3, 4), "09:00", "09:30"),
        ))
        .by(educatore())
        .at(next_morning())
        .then_matches(|e| matches!(e, [CaseEvent::EntryAmended { .. }]));
}

#[test]
fn a_per_entry_answer_names_every_entry_of_the_request_once() {
    for outcomes in [
        vec![(eid(1), true, None)],
        vec![(eid(1), true, None), (eid(1), false, None)],
        vec![
            (eid(1), true, None),
            (eid(2), true, None),
            (eid(3), true, None),
        ],
        vec![(eid(1), true, None), (eid(3), true, None)],
    ] {
        parent_answers(phase3_requested(), per_entry(&outcomes), next_morning())
            .then_err(DomainError::AnswerDoesNotMatchRequest);
    }
}

#[test]
fn a_whole_diary_is_not_answered_entry_by_entry() {
    let answer = per_entry(&[(eid(1), true, None), (eid(2), false, None)]);
    parent_answers(phase1_closed(true), answer, next_morning())
        .then_err(DomainError::PerEntryAnswerNotApplicable(Phase::I));
}

#[test]
fn an_answer_within_one_day_is_accepted() {
    parent_answers(phase3_requested(), confirm(rid(1)), deadline())
        .then_matches(|e| matches!(e, [CaseEvent::EntriesConfirmed { .. }]));
}

/// `ConfirmationRequestExpired` for rid(1) of [`phase3_requested`], recorded at `at`.
fn rid1_expired(
    at: DateTime<Utc>,
    by: Option<FiscalCode>,
    refused_answer: Option<RefusedAnswer>,
) -> CaseEvent {
    CaseEvent::ConfirmationRequestExpired {
        request_id: rid(1),
        phase: Phase::III,
        entry_ids: vec![eid(1), eid(2)],
        deadline: deadline(),
        refused_answer,
        by,
        at,
    }
}

#[test]
fn a_late_answer_is_refused_and_the_request_is_expired() {
    let late = just_late();
    let refused = RefusedAnswer {
        by: parent(),
        at: late,
        would_confirm: true,
    };
    let late_answer = CaseTest::given(phase3_requested())
        .when(confirm(rid(1)))
        .by_role(parent(), ActorRole::Recipient)
        .at(late);
    let expired = late_answer.run().1.unwrap();
    let state = late_answer.then(vec![rid1_expired(late, Some(parent()), Some(refused))]);
    let file = state.file.unwrap();
    assert!(!file.entries[&eid(1)].confirmed);
    assert_eq!(file.requests[&rid(1)].status, RequestStatus::Expired);
    assert!(expired[0].refused_answer().is_some());
}

#[test]
fn the_scheduler_records_expiry_as_an_event() {
    scheduler_expires_at(just_late()).then(vec![rid1_expired(just_late(), None, None)]);
}

#[test]
fn the_scheduler_finds_overdue_requests() {
    let state = fold(phase3_requested().iter());
    assert!(state.overdue_requests(deadline()).is_empty());
    assert_eq!(state.overdue_requests(just_late()), vec![rid(1)]);
}

#[test]
fn a_request_does_not_expire_before_its_deadline() {
    scheduler_expires_at(deadline()).then_err(DomainError::RequestNotYetExpired {
        deadline: deadline(),
    });
}

#[test]
fn an_answer_after_the_recorded_expiry_is_refused() {
    parent_answers(phase3_expired(), confirm(rid(1)), rome(2024, 3, 6, 1, 0))
        .then_err(DomainError::RequestNotPending(rid(1)));
}

#[test]
fn a_request_is_resent_only_after_one_day_without_answer() {
    resending(phase3_requested(), rome(2024, 3, 5, 12, 0)).then_err(DomainError::ResendTooEarly {
        allowed_from: deadline(),
        days: 1,
    });
}

#[test]
fn resending_an_overdue_request_records_its_expiry_then_the_resend() {
    let state = resending(phase3_requested(), morning_of_6_march())
        .then_matches(|e| {
            matches!(e, [CaseEvent::ConfirmationRequestExpired { by: Some(_), .. }, CaseEvent::ConfirmationResent { deadline, checklist, .. }]
                if deadline.is_none() && checklist.passed)
        })
        .1;
    let file = state.file.unwrap();
    assert_eq!(file.requests[&rid(1)].status, RequestStatus::Pending);
    assert_eq!(file.requests[&rid(1)].times_sent, 2);
    assert_eq!(file.entries[&eid(1)].pending_request, Some(rid(1)));
}

#[test]
fn an_expired_request_may_be_resent() {
    resending(phase3_expired(), morning_of_6_march())
        .then_matches(|e| matches!(e, [CaseEvent::ConfirmationResent { .. }]));
}

#[test]
fn an_answered_request_is_not_resent() {
    resending(phase3_answered(confirm(rid(1))), rome(2024, 3, 7, 9, 0))
        .then_err(DomainError::RequestAlreadyAnswered(rid(1)));
}

#[test]
fn a_resend_carries_the_same_unchanged_entries() {
    // The expired request's entries cannot be amended (Art. 5), but one of them may go into
    // another request; the first then cannot be sent again as it was.
    let mut h = phase3_expired();
    let before_the_resend = rome(2024, 3, 6, 8, 0);
    let again = request(rid(2), Phase::III, &[eid(1)]);
    step(&mut h, again, staff(resp_provider()), before_the_resend);
    resending(h, morning_of_6_march()).then_err(DomainError::EntriesChangedSinceRequest);
}

#[test]
fn closing_a_phase_iii_diary_with_a_pending_request_is_refused() {
    closing_phase_iii(phase3_requested(), evening())
        .then_err(DomainError::PendingRequestAtClosure(rid(1)));
}

#[test]
fn closing_a_phase_iii_diary_hands_it_to_ats_listing_unconfirmed_entries() {
    let at = next_morning();
    closing_phase_iii(phase3_answered(confirm(rid(1))), at).then(vec![
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
            confirmed_cost_cents: Some(Cents(6000)),
            by: Some(resp_provider()),
            at,
        },
    ]);
}

#[test]
fn recipient_without_firmalom_gets_no_digital_request() {
    requesting(phase3_with_entries(1, false), &[eid(1)], evening())
        .then_err(DomainError::DigitalConfirmationUnavailable);
}

#[test]
fn closing_a_phase_i_diary_without_firmalom_sends_no_digital_request() {
    closing_phase_i(phase1_validated(1, false), resp_asst())
        .then_matches(|e| matches!(e, [CaseEvent::PhaseDiaryClosed { .. }]));
}

#[test]
fn an_expired_request_is_not_resent_after_the_diary_passed_to_ats() {
    let mut h = phase3_expired();
    let before_the_resend = rome(2024, 3, 6, 8, 0);
    let closing = close(Phase::III, rid(9));
    step(&mut h, closing, staff(resp_provider()), before_the_resend);
    resending(h, morning_of_6_march()).then_err(DomainError::DiaryClosed(Phase::III));
}
