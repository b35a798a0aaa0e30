//! Commands on a case. Every payload deserialises from JSON with the field names below; ids of
//! new things (entries, requests, paper diaries) are chosen by the caller so the decider has no
//! hidden randomness.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{Ente, FigureId, FiscalCode, MeasureId, Phase, ServiceId, Sha256Hex, TimeSlot};

use super::state::{PdiCap, Recipient};

/// ATS registers the case with its responsabili (Art. 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCase {
    /// The case (stream) id.
    pub case_id: Uuid,
    /// Measure the case runs under.
    pub measure_id: MeasureId,
    /// ATS code.
    pub ats: String,
    /// ASST code.
    pub asst: String,
    /// Provider code.
    pub provider: String,
    /// Responsabile of the ASST (phase I).
    pub responsabile_asst: FiscalCode,
    /// Responsabile of the provider (phases II-IV).
    pub responsabile_provider: FiscalCode,
    /// ASST case manager.
    pub case_manager: FiscalCode,
    /// The recipient (pseudonymous) and confirmers.
    pub recipient: Recipient,
    /// The voucher, when the measure has one (seed 003 §10: the intensity chosen at opening).
    #[serde(default)]
    pub voucher: Option<AssignVoucher>,
}

/// The voucher of a case under a voucher measure (seed 003 §10, §12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignVoucher {
    /// One of the measure's intensities.
    pub intensity: String,
    /// The start of the activities (the first day of the 12 months); default: the day the
    /// case opens.
    #[serde(default)]
    pub start: Option<chrono::NaiveDate>,
}

/// Seed 003 §9 E: the case manager communicates that the PI/PEI is suspended from a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendPathway {
    /// The first suspended day.
    pub from: chrono::NaiveDate,
    /// The impediment.
    pub reason: String,
}

/// Seed 003 §9 E: the case manager communicates the reactivation of the open suspension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactivatePathway {
    /// The first day of the open suspension.
    pub suspended_from: chrono::NaiveDate,
    /// The day the pathway is active again (not suspended).
    pub on: chrono::NaiveDate,
}

/// Seed 003 §9 E: the Region (its ATS operator) authorises the extension of the terms for a
/// suspension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthoriseSuspension {
    /// The first day of the suspension authorised.
    pub suspended_from: chrono::NaiveDate,
}

/// Seed 003 §9 D, §12: the case manager declares, with the final individual report, whether the
/// pathway's objectives were achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareObjectives {
    /// Achieved or not.
    pub achieved: bool,
    /// The final report (a document of the measure's `voucher.final_report_document` kind).
    pub document_id: Uuid,
}

/// Seed 003 §9 D: the case manager's formal check of the calendars and diaries before they are
/// transmitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFormalCheck {
    /// Whether the diaries passed.
    pub passed: bool,
    /// What was found (required when not passed).
    #[serde(default)]
    pub note: Option<String>,
}

/// Change the responsabile of an ente (Art. 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeResponsabile {
    /// Which ente.
    pub ente: Ente,
    /// The new responsabile.
    pub responsabile: FiscalCode,
}

/// Art. 9: the support desk co-signs a late entry recorded under a declared failure ("con il
/// supporto dell'assistenza"); the entry stays its author's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignLateEntry {
    /// The entry.
    pub entry_id: Uuid,
}

/// Change who confirms for the recipient (Art. 6): the ATS, or a responsabile with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeConfirmers {
    /// The new confirmers: the recipient personally if adult, the family if a minor.
    pub confirmers: Vec<FiscalCode>,
    /// Why (required from a responsabile).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Replace the case manager (the ATS; Art. 3-4), like the responsabili.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeCaseManager {
    /// The new case manager.
    pub case_manager: FiscalCode,
}

/// Withdraw the validation of entries of a whole-diary phase before its closure (the phase's
/// responsabile, with a reason; Art. 5-6), so a phase whose closure checklist fails is not stuck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawValidation {
    /// Phase (I or II).
    pub phase: Phase,
    /// Which entries; none: every validated entry of the phase.
    #[serde(default)]
    pub entry_ids: Option<Vec<Uuid>>,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// End a pending paper diary (Art. 6): cancelled by the ente (with a reason), or refused by
/// the family (a reason when they gave one). It no longer blocks the diary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelPaperDiary {
    /// The paper diary.
    pub paper_id: Uuid,
    /// The family refused to sign (a rejection), rather than the ente cancelling it.
    #[serde(default)]
    pub refused_by_family: bool,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// FirmaLOM acknowledged the notification of one sending of a request: the answer window
/// ("entro un giorno dalla ricezione della notifica", Art. 6) runs from `received_at`. The
/// dispatcher records it as the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordNotificationDelivery {
    /// Request.
    pub request_id: Uuid,
    /// The sending the notification was for (the request's or re-send's instant).
    pub sent_at: DateTime<Utc>,
    /// When FirmaLOM received it.
    pub received_at: DateTime<Utc>,
}

/// The notification of one sending could not be delivered (refused for good, or not
/// acknowledged within a day): the responsabile is alerted, may re-send at once or cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordNotificationUndelivered {
    /// Request.
    pub request_id: Uuid,
    /// The sending the notification was for.
    pub sent_at: DateTime<Utc>,
    /// Delivery attempts made.
    pub attempts: u32,
    /// The last error (status or network failure), as the dispatcher saw it.
    pub last_error: String,
}

/// The responsabile cancels a request whose notification never reached FirmaLOM, with a reason
/// (Art. 6): its entries are free again and the paper diary becomes available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelConfirmationRequest {
    /// Request.
    pub request_id: Uuid,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Record whether the confirmers use FirmaLOM (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRecipientEnrolment {
    /// New enrolment status.
    pub firmalom_enrolled: bool,
}

/// Open a phase diary (Art. 4: responsabile only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenPhaseDiary {
    /// Phase.
    pub phase: Phase,
}

/// Enable a professional to record hours for the ente (Art. 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableProfessional {
    /// Ente the professional works for.
    pub ente: Ente,
    /// Professional.
    pub professional: FiscalCode,
    /// Figures they may record under.
    pub figures: Vec<FigureId>,
}

/// Disable a professional (Art. 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableProfessional {
    /// Ente.
    pub ente: Ente,
    /// Professional.
    pub professional: FiscalCode,
}

/// Record a delivered service (Art. 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    /// New entry id.
    pub entry_id: Uuid,
    /// Phase.
    pub phase: Phase,
    /// Own professional figure.
    pub figure: FigureId,
    /// Service from the phase's catalogue.
    pub service: ServiceId,
    /// Date, start and end.
    pub slot: TimeSlot,
    /// Art. 9: the declared failure relied on when the 15 days have passed.
    #[serde(default)]
    pub system_failure_id: Option<Uuid>,
}

/// Correct own entry (Art. 5, "errore materiale").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendEntry {
    /// Entry.
    pub entry_id: Uuid,
    /// Figure.
    pub figure: FigureId,
    /// Service.
    pub service: ServiceId,
    /// Date, start and end.
    pub slot: TimeSlot,
    /// Art. 9 failure relied on if the new date is late.
    #[serde(default)]
    pub system_failure_id: Option<Uuid>,
    /// Why: the material error corrected ("errore materiale"), kept in the event and shown in
    /// the audit trail (blank: none given).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Withdraw own entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawEntry {
    /// Entry.
    pub entry_id: Uuid,
    /// Why, kept in the event and shown in the audit trail (blank: none given).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Validate entries of a whole-diary phase (Art. 5-6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateEntries {
    /// Phase.
    pub phase: Phase,
    /// Entries to validate; absent = every entry not yet validated.
    #[serde(default)]
    pub entry_ids: Option<Vec<Uuid>>,
}

/// Set the PDI caps for phase III (Art. 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPdiCaps {
    /// Per-service caps.
    pub caps: Vec<PdiCap>,
    /// Overall cap.
    #[serde(default)]
    pub total_max_minutes: Option<u32>,
    /// The PDI document (a recorded `DocumentAdded` of the measure's `pdi_document` kind) the
    /// caps come from; absent: the latest version recorded (where the measure names a PDI
    /// document, one must be recorded).
    #[serde(default)]
    pub pdi_document_id: Option<Uuid>,
    /// Why the caps are raised; required when they allow more than before and phase III
    /// already has hours.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Close a phase diary (Art. 4-5); for whole-diary phases this sends the confirmation
/// request (Art. 6) under `request_id` when the recipient uses FirmaLOM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosePhaseDiary {
    /// Phase.
    pub phase: Phase,
    /// Id for the whole-diary confirmation request.
    pub request_id: Uuid,
}

/// Ask the recipient to confirm entries of a per-entry phase (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestConfirmation {
    /// New request id.
    pub request_id: Uuid,
    /// Phase.
    pub phase: Phase,
    /// Entries.
    pub entry_ids: Vec<Uuid>,
}

/// Send an unanswered request again (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendConfirmation {
    /// Request.
    pub request_id: Uuid,
}

/// The recipient's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Answer {
    /// Confirmed.
    Confirmed,
    /// Rejected, with the recipient's reason when they gave one (Art. 6 does not ask for one:
    /// a family may reject without saying why).
    Rejected {
        /// Reason, if given.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Phases III–IV: one outcome per entry of the request ("delle singole prestazioni/di più
    /// prestazioni contemporaneamente"); every entry of the request exactly once.
    PerEntry {
        /// The outcomes.
        entries: Vec<EntryAnswer>,
    },
}

/// The recipient's answer on one entry of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryAnswer {
    /// The entry.
    pub entry_id: Uuid,
    /// Confirmed (true) or rejected.
    pub confirmed: bool,
    /// Why rejected, if said.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The recipient's answer through FirmaLOM; the actor is the signer (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerConfirmation {
    /// Request.
    pub request_id: Uuid,
    /// Answer.
    pub answer: Answer,
}

/// Record the expiry of an unanswered request (scheduler; Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireConfirmationRequest {
    /// Request.
    pub request_id: Uuid,
}

/// Generate the paper diary for a recipient without FirmaLOM (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratePaperDiary {
    /// New paper diary id.
    pub paper_id: Uuid,
    /// Phase.
    pub phase: Phase,
    /// Entries (per-entry phases); ignored for whole-diary phases, which print every entry.
    #[serde(default)]
    pub entry_ids: Option<Vec<Uuid>>,
}

/// Upload the signed paper diary (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadPaperConfirmation {
    /// Paper diary.
    pub paper_id: Uuid,
    /// SHA-256 of the uploaded signed scan.
    pub document_sha256: Sha256Hex,
    /// Who signed on paper (recipient or family member on file).
    pub signed_by: FiscalCode,
}

/// Record a document of the pathway (Art. 1) whose bytes are already stored by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDocument {
    /// Id of the new document (chosen by the caller).
    pub document_id: Uuid,
    /// Kind (the measure's `documents[].kind`).
    pub kind: String,
    /// Title; the kind's name when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// SHA-256 of the stored file.
    pub document_sha256: Sha256Hex,
    /// Its media type (by content).
    pub media_type: String,
}

/// Send a recorded document to the recipient through FirmaLOM for confirmation (Art. 1, 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareDocument {
    /// The document.
    pub document_id: Uuid,
    /// Id of the FirmaLOM request (chosen by the caller).
    pub request_id: Uuid,
}

/// The recipient's answer to a shared document (from the FirmaLOM callback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerDocument {
    /// The request answered.
    pub request_id: Uuid,
    /// Confirmed or rejected.
    pub confirmed: bool,
    /// Why rejected, when said.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The ATS's four-eyes check of a paper diary's signed scan (Art. 6-7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckPaperScan {
    /// The paper diary.
    pub paper_id: Uuid,
    /// Checked (true) or refused (false).
    pub accepted: bool,
    /// Why refused (required), or a note.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Close the pathway early (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterruptPathway {
    /// The verified cause ("verificata tale fattispecie").
    pub cause: InterruptionCause,
    /// A description; required when the cause is `other`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Why a pathway is interrupted (Art. 6: the responsabile and the case manager record the
/// closure once the case is verified). The list is the reasons an auditor expects to read;
/// anything else is `other`, described.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterruptionCause {
    /// The recipient or the family gives up the pathway ("rinuncia").
    Withdrawal,
    /// The recipient moved out of the territory.
    Relocation,
    /// The recipient can no longer be reached.
    Unreachable,
    /// Another service or measure takes the recipient in charge.
    OtherService,
    /// The objectives were reached before the planned end.
    ObjectivesReached,
    /// Another cause, described in `reason`.
    Other,
}

impl InterruptionCause {
    /// Italian label.
    pub fn label(self) -> &'static str {
        match self {
            InterruptionCause::Withdrawal => "rinuncia del destinatario o della famiglia",
            InterruptionCause::Relocation => "trasferimento fuori dal territorio",
            InterruptionCause::Unreachable => "destinatario non più raggiungibile",
            InterruptionCause::OtherService => "presa in carico da un altro servizio o misura",
            InterruptionCause::ObjectivesReached => "obiettivi raggiunti prima del termine",
            InterruptionCause::Other => "altra causa",
        }
    }

    /// Every cause, in the order a form lists them.
    pub const ALL: [InterruptionCause; 6] = [
        InterruptionCause::Withdrawal,
        InterruptionCause::Relocation,
        InterruptionCause::Unreachable,
        InterruptionCause::OtherService,
        InterruptionCause::ObjectivesReached,
        InterruptionCause::Other,
    ];
}

/// Every command on a case. JSON: `{"type": "RecordEntry", ...payload fields}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CaseCommand {
    /// See [`OpenCase`].
    OpenCase(OpenCase),
    /// See [`ChangeResponsabile`].
    ChangeResponsabile(ChangeResponsabile),
    /// See [`ChangeRecipientEnrolment`].
    ChangeRecipientEnrolment(ChangeRecipientEnrolment),
    /// See [`OpenPhaseDiary`].
    OpenPhaseDiary(OpenPhaseDiary),
    /// See [`EnableProfessional`].
    EnableProfessional(EnableProfessional),
    /// See [`DisableProfessional`].
    DisableProfessional(DisableProfessional),
    /// See [`RecordEntry`].
    RecordEntry(RecordEntry),
    /// See [`ChangeCaseManager`].
    ChangeCaseManager(ChangeCaseManager),
    /// See [`ChangeConfirmers`].
    ChangeConfirmers(ChangeConfirmers),
    /// See [`CosignLateEntry`].
    CosignLateEntry(CosignLateEntry),
    /// See [`WithdrawValidation`].
    WithdrawValidation(WithdrawValidation),
    /// See [`CancelPaperDiary`].
    CancelPaperDiary(CancelPaperDiary),
    /// See [`AmendEntry`].
    AmendEntry(AmendEntry),
    /// See [`WithdrawEntry`].
    WithdrawEntry(WithdrawEntry),
    /// See [`ValidateEntries`].
    ValidateEntries(ValidateEntries),
    /// See [`SetPdiCaps`].
    SetPdiCaps(SetPdiCaps),
    /// See [`ClosePhaseDiary`].
    ClosePhaseDiary(ClosePhaseDiary),
    /// See [`RequestConfirmation`].
    RequestConfirmation(RequestConfirmation),
    /// See [`ResendConfirmation`].
    ResendConfirmation(ResendConfirmation),
    /// See [`AnswerConfirmation`].
    AnswerConfirmation(AnswerConfirmation),
    /// See [`ExpireConfirmationRequest`].
    ExpireConfirmationRequest(ExpireConfirmationRequest),
    /// See [`RecordNotificationDelivery`].
    RecordNotificationDelivery(RecordNotificationDelivery),
    /// See [`RecordNotificationUndelivered`].
    RecordNotificationUndelivered(RecordNotificationUndelivered),
    /// See [`CancelConfirmationRequest`].
    CancelConfirmationRequest(CancelConfirmationRequest),
    /// See [`GeneratePaperDiary`].
    GeneratePaperDiary(GeneratePaperDiary),
    /// See [`UploadPaperConfirmation`].
    UploadPaperConfirmation(UploadPaperConfirmation),
    /// See [`InterruptPathway`].
    InterruptPathway(InterruptPathway),
    /// See [`AddDocument`].
    AddDocument(AddDocument),
    /// See [`ShareDocument`].
    ShareDocument(ShareDocument),
    /// See [`AnswerDocument`].
    AnswerDocument(AnswerDocument),
    /// See [`CheckPaperScan`].
    CheckPaperScan(CheckPaperScan),
    /// See [`SuspendPathway`].
    SuspendPathway(SuspendPathway),
    /// See [`ReactivatePathway`].
    ReactivatePathway(ReactivatePathway),
    /// See [`AuthoriseSuspension`].
    AuthoriseSuspension(AuthoriseSuspension),
    /// See [`DeclareObjectives`].
    DeclareObjectives(DeclareObjectives),
    /// See [`RecordFormalCheck`].
    RecordFormalCheck(RecordFormalCheck),
}

impl CaseCommand {
    /// The command's name (the JSON `type`).
    pub fn name(&self) -> &'static str {
        match self {
            CaseCommand::OpenCase(_) => "OpenCase",
            CaseCommand::ChangeResponsabile(_) => "ChangeResponsabile",
            CaseCommand::ChangeRecipientEnrolment(_) => "ChangeRecipientEnrolment",
            CaseCommand::ChangeCaseManager(_) => "ChangeCaseManager",
            CaseCommand::ChangeConfirmers(_) => "ChangeConfirmers",
            CaseCommand::CosignLateEntry(_) => "CosignLateEntry",
            CaseCommand::WithdrawValidation(_) => "WithdrawValidation",
            CaseCommand::CancelPaperDiary(_) => "CancelPaperDiary",
            CaseCommand::OpenPhaseDiary(_) => "OpenPhaseDiary",
            CaseCommand::EnableProfessional(_) => "EnableProfessional",
            CaseCommand::DisableProfessional(_) => "DisableProfessional",
            CaseCommand::RecordEntry(_) => "RecordEntry",
            CaseCommand::AmendEntry(_) => "AmendEntry",
            CaseCommand::WithdrawEntry(_) => "WithdrawEntry",
            CaseCommand::ValidateEntries(_) => "ValidateEntries",
            CaseCommand::SetPdiCaps(_) => "SetPdiCaps",
            CaseCommand::ClosePhaseDiary(_) => "ClosePhaseDiary",
            CaseCommand::RequestConfirmation(_) => "RequestConfirmation",
            CaseCommand::ResendConfirmation(_) => "ResendConfirmation",
            CaseCommand::AnswerConfirmation(_) => "AnswerConfirmation",
            CaseCommand::ExpireConfirmationRequest(_) => "ExpireConfirmationRequest",
            CaseCommand::RecordNotificationDelivery(_) => "RecordNotificationDelivery",
            CaseCommand::RecordNotificationUndelivered(_) => "RecordNotificationUndelivered",
            CaseCommand::CancelConfirmationRequest(_) => "CancelConfirmationRequest",
            CaseCommand::GeneratePaperDiary(_) => "GeneratePaperDiary",
            CaseCommand::UploadPaperConfirmation(_) => "UploadPaperConfirmation",
            CaseCommand::InterruptPathway(_) => "InterruptPathway",
            CaseCommand::AddDocument(_) => "AddDocument",
            CaseCommand::ShareDocument(_) => "ShareDocument",
            CaseCommand::AnswerDocument(_) => "AnswerDocument",
            CaseCommand::CheckPaperScan(_) => "CheckPaperScan",
            CaseCommand::SuspendPathway(_) => "SuspendPathway",
            CaseCommand::ReactivatePathway(_) => "ReactivatePathway",
            CaseCommand::AuthoriseSuspension(_) => "AuthoriseSuspension",
            CaseCommand::DeclareObjectives(_) => "DeclareObjectives",
            CaseCommand::RecordFormalCheck(_) => "RecordFormalCheck",
        }
    }
}
