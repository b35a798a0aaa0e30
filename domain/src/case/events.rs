//! Events of a case: one per fact, past tense, each carrying who, what, when and on which
//! entries, so an auditor can replay the diary (Art. 4, 10). Serialised with a `type` tag;
//! [`upcast`] reads payloads written by older schema versions.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::catalogue::Rate;
use crate::checklist::Checklist;
use crate::values::{
    Cents, Ente, FigureId, FiscalCode, MeasureId, Phase, ServiceId, Sha256Hex, TimeSlot, hhmm,
};

use super::state::{ConfirmationChannel, DocumentRef, PdiCap, Recipient};

/// A late answer that was refused because the request had expired (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedAnswer {
    /// Who tried to answer.
    pub by: FiscalCode,
    /// When.
    pub at: DateTime<Utc>,
    /// Whether it was a confirmation (true) or a rejection (false).
    pub would_confirm: bool,
}

/// What a confirmation request covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestScope {
    /// Phases I–II: the whole diary at closure.
    WholeDiary,
    /// Phases III–IV: the listed entries.
    Entries,
}

/// Every fact of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CaseEvent {
    /// ATS registered the case (Art. 4).
    CaseOpened {
        /// Case id.
        case_id: Uuid,
        /// Measure.
        measure_id: MeasureId,
        /// ATS code.
        ats: String,
        /// ASST code.
        asst: String,
        /// Provider code.
        provider: String,
        /// Responsabile of the ASST.
        responsabile_asst: FiscalCode,
        /// Responsabile of the provider.
        responsabile_provider: FiscalCode,
        /// Case manager.
        case_manager: FiscalCode,
        /// Recipient (pseudonymous), FirmaLOM enrolment and confirmers.
        recipient: Recipient,
        /// ATS operator.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The responsabile of an ente changed (Art. 4).
    ResponsabileChanged {
        /// Ente.
        ente: Ente,
        /// Previous responsabile.
        previous: FiscalCode,
        /// New responsabile.
        responsabile: FiscalCode,
        /// Who changed it.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Art. 8: a sending refused by its checklist (the request was not sent). Recorded so an
    /// inspector sees the failed attempts, not only the passing ones; changes nothing else.
    ChecklistRefused {
        /// Phase.
        phase: Phase,
        /// The request (or paper diary) id the sending would have had.
        request_id: Uuid,
        /// The checklist, with every check.
        checklist: Checklist,
        /// The responsabile who tried.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Art. 9: the support desk co-signed a late entry recorded under a failure.
    LateEntryCosigned {
        /// The entry (its author unchanged).
        entry_id: Uuid,
        /// The failure it relies on.
        system_failure_id: Uuid,
        /// The support desk member.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Who confirms for the recipient changed (Art. 6).
    ConfirmersChanged {
        /// The previous confirmers.
        previous: Vec<FiscalCode>,
        /// The new confirmers.
        confirmers: Vec<FiscalCode>,
        /// Why, when given (always by a responsabile).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The ATS operator or responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The ATS replaced the case manager (Art. 3-4).
    CaseManagerChanged {
        /// Previous case manager.
        previous: FiscalCode,
        /// New case manager.
        case_manager: FiscalCode,
        /// Who changed it.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The responsabile withdrew the validation of entries before closing (Art. 5-6).
    ValidationWithdrawn {
        /// Phase.
        phase: Phase,
        /// Entries no longer validated.
        entry_ids: Vec<Uuid>,
        /// Why.
        reason: String,
        /// The responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A pending paper diary ended unsigned: cancelled by the ente or refused by the family
    /// (then as a rejection: its entries are editable again, a whole diary reopens).
    PaperDiaryCancelled {
        /// The paper diary.
        paper_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Its entries.
        entry_ids: Vec<Uuid>,
        /// Refused by the family (true) or cancelled by the ente.
        refused_by_family: bool,
        /// Why, when said (always for a cancellation).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The responsabile who recorded it.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The confirmers' FirmaLOM enrolment changed (Art. 6).
    RecipientEnrolmentChanged {
        /// New status.
        firmalom_enrolled: bool,
        /// Who recorded it.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A phase diary was opened (Art. 4).
    PhaseDiaryOpened {
        /// Phase.
        phase: Phase,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A professional was enabled (Art. 4).
    ProfessionalEnabled {
        /// Ente.
        ente: Ente,
        /// Professional.
        professional: FiscalCode,
        /// Figures allowed.
        figures: Vec<FigureId>,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A professional was disabled (Art. 4).
    ProfessionalDisabled {
        /// Ente.
        ente: Ente,
        /// Professional.
        professional: FiscalCode,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A professional recorded a delivered service (Art. 5). Schema version 2.
    EntryRecorded {
        /// Entry id.
        entry_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Author.
        professional: FiscalCode,
        /// Figure.
        figure: FigureId,
        /// Service.
        service: ServiceId,
        /// Date and times.
        slot: TimeSlot,
        /// Duration in minutes (redundant with the slot, for readers of the log).
        minutes: u32,
        /// Art. 9 failure relied on for a late registration.
        system_failure_id: Option<Uuid>,
        /// The unit cost it is priced at: the catalogue version in force on the delivery
        /// date (absent in entries recorded before rates were recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate: Option<Rate>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The author amended an entry (Art. 5); carries the full new values.
    EntryAmended {
        /// Entry.
        entry_id: Uuid,
        /// Figure.
        figure: FigureId,
        /// Service.
        service: ServiceId,
        /// Date and times.
        slot: TimeSlot,
        /// Minutes.
        minutes: u32,
        /// Art. 9 failure relied on.
        system_failure_id: Option<Uuid>,
        /// The unit cost for the new figure and date (absent before rates were recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate: Option<Rate>,
        /// Why (absent in events recorded before reasons were asked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Author.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The author withdrew an entry.
    EntryWithdrawn {
        /// Entry.
        entry_id: Uuid,
        /// Why (absent in events recorded before reasons were asked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Author.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The responsabile validated entries (Art. 5-6, phases I–II).
    EntriesValidated {
        /// Phase.
        phase: Phase,
        /// Entries.
        entry_ids: Vec<Uuid>,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// PDI caps for phase III were set (Art. 8).
    PdiCapsSet {
        /// Per-service caps.
        caps: Vec<PdiCap>,
        /// Overall cap.
        total_max_minutes: Option<u32>,
        /// The version of the PDI document the caps were taken from (absent in caps set
        /// before documents were recorded, or where the measure names no PDI document).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document: Option<DocumentRef>,
        /// Why the caps were raised once phase III hours existed (required then).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The caps allow more than before and phase III already had hours: shown to ATS.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        raised_after_hours: bool,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A confirmation request was sent to FirmaLOM with its passing checklist (Art. 6, 8).
    ConfirmationRequested {
        /// Request id.
        request_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Whole diary or listed entries.
        scope: RequestScope,
        /// Entries covered.
        entry_ids: Vec<Uuid>,
        /// The Art. 8 checklist.
        checklist: Checklist,
        /// Answer deadline, in requests recorded before deliveries were: since then the
        /// deadline runs from FirmaLOM's receipt (`ConfirmationNotificationDelivered`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
        /// Who may answer.
        confirmers: Vec<FiscalCode>,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// An unanswered request was sent again (Art. 6).
    ConfirmationResent {
        /// Request.
        request_id: Uuid,
        /// Checklist recomputed at re-send.
        checklist: Checklist,
        /// New deadline, in re-sends recorded before deliveries were (see
        /// `ConfirmationRequested::deadline`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// FirmaLOM received the notification of a sending (Art. 6: "entro un giorno dalla
    /// ricezione della notifica"): the answer deadline runs from here. Recorded by the system.
    ConfirmationNotificationDelivered {
        /// Request.
        request_id: Uuid,
        /// Phase.
        phase: Phase,
        /// The sending it was for.
        sent_at: DateTime<Utc>,
        /// When FirmaLOM received it.
        received_at: DateTime<Utc>,
        /// One day from the receipt.
        deadline: DateTime<Utc>,
        /// When recorded.
        at: DateTime<Utc>,
    },
    /// The notification of a sending could not be delivered (refused for good, or not
    /// acknowledged within a day). Recorded by the system; the responsabile is alerted.
    ConfirmationNotificationUndelivered {
        /// Request.
        request_id: Uuid,
        /// Phase.
        phase: Phase,
        /// The sending it was for.
        sent_at: DateTime<Utc>,
        /// Delivery attempts made.
        attempts: u32,
        /// The last error.
        last_error: String,
        /// When recorded.
        at: DateTime<Utc>,
    },
    /// The responsabile cancelled a request whose notification never arrived, with a reason:
    /// its entries are free again, the paper diary is available (Art. 6).
    ConfirmationRequestCancelled {
        /// Request.
        request_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Its entries.
        entry_ids: Vec<Uuid>,
        /// Why.
        reason: String,
        /// The responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The recipient confirmed the entries; they never change again (Art. 6).
    EntriesConfirmed {
        /// Request or paper diary.
        request_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Entries confirmed.
        entry_ids: Vec<Uuid>,
        /// FirmaLOM or paper.
        channel: ConfirmationChannel,
        /// What the confirmed entries are worth at the rates recorded with them (absent in
        /// confirmations recorded before rates were recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed_cost_cents: Option<Cents>,
        /// The signer.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The recipient rejected the request (Art. 6).
    ConfirmationRejected {
        /// Request.
        request_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Entries rejected (editable again).
        entry_ids: Vec<Uuid>,
        /// The recipient's reason, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The signer.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// No answer arrived within the deadline (Art. 6).
    ConfirmationRequestExpired {
        /// Request.
        request_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Entries of the request.
        entry_ids: Vec<Uuid>,
        /// The deadline that passed.
        deadline: DateTime<Utc>,
        /// Set when a late answer triggered the expiry (the answer is refused).
        refused_answer: Option<RefusedAnswer>,
        /// Who recorded it (`None` = the system scheduler).
        by: Option<FiscalCode>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A paper diary was generated for signature with its checklist (Art. 6, 8).
    PaperDiaryGenerated {
        /// Paper diary id.
        paper_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Entries printed.
        entry_ids: Vec<Uuid>,
        /// Art. 8 checklist.
        checklist: Checklist,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The signed paper diary was uploaded (Art. 6).
    PaperConfirmationUploaded {
        /// Paper diary id.
        paper_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Entries.
        entry_ids: Vec<Uuid>,
        /// SHA-256 of the signed scan.
        document_sha256: Sha256Hex,
        /// Who signed on paper.
        signed_by: FiscalCode,
        /// Who uploaded.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// An ATS operator other than the uploader checked the scan of a signed paper diary
    /// (four eyes, Art. 6-7): until checked, the hours it confirms are "awaiting check"; a
    /// refused scan does not prove them until a new scan is uploaded and checked.
    PaperScanChecked {
        /// Paper diary id.
        paper_id: Uuid,
        /// Phase.
        phase: Phase,
        /// Entries the scan confirms.
        entry_ids: Vec<Uuid>,
        /// SHA-256 of the scan checked.
        document_sha256: Sha256Hex,
        /// Checked (true) or refused (false).
        accepted: bool,
        /// Why refused (required then), or a note.
        reason: Option<String>,
        /// The ATS operator.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A document of the pathway (Art. 1) was recorded: the PI, the PDI, a report…, stored by
    /// the SHA-256 of its bytes; a later document of the same kind is its next version.
    DocumentAdded {
        /// Document id.
        document_id: Uuid,
        /// Kind (the measure's `documents[].kind`).
        kind: String,
        /// Phase whose output it is.
        phase: Phase,
        /// 1 for the first document of its kind in the case, then 2, 3…
        version: u32,
        /// Title as given (or the kind's name).
        title: String,
        /// SHA-256 of the file.
        document_sha256: Sha256Hex,
        /// Media type (by content).
        media_type: String,
        /// Who recorded it.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A document was sent to the recipient through FirmaLOM for confirmation (Art. 1, 6).
    DocumentShared {
        /// Document id.
        document_id: Uuid,
        /// The FirmaLOM request id the answer will name.
        request_id: Uuid,
        /// Who shared it.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The recipient (or family) confirmed or rejected a shared document.
    DocumentAnswered {
        /// Document id.
        document_id: Uuid,
        /// The request answered.
        request_id: Uuid,
        /// Confirmed (true) or rejected (false).
        confirmed: bool,
        /// Why rejected, when said.
        reason: Option<String>,
        /// The signer.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The responsabile closed the phase diary (Art. 4-5).
    PhaseDiaryClosed {
        /// Phase.
        phase: Phase,
        /// Live entries at closure.
        entry_ids: Vec<Uuid>,
        /// Entries never confirmed (not reimbursable).
        unconfirmed_entry_ids: Vec<Uuid>,
        /// Total minutes of the live entries.
        total_minutes: u64,
        /// Responsabile.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The closed diary passed to ATS for cost reporting (Art. 7).
    DiaryHandedToAts {
        /// Phase.
        phase: Phase,
        /// ATS.
        ats: String,
        /// Confirmed entries.
        confirmed_entry_ids: Vec<Uuid>,
        /// Confirmed minutes.
        confirmed_minutes: u64,
        /// What the confirmed entries are worth at the rates recorded with them (the claim of
        /// the phase; absent in hand-overs recorded before rates were recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed_cost_cents: Option<Cents>,
        /// Who handed it over: the person who closed or interrupted; none when the system
        /// hands it over on the recipient's confirmation (the answer is the event before).
        #[serde(default)]
        by: Option<FiscalCode>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The pathway was interrupted; pending requests end with it (Art. 6).
    PathwayInterrupted {
        /// The verified cause (absent in events recorded before causes were asked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<super::commands::InterruptionCause>,
        /// The description given (may be empty when the cause says it all).
        reason: String,
        /// Requests and paper diaries ended.
        ended_request_ids: Vec<Uuid>,
        /// Phase diaries that were still open or awaiting confirmation.
        closed_phases: Vec<Phase>,
        /// Responsabile or case manager.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Seed 003 §10: the case holds a voucher of the measure, of one intensity, from a day.
    VoucherAssigned {
        /// The intensity (one of the measure's).
        intensity: String,
        /// The start of the activities.
        start: NaiveDate,
        /// ATS operator.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Seed 003 §9 E: the PI/PEI is suspended from a day (communicated by the case manager).
    PathwaySuspended {
        /// The first suspended day.
        from: NaiveDate,
        /// The impediment.
        reason: String,
        /// Case manager.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Seed 003 §9 E: the suspension that began on `suspended_from` ends; `on` is active again.
    PathwayReactivated {
        /// The suspension's first day.
        suspended_from: NaiveDate,
        /// The day of the reactivation.
        on: NaiveDate,
        /// Case manager.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Seed 003 §9 E: the Region authorised the extension of the terms for a suspension.
    SuspensionAuthorised {
        /// The suspension's first day.
        suspended_from: NaiveDate,
        /// The Region's (ATS) operator.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Seed 003 §9 D, §12: the case manager declared the objectives achieved or not, with the
    /// final individual report.
    ObjectivesDeclared {
        /// Achieved or not.
        achieved: bool,
        /// The final report's version.
        document: DocumentRef,
        /// Case manager.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Seed 003 §9 D: the case manager's formal check of the calendars and diaries.
    FormalCheckRecorded {
        /// Passed or not.
        passed: bool,
        /// What was found.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// The case version checked (the number of events before this one).
        checked_version: u64,
        /// Case manager.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
}

impl CaseEvent {
    /// The event type name written in the store.
    pub fn event_type(&self) -> &'static str {
        match self {
            CaseEvent::CaseOpened { .. } => "CaseOpened",
            CaseEvent::ResponsabileChanged { .. } => "ResponsabileChanged",
            CaseEvent::RecipientEnrolmentChanged { .. } => "RecipientEnrolmentChanged",
            CaseEvent::PhaseDiaryOpened { .. } => "PhaseDiaryOpened",
            CaseEvent::ProfessionalEnabled { .. } => "ProfessionalEnabled",
            CaseEvent::ProfessionalDisabled { .. } => "ProfessionalDisabled",
            CaseEvent::EntryRecorded { .. } => "EntryRecorded",
            CaseEvent::EntryAmended { .. } => "EntryAmended",
            CaseEvent::EntryWithdrawn { .. } => "EntryWithdrawn",
            CaseEvent::EntriesValidated { .. } => "EntriesValidated",
            CaseEvent::PdiCapsSet { .. } => "PdiCapsSet",
            CaseEvent::ConfirmationRequested { .. } => "ConfirmationRequested",
            CaseEvent::ConfirmationResent { .. } => "ConfirmationResent",
            CaseEvent::EntriesConfirmed { .. } => "EntriesConfirmed",
            CaseEvent::ConfirmationRejected { .. } => "ConfirmationRejected",
            CaseEvent::ConfirmationRequestExpired { .. } => "ConfirmationRequestExpired",
            CaseEvent::PaperDiaryGenerated { .. } => "PaperDiaryGenerated",
            CaseEvent::PaperConfirmationUploaded { .. } => "PaperConfirmationUploaded",
            CaseEvent::PhaseDiaryClosed { .. } => "PhaseDiaryClosed",
            CaseEvent::PaperScanChecked { .. } => "PaperScanChecked",
            CaseEvent::DocumentAdded { .. } => "DocumentAdded",
            CaseEvent::DocumentShared { .. } => "DocumentShared",
            CaseEvent::DocumentAnswered { .. } => "DocumentAnswered",
            CaseEvent::DiaryHandedToAts { .. } => "DiaryHandedToAts",
            CaseEvent::PathwayInterrupted { .. } => "PathwayInterrupted",
            CaseEvent::CaseManagerChanged { .. } => "CaseManagerChanged",
            CaseEvent::ConfirmersChanged { .. } => "ConfirmersChanged",
            CaseEvent::LateEntryCosigned { .. } => "LateEntryCosigned",
            CaseEvent::ChecklistRefused { .. } => "ChecklistRefused",
            CaseEvent::ValidationWithdrawn { .. } => "ValidationWithdrawn",
            CaseEvent::PaperDiaryCancelled { .. } => "PaperDiaryCancelled",
            CaseEvent::ConfirmationNotificationDelivered { .. } => {
                "ConfirmationNotificationDelivered"
            }
            CaseEvent::ConfirmationNotificationUndelivered { .. } => {
                "ConfirmationNotificationUndelivered"
            }
            CaseEvent::ConfirmationRequestCancelled { .. } => "ConfirmationRequestCancelled",
            CaseEvent::VoucherAssigned { .. } => "VoucherAssigned",
            CaseEvent::PathwaySuspended { .. } => "PathwaySuspended",
            CaseEvent::PathwayReactivated { .. } => "PathwayReactivated",
            CaseEvent::SuspensionAuthorised { .. } => "SuspensionAuthorised",
            CaseEvent::ObjectivesDeclared { .. } => "ObjectivesDeclared",
            CaseEvent::FormalCheckRecorded { .. } => "FormalCheckRecorded",
        }
    }

    /// Current schema version of this event type. `EntryRecorded` is at 2: version 1 carried
    /// `date`, `start` and `minutes` instead of a slot, and no `system_failure_id`.
    pub fn schema_version(&self) -> u32 {
        match self {
            CaseEvent::EntryRecorded { .. } => 2,
            _ => 1,
        }
    }

    /// The person who caused the event, if any (`None` for scheduler expiries).
    pub fn actor(&self) -> Option<&FiscalCode> {
        match self {
            CaseEvent::EntryRecorded { professional, .. } => Some(professional),
            CaseEvent::ConfirmationRequestExpired { by, .. } => by.as_ref(),
            CaseEvent::CaseOpened { by, .. }
            | CaseEvent::ResponsabileChanged { by, .. }
            | CaseEvent::RecipientEnrolmentChanged { by, .. }
            | CaseEvent::PhaseDiaryOpened { by, .. }
            | CaseEvent::ProfessionalEnabled { by, .. }
            | CaseEvent::ProfessionalDisabled { by, .. }
            | CaseEvent::EntryAmended { by, .. }
            | CaseEvent::EntryWithdrawn { by, .. }
            | CaseEvent::EntriesValidated { by, .. }
            | CaseEvent::PdiCapsSet { by, .. }
            | CaseEvent::ConfirmationRequested { by, .. }
            | CaseEvent::ConfirmationResent { by, .. }
            | CaseEvent::EntriesConfirmed { by, .. }
            | CaseEvent::ConfirmationRejected { by, .. }
            | CaseEvent::PaperDiaryGenerated { by, .. }
            | CaseEvent::PaperConfirmationUploaded { by, .. }
            | CaseEvent::PhaseDiaryClosed { by, .. }
            | CaseEvent::PaperScanChecked { by, .. }
            | CaseEvent::DocumentAdded { by, .. }
            | CaseEvent::DocumentShared { by, .. }
            | CaseEvent::DocumentAnswered { by, .. }
            | CaseEvent::PathwayInterrupted { by, .. }
            | CaseEvent::CaseManagerChanged { by, .. }
            | CaseEvent::ConfirmersChanged { by, .. }
            | CaseEvent::LateEntryCosigned { by, .. }
            | CaseEvent::ChecklistRefused { by, .. }
            | CaseEvent::ValidationWithdrawn { by, .. }
            | CaseEvent::PaperDiaryCancelled { by, .. }
            | CaseEvent::ConfirmationRequestCancelled { by, .. }
            | CaseEvent::VoucherAssigned { by, .. }
            | CaseEvent::PathwaySuspended { by, .. }
            | CaseEvent::PathwayReactivated { by, .. }
            | CaseEvent::SuspensionAuthorised { by, .. }
            | CaseEvent::ObjectivesDeclared { by, .. }
            | CaseEvent::FormalCheckRecorded { by, .. } => Some(by),
            CaseEvent::DiaryHandedToAts { by, .. } => by.as_ref(),
            CaseEvent::ConfirmationNotificationDelivered { .. }
            | CaseEvent::ConfirmationNotificationUndelivered { .. } => None,
        }
    }

    /// The answer refused because it arrived after the deadline (Art. 6), if this event is
    /// the expiry it caused. The API reports such a decision to FirmaLOM as a refusal.
    pub fn refused_answer(&self) -> Option<&RefusedAnswer> {
        match self {
            CaseEvent::ConfirmationRequestExpired { refused_answer, .. } => refused_answer.as_ref(),
            _ => None,
        }
    }

    /// The refusal this event records, if it is one: a sending refused by its checklist is
    /// decided as a `ChecklistRefused` event (kept for inspectors) and reported to the caller
    /// as `ChecklistFailed`.
    pub fn recorded_refusal(&self) -> Option<crate::error::DomainError> {
        match self {
            CaseEvent::ChecklistRefused { checklist, .. } => Some(
                crate::error::DomainError::ChecklistFailed(Box::new(checklist.clone())),
            ),
            _ => None,
        }
    }

    /// When the fact happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            CaseEvent::CaseOpened { at, .. }
            | CaseEvent::ResponsabileChanged { at, .. }
            | CaseEvent::RecipientEnrolmentChanged { at, .. }
            | CaseEvent::PhaseDiaryOpened { at, .. }
            | CaseEvent::ProfessionalEnabled { at, .. }
            | CaseEvent::ProfessionalDisabled { at, .. }
            | CaseEvent::EntryRecorded { at, .. }
            | CaseEvent::EntryAmended { at, .. }
            | CaseEvent::EntryWithdrawn { at, .. }
            | CaseEvent::EntriesValidated { at, .. }
            | CaseEvent::PdiCapsSet { at, .. }
            | CaseEvent::ConfirmationRequested { at, .. }
            | CaseEvent::ConfirmationResent { at, .. }
            | CaseEvent::EntriesConfirmed { at, .. }
            | CaseEvent::ConfirmationRejected { at, .. }
            | CaseEvent::ConfirmationRequestExpired { at, .. }
            | CaseEvent::PaperDiaryGenerated { at, .. }
            | CaseEvent::PaperConfirmationUploaded { at, .. }
            | CaseEvent::PhaseDiaryClosed { at, .. }
            | CaseEvent::PaperScanChecked { at, .. }
            | CaseEvent::DocumentAdded { at, .. }
            | CaseEvent::DocumentShared { at, .. }
            | CaseEvent::DocumentAnswered { at, .. }
            | CaseEvent::DiaryHandedToAts { at, .. }
            | CaseEvent::PathwayInterrupted { at, .. }
            | CaseEvent::CaseManagerChanged { at, .. }
            | CaseEvent::ConfirmersChanged { at, .. }
            | CaseEvent::LateEntryCosigned { at, .. }
            | CaseEvent::ChecklistRefused { at, .. }
            | CaseEvent::ValidationWithdrawn { at, .. }
            | CaseEvent::PaperDiaryCancelled { at, .. }
            | CaseEvent::ConfirmationNotificationDelivered { at, .. }
            | CaseEvent::ConfirmationNotificationUndelivered { at, .. }
            | CaseEvent::ConfirmationRequestCancelled { at, .. }
            | CaseEvent::VoucherAssigned { at, .. }
            | CaseEvent::PathwaySuspended { at, .. }
            | CaseEvent::PathwayReactivated { at, .. }
            | CaseEvent::SuspensionAuthorised { at, .. }
            | CaseEvent::ObjectivesDeclared { at, .. }
            | CaseEvent::FormalCheckRecorded { at, .. } => *at,
        }
    }
}

/// Why a stored payload could not be read as a [`CaseEvent`].
#[derive(Debug, thiserror::Error)]
pub enum UpcastError {
    /// The version is newer than this code or was never used.
    #[error("unsupported schema version {version} for event type {event_type}")]
    UnsupportedVersion {
        /// Event type.
        event_type: String,
        /// Version.
        version: u32,
    },
    /// The payload is not a JSON object.
    #[error("event payload must be a JSON object")]
    NotAnObject,
    /// The payload does not match the schema.
    #[error("malformed {event_type} payload: {source}")]
    Malformed {
        /// Event type.
        event_type: String,
        /// Cause.
        source: serde_json::Error,
    },
}

/// `EntryRecorded` version 1 as written before time slots existed.
#[derive(Deserialize)]
struct EntryRecordedV1 {
    entry_id: Uuid,
    phase: Phase,
    professional: FiscalCode,
    figure: FigureId,
    service: ServiceId,
    date: NaiveDate,
    #[serde(with = "hhmm")]
    start: NaiveTime,
    minutes: u32,
    at: DateTime<Utc>,
}

fn malformed(event_type: &str, source: serde_json::Error) -> UpcastError {
    UpcastError::Malformed {
        event_type: event_type.to_owned(),
        source,
    }
}

/// Reads a stored payload of any known schema version and returns the current event.
///
/// The payload may or may not contain the `type` tag (the store keeps the type in its own
/// column). Old versions are converted before deserialising, so the rest of the system only
/// ever sees current events.
pub fn upcast(
    event_type: &str,
    schema_version: u32,
    payload: Value,
) -> Result<CaseEvent, UpcastError> {
    let Value::Object(mut map) = payload else {
        return Err(UpcastError::NotAnObject);
    };
    map.insert("type".to_owned(), Value::String(event_type.to_owned()));
    let unsupported = || UpcastError::UnsupportedVersion {
        event_type: event_type.to_owned(),
        version: schema_version,
    };
    let value = match (event_type, schema_version) {
        ("EntryRecorded", 1) => {
            map.remove("type");
            let v1: EntryRecordedV1 =
                serde_json::from_value(Value::Object(map)).map_err(|e| malformed(event_type, e))?;
            let end = v1.start + chrono::Duration::minutes(i64::from(v1.minutes));
            if end <= v1.start {
                return Err(unsupported());
            }
            let slot = TimeSlot::new(v1.date, v1.start, end).map_err(|_| unsupported())?;
            return Ok(CaseEvent::EntryRecorded {
                entry_id: v1.entry_id,
                phase: v1.phase,
                professional: v1.professional,
                figure: v1.figure,
                service: v1.service,
                slot,
                minutes: slot.minutes(),
                system_failure_id: None,
                rate: None,
                at: v1.at,
            });
        }
        ("EntryRecorded", 2) => Value::Object(map),
        (_, 1) => Value::Object(map),
        _ => return Err(unsupported()),
    };
    serde_json::from_value(value).map_err(|e| malformed(event_type, e))
}
