//! Documents of the pathway (Art. 1) and the four-eyes check of paper scans (Art. 6-7).
//!
//! Art. 1 lists the documents that prove a pathway's outputs ("Progetto individualizzato;
//! Piano di Intervento; Piano individuale di follow-up; Relazione di valutazione (intermedia e
//! finale) degli esiti del percorso; Relazione di follow-up") and says they are shared with the
//! recipient through FirmaLOM for confirmation. The measure lists the kinds (`documents`), the
//! phase each belongs to and which of them closes its phase; the bytes are stored by hash
//! outside the log and the events carry the hash.

use super::commands::{AddDocument, AnswerDocument, CheckPaperScan, ShareDocument};
use super::events::CaseEvent;
use super::state::{CaseFile, ConfirmationChannel, RequestStatus, ScanCheck};
use super::{Context, DomainError, given_reason};
use crate::actor::ActorRole;
use crate::values::{FiscalCode, Phase};

/// Who records and shares the documents of `phase`: its responsabile or the case manager.
fn require_document_author(
    file: &CaseFile,
    ctx: &Context<'_>,
    phase: Phase,
) -> Result<FiscalCode, DomainError> {
    let rules = ctx.phase_rules(phase)?;
    let cf = ctx.person()?;
    if file.responsabile(rules.registered_by) == Some(cf) || &file.case_manager == cf {
        Ok(cf.clone())
    } else {
        Err(DomainError::DocumentNotAllowed(phase))
    }
}

/// Art. 1: a document of a kind the measure lists, recorded by the phase's responsabile or the
/// case manager; a later document of the same kind is its next version.
pub fn add(
    file: &CaseFile,
    c: &AddDocument,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let rule = ctx
        .measure
        .document(&c.kind)
        .ok_or_else(|| DomainError::DocumentKindUnknown(c.kind.clone()))?;
    let by = require_document_author(file, ctx, rule.phase)?;
    if file.documents.contains_key(&c.document_id) {
        return Err(DomainError::DocumentIdAlreadyUsed(c.document_id));
    }
    let version = file.latest_document(&c.kind).map_or(1, |d| d.version + 1);
    Ok(vec![CaseEvent::DocumentAdded {
        document_id: c.document_id,
        kind: rule.kind.clone(),
        phase: rule.phase,
        version,
        title: given_reason(c.title.as_deref()).unwrap_or_else(|| rule.name.clone()),
        document_sha256: c.document_sha256.clone(),
        media_type: c.media_type.clone(),
        by,
        at: ctx.now,
    }])
}

/// Art. 1, 6: a recorded document goes to the recipient's FirmaLOM app for confirmation, once
/// at a time.
pub fn share(
    file: &CaseFile,
    c: &ShareDocument,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let doc = file
        .documents
        .get(&c.document_id)
        .ok_or(DomainError::DocumentNotFound(c.document_id))?;
    let by = require_document_author(file, ctx, doc.phase)?;
    if !file.recipient.firmalom_enrolled {
        return Err(DomainError::DigitalConfirmationUnavailable);
    }
    if file.requests.contains_key(&c.request_id) || file.document_share(c.request_id).is_some() {
        return Err(DomainError::RequestIdAlreadyUsed(c.request_id));
    }
    if doc
        .shares
        .iter()
        .any(|s| s.status == RequestStatus::Pending)
    {
        return Err(DomainError::DocumentSharePending(doc.id));
    }
    Ok(vec![CaseEvent::DocumentShared {
        document_id: doc.id,
        request_id: c.request_id,
        by,
        at: ctx.now,
    }])
}

/// The recipient (or a family member on file) confirms or rejects a shared document.
pub fn answer(
    file: &CaseFile,
    c: &AnswerDocument,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let signer = ctx.person()?.clone();
    let (doc, share) = file
        .document_share(c.request_id)
        .ok_or(DomainError::RequestNotFound(c.request_id))?;
    if !file.recipient.confirmers.contains(&signer) {
        return Err(DomainError::NotAConfirmer);
    }
    if share.status != RequestStatus::Pending {
        return Err(DomainError::RequestNotPending(c.request_id));
    }
    Ok(vec![CaseEvent::DocumentAnswered {
        document_id: doc.id,
        request_id: c.request_id,
        confirmed: c.confirmed,
        reason: given_reason(c.reason.as_deref()),
        by: signer,
        at: ctx.now,
    }])
}

/// Art. 6-7, four eyes: an ATS operator who neither uploaded the scan nor works on the case
/// checks it against the paper diary it signs, or refuses it with a reason.
pub fn check_scan(
    file: &CaseFile,
    c: &CheckPaperScan,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = ctx.person()?.clone();
    if ctx.actor.role() != Some(ActorRole::AtsOperator) {
        return Err(DomainError::NotAtsOperator);
    }
    let r = file
        .requests
        .get(&c.paper_id)
        .ok_or(DomainError::RequestNotFound(c.paper_id))?;
    if r.channel != ConfirmationChannel::Paper {
        return Err(DomainError::WrongConfirmationChannel(r.id));
    }
    let scan = r
        .scan
        .as_ref()
        .filter(|s| s.check == ScanCheck::AwaitingCheck)
        .ok_or(DomainError::ScanNotAwaitingCheck(r.id))?;
    if scan.uploaded_by == by || file.is_any_responsabile(&by) || file.case_manager == by {
        return Err(DomainError::ScanCheckSamePerson);
    }
    let reason = given_reason(c.reason.as_deref());
    if !c.accepted && reason.is_none() {
        return Err(DomainError::ReasonRequired);
    }
    Ok(vec![CaseEvent::PaperScanChecked {
        paper_id: r.id,
        phase: r.phase,
        entry_ids: r.entries.keys().copied().collect(),
        document_sha256: scan.sha256.clone(),
        accepted: c.accepted,
        reason,
        by,
        at: ctx.now,
    }])
}
