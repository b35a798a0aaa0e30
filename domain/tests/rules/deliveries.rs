//! Art. 6 "entro un giorno dalla ricezione della notifica": the answer window runs from
//! FirmaLOM's receipt of the notification; a notification that cannot be delivered alerts the
//! responsabile, may be re-sent at once or cancelled with a reason (then paper), and never
//! blocks the closure.
use crate::common::*;

/// FirmaLOM received the notification of rid(1) (sent the evening of 4 March) at 08:00 of 5
/// March, when the dispatcher's retries got through.
fn received_next_morning() -> Vec<CaseEvent> {
    let mut h = phase3_sent_not_delivered();
    delivered(&mut h, rid(1), rome(2024, 3, 5, 8, 0));
    h
}

/// [`phase3_sent_not_delivered`] after the dispatcher gave up on its notification.
fn undelivered() -> Vec<CaseEvent> {
    let mut h = phase3_sent_not_delivered();
    let cmd = undeliverable(&h, rid(1));
    step(&mut h, cmd, Actor::System, rome(2024, 3, 4, 19, 0));
    h
}

fn system_at(history: Vec<CaseEvent>, cmd: CaseCommand, at: DateTime<Utc>) -> CaseTest {
    CaseTest::given(history).when(cmd).by_system().at(at)
}

fn responsabile_at(history: Vec<CaseEvent>, cmd: CaseCommand, at: DateTime<Utc>) -> CaseTest {
    CaseTest::given(history)
        .when(cmd)
        .by(resp_provider())
        .at(at)
}

fn resend() -> CaseCommand {
    CaseCommand::ResendConfirmation(ResendConfirmation { request_id: rid(1) })
}

fn cancel(reason: Option<&str>) -> CaseCommand {
    CaseCommand::CancelConfirmationRequest(CancelConfirmationRequest {
        request_id: rid(1),
        reason: reason.map(str::to_owned),
    })
}

#[test]
fn the_answer_deadline_runs_one_day_from_firmaloms_receipt_not_from_the_sending() {
    let h = phase3_sent_not_delivered();
    let cmd = deliver(&h, rid(1), rome(2024, 3, 5, 8, 0));
    system_at(h, cmd, rome(2024, 3, 5, 8, 0)).then_matches(|e| {
        matches!(e, [CaseEvent::ConfirmationNotificationDelivered { deadline, received_at, .. }]
            if *deadline == rome(2024, 3, 6, 8, 0) && *received_at == rome(2024, 3, 5, 8, 0))
    });
    // A day after the sending, but not after the receipt: not expired.
    system_at(
        received_next_morning(),
        expire(rid(1)),
        rome(2024, 3, 5, 19, 0),
    )
    .then_err(DomainError::RequestNotYetExpired {
        deadline: rome(2024, 3, 6, 8, 0),
    });
    // An answer at 07:00 on 6 March is in time.
    parent_answers(
        received_next_morning(),
        confirm(rid(1)),
        rome(2024, 3, 6, 7, 0),
    )
    .then_matches(|e| matches!(e, [CaseEvent::EntriesConfirmed { .. }]));
}

#[test]
fn a_request_whose_notification_never_arrived_does_not_expire() {
    let h = phase3_sent_not_delivered();
    let state = fold(h.iter());
    assert_eq!(
        state.file.as_ref().unwrap().requests[&rid(1)].deadline,
        None
    );
    system_at(h, expire(rid(1)), rome(2024, 3, 9, 9, 0))
        .then_err(DomainError::NotificationNotDelivered(rid(1)));
}

#[test]
fn only_the_system_records_what_firmalom_did_with_a_notification() {
    let h = phase3_sent_not_delivered();
    let cmd = deliver(&h, rid(1), evening());
    responsabile_at(h, cmd, evening()).then_err(DomainError::SystemOnly);
}

#[test]
fn a_report_on_an_earlier_sending_is_not_recorded() {
    let h = phase3_sent_not_delivered();
    let cmd = CaseCommand::RecordNotificationDelivery(RecordNotificationDelivery {
        request_id: rid(1),
        sent_at: rome(2024, 3, 4, 12, 0),
        received_at: evening(),
    });
    system_at(h, cmd, evening()).then_err(DomainError::NotificationSuperseded(rid(1)));
    let h = received_next_morning();
    let again = deliver(&h, rid(1), rome(2024, 3, 5, 9, 0));
    system_at(h, again, rome(2024, 3, 5, 9, 0))
        .then_err(DomainError::DeliveryAlreadyRecorded(rid(1)));
}

#[test]
fn an_undelivered_notification_alerts_the_responsabile() {
    let codes = |h: &[CaseEvent]| -> Vec<AlertCode> {
        alerts(&fold(h.iter()), &up(), rome(2024, 3, 4, 20, 0))
            .into_iter()
            .map(|a| a.code)
            .collect()
    };
    assert!(!codes(&phase3_sent_not_delivered()).contains(&AlertCode::NotificationUndelivered));
    assert!(codes(&undelivered()).contains(&AlertCode::NotificationUndelivered));
}

#[test]
fn an_undelivered_request_is_resent_at_once() {
    responsabile_at(undelivered(), resend(), rome(2024, 3, 4, 20, 0))
        .then_matches(|e| matches!(e, [CaseEvent::ConfirmationResent { deadline: None, .. }]));
    // One on its way is re-sent only a day after its sending.
    responsabile_at(
        phase3_sent_not_delivered(),
        resend(),
        rome(2024, 3, 4, 20, 0),
    )
    .then_err_code("resend-too-early");
}

#[test]
fn a_delivered_request_is_resent_a_day_after_its_receipt() {
    responsabile_at(received_next_morning(), resend(), rome(2024, 3, 5, 19, 0)).then_err(
        DomainError::ResendTooEarly {
            allowed_from: rome(2024, 3, 6, 8, 0),
            days: 1,
        },
    );
}

#[test]
fn the_responsabile_cancels_an_undelivered_request_with_a_reason_and_then_prints_it() {
    let at = rome(2024, 3, 4, 20, 0);
    responsabile_at(undelivered(), cancel(None), at).then_err(DomainError::ReasonRequired);
    let mut h = undelivered();
    step(
        &mut h,
        cancel(Some("il telefono della famiglia non riceve notifiche")),
        staff(resp_provider()),
        at,
    );
    assert!(matches!(
        h.last(),
        Some(CaseEvent::ConfirmationRequestCancelled { reason, .. }) if reason.starts_with("il telefono")
    ));
    let file = fold(h.iter()).file.unwrap();
    assert_eq!(file.requests[&rid(1)].status, RequestStatus::Ended);
    assert_eq!(file.entries[&eid(1)].pending_request, None);
    // Then paper, although the family is enrolled in FirmaLOM.
    let paper = CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
        paper_id: rid(2),
        phase: Phase::III,
        entry_ids: Some(vec![eid(1), eid(2)]),
    });
    responsabile_at(h, paper, at)
        .then_matches(|e| matches!(e, [CaseEvent::PaperDiaryGenerated { .. }]));
}

#[test]
fn a_request_that_reached_firmalom_is_answered_or_expires_not_cancelled() {
    responsabile_at(
        received_next_morning(),
        cancel(Some("ripensamento")),
        rome(2024, 3, 5, 9, 0),
    )
    .then_err(DomainError::NotificationNotUndelivered(rid(1)));
    // Paper stays for recipients without the app.
    let paper = CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
        paper_id: rid(2),
        phase: Phase::III,
        entry_ids: Some(vec![eid(3)]),
    });
    responsabile_at(received_next_morning(), paper, rome(2024, 3, 5, 9, 0))
        .then_err(DomainError::PaperDiaryNotAllowed);
}

#[test]
fn an_undelivered_request_never_blocks_the_closure() {
    responsabile_at(
        undelivered(),
        close(Phase::III, rid(9)),
        rome(2024, 3, 4, 20, 0),
    )
    .then_matches(|e| {
        matches!(e, [
                CaseEvent::ConfirmationRequestCancelled { request_id, .. },
                CaseEvent::PhaseDiaryClosed { .. },
                CaseEvent::DiaryHandedToAts { .. },
            ] if *request_id == rid(1))
    });
    // A request on its way or delivered waits for its answer.
    responsabile_at(
        received_next_morning(),
        close(Phase::III, rid(9)),
        rome(2024, 3, 5, 9, 0),
    )
    .then_err(DomainError::PendingRequestAtClosure(rid(1)));
}
