//! The authorisation table of docs/api.md, over real HTTP with real tokens: every endpoint ×
//! every role is either allowed (any answer but 401/403) or refused with 403; without a token
//! every endpoint but the public ones answers 401. A role that may not read the case is
//! refused on the case's routes exactly as if the case did not exist (same status, code and
//! message): a refusal tells an outsider nothing about a case, not even that it exists.
//!
//! One case is prepared so that, for every endpoint, the only thing that can refuse a denied
//! role is authorisation. Denied roles are tried first (a refusal changes nothing), then the
//! allowed ones; endpoints run in an order where an allowed call does not disturb the next
//! (the interruption, which closes everything, comes last).

use diario_tests::{ApiServer, Backend, cf};
use serde_json::{Value, json};

use crate::api_scenario::{
    CaseApi, declare_failure, educatore_entry, entry, grant_roles, pdi, regional_failure, t0,
};
use diario_api::domain::testing::fixtures::rome;

/// The roles of the table: (name, fiscal code).
pub const ROLES: &[(&str, &str)] = &[
    ("ats_operator", cf::ATS_OPERATOR),
    ("ats_operator_other_ats", cf::OTHER_ATS_OPERATOR),
    ("ente_admin", cf::ENTE_ADMIN),
    ("auditor", cf::AUDITOR),
    ("support", cf::SUPPORT),
    ("platform_admin", cf::PLATFORM_ADMIN),
    ("responsabile_asst", cf::RESP_ASST),
    ("responsabile_provider", cf::RESP_PROVIDER),
    ("case_manager", cf::CASE_MANAGER),
    ("professional", cf::EDUCATORE),
    ("outsider", cf::OUTSIDER),
];

const ALL: &[&str] = &[
    "ats_operator",
    "ats_operator_other_ats",
    "ente_admin",
    "auditor",
    "support",
    "platform_admin",
    "responsabile_asst",
    "responsabile_provider",
    "case_manager",
    "professional",
    "outsider",
];

/// A CF that is never one of the roles (grant bodies).
const THIRD_PARTY: &str = "ESTRNO90E15F205D";

type BodyFor = Box<dyn Fn(&str) -> Option<Value>>;

struct Row {
    method: &'static str,
    path: String,
    allowed: &'static [&'static str],
    body: BodyFor,
}

fn row(
    method: &'static str,
    path: String,
    allowed: &'static [&'static str],
    body: impl Fn(&str) -> Option<Value> + 'static,
) -> Row {
    Row {
        method,
        path,
        allowed,
        body: Box::new(body),
    }
}

async fn table(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    let c = |p: &str| case.path(p);
    let educatore = |phase, service, slot| {
        case.record_entry(cf::EDUCATORE, educatore_entry(phase, service, slot))
    };

    // ---- preparation --------------------------------------------------------------------
    case.open_phase(1).await;
    case.open_phase(2).await;
    for (who, figure) in [
        (cf::EDUCATORE, "educatore_professionale"),
        (cf::PSICOLOGO, "psicologo"),
    ] {
        case.enable_professional("provider", who, &[figure]).await;
    }
    server.set_clock(rome(2024, 3, 5, 20, 0)).await;
    let e_amend = educatore(2, "osservazione", ["2024-03-04", "09:00", "10:00"]).await;
    let e_withdraw = educatore(2, "osservazione", ["2024-03-04", "10:00", "11:00"]).await;
    let pdi_document = case.add_output(2).await;
    case.set_pdi(pdi("contrasto_dispersione_scolastica", 1200, None))
        .await;
    case.open_phase(3).await;
    let mut phase3 = Vec::new();
    for (start, end) in [("09:00", "10:00"), ("10:00", "11:00")] {
        let slot = ["2024-03-05", start, end];
        phase3.push(educatore(3, "contrasto_dispersione_scolastica", slot).await);
    }
    let pending = case.request_confirmation(3, &[phase3[0]]).await;
    let failure = regional_failure("INC-1", "BeS down", "2024-03-05T08:00:00Z");
    let failure_id = declare_failure(&server, cf::SUPPORT, failure).await;

    // ---- the table --------------------------------------------------------------------
    let staff_readers: &[&str] = &[
        "ats_operator",
        "ente_admin",
        "auditor",
        "responsabile_asst",
        "responsabile_provider",
        "case_manager",
        "professional",
    ];
    let rows = vec![
        row("GET", "/v1/measures".into(), ALL, |_| None),
        row("GET", "/v1/measures/up".into(), ALL, |_| None),
        row("GET", "/v1/system-failures".into(), ALL, |_| None),
        row("GET", "/v1/me".into(), ALL, |_| None),
        row("GET", c(""), staff_readers, |_| None),
        row(
            "GET",
            c("/audit-trail"),
            &["ats_operator", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            c("/audit-trail/verification"),
            &["ats_operator", "auditor"],
            |_| None,
        ),
        row("GET", c("/dossier"), &["ats_operator", "auditor"], |_| None),
        row("GET", c("/documents"), staff_readers, |_| None),
        // The PDI (phase II): its responsabile or the case manager shares it (the second
        // allowed caller is told a sharing is pending: 409).
        row(
            "POST",
            c(&format!("/documents/{pdi_document}/share")),
            &["responsabile_provider", "case_manager"],
            |_| None,
        ),
        // No scan under this id: the ATS operator is told so (404); others may not check.
        row(
            "POST",
            c(&format!("/paper-diaries/{}/check", uuid::Uuid::now_v7())),
            &["ats_operator"],
            |_| Some(json!({ "accepted": true })),
        ),
        row(
            "GET",
            c("/notifications"),
            &["ats_operator", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            c("/history?as_of=2024-03-05T12:00:00Z"),
            &["ats_operator", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            c("/checklists"),
            &[
                "ats_operator",
                "auditor",
                "responsabile_asst",
                "responsabile_provider",
            ],
            |_| None,
        ),
        row(
            "GET",
            "/v1/ats/ATS-MILANO/dashboard".into(),
            &["ats_operator", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            "/v1/ats/ATS-MILANO/cases".into(),
            &["ats_operator", "auditor"],
            |_| None,
        ),
        // An ATS operator reads the costs of its own ATS (forced when `ats` is absent).
        row(
            "GET",
            "/v1/reports/costs".into(),
            &["ats_operator", "ats_operator_other_ats", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            "/v1/reports/costs?ats=ATS-MILANO&format=csv".into(),
            &["ats_operator", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            "/v1/reports/vouchers".into(),
            &["ats_operator", "ats_operator_other_ats", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            "/v1/reports/vouchers?ats=ATS-MILANO&format=csv".into(),
            &["ats_operator", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            format!("/v1/people/{}/entries", cf::EDUCATORE),
            &["ats_operator", "ats_operator_other_ats", "auditor"],
            |_| None,
        ),
        row(
            "GET",
            "/v1/seals".into(),
            &["auditor", "platform_admin"],
            |_| None,
        ),
        row("GET", "/v1/access-log".into(), &["auditor"], |_| None),
        // Seed 004: plans are opened by the ATS; a person's cost records and timesheets are
        // read by the person, ATS operators and auditors.
        row("POST", "/v1/plans".into(), &["ats_operator"], |_| {
            Some(json!({
                "measure_id": "invecchiamento_attivo_2024", "title": "Piano", "ats": "ATS-MILANO",
                "lead": crate::api_scenario::PROVIDER, "partners": [],
                "actions": [{ "id": "A1", "name": "Laboratori", "area": "socializzazione_inclusione" }],
                "start": "2024-01-01", "end": "2025-12-31",
                "budget": { "staff": 800_000, "cash": 200_000 },
                "countersigners": [cf::RESP_PROVIDER]
            }))
        }),
        row(
            "GET",
            format!("/v1/people/{}/cost-records", cf::EDUCATORE),
            &[
                "ats_operator",
                "ats_operator_other_ats",
                "auditor",
                "professional",
            ],
            |_| None,
        ),
        row(
            "POST",
            format!("/v1/people/{}/cost-records", cf::EDUCATORE),
            &["ats_operator", "ats_operator_other_ats"],
            |_| {
                Some(json!({
                    "organisation": crate::api_scenario::PROVIDER, "valid_from": "2024-01-01",
                    "basis": { "kind": "external", "hourly_cents": 3000 },
                    "document": "Contratto"
                }))
            },
        ),
        row(
            "GET",
            format!("/v1/timesheets/{}/2024-03", cf::EDUCATORE),
            &[
                "ats_operator",
                "ats_operator_other_ats",
                "auditor",
                "professional",
            ],
            |_| None,
        ),
        // Nothing confirmed yet: an allowed draw is refused by the rule (empty population),
        // writing nothing.
        row(
            "POST",
            "/v1/samples".into(),
            &["ats_operator", "auditor"],
            |_| Some(json!({ "ats": "ATS-MILANO" })),
        ),
        row("POST", "/v1/cases".into(), &["ats_operator"], |_| {
            Some(crate::api_scenario::case_body())
        }),
        row(
            "PUT",
            c("/responsabili/provider"),
            &["ats_operator", "ente_admin", "responsabile_provider"],
            |_| Some(json!({ "responsabile": cf::RESP_PROVIDER })),
        ),
        row(
            "POST",
            c("/phases/2/open"),
            &["responsabile_provider"],
            |_| None,
        ),
        row(
            "POST",
            c("/professionals"),
            &["responsabile_provider"],
            |_| {
                Some(
                    json!({ "ente": "provider", "professional": cf::EDUCATORE, "figures": ["educatore_professionale"] }),
                )
            },
        ),
        row(
            "POST",
            c("/entries"),
            &["professional", "case_manager"],
            |who| {
                let figure = if who == cf::CASE_MANAGER {
                    "case_manager"
                } else {
                    "educatore_professionale"
                };
                let service = if who == cf::CASE_MANAGER {
                    "case_management"
                } else {
                    "osservazione"
                };
                Some(entry(2, figure, service, "2024-03-05", "14:00", "15:00"))
            },
        ),
        row(
            "PATCH",
            c(&format!("/entries/{e_amend}")),
            &["professional"],
            |_| Some(json!({ "slot": { "date": "2024-03-04", "start": "08:30", "end": "10:00" } })),
        ),
        row(
            "DELETE",
            c(&format!("/entries/{e_withdraw}")),
            &["professional"],
            |_| None,
        ),
        row(
            "DELETE",
            format!(
                "{}?ente=provider",
                c(&format!("/professionals/{}", cf::PSICOLOGO))
            ),
            &["responsabile_provider"],
            |_| None,
        ),
        row(
            "POST",
            c("/phases/2/validation"),
            &["responsabile_provider"],
            |_| None,
        ),
        row(
            "POST",
            c("/phases/2/close"),
            &["responsabile_provider"],
            |_| None,
        ),
        row("PUT", c("/pdi"), &["responsabile_provider"], |_| {
            Some(
                json!({ "caps": [{ "service": "contrasto_dispersione_scolastica", "max_minutes": 1200 }] }),
            )
        }),
        row(
            "POST",
            c("/confirmation-requests"),
            &["responsabile_provider"],
            {
                let e = phase3[1];
                move |_| Some(json!({ "phase": 3, "entry_ids": [e] }))
            },
        ),
        row(
            "POST",
            c(&format!("/confirmation-requests/{pending}/resend")),
            &["responsabile_provider"],
            |_| None,
        ),
        row("POST", "/v1/system-failures".into(), &["support"], |_| {
            Some(json!({
            "scope": { "kind": "ente", "ente": "ENTE-ALFA" }, "ticket": "INC-2", "description": "gestionale down",
            "began_at": "2024-03-05T09:00:00Z" }))
        }),
        row(
            "POST",
            format!("/v1/system-failures/{failure_id}/resolution"),
            &["support"],
            |_| Some(json!({ "resolved_at": "2024-03-05T12:00:00Z" })),
        ),
        row(
            "GET",
            "/v1/admin/grants".into(),
            &["platform_admin"],
            |_| None,
        ),
        row(
            "POST",
            "/v1/admin/grants".into(),
            &["platform_admin"],
            |_| Some(json!({ "fiscal_code": THIRD_PARTY, "role": "auditor" })),
        ),
        row(
            "DELETE",
            "/v1/admin/grants".into(),
            &["platform_admin"],
            |_| Some(json!({ "fiscal_code": THIRD_PARTY, "role": "auditor" })),
        ),
        row("GET", "/v1/me/cases".into(), ALL, |_| None),
        row("GET", "/v1/me/entries".into(), ALL, |_| None),
        row("GET", "/v1/me/notifications".into(), ALL, |_| None),
        row("GET", "/v1/organisations".into(), ALL, |_| None),
        row("GET", "/v1/organisations/ATS-MILANO".into(), ALL, |_| None),
        row(
            "POST",
            "/v1/organisations".into(),
            &["platform_admin", "ats_operator"],
            |_| {
                Some(
                    json!({ "code": "COOP-TABELLA", "name": "Cooperativa Tabella",
                             "kind": "provider", "ats": "ATS-MILANO" }),
                )
            },
        ),
        row(
            "GET",
            "/v1/organisations/ENTE-ALFA/staff".into(),
            &["platform_admin", "ente_admin", "ats_operator", "auditor"],
            |_| None,
        ),
        row(
            "PUT",
            format!("/v1/organisations/ENTE-ALFA/staff/{THIRD_PARTY}"),
            &["platform_admin", "ente_admin"],
            |_| Some(json!({ "given_name": "Esterno", "family_name": "Terzi" })),
        ),
        row(
            "DELETE",
            format!("/v1/organisations/ENTE-ALFA/staff/{THIRD_PARTY}"),
            &["platform_admin", "ente_admin"],
            |_| None,
        ),
        row(
            "PUT",
            c("/recipient/confirmers"),
            &["ats_operator", "responsabile_asst", "responsabile_provider"],
            |_| Some(json!({ "confirmers": [cf::PARENT], "reason": "verifica dei firmatari" })),
        ),
        row(
            "PUT",
            c("/recipient/enrolment"),
            &["ats_operator", "responsabile_asst", "responsabile_provider"],
            |_| Some(json!({ "firmalom_enrolled": true })),
        ),
        // An entry on time: the support desk is told it is not a late one (422).
        row(
            "POST",
            c(&format!("/entries/{e_amend}/cosignature")),
            &["support"],
            |_| None,
        ),
        row("PUT", c("/case-manager"), &["ats_operator"], |_| {
            Some(json!({ "case_manager": cf::CASE_MANAGER }))
        }),
        row(
            "POST",
            c("/phases/1/validation/withdrawal"),
            &["responsabile_asst"],
            |_| Some(json!({ "reason": "orario da verificare" })),
        ),
        // A digital request: the phase's responsabile is told it is not a paper diary (409).
        row(
            "POST",
            c(&format!("/paper-diaries/{pending}/cancellation")),
            &["responsabile_provider"],
            |_| Some(json!({ "reason": "diario smarrito" })),
        ),
        // A request on its way: the phase's responsabile is told it reached FirmaLOM (409).
        row(
            "POST",
            c(&format!("/confirmation-requests/{pending}/cancellation")),
            &["responsabile_provider"],
            |_| Some(json!({ "reason": "notifica non consegnata" })),
        ),
        // The voucher routes of autonomia 2016 on an #UP case: whoever may act is told the
        // measure has no voucher (422), everyone else is refused.
        row("POST", c("/suspensions"), &["case_manager"], |_| {
            Some(json!({ "from": "2024-03-10", "reason": "ricovero" }))
        }),
        row(
            "POST",
            c("/suspensions/2024-03-10/reactivation"),
            &["case_manager"],
            |_| Some(json!({ "on": "2024-03-20" })),
        ),
        row(
            "POST",
            c("/suspensions/2024-03-10/authorisation"),
            &["ats_operator"],
            |_| None,
        ),
        row("POST", c("/objectives"), &["case_manager"], |_| {
            Some(json!({ "achieved": true, "document_id": uuid::Uuid::nil() }))
        }),
        row("POST", c("/formal-checks"), &["case_manager"], |_| {
            Some(json!({ "passed": true }))
        }),
        row(
            "POST",
            c("/interruption"),
            &["responsabile_asst", "responsabile_provider", "case_manager"],
            |_| Some(json!({ "cause": "withdrawal", "reason": "rinuncia del destinatario" })),
        ),
    ];
    let case_path = case.path("");
    let case_id = case.id.to_string();
    let no_case_id = uuid::Uuid::now_v7().to_string();
    let mut failures = Vec::new();
    for r in &rows {
        // Without a token.
        let anon = server
            .send(
                r.method,
                &r.path,
                None,
                (r.body)(cf::OUTSIDER).as_ref(),
                &[],
            )
            .await;
        if anon.status != 401 {
            failures.push(format!(
                "{} {} without a token: {} (expected 401)",
                r.method, r.path, anon.status
            ));
        }
        let (allowed, denied): (Vec<_>, Vec<_>) =
            ROLES.iter().partition(|(name, _)| r.allowed.contains(name));
        for (name, who) in denied {
            let resp = server
                .send(r.method, &r.path, Some(who), (r.body)(who).as_ref(), &[])
                .await;
            let on_case = r.path.starts_with(&case_path);
            if on_case && !staff_readers.contains(&name) {
                let elsewhere = r.path.replace(&case_id, &no_case_id);
                let none = server
                    .send(r.method, &elsewhere, Some(who), (r.body)(who).as_ref(), &[])
                    .await;
                let detail = |a: &diario_tests::ApiResponse| {
                    a.json["detail"]
                        .as_str()
                        .map(|d| d.replace(&no_case_id, &case_id))
                };
                let same = (resp.status, resp.problem_code(), detail(&resp))
                    == (none.status, none.problem_code(), detail(&none));
                if !same || resp.status != 404 {
                    failures.push(format!(
                        "{} {} as {name}: {} {} (expected the answer for no case: {} {})",
                        r.method, r.path, resp.status, resp.json, none.status, none.json
                    ));
                }
                continue;
            }
            if resp.status != 403 {
                failures.push(format!(
                    "{} {} as {name}: {} {} (expected 403)",
                    r.method, r.path, resp.status, resp.json
                ));
            }
        }
        for (name, who) in allowed {
            let resp = server
                .send(r.method, &r.path, Some(who), (r.body)(who).as_ref(), &[])
                .await;
            if resp.status == 401 || resp.status == 403 || resp.status >= 500 {
                failures.push(format!(
                    "{} {} as {name}: {} {} (expected allowed)",
                    r.method, r.path, resp.status, resp.json
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorisation table violations:\n{}",
        failures.join("\n")
    );
    server.stop().await;
}

diario_tests::scenario_on_each_backend!(table =>
    api_authorisation_table_every_endpoint_by_every_role_on_postgres,
    api_authorisation_table_every_endpoint_by_every_role_on_sqlite);
