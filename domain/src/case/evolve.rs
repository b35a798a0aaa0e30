//! `evolve`: how each event changes the state. Never fails: events are facts already decided.

use std::collections::BTreeMap;

use super::events::CaseEvent;
use super::state::{
    CaseFile, CaseState, ConfirmationChannel, Diary, DiaryStatus, DocumentShare, Entry,
    PathwayDocument, Pdi, PdiRaise, Rejection, Request, RequestStatus, Scan, ScanCheck,
};
use crate::values::{Ente, Phase};

/// Applies one event to the state. Unknown references are ignored (the decider never emits
/// them), so folding is total.
pub fn evolve(mut state: CaseState, event: &CaseEvent) -> CaseState {
    state.version += 1;
    state.last_event_at = Some(event.at());
    if let CaseEvent::CaseOpened {
        case_id,
        measure_id,
        ats,
        asst,
        provider,
        responsabile_asst,
        responsabile_provider,
        case_manager,
        recipient,
        at,
        ..
    } = event
    {
        let mut responsabili = BTreeMap::new();
        responsabili.insert(Ente::Asst, responsabile_asst.clone());
        responsabili.insert(Ente::Provider, responsabile_provider.clone());
        state.file = Some(CaseFile {
            case_id: *case_id,
            measure_id: measure_id.clone(),
            ats: ats.clone(),
            asst: asst.clone(),
            provider: provider.clone(),
            responsabili,
            case_manager: case_manager.clone(),
            recipient: recipient.clone(),
            professionals: BTreeMap::new(),
            diaries: BTreeMap::new(),
            entries: BTreeMap::new(),
            requests: BTreeMap::new(),
            pdi: None,
            documents: BTreeMap::new(),
            interrupted_at: None,
            interruption: None,
            opened_at: *at,
            voucher: None,
            objectives: None,
            formal_checks: Vec::new(),
        });
        return state;
    }
    if let Some(file) = state.file.as_mut() {
        apply(file, event);
    }
    state
}

fn release(file: &mut CaseFile, request_id: uuid::Uuid) {
    for e in file.entries.values_mut() {
        if e.pending_request == Some(request_id) {
            e.pending_request = None;
        }
    }
}

/// A rejection of `request_id` (by the recipient, or the family's refusal of a paper diary):
/// its entries are released and editable again; for a closed whole diary, the diary reopens for
/// amendments, new validation and a new closure (Art. 6).
fn reject(file: &mut CaseFile, request_id: uuid::Uuid, phase: Phase, rejection: Rejection) {
    let whole = file
        .requests
        .get(&request_id)
        .is_some_and(|r| r.phase == phase)
        && file
            .diaries
            .get(&phase)
            .is_some_and(|d| d.status == DiaryStatus::Closed);
    for id in &rejection.entry_ids {
        if let Some(e) = file.entries.get_mut(id) {
            e.rejected = true;
        }
    }
    if let Some(r) = file.requests.get_mut(&request_id) {
        r.status = RequestStatus::Rejected;
        r.rejections.push(rejection);
    }
    release(file, request_id);
    if whole {
        if let Some(d) = file.diaries.get_mut(&phase) {
            d.status = DiaryStatus::Open;
        }
        for e in file.entries.values_mut().filter(|e| e.phase == phase) {
            e.validated = false;
        }
    }
}

fn apply(file: &mut CaseFile, event: &CaseEvent) {
    match event {
        CaseEvent::CaseOpened { .. } => {}
        CaseEvent::ResponsabileChanged {
            ente, responsabile, ..
        } => {
            file.responsabili.insert(*ente, responsabile.clone());
        }
        CaseEvent::RecipientEnrolmentChanged {
            firmalom_enrolled, ..
        } => file.recipient.firmalom_enrolled = *firmalom_enrolled,
        CaseEvent::ChecklistRefused { .. } => {}
        CaseEvent::LateEntryCosigned { entry_id, by, .. } => {
            if let Some(e) = file.entries.get_mut(entry_id) {
                e.cosigned_by = Some(by.clone());
            }
        }
        CaseEvent::ConfirmersChanged { confirmers, .. } => {
            file.recipient.confirmers = confirmers.clone();
        }
        CaseEvent::CaseManagerChanged { case_manager, .. } => {
            file.case_manager = case_manager.clone();
        }
        CaseEvent::ValidationWithdrawn { entry_ids, .. } => {
            for id in entry_ids {
                if let Some(e) = file.entries.get_mut(id) {
                    e.validated = false;
                }
            }
        }
        CaseEvent::PaperDiaryCancelled {
            paper_id,
            phase,
            entry_ids,
            refused_by_family,
            reason,
            by,
            at,
        } => {
            if *refused_by_family {
                let rejection = Rejection {
                    entry_ids: entry_ids.clone(),
                    reason: reason.clone(),
                    by: by.clone(),
                    at: *at,
                };
                reject(file, *paper_id, *phase, rejection);
            } else {
                if let Some(r) = file.requests.get_mut(paper_id) {
                    r.status = RequestStatus::Ended;
                }
                release(file, *paper_id);
            }
        }
        CaseEvent::PhaseDiaryOpened { phase, by, at } => {
            file.diaries.insert(
                *phase,
                Diary {
                    phase: *phase,
                    status: DiaryStatus::Open,
                    opened_by: by.clone(),
                    opened_at: *at,
                },
            );
        }
        CaseEvent::ProfessionalEnabled {
            ente,
            professional,
            figures,
            ..
        } => {
            file.professionals.insert(
                (*ente, professional.clone()),
                figures.iter().cloned().collect(),
            );
        }
        CaseEvent::ProfessionalDisabled {
            ente, professional, ..
        } => {
            file.professionals.remove(&(*ente, professional.clone()));
        }
        CaseEvent::EntryRecorded {
            entry_id,
            phase,
            professional,
            figure,
            service,
            slot,
            system_failure_id,
            rate,
            at,
            ..
        } => {
            file.entries.insert(
                *entry_id,
                Entry {
                    id: *entry_id,
                    phase: *phase,
                    professional: professional.clone(),
                    figure: figure.clone(),
                    service: service.clone(),
                    slot: *slot,
                    system_failure_id: *system_failure_id,
                    cosigned_by: None,
                    recorded_at: *at,
                    revision: 0,
                    validated: false,
                    pending_request: None,
                    confirmed: false,
                    rejected: false,
                    withdrawn: false,
                    rate: rate.clone(),
                },
            );
        }
        CaseEvent::EntryAmended {
            entry_id,
            figure,
            service,
            slot,
            system_failure_id,
            rate,
            ..
        } => {
            if let Some(e) = file.entries.get_mut(entry_id) {
                // An amendment recorded before rates were keeps the entry's own rate only
                // when the figure and date did not change.
                if rate.is_some() || e.figure != *figure || e.slot.date != slot.date {
                    e.rate = rate.clone();
                }
                e.figure = figure.clone();
                e.service = service.clone();
                e.slot = *slot;
                e.system_failure_id = *system_failure_id;
                // A corrected late entry is co-signed again (Art. 9).
                e.cosigned_by = None;
                e.revision += 1;
                e.rejected = false;
            }
        }
        CaseEvent::EntryWithdrawn { entry_id, .. } => {
            if let Some(e) = file.entries.get_mut(entry_id) {
                e.withdrawn = true;
            }
        }
        CaseEvent::EntriesValidated { entry_ids, .. } => {
            for id in entry_ids {
                if let Some(e) = file.entries.get_mut(id) {
                    e.validated = true;
                }
            }
        }
        CaseEvent::PdiCapsSet {
            caps,
            total_max_minutes,
            document,
            reason,
            raised_after_hours,
            by,
            at,
        } => {
            let mut raises = file.pdi.take().map(|p| p.raises).unwrap_or_default();
            if *raised_after_hours {
                raises.push(PdiRaise {
                    reason: reason.clone().unwrap_or_default(),
                    document: document.clone(),
                    by: by.clone(),
                    at: *at,
                });
            }
            file.pdi = Some(Pdi {
                caps: caps.clone(),
                total_max_minutes: *total_max_minutes,
                document: document.clone(),
                raises,
            });
        }
        CaseEvent::ConfirmationRequested {
            request_id,
            phase,
            entry_ids,
            deadline,
            at,
            ..
        } => {
            open_request(
                file,
                *request_id,
                *phase,
                entry_ids,
                ConfirmationChannel::Firmalom,
                *deadline,
                *at,
            );
        }
        CaseEvent::PaperDiaryGenerated {
            paper_id,
            phase,
            entry_ids,
            at,
            ..
        } => {
            open_request(
                file,
                *paper_id,
                *phase,
                entry_ids,
                ConfirmationChannel::Paper,
                None,
                *at,
            );
        }
        CaseEvent::ConfirmationResent {
            request_id,
            deadline,
            at,
            ..
        } => {
            let ids: Vec<uuid::Uuid> = match file.requests.get_mut(request_id) {
                Some(r) => {
                    r.status = RequestStatus::Pending;
                    r.deadline = *deadline;
                    r.delivered_at = None;
                    r.undelivered = None;
                    r.sent_at = *at;
                    r.times_sent += 1;
                    r.entries.keys().copied().collect()
                }
                None => Vec::new(),
            };
            for id in ids {
                if let Some(e) = file.entries.get_mut(&id) {
                    e.pending_request = Some(*request_id);
                    e.rejected = false;
                }
            }
        }
        CaseEvent::ConfirmationNotificationDelivered {
            request_id,
            received_at,
            deadline,
            ..
        } => {
            if let Some(r) = file.requests.get_mut(request_id) {
                r.delivered_at = Some(*received_at);
                r.deadline = Some(*deadline);
                r.undelivered = None;
            }
        }
        CaseEvent::ConfirmationNotificationUndelivered {
            request_id,
            attempts,
            last_error,
            at,
            ..
        } => {
            if let Some(r) = file.requests.get_mut(request_id) {
                r.undelivered = Some(super::state::Undelivered {
                    attempts: *attempts,
                    last_error: last_error.clone(),
                    at: *at,
                });
            }
        }
        CaseEvent::ConfirmationRequestCancelled { request_id, .. } => {
            if let Some(r) = file.requests.get_mut(request_id) {
                r.status = RequestStatus::Ended;
            }
            release(file, *request_id);
        }
        CaseEvent::EntriesConfirmed {
            request_id,
            entry_ids,
            ..
        } => {
            if let Some(r) = file.requests.get_mut(request_id) {
                r.status = RequestStatus::Confirmed;
            }
            for id in entry_ids {
                if let Some(e) = file.entries.get_mut(id) {
                    e.confirmed = true;
                    e.rejected = false;
                    e.pending_request = None;
                }
            }
        }
        CaseEvent::ConfirmationRejected {
            request_id,
            phase,
            entry_ids,
            reason,
            by,
            at,
        } => {
            let rejection = Rejection {
                entry_ids: entry_ids.clone(),
                reason: reason.clone(),
                by: by.clone(),
                at: *at,
            };
            reject(file, *request_id, *phase, rejection);
        }
        CaseEvent::ConfirmationRequestExpired { request_id, .. } => {
            if let Some(r) = file.requests.get_mut(request_id) {
                r.status = RequestStatus::Expired;
            }
            release(file, *request_id);
        }
        CaseEvent::PaperConfirmationUploaded {
            paper_id,
            document_sha256,
            by,
            at,
            ..
        } => {
            if let Some(r) = file.requests.get_mut(paper_id) {
                r.scan = Some(Scan {
                    sha256: document_sha256.clone(),
                    uploaded_by: by.clone(),
                    uploaded_at: *at,
                    check: ScanCheck::AwaitingCheck,
                    checked_by: None,
                    reason: None,
                });
            }
        }
        CaseEvent::PaperScanChecked {
            paper_id,
            accepted,
            reason,
            by,
            ..
        } => {
            if let Some(scan) = file
                .requests
                .get_mut(paper_id)
                .and_then(|r| r.scan.as_mut())
            {
                scan.check = if *accepted {
                    ScanCheck::Checked
                } else {
                    ScanCheck::Refused
                };
                scan.checked_by = Some(by.clone());
                scan.reason = reason.clone();
            }
        }
        CaseEvent::DocumentAdded {
            document_id,
            kind,
            phase,
            version,
            title,
            document_sha256,
            media_type,
            by,
            at,
        } => {
            file.documents.insert(
                *document_id,
                PathwayDocument {
                    id: *document_id,
                    kind: kind.clone(),
                    phase: *phase,
                    version: *version,
                    title: title.clone(),
                    sha256: document_sha256.clone(),
                    media_type: media_type.clone(),
                    by: by.clone(),
                    at: *at,
                    shares: Vec::new(),
                },
            );
        }
        CaseEvent::DocumentShared {
            document_id,
            request_id,
            at,
            ..
        } => {
            if let Some(d) = file.documents.get_mut(document_id) {
                d.shares.push(DocumentShare {
                    request_id: *request_id,
                    status: RequestStatus::Pending,
                    shared_at: *at,
                    answered_by: None,
                    reason: None,
                });
            }
        }
        CaseEvent::DocumentAnswered {
            document_id,
            request_id,
            confirmed,
            reason,
            by,
            ..
        } => {
            if let Some(s) = file
                .documents
                .get_mut(document_id)
                .and_then(|d| d.shares.iter_mut().find(|s| s.request_id == *request_id))
            {
                s.status = if *confirmed {
                    RequestStatus::Confirmed
                } else {
                    RequestStatus::Rejected
                };
                s.answered_by = Some(by.clone());
                s.reason = reason.clone();
            }
        }
        CaseEvent::PhaseDiaryClosed { phase, .. } => {
            if let Some(d) = file.diaries.get_mut(phase) {
                d.status = DiaryStatus::Closed;
            }
        }
        CaseEvent::DiaryHandedToAts { phase, .. } => {
            if let Some(d) = file.diaries.get_mut(phase) {
                d.status = DiaryStatus::HandedToAts;
            }
        }
        CaseEvent::PathwayInterrupted {
            cause,
            reason,
            ended_request_ids,
            closed_phases,
            by,
            at,
        } => {
            file.interrupted_at = Some(*at);
            file.interruption = Some(crate::case::state::Interruption {
                cause: *cause,
                reason: reason.clone(),
                by: by.clone(),
                at: *at,
            });
            for id in ended_request_ids {
                if let Some(r) = file.requests.get_mut(id) {
                    r.status = RequestStatus::Ended;
                }
                release(file, *id);
            }
            for p in closed_phases {
                if let Some(d) = file.diaries.get_mut(p) {
                    d.status = DiaryStatus::Closed;
                }
            }
        }
        CaseEvent::VoucherAssigned {
            intensity, start, ..
        } => {
            file.voucher = Some(crate::voucher::CaseVoucher {
                start: *start,
                intensity: intensity.clone(),
                suspensions: Vec::new(),
            });
        }
        CaseEvent::PathwaySuspended { from, .. } => {
            if let Some(v) = file.voucher.as_mut() {
                v.suspensions.push(crate::voucher::Suspension {
                    from: *from,
                    reactivated_on: None,
                    authorised: false,
                });
            }
        }
        CaseEvent::PathwayReactivated {
            suspended_from, on, ..
        } => {
            if let Some(s) = suspension(file, *suspended_from) {
                s.reactivated_on = Some(*on);
            }
        }
        CaseEvent::SuspensionAuthorised { suspended_from, .. } => {
            if let Some(s) = suspension(file, *suspended_from) {
                s.authorised = true;
            }
        }
        CaseEvent::ObjectivesDeclared {
            achieved,
            document,
            by,
            at,
        } => {
            file.objectives = Some(crate::case::state::ObjectivesDeclaration {
                achieved: *achieved,
                document: document.clone(),
                by: by.clone(),
                at: *at,
            });
        }
        CaseEvent::FormalCheckRecorded {
            passed,
            note,
            checked_version,
            by,
            at,
        } => file.formal_checks.push(crate::case::state::FormalCheck {
            passed: *passed,
            note: note.clone(),
            checked_version: *checked_version,
            by: by.clone(),
            at: *at,
        }),
    }
}

fn suspension(
    file: &mut CaseFile,
    from: chrono::NaiveDate,
) -> Option<&mut crate::voucher::Suspension> {
    file.voucher
        .as_mut()?
        .suspensions
        .iter_mut()
        .find(|s| s.from == from)
}

fn open_request(
    file: &mut CaseFile,
    id: uuid::Uuid,
    phase: crate::values::Phase,
    entry_ids: &[uuid::Uuid],
    channel: ConfirmationChannel,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
    at: chrono::DateTime<chrono::Utc>,
) {
    let mut entries = BTreeMap::new();
    for eid in entry_ids {
        if let Some(e) = file.entries.get_mut(eid) {
            entries.insert(*eid, e.revision);
            e.pending_request = Some(id);
            e.rejected = false;
        }
    }
    file.requests.insert(
        id,
        Request {
            id,
            phase,
            channel,
            entries,
            status: RequestStatus::Pending,
            sent_at: at,
            deadline,
            delivered_at: None,
            undelivered: None,
            times_sent: 1,
            rejections: Vec::new(),
            scan: None,
        },
    );
}
