//! Read model 9: notifications for staff (issue 13). The facts a responsabile must act on —
//! the recipient rejected entries (Art. 6: "l'ente responsabile ha nuovamente accesso alla
//! pratica per modificare"), a confirmation request expired without an answer (to send again)
//! — are written for the phase's responsabile at that moment (`rm_notifications`, one row per
//! event). What depends on the clock is added when the inbox is read: a request that expires
//! within [`EXPIRING_WITHIN_HOURS`], and a FirmaLOM notification still undelivered after
//! [`UNDELIVERED_AFTER_ATTEMPTS`] attempts.
//!
//! The follower keeps what it needs of each case in `rm_notification_cases` (measure and
//! responsabili), filled from the same ordered log, so it depends on no other read model.

use async_trait::async_trait;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use diario_domain::{CaseEvent, Catalogue, Ente, MeasureId, Phase};
use diario_log::{Database, FollowError, Follower, RecordedEvent, StreamId, Tx};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;

/// Projection name.
pub const NAME: &str = "staff_notifications";

/// The tables of the projection.
pub const TABLES: [&str; 2] = ["rm_notifications", "rm_notification_cases"];

/// A pending request whose deadline is this close is "about to expire".
pub const EXPIRING_WITHIN_HOURS: i64 = 6;

/// A FirmaLOM notification that failed this many attempts is "undeliverable".
pub const UNDELIVERED_AFTER_ATTEMPTS: i64 = 3;

/// The "staff_notifications" projection.
pub struct StaffNotifications {
    catalogue: Catalogue,
}

impl StaffNotifications {
    pub fn new(catalogue: Catalogue) -> Self {
        StaffNotifications { catalogue }
    }

    /// The responsabile of the ente that registers `phase` of the case, as the follower knows it.
    async fn responsabile(
        &self,
        tx: &mut Tx,
        case_id: Uuid,
        phase: Phase,
    ) -> Result<Option<String>, FollowError> {
        let Some(row) = tx
            .fetch_optional(
                "SELECT measure_id, responsabile_asst, responsabile_provider \
                 FROM rm_notification_cases WHERE case_id = $1",
                &[case_id.into()],
            )
            .await?
        else {
            return Ok(None);
        };
        let measure = self.catalogue.get(&MeasureId::new(row.text("measure_id")?));
        let ente = measure
            .and_then(|m| m.phase(phase))
            .map_or(Ente::Provider, |p| p.registered_by);
        Ok(Some(match ente {
            Ente::Asst => row.text("responsabile_asst")?,
            Ente::Provider => row.text("responsabile_provider")?,
        }))
    }

    /// The responsabili, the case manager and the ATS's operators of a case (distinct).
    async fn case_people(
        &self,
        tx: &mut Tx,
        case_id: Uuid,
    ) -> Result<Option<Vec<String>>, FollowError> {
        let Some(row) = tx
            .fetch_optional(
                "SELECT responsabile_asst, responsabile_provider, case_manager, ats \
                 FROM rm_notification_cases WHERE case_id = $1",
                &[case_id.into()],
            )
            .await?
        else {
            return Ok(None);
        };
        let mut people = Vec::new();
        for col in ["responsabile_asst", "responsabile_provider", "case_manager"] {
            let p = row.text(col)?;
            if !p.is_empty() && !people.contains(&p) {
                people.push(p);
            }
        }
        people.push(ats_addressee(&row.text("ats")?));
        Ok(Some(people))
    }
}

#[async_trait]
impl Follower for StaffNotifications {
    diario_log::follower_spec!(NAME, &TABLES);

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        const WANTED: [&str; 7] = [
            "CaseOpened",
            "ResponsabileChanged",
            "CaseManagerChanged",
            "ConfirmationRejected",
            "ConfirmationRequestExpired",
            "ConfirmationNotificationUndelivered",
            "PathwayInterrupted",
        ];
        for e in events {
            let Some(case_id) = StreamId::case_of(&e.stream_id) else {
                continue;
            };
            if !WANTED.contains(&e.event_type.as_str()) {
                continue;
            }
            // (addressees, kind, phase, request, detail, at)
            let (people, kind, phase, request_id, detail, at) = match e.case_event()?.clone() {
                CaseEvent::CaseOpened {
                    measure_id,
                    ats,
                    responsabile_asst,
                    responsabile_provider,
                    case_manager,
                    ..
                } => {
                    tx.exec(
                        "INSERT INTO rm_notification_cases (case_id, measure_id, \
                         responsabile_asst, responsabile_provider, case_manager, ats) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &[
                            case_id.into(),
                            measure_id.as_str().into(),
                            responsabile_asst.as_str().into(),
                            responsabile_provider.as_str().into(),
                            case_manager.as_str().into(),
                            ats.as_str().into(),
                        ],
                    )
                    .await?;
                    continue;
                }
                CaseEvent::ResponsabileChanged {
                    ente, responsabile, ..
                } => {
                    let sql = match ente {
                        Ente::Asst => {
                            "UPDATE rm_notification_cases SET responsabile_asst = $2 WHERE case_id = $1"
                        }
                        Ente::Provider => {
                            "UPDATE rm_notification_cases SET responsabile_provider = $2 WHERE case_id = $1"
                        }
                    };
                    tx.exec(sql, &[case_id.into(), responsabile.as_str().into()])
                        .await?;
                    continue;
                }
                CaseEvent::CaseManagerChanged { case_manager, .. } => {
                    tx.exec(
                        "UPDATE rm_notification_cases SET case_manager = $2 WHERE case_id = $1",
                        &[case_id.into(), case_manager.as_str().into()],
                    )
                    .await?;
                    continue;
                }
                CaseEvent::ConfirmationRejected {
                    request_id,
                    phase,
                    entry_ids,
                    reason,
                    at,
                    ..
                } => {
                    let Some(person) = self.responsabile(tx, case_id, phase).await? else {
                        continue;
                    };
                    let detail = match reason {
                        Some(reason) => {
                            format!(
                                "{} prestazioni rifiutate; motivo: {reason}",
                                entry_ids.len()
                            )
                        }
                        None => format!(
                            "{} prestazioni rifiutate senza motivo indicato",
                            entry_ids.len()
                        ),
                    };
                    let kind = "confirmation-rejected";
                    (vec![person], kind, phase, Some(request_id), detail, at)
                }
                CaseEvent::ConfirmationRequestExpired {
                    request_id,
                    phase,
                    entry_ids,
                    deadline,
                    at,
                    ..
                } => {
                    let Some(person) = self.responsabile(tx, case_id, phase).await? else {
                        continue;
                    };
                    let detail = format!(
                        "{} prestazioni senza risposta entro il termine ({}); inviare di nuovo",
                        entry_ids.len(),
                        rome(deadline)
                    );
                    let kind = "request-expired";
                    (vec![person], kind, phase, Some(request_id), detail, at)
                }
                CaseEvent::ConfirmationNotificationUndelivered {
                    request_id,
                    phase,
                    attempts,
                    last_error,
                    at,
                    ..
                } => {
                    let Some(person) = self.responsabile(tx, case_id, phase).await? else {
                        continue;
                    };
                    let detail = format!(
                        "dopo {attempts} tentativi ({last_error}): inviarla di nuovo subito, \
                         oppure annullare la richiesta con un motivo e usare il diario cartaceo"
                    );
                    let kind = "notification-undelivered";
                    (vec![person], kind, phase, Some(request_id), detail, at)
                }
                CaseEvent::PathwayInterrupted {
                    cause,
                    reason,
                    closed_phases,
                    by,
                    at,
                    ..
                } => {
                    // Art. 6: the other of responsabile and case manager, and the ATS, learn of
                    // it at once.
                    let Some(people) = self.case_people(tx, case_id).await? else {
                        continue;
                    };
                    let people: Vec<String> = people
                        .into_iter()
                        .filter(|p| p.as_str() != by.as_str())
                        .collect();
                    let cause = cause.map_or("causa non indicata", |c| c.label());
                    let detail = if reason.is_empty() {
                        format!("da {} il {}: {cause}", by.as_str(), rome(at))
                    } else {
                        format!("da {} il {}: {cause} ({reason})", by.as_str(), rome(at))
                    };
                    let phase = closed_phases.iter().max().copied().unwrap_or(Phase::I);
                    (people, "pathway-interrupted", phase, None, detail, at)
                }
                _ => continue,
            };
            for person in people {
                tx.exec(
                    "INSERT INTO rm_notifications (notification_id, person, case_id, phase, kind, \
                     request_id, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (notification_id, person) DO NOTHING",
                    &[
                        e.event_id.into(),
                        person.into(),
                        case_id.into(),
                        i64::from(phase.number()).into(),
                        kind.into(),
                        request_id.into(),
                        detail.clone().into(),
                        at.trunc_subsecs(6).into(),
                    ],
                )
                .await?;
            }
        }
        Ok(())
    }
}

fn rome(at: DateTime<Utc>) -> impl std::fmt::Display {
    at.with_timezone(&chrono_tz::Europe::Rome)
        .format("%d/%m/%Y %H:%M")
}

/// The inbox addressee of an ATS's operators.
pub fn ats_addressee(ats: &str) -> String {
    format!("ats:{ats}")
}

/// One item of a person's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    /// The event's id for recorded facts; `{kind}:{request or notification id}` for the ones
    /// computed when the inbox is read.
    pub id: String,
    /// `confirmation-rejected`, `request-expired`, `notification-undelivered` (given up, a
    /// case event), `pathway-interrupted` (to the case manager, the responsabili and the ATS's
    /// operators, but not to whoever recorded it); computed when read: `request-expiring`,
    /// `notification-undeliverable` (still being retried after 3 failed attempts).
    pub kind: String,
    pub case_id: Uuid,
    pub phase: u8,
    pub request_id: Option<Uuid>,
    /// In Italian.
    pub message: String,
    /// When it happened (for `request-expiring`, the deadline).
    pub at: DateTime<Utc>,
}

fn label(kind: &str) -> &'static str {
    match kind {
        "confirmation-rejected" => "Il destinatario ha rifiutato delle prestazioni",
        "request-expired" => "Una richiesta di conferma è scaduta",
        "request-expiring" => "Una richiesta di conferma sta per scadere",
        "notification-undelivered" => "Una notifica FirmaLOM non è stata consegnata",
        "pathway-interrupted" => "Il percorso è stato interrotto",
        _ => "Una notifica FirmaLOM non risulta ancora consegnata",
    }
}

/// The inbox of `person` as of `now`, most recent first (at most `limit` recorded items, and
/// every current time-based one).
///
/// `ats` are the ATS whose operators `person` is: what is addressed to them (an interruption)
/// reaches the inbox too.
pub async fn inbox(
    db: &Database,
    catalogue: &Catalogue,
    person: &str,
    ats: &[String],
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Notification>, ProjectionError> {
    let mut out = Vec::new();
    let mut addressees: Vec<String> = vec![person.to_owned()];
    addressees.extend(ats.iter().map(|a| ats_addressee(a)));
    let placeholders: Vec<String> = (0..addressees.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let sql = format!(
        "SELECT notification_id, kind, case_id, phase, request_id, detail, at \
         FROM rm_notifications WHERE person IN ({}) ORDER BY at DESC, notification_id LIMIT $1",
        placeholders.join(", ")
    );
    let mut params: Vec<diario_log::Val> = vec![limit.into()];
    params.extend(addressees.iter().map(|a| a.as_str().into()));
    for r in db.fetch_all(&sql, &params).await? {
        let kind = r.text("kind")?;
        out.push(Notification {
            id: r.uuid("notification_id")?.to_string(),
            message: format!("{}: {}", label(&kind), r.text("detail")?),
            kind,
            case_id: r.uuid("case_id")?,
            phase: r.u8("phase")?,
            request_id: r.opt_uuid("request_id")?,
            at: r.instant("at")?,
        });
    }
    // The person's phases: cases where they are responsabile, each phase of the measure whose
    // ente is theirs.
    let mut mine: std::collections::BTreeMap<Uuid, Vec<u8>> = std::collections::BTreeMap::new();
    for r in db
        .fetch_all(
            "SELECT p.case_id, p.ente, c.measure_id FROM rm_case_people p \
             JOIN rm_cases c ON c.case_id = p.case_id \
             WHERE p.person = $1 AND p.role = 'responsabile'",
            &[person.into()],
        )
        .await?
    {
        let ente = match r.text("ente")?.as_str() {
            "asst" => Ente::Asst,
            _ => Ente::Provider,
        };
        if let Some(m) = catalogue.get(&MeasureId::new(r.text("measure_id")?)) {
            let phases = mine.entry(r.uuid("case_id")?).or_default();
            phases.extend(
                m.phases
                    .iter()
                    .filter(|p| p.registered_by == ente)
                    .map(|p| p.phase.number()),
            );
        }
    }
    if mine.is_empty() {
        return Ok(out);
    }
    let soon = now + Duration::hours(EXPIRING_WITHIN_HOURS);
    for r in db
        .fetch_all(
            "SELECT r.request_id, r.case_id, r.phase, r.deadline FROM rm_requests r \
             WHERE r.status = 'pending' AND r.deadline IS NOT NULL AND r.case_id IN \
             (SELECT case_id FROM rm_case_people WHERE person = $1 AND role = 'responsabile')",
            &[person.into()],
        )
        .await?
    {
        let (case_id, phase) = (r.uuid("case_id")?, r.u8("phase")?);
        let Some(deadline) = r.opt_instant("deadline")? else {
            continue;
        };
        let theirs = mine.get(&case_id).is_some_and(|p| p.contains(&phase));
        if theirs && deadline > now && deadline <= soon {
            let request_id = r.uuid("request_id")?;
            out.push(Notification {
                id: format!("request-expiring:{request_id}"),
                kind: "request-expiring".into(),
                case_id,
                phase,
                request_id: Some(request_id),
                message: format!(
                    "{}: scade il {}",
                    label("request-expiring"),
                    deadline
                        .with_timezone(&chrono_tz::Europe::Rome)
                        .format("%d/%m/%Y alle %H:%M")
                ),
                at: deadline,
            });
        }
    }
    for r in db
        .fetch_all(
            "SELECT o.notification_id, o.case_id, o.request_id, o.attempts, q.phase \
             FROM firmalom_outbox o JOIN rm_requests q ON CAST(q.request_id AS TEXT) = o.request_id \
             WHERE o.closed_at IS NULL AND o.delivered_at IS NULL AND o.attempts >= $2 \
             AND o.case_id IN (SELECT CAST(case_id AS TEXT) FROM rm_case_people \
             WHERE person = $1 AND role = 'responsabile')",
            &[person.into(), UNDELIVERED_AFTER_ATTEMPTS.into()],
        )
        .await?
    {
        let case_id = r.uuid_text("case_id")?;
        let phase = r.u8("phase")?;
        if !mine.get(&case_id).is_some_and(|p| p.contains(&phase)) {
            continue;
        }
        let id = r.text("notification_id")?;
        out.push(Notification {
            id: format!("notification-undeliverable:{id}"),
            kind: "notification-undeliverable".into(),
            case_id,
            phase,
            request_id: Some(r.uuid_text("request_id")?),
            message: format!(
                "{}: {} tentativi falliti; il destinatario potrebbe non averla ricevuta",
                label("notification-undeliverable"),
                r.i64("attempts")?
            ),
            at: now,
        });
    }
    out.sort_by(|a, b| b.at.cmp(&a.at).then(a.id.cmp(&b.id)));
    Ok(out)
}
