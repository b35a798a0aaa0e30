//! `GET /openapi.json`: the OpenAPI document generated from the handlers' annotations and the
//! request/response types (utoipa). Operational endpoints are listed too.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{admin, cases, firmalom, ops, paper, reads};

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
        description = "Verifiable time register of the Lombardy #UP measure (DGR XI/7503/2022). Errors are application/problem+json with a stable `type` per rule. Writes accept `Idempotency-Key` and `If-Match: \"<version>\"`, and answer with the new version (body and `ETag`)."
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
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
