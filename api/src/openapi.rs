//! `GET /openapi.json`: the OpenAPI document generated from the handlers' annotations and the
//! request/response types (utoipa). Operational endpoints are listed too.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{admin, cases, documents, firmalom, ops, paper, people, reads};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "JWT whose `sub` is the caller's fiscal code (bare or TINIT-prefixed)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The constraints the server enforces on text that the derive cannot say, written into the
/// document: the shapes of fiscal codes, organisation codes, cursors, times and digests by
/// the name of the field or parameter that carries them, and — on every other plain string —
/// that no control character is accepted (`invalid-characters`; tab and line breaks are
/// allowed in body text). A parameter is never `null` on the wire: a `null` in its type is
/// dropped (absent is how it is left out).
struct TextConstraints;

/// The fiscal code: 6 letters, 2 digits, a month letter, 2 digits, a place (letter and 3
/// digits), a check letter; digits may be replaced by the omocodia letters; `TINIT-` prefix and
/// lowercase accepted. The check letter itself is verified by the server (400).
pub const FISCAL_CODE_PATTERN: &str = "^(TINIT-)?[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-EHLMPR-Ta-ehlmpr-t][0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z]$";
/// An organisation code (domain: 3–40 of `A–Z`, `0–9`, single hyphens inside).
pub const ORG_CODE_PATTERN: &str = "^[A-Z0-9](?:-?[A-Z0-9]){2,39}$";
const UUID: &str = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
/// No C0/C1 control character at all (parameters).
const NO_CONTROLS: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";
/// No control character but tab and line breaks (free text in bodies).
const NO_CONTROLS_TEXT: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

const FISCAL_CODE_FIELDS: [&str; 13] = [
    "confirmers",
    "person",
    "countersigners",
    "responsabile_asst",
    "responsabile_provider",
    "case_manager",
    "responsabile",
    "professional",
    "fiscal_code",
    "signed_by",
    "signer_cf",
    "cf",
    "sub",
];
const ORG_CODE_FIELDS: [&str; 8] = [
    "asst",
    "ats",
    "provider",
    "code",
    "ente",
    "lead",
    "partners",
    "organisation",
];

fn pattern_for(name: &str) -> Option<String> {
    if FISCAL_CODE_FIELDS.contains(&name) {
        return Some(FISCAL_CODE_PATTERN.to_owned());
    }
    if ORG_CODE_FIELDS.contains(&name) {
        return Some(ORG_CODE_PATTERN.to_owned());
    }
    match name {
        "sha256" => Some("^[0-9a-f]{64}$".to_owned()),
        "month" => Some("^[0-9]{4}-(0[1-9]|1[0-2])$".to_owned()),
        "entry_ids" => Some(format!("^{UUID}(,{UUID})*$")),
        "start" | "end" => Some("^([01][0-9]|2[0-3]):[0-5][0-9]$".to_owned()),
        _ => None,
    }
}

fn is_plain_string(schema: &serde_json::Map<String, serde_json::Value>) -> bool {
    let string = match schema.get("type") {
        Some(serde_json::Value::String(t)) => t == "string",
        Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    string
        && !["pattern", "format", "enum", "const"]
            .iter()
            .any(|k| schema.contains_key(*k))
}

/// Constrains the string schema `schema` of the field `name` (see [`TextConstraints`]).
fn constrain(name: Option<&str>, schema: &mut serde_json::Value, free_text: bool) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if let Some(items) = map.get_mut("items") {
        // An array of codes takes the codes' pattern (`confirmers`).
        constrain(name, items, free_text);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(variants) = map.get_mut(key).and_then(|v| v.as_array_mut()) {
            for variant in variants {
                // Request enums deny unknown fields (serde), which the derive leaves out of
                // their variants.
                if let Some(v) = variant.as_object_mut()
                    && v.contains_key("properties")
                    && !v.contains_key("additionalProperties")
                {
                    v.insert(
                        "additionalProperties".into(),
                        serde_json::Value::Bool(false),
                    );
                }
                constrain(name, variant, free_text);
            }
        }
    }
    if let Some(props) = map.get_mut("properties").and_then(|p| p.as_object_mut()) {
        for (key, value) in props.iter_mut() {
            constrain(Some(key.as_str()), value, free_text);
        }
    }
    if let Some(values) = map.get_mut("additionalProperties") {
        constrain(None, values, free_text);
    }
    // A map's keys are text too (the server checks them as it checks values).
    if map
        .get("additionalProperties")
        .is_some_and(|a| a.is_object() || a == &serde_json::Value::Bool(true))
        && !map.contains_key("propertyNames")
    {
        map.insert(
            "propertyNames".into(),
            serde_json::json!({ "pattern": NO_CONTROLS_TEXT }),
        );
    }
    if !is_plain_string(map) {
        return;
    }
    let pattern = name.and_then(pattern_for).unwrap_or_else(|| {
        if free_text {
            NO_CONTROLS_TEXT
        } else {
            NO_CONTROLS
        }
        .to_owned()
    });
    map.insert("pattern".into(), serde_json::Value::String(pattern));
}

/// Every property and parameter name of a request to `op` (its parameters, and the properties
/// of its body's schemas, followed through `$ref`).
fn field_names(
    doc: &serde_json::Value,
    op: &serde_json::Value,
) -> std::collections::BTreeSet<String> {
    fn walk(
        doc: &serde_json::Value,
        v: &serde_json::Value,
        seen: &mut std::collections::BTreeSet<String>,
        out: &mut std::collections::BTreeSet<String>,
    ) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(|r| r.as_str())
                    && let Some(name) = r.strip_prefix("#/components/schemas/")
                    && seen.insert(name.to_owned())
                    && let Some(schema) = doc.pointer(&format!("/components/schemas/{name}"))
                {
                    walk(doc, schema, seen, out);
                }
                if let Some(props) = map.get("properties").and_then(|p| p.as_object()) {
                    out.extend(props.keys().cloned());
                }
                for value in map.values() {
                    walk(doc, value, seen, out);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    walk(doc, item, seen, out);
                }
            }
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for param in op["parameters"].as_array().into_iter().flatten() {
        if let Some(name) = param["name"].as_str() {
            out.insert(name.to_owned());
        }
    }
    if let Some(body) = op.get("requestBody") {
        walk(doc, body, &mut Default::default(), &mut out);
    }
    out
}

/// What the schema cannot say, said in the refusals each operation documents: a fiscal code of
/// the right shape whose birth date or check letter is wrong (400 `malformed-request`), an
/// organisation code of the right shape that is not registered (`unknown-organisation`).
fn document_unexpressible_checks(doc: &mut serde_json::Value) {
    let snapshot = doc.clone();
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let names = field_names(&snapshot, op);
            let mut notes = Vec::new();
            if op.get("requestBody").is_some()
                || op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"))
            {
                notes.push(
                    "422 rule refusals: `code` names the rule of the Regolamento (or of the catalogue) that refused the request, as listed in docs/domain.md \"Error codes\"",
                );
            }
            if names
                .iter()
                .any(|n| FISCAL_CODE_FIELDS.contains(&n.as_str()))
            {
                notes.push(
                    "400 `malformed-request`: a fiscal code of the right shape whose birth date or check letter is wrong (the schema gives its shape only)",
                );
            }
            if names.iter().any(|n| ORG_CODE_FIELDS.contains(&n.as_str())) {
                notes.push(
                    "400 (a filter) or 422 (a body) `unknown-organisation`: an organisation code of the right shape that is not registered, `organisation-kind-mismatch`: one of another kind (an ATS given as a provider)",
                );
            }
            if names.contains("from") || names.contains("to") {
                notes.push("400 `malformed-request`: a `from`/`to` of the right shape that is no real day or instant; `invalid-period`: `to` before `from`, where the list checks it");
            }
            if names.contains("cursor") {
                notes.push("400 `invalid-cursor`: a cursor no previous page gave");
            }
            if notes.is_empty() {
                continue;
            }
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
                continue;
            };
            let targets: Vec<String> = if responses.contains_key("4XX") {
                vec!["4XX".into()]
            } else {
                let listed: Vec<String> = ["400", "422"]
                    .into_iter()
                    .filter(|k| responses.contains_key(*k))
                    .map(str::to_owned)
                    .collect();
                if listed.is_empty() {
                    responses.insert(
                        "4XX".into(),
                        serde_json::json!({
                            "description": "refused",
                            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                        }),
                    );
                    vec!["4XX".into()]
                } else {
                    listed
                }
            };
            for key in targets {
                if let Some(d) = responses.get_mut(&key).and_then(|r| r.as_object_mut()) {
                    let old = d.get("description").and_then(|x| x.as_str()).unwrap_or("");
                    let text = format!("{old}; {}", notes.join("; "));
                    d.insert("description".into(), serde_json::Value::String(text));
                }
            }
        }
    }
}

/// Adds `text` to the description of `item` (after what it says), unless it already names
/// `code`.
fn describe(item: &mut serde_json::Value, code: &str, text: &str) {
    let old = item["description"].as_str().unwrap_or("");
    if old.contains(code) {
        return;
    }
    let new = if old.is_empty() {
        text.to_owned()
    } else {
        format!("{old}; {text}")
    };
    item["description"] = serde_json::Value::String(new);
}

/// The component names `value` refers to (`$ref`), added to `out`.
fn refs(value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v.as_str()) {
                    ("$ref", Some(r)) => {
                        if let Some(name) = r.strip_prefix("#/components/schemas/") {
                            out.insert(name.to_owned());
                        }
                    }
                    _ => refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

impl Modify for TextConstraints {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Ok(mut doc) = serde_json::to_value(&*openapi) else {
            return;
        };
        if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
            for item in paths.values_mut() {
                let Some(ops) = item.as_object_mut() else {
                    continue;
                };
                for op in ops.values_mut() {
                    let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut())
                    else {
                        continue;
                    };
                    for param in params {
                        let name = param["name"].as_str().map(str::to_owned);
                        match name.as_deref() {
                            Some("If-Match") => describe(
                                param,
                                "version-mismatch",
                                "the stream version the change is based on (`\"<version>\"` or `*`); another version: 412 `version-mismatch`",
                            ),
                            Some("Idempotency-Key") => describe(
                                param,
                                "idempotency-key-reused",
                                "a retry with the same key and body gets the first answer again; the key with another request: 422 `idempotency-key-reused`",
                            ),
                            _ => {}
                        }
                        if let Some(schema) = param.get_mut("schema") {
                            if let Some(types) =
                                schema.get_mut("type").and_then(|t| t.as_array_mut())
                            {
                                types.retain(|t| t != "null");
                                if types.len() == 1 {
                                    let only = types[0].clone();
                                    schema["type"] = only;
                                }
                            }
                            constrain(name.as_deref(), schema, false);
                        }
                    }
                }
            }
        }
        // The schemas requests are made of (responses keep theirs: `code` there is a problem
        // code, not an organisation).
        let mut request = std::collections::BTreeSet::new();
        if let Some(paths) = doc.get("paths") {
            for op in paths.as_object().into_iter().flat_map(|p| p.values()) {
                for o in op.as_object().into_iter().flat_map(|o| o.values()) {
                    if let Some(body) = o.get("requestBody") {
                        refs(body, &mut request);
                    }
                }
            }
        }
        loop {
            let before = request.len();
            for name in request.clone() {
                if let Some(schema) = doc.pointer(&format!("/components/schemas/{name}")) {
                    refs(schema, &mut request);
                }
            }
            if request.len() == before {
                break;
            }
        }
        for name in &request {
            if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
                constrain(None, schema, true);
            }
        }
        document_unexpressible_checks(&mut doc);
        match serde_json::from_value(doc) {
            Ok(constrained) => *openapi = constrained,
            Err(e) => {
                tracing::error!(error = %e, "the OpenAPI text constraints could not be applied")
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Diario Online API",
        description = "Verifiable time register of the Lombardy #UP measure (DGR XI/7503/2022). Errors are application/problem+json with a stable `type` per rule. Writes accept `Idempotency-Key` and `If-Match: \"<version>\"`, and answer with the new version (body and `ETag`). Every JSON object a GET answers carries `names`: fiscal code → \"Nome Cognome\" of the staff it mentions whose name is recorded."
    ),
    paths(
        cases::create_case,
        reads::get_case,
        cases::change_responsabile,
        cases::change_case_manager,
        cases::change_confirmers,
        cases::cosign_late_entry,
        cases::change_enrolment,
        cases::withdraw_validation,
        cases::cancel_paper_diary,
        cases::cancel_confirmation_request,
        cases::open_phase,
        cases::enable_professional,
        cases::disable_professional,
        cases::record_entry,
        cases::amend_entry,
        cases::withdraw_entry,
        cases::validate_entries,
        cases::close_phase,
        cases::request_confirmation,
        cases::resend_confirmation,
        cases::set_pdi,
        cases::interrupt,
        cases::suspend,
        cases::reactivate,
        cases::authorise_suspension,
        cases::declare_objectives,
        cases::record_formal_check,
        admin::declare_failure,
        admin::resolve_failure,
        admin::list_failures,
        admin::list_grants,
        admin::add_grant,
        admin::revoke_grant,
        admin::list_measures,
        admin::get_measure,
        admin::set_test_clock,
        firmalom::callback,
        paper::pending_paper_diary,
        paper::paper_diary,
        paper::paper_confirmation,
        paper::get_document,
        documents::list_documents,
        documents::upload_document,
        cases::share_document,
        cases::check_paper_scan,
        reads::audit_trail,
        reads::audit_verification,
        crate::dossier::dossier,
        crate::people::person_entries,
        crate::samples::draw_sample,
        crate::seals::list_seals,
        crate::access_log::list,
        crate::seals::get_seal,
        crate::samples::get_sample,
        crate::samples::selection_csv,
        crate::plans::open_plan,
        crate::plans::get_plan,
        crate::plans::assign_person,
        crate::plans::file_final_report,
        crate::plans::plan_report,
        crate::plans::draw_control_sample,
        crate::plans::record_cost,
        crate::plans::list_cost_records,
        crate::plans::get_timesheet,
        crate::plans::record_day,
        crate::plans::withdraw_day,
        crate::plans::sign,
        crate::plans::countersign,
        reads::notifications,
        reads::history,
        reads::case_checklists,
        reads::dashboard,
        reads::ats_cases,
        reads::costs,
        reads::vouchers,
        reads::me,
        people::my_cases,
        people::my_entries,
        people::my_notifications,
        people::list_organisations,
        people::get_organisation,
        people::register_organisation,
        people::list_staff,
        people::record_staff,
        people::end_staff,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        openapi_json,
    ),
    modifiers(&BearerAuth, &TextConstraints)
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI document", body = Object)))]
pub async fn openapi_json(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
) -> Json<utoipa::openapi::OpenApi> {
    // Built once (the derive and the text constraints), then copied per request.
    static DOCUMENT: std::sync::LazyLock<utoipa::openapi::OpenApi> =
        std::sync::LazyLock::new(ApiDoc::openapi);
    let mut doc = DOCUMENT.clone();
    // Only the routes this server serves: the test clock exists with `--test-clock` only.
    if state.test_clock.is_none() {
        doc.paths.paths.remove("/v1/test-clock");
    }
    Json(doc)
}

/// The interactive API reference at `/docs`: Swagger UI (from `utoipa-swagger-ui`, its files
/// embedded at build time by the `vendored` feature — nothing is downloaded at build or run
/// time) reading the served `/openapi.json`; no call to an outside validator.
pub async fn docs(tail: Option<axum::extract::Path<String>>) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    static CONFIG: std::sync::LazyLock<std::sync::Arc<utoipa_swagger_ui::Config<'static>>> =
        std::sync::LazyLock::new(|| {
            std::sync::Arc::new(
                utoipa_swagger_ui::Config::new(["/openapi.json"])
                    .validator_url("none")
                    .try_it_out_enabled(true)
                    .persist_authorization(false),
            )
        });
    let tail = tail.map(|axum::extract::Path(t)| t).unwrap_or_default();
    match utoipa_swagger_ui::serve(&tail, CONFIG.clone()) {
        Ok(Some(file)) => {
            let mut response = file.bytes.into_owned().into_response();
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&file.content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if file.gzpipped {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
                ),
            );
            response
        }
        Ok(None) => crate::ApiError::NotFound.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the API reference could not be served");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use utoipa::{OpenApi, ToSchema};

    use super::ApiDoc;
    use crate::dto::*;

    macro_rules! names {
        ($($t:ty),* $(,)?) => {
            vec![$((<$t as ToSchema>::name().into_owned(), stringify!($t))),*]
        };
    }

    /// utoipa keys schemas by their name: two types with one name would silently document one
    /// endpoint with the other's shape. Every type the document refers to has its own name.
    #[test]
    fn every_schema_is_listed_once_under_its_own_name() {
        use diario_projections as p;
        let all = names![
            AmendEntryBody,
            CloseBody,
            CommandResult,
            ConfirmationRequestBody,
            CreateCaseBody,
            DeclareFailureBody,
            DeclaredFailure,
            EnableProfessionalBody,
            EnteName,
            FailureScopeBody,
            GrantBody,
            GrantRoleName,
            GrantsView,
            InterruptionBody,
            MeasureSummary,
            PdiBody,
            PdiCapBody,
            RecipientBody,
            RecordEntryBody,
            ResolveFailureBody,
            ResponsabileBody,
            crate::dto::CaseManagerBody,
            crate::dto::ConfirmersBody,
            crate::dto::EnrolmentBody,
            crate::dto::InterruptionCauseName,
            crate::dto::ValidationWithdrawalBody,
            crate::dto::PaperCancellationBody,
            crate::dto::RequestCancellationBody,
            crate::dto::VoucherBody,
            crate::dto::SuspensionBody,
            crate::dto::ReactivationBody,
            crate::dto::ObjectivesBody,
            crate::dto::FormalCheckBody,
            SlotBody,
            TestClockBody,
            ValidationBody,
            crate::error::Problem,
            crate::firmalom::CallbackBody,
            crate::firmalom::CallbackEntry,
            crate::firmalom::CallbackResult,
            crate::paper::PaperConfirmationForm,
            crate::paper::PaperConfirmationResult,
            crate::documents::DocumentForm,
            crate::documents::DocumentShareView,
            crate::documents::DocumentView,
            crate::documents::MissingOutput,
            crate::documents::PdiRaiseView,
            crate::documents::PdiSource,
            crate::documents::PaperScanView,
            crate::documents::CaseDocuments,
            crate::dto::ScanCheckBody,
            crate::reads::CapabilityView,
            crate::reads::MeView,
            crate::people::InboxView,
            crate::people::MyCasesView,
            crate::people::OrgKindName,
            crate::people::OrganisationBody,
            crate::people::OrganisationsView,
            crate::people::StaffBody,
            crate::people::StaffListView,
            crate::people::StaffMemberView,
            crate::dossier::Dossier,
            crate::dossier::DossierEvent,
            crate::dossier::DossierDocument,
            crate::dossier::DossierChecklist,
            crate::dossier::DossierHead,
            crate::samples::DrawSampleBody,
            crate::samples::PopulationBody,
            crate::plans::OpenPlanBody,
            crate::plans::ActionBody,
            crate::plans::BudgetBody,
            crate::plans::FinancingBody,
            crate::plans::AnnualCostBody,
            crate::plans::CostBasisBody,
            crate::plans::ControlSampleBody,
            p::PlanControls,
            p::SampleSummary,
            crate::plans::AssignPersonBody,
            crate::plans::RecordCostBody,
            crate::plans::RecordDayBody,
            crate::plans::CountersignBody,
            crate::plans::TimesheetView,
            p::PlanReport,
            p::CategoryLine,
            p::PlanCostLine,
            crate::seals::SealList,
            crate::access_log::AccessLogPage,
            crate::access_log::AccessRecord,
            crate::seals::SealSummary,
            crate::seals::SealView,
            crate::samples::SampleView,
            crate::samples::SampledCase,
            p::AlertView,
            p::AtsDashboard,
            p::AuditRecord,
            p::CaseDiary,
            p::CasePerson,
            p::CaseStatus,
            p::CaseSummary,
            p::ChannelView,
            p::CheckView,
            p::ChecklistView,
            p::CostFilter,
            p::CostLine,
            p::OutputLine,
            p::CostReport,
            p::CostTotal,
            p::DiaryStatusView,
            p::EntryState,
            p::EntryView,
            p::FailureScopeView,
            p::IdleCase,
            p::MyCase,
            p::MyDay,
            p::MyEntries,
            p::MyEntry,
            p::MyRole,
            p::Notification,
            p::PhaseDiary,
            p::PhaseDiaryCounts,
            p::PhaseFigureMinutes,
            p::RelyingEntry,
            p::RequestCounts,
            p::RequestStatusView,
            p::InterruptionView,
            p::RejectionView,
            p::UndeliveredView,
            p::RequestView,
            p::StaffView,
            p::SystemFailureView,
            p::Total,
            p::Waiting,
            p::VoucherView,
            p::VoucherReport,
            p::vouchers::AmbitoReport,
            p::vouchers::VoucherCase,
            p::vouchers::ClaimLineView,
            p::vouchers::ReasonView,
            p::vouchers::VoucherSummary,
            p::vouchers::PathwayRow,
        ];
        let mut by_name: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, rust) in &all {
            by_name.entry(name.clone()).or_default().push(rust);
        }
        let clashes: Vec<_> = by_name.iter().filter(|(_, v)| v.len() > 1).collect();
        assert!(clashes.is_empty(), "schema names used twice: {clashes:?}");
        let doc = ApiDoc::openapi();
        let documented = doc
            .components
            .as_ref()
            .map(|c| c.schemas.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for name in documented {
            assert!(
                by_name.contains_key(&name) || name.starts_with("Page"),
                "schema {name} is in the document but not in this list"
            );
        }
    }
}
