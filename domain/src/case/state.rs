//! The state the decider needs, rebuilt by folding events with [`super::evolve`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::Measure;
use crate::values::{
    Cents, Ente, FigureId, FiscalCode, MeasureId, Phase, ServiceId, Sha256Hex, TimeSlot,
};

use super::DomainError;

/// The recipient as the case knows them: pseudonymous (Art. 10, GDPR minimisation) plus who
/// may confirm (Art. 6: the recipient if adult, otherwise the family).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Pseudonymous reference (no name, no CF of the young person in the events).
    pub pseudonym: String,
    /// Whether the recipient is a minor (then the family confirms).
    pub minor: bool,
    /// Whether the confirmers use the FirmaLOM app (Art. 6).
    pub firmalom_enrolled: bool,
    /// Fiscal codes of who may sign the confirmation (recipient or family members).
    pub confirmers: Vec<FiscalCode>,
}

/// Status of a phase diary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiaryStatus {
    /// Open for recording (Art. 3: available during the whole delivery period).
    Open,
    /// Closed by the responsabile; for whole-diary phases waiting for the recipient's
    /// confirmation (a rejection reopens it).
    Closed,
    /// Passed to ATS for cost reporting (Art. 7); final.
    HandedToAts,
}

/// One phase diary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diary {
    /// The phase.
    pub phase: Phase,
    /// Current status.
    pub status: DiaryStatus,
    /// Who opened it.
    pub opened_by: FiscalCode,
    /// When.
    pub opened_at: DateTime<Utc>,
}

/// One entry (stringa) of a diary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Entry id.
    pub id: Uuid,
    /// Phase.
    pub phase: Phase,
    /// Author (Art. 5: the entry belongs to this CF).
    pub professional: FiscalCode,
    /// Figure the author recorded under.
    pub figure: FigureId,
    /// Service delivered.
    pub service: ServiceId,
    /// When.
    pub slot: TimeSlot,
    /// Art. 9 failure relied on for a late registration.
    pub system_failure_id: Option<Uuid>,
    /// Art. 9: the support desk member who co-signed a late entry recorded under a failure
    /// (it counts only once co-signed).
    pub cosigned_by: Option<FiscalCode>,
    /// When it was first recorded.
    pub recorded_at: DateTime<Utc>,
    /// Incremented by each amendment (a re-send must carry unchanged entries).
    pub revision: u32,
    /// Validated by the responsabile (whole-diary phases).
    pub validated: bool,
    /// The pending request (digital or paper) that currently includes it.
    pub pending_request: Option<Uuid>,
    /// Confirmed by the recipient: never changes again.
    pub confirmed: bool,
    /// Rejected in the last answered request and not yet re-sent.
    pub rejected: bool,
    /// Withdrawn by its author.
    pub withdrawn: bool,
    /// The rate recorded with it (the catalogue version in force on the delivery date);
    /// `None` for entries recorded before rates were recorded.
    pub rate: Option<crate::catalogue::Rate>,
}

impl Entry {
    /// Duration in minutes.
    pub fn minutes(&self) -> u32 {
        self.slot.minutes()
    }

    /// Its unit cost: the one recorded with it; for an entry recorded before rates were
    /// recorded, `measure`'s (the caller passes the version in force on the delivery date).
    pub fn unit_cost(&self, measure: &Measure) -> Option<Cents> {
        match &self.rate {
            Some(rate) => rate.unit_cost_cents,
            None => measure.hourly_cost(&self.figure),
        }
    }

    /// Minutes × unit cost (0 without one).
    pub fn cost(&self, measure: &Measure) -> Cents {
        self.unit_cost(measure)
            .map(|rate| Cents::for_minutes(u64::from(self.minutes()), rate))
            .unwrap_or_default()
    }
}

/// How a confirmation request reaches the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationChannel {
    /// Notification to the FirmaLOM app.
    Firmalom,
    /// Printed diary signed on paper and uploaded (Art. 6).
    Paper,
}

/// Status of a confirmation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for the answer.
    Pending,
    /// Confirmed by the recipient.
    Confirmed,
    /// Rejected by the recipient.
    Rejected,
    /// No answer within the deadline.
    Expired,
    /// Ended unanswered: by the interruption of the pathway, or cancelled by the responsabile
    /// (a paper diary not signed, a notification that never arrived).
    Ended,
}

/// A confirmation request (digital) or a paper diary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Id (request id or paper diary id).
    pub id: Uuid,
    /// Phase.
    pub phase: Phase,
    /// Channel.
    pub channel: ConfirmationChannel,
    /// Entries covered, with the revision that was sent.
    pub entries: BTreeMap<Uuid, u32>,
    /// Status.
    pub status: RequestStatus,
    /// Last time it was sent.
    pub sent_at: DateTime<Utc>,
    /// Answer deadline (digital only): one day from FirmaLOM's receipt of the notification,
    /// none while the notification is on its way.
    pub deadline: Option<DateTime<Utc>>,
    /// When FirmaLOM received the notification of the last sending.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The notification of the last sending could not be delivered.
    pub undelivered: Option<Undelivered>,
    /// How many times it was sent.
    pub times_sent: u32,
    /// The recipient's rejections (of the whole request or of some of its entries), in order.
    pub rejections: Vec<Rejection>,
    /// Paper diaries: the signed scan last uploaded and its four-eyes check.
    pub scan: Option<Scan>,
}

/// Where the four-eyes check of a paper scan stands (Art. 6-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanCheck {
    /// Uploaded, not yet checked by the ATS: the hours it confirms are "awaiting check".
    AwaitingCheck,
    /// Checked by an ATS operator other than the uploader.
    Checked,
    /// Refused by the ATS (illegible, wrong diary, signature missing…): a new scan is due.
    Refused,
}

/// The signed scan of a paper diary and its check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    /// SHA-256 of the scan.
    pub sha256: Sha256Hex,
    /// Who uploaded it.
    pub uploaded_by: FiscalCode,
    /// When.
    pub uploaded_at: DateTime<Utc>,
    /// The check.
    pub check: ScanCheck,
    /// The ATS operator who checked or refused it.
    pub checked_by: Option<FiscalCode>,
    /// Why refused (or the checker's note).
    pub reason: Option<String>,
}

/// One version of a document as a rule or a check relied on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// Document id.
    pub document_id: Uuid,
    /// Kind.
    pub kind: String,
    /// Version within its kind.
    pub version: u32,
    /// SHA-256 of the file.
    pub document_sha256: Sha256Hex,
}

/// A document of the pathway (Art. 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathwayDocument {
    /// Id.
    pub id: Uuid,
    /// Kind (the measure's `documents[].kind`).
    pub kind: String,
    /// Phase whose output it is.
    pub phase: Phase,
    /// Version within its kind (1, 2…).
    pub version: u32,
    /// Title.
    pub title: String,
    /// SHA-256 of the file.
    pub sha256: Sha256Hex,
    /// Media type.
    pub media_type: String,
    /// Who recorded it.
    pub by: FiscalCode,
    /// When.
    pub at: DateTime<Utc>,
    /// Its sharings with the recipient through FirmaLOM, in order.
    pub shares: Vec<DocumentShare>,
}

impl PathwayDocument {
    /// The reference rules and checks record.
    pub fn reference(&self) -> DocumentRef {
        DocumentRef {
            document_id: self.id,
            kind: self.kind.clone(),
            version: self.version,
            document_sha256: self.sha256.clone(),
        }
    }
}

/// One sharing of a document with the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentShare {
    /// FirmaLOM request id.
    pub request_id: Uuid,
    /// Pending, confirmed or rejected.
    pub status: RequestStatus,
    /// When shared.
    pub shared_at: DateTime<Utc>,
    /// Who answered.
    pub answered_by: Option<FiscalCode>,
    /// Why rejected, when said.
    pub reason: Option<String>,
}

/// A raise of the PDI caps after phase III hours existed (Art. 8), as ATS reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdiRaise {
    /// The reason given.
    pub reason: String,
    /// The PDI version the new caps came from.
    pub document: Option<DocumentRef>,
    /// Who raised them.
    pub by: FiscalCode,
    /// When.
    pub at: DateTime<Utc>,
}

/// A notification that could not be delivered, as the responsabile is told (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undelivered {
    /// Delivery attempts made.
    pub attempts: u32,
    /// The last error.
    pub last_error: String,
    /// When it was given up.
    pub at: DateTime<Utc>,
}

/// The interruption of the pathway as everyone on the case reads it (Art. 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interruption {
    /// The verified cause (none in events recorded before causes were asked).
    pub cause: Option<super::commands::InterruptionCause>,
    /// The description given.
    pub reason: String,
    /// The responsabile or case manager who recorded it.
    pub by: FiscalCode,
    /// When.
    pub at: DateTime<Utc>,
}

/// A rejection as the responsabile reads it (Art. 6): which entries, why if said, who, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Entries rejected.
    pub entry_ids: Vec<Uuid>,
    /// The reason, when given.
    pub reason: Option<String>,
    /// The signer.
    pub by: FiscalCode,
    /// When.
    pub at: DateTime<Utc>,
}

/// The per-service caps set in the PDI for phase III (Art. 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdiCap {
    /// Service.
    pub service: ServiceId,
    /// Maximum minutes for the voucher.
    pub max_minutes: u32,
}

/// The PDI caps in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdi {
    /// Per-service caps.
    pub caps: Vec<PdiCap>,
    /// Overall cap for the phase, if set.
    pub total_max_minutes: Option<u32>,
    /// The PDI document version the caps were taken from.
    pub document: Option<DocumentRef>,
    /// Raises recorded after phase III hours existed, in order.
    pub raises: Vec<PdiRaise>,
}

/// The opened case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFile {
    /// Case id (the stream id).
    pub case_id: Uuid,
    /// Measure the case runs under.
    pub measure_id: MeasureId,
    /// ATS code.
    pub ats: String,
    /// ASST code.
    pub asst: String,
    /// Provider (Ente Erogatore) code.
    pub provider: String,
    /// Responsabile per ente (Art. 4).
    pub responsabili: BTreeMap<Ente, FiscalCode>,
    /// ASST case manager (Art. 3).
    pub case_manager: FiscalCode,
    /// Recipient.
    pub recipient: Recipient,
    /// Enabled professionals: (ente, CF) → figures.
    pub professionals: BTreeMap<(Ente, FiscalCode), BTreeSet<FigureId>>,
    /// Phase diaries opened so far.
    pub diaries: BTreeMap<Phase, Diary>,
    /// All entries ever recorded (withdrawn ones are flagged, not removed).
    pub entries: BTreeMap<Uuid, Entry>,
    /// All confirmation requests and paper diaries.
    pub requests: BTreeMap<Uuid, Request>,
    /// PDI caps.
    pub pdi: Option<Pdi>,
    /// Documents of the pathway (Art. 1), by id.
    pub documents: BTreeMap<Uuid, PathwayDocument>,
    /// Set when the pathway is interrupted (Art. 6).
    pub interrupted_at: Option<DateTime<Utc>>,
    /// The interruption as recorded: cause, description, who.
    pub interruption: Option<Interruption>,
    /// When the case was opened (`at` of `CaseOpened`).
    pub opened_at: DateTime<Utc>,
    /// The voucher, under a voucher measure (seed 003 §10), with its suspensions (§9 E).
    pub voucher: Option<crate::voucher::CaseVoucher>,
    /// The case manager's declaration of the objectives (seed 003 §9 D, §12), the last one.
    pub objectives: Option<ObjectivesDeclaration>,
    /// The case manager's formal checks of the diaries (seed 003 §9 D), in order.
    pub formal_checks: Vec<FormalCheck>,
}

/// The case manager's declaration of the objectives, with the final report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectivesDeclaration {
    /// Achieved or not.
    pub achieved: bool,
    /// The final report's version.
    pub document: DocumentRef,
    /// Who declared.
    pub by: FiscalCode,
    /// When.
    pub at: DateTime<Utc>,
}

/// One formal check of the diaries by the case manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormalCheck {
    /// Passed or not.
    pub passed: bool,
    /// What was found.
    pub note: Option<String>,
    /// The case version checked.
    pub checked_version: u64,
    /// Who.
    pub by: FiscalCode,
    /// When.
    pub at: DateTime<Utc>,
}

impl CaseFile {
    /// The responsabile of an ente.
    pub fn responsabile(&self, ente: Ente) -> Option<&FiscalCode> {
        self.responsabili.get(&ente)
    }

    /// Whether the CF is the responsabile of any ente of the case.
    pub fn is_any_responsabile(&self, cf: &FiscalCode) -> bool {
        self.responsabili.values().any(|r| r == cf)
    }

    /// Entries of a phase that are not withdrawn.
    pub fn live_entries(&self, phase: Phase) -> impl Iterator<Item = &Entry> {
        self.entries
            .values()
            .filter(move |e| e.phase == phase && !e.withdrawn)
    }

    /// The latest version of a document kind, if any was recorded.
    pub fn latest_document(&self, kind: &str) -> Option<&PathwayDocument> {
        self.documents
            .values()
            .filter(|d| d.kind == kind)
            .max_by_key(|d| d.version)
    }

    /// The document shared under a FirmaLOM request id, with that sharing.
    pub fn document_share(&self, request_id: Uuid) -> Option<(&PathwayDocument, &DocumentShare)> {
        self.documents.values().find_map(|d| {
            d.shares
                .iter()
                .find(|s| s.request_id == request_id)
                .map(|s| (d, s))
        })
    }

    /// Seed 003 §9 D: whether the last formal check passed and came after the declaration of
    /// the objectives (what it verified includes the final report).
    pub fn formal_check_passed(&self) -> bool {
        match (self.formal_checks.last(), &self.objectives) {
            (Some(check), Some(declared)) => check.passed && check.at >= declared.at,
            _ => false,
        }
    }

    /// The pending request of a phase, if any (for whole-diary phases there is at most one).
    pub fn pending_requests(&self, phase: Phase) -> impl Iterator<Item = &Request> {
        self.requests
            .values()
            .filter(move |r| r.phase == phase && r.status == RequestStatus::Pending)
    }
}

/// The state of a case stream. `CaseState::default()` is the state before any event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaseState {
    /// `None` until `CaseOpened`.
    pub file: Option<CaseFile>,
    /// Number of events folded (the stream version).
    pub version: u64,
    /// `at` of the last event folded.
    pub last_event_at: Option<DateTime<Utc>>,
}

/// Minutes and money of one phase (non-withdrawn entries).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PhaseTotals {
    /// All live entries.
    pub minutes: u64,
    /// Confirmed entries only (what ATS reimburses).
    pub confirmed_minutes: u64,
    /// Minutes per figure.
    pub minutes_by_figure: BTreeMap<FigureId, u64>,
    /// Minutes per service.
    pub minutes_by_service: BTreeMap<ServiceId, u64>,
    /// Confirmed minutes × the figure's unit cost (figures without a unit cost count 0).
    pub confirmed_cost: Cents,
}

impl CaseState {
    /// The opened case, or `CaseNotOpened`.
    pub fn file(&self) -> Result<&CaseFile, DomainError> {
        self.file.as_ref().ok_or(DomainError::CaseNotOpened)
    }

    /// Digital requests still pending whose answer deadline has passed at `now`: what the
    /// scheduler expires with `ExpireConfirmationRequest` (Art. 6).
    pub fn overdue_requests(&self, now: DateTime<Utc>) -> Vec<Uuid> {
        self.file
            .iter()
            .flat_map(|f| f.requests.values())
            .filter(|r| r.status == RequestStatus::Pending && r.deadline.is_some_and(|d| now > d))
            .map(|r| r.id)
            .collect()
    }

    /// Totals per phase; minutes are the sum of the live entries (Art. 1: hours × unit cost).
    pub fn totals(&self, measure: &Measure) -> BTreeMap<Phase, PhaseTotals> {
        let mut out: BTreeMap<Phase, PhaseTotals> = BTreeMap::new();
        let Some(file) = &self.file else {
            return out;
        };
        for e in file.entries.values().filter(|e| !e.withdrawn) {
            let t = out.entry(e.phase).or_default();
            let m = u64::from(e.minutes());
            t.minutes += m;
            *t.minutes_by_figure.entry(e.figure.clone()).or_default() += m;
            *t.minutes_by_service.entry(e.service.clone()).or_default() += m;
            if e.confirmed {
                t.confirmed_minutes += m;
                t.confirmed_cost = t.confirmed_cost.plus(e.cost(measure));
            }
        }
        out
    }
}
