//! Request and response documents of the API (the OpenAPI schemas). Field names follow the
//! domain's commands and events; CFs, phases and slots are validated while reading.

use chrono::{DateTime, NaiveDate, Utc};
use diario_domain::grants::{Grant, GrantRole};
use diario_domain::{
    Ente, FailureScope, FigureId, FiscalCode, Measure, PdiCap, Phase, ServiceId, SystemFailure,
    TimeSlot,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ApiError;

/// `asst` (phase I) or `provider` (Ente Erogatore, phases II-IV).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnteName {
    Asst,
    Provider,
}

impl From<EnteName> for Ente {
    fn from(e: EnteName) -> Ente {
        match e {
            EnteName::Asst => Ente::Asst,
            EnteName::Provider => Ente::Provider,
        }
    }
}

/// The verified cause of an interruption (Art. 6): `withdrawal` (rinuncia del destinatario o
/// della famiglia), `relocation` (trasferimento fuori dal territorio), `unreachable`,
/// `other_service` (presa in carico da un altro servizio o misura), `objectives_reached`,
/// `other` (described in `reason`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InterruptionCauseName {
    Withdrawal,
    Relocation,
    Unreachable,
    OtherService,
    ObjectivesReached,
    Other,
}

impl From<InterruptionCauseName> for diario_domain::case::InterruptionCause {
    fn from(c: InterruptionCauseName) -> Self {
        use diario_domain::case::InterruptionCause as C;
        match c {
            InterruptionCauseName::Withdrawal => C::Withdrawal,
            InterruptionCauseName::Relocation => C::Relocation,
            InterruptionCauseName::Unreachable => C::Unreachable,
            InterruptionCauseName::OtherService => C::OtherService,
            InterruptionCauseName::ObjectivesReached => C::ObjectivesReached,
            InterruptionCauseName::Other => C::Other,
        }
    }
}

/// The recipient: pseudonymous reference, minor, FirmaLOM enrolment, who confirms.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientBody {
    /// Pseudonymous reference (never the name or CF of the young person; Art. 10).
    pub pseudonym: String,
    pub minor: bool,
    pub firmalom_enrolled: bool,
    /// Fiscal codes of the recipient or family members who confirm (Art. 6).
    #[schema(value_type = Vec<String>, example = json!(["CLMMRC78P10F205F"]))]
    pub confirmers: Vec<FiscalCode>,
}

/// `POST /v1/cases`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCaseBody {
    /// Optional client-chosen id; otherwise derived from the Idempotency-Key (or fresh).
    #[serde(default)]
    pub case_id: Option<Uuid>,
    /// Measure id from `GET /v1/measures` (e.g. `up`).
    #[schema(example = "up")]
    pub measure_id: String,
    #[schema(example = "ATS-MILANO")]
    pub ats: String,
    #[schema(example = "ASST-NORD")]
    pub asst: String,
    #[schema(example = "ENTE-ALFA")]
    pub provider: String,
    #[schema(value_type = String, example = "BNCLRA80A41F205G")]
    pub responsabile_asst: FiscalCode,
    #[schema(value_type = String, example = "VRDGPP70C15H501K")]
    pub responsabile_provider: FiscalCode,
    #[schema(value_type = String, example = "NREFNC90D52L219T")]
    pub case_manager: FiscalCode,
    pub recipient: RecipientBody,
    /// Under a voucher measure (`autonomia_2016`): the intensity and the start of the
    /// activities (default: today).
    #[serde(default)]
    pub voucher: Option<VoucherBody>,
}

/// The voucher of a new case (seed 003 §10).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoucherBody {
    /// One of the measure's `intensities[].id`.
    #[schema(example = "maggiore_intensita")]
    pub intensity: String,
    /// The first day of the activities (YYYY-MM-DD).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, example = "2017-02-01")]
    pub start: Option<chrono::NaiveDate>,
}

/// `POST /v1/cases/{id}/suspensions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspensionBody {
    /// The first suspended day.
    #[schema(value_type = String, format = Date, example = "2017-06-01")]
    pub from: chrono::NaiveDate,
    /// The impediment.
    pub reason: String,
}

/// `POST /v1/cases/{id}/suspensions/{from}/reactivation`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactivationBody {
    /// The day the pathway is active again.
    #[schema(value_type = String, format = Date, example = "2017-07-01")]
    pub on: chrono::NaiveDate,
}

/// `POST /v1/cases/{id}/objectives`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectivesBody {
    /// Whether the objectives of the PI/PEI were achieved.
    pub achieved: bool,
    /// The final individual report (a recorded document).
    pub document_id: Uuid,
}

/// `POST /v1/cases/{id}/formal-checks`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormalCheckBody {
    /// Whether the calendars and diaries passed the check.
    pub passed: bool,
    /// What was found (required when not passed).
    #[serde(default)]
    pub note: Option<String>,
}

/// `PUT /v1/cases/{id}/responsabili/{ente}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsabileBody {
    #[schema(value_type = String)]
    pub responsabile: FiscalCode,
}

/// `PUT /v1/cases/{id}/case-manager`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseManagerBody {
    /// The new case manager's fiscal code.
    #[schema(value_type = String)]
    pub case_manager: FiscalCode,
}

/// `PUT /v1/cases/{id}/recipient/confirmers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmersBody {
    /// Fiscal codes of who signs: the adult recipient personally (one), or a minor's family.
    #[schema(value_type = Vec<String>)]
    pub confirmers: Vec<FiscalCode>,
    /// Why (required from a responsabile; an ATS operator may omit it).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// `PUT /v1/cases/{id}/recipient/enrolment`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentBody {
    /// Whether the confirmers now use the FirmaLOM app.
    pub firmalom_enrolled: bool,
}

/// `POST /v1/cases/{id}/phases/{n}/validation/withdrawal`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationWithdrawalBody {
    /// Which entries; absent: every validated entry of the phase.
    #[serde(default)]
    pub entry_ids: Option<Vec<Uuid>>,
    /// Why (required: 422 reason-required).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// `POST /v1/cases/{id}/paper-diaries/{pid}/cancellation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaperCancellationBody {
    /// The family refused to sign (recorded as a rejection); otherwise the ente cancels it.
    #[serde(default)]
    pub refused_by_family: bool,
    /// Why: required when the ente cancels, optional for a refusal.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// `POST /v1/cases/{id}/confirmation-requests/{rid}/cancellation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestCancellationBody {
    /// Why the request is cancelled (required: 422 reason-required).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// `POST /v1/cases/{id}/professionals`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableProfessionalBody {
    pub ente: EnteName,
    #[schema(value_type = String)]
    pub professional: FiscalCode,
    /// Figures from the measure's catalogue.
    #[schema(value_type = Vec<String>, example = json!(["educatore_professionale"]))]
    pub figures: Vec<FigureId>,
}

/// Query of `DELETE /v1/cases/{id}/professionals/{cf}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EnteQuery {
    /// Which ente's enablement to remove; default: the one the professional is enabled for.
    #[serde(default)]
    pub ente: Option<EnteName>,
}

/// Date (`YYYY-MM-DD`, Europe/Rome) and clock times (`HH:MM`) of a service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotBody {
    #[schema(value_type = String, format = Date, example = "2024-03-04")]
    pub date: NaiveDate,
    #[schema(example = "10:00")]
    pub start: String,
    #[schema(example = "11:30")]
    pub end: String,
}

impl SlotBody {
    /// Art. 5 (iv): clock times that parse (400 naming the field), exist in Europe/Rome and
    /// end after the start (422 with the rule); the duration is the case's to check.
    pub fn slot(&self) -> Result<TimeSlot, ApiError> {
        use diario_domain::values::TimeSlotError;
        TimeSlot::parse(self.date, &self.start, &self.end).map_err(|e| match e {
            TimeSlotError::Unparseable { field } => ApiError::Malformed {
                field: Some(field.to_owned()),
                message: e.to_string(),
            },
            TimeSlotError::EndNotAfterStart => ApiError::Unprocessable {
                code: "end-not-after-start",
                message: e.to_string(),
            },
            TimeSlotError::NonexistentLocalTime { .. } => ApiError::Unprocessable {
                code: "nonexistent-local-time",
                message: e.to_string(),
            },
        })
    }
}

/// `POST /v1/cases/{id}/entries`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordEntryBody {
    /// Optional client-chosen id; otherwise derived from the Idempotency-Key (or fresh).
    #[serde(default)]
    pub entry_id: Option<Uuid>,
    #[schema(value_type = u8, minimum = 1, maximum = 4)]
    pub phase: Phase,
    #[schema(value_type = String, example = "psicologo")]
    pub figure: FigureId,
    #[schema(value_type = String, example = "colloquio_valutazione")]
    pub service: ServiceId,
    /// The day (`YYYY-MM-DD`, Europe/Rome): entries are written as they are read.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, example = "2024-03-04")]
    pub date: Option<NaiveDate>,
    /// Start, `HH:MM` (Europe/Rome).
    #[serde(default)]
    #[schema(example = "10:00")]
    pub start: Option<String>,
    /// End, `HH:MM` (Europe/Rome).
    #[serde(default)]
    #[schema(example = "11:30")]
    pub end: Option<String>,
    /// The earlier shape of `date`, `start` and `end` together, still accepted; give one of
    /// the two.
    #[serde(default)]
    #[schema(deprecated)]
    pub slot: Option<SlotBody>,
    /// Art. 9: the declared system failure relied on when recording after 15 days.
    #[serde(default)]
    pub system_failure_id: Option<Uuid>,
}

/// The slot of a write from `date`/`start`/`end` (each defaulting to `current`'s, for a
/// correction) or from the earlier `slot` object — not both.
pub fn slot_of(
    date: Option<NaiveDate>,
    start: Option<String>,
    end: Option<String>,
    slot: Option<&SlotBody>,
    current: Option<&TimeSlot>,
) -> Result<TimeSlot, ApiError> {
    let flat = date.is_some() || start.is_some() || end.is_some();
    if let Some(slot) = slot {
        if flat {
            return Err(ApiError::Malformed {
                field: Some("slot".into()),
                message: "indicare date, start ed end oppure slot, non entrambi".into(),
            });
        }
        return slot.slot();
    }
    let missing = |field: &str| ApiError::Malformed {
        field: Some(field.to_owned()),
        message: format!("il campo {field} non è valido: campo obbligatorio mancante"),
    };
    let hm = |t: chrono::NaiveTime| t.format("%H:%M").to_string();
    let date = date
        .or(current.map(|c| c.date))
        .ok_or_else(|| missing("date"))?;
    let start = start
        .or(current.map(|c| hm(c.start)))
        .ok_or_else(|| missing("start"))?;
    let end = end
        .or(current.map(|c| hm(c.end)))
        .ok_or_else(|| missing("end"))?;
    SlotBody { date, start, end }.slot()
}

/// `PATCH /v1/cases/{id}/entries/{eid}`: fields not given keep their current value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendEntryBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub figure: Option<FigureId>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub service: Option<ServiceId>,
    /// A new day; the time keeps its value unless given too.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, example = "2024-03-05")]
    pub date: Option<NaiveDate>,
    /// A new start, `HH:MM`.
    #[serde(default)]
    pub start: Option<String>,
    /// A new end, `HH:MM`.
    #[serde(default)]
    pub end: Option<String>,
    /// The earlier shape (the whole slot), still accepted; not with `date`/`start`/`end`.
    #[serde(default)]
    #[schema(deprecated)]
    pub slot: Option<SlotBody>,
    /// Art. 9 failure relied on if the (new) date is late.
    #[serde(default)]
    pub system_failure_id: Option<Uuid>,
    /// The material error corrected ("errore materiale"), required (422
    /// correction-reason-missing when absent or blank): kept in the event, shown in the audit
    /// trail.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// A reason given with a correction or a withdrawal: at most 500 characters.
pub fn reason(given: Option<String>) -> Result<Option<String>, crate::ApiError> {
    match given {
        Some(r) if r.chars().count() > 500 => Err(crate::ApiError::InvalidField {
            field: "reason".into(),
            message: "reason: al massimo 500 caratteri".into(),
        }),
        other => Ok(other),
    }
}

/// `DELETE /v1/cases/{id}/entries/{eid}?reason=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithdrawQuery {
    /// Why the entry is withdrawn: kept in the event, shown in the audit trail.
    #[param(max_length = 500)]
    pub reason: Option<String>,
}

/// `POST /v1/cases/{id}/phases/{n}/validation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationBody {
    /// Entries to validate; absent = every entry not yet validated.
    #[serde(default)]
    pub entry_ids: Option<Vec<Uuid>>,
}

/// `POST /v1/cases/{id}/phases/{n}/close`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// Id of the whole-diary confirmation request (phases I-II); derived when absent.
    #[serde(default)]
    pub request_id: Option<Uuid>,
}

/// `POST /v1/cases/{id}/confirmation-requests`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationRequestBody {
    #[serde(default)]
    pub request_id: Option<Uuid>,
    #[schema(value_type = u8, minimum = 1, maximum = 4)]
    pub phase: Phase,
    pub entry_ids: Vec<Uuid>,
}

/// One PDI cap.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PdiCapBody {
    #[schema(value_type = String, example = "contrasto_dispersione_scolastica")]
    pub service: ServiceId,
    pub max_minutes: u32,
}

/// `PUT /v1/cases/{id}/pdi`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PdiBody {
    pub caps: Vec<PdiCapBody>,
    #[serde(default)]
    pub total_max_minutes: Option<u32>,
    /// The PDI document the caps come from (`GET …/documents`); absent: its latest version.
    /// Without a recorded PDI document: 422 pdi-document-required.
    #[serde(default)]
    pub pdi_document_id: Option<Uuid>,
    /// Why the caps are raised once phase III has hours (then required: 422
    /// pdi-raise-reason-missing); shown to the ATS.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

impl PdiBody {
    pub fn caps(&self) -> Vec<PdiCap> {
        self.caps
            .iter()
            .map(|c| PdiCap {
                service: c.service.clone(),
                max_minutes: c.max_minutes,
            })
            .collect()
    }
}

/// `POST /v1/cases/{id}/paper-diaries/{pid}/check`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanCheckBody {
    /// true: the scan matches the paper diary it signs and is legible (checked); false: refused.
    pub accepted: bool,
    /// Why refused (required then: 422 reason-required), or a note.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// `POST /v1/cases/{id}/interruption`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterruptionBody {
    /// The verified cause.
    pub cause: InterruptionCauseName,
    /// A description; required with `other` (422 reason-required).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// The answer to every case write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommandResult {
    pub case_id: Uuid,
    /// The case version after the command (also the `ETag`).
    pub version: i64,
    /// Events recorded by the command (empty when it changed nothing), `type`-tagged.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
    /// Id of the entry created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<Uuid>,
    /// Id of the confirmation request created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
}

/// Events as the answers of writes show them (`type`-tagged JSON).
pub fn events_json<E: Serialize>(events: &[E]) -> Result<Vec<Value>, ApiError> {
    events
        .iter()
        .map(|e| serde_json::to_value(e).map_err(|err| ApiError::Internal(Box::new(err))))
        .collect()
}

/// Whose system failed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FailureScopeBody {
    /// The regional system: every case.
    Regional,
    /// An ente's own system (ASST or provider code).
    Ente { ente: String },
}

impl From<FailureScopeBody> for FailureScope {
    fn from(s: FailureScopeBody) -> FailureScope {
        match s {
            FailureScopeBody::Regional => FailureScope::Regional,
            FailureScopeBody::Ente { ente } => FailureScope::Ente { ente },
        }
    }
}

/// `POST /v1/system-failures`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareFailureBody {
    #[serde(default)]
    pub failure_id: Option<Uuid>,
    pub scope: FailureScopeBody,
    pub ticket: String,
    pub description: String,
    pub began_at: DateTime<Utc>,
    /// When the operator opened the ticket (Art. 9: "immediatamente"; the failure began at
    /// most 24 hours before it); the declaration's instant when omitted.
    #[serde(default)]
    pub ticket_opened_at: Option<DateTime<Utc>>,
}

/// `POST /v1/system-failures/{id}/resolution`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveFailureBody {
    pub resolved_at: DateTime<Utc>,
}

/// A declared system failure as its writes answer (Art. 9); the list with the relying entries
/// is `SystemFailureView`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeclaredFailure {
    pub failure_id: Uuid,
    pub scope: FailureScopeBody,
    pub ticket: String,
    pub description: String,
    pub began_at: DateTime<Utc>,
    /// When the operator's ticket was opened (none for declarations before it was asked).
    pub ticket_opened_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Support operator who declared it.
    pub declared_by: String,
    /// Stream version (also the `ETag` of writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

impl DeclaredFailure {
    pub fn from_domain(f: &SystemFailure, version: Option<i64>) -> DeclaredFailure {
        DeclaredFailure {
            failure_id: f.id,
            scope: match &f.scope {
                FailureScope::Regional => FailureScopeBody::Regional,
                FailureScope::Ente { ente } => FailureScopeBody::Ente { ente: ente.clone() },
            },
            ticket: f.ticket.clone(),
            description: f.description.clone(),
            ticket_opened_at: f.ticket_opened_at,
            began_at: f.began_at,
            resolved_at: f.resolved_at,
            declared_by: f.declared_by.as_str().to_owned(),
            version,
        }
    }
}

/// An organisation role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantRoleName {
    AtsOperator,
    EnteAdmin,
    Auditor,
    Support,
    PlatformAdmin,
    /// The data-protection officer: reads the access log.
    Dpo,
}

impl From<GrantRoleName> for GrantRole {
    fn from(r: GrantRoleName) -> GrantRole {
        match r {
            GrantRoleName::AtsOperator => GrantRole::AtsOperator,
            GrantRoleName::EnteAdmin => GrantRole::EnteAdmin,
            GrantRoleName::Auditor => GrantRole::Auditor,
            GrantRoleName::Support => GrantRole::Support,
            GrantRoleName::PlatformAdmin => GrantRole::PlatformAdmin,
            GrantRoleName::Dpo => GrantRole::DataProtectionOfficer,
        }
    }
}

impl From<GrantRole> for GrantRoleName {
    fn from(r: GrantRole) -> GrantRoleName {
        match r {
            GrantRole::AtsOperator => GrantRoleName::AtsOperator,
            GrantRole::EnteAdmin => GrantRoleName::EnteAdmin,
            GrantRole::Auditor => GrantRoleName::Auditor,
            GrantRole::Support => GrantRoleName::Support,
            GrantRole::PlatformAdmin => GrantRoleName::PlatformAdmin,
            GrantRole::DataProtectionOfficer => GrantRoleName::Dpo,
        }
    }
}

/// `POST` / `DELETE /v1/admin/grants`, and one grant in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    #[schema(value_type = String)]
    pub fiscal_code: FiscalCode,
    pub role: GrantRoleName,
    /// ATS code (ats_operator, auditor) or ente code (ente_admin); required for
    /// ats_operator and ente_admin; absent = every organisation.
    #[serde(default)]
    pub scope: Option<String>,
}

impl GrantBody {
    pub fn grant(&self) -> Grant {
        Grant {
            fiscal_code: self.fiscal_code.clone(),
            role: self.role.into(),
            scope: self.scope.clone(),
        }
    }

    pub fn from_grant(g: &Grant) -> GrantBody {
        GrantBody {
            fiscal_code: g.fiscal_code.clone(),
            role: g.role.into(),
            scope: g.scope.clone(),
        }
    }
}

/// The answer to a grant write and `GET /v1/admin/grants`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantsView {
    /// Version of the grants stream.
    pub version: i64,
    pub grants: Vec<GrantBody>,
}

/// `PUT /v1/test-clock`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestClockBody {
    pub now: DateTime<Utc>,
}

/// A measure in the list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MeasureSummary {
    pub id: String,
    pub name: String,
    /// True when figures, caps or costs are placeholders.
    pub example_values: bool,
    pub phases: Vec<u8>,
}

impl MeasureSummary {
    pub fn from_measure(m: &Measure) -> MeasureSummary {
        MeasureSummary {
            id: m.id.as_str().to_owned(),
            name: m.name.clone(),
            example_values: m.example_values,
            phases: m.phases.iter().map(|p| p.phase.number()).collect(),
        }
    }
}
