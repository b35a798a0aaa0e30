//! `GET /openapi.json`: the OpenAPI document generated from the handlers' annotations and the
//! request/response types (utoipa). Operational endpoints are listed too.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{admin, cases, firmalom, ops, paper, people, reads};

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
        reads::audit_trail,
        reads::audit_verification,
        reads::notifications,
        reads::history,
        reads::case_checklists,
        reads::dashboard,
        reads::ats_cases,
        reads::costs,
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
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI document", body = Object)))]
pub async fn openapi_json(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
) -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
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
            SlotBody,
            TestClockBody,
            ValidationBody,
            crate::error::Problem,
            crate::firmalom::CallbackBody,
            crate::firmalom::CallbackResult,
            crate::paper::PaperConfirmationForm,
            crate::paper::PaperConfirmationResult,
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
            p::RequestView,
            p::StaffView,
            p::SystemFailureView,
            p::Total,
            p::Waiting,
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
