//! `diario demo`: a fresh embedded database with demo data written through the real command
//! handler — organisations, named staff with their grants, #UP cases in every state (open
//! with drafts, validated, pending confirmation, rejected, expired, confirmed and handed to
//! ATS, on paper, interrupted) and a resolved system failure — and the server started with
//! the development login (pick a person, no identity provider) turned on and announced.
//!
//! The data are dated in the last days before now: the handler runs on a movable clock set to
//! each step's instant, so every rule (the 15-day window, the one-day answer deadline) is the
//! production one.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use diario_commands::{Caller, CommandHandler, CommandOptions, HandlerError, Principal, TestClock};
use diario_domain::case::{RecordNotificationDelivery, RecordNotificationUndelivered};
use diario_domain::grants::{Grant, GrantCommand, GrantRole};
use diario_domain::organisations::OrganisationCommand;
use diario_domain::staff::StaffCommand;
use diario_domain::{
    CaseCommand, CaseEvent, FailureCommand, FailureScope, FigureId, FiscalCode, OrgKind,
    Organisation,
};
use diario_log::{Database, StoreError};
use serde_json::{Value, json};
use sha2::Digest;
use uuid::Uuid;

/// The ATS, ASST and provider of the demo.
pub const ATS: &str = "ATS-MILANO";
pub const ASST: &str = "ASST-NORD-MILANO";
pub const PROVIDER: &str = "COOP-SOLE";
/// The lead body of the Ambito, the beneficiary of the autonomia 2016 vouchers (seed 003).
pub const AMBITO: &str = "AMBITO-MILANO-CAPOFILA";

/// A person of the demo: fiscal code, given and family name, what they do (Italian), the
/// organisation and figures they are recorded with, and their grant.
pub struct DemoPerson {
    pub fiscal_code: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub role: &'static str,
    organisation: &'static str,
    figures: &'static [&'static str],
    grant: Option<(GrantRole, Option<&'static str>)>,
}

/// Everyone who can sign in to the demo.
pub const PEOPLE: [DemoPerson; 10] = [
    DemoPerson {
        fiscal_code: "RSSMRA85T10A562S",
        given_name: "Mario",
        family_name: "Rossi",
        role: "operatore ATS (ATS Milano)",
        organisation: ATS,
        figures: &[],
        grant: Some((GrantRole::AtsOperator, Some(ATS))),
    },
    DemoPerson {
        fiscal_code: "BNCLRA80A41F205G",
        given_name: "Chiara",
        family_name: "Bianchi",
        role: "responsabile ASST (fase I)",
        organisation: ASST,
        figures: &[],
        grant: None,
    },
    DemoPerson {
        fiscal_code: "GLLLCU88E10D969Z",
        given_name: "Luca",
        family_name: "Galli",
        role: "psicologo ASST",
        organisation: ASST,
        figures: &["psicologo"],
        grant: None,
    },
    DemoPerson {
        fiscal_code: "NREFNC90D52L219T",
        given_name: "Francesca",
        family_name: "Neri",
        role: "case manager ASST",
        organisation: ASST,
        figures: &["case_manager"],
        grant: None,
    },
    DemoPerson {
        fiscal_code: "VRDGPP70C15H501K",
        given_name: "Giuseppe",
        family_name: "Verdi",
        role: "responsabile dell'ente erogatore (fasi II–IV)",
        organisation: PROVIDER,
        figures: &[],
        grant: None,
    },
    DemoPerson {
        fiscal_code: "FRRSFN75M22B157W",
        given_name: "Stefano",
        family_name: "Ferri",
        role: "educatore professionale dell'ente erogatore",
        organisation: PROVIDER,
        figures: &["educatore_professionale"],
        grant: None,
    },
    DemoPerson {
        fiscal_code: "ENTDMN70C23F205U",
        given_name: "Elena",
        family_name: "Dominici",
        role: "amministratrice dell'ente erogatore",
        organisation: PROVIDER,
        figures: &[],
        grant: Some((GrantRole::EnteAdmin, Some(PROVIDER))),
    },
    DemoPerson {
        fiscal_code: "AUDTRS75B12F205U",
        given_name: "Teresa",
        family_name: "Audisio",
        role: "revisora (sola lettura)",
        organisation: ATS,
        figures: &[],
        grant: Some((GrantRole::Auditor, Some(ATS))),
    },
    DemoPerson {
        fiscal_code: "BRNPLA65S12L736K",
        given_name: "Paolo",
        family_name: "Bruni",
        role: "assistenza (malfunzionamenti, Art. 9)",
        organisation: ATS,
        figures: &[],
        grant: Some((GrantRole::Support, None)),
    },
    DemoPerson {
        fiscal_code: "ADMNTR80A01F205F",
        given_name: "Andrea",
        family_name: "Martini",
        role: "amministratore della piattaforma",
        organisation: ATS,
        figures: &[],
        grant: Some((GrantRole::PlatformAdmin, None)),
    },
];

/// The parent who confirms (a confirmer, not staff: never named in the service).
const PARENT: &str = "CLMMRC78P10F205F";

fn cf(s: &str) -> FiscalCode {
    FiscalCode::parse(s).expect("the demo's fiscal codes are valid")
}

const RESP_ASST: &str = "BNCLRA80A41F205G";
const RESP_PROVIDER: &str = "VRDGPP70C15H501K";
const PSICOLOGO: &str = "GLLLCU88E10D969Z";
const EDUCATORE: &str = "FRRSFN75M22B157W";
const CASE_MANAGER: &str = "NREFNC90D52L219T";
const OPERATOR: &str = "RSSMRA85T10A562S";
const SUPPORT: &str = "BRNPLA65S12L736K";
const ADMIN: &str = "ADMNTR80A01F205F";

/// Why the demo could not be written (a rule refused a step: a defect of the demo).
#[derive(Debug, thiserror::Error)]
#[error("demo step {step}: {source}")]
pub struct DemoError {
    step: String,
    #[source]
    source: HandlerError,
}

struct Seeder<'a> {
    handler: &'a CommandHandler,
    db: &'a Database,
    clock: &'a TestClock,
    admins: BTreeSet<FiscalCode>,
}

/// `date` at `hour:minute` in Rome.
fn at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    Rome.from_local_datetime(&date.and_hms_opt(hour, minute, 0).expect("time"))
        .earliest()
        .expect("a Rome instant")
        .with_timezone(&Utc)
}

impl Seeder<'_> {
    async fn principal(&self, who: &str) -> Result<Principal, DemoError> {
        self.handler
            .principal(cf(who), &self.admins)
            .await
            .map_err(|source| DemoError {
                step: format!("principal {who}"),
                source,
            })
    }

    /// `command` (JSON with its `type`) on case `case_id` by `who` at `when`; FirmaLOM receives
    /// its notifications at once.
    async fn case(
        &self,
        case_id: Uuid,
        who: &str,
        when: DateTime<Utc>,
        command: Value,
    ) -> Result<(), DemoError> {
        self.case_notified(case_id, who, when, command, true).await
    }

    /// [`Seeder::case`]; with `reachable` false FirmaLOM refuses the notifications (an unknown
    /// recipient) and the dispatcher records them undelivered.
    async fn case_notified(
        &self,
        case_id: Uuid,
        who: &str,
        when: DateTime<Utc>,
        command: Value,
        reachable: bool,
    ) -> Result<(), DemoError> {
        self.clock.set(when);
        // Art. 1: a phase closes with its output, and the PDI caps come from the PDI: the demo
        // records that document (a real PDF, stored by hash) just before.
        let output = match command["type"].as_str() {
            Some("ClosePhaseDiary") => command["phase"].as_u64(),
            Some("SetPdiCaps") => Some(2),
            _ => None,
        };
        if let Some(phase) = output {
            self.output(case_id, who, when, phase).await?;
        }
        let step = format!("{} by {who}", command["type"]);
        let command: CaseCommand = serde_json::from_value(command).expect("a demo command");
        let principal = self.principal(who).await?;
        let caller = if who == PARENT {
            Caller::Recipient(cf(PARENT))
        } else {
            Caller::Person(&principal)
        };
        let outcome = self
            .handler
            .execute_case(case_id, &command, &caller, &CommandOptions::new())
            .await
            .map_err(|source| DemoError { step, source })?;
        // FirmaLOM receives each notification at once in the demo: the dispatcher's report.
        for e in &outcome.events {
            let (CaseEvent::ConfirmationRequested { request_id, at, .. }
            | CaseEvent::ConfirmationResent { request_id, at, .. }) = e
            else {
                continue;
            };
            let delivery = if reachable {
                CaseCommand::RecordNotificationDelivery(RecordNotificationDelivery {
                    request_id: *request_id,
                    sent_at: *at,
                    received_at: when,
                })
            } else {
                CaseCommand::RecordNotificationUndelivered(RecordNotificationUndelivered {
                    request_id: *request_id,
                    sent_at: *at,
                    attempts: 1,
                    last_error: "FirmaLOM answered 404 Not Found".to_owned(),
                })
            };
            self.handler
                .execute_case(case_id, &delivery, &Caller::System, &CommandOptions::new())
                .await
                .map_err(|source| DemoError {
                    step: "RecordNotificationDelivery by the dispatcher".to_owned(),
                    source,
                })?;
        }
        Ok(())
    }
}

impl Seeder<'_> {
    /// Records the #UP document that closes `phase` (a one-page PDF kept in `documents`) as
    /// `who`, unless the case has one.
    async fn output(
        &self,
        case_id: Uuid,
        who: &str,
        when: DateTime<Utc>,
        phase: u64,
    ) -> Result<(), DemoError> {
        let (kind, title) = match phase {
            1 => (
                "progetto_individualizzato",
                "Progetto individualizzato (PI)",
            ),
            2 => ("piano_di_intervento", "Piano di intervento (PDI)"),
            3 => (
                "relazione_valutazione_finale",
                "Relazione di valutazione finale degli esiti del percorso",
            ),
            _ => ("relazione_follow_up", "Relazione di follow-up"),
        };
        let wrap = |step: &str| {
            let step = format!("{step} {kind} by {who}");
            move |source| DemoError { step, source }
        };
        let (state, _) = self
            .handler
            .load_case(case_id)
            .await
            .map_err(wrap("load before"))?;
        // Only #UP's outputs, and once (another measure records its own documents).
        let known = state.file.as_ref().is_some_and(|f| {
            self.handler
                .catalogue()
                .get(&f.measure_id)
                .is_some_and(|m| m.document(kind).is_some())
        });
        if !known
            || state
                .file
                .as_ref()
                .is_some_and(|f| f.latest_document(kind).is_some())
        {
            return Ok(());
        }
        self.document(case_id, who, when, kind, title).await?;
        Ok(())
    }

    /// Records a document of `kind` (a one-page PDF kept in `documents`) as `who` at `when`;
    /// returns its id.
    async fn document(
        &self,
        case_id: Uuid,
        who: &str,
        when: DateTime<Utc>,
        kind: &str,
        title: &str,
    ) -> Result<Uuid, DemoError> {
        self.clock.set(when);
        let wrap = |step: &str| {
            let step = format!("{step} {kind} by {who}");
            move |source| DemoError { step, source }
        };
        let lines = [
            format!("Pratica {case_id}"),
            "Documento dimostrativo: dati inventati, nessuna persona reale.".to_owned(),
            format!(
                "Redatto il {}",
                when.with_timezone(&Rome).format("%d/%m/%Y")
            ),
        ];
        let bytes = crate::documents::simple_pdf(title, &lines);
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        crate::paper::store_document(self.db, &sha, "application/pdf", &bytes, case_id, &cf(who))
            .await
            .map_err(|e| DemoError {
                step: format!("store {kind}"),
                source: HandlerError::Store(StoreError::Corrupt(e.to_string())),
            })?;
        let document_id = Uuid::now_v7();
        let command = CaseCommand::AddDocument(diario_domain::case::AddDocument {
            document_id,
            kind: kind.to_owned(),
            title: None,
            document_sha256: diario_domain::Sha256Hex::parse(&sha).expect("a SHA-256"),
            media_type: "application/pdf".to_owned(),
        });
        let principal = self.principal(who).await?;
        self.handler
            .execute_case(
                case_id,
                &command,
                &Caller::Person(&principal),
                &CommandOptions::new(),
            )
            .await
            .map_err(wrap("AddDocument"))?;
        Ok(document_id)
    }

    /// Phase I closed at `closed` and confirmed by the parent at `confirmed` (so handed to ATS),
    /// then phase II opened at `opened` with the educatore enabled by the provider.
    async fn handed_to_ats_then_phase_two(
        &self,
        case_id: Uuid,
        closed: DateTime<Utc>,
        confirmed: DateTime<Utc>,
        opened: DateTime<Utc>,
    ) -> Result<(), DemoError> {
        let r = Uuid::now_v7();
        let steps = [
            (
                RESP_ASST,
                closed,
                json!({ "type": "ClosePhaseDiary", "phase": 1, "request_id": r }),
            ),
            (
                PARENT,
                confirmed,
                json!({ "type": "AnswerConfirmation", "request_id": r,
                "answer": { "outcome": "confirmed" } }),
            ),
            (
                RESP_PROVIDER,
                opened,
                json!({ "type": "OpenPhaseDiary", "phase": 2 }),
            ),
            (
                RESP_PROVIDER,
                opened,
                json!({ "type": "EnableProfessional", "ente": "provider",
                "professional": EDUCATORE, "figures": ["educatore_professionale"] }),
            ),
        ];
        for (who, when, command) in steps {
            self.case(case_id, who, when, command).await?;
        }
        Ok(())
    }
}

fn slot(date: NaiveDate, start: &str, end: &str) -> Value {
    json!({ "date": date.to_string(), "start": start, "end": end })
}

/// Writes the demo data through `handler` (whose clock is `clock`), ending with the clock at
/// `now`. Returns the case ids with a description of each.
pub async fn seed(
    handler: &CommandHandler,
    db: &Database,
    clock: &TestClock,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, &'static str)>, DemoError> {
    let admins: BTreeSet<FiscalCode> = [cf(ADMIN)].into_iter().collect();
    let s = Seeder {
        handler,
        db,
        clock,
        admins,
    };
    let today = now.with_timezone(&Rome).date_naive();
    let day = |n: i64| today - Duration::days(n);
    let wrap = |step: &str| {
        let step = step.to_owned();
        move |source| DemoError { step, source }
    };
    let opts = CommandOptions::new;
    clock.set(at(day(14), 8, 0));
    let admin = cf(ADMIN);

    // Organisations, staff, grants.
    let provider = Organisation {
        code: PROVIDER.into(),
        name: "Cooperativa Sociale Il Sole".into(),
        kind: OrgKind::Provider,
        ats: Some(ATS.into()),
    };
    handler
        .execute_organisation(
            &OrganisationCommand::RegisterOrganisation(provider),
            Some(&admin),
            "platform_admin",
            &opts(),
        )
        .await
        .map_err(wrap("register the provider"))?;
    for p in &PEOPLE {
        let command = StaffCommand::RecordStaffMember {
            fiscal_code: cf(p.fiscal_code),
            given_name: p.given_name.into(),
            family_name: p.family_name.into(),
            email: None,
            organisation: p.organisation.into(),
            figures: p.figures.iter().map(|f| FigureId::new(*f)).collect(),
        };
        handler
            .execute_staff(&command, Some(&admin), "platform_admin", &opts())
            .await
            .map_err(wrap(p.fiscal_code))?;
        if let Some((role, scope)) = p.grant {
            let grant = Grant {
                fiscal_code: cf(p.fiscal_code),
                role,
                scope: scope.map(str::to_owned),
            };
            handler
                .execute_grant(&GrantCommand::AddGrant(grant), Some(&admin), &opts())
                .await
                .map_err(wrap(p.fiscal_code))?;
        }
    }

    // A regional system failure five days ago, resolved the next day (Art. 9).
    let support = s.principal(SUPPORT).await?;
    clock.set(at(day(5), 9, 30));
    let failure_id = Uuid::now_v7();
    let failure = FailureCommand::DeclareSystemFailure {
        failure_id,
        scope: FailureScope::Regional,
        ticket: "INC-2026-0042".into(),
        description: "Sistema informativo regionale non raggiungibile".into(),
        began_at: at(day(5), 8, 0),
        ticket_opened_at: Some(at(day(5), 8, 20)),
    };
    handler
        .execute_failure(&failure, &support.support_actor(), &opts())
        .await
        .map_err(wrap("declare the failure"))?;
    clock.set(at(day(4), 12, 0));
    let resolved = FailureCommand::ResolveSystemFailure {
        failure_id,
        resolved_at: at(day(4), 11, 0),
    };
    handler
        .execute_failure(&resolved, &support.support_actor(), &opts())
        .await
        .map_err(wrap("resolve the failure"))?;

    let mut cases = Vec::new();
    let specs: [(&str, bool, &str); 7] = [
        (
            "UP-DEMO-001",
            true,
            "fase I in corso: prestazioni in bozza e validate",
        ),
        (
            "UP-DEMO-002",
            true,
            "fase I confermata e consegnata all'ATS; fase II: notifica FirmaLOM non consegnata",
        ),
        (
            "UP-DEMO-003",
            true,
            "fase I rifiutata dalla famiglia: da correggere",
        ),
        (
            "UP-DEMO-004",
            true,
            "fase I senza risposta: richiesta scaduta, da inviare di nuovo",
        ),
        (
            "UP-DEMO-005",
            false,
            "famiglia senza FirmaLOM: diario cartaceo da firmare",
        ),
        ("UP-DEMO-006", true, "percorso interrotto dal case manager"),
        (
            "UP-DEMO-007",
            true,
            "fase III: prestazioni confermate una per una (costi)",
        ),
    ];
    for (n, (pseudonym, enrolled, description)) in specs.into_iter().enumerate() {
        let case_id = Uuid::now_v7();
        let opened = at(day(12), 9, 0) + Duration::minutes(n as i64);
        s.case(
            case_id,
            OPERATOR,
            opened,
            json!({
                "type": "OpenCase", "case_id": case_id, "measure_id": "up",
                "ats": ATS, "asst": ASST, "provider": PROVIDER,
                "responsabile_asst": RESP_ASST, "responsabile_provider": RESP_PROVIDER,
                "case_manager": CASE_MANAGER,
                "recipient": { "pseudonym": pseudonym, "minor": true,
                               "firmalom_enrolled": enrolled, "confirmers": [PARENT] }
            }),
        )
        .await?;
        let t = at(day(12), 10, 0);
        s.case(
            case_id,
            RESP_ASST,
            t,
            json!({ "type": "OpenPhaseDiary", "phase": 1 }),
        )
        .await?;
        s.case(
            case_id,
            RESP_ASST,
            t,
            json!({ "type": "EnableProfessional", "ente": "asst",
            "professional": PSICOLOGO, "figures": ["psicologo"] }),
        )
        .await?;
        let entry = |d: i64, start: &str, end: &str, service: &str| {
            json!({ "type": "RecordEntry", "entry_id": Uuid::now_v7(), "phase": 1,
                    "figure": "psicologo", "service": service, "slot": slot(day(d), start, end) })
        };
        // One psicologo for every case: each case gets its own hours, never two at once.
        let hour = |h: usize| format!("{:02}:00", h + n);
        s.case(
            case_id,
            PSICOLOGO,
            at(day(10), 18, 0),
            entry(10, &hour(8), &hour(9), "colloquio_valutazione"),
        )
        .await?;
        s.case(
            case_id,
            PSICOLOGO,
            at(day(8), 18, 0),
            entry(8, &hour(8), &hour(9), "stesura_pi"),
        )
        .await?;
        let close = |request_id: Uuid| json!({ "type": "ClosePhaseDiary", "phase": 1, "request_id": request_id });
        let answer = |request_id: Uuid, outcome: Value| {
            json!({ "type": "AnswerConfirmation",
            "request_id": request_id, "answer": outcome })
        };
        // Cases 0–4 have their phase I entries validated a week ago.
        if n <= 4 {
            s.case(
                case_id,
                RESP_ASST,
                at(day(7), 17, 0),
                json!({ "type": "ValidateEntries", "phase": 1 }),
            )
            .await?;
        }
        match n {
            0 => {
                s.case(
                    case_id,
                    PSICOLOGO,
                    at(day(1), 18, 0),
                    entry(1, "10:00", "11:00", "colloquio_valutazione"),
                )
                .await?;
            }
            1 => {
                s.handed_to_ats_then_phase_two(
                    case_id,
                    at(day(7), 17, 5),
                    at(day(7), 20, 0),
                    at(day(6), 9, 0),
                )
                .await?;
                s.case(
                    case_id,
                    EDUCATORE,
                    at(day(3), 18, 0),
                    json!({ "type": "RecordEntry",
                    "entry_id": Uuid::now_v7(), "phase": 2, "figure": "educatore_professionale",
                    "service": "osservazione", "slot": slot(day(3), "15:00", "17:00") }),
                )
                .await?;
                s.case(
                    case_id,
                    RESP_PROVIDER,
                    now - Duration::hours(3),
                    json!({ "type": "ValidateEntries", "phase": 2 }),
                )
                .await?;
                // FirmaLOM does not know the family's new phone: the notification is undelivered.
                s.case_notified(
                    case_id,
                    RESP_PROVIDER,
                    now - Duration::hours(3),
                    json!({ "type": "ClosePhaseDiary",
                    "phase": 2, "request_id": Uuid::now_v7() }),
                    false,
                )
                .await?;
            }
            2 => {
                let r = Uuid::now_v7();
                s.case(case_id, RESP_ASST, at(day(2), 17, 0), close(r))
                    .await?;
                s.case(
                    case_id,
                    PARENT,
                    at(day(2), 20, 0),
                    answer(
                        r,
                        json!({ "outcome": "rejected",
                    "reason": "il colloquio di valutazione è durato mezz'ora, non un'ora" }),
                    ),
                )
                .await?;
            }
            3 => {
                let r = Uuid::now_v7();
                s.case(case_id, RESP_ASST, at(day(4), 17, 0), close(r))
                    .await?;
                // No answer within the day: the scheduler's expiry, recorded by the system.
                s.clock.set(at(day(3), 18, 0));
                handler
                    .execute_case(
                        case_id,
                        &serde_json::from_value(json!({ "type": "ExpireConfirmationRequest",
                        "request_id": r }))
                        .expect("command"),
                        &Caller::System,
                        &opts(),
                    )
                    .await
                    .map_err(wrap("expire"))?;
            }
            4 => {
                s.case(case_id, RESP_ASST, at(day(2), 17, 0), close(Uuid::now_v7()))
                    .await?;
                s.case(
                    case_id,
                    RESP_ASST,
                    at(day(2), 17, 5),
                    json!({ "type": "GeneratePaperDiary",
                    "paper_id": Uuid::now_v7(), "phase": 1 }),
                )
                .await?;
            }
            5 => {
                s.case(
                    case_id,
                    CASE_MANAGER,
                    at(day(6), 11, 0),
                    json!({ "type": "InterruptPathway", "cause": "relocation",
                    "reason": "trasferimento della famiglia fuori regione" }),
                )
                .await?;
            }
            _ => {
                s.case(
                    case_id,
                    RESP_ASST,
                    at(day(9), 17, 0),
                    json!({ "type": "ValidateEntries", "phase": 1 }),
                )
                .await?;
                s.handed_to_ats_then_phase_two(
                    case_id,
                    at(day(9), 17, 5),
                    at(day(9), 19, 0),
                    at(day(8), 9, 0),
                )
                .await?;
                s.case(
                    case_id,
                    RESP_PROVIDER,
                    at(day(8), 9, 5),
                    json!({ "type": "SetPdiCaps", "caps": [
                    { "service": "contrasto_dispersione_scolastica", "max_minutes": 1200 }],
                    "total_max_minutes": 2400 }),
                )
                .await?;
                s.case(
                    case_id,
                    RESP_PROVIDER,
                    at(day(8), 9, 10),
                    json!({ "type": "OpenPhaseDiary", "phase": 3 }),
                )
                .await?;
                for d in [6, 5, 4] {
                    let id = Uuid::now_v7();
                    s.case(
                        case_id,
                        EDUCATORE,
                        at(day(d), 18, 0),
                        json!({ "type": "RecordEntry",
                        "entry_id": id, "phase": 3, "figure": "educatore_professionale",
                        "service": "contrasto_dispersione_scolastica",
                        "slot": slot(day(d), "15:00", "16:30") }),
                    )
                    .await?;
                    let r = Uuid::now_v7();
                    s.case(
                        case_id,
                        RESP_PROVIDER,
                        at(day(d), 18, 30),
                        json!({ "type": "RequestConfirmation",
                        "request_id": r, "phase": 3, "entry_ids": [id] }),
                    )
                    .await?;
                    s.case(
                        case_id,
                        PARENT,
                        at(day(d), 20, 0),
                        answer(r, json!({ "outcome": "confirmed" })),
                    )
                    .await?;
                }
            }
        }
        cases.push((case_id, description));
    }
    autonomia_cases(&s, &mut cases).await?;
    ageing_plan(&s, today).await?;
    clock.set(now);
    Ok(cases)
}

/// Two pathways of the voucher measure autonomia 2016 (seed 003), written in its own calendar
/// (2017–2018: the clock moves there and back): one realised — PI, 70 days of service confirmed
/// by the family, the final report, the objectives declared, the formal check — and one
/// suspended for 30 days with the extension authorised, then interrupted after its PI.
async fn autonomia_cases(
    s: &Seeder<'_>,
    cases: &mut Vec<(Uuid, &'static str)>,
) -> Result<(), DemoError> {
    let admin = cf(ADMIN);
    let lead = Organisation {
        code: AMBITO.into(),
        name: "Comune di Milano, ente capofila dell'Ambito".into(),
        kind: OrgKind::AmbitoLead,
        ats: Some(ATS.into()),
    };
    s.handler
        .execute_organisation(
            &OrganisationCommand::RegisterOrganisation(lead),
            Some(&admin),
            "platform_admin",
            &CommandOptions::new(),
        )
        .await
        .map_err(|source| DemoError {
            step: "register the Ambito".into(),
            source,
        })?;
    let d = |y: i32, m: u32, dd: u32| NaiveDate::from_ymd_opt(y, m, dd).expect("a date");
    let specs: [(&str, bool, &'static str); 2] = [
        (
            "AUT-DEMO-001",
            true,
            "autonomia 2016: percorso realizzato (70 accessi), voucher interamente dovuto",
        ),
        (
            "AUT-DEMO-002",
            false,
            "autonomia 2016: sospeso 30 giorni con proroga autorizzata, poi interrotto dopo il PI",
        ),
    ];
    for (n, (pseudonym, realised, description)) in specs.into_iter().enumerate() {
        let case_id = Uuid::now_v7();
        s.case(
            case_id,
            OPERATOR,
            at(d(2017, 1, 20), 9, u32::try_from(n).unwrap_or(0)),
            json!({
                "type": "OpenCase", "case_id": case_id, "measure_id": "autonomia_2016",
                "ats": ATS, "asst": AMBITO, "provider": PROVIDER,
                "responsabile_asst": RESP_ASST, "responsabile_provider": RESP_PROVIDER,
                "case_manager": CASE_MANAGER,
                "recipient": { "pseudonym": pseudonym, "minor": false,
                               "firmalom_enrolled": true, "confirmers": [PARENT] },
                "voucher": { "intensity": "maggiore_intensita", "start": "2017-02-01" }
            }),
        )
        .await?;
        s.case(
            case_id,
            RESP_ASST,
            at(d(2017, 2, 1), 9, 0),
            json!({ "type": "OpenPhaseDiary", "phase": 1 }),
        )
        .await?;
        s.document(
            case_id,
            RESP_ASST,
            at(d(2017, 2, 20), 10, 0),
            "progetto_individuale",
            "Progetto Individuale (PI)",
        )
        .await?;
        let opened = at(d(2017, 2, 21), 9, 0);
        for command in [
            json!({ "type": "OpenPhaseDiary", "phase": 2 }),
            json!({ "type": "OpenPhaseDiary", "phase": 3 }),
            json!({ "type": "EnableProfessional", "ente": "provider",
                    "professional": EDUCATORE, "figures": ["educatore_professionale"] }),
            json!({ "type": "SetPdiCaps", "caps": [
                    { "service": "autonomia_personale", "max_minutes": 9000 }] }),
        ] {
            s.case(case_id, RESP_PROVIDER, opened, command).await?;
        }
        if realised {
            let mut ids = Vec::new();
            for i in 0..70 {
                let day = d(2017, 4, 14) + Duration::days(i);
                let id = Uuid::now_v7();
                s.case(
                    case_id,
                    EDUCATORE,
                    at(day, 18, 0),
                    json!({ "type": "RecordEntry", "entry_id": id, "phase": 3,
                            "figure": "educatore_professionale", "service": "autonomia_personale",
                            "slot": slot(day, "09:00", "11:00") }),
                )
                .await?;
                ids.push(id);
            }
            let r = Uuid::now_v7();
            s.case(
                case_id,
                RESP_PROVIDER,
                at(d(2017, 6, 23), 9, 0),
                json!({ "type": "RequestConfirmation", "request_id": r, "phase": 3,
                        "entry_ids": ids }),
            )
            .await?;
            s.case(
                case_id,
                PARENT,
                at(d(2017, 6, 23), 20, 0),
                json!({ "type": "AnswerConfirmation", "request_id": r,
                        "answer": { "outcome": "confirmed" } }),
            )
            .await?;
            let report = s
                .document(
                    case_id,
                    CASE_MANAGER,
                    at(d(2018, 1, 20), 10, 0),
                    "relazione_finale_individuale",
                    "Relazione finale individuale (Allegato O)",
                )
                .await?;
            s.case(
                case_id,
                CASE_MANAGER,
                at(d(2018, 1, 20), 11, 0),
                json!({ "type": "DeclareObjectives", "achieved": true, "document_id": report }),
            )
            .await?;
            s.case(
                case_id,
                CASE_MANAGER,
                at(d(2018, 1, 22), 9, 0),
                json!({ "type": "RecordFormalCheck", "passed": true,
                        "note": "calendari e diari completi e coerenti" }),
            )
            .await?;
        } else {
            let steps = [
                (
                    CASE_MANAGER,
                    at(d(2017, 3, 2), 9, 0),
                    json!({ "type": "SuspendPathway", "from": "2017-03-01",
                            "reason": "ricovero ospedaliero" }),
                ),
                (
                    CASE_MANAGER,
                    at(d(2017, 3, 31), 9, 0),
                    json!({ "type": "ReactivatePathway", "suspended_from": "2017-03-01",
                            "on": "2017-03-31" }),
                ),
                (
                    OPERATOR,
                    at(d(2017, 4, 3), 10, 0),
                    json!({ "type": "AuthoriseSuspension", "suspended_from": "2017-03-01" }),
                ),
                (
                    CASE_MANAGER,
                    at(d(2017, 5, 2), 9, 0),
                    json!({ "type": "InterruptPathway", "cause": "relocation",
                            "reason": "trasferimento fuori regione" }),
                ),
            ];
            for (who, when, command) in steps {
                s.case(case_id, who, when, command).await?;
            }
        }
        cases.push((case_id, description));
    }
    Ok(())
}

/// The partner of the demo's active-ageing plan (seed 004).
pub const PLAN_PARTNER: &str = "ASS-ARGENTO-VIVO";

/// A plan of the active-ageing measure (seed 004) running since ten months ago: Stefano Ferri
/// (employee of the lead, €34,400 a year: €20.00/h) and Luca Galli (external, €35.00/h) with
/// their cost records; the two months before this one filled and signed, Stefano's
/// countersigned by Giuseppe Verdi (the plan's representative), Luca's last month still to
/// countersign; this month's first days filled, not signed.
async fn ageing_plan(s: &Seeder<'_>, today: NaiveDate) -> Result<(), DemoError> {
    use diario_domain::plan::{Action, Financing, PlanCommand, PlanPerson};
    use diario_domain::staff_cost::{AnnualCost, CostBasis, PlanCosts};
    use diario_domain::timesheet::{Month, TimesheetCommand};
    use diario_domain::values::Cents;
    use diario_domain::{Actor, ActorRole, ServiceId};
    let wrap = |step: &str| {
        let step = step.to_owned();
        move |source| DemoError { step, source }
    };
    let this = Month::of(today);
    let start = this.shift(-10).first_day().expect("a month");
    let end = this.shift(14).first_day().expect("a month") - Duration::days(1);
    s.clock.set(at(start, 9, 0));
    let admin = cf(ADMIN);
    s.handler
        .execute_organisation(
            &OrganisationCommand::RegisterOrganisation(Organisation {
                code: PLAN_PARTNER.into(),
                name: "Associazione Argento Vivo".into(),
                kind: OrgKind::PlanPartner,
                ats: Some(ATS.into()),
            }),
            Some(&admin),
            "platform_admin",
            &CommandOptions::new(),
        )
        .await
        .map_err(wrap("register the plan partner"))?;
    let operator = Actor::person(cf(OPERATOR), ActorRole::AtsOperator);
    let plan_id = Uuid::now_v7();
    let opts = CommandOptions::new;
    let action = |id: &str, name: &str, area: &str| Action {
        id: id.into(),
        name: name.into(),
        area: ServiceId::new(area),
    };
    let open = PlanCommand::OpenPlan {
        plan_id,
        measure_id: diario_domain::MeasureId::new("invecchiamento_attivo_2024"),
        title: "Argento attivo – Milano Nord".into(),
        ats: ATS.into(),
        lead: PROVIDER.into(),
        partners: vec![PLAN_PARTNER.into()],
        actions: vec![
            action(
                "A1",
                "Laboratori intergenerazionali",
                "socializzazione_inclusione",
            ),
            action("B1", "Ginnastica dolce e benessere", "autonomia_benessere"),
        ],
        start,
        end,
        budget: PlanCosts {
            staff: Cents(6_000_000),
            other: Cents(2_000_000),
            equipment: Cents(400_000),
            volunteers: Cents(1_000_000),
            cash: Cents(1_000_000),
            ..PlanCosts::default()
        },
        countersigners: vec![cf(RESP_PROVIDER)],
    };
    s.handler
        .execute_plan(plan_id, &open, &operator, &opts())
        .await
        .map_err(wrap("open the plan"))?;
    for (who, organisation, figure) in [
        (EDUCATORE, PROVIDER, "personale_interno"),
        (PSICOLOGO, PLAN_PARTNER, "personale_esterno"),
    ] {
        let assign = PlanCommand::AssignPerson(PlanPerson {
            person: cf(who),
            organisation: organisation.into(),
            figure: FigureId::new(figure),
            financing: Financing::Contribution,
        });
        s.handler
            .execute_plan(plan_id, &assign, &operator, &opts())
            .await
            .map_err(wrap("assign a person to the plan"))?;
    }
    for (who, organisation, basis) in [
        (
            EDUCATORE,
            PROVIDER,
            CostBasis::Employee {
                annual: AnnualCost {
                    a1_monthly_pay: Cents(2_580_000),
                    b1_inps: Cents(860_000),
                    ..AnnualCost::default()
                },
                part_time_percent: 100,
            },
        ),
        (
            PSICOLOGO,
            PLAN_PARTNER,
            CostBasis::External {
                hourly_cents: Cents(3500),
            },
        ),
    ] {
        let record = diario_domain::cost_records::RecordCost {
            record_id: Uuid::now_v7(),
            organisation: organisation.into(),
            valid_from: start,
            basis,
            document: "Cedolini e Certificazione Unica / contratto di incarico".into(),
        };
        s.handler
            .execute_cost(&cf(who), &record, &operator, &opts())
            .await
            .map_err(wrap("record a cost"))?;
    }
    let representative = Actor::person(cf(RESP_PROVIDER), ActorRole::Staff);
    for (back, sign) in [(-2, true), (-1, true), (0, false)] {
        let month = this.shift(back);
        let first = month.first_day().expect("a month");
        let last = month.last_day().expect("a month");
        let days: Vec<(NaiveDate, &str, &str, u32)> = [
            (2, "A1", "Laboratorio di memoria e racconto", 240),
            (3, "B1", "Ginnastica dolce al centro anziani", 180),
            (9, "A1", "Laboratorio digitale nonni e nipoti", 300),
        ]
        .into_iter()
        .map(|(d, a, t, m)| (first + Duration::days(d), a, t, m))
        .filter(|(d, ..)| *d < today && *d <= last)
        .collect();
        for who in [EDUCATORE, PSICOLOGO] {
            let person = cf(who);
            let me = Actor::person(person.clone(), ActorRole::Staff);
            for (date, action, activity, minutes) in &days {
                s.clock.set(at(*date, 18, 0));
                let day = TimesheetCommand::RecordDay {
                    row_id: Uuid::now_v7(),
                    plan_id,
                    action: (*action).into(),
                    activity: (*activity).into(),
                    date: *date,
                    minutes: *minutes,
                };
                s.handler
                    .execute_timesheet(&person, month, &day, &me, &opts())
                    .await
                    .map_err(wrap("record a timesheet day"))?;
            }
            if !sign || days.is_empty() {
                continue;
            }
            s.clock.set(at(last, 19, 0));
            s.handler
                .execute_timesheet(
                    &person,
                    month,
                    &TimesheetCommand::SignTimesheet,
                    &me,
                    &opts(),
                )
                .await
                .map_err(wrap("sign a timesheet"))?;
            // Luca's last month waits for the representative's countersignature.
            if who == PSICOLOGO && back == -1 {
                continue;
            }
            s.clock.set(at(last + Duration::days(1), 9, 0));
            s.handler
                .execute_timesheet(
                    &person,
                    month,
                    &TimesheetCommand::Countersign { plan_id },
                    &representative,
                    &opts(),
                )
                .await
                .map_err(wrap("countersign a timesheet"))?;
        }
    }
    Ok(())
}
