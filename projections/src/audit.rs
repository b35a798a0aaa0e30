//! Read model 2, the audit trail (every event of a case in order, with who, role, when and a
//! readable description), chain verification at query time, and read model 3, the history of a
//! case as of an instant — replayed from the event stream, never from the tables.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use diario_domain::{CaseEvent, CaseState, Catalogue, Phase, evolve};
use diario_log::{
    ChainReport, Database, EventStore, FollowError, Follower, LogEvent, Query, RecordedEvent,
    StreamId, Tx, Val,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;
use crate::diaries::CaseDiary;
use crate::queries::{Page, PageRequest};

/// Projection name.
pub const NAME: &str = "audit_trail";

/// The table of the projection.
pub const TABLES: [&str; 1] = ["rm_audit_trail"];

/// One event of a case as an auditor reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub case_id: Uuid,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i64,
    /// Fiscal code of the actor (`system` for the scheduler).
    pub actor_cf: String,
    pub actor_role: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// Readable description (Italian).
    pub description: String,
    /// Global position: (transaction id, position).
    pub global_transaction: i64,
    pub global_position: i64,
    pub prev_hash: String,
    pub hash: String,
}

fn ids(list: &[Uuid]) -> String {
    let n = list.len();
    if n == 1 {
        "1 prestazione".to_owned()
    } else {
        format!("{n} prestazioni")
    }
}

/// The deadline of a sending: its own in events recorded before deliveries were, otherwise
/// one day from FirmaLOM's receipt.
fn scadenza(deadline: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    match deadline {
        Some(d) => format!("scadenza {}", d.to_rfc3339()),
        None => "risposta entro un giorno dalla ricezione della notifica".to_owned(),
    }
}

fn fase(p: &Phase) -> String {
    format!("fase {p}")
}

/// "; motivo: …" when a reason was given.
fn because(reason: Option<&str>) -> String {
    reason.map_or_else(String::new, |r| format!("; motivo: {r}"))
}

/// A readable Italian description of a case event.
pub fn describe(event: &CaseEvent) -> String {
    match event {
        CaseEvent::CaseOpened {
            ats,
            asst,
            provider,
            measure_id,
            recipient,
            ..
        } => format!(
            "Pratica aperta da ATS {ats} (misura {measure_id}, ASST {asst}, ente erogatore {provider}, destinatario {})",
            recipient.pseudonym
        ),
        CaseEvent::ResponsabileChanged {
            ente,
            previous,
            responsabile,
            ..
        } => format!(
            "Responsabile {ente} cambiato: {} → {}",
            previous.as_str(),
            responsabile.as_str()
        ),
        CaseEvent::LateEntryCosigned {
            entry_id,
            system_failure_id,
            ..
        } => format!(
            "Prestazione {entry_id} registrata in ritardo (malfunzionamento {system_failure_id}) controfirmata dall'assistenza"
        ),
        CaseEvent::ConfirmersChanged {
            previous,
            confirmers,
            reason,
            ..
        } => format!(
            "Firmatari della conferma cambiati: {} → {}{}",
            previous.len(),
            confirmers.len(),
            because(reason.as_deref())
        ),
        CaseEvent::ChecklistRefused {
            phase,
            request_id,
            checklist,
            ..
        } => format!(
            "Invio della {} non eseguito (richiesta {request_id}): la checklist non è superata ({} controlli falliti)",
            fase(phase),
            checklist.failures().count()
        ),
        CaseEvent::CaseManagerChanged {
            previous,
            case_manager,
            ..
        } => format!(
            "Case manager cambiato: {} → {}",
            previous.as_str(),
            case_manager.as_str()
        ),
        CaseEvent::ValidationWithdrawn {
            phase,
            entry_ids,
            reason,
            ..
        } => format!(
            "Validazione ritirata per {} della {}; motivo: {reason}",
            ids(entry_ids),
            fase(phase)
        ),
        CaseEvent::PaperDiaryCancelled {
            paper_id,
            phase,
            entry_ids,
            refused_by_family,
            reason,
            ..
        } => format!(
            "Diario cartaceo {paper_id} della {} ({}) {}{}",
            fase(phase),
            ids(entry_ids),
            if *refused_by_family {
                "rifiutato dalla famiglia"
            } else {
                "annullato dall'ente"
            },
            because(reason.as_deref())
        ),
        CaseEvent::RecipientEnrolmentChanged {
            firmalom_enrolled, ..
        } => {
            if *firmalom_enrolled {
                "Destinatario iscritto a FirmaLOM: conferma digitale".to_owned()
            } else {
                "Destinatario senza FirmaLOM: conferma su diario cartaceo".to_owned()
            }
        }
        CaseEvent::PhaseDiaryOpened { phase, .. } => format!("Diario della {} aperto", fase(phase)),
        CaseEvent::ProfessionalEnabled {
            ente,
            professional,
            figures,
            ..
        } => format!(
            "Professionista {} abilitato ({ente}) per le figure {}",
            professional.as_str(),
            figures
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        CaseEvent::ProfessionalDisabled {
            ente, professional, ..
        } => {
            format!(
                "Professionista {} disabilitato ({ente})",
                professional.as_str()
            )
        }
        CaseEvent::EntryRecorded {
            phase,
            figure,
            service,
            slot,
            minutes,
            system_failure_id,
            ..
        } => {
            let late = match system_failure_id {
                Some(f) => format!(", registrata in ritardo per il malfunzionamento {f} (Art. 9)"),
                None => String::new(),
            };
            format!(
                "Prestazione registrata ({}): {service} come {figure}, {} {}-{} ({minutes} min){late}",
                fase(phase),
                slot.date.format("%d/%m/%Y"),
                slot.start_hhmm(),
                slot.end_hhmm(),
            )
        }
        CaseEvent::EntryAmended {
            entry_id,
            figure,
            service,
            slot,
            minutes,
            reason,
            by,
            ..
        } => format!(
            "Prestazione {entry_id} modificata da {}: {service} come {figure}, {} {}-{} ({minutes} min){}",
            by.as_str(),
            slot.date.format("%d/%m/%Y"),
            slot.start_hhmm(),
            slot.end_hhmm(),
            because(reason.as_deref()),
        ),
        CaseEvent::EntryWithdrawn {
            entry_id,
            reason,
            by,
            ..
        } => {
            format!(
                "Prestazione {entry_id} ritirata da {}{}",
                by.as_str(),
                because(reason.as_deref())
            )
        }
        CaseEvent::EntriesValidated {
            phase, entry_ids, ..
        } => {
            format!(
                "Validate {} della {} dal responsabile",
                ids(entry_ids),
                fase(phase)
            )
        }
        CaseEvent::PdiCapsSet {
            caps,
            total_max_minutes,
            document,
            reason,
            raised_after_hours,
            ..
        } => format!(
            "Massimali del PDI impostati per {} servizi{}{}{}",
            caps.len(),
            total_max_minutes
                .map(|t| format!(", totale {t} min"))
                .unwrap_or_default(),
            document
                .as_ref()
                .map(|d| format!(
                    " dal PDI versione {} (SHA-256 {})",
                    d.version,
                    d.document_sha256.as_str()
                ))
                .unwrap_or_default(),
            if *raised_after_hours {
                format!(
                    "; AUMENTATI dopo ore già registrate in fase III{}",
                    because(reason.as_deref())
                )
            } else {
                String::new()
            }
        ),
        CaseEvent::PaperScanChecked {
            paper_id,
            document_sha256,
            accepted,
            reason,
            ..
        } => format!(
            "Scansione del diario cartaceo {paper_id} (SHA-256 {}) {} dall'ATS{}",
            document_sha256.as_str(),
            if *accepted { "verificata" } else { "respinta" },
            because(reason.as_deref())
        ),
        CaseEvent::DocumentAdded {
            document_id,
            title,
            version,
            phase,
            document_sha256,
            ..
        } => format!(
            "Documento «{title}» versione {version} ({}) registrato: {document_id}, SHA-256 {}",
            fase(phase),
            document_sha256.as_str()
        ),
        CaseEvent::DocumentShared {
            document_id,
            request_id,
            ..
        } => format!(
            "Documento {document_id} inviato al destinatario via FirmaLOM per conferma (richiesta {request_id})"
        ),
        CaseEvent::DocumentAnswered {
            document_id,
            confirmed,
            reason,
            by,
            ..
        } => format!(
            "Documento {document_id} {} da {}{}",
            if *confirmed { "confermato" } else { "respinto" },
            by.as_str(),
            because(reason.as_deref())
        ),
        CaseEvent::ConfirmationRequested {
            request_id,
            phase,
            entry_ids,
            deadline,
            checklist,
            ..
        } => format!(
            "Richiesta di conferma {request_id} inviata via FirmaLOM ({}, {}, checklist {}), scadenza {}",
            fase(phase),
            ids(entry_ids),
            if checklist.passed {
                "superata"
            } else {
                "non superata"
            },
            scadenza(deadline)
        ),
        CaseEvent::ConfirmationResent {
            request_id,
            deadline,
            ..
        } => format!(
            "Richiesta di conferma {request_id} inviata nuovamente, {}",
            scadenza(deadline)
        ),
        CaseEvent::ConfirmationNotificationDelivered {
            request_id,
            received_at,
            deadline,
            ..
        } => format!(
            "Notifica della richiesta {request_id} ricevuta da FirmaLOM il {}: risposta entro {}",
            received_at.to_rfc3339(),
            deadline.to_rfc3339()
        ),
        CaseEvent::ConfirmationNotificationUndelivered {
            request_id,
            attempts,
            last_error,
            ..
        } => format!(
            "Notifica della richiesta {request_id} non consegnata a FirmaLOM dopo {attempts} tentativi ({last_error})"
        ),
        CaseEvent::ConfirmationRequestCancelled {
            request_id, reason, ..
        } => format!("Richiesta di conferma {request_id} annullata: {reason}"),
        CaseEvent::EntriesConfirmed {
            request_id,
            phase,
            entry_ids,
            channel,
            ..
        } => format!(
            "Confermate {} della {} (richiesta {request_id}, canale {})",
            ids(entry_ids),
            fase(phase),
            match channel {
                diario_domain::ConfirmationChannel::Firmalom => "FirmaLOM",
                diario_domain::ConfirmationChannel::Paper => "cartaceo",
            }
        ),
        CaseEvent::ConfirmationRejected {
            request_id,
            phase,
            entry_ids,
            reason,
            ..
        } => format!(
            "Rifiutate {} della {} (richiesta {request_id}){}",
            ids(entry_ids),
            fase(phase),
            reason
                .as_deref()
                .map_or_else(|| " senza motivo indicato".to_owned(), |r| format!(": {r}"))
        ),
        CaseEvent::ConfirmationRequestExpired {
            request_id,
            refused_answer,
            ..
        } => match refused_answer {
            Some(_) => format!("Richiesta {request_id} scaduta: risposta tardiva rifiutata"),
            None => format!("Richiesta {request_id} scaduta senza risposta"),
        },
        CaseEvent::PaperDiaryGenerated {
            paper_id,
            phase,
            entry_ids,
            ..
        } => format!(
            "Diario cartaceo {paper_id} generato per la firma ({}, {})",
            fase(phase),
            ids(entry_ids)
        ),
        CaseEvent::PaperConfirmationUploaded {
            paper_id,
            signed_by,
            document_sha256,
            ..
        } => format!(
            "Diario cartaceo {paper_id} firmato da {} caricato (SHA-256 {})",
            signed_by.as_str(),
            document_sha256.as_str()
        ),
        CaseEvent::PhaseDiaryClosed {
            phase,
            entry_ids,
            unconfirmed_entry_ids,
            total_minutes,
            ..
        } => format!(
            "Diario della {} chiuso: {}, {total_minutes} min, {} non confermate",
            fase(phase),
            ids(entry_ids),
            unconfirmed_entry_ids.len()
        ),
        CaseEvent::DiaryHandedToAts {
            phase,
            ats,
            confirmed_entry_ids,
            confirmed_minutes,
            by,
            ..
        } => format!(
            "Diario della {} trasmesso ad ATS {ats}{}: {} confermate, {confirmed_minutes} min",
            fase(phase),
            if by.is_none() {
                " dal sistema, a seguito della conferma del destinatario"
            } else {
                ""
            },
            ids(confirmed_entry_ids)
        ),
        CaseEvent::PathwayInterrupted {
            reason,
            ended_request_ids,
            ..
        } => format!(
            "Percorso interrotto: {reason} ({} richieste terminate)",
            ended_request_ids.len()
        ),
        CaseEvent::VoucherAssigned {
            intensity, start, ..
        } => format!("Voucher assegnato: intensità {intensity}, attività dal {start}"),
        CaseEvent::PathwaySuspended { from, reason, .. } => {
            format!("PI/PEI sospeso dal {from}; motivo: {reason}")
        }
        CaseEvent::PathwayReactivated {
            suspended_from, on, ..
        } => format!("PI/PEI riattivato il {on} (sospensione dal {suspended_from})"),
        CaseEvent::SuspensionAuthorised { suspended_from, .. } => {
            format!("Proroga dei termini autorizzata per la sospensione dal {suspended_from}")
        }
        CaseEvent::ObjectivesDeclared {
            achieved, document, ..
        } => format!(
            "Obiettivi dichiarati {} (relazione finale v{}, sha256 {})",
            if *achieved {
                "conseguiti"
            } else {
                "non conseguiti"
            },
            document.version,
            document.document_sha256.as_str()
        ),
        CaseEvent::FormalCheckRecorded {
            passed,
            note,
            checked_version,
            ..
        } => format!(
            "Verifica formale di calendari e diari {} (versione {checked_version}){}",
            if *passed { "superata" } else { "non superata" },
            because(note.as_deref())
        ),
    }
}

/// The "audit_trail" projection: table `rm_audit_trail`.
pub struct AuditTrail;

#[async_trait]
impl Follower for AuditTrail {
    diario_log::follower_spec!(NAME, &TABLES);

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        let mut rows: Vec<Vec<Val>> = Vec::with_capacity(events.len());
        for e in events {
            let Some(case_id) = StreamId::case_of(&e.stream_id) else {
                continue;
            };
            // An unreadable event is still part of the trail (the auditor must see it).
            let decoded = e.case_event();
            let description = match &decoded {
                Ok(ev) => describe(ev),
                Err(err) => format!("Evento non leggibile: {err}"),
            };
            // The hand-over that follows a recipient's confirmation is the system's act, though
            // it is appended by the command that recorded the answer.
            let (actor_cf, actor_role) = match &decoded {
                Ok(CaseEvent::DiaryHandedToAts { by: None, .. }) => ("system", "system"),
                _ => (e.metadata.actor_cf.as_str(), e.metadata.actor_role.as_str()),
            };
            rows.push(vec![
                case_id.into(),
                e.stream_version.into(),
                e.event_id.into(),
                (&e.event_type).into(),
                i64::from(e.schema_version).into(),
                actor_cf.into(),
                actor_role.into(),
                e.metadata.occurred_at.trunc_subsecs(6).into(),
                e.recorded_at.trunc_subsecs(6).into(),
                description.into(),
                i64::try_from(e.global_position.transaction)
                    .map_err(|_| {
                        FollowError::Corrupt(format!(
                            "transaction id {} too large",
                            e.global_position.transaction
                        ))
                    })?
                    .into(),
                e.global_position.position.into(),
                (&e.prev_hash).into(),
                (&e.hash).into(),
            ]);
        }
        tx.insert_rows(
            "INSERT INTO rm_audit_trail (case_id, stream_version, event_id, event_type, \
                 schema_version, actor_cf, actor_role, occurred_at, recorded_at, description, \
                 global_transaction, global_position, prev_hash, hash)",
            &rows,
        )
        .await?;
        Ok(())
    }
}

/// The audit trail of a case, in stream order, paginated (the cursor is the last
/// `stream_version` seen).
pub async fn audit_trail(
    db: &Database,
    case_id: Uuid,
    page: &PageRequest,
) -> Result<Page<AuditRecord>, ProjectionError> {
    let after: i64 = match &page.cursor {
        Some(c) => c
            .parse()
            .ok()
            .filter(|v: &i64| *v >= 0)
            .ok_or_else(|| ProjectionError::BadCursor(c.clone()))?,
        None => 0,
    };
    let mut q = Query::new("SELECT * FROM rm_audit_trail WHERE case_id = ");
    q.bind(case_id).and(" AND stream_version > ", after);
    Page::fetch(db, q, "stream_version", page, |r: &AuditRecord| {
        r.stream_version.to_string()
    })
    .await
}

/// The hash-chain check of a case stream (`…/audit-trail/verification`), computed now from the
/// event store.
pub async fn verify_case(
    store: &dyn EventStore,
    case_id: Uuid,
) -> Result<ChainReport, ProjectionError> {
    Ok(store
        .verify_stream(StreamId::case(case_id).as_str())
        .await?)
}

/// The state of a case as of an instant (`GET /v1/cases/{id}/history?as_of=`): the case stream
/// replayed (upcast + `evolve`) over the events whose `occurred_at` (the service clock at the
/// decision, equal to the event's `at`) is at or before `as_of`. Read from the event store,
/// not from the read-model tables. `None` when the case did not exist yet.
pub async fn history_as_of(
    store: &dyn EventStore,
    catalogue: &Catalogue,
    case_id: Uuid,
    as_of: DateTime<Utc>,
) -> Result<Option<CaseDiary>, ProjectionError> {
    replay_prefix(store, catalogue, case_id, |e| {
        e.metadata.occurred_at <= as_of
    })
    .await
}

/// The case as the system showed it at `instant`: the events *recorded* (store clock,
/// `recorded_at`) at or before it. Differs from [`history_as_of`] only when the service clock
/// and the store clock differ (a test clock, a late-recorded decision).
pub async fn history_as_recorded(
    store: &dyn EventStore,
    catalogue: &Catalogue,
    case_id: Uuid,
    instant: DateTime<Utc>,
) -> Result<Option<CaseDiary>, ProjectionError> {
    replay_prefix(store, catalogue, case_id, |e| e.recorded_at <= instant).await
}

/// Folds the longest prefix of the case stream whose events satisfy `keep`.
async fn replay_prefix(
    store: &dyn EventStore,
    catalogue: &Catalogue,
    case_id: Uuid,
    keep: impl Fn(&RecordedEvent) -> bool,
) -> Result<Option<CaseDiary>, ProjectionError> {
    let mut state = CaseState::default();
    for recorded in store
        .read_stream(StreamId::case(case_id).as_str(), 1)
        .await?
    {
        if !keep(&recorded) {
            break;
        }
        state = evolve(state, &CaseEvent::decode(&recorded)?);
    }
    let measure = state
        .file
        .as_ref()
        .and_then(|f| catalogue.get(&f.measure_id));
    Ok(CaseDiary::from_state(&state, measure))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diario_domain::FiscalCode;

    #[test]
    fn the_reason_of_a_withdrawal_is_in_the_audit_trail() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .expect("instant")
            .with_timezone(&Utc);
        let by = FiscalCode::parse("GLLLCU88E10D969Z").expect("cf");
        let with = CaseEvent::EntryWithdrawn {
            entry_id: Uuid::nil(),
            reason: Some("incontro annullato".into()),
            by: by.clone(),
            at,
        };
        assert!(
            describe(&with).ends_with("ritirata da GLLLCU88E10D969Z; motivo: incontro annullato"),
            "{}",
            describe(&with)
        );
        let without = CaseEvent::EntryWithdrawn {
            entry_id: Uuid::nil(),
            reason: None,
            by,
            at,
        };
        assert!(describe(&without).ends_with("ritirata da GLLLCU88E10D969Z"));
    }
}
