//! Art. 5: "il sistema attua in automatico i controlli di correttezza formale ... ed evidenzia
//! eventuali errori tramite un alert". A pure function listing the non-blocking problems of the
//! current diaries, for the read model. Nothing here refuses a command.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::case::state::{CaseState, ConfirmationChannel, DiaryStatus, RequestStatus};
use crate::catalogue::{ConfirmationMode, Measure};
use crate::checklist::compute_checklist;
use crate::values::{Phase, add_civil_days, civil_date};

/// Kind of alert (stable codes for the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertCode {
    /// Art. 6: the recipient has no FirmaLOM; use the paper diary.
    DigitalConfirmationUnavailable,
    /// Art. 8: sending these entries now would fail a blocking check.
    ChecklistWouldFail,
    /// Art. 5-6: entries of a whole-diary phase not yet validated.
    EntriesAwaitingValidation,
    /// Art. 5: per-entry phase entries not yet sent for confirmation ("di norma
    /// contestualmente").
    EntriesNotSentForConfirmation,
    /// Art. 6: a request passed its deadline; the expiry is not recorded yet.
    RequestOverdue,
    /// Art. 6: the notification of a request could not be delivered to FirmaLOM: re-send at
    /// once, or cancel it with a reason and use the paper diary.
    NotificationUndelivered,
    /// Art. 6: a request expired without answer and may be re-sent.
    RequestExpired,
    /// Art. 6: the recipient rejected entries; amend and send again.
    EntriesRejected,
    /// Art. 8: PDI caps not set for a phase where they apply.
    PdiCapsMissing,
    /// Art. 6: a paper diary waits for the signed upload.
    PaperDiaryAwaitingSignature,
    /// Art. 6: a closed whole-diary phase has no confirmation request (paper diary needed).
    ClosedDiaryAwaitingConfirmation,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Code.
    pub code: AlertCode,
    /// Phase concerned.
    pub phase: Option<Phase>,
    /// Entries concerned.
    pub entry_ids: Vec<Uuid>,
    /// Request concerned.
    pub request_id: Option<Uuid>,
    /// Human message (Italian / English).
    pub message: String,
}

const REQUEST_OVERDUE: &str = "Art. 6: richiesta scaduta senza risposta";

/// Art. 6: a digital request still pending after its answer deadline is overdue (the
/// scheduler records its expiry; until then the diary shows the alert).
pub fn is_overdue(
    status: RequestStatus,
    channel: ConfirmationChannel,
    deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    status == RequestStatus::Pending
        && channel == ConfirmationChannel::Firmalom
        && deadline.is_some_and(|d| now > d)
}

impl AlertCode {
    /// The stable code (also its JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertCode::DigitalConfirmationUnavailable => "digital-confirmation-unavailable",
            AlertCode::ChecklistWouldFail => "checklist-would-fail",
            AlertCode::EntriesAwaitingValidation => "entries-awaiting-validation",
            AlertCode::EntriesNotSentForConfirmation => "entries-not-sent-for-confirmation",
            AlertCode::RequestOverdue => "request-overdue",
            AlertCode::NotificationUndelivered => "notification-undelivered",
            AlertCode::RequestExpired => "request-expired",
            AlertCode::EntriesRejected => "entries-rejected",
            AlertCode::PdiCapsMissing => "pdi-caps-missing",
            AlertCode::PaperDiaryAwaitingSignature => "paper-diary-awaiting-signature",
            AlertCode::ClosedDiaryAwaitingConfirmation => "closed-diary-awaiting-confirmation",
        }
    }
}

impl Alert {
    /// The `request-overdue` alert of one request (see [`is_overdue`]).
    pub fn request_overdue(phase: Phase, request_id: Uuid, entry_ids: Vec<Uuid>) -> Alert {
        Alert {
            code: AlertCode::RequestOverdue,
            phase: Some(phase),
            entry_ids,
            request_id: Some(request_id),
            message: REQUEST_OVERDUE.to_owned(),
        }
    }
}

fn alert(code: AlertCode, phase: Option<Phase>, entry_ids: Vec<Uuid>, message: String) -> Alert {
    Alert {
        code,
        phase,
        entry_ids,
        request_id: None,
        message,
    }
}

/// Lists the non-blocking problems of the case at `now`.
pub fn alerts(state: &CaseState, measure: &Measure, now: DateTime<Utc>) -> Vec<Alert> {
    let mut out = Vec::new();
    let Some(file) = &state.file else {
        return out;
    };
    if file.interrupted_at.is_some() {
        return out;
    }
    let today = civil_date(now);
    if !file.recipient.firmalom_enrolled {
        out.push(alert(
            AlertCode::DigitalConfirmationUnavailable,
            None,
            Vec::new(),
            "Art. 6: conferma digitale non disponibile (FirmaLOM assente): generare il diario cartaceo".to_owned(),
        ));
    }
    for diary in file.diaries.values() {
        let phase = diary.phase;
        let Some(rules) = measure.phase(phase) else {
            continue;
        };
        if diary.status == DiaryStatus::Open {
            let unsent: Vec<Uuid> = file
                .live_entries(phase)
                .filter(|e| !e.confirmed && e.pending_request.is_none())
                .map(|e| e.id)
                .collect();
            if !unsent.is_empty() {
                let checklist = compute_checklist(file, measure, phase, &unsent, now);
                for check in checklist.failures() {
                    out.push(alert(
                        AlertCode::ChecklistWouldFail,
                        Some(phase),
                        check.entry_ids.clone(),
                        format!("{} ({})", check.description, check.code),
                    ));
                }
            }
            match rules.confirmation {
                ConfirmationMode::WholeDiaryAtClosure => {
                    let ids: Vec<Uuid> = file
                        .live_entries(phase)
                        .filter(|e| !e.validated)
                        .map(|e| e.id)
                        .collect();
                    if !ids.is_empty() {
                        out.push(alert(
                            AlertCode::EntriesAwaitingValidation,
                            Some(phase),
                            ids,
                            "Art. 5: stringhe da validare prima della chiusura".to_owned(),
                        ));
                    }
                }
                ConfirmationMode::PerEntry => {
                    let ids: Vec<Uuid> = file
                        .live_entries(phase)
                        .filter(|e| {
                            !e.confirmed
                                && e.pending_request.is_none()
                                && add_civil_days(e.slot.date, 1) < today
                        })
                        .map(|e| e.id)
                        .collect();
                    if !ids.is_empty() {
                        out.push(alert(
                            AlertCode::EntriesNotSentForConfirmation,
                            Some(phase),
                            ids,
                            "Art. 5: prestazioni non ancora inviate al destinatario per la conferma".to_owned(),
                        ));
                    }
                }
            }
            if rules.pdi_caps && file.pdi.is_none() {
                out.push(alert(
                    AlertCode::PdiCapsMissing,
                    Some(phase),
                    Vec::new(),
                    "Art. 8: massimali del PDI non impostati".to_owned(),
                ));
            }
        }
        if diary.status == DiaryStatus::Closed
            && rules.confirmation == ConfirmationMode::WholeDiaryAtClosure
            && !file
                .requests
                .values()
                .any(|r| r.phase == phase && r.status == RequestStatus::Pending)
            && !file
                .requests
                .values()
                .any(|r| r.phase == phase && r.status == RequestStatus::Expired)
        {
            out.push(alert(
                AlertCode::ClosedDiaryAwaitingConfirmation,
                Some(phase),
                Vec::new(),
                "Art. 6: diario chiuso in attesa di conferma (diario cartaceo)".to_owned(),
            ));
        }
        let rejected: Vec<Uuid> = file
            .live_entries(phase)
            .filter(|e| e.rejected)
            .map(|e| e.id)
            .collect();
        if !rejected.is_empty() {
            out.push(alert(
                AlertCode::EntriesRejected,
                Some(phase),
                rejected,
                "Art. 6: prestazioni rifiutate dal destinatario: correggere e inviare una nuova richiesta".to_owned(),
            ));
        }
    }
    for r in file.requests.values() {
        let (code, message) = match (r.status, r.channel) {
            (RequestStatus::Pending, ConfirmationChannel::Firmalom) if r.undelivered.is_some() => (
                AlertCode::NotificationUndelivered,
                "Art. 6: notifica non consegnata a FirmaLOM: inviarla di nuovo, oppure annullare la richiesta con un motivo e usare il diario cartaceo",
            ),
            (status, channel) if is_overdue(status, channel, r.deadline, now) => {
                (AlertCode::RequestOverdue, REQUEST_OVERDUE)
            }
            (RequestStatus::Pending, ConfirmationChannel::Paper) => (
                AlertCode::PaperDiaryAwaitingSignature,
                "Art. 6: diario cartaceo in attesa del caricamento firmato",
            ),
            (RequestStatus::Expired, _) => {
                let still_open = r.entries.keys().any(|id| {
                    file.entries.get(id).is_some_and(|e| {
                        !e.withdrawn && !e.confirmed && e.pending_request.is_none()
                    })
                });
                if !still_open {
                    continue;
                }
                (
                    AlertCode::RequestExpired,
                    "Art. 6: richiesta scaduta: inviare nuovamente la notifica",
                )
            }
            _ => continue,
        };
        out.push(Alert {
            code,
            phase: Some(r.phase),
            entry_ids: r.entries.keys().copied().collect(),
            request_id: Some(r.id),
            message: message.to_owned(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::AlertCode;

    #[test]
    fn codes_are_their_json_spelling() {
        for code in [
            AlertCode::DigitalConfirmationUnavailable,
            AlertCode::ChecklistWouldFail,
            AlertCode::EntriesAwaitingValidation,
            AlertCode::EntriesNotSentForConfirmation,
            AlertCode::RequestOverdue,
            AlertCode::NotificationUndelivered,
            AlertCode::RequestExpired,
            AlertCode::EntriesRejected,
            AlertCode::PdiCapsMissing,
            AlertCode::PaperDiaryAwaitingSignature,
            AlertCode::ClosedDiaryAwaitingConfirmation,
        ] {
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(code.as_str().to_owned()))
            );
        }
    }
}
