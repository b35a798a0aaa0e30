//! Confirmation by the recipient (Art. 6) with the Art. 8 checklist: digital requests through
//! FirmaLOM, answers, expiry, re-sends and the paper diary for recipients without the app.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::commands::{
    Answer, AnswerConfirmation, CancelConfirmationRequest, CancelPaperDiary,
    ExpireConfirmationRequest, GeneratePaperDiary, RecordNotificationDelivery,
    RecordNotificationUndelivered, RequestConfirmation, ResendConfirmation,
    UploadPaperConfirmation,
};
use super::events::{CaseEvent, RefusedAnswer, RequestScope};
use super::state::{CaseFile, ConfirmationChannel, DiaryStatus, Request, RequestStatus, ScanCheck};
use super::{Context, DomainError, given_reason, require_open_diary, require_phase_responsabile};
use crate::actor::Actor;
use crate::catalogue::ConfirmationMode;
use crate::checklist::{Checklist, compute_checklist};
use crate::values::{FiscalCode, Phase, add_civil_days_to_instant};

/// Art. 8: compute the checklist; blocking failures refuse the request with the full list.
pub(crate) fn passing_checklist(
    file: &CaseFile,
    ctx: &Context<'_>,
    phase: Phase,
    entries: &[Uuid],
    request_id: Uuid,
    by: &FiscalCode,
) -> Result<Checklist, Box<CaseEvent>> {
    let checklist = compute_checklist(file, ctx.measure, phase, entries, ctx.now);
    if checklist.passed {
        Ok(checklist)
    } else {
        Err(Box::new(CaseEvent::ChecklistRefused {
            phase,
            request_id,
            checklist,
            by: by.clone(),
            at: ctx.now,
        }))
    }
}

/// Entries listed for a per-entry request: live, of the phase, not confirmed, not in another
/// pending request (an entry is in at most one pending request).
fn sendable_entries(file: &CaseFile, phase: Phase, ids: &[Uuid]) -> Result<Vec<Uuid>, DomainError> {
    if ids.is_empty() {
        return Err(DomainError::EmptyConfirmationRequest);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for id in ids {
        let e = file
            .entries
            .get(id)
            .filter(|e| !e.withdrawn)
            .ok_or(DomainError::EntryNotFound(*id))?;
        if e.phase != phase {
            return Err(DomainError::EntryNotInPhase { entry: *id, phase });
        }
        if e.confirmed {
            return Err(DomainError::EntryConfirmed(*id));
        }
        if e.pending_request.is_some() {
            return Err(DomainError::EntryInPendingRequest(*id));
        }
        if seen.insert(*id) {
            out.push(*id);
        }
    }
    Ok(out)
}

/// Art. 6 "entro un giorno dalla ricezione della notifica": the answer deadline of a
/// notification FirmaLOM received at `received_at` — the measure's days, each a civil day in
/// Europe/Rome (the one definition of "un giorno", [`add_civil_days_to_instant`], used for
/// re-sends too).
pub fn answer_deadline(
    measure: &crate::catalogue::Measure,
    received_at: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    add_civil_days_to_instant(received_at, measure.deadlines.answer_within_days)
}

/// Art. 6: a notification FirmaLOM has not acknowledged within the answer window it would
/// have had (one day from its sending) is undeliverable: the dispatcher gives up and records it.
pub fn undeliverable_after(
    measure: &crate::catalogue::Measure,
    sent_at: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    answer_deadline(measure, sent_at)
}

/// Art. 6: the whole-diary request sent when a phase I–II diary is closed.
pub(crate) fn whole_diary_request(
    file: &CaseFile,
    ctx: &Context<'_>,
    phase: Phase,
    request_id: Uuid,
    entries: Vec<Uuid>,
    checklist: Checklist,
    by: FiscalCode,
) -> Result<CaseEvent, DomainError> {
    let scope = (RequestScope::WholeDiary, phase);
    new_request(file, ctx, request_id, scope, entries, checklist, by)
}

/// A confirmation request (Art. 6) of `entries` that passed their checklist (Art. 8), answered
/// within the measure's deadline by the confirmers on file; its id must be new.
fn new_request(
    file: &CaseFile,
    ctx: &Context<'_>,
    request_id: Uuid,
    (scope, phase): (RequestScope, Phase),
    entries: Vec<Uuid>,
    checklist: Checklist,
    by: FiscalCode,
) -> Result<CaseEvent, DomainError> {
    if file.requests.contains_key(&request_id) {
        return Err(DomainError::RequestIdAlreadyUsed(request_id));
    }
    Ok(CaseEvent::ConfirmationRequested {
        request_id,
        phase,
        scope,
        entry_ids: entries,
        checklist,
        deadline: None,
        confirmers: file.recipient.confirmers.clone(),
        by,
        at: ctx.now,
    })
}

/// Art. 6 (phases III–IV): the responsabile asks the recipient to confirm one or more entries,
/// even at the end of the phase. Refused when the recipient has no FirmaLOM (paper instead).
pub fn request(
    file: &CaseFile,
    c: &RequestConfirmation,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let rules = ctx.phase_rules(c.phase)?;
    if rules.confirmation != ConfirmationMode::PerEntry {
        return whole_diary_after_closure(file, c, ctx);
    }
    let by = require_phase_responsabile(file, ctx, c.phase)?;
    require_open_diary(file, c.phase)?;
    if file.requests.contains_key(&c.request_id) {
        return Err(DomainError::RequestIdAlreadyUsed(c.request_id));
    }
    if !file.recipient.firmalom_enrolled {
        return Err(DomainError::DigitalConfirmationUnavailable);
    }
    let entries = sendable_entries(file, c.phase, &c.entry_ids)?;
    let checklist = match passing_checklist(file, ctx, c.phase, &entries, c.request_id, &by) {
        Ok(checklist) => checklist,
        Err(refused) => return Ok(vec![*refused]),
    };
    let scope = (RequestScope::Entries, c.phase);
    Ok(vec![new_request(
        file,
        ctx,
        c.request_id,
        scope,
        entries,
        checklist,
        by,
    )?])
}

/// Art. 6, phases I–II: a closed diary awaiting its confirmation with nothing pending (its
/// paper diary cancelled, the family now on FirmaLOM) is sent as a whole-diary request: the
/// switch from paper to digital. An open diary is sent by closing it.
fn whole_diary_after_closure(
    file: &CaseFile,
    c: &RequestConfirmation,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let closed = file
        .diaries
        .get(&c.phase)
        .is_some_and(|d| d.status == DiaryStatus::Closed);
    if !closed {
        return Err(DomainError::PerEntryConfirmationNotApplicable(c.phase));
    }
    let by = require_phase_responsabile(file, ctx, c.phase)?;
    if let Some(p) = file.pending_requests(c.phase).next() {
        return Err(DomainError::PendingRequestAtClosure(p.id));
    }
    if !file.recipient.firmalom_enrolled {
        return Err(DomainError::DigitalConfirmationUnavailable);
    }
    let entries: Vec<Uuid> = file.live_entries(c.phase).map(|e| e.id).collect();
    let checklist = match passing_checklist(file, ctx, c.phase, &entries, c.request_id, &by) {
        Ok(checklist) => checklist,
        Err(refused) => return Ok(vec![*refused]),
    };
    Ok(vec![whole_diary_request(
        file,
        ctx,
        c.phase,
        c.request_id,
        entries,
        checklist,
        by,
    )?])
}

fn digital_request(file: &CaseFile, id: Uuid) -> Result<&Request, DomainError> {
    let r = file
        .requests
        .get(&id)
        .ok_or(DomainError::RequestNotFound(id))?;
    if r.channel != ConfirmationChannel::Firmalom {
        return Err(DomainError::WrongConfirmationChannel(id));
    }
    Ok(r)
}

/// What `entry_ids` are worth at the rates recorded with them (a confirmation's amount).
fn worth(file: &CaseFile, ctx: &Context<'_>, entry_ids: &[Uuid]) -> crate::values::Cents {
    entry_ids
        .iter()
        .filter_map(|id| file.entries.get(id))
        .fold(crate::values::Cents::default(), |sum, e| {
            sum.plus(e.cost(ctx.measure))
        })
}

/// The hand-over is the system's, acting on the recipient's confirmation (the event before it):
/// nobody handed the diary over by hand.
fn hand_over_if_whole_diary(
    file: &CaseFile,
    ctx: &Context<'_>,
    request: &Request,
) -> Result<Option<CaseEvent>, DomainError> {
    let rules = ctx.phase_rules(request.phase)?;
    let closed = file
        .diaries
        .get(&request.phase)
        .is_some_and(|d| d.status == DiaryStatus::Closed);
    if rules.confirmation != ConfirmationMode::WholeDiaryAtClosure || !closed {
        return Ok(None);
    }
    let confirmed: Vec<_> = request
        .entries
        .keys()
        .filter_map(|id| file.entries.get(id))
        .collect();
    let minutes: u64 = confirmed.iter().map(|e| u64::from(e.minutes())).sum();
    let cost = confirmed
        .iter()
        .fold(crate::values::Cents::default(), |sum, e| {
            sum.plus(e.cost(ctx.measure))
        });
    // Art. 7: once closed and confirmed, the diary passes to ATS for cost reporting.
    Ok(Some(CaseEvent::DiaryHandedToAts {
        phase: request.phase,
        ats: file.ats.clone(),
        confirmed_entry_ids: request.entries.keys().copied().collect(),
        confirmed_minutes: minutes,
        confirmed_cost_cents: Some(cost),
        by: None,
        at: ctx.now,
    }))
}

/// Art. 6: the recipient (or the family member on file) answers within the deadline.
///
/// A late answer is refused: instead of confirming or rejecting, the decision records
/// `ConfirmationRequestExpired` with the refused answer attached, whether or not the scheduler
/// has already run. (If the expiry was already recorded, the answer gets `RequestNotPending`.)
pub fn answer(
    file: &CaseFile,
    c: &AnswerConfirmation,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let signer = ctx.person()?.clone();
    let r = digital_request(file, c.request_id)?;
    if !file.recipient.confirmers.contains(&signer) {
        return Err(DomainError::NotAConfirmer);
    }
    if r.status != RequestStatus::Pending {
        return Err(DomainError::RequestNotPending(r.id));
    }
    let entry_ids: Vec<Uuid> = r.entries.keys().copied().collect();
    if let Some(deadline) = r.deadline
        && ctx.now > deadline
    {
        return Ok(vec![CaseEvent::ConfirmationRequestExpired {
            request_id: r.id,
            phase: r.phase,
            entry_ids,
            deadline,
            refused_answer: Some(RefusedAnswer {
                by: signer.clone(),
                at: ctx.now,
                would_confirm: matches!(c.answer, Answer::Confirmed),
            }),
            by: Some(signer),
            at: ctx.now,
        }]);
    }
    let rejected = |entry_ids: Vec<Uuid>, reason: Option<&str>| CaseEvent::ConfirmationRejected {
        request_id: r.id,
        phase: r.phase,
        entry_ids,
        reason: given_reason(reason),
        by: signer.clone(),
        at: ctx.now,
    };
    match &c.answer {
        Answer::Confirmed => {
            let mut events = vec![CaseEvent::EntriesConfirmed {
                request_id: r.id,
                phase: r.phase,
                confirmed_cost_cents: Some(worth(file, ctx, &entry_ids)),
                entry_ids,
                channel: ConfirmationChannel::Firmalom,
                by: signer.clone(),
                at: ctx.now,
            }];
            events.extend(hand_over_if_whole_diary(file, ctx, r)?);
            Ok(events)
        }
        Answer::Rejected { reason } => Ok(vec![rejected(entry_ids, reason.as_deref())]),
        Answer::PerEntry { entries } => {
            if ctx.phase_rules(r.phase)?.confirmation != ConfirmationMode::PerEntry {
                return Err(DomainError::PerEntryAnswerNotApplicable(r.phase));
            }
            let listed: BTreeSet<Uuid> = entries.iter().map(|a| a.entry_id).collect();
            if listed.len() != entries.len() || listed != r.entries.keys().copied().collect() {
                return Err(DomainError::AnswerDoesNotMatchRequest);
            }
            let confirmed: Vec<Uuid> = entries
                .iter()
                .filter(|a| a.confirmed)
                .map(|a| a.entry_id)
                .collect();
            let mut events = Vec::new();
            if !confirmed.is_empty() {
                events.push(CaseEvent::EntriesConfirmed {
                    request_id: r.id,
                    phase: r.phase,
                    confirmed_cost_cents: Some(worth(file, ctx, &confirmed)),
                    entry_ids: confirmed,
                    channel: ConfirmationChannel::Firmalom,
                    by: signer.clone(),
                    at: ctx.now,
                });
            }
            // One rejection per reason given, in the order the entries were listed.
            let mut by_reason: Vec<(Option<String>, Vec<Uuid>)> = Vec::new();
            for a in entries.iter().filter(|a| !a.confirmed) {
                let reason = given_reason(a.reason.as_deref());
                match by_reason.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, ids)) => ids.push(a.entry_id),
                    None => by_reason.push((reason, vec![a.entry_id])),
                }
            }
            events.extend(
                by_reason
                    .into_iter()
                    .map(|(reason, ids)| rejected(ids, reason.as_deref())),
            );
            Ok(events)
        }
    }
}

/// Art. 6: after the deadline the request is expired; the scheduler records it as the system.
pub fn expire(
    file: &CaseFile,
    c: &ExpireConfirmationRequest,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let r = digital_request(file, c.request_id)?;
    if r.status != RequestStatus::Pending {
        return Err(DomainError::RequestNotPending(r.id));
    }
    let Some(deadline) = r.deadline else {
        return Err(DomainError::NotificationNotDelivered(r.id));
    };
    if ctx.now <= deadline {
        return Err(DomainError::RequestNotYetExpired { deadline });
    }
    Ok(vec![CaseEvent::ConfirmationRequestExpired {
        request_id: r.id,
        phase: r.phase,
        entry_ids: r.entries.keys().copied().collect(),
        deadline,
        refused_answer: None,
        by: ctx.actor.fiscal_code().cloned(),
        at: ctx.now,
    }])
}

/// Art. 6: without an answer the notification may be sent again, but only after one day. The
/// same, unchanged entries are re-sent and the checklist is recomputed; if the deadline passed
/// without the expiry being recorded yet, the expiry is recorded first.
pub fn resend(
    file: &CaseFile,
    c: &ResendConfirmation,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let r = digital_request(file, c.request_id)?;
    let by = require_phase_responsabile(file, ctx, r.phase)?;
    // Art. 5/7: once the diary has passed to ATS nothing in it can be confirmed any more.
    if file
        .diaries
        .get(&r.phase)
        .is_some_and(|d| d.status == DiaryStatus::HandedToAts)
    {
        return Err(DomainError::DiaryClosed(r.phase));
    }
    match r.status {
        RequestStatus::Pending | RequestStatus::Expired => {}
        RequestStatus::Confirmed | RequestStatus::Rejected => {
            return Err(DomainError::RequestAlreadyAnswered(r.id));
        }
        RequestStatus::Ended => return Err(DomainError::RequestNotPending(r.id)),
    }
    // "può essere inviata nuovamente dopo un giorno": a day from the receipt (from the
    // sending while the notification is on its way); at once when it could not be delivered.
    let days = ctx.measure.deadlines.resend_after();
    let allowed_from = add_civil_days_to_instant(r.delivered_at.unwrap_or(r.sent_at), days);
    let undelivered = r.status == RequestStatus::Pending && r.undelivered.is_some();
    if !undelivered && ctx.now <= allowed_from {
        return Err(DomainError::ResendTooEarly { allowed_from, days });
    }
    if !file.recipient.firmalom_enrolled {
        return Err(DomainError::DigitalConfirmationUnavailable);
    }
    let unchanged = r.entries.iter().all(|(id, revision)| {
        file.entries.get(id).is_some_and(|e| {
            !e.withdrawn
                && !e.confirmed
                && e.revision == *revision
                && e.pending_request.is_none_or(|p| p == r.id)
        })
    });
    if !unchanged {
        return Err(DomainError::EntriesChangedSinceRequest);
    }
    let ids: Vec<Uuid> = r.entries.keys().copied().collect();
    let checklist = match passing_checklist(file, ctx, r.phase, &ids, r.id, &by) {
        Ok(checklist) => checklist,
        Err(refused) => return Ok(vec![*refused]),
    };
    let mut events = Vec::new();
    if r.status == RequestStatus::Pending
        && let Some(deadline) = r.deadline
    {
        events.push(CaseEvent::ConfirmationRequestExpired {
            request_id: r.id,
            phase: r.phase,
            entry_ids: ids.clone(),
            deadline,
            refused_answer: None,
            by: Some(by.clone()),
            at: ctx.now,
        });
    }
    events.push(CaseEvent::ConfirmationResent {
        request_id: r.id,
        checklist,
        deadline: None,
        by,
        at: ctx.now,
    });
    Ok(events)
}

/// Art. 6: when the recipient has no FirmaLOM, the ente generates a paper diary to be signed.
/// Whole-diary phases print the closed diary; per-entry phases print the listed entries.
/// The Art. 8 checklist runs as for a digital request.
pub fn generate_paper(
    file: &CaseFile,
    c: &GeneratePaperDiary,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let rules = ctx.phase_rules(c.phase)?;
    let by = require_phase_responsabile(file, ctx, c.phase)?;
    // Paper is for a recipient without the app, or after a notification that could not reach
    // it was cancelled ("then paper").
    let undeliverable = file
        .requests
        .values()
        .any(|r| r.phase == c.phase && r.status == RequestStatus::Ended && r.undelivered.is_some());
    if file.recipient.firmalom_enrolled && !undeliverable {
        return Err(DomainError::PaperDiaryNotAllowed);
    }
    if file.requests.contains_key(&c.paper_id) {
        return Err(DomainError::RequestIdAlreadyUsed(c.paper_id));
    }
    let entries = match rules.confirmation {
        ConfirmationMode::WholeDiaryAtClosure => {
            let diary = file
                .diaries
                .get(&c.phase)
                .ok_or(DomainError::DiaryNotOpened(c.phase))?;
            match diary.status {
                DiaryStatus::Closed => {}
                DiaryStatus::Open => {
                    return Err(DomainError::PerEntryConfirmationNotApplicable(c.phase));
                }
                DiaryStatus::HandedToAts => return Err(DomainError::DiaryClosed(c.phase)),
            }
            if let Some(p) = file.pending_requests(c.phase).next() {
                return Err(DomainError::PendingRequestAtClosure(p.id));
            }
            file.live_entries(c.phase).map(|e| e.id).collect()
        }
        ConfirmationMode::PerEntry => {
            require_open_diary(file, c.phase)?;
            sendable_entries(file, c.phase, c.entry_ids.as_deref().unwrap_or(&[]))?
        }
    };
    let checklist = match passing_checklist(file, ctx, c.phase, &entries, c.paper_id, &by) {
        Ok(checklist) => checklist,
        Err(refused) => return Ok(vec![*refused]),
    };
    Ok(vec![CaseEvent::PaperDiaryGenerated {
        paper_id: c.paper_id,
        phase: c.phase,
        entry_ids: entries,
        checklist,
        by,
        at: ctx.now,
    }])
}

/// Art. 6: the responsabile uploads the signed paper diary; the document's SHA-256 is
/// recorded and the printed entries are confirmed.
pub fn upload_paper(
    file: &CaseFile,
    c: &UploadPaperConfirmation,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let r = file
        .requests
        .get(&c.paper_id)
        .ok_or(DomainError::RequestNotFound(c.paper_id))?;
    if r.channel != ConfirmationChannel::Paper {
        return Err(DomainError::WrongConfirmationChannel(r.id));
    }
    let by = require_phase_responsabile(file, ctx, r.phase)?;
    let entry_ids: Vec<Uuid> = r.entries.keys().copied().collect();
    // Art. 6-7: a scan the ATS refused is replaced by a new scan of the same signed diary; the
    // entries stay confirmed, the new scan awaits its check.
    let replaces_refused = r.status == RequestStatus::Confirmed
        && r.scan
            .as_ref()
            .is_some_and(|s| s.check == ScanCheck::Refused);
    if r.status != RequestStatus::Pending && !replaces_refused {
        return Err(DomainError::RequestNotPending(r.id));
    }
    if !file.recipient.confirmers.contains(&c.signed_by) {
        return Err(DomainError::NotAConfirmer);
    }
    if replaces_refused {
        return Ok(vec![CaseEvent::PaperConfirmationUploaded {
            paper_id: r.id,
            phase: r.phase,
            entry_ids,
            document_sha256: c.document_sha256.clone(),
            signed_by: c.signed_by.clone(),
            by,
            at: ctx.now,
        }]);
    }
    let mut events = vec![
        CaseEvent::PaperConfirmationUploaded {
            paper_id: r.id,
            phase: r.phase,
            entry_ids: entry_ids.clone(),
            document_sha256: c.document_sha256.clone(),
            signed_by: c.signed_by.clone(),
            by: by.clone(),
            at: ctx.now,
        },
        CaseEvent::EntriesConfirmed {
            request_id: r.id,
            phase: r.phase,
            confirmed_cost_cents: Some(worth(file, ctx, &entry_ids)),
            entry_ids,
            channel: ConfirmationChannel::Paper,
            by: c.signed_by.clone(),
            at: ctx.now,
        },
    ];
    events.extend(hand_over_if_whole_diary(file, ctx, r)?);
    Ok(events)
}

/// Art. 6: a pending paper diary that will not be signed ends: cancelled by the ente (with a
/// reason: lost, wrong, replaced) or refused by the family (as a rejection, a reason only when
/// they gave one). Either way it no longer blocks the diary; a refusal reopens it like a
/// rejection.
pub fn cancel_paper(
    file: &CaseFile,
    c: &CancelPaperDiary,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let r = file
        .requests
        .get(&c.paper_id)
        .ok_or(DomainError::RequestNotFound(c.paper_id))?;
    let by = require_phase_responsabile(file, ctx, r.phase)?;
    if r.channel != ConfirmationChannel::Paper {
        return Err(DomainError::WrongConfirmationChannel(r.id));
    }
    if r.status != RequestStatus::Pending {
        return Err(DomainError::RequestNotPending(r.id));
    }
    let reason = given_reason(c.reason.as_deref());
    if !c.refused_by_family && reason.is_none() {
        return Err(DomainError::ReasonRequired);
    }
    Ok(vec![CaseEvent::PaperDiaryCancelled {
        paper_id: r.id,
        phase: r.phase,
        entry_ids: r.entries.keys().copied().collect(),
        refused_by_family: c.refused_by_family,
        reason,
        by,
        at: ctx.now,
    }])
}

fn require_system(ctx: &Context<'_>) -> Result<(), DomainError> {
    match ctx.actor {
        Actor::System => Ok(()),
        Actor::Person { .. } => Err(DomainError::SystemOnly),
    }
}

/// The pending digital request whose current sending a delivery report is about, not yet
/// reported.
fn reported_sending(
    file: &CaseFile,
    request_id: Uuid,
    sent_at: chrono::DateTime<chrono::Utc>,
) -> Result<&Request, DomainError> {
    let r = digital_request(file, request_id)?;
    if r.status != RequestStatus::Pending {
        return Err(DomainError::RequestNotPending(r.id));
    }
    if r.sent_at != sent_at {
        return Err(DomainError::NotificationSuperseded(r.id));
    }
    if r.delivered_at.is_some() || r.undelivered.is_some() {
        return Err(DomainError::DeliveryAlreadyRecorded(r.id));
    }
    Ok(r)
}

/// Art. 6: FirmaLOM received the notification of the request's current sending; the answer
/// deadline runs one day from that receipt, not from the decision to send.
pub fn record_delivery(
    file: &CaseFile,
    c: &RecordNotificationDelivery,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    require_system(ctx)?;
    let r = reported_sending(file, c.request_id, c.sent_at)?;
    if c.received_at < r.sent_at || c.received_at > ctx.now {
        return Err(DomainError::InvalidReceiptTime);
    }
    Ok(vec![CaseEvent::ConfirmationNotificationDelivered {
        request_id: r.id,
        phase: r.phase,
        sent_at: r.sent_at,
        received_at: c.received_at,
        deadline: answer_deadline(ctx.measure, c.received_at),
        at: ctx.now,
    }])
}

/// Art. 6: the notification of the current sending could not be delivered; the responsabile
/// is alerted and may re-send at once or cancel the request (then paper).
pub fn record_undelivered(
    file: &CaseFile,
    c: &RecordNotificationUndelivered,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    require_system(ctx)?;
    let r = reported_sending(file, c.request_id, c.sent_at)?;
    Ok(vec![CaseEvent::ConfirmationNotificationUndelivered {
        request_id: r.id,
        phase: r.phase,
        sent_at: r.sent_at,
        attempts: c.attempts,
        last_error: c.last_error.clone(),
        at: ctx.now,
    }])
}

/// The cancellation of a pending request whose notification could not be delivered.
pub(crate) fn cancellation(
    r: &Request,
    reason: String,
    by: FiscalCode,
    ctx: &Context<'_>,
) -> CaseEvent {
    CaseEvent::ConfirmationRequestCancelled {
        request_id: r.id,
        phase: r.phase,
        entry_ids: r.entries.keys().copied().collect(),
        reason,
        by,
        at: ctx.now,
    }
}

/// Art. 6: the responsabile cancels, with a reason, a request whose notification could not be
/// delivered; its entries are free and the paper diary is available. A notification that
/// reached FirmaLOM is answered or expires: it is not cancelled.
pub fn cancel_request(
    file: &CaseFile,
    c: &CancelConfirmationRequest,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let r = digital_request(file, c.request_id)?;
    let by = require_phase_responsabile(file, ctx, r.phase)?;
    if r.status != RequestStatus::Pending {
        return Err(DomainError::RequestNotPending(r.id));
    }
    if r.undelivered.is_none() {
        return Err(DomainError::NotificationNotUndelivered(r.id));
    }
    let reason = given_reason(c.reason.as_deref()).ok_or(DomainError::ReasonRequired)?;
    Ok(vec![cancellation(r, reason, by, ctx)])
}
