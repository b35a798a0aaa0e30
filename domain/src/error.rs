//! Domain errors: one variant per rule, each with a stable machine code (for
//! `application/problem+json`) and a bilingual message naming the rule and its article.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::checklist::Checklist;
use crate::values::{Ente, FigureId, FiscalCode, MeasureId, Phase, ServiceId};

/// Why a command was refused. Nothing is recorded when a command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    // ---- case lifecycle -------------------------------------------------------------------
    /// The command needs an opened case.
    #[error("la pratica non esiste")]
    CaseNotOpened,
    /// A case is opened once.
    #[error("la pratica è già stata aperta")]
    CaseAlreadyOpened,
    /// The measure given in the context is not the one the case was opened under.
    #[error("la pratica appartiene alla misura {case} e non a {given}")]
    MeasureMismatch {
        /// Measure of the case.
        case: MeasureId,
        /// Measure given in the context.
        given: MeasureId,
    },
    /// The measure has no such phase.
    #[error("la misura non prevede la fase {0}")]
    PhaseNotInMeasure(Phase),
    /// Art. 6: the recipient (or family) must have at least one confirmer.
    #[error("Art. 6: indicare chi conferma le ore (destinatario o famiglia)")]
    NoConfirmers,
    /// Art. 10: the recipient is recorded by a pseudonym, never by name or fiscal code.
    #[error("Art. 10: lo pseudonimo del destinatario non è valido: {0}")]
    InvalidPseudonym(String),
    /// Art. 3: the case names an organisation the registry does not hold, or of the wrong kind.
    #[error(transparent)]
    Organisation(#[from] crate::organisations::OrganisationError),
    /// Art. 6: once the pathway is interrupted nothing else is recorded.
    #[error("Art. 6: il percorso è stato chiuso per interruzione")]
    PathwayClosed,

    // ---- voucher measures (seed 003) ---------------------------------------------------------
    /// A voucher rule (validity, suspension, intensity).
    #[error(transparent)]
    Voucher(#[from] crate::voucher::VoucherError),
    /// Seed 003 §10: a case under a voucher measure holds a voucher of one intensity.
    #[error("voucher.intensity: la misura prevede un voucher: indicare l'intensità del percorso")]
    VoucherRequired,
    /// The measure has no voucher (no intensity, suspension, objectives).
    #[error("voucher: la misura del caso non prevede un voucher")]
    VoucherNotApplicable,
    /// Seed 004: a measure of territorial plans (`actual_staff_cost`) has no recipient's
    /// pathway: its hours go to the people's timesheets of a plan (`POST /v1/plans`).
    #[error(
        "measure_id: la misura {0} si attua con piani di azione territoriale e fogli ore, non con pratiche di un destinatario"
    )]
    PlanMeasure(MeasureId),
    /// Seed 003 §9 D–E: only the case's case manager communicates and declares this.
    #[error("§9 D: solo il case manager del caso può comunicarlo")]
    NotTheCaseManager,
    /// Seed 003 §9 E: no suspension is open to reactivate.
    #[error("§9 E: nessuna sospensione aperta da riattivare")]
    NoOpenSuspension,
    /// Seed 003 §9 E: no suspension began on that day.
    #[error("suspended_from: nessuna sospensione iniziata il {0}")]
    SuspensionNotFound(chrono::NaiveDate),
    /// Seed 003 §9 E: the suspension's extension is already authorised.
    #[error("§9 E: la proroga per la sospensione del {0} è già autorizzata")]
    SuspensionAlreadyAuthorised(chrono::NaiveDate),
    /// Seed 003 §9 D, §12: the objectives are declared with the final individual report.
    #[error("document_id: la dichiarazione degli obiettivi richiede la relazione finale ({0})")]
    FinalReportRequired(String),

    // ---- roles (Art. 4) -------------------------------------------------------------------
    /// Art. 4: the action must be attributable to a person's fiscal code.
    #[error("Art. 4: l'azione deve essere riconducibile a una persona (SPID)")]
    PersonRequired,
    /// Only ATS or a responsabile records the confirmers' FirmaLOM enrolment (Art. 6).
    #[error("Art. 6: solo l'ATS o un responsabile registra l'adesione a FirmaLOM")]
    EnrolmentChangeNotAllowed,
    /// Only an ATS operator registers a new case (Art. 4: the responsabile is entered by ATS).
    #[error("Art. 4: solo l'ATS inserisce la pratica")]
    NotAtsOperator,
    /// Art. 4: only the ente (its admin), ATS or the current responsabile changes the responsabile.
    #[error("Art. 4: solo l'ente, l'ATS o il responsabile in carica può cambiare il responsabile")]
    ResponsabileChangeNotAllowed(Ente),
    /// Art. 4: only the responsabile of the phase opens, validates and closes its diary.
    #[error(
        "Art. 4: solo il responsabile della fase {phase} ({ente}) può aprire, validare o chiudere il diario"
    )]
    NotPhaseResponsabile {
        /// The phase.
        phase: Phase,
        /// The ente whose responsabile is required.
        ente: Ente,
    },
    /// Art. 4: only the ente's responsabile enables or disables its professionals.
    #[error("Art. 4: solo il responsabile dell'ente ({0}) abilita i professionisti")]
    NotEnteResponsabile(Ente),
    /// Art. 4-5: only enabled professionals record hours.
    #[error(
        "Art. 4-5: il professionista {professional} non è abilitato sulla pratica per la fase {phase}"
    )]
    ProfessionalNotEnabled {
        /// The professional.
        professional: FiscalCode,
        /// The phase.
        phase: Phase,
    },
    /// Art. 5: an entry belongs to its author's CF; nobody else changes it.
    #[error("Art. 5: la stringa è associata al CF di {author} e non è modificabile da altri")]
    NotEntryAuthor {
        /// The author.
        author: FiscalCode,
    },
    /// Art. 6: only the case manager, or the responsabile of an ente that still keeps a phase
    /// not handed to ATS, records the interruption.
    #[error(
        "Art. 6: la chiusura del percorso la registra il case manager o il responsabile di una fase non ancora trasmessa ad ATS"
    )]
    InterruptionNotAllowed,
    /// Art. 6: only the recipient or the family member on file answers a confirmation request.
    #[error("Art. 6: solo il destinatario o la famiglia indicati possono rispondere")]
    NotAConfirmer,
    /// Art. 9: only the support desk declares and resolves system failures.
    #[error("Art. 9: solo l'assistenza registra i failure di sistema")]
    NotSupportDesk,

    // ---- catalogue coherence (Art. 5 ii-iii) ---------------------------------------------------
    /// Art. 5 (ii): the figure must be one of the measure's figures.
    #[error("Art. 5: la figura professionale {0} non è prevista dalla misura")]
    FigureNotInCatalogue(FigureId),
    /// Art. 5 (iii): the service must be one of the measure's services.
    #[error("Art. 5: la prestazione {0} non è nel quadro delle prestazioni")]
    ServiceNotInCatalogue(ServiceId),
    /// Art. 5 (iii): the service must belong to the phase.
    #[error("Art. 5: la prestazione {service} non è prevista nella fase {phase}")]
    ServiceNotInPhase {
        /// The service.
        service: ServiceId,
        /// The phase.
        phase: Phase,
    },
    /// Art. 5 (ii): the professional records under a figure they were enabled for.
    #[error("Art. 5: il professionista non è abilitato come {0}")]
    FigureNotEnabledForProfessional(FigureId),
    /// The catalogue says which figures may deliver a service.
    #[error("Art. 5: la figura {figure} non può erogare la prestazione {service}")]
    FigureCannotDeliverService {
        /// The figure.
        figure: FigureId,
        /// The service.
        service: ServiceId,
    },
    /// Art. 3: only the designated case manager, of the ente the measure names, holds the
    /// case manager's figure.
    #[error(
        "Art. 3: la figura {0} spetta al case manager designato della pratica, dell'ente indicato dalla misura"
    )]
    CaseManagerFigureReserved(FigureId),
    /// A professional must be enabled for at least one figure.
    #[error("Art. 4: indicare almeno una figura professionale")]
    NoFiguresGiven,

    // ---- recording (Art. 5, 9) -------------------------------------------------------------
    /// Art. 5 (iv): durations are half an hour or multiples.
    #[error("Art. 5: le prestazioni durano mezz'ora o multipli ({minutes} minuti)")]
    DurationNotMultiple {
        /// Minutes of the slot.
        minutes: u32,
        /// Required granularity.
        granularity: u32,
    },
    /// Hours are recorded after delivery, not before.
    #[error("Art. 5: non si registrano prestazioni non ancora concluse")]
    EntryInTheFuture,
    /// A professional cannot be in two places at once on the same case.
    #[error(
        "Art. 5: la prestazione si sovrappone alla stringa {other} dello stesso professionista"
    )]
    OverlappingEntry {
        /// The other entry.
        other: Uuid,
    },
    /// One professional, one hour (Reg. UE 2021/1060 art. 53(1)(b)): the same person cannot
    /// bill the same time on two cases, under any measure.
    #[error(
        "Art. 5: nello stesso orario il professionista ha già registrato la stringa {entry_id} sulla pratica {case_id}: un'ora si rendiconta una volta sola"
    )]
    OverlappingEntryOnOtherCase {
        /// The other case.
        case_id: Uuid,
        /// The entry there.
        entry_id: Uuid,
    },
    /// Art. 5: entries are recorded within 15 days of delivery.
    #[error(
        "Art. 5: le prestazioni vanno registrate entro {days} giorni dall'erogazione (erogata il {delivered}, termine {deadline})"
    )]
    EntryRecordedTooLate {
        /// Date of delivery.
        delivered: NaiveDate,
        /// Last day to record.
        deadline: NaiveDate,
        /// The measure's window.
        days: u32,
    },
    /// Art. 5: an amended date must still respect the 15-day window.
    #[error(
        "Art. 5: la data modificata deve rispettare il termine di {days} giorni (nuova data {delivered}, termine {deadline})"
    )]
    AmendedDateTooLate {
        /// New date of delivery.
        delivered: NaiveDate,
        /// Last day to record for that date.
        deadline: NaiveDate,
        /// The measure's window.
        days: u32,
    },
    /// Art. 5: an amendment corrects a material error ("errore materiale") and says which.
    #[error("Art. 5: indicare il motivo della correzione (l'errore materiale corretto)")]
    CorrectionReasonMissing,
    /// Art. 5: once the recording window of the delivery date has closed, an amendment may
    /// not add minutes.
    #[error(
        "Art. 5: chiuso il termine di registrazione ({deadline}), la correzione non può aggiungere minuti ({before} → {after})"
    )]
    LateAmendmentAddsMinutes {
        /// Last day of the window.
        deadline: NaiveDate,
        /// Minutes recorded.
        before: u32,
        /// Minutes asked.
        after: u32,
    },
    /// Art. 5: once the window has closed, an amendment may not move the date of delivery.
    #[error(
        "Art. 5: chiuso il termine di registrazione ({deadline}), la correzione non può spostare la data della prestazione"
    )]
    LateAmendmentMovesDate {
        /// Last day of the window.
        deadline: NaiveDate,
    },
    /// Art. 5: once the window has closed, an amendment may not change the figure to one with
    /// a higher unit cost.
    #[error(
        "Art. 5: chiuso il termine di registrazione ({deadline}), la correzione non può passare a una figura con costo orario più alto ({figure})"
    )]
    LateAmendmentRaisesUnitCost {
        /// Last day of the window.
        deadline: NaiveDate,
        /// The figure asked.
        figure: FigureId,
    },
    /// Art. 5-6: on an entry of a professional no longer enabled, the responsabile may only
    /// withdraw it or shorten it within its times (same date, figure and service).
    #[error(
        "Art. 6: il responsabile può solo ritirare o accorciare la stringa di un professionista non più abilitato (stessa data, figura e prestazione)"
    )]
    ResponsabileMayOnlyShorten,
    /// Art. 9: the cited failure is not in the support desk's list.
    #[error("Art. 9: failure di sistema {0} non dichiarato dall'assistenza")]
    SystemFailureUnknown(Uuid),
    /// Art. 9: the normal deadline had already passed when the failure began, or the failure
    /// concerns another ente's system.
    #[error(
        "Art. 9: il failure {failure} non giustifica il ritardo (termine ordinario {deadline})"
    )]
    SystemFailureNotApplicable {
        /// The failure.
        failure: Uuid,
        /// The entry's normal deadline.
        deadline: NaiveDate,
    },
    /// Art. 9: late registration only within 5 days after the failure is resolved.
    #[error(
        "Art. 9: registrazione tardiva ammessa entro {days} giorni dalla risoluzione del failure (entro il {until})"
    )]
    SystemFailureGraceExpired {
        /// The failure.
        failure: Uuid,
        /// Last day of the grace period.
        until: NaiveDate,
        /// The measure's grace days.
        days: u32,
    },
    /// An entry id is used once.
    #[error("la stringa {0} esiste già")]
    EntryIdAlreadyUsed(Uuid),
    /// The entry does not exist (or was withdrawn).
    #[error("la stringa {0} non esiste")]
    EntryNotFound(Uuid),

    // ---- editability (Art. 5, 6) -------------------------------------------------------------
    /// Art. 5: phases I–II entries are editable until validated by the responsabile.
    #[error("Art. 5: la stringa {0} è stata validata dal responsabile e non è più modificabile")]
    EntryValidated(Uuid),
    /// Art. 5: phases III–IV entries are editable until sent for confirmation.
    #[error("Art. 5: la stringa {0} è in una richiesta di conferma in attesa")]
    EntryInPendingRequest(Uuid),
    /// Art. 5: editing ends "all'invio della richiesta di conferma"; an expired request does
    /// not give its entries back (only a rejection does): the ente sends it again.
    #[error(
        "Art. 5: la stringa {0} è stata inviata per la conferma e la richiesta è scaduta: non è più modificabile, la richiesta va inviata di nuovo"
    )]
    EntrySentForConfirmation(Uuid),
    /// Art. 6: a confirmed entry can never be changed.
    #[error(
        "Art. 6: la stringa {0} è stata confermata dal destinatario e non può più essere modificata"
    )]
    EntryConfirmed(Uuid),
    /// Art. 5: nothing is recorded or changed after closure.
    #[error(
        "Art. 5: il diario della fase {0} è chiuso; non si possono registrare né modificare prestazioni"
    )]
    DiaryClosed(Phase),
    /// The diary of the phase has not been opened.
    #[error("Art. 4: il diario della fase {0} non è stato aperto")]
    DiaryNotOpened(Phase),
    /// A phase diary is opened once.
    #[error("Art. 4: il diario della fase {0} è già stato aperto")]
    DiaryAlreadyOpened(Phase),
    /// Phases follow each other (Art. 1).
    #[error("Art. 1: la fase {phase} richiede l'apertura della fase {previous}")]
    PreviousPhaseNotOpened {
        /// The phase to open.
        phase: Phase,
        /// The phase that must come first.
        previous: Phase,
    },

    // ---- validation and closure ------------------------------------------------------------
    /// Art. 5: validation by the responsabile concerns phases confirmed as a whole (I–II).
    #[error(
        "Art. 5: la validazione riguarda le fasi I e II; nella fase {0} si invia la richiesta di conferma"
    )]
    ValidationNotApplicable(Phase),
    /// There is nothing to validate.
    #[error("nessuna stringa da validare nella fase {0}")]
    NothingToValidate(Phase),
    /// Art. 6: only validated hours go to the recipient.
    #[error("Art. 6: prima della chiusura il responsabile valida tutte le stringhe ({} da validare)", .0.len())]
    UnvalidatedEntriesAtClosure(Vec<Uuid>),
    /// A diary cannot be closed while a confirmation request is pending.
    #[error("Art. 6: la richiesta di conferma {0} è in attesa di risposta")]
    PendingRequestAtClosure(Uuid),
    /// An empty diary is not closed.
    #[error("Art. 5: il diario della fase {0} non contiene prestazioni")]
    EmptyDiary(Phase),

    // ---- confirmation (Art. 6) ----------------------------------------------------------------
    /// Art. 6: in phases I–II the whole diary is confirmed once, at closure.
    #[error("Art. 6: nella fase {0} il destinatario conferma l'intero diario alla chiusura")]
    PerEntryConfirmationNotApplicable(Phase),
    /// A confirmation request lists at least one entry.
    #[error("Art. 6: la richiesta di conferma deve contenere almeno una prestazione")]
    EmptyConfirmationRequest,
    /// The entry belongs to another phase.
    #[error("la stringa {entry} non appartiene alla fase {phase}")]
    EntryNotInPhase {
        /// The entry.
        entry: Uuid,
        /// The phase of the request.
        phase: Phase,
    },
    /// A request id is used once.
    #[error("la richiesta {0} esiste già")]
    RequestIdAlreadyUsed(Uuid),
    /// Unknown request.
    #[error("la richiesta di conferma {0} non esiste")]
    RequestNotFound(Uuid),
    /// The request is not waiting for an answer.
    #[error("Art. 6: la richiesta di conferma {0} non è in attesa di risposta")]
    RequestNotPending(Uuid),
    /// Art. 8: blocking checks failed; the full checklist is attached.
    #[error("Art. 8: controlli automatici non superati ({} su {})", .0.failures().count(), .0.checks.len())]
    ChecklistFailed(Box<Checklist>),
    /// Art. 6: the recipient has not enrolled in FirmaLOM.
    #[error(
        "Art. 6: il destinatario non ha l'App FirmaLOM: la conferma digitale non è disponibile, generare il diario cartaceo"
    )]
    DigitalConfirmationUnavailable,
    /// Art. 6: the paper diary is the fallback for recipients without FirmaLOM.
    #[error(
        "Art. 6: il destinatario usa FirmaLOM; il diario cartaceo è previsto solo in sua assenza"
    )]
    PaperDiaryNotAllowed,
    /// Art. 6: a re-send is allowed only after one day without answer.
    #[error(
        "Art. 6: la notifica può essere inviata nuovamente solo dopo {days} giorno/i senza risposta (dal {allowed_from})"
    )]
    ResendTooEarly {
        /// First instant a re-send is allowed.
        allowed_from: DateTime<Utc>,
        /// The measure's days.
        days: u32,
    },
    /// A re-send must send the same, unchanged entries.
    #[error(
        "Art. 6: le stringhe della richiesta sono cambiate o sono in un'altra richiesta; inviare una nuova richiesta"
    )]
    EntriesChangedSinceRequest,
    /// Only an unanswered request is re-sent.
    #[error("Art. 6: la richiesta {0} ha già avuto risposta")]
    RequestAlreadyAnswered(Uuid),
    /// Expiry is recorded only after the deadline.
    #[error("Art. 6: la richiesta scade il {deadline}")]
    RequestNotYetExpired {
        /// The deadline.
        deadline: DateTime<Utc>,
    },
    /// The request is a paper diary (or vice versa).
    #[error("Art. 6: canale di conferma errato per la richiesta {0}")]
    WrongConfirmationChannel(Uuid),
    /// Art. 6: an adult recipient confirms personally: one confirmer.
    #[error("Art. 6: il destinatario maggiorenne conferma personalmente: un solo firmatario")]
    AdultConfirmsPersonally,
    /// Art. 6: who confirms the hours cannot be staff of the case (responsabili, case manager,
    /// enabled professionals): nobody confirms their own work.
    #[error("Art. 6: {0} lavora sulla pratica e non può confermarne le ore")]
    ConfirmerIsStaff(FiscalCode),
    /// Art. 9: only an entry recorded under a declared failure is co-signed.
    #[error("Art. 9: la prestazione {0} non è registrata in ritardo per un malfunzionamento")]
    NotALateEntry(Uuid),
    /// A reason is required for this act.
    #[error("indicare il motivo")]
    ReasonRequired,
    /// Nothing validated to withdraw.
    #[error("Art. 5: nella fase {0} non ci sono prestazioni validate da riaprire")]
    NoValidationToWithdraw(Phase),
    /// Phases I–II are confirmed as a whole diary: no answer per entry.
    #[error("Art. 6: nella fase {0} il diario si conferma o si rifiuta per intero")]
    PerEntryAnswerNotApplicable(Phase),
    /// A per-entry answer lists every entry of the request exactly once.
    #[error("Art. 6: la risposta deve indicare ogni prestazione della richiesta una sola volta")]
    AnswerDoesNotMatchRequest,
    /// Deliveries are recorded by the system's dispatcher only.
    #[error("Art. 6: la consegna delle notifiche è registrata solo dal sistema")]
    SystemOnly,
    /// The delivery is for an earlier sending of the request (it was re-sent since).
    #[error("Art. 6: la notifica è di un invio precedente della richiesta {0}")]
    NotificationSuperseded(Uuid),
    /// The delivery (or its failure) of this sending is already recorded.
    #[error("Art. 6: l'esito della consegna della notifica della richiesta {0} è già registrato")]
    DeliveryAlreadyRecorded(Uuid),
    /// The receipt cannot precede the sending nor lie in the future.
    #[error("Art. 6: l'istante di ricezione della notifica non è valido")]
    InvalidReceiptTime,
    /// Expiry runs from the receipt: an undelivered request does not expire.
    #[error(
        "Art. 6: la notifica della richiesta {0} non è stata ricevuta da FirmaLOM: il termine di un giorno non è iniziato"
    )]
    NotificationNotDelivered(Uuid),
    /// Only a request whose notification could not be delivered is cancelled.
    #[error(
        "Art. 6: la notifica della richiesta {0} è stata consegnata o è in consegna: si attende la risposta o la scadenza"
    )]
    NotificationNotUndelivered(Uuid),

    // ---- PDI (Art. 8) ---------------------------------------------------------------------------
    /// PDI caps refer to services of a phase where PDI caps apply, with positive minutes.
    #[error("Art. 8: massimale del PDI non valido per {0}")]
    InvalidPdiCap(ServiceId),
    /// The measure has no phase with PDI caps.
    #[error("Art. 8: la misura non prevede massimali da PDI")]
    PdiNotApplicable,

    /// Art. 8: caps come from a version of the PDI document, named by `pdi_document_id`.
    #[error(
        "Art. 8: i massimali derivano dal Piano di intervento: indicare pdi_document_id di un documento {0} registrato"
    )]
    PdiDocumentRequired(String),
    /// Art. 8: raising the caps once phase III has hours needs a reason.
    #[error(
        "Art. 8: i massimali del PDI vengono aumentati dopo che la fase III ha ore registrate: indicare il motivo"
    )]
    PdiRaiseReasonMissing,

    // ---- documents of the pathway (Art. 1) ------------------------------------------------------
    /// The measure does not list this kind of document.
    #[error("Art. 1: la misura non prevede documenti di tipo {0}")]
    DocumentKindUnknown(String),
    /// Only the phase's responsabile or the case manager records or shares its documents.
    #[error(
        "Art. 1: solo il responsabile della fase {0} o il case manager registra e condivide i suoi documenti"
    )]
    DocumentNotAllowed(Phase),
    /// A document id is used once.
    #[error("l'identificativo di documento {0} è già usato")]
    DocumentIdAlreadyUsed(Uuid),
    /// No such document in the case.
    #[error("la pratica non ha il documento {0}")]
    DocumentNotFound(Uuid),
    /// The document is already waiting for the recipient's answer.
    #[error("Art. 6: il documento {0} è già in attesa di conferma su FirmaLOM")]
    DocumentSharePending(Uuid),
    /// Art. 1: the phase's output document must be recorded before its diary is closed.
    #[error(
        "Art. 1: il diario della fase {phase} si chiude con il suo output: caricare prima il documento «{name}» ({kind})"
    )]
    ClosingDocumentMissing {
        /// Phase.
        phase: Phase,
        /// The document kind.
        kind: String,
        /// Its name.
        name: String,
    },

    // ---- four-eyes check of paper scans (Art. 6-7) ----------------------------------------------
    /// The scan is checked by an ATS operator who is not its uploader nor staff of the case.
    #[error(
        "Art. 6-7: la scansione è verificata da un operatore ATS diverso da chi l'ha caricata (quattro occhi)"
    )]
    ScanCheckSamePerson,
    /// The paper diary has no scan waiting for a check.
    #[error("Art. 6-7: il diario cartaceo {0} non ha una scansione in attesa di verifica")]
    ScanNotAwaitingCheck(Uuid),

    // ---- system failures (Art. 9) --------------------------------------------------------------
    /// A failure is declared once.
    #[error("Art. 9: failure già dichiarato")]
    FailureAlreadyDeclared,
    /// The failure was not declared.
    #[error("Art. 9: failure non dichiarato")]
    FailureNotDeclared,
    /// A failure is resolved once.
    #[error("Art. 9: failure già risolto")]
    FailureAlreadyResolved,
    /// Art. 9: the ticket was not opened "immediately" after the failure began.
    #[error(
        "Art. 9: il ticket va aperto immediatamente: il malfunzionamento iniziato il {began_at} è al massimo {hours} ore prima del ticket ({ticket_opened_at})"
    )]
    TicketNotImmediate {
        /// When the failure began.
        began_at: DateTime<Utc>,
        /// When the ticket was opened.
        ticket_opened_at: DateTime<Utc>,
        /// The bound.
        hours: i64,
    },
    /// Failure times must be in the past and ordered.
    #[error(
        "Art. 9: orari del failure non validi (inizio/risoluzione nel futuro o risoluzione prima dell'inizio)"
    )]
    InvalidFailureTimes,
}

/// Broad class of a refusal, for mapping to a transport status (e.g. HTTP 403/404/409/422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The actor may not do this (role, authorship, confirmer).
    Forbidden,
    /// The case, entry, request or failure does not exist.
    NotFound,
    /// The command conflicts with the current state (closed, validated, pending, too early…).
    Conflict,
    /// The command's data break a rule (catalogue, time window, caps, checklist…).
    Unprocessable,
}

impl DomainError {
    /// Broad class of the refusal.
    pub fn kind(&self) -> ErrorKind {
        use DomainError::*;
        match self {
            PersonRequired
            | NotAtsOperator
            | EnrolmentChangeNotAllowed
            | ResponsabileChangeNotAllowed(_)
            | NotPhaseResponsabile { .. }
            | NotEnteResponsabile(_)
            | ProfessionalNotEnabled { .. }
            | NotEntryAuthor { .. }
            | InterruptionNotAllowed
            | NotAConfirmer
            | NotSupportDesk
            | DocumentNotAllowed(_)
            | ScanCheckSamePerson
            | SystemOnly
            | NotTheCaseManager
            | FigureNotEnabledForProfessional(_) => ErrorKind::Forbidden,
            CaseNotOpened
            | EntryNotFound(_)
            | RequestNotFound(_)
            | DocumentNotFound(_)
            | SystemFailureUnknown(_)
            | SuspensionNotFound(_)
            | FailureNotDeclared => ErrorKind::NotFound,
            CaseAlreadyOpened
            | MeasureMismatch { .. }
            | PathwayClosed
            | EntryIdAlreadyUsed(_)
            | EntryValidated(_)
            | EntryInPendingRequest(_)
            | EntrySentForConfirmation(_)
            | EntryConfirmed(_)
            | DiaryClosed(_)
            | DiaryNotOpened(_)
            | DiaryAlreadyOpened(_)
            | PreviousPhaseNotOpened { .. }
            | UnvalidatedEntriesAtClosure(_)
            | PendingRequestAtClosure(_)
            | RequestIdAlreadyUsed(_)
            | RequestNotPending(_)
            | ResendTooEarly { .. }
            | EntriesChangedSinceRequest
            | RequestAlreadyAnswered(_)
            | RequestNotYetExpired { .. }
            | DigitalConfirmationUnavailable
            | PaperDiaryNotAllowed
            | FailureAlreadyDeclared
            | FailureAlreadyResolved
            | NothingToValidate(_)
            | NotificationSuperseded(_)
            | DeliveryAlreadyRecorded(_)
            | NotificationNotDelivered(_)
            | NotificationNotUndelivered(_)
            | NoValidationToWithdraw(_)
            | DocumentIdAlreadyUsed(_)
            | DocumentSharePending(_)
            | ScanNotAwaitingCheck(_)
            | NoOpenSuspension
            | SuspensionAlreadyAuthorised(_) => ErrorKind::Conflict,
            Voucher(e) => match e {
                crate::voucher::VoucherError::Suspended { .. }
                | crate::voucher::VoucherError::SuspensionOverlaps(_) => ErrorKind::Conflict,
                _ => ErrorKind::Unprocessable,
            },
            PhaseNotInMeasure(_)
            | NoConfirmers
            | InvalidPseudonym(_)
            | Organisation(_)
            | FigureNotInCatalogue(_)
            | ServiceNotInCatalogue(_)
            | ServiceNotInPhase { .. }
            | FigureCannotDeliverService { .. }
            | NoFiguresGiven
            | CaseManagerFigureReserved(_)
            | DurationNotMultiple { .. }
            | EntryInTheFuture
            | OverlappingEntry { .. }
            | OverlappingEntryOnOtherCase { .. }
            | EntryRecordedTooLate { .. }
            | AmendedDateTooLate { .. }
            | CorrectionReasonMissing
            | LateAmendmentAddsMinutes { .. }
            | LateAmendmentMovesDate { .. }
            | LateAmendmentRaisesUnitCost { .. }
            | ResponsabileMayOnlyShorten
            | SystemFailureNotApplicable { .. }
            | SystemFailureGraceExpired { .. }
            | ValidationNotApplicable(_)
            | EmptyDiary(_)
            | PerEntryConfirmationNotApplicable(_)
            | EmptyConfirmationRequest
            | EntryNotInPhase { .. }
            | ChecklistFailed(_)
            | WrongConfirmationChannel(_)
            | PerEntryAnswerNotApplicable(_)
            | AnswerDoesNotMatchRequest
            | ReasonRequired
            | AdultConfirmsPersonally
            | ConfirmerIsStaff(_)
            | InvalidReceiptTime
            | NotALateEntry(_)
            | InvalidPdiCap(_)
            | PdiNotApplicable
            | PdiDocumentRequired(_)
            | PdiRaiseReasonMissing
            | DocumentKindUnknown(_)
            | ClosingDocumentMissing { .. }
            | TicketNotImmediate { .. }
            | InvalidFailureTimes
            | VoucherRequired
            | VoucherNotApplicable
            | PlanMeasure(_)
            | FinalReportRequired(_) => ErrorKind::Unprocessable,
        }
    }

    /// Stable machine code, used as the problem `type` by the API.
    pub fn code(&self) -> &'static str {
        use DomainError::*;
        match self {
            CaseNotOpened => "case-not-opened",
            CaseAlreadyOpened => "case-already-opened",
            MeasureMismatch { .. } => "measure-mismatch",
            PhaseNotInMeasure(_) => "phase-not-in-measure",
            NoConfirmers => "no-confirmers",
            InvalidPseudonym(_) => "invalid-pseudonym",
            Organisation(e) => e.code(),
            PathwayClosed => "pathway-closed",
            Voucher(e) => e.code(),
            VoucherRequired => "voucher-required",
            VoucherNotApplicable => "voucher-not-applicable",
            PlanMeasure(_) => "measure-uses-plans",
            NotTheCaseManager => "not-the-case-manager",
            NoOpenSuspension => "no-open-suspension",
            SuspensionNotFound(_) => "suspension-not-found",
            SuspensionAlreadyAuthorised(_) => "suspension-already-authorised",
            FinalReportRequired(_) => "final-report-required",
            PersonRequired => "person-required",
            NotAtsOperator => "not-ats-operator",
            EnrolmentChangeNotAllowed => "enrolment-change-not-allowed",
            ResponsabileChangeNotAllowed(_) => "responsabile-change-not-allowed",
            NotPhaseResponsabile { .. } => "not-phase-responsabile",
            NotEnteResponsabile(_) => "not-ente-responsabile",
            ProfessionalNotEnabled { .. } => "professional-not-enabled",
            NotEntryAuthor { .. } => "not-entry-author",
            InterruptionNotAllowed => "interruption-not-allowed",
            NotAConfirmer => "not-a-confirmer",
            NotSupportDesk => "not-support-desk",
            FigureNotInCatalogue(_) => "figure-not-in-catalogue",
            ServiceNotInCatalogue(_) => "service-not-in-catalogue",
            ServiceNotInPhase { .. } => "service-not-in-phase",
            FigureNotEnabledForProfessional(_) => "figure-not-enabled-for-professional",
            FigureCannotDeliverService { .. } => "figure-cannot-deliver-service",
            NoFiguresGiven => "no-figures-given",
            CaseManagerFigureReserved(_) => "case-manager-figure-reserved",
            DurationNotMultiple { .. } => "duration-not-multiple-of-30-minutes",
            EntryInTheFuture => "entry-in-the-future",
            OverlappingEntry { .. } => "overlapping-entry",
            OverlappingEntryOnOtherCase { .. } => "overlapping-entry-other-case",
            EntryRecordedTooLate { .. } => "entry-recorded-too-late",
            AmendedDateTooLate { .. } => "amended-date-too-late",
            CorrectionReasonMissing => "correction-reason-missing",
            LateAmendmentAddsMinutes { .. } => "late-amendment-adds-minutes",
            LateAmendmentMovesDate { .. } => "late-amendment-moves-date",
            LateAmendmentRaisesUnitCost { .. } => "late-amendment-raises-unit-cost",
            ResponsabileMayOnlyShorten => "responsabile-may-only-shorten",
            SystemFailureUnknown(_) => "system-failure-unknown",
            SystemFailureNotApplicable { .. } => "system-failure-not-applicable",
            SystemFailureGraceExpired { .. } => "system-failure-grace-expired",
            EntryIdAlreadyUsed(_) => "entry-id-already-used",
            EntryNotFound(_) => "entry-not-found",
            EntryValidated(_) => "entry-validated",
            EntryInPendingRequest(_) => "entry-in-pending-request",
            EntrySentForConfirmation(_) => "entry-sent-for-confirmation",
            EntryConfirmed(_) => "entry-confirmed",
            DiaryClosed(_) => "diary-closed",
            DiaryNotOpened(_) => "diary-not-opened",
            DiaryAlreadyOpened(_) => "diary-already-opened",
            PreviousPhaseNotOpened { .. } => "previous-phase-not-opened",
            ValidationNotApplicable(_) => "validation-not-applicable",
            NothingToValidate(_) => "nothing-to-validate",
            UnvalidatedEntriesAtClosure(_) => "unvalidated-entries-at-closure",
            PendingRequestAtClosure(_) => "pending-request-at-closure",
            EmptyDiary(_) => "empty-diary",
            PerEntryConfirmationNotApplicable(_) => "per-entry-confirmation-not-applicable",
            EmptyConfirmationRequest => "empty-confirmation-request",
            EntryNotInPhase { .. } => "entry-not-in-phase",
            RequestIdAlreadyUsed(_) => "request-id-already-used",
            RequestNotFound(_) => "confirmation-request-not-found",
            RequestNotPending(_) => "confirmation-request-not-pending",
            ChecklistFailed(_) => "checklist-failed",
            DigitalConfirmationUnavailable => "digital-confirmation-unavailable",
            PaperDiaryNotAllowed => "paper-diary-not-allowed",
            ResendTooEarly { .. } => "resend-too-early",
            EntriesChangedSinceRequest => "entries-changed-since-request",
            RequestAlreadyAnswered(_) => "request-already-answered",
            RequestNotYetExpired { .. } => "request-not-yet-expired",
            WrongConfirmationChannel(_) => "wrong-confirmation-channel",
            PerEntryAnswerNotApplicable(_) => "per-entry-answer-not-applicable",
            AnswerDoesNotMatchRequest => "answer-does-not-match-request",
            SystemOnly => "system-only",
            NotificationSuperseded(_) => "notification-superseded",
            DeliveryAlreadyRecorded(_) => "delivery-already-recorded",
            InvalidReceiptTime => "invalid-receipt-time",
            NotificationNotDelivered(_) => "notification-not-delivered",
            NotificationNotUndelivered(_) => "notification-not-undelivered",
            ReasonRequired => "reason-required",
            NotALateEntry(_) => "not-a-late-entry",
            AdultConfirmsPersonally => "adult-confirms-personally",
            ConfirmerIsStaff(_) => "confirmer-is-staff",
            NoValidationToWithdraw(_) => "no-validation-to-withdraw",
            InvalidPdiCap(_) => "invalid-pdi-cap",
            PdiNotApplicable => "pdi-not-applicable",
            PdiDocumentRequired(_) => "pdi-document-required",
            PdiRaiseReasonMissing => "pdi-raise-reason-missing",
            DocumentKindUnknown(_) => "document-kind-unknown",
            DocumentNotAllowed(_) => "document-not-allowed",
            DocumentIdAlreadyUsed(_) => "document-id-already-used",
            DocumentNotFound(_) => "document-not-found",
            DocumentSharePending(_) => "document-share-pending",
            ClosingDocumentMissing { .. } => "closing-document-missing",
            ScanCheckSamePerson => "scan-check-same-person",
            ScanNotAwaitingCheck(_) => "scan-not-awaiting-check",
            FailureAlreadyDeclared => "failure-already-declared",
            FailureNotDeclared => "failure-not-declared",
            FailureAlreadyResolved => "failure-already-resolved",
            InvalidFailureTimes => "invalid-failure-times",
            TicketNotImmediate { .. } => "ticket-not-immediate",
        }
    }

    /// The article of the Regolamento the rule comes from, for problem documents.
    pub fn article(&self) -> Option<&'static str> {
        use DomainError::*;
        Some(match self {
            NotAtsOperator
            | ResponsabileChangeNotAllowed(_)
            | NotPhaseResponsabile { .. }
            | NotEnteResponsabile(_)
            | PersonRequired
            | NoFiguresGiven
            | DiaryNotOpened(_)
            | DiaryAlreadyOpened(_) => "Art. 4",
            ProfessionalNotEnabled { .. }
            | NotEntryAuthor { .. }
            | FigureNotInCatalogue(_)
            | ServiceNotInCatalogue(_)
            | ServiceNotInPhase { .. }
            | FigureNotEnabledForProfessional(_)
            | FigureCannotDeliverService { .. }
            | DurationNotMultiple { .. }
            | EntryInTheFuture
            | OverlappingEntry { .. }
            | OverlappingEntryOnOtherCase { .. }
            | EntryRecordedTooLate { .. }
            | AmendedDateTooLate { .. }
            | CorrectionReasonMissing
            | LateAmendmentAddsMinutes { .. }
            | LateAmendmentMovesDate { .. }
            | LateAmendmentRaisesUnitCost { .. }
            | EntryValidated(_)
            | EntryInPendingRequest(_)
            | EntrySentForConfirmation(_)
            | DiaryClosed(_)
            | ValidationNotApplicable(_)
            | NothingToValidate(_)
            | NoValidationToWithdraw(_)
            | EmptyDiary(_) => "Art. 5",
            NoConfirmers
            | EnrolmentChangeNotAllowed
            | PathwayClosed
            | InterruptionNotAllowed
            | NotAConfirmer
            | EntryConfirmed(_)
            | UnvalidatedEntriesAtClosure(_)
            | PendingRequestAtClosure(_)
            | PerEntryConfirmationNotApplicable(_)
            | EmptyConfirmationRequest
            | RequestNotPending(_)
            | DigitalConfirmationUnavailable
            | PaperDiaryNotAllowed
            | ResendTooEarly { .. }
            | EntriesChangedSinceRequest
            | RequestAlreadyAnswered(_)
            | RequestNotYetExpired { .. }
            | WrongConfirmationChannel(_)
            | PerEntryAnswerNotApplicable(_)
            | AnswerDoesNotMatchRequest
            | ReasonRequired
            | AdultConfirmsPersonally
            | ConfirmerIsStaff(_)
            | SystemOnly
            | NotificationSuperseded(_)
            | DeliveryAlreadyRecorded(_)
            | InvalidReceiptTime
            | NotificationNotDelivered(_)
            | NotificationNotUndelivered(_)
            | ResponsabileMayOnlyShorten => "Art. 6",
            ChecklistFailed(_)
            | InvalidPdiCap(_)
            | PdiNotApplicable
            | PdiDocumentRequired(_)
            | PdiRaiseReasonMissing => "Art. 8",
            DocumentKindUnknown(_) | DocumentNotAllowed(_) | ClosingDocumentMissing { .. } => {
                "Art. 1"
            }
            ScanCheckSamePerson | ScanNotAwaitingCheck(_) | DocumentSharePending(_) => "Art. 6",
            SystemFailureUnknown(_)
            | SystemFailureNotApplicable { .. }
            | SystemFailureGraceExpired { .. }
            | NotSupportDesk
            | FailureAlreadyDeclared
            | FailureNotDeclared
            | FailureAlreadyResolved
            | NotALateEntry(_)
            | TicketNotImmediate { .. }
            | InvalidFailureTimes => "Art. 9",
            InvalidPseudonym(_) => "Art. 10",
            Voucher(e) => e.article(),
            VoucherRequired | VoucherNotApplicable => "Avviso autonomia 2016 §10",
            PlanMeasure(_) => "DGR 2168/2024, Allegato A §3",
            NotTheCaseManager | FinalReportRequired(_) => "Avviso autonomia 2016 §9 D",
            NoOpenSuspension | SuspensionNotFound(_) | SuspensionAlreadyAuthorised(_) => {
                "Avviso autonomia 2016 §9 E"
            }
            Organisation(_) | CaseManagerFigureReserved(_) => "Art. 3",
            PreviousPhaseNotOpened { .. } | PhaseNotInMeasure(_) => "Art. 1",
            CaseNotOpened
            | CaseAlreadyOpened
            | MeasureMismatch { .. }
            | EntryIdAlreadyUsed(_)
            | EntryNotFound(_)
            | EntryNotInPhase { .. }
            | RequestIdAlreadyUsed(_)
            | DocumentIdAlreadyUsed(_)
            | DocumentNotFound(_)
            | RequestNotFound(_) => return None,
        })
    }
}
