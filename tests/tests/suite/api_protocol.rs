//! The HTTP protocol of the API over real HTTP: authentication (401 cases), malformed input
//! (400), media type (415), body size (413), idempotency replay and mismatch, `If-Match`
//! (412), problem+json everywhere, request ids, the OpenAPI document, the test-clock flag.

use std::collections::BTreeSet;
use std::time::Duration;

use diario_api::auth::{Audience, Claims};
use diario_tests::{
    ApiServer, Backend, TEST_JWT_AUDIENCE, TEST_JWT_ISSUER, TEST_JWT_SECRET, TestServer, cf, id_in,
};
use serde_json::{Value, json};

use crate::api_scenario::{CaseApi, case_body, grant_roles, open_case, open_case_as, t0};

diario_tests::scenario_on_each_backend! {
    authentication =>
        api_authentication_refusals_are_401_problems_on_postgres,
        api_authentication_refusals_are_401_problems_on_sqlite;
    malformed_input =>
        api_malformed_requests_get_400_413_415_problems_on_postgres,
        api_malformed_requests_get_400_413_415_problems_on_sqlite;
    idempotency_and_versions =>
        api_idempotency_replay_mismatch_and_if_match_on_postgres,
        api_idempotency_replay_mismatch_and_if_match_on_sqlite;
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn raw(
    server: &ApiServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = server.client.request(
        reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
        server.url(path),
    );
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.body(body).send().await.expect("send");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let json = r.json().await.unwrap_or(Value::Null);
    (status, headers, json)
}

fn is_problem(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "application/problem+json")
}

async fn authentication(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    let now = now_secs();
    let claims = |sub: &str, exp: u64, nbf: Option<u64>, iss: &str, aud: &str| Claims {
        sub: sub.into(),
        exp,
        nbf,
        iat: Some(now),
        iss: Some(iss.into()),
        aud: Some(aud.into()),
    };
    let mint = |c: &Claims| server.auth.mint_claims_hs256(c).expect("mint");
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("not a JWT", Some("not-a-jwt".into())),
        (
            "expired",
            Some(mint(&claims(
                cf::OUTSIDER,
                now - 3600,
                None,
                TEST_JWT_ISSUER,
                TEST_JWT_AUDIENCE,
            ))),
        ),
        (
            "not yet valid",
            Some(mint(&claims(
                cf::OUTSIDER,
                now + 7200,
                Some(now + 3600),
                TEST_JWT_ISSUER,
                TEST_JWT_AUDIENCE,
            ))),
        ),
        (
            "wrong issuer",
            Some(mint(&claims(
                cf::OUTSIDER,
                now + 3600,
                None,
                "https://evil.example",
                TEST_JWT_AUDIENCE,
            ))),
        ),
        (
            "wrong audience",
            Some(mint(&claims(
                cf::OUTSIDER,
                now + 3600,
                None,
                TEST_JWT_ISSUER,
                "other-api",
            ))),
        ),
        (
            "subject not a CF",
            Some(mint(&claims(
                "mario.rossi",
                now + 3600,
                None,
                TEST_JWT_ISSUER,
                TEST_JWT_AUDIENCE,
            ))),
        ),
        (
            "no issuer",
            Some(mint(&Claims {
                iss: None,
                ..claims(cf::OUTSIDER, now + 3600, None, "", TEST_JWT_AUDIENCE)
            })),
        ),
        (
            "no audience",
            Some(mint(&Claims {
                aud: None,
                ..claims(cf::OUTSIDER, now + 3600, None, TEST_JWT_ISSUER, "")
            })),
        ),
        (
            "audience array without ours",
            Some(mint(&Claims {
                aud: Some(Audience::Many(vec!["other-api".into(), "third".into()])),
                ..claims(cf::OUTSIDER, now + 3600, None, TEST_JWT_ISSUER, "")
            })),
        ),
        ("unknown critical header", {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            header.crit = Some(vec!["exp-extension".into()]);
            let valid = claims(
                cf::OUTSIDER,
                now + 3600,
                None,
                TEST_JWT_ISSUER,
                TEST_JWT_AUDIENCE,
            );
            Some(
                jsonwebtoken::encode(
                    &header,
                    &valid,
                    &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
                )
                .expect("mint"),
            )
        }),
        ("wrong secret", {
            let other = diario_api::AuthConfig::disabled()
                .with_secret(b"another-secret-another-secret-another-secret".to_vec())
                .expect("secret")
                .with_issuer(Some(TEST_JWT_ISSUER.into()))
                .with_audience(Some(TEST_JWT_AUDIENCE.into()));
            Some(
                other
                    .mint(cf::OUTSIDER, Duration::from_secs(600))
                    .expect("mint"),
            )
        }),
    ];
    for (what, token) in cases {
        let (status, headers, body) = raw(
            &server,
            "GET",
            "/v1/measures",
            token.as_deref(),
            None,
            vec![],
        )
        .await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(is_problem(&headers), "{what}: problem+json");
        assert_eq!(
            body["type"], "https://diario.example/problems/unauthenticated",
            "{what}"
        );
        assert_eq!(
            headers.get("www-authenticate").map(|v| v.as_bytes()),
            Some(&b"Bearer"[..]),
            "{what}"
        );
    }
    // An audience array that names this service is accepted (identity providers send arrays).
    let array = mint(&Claims {
        aud: Some(Audience::Many(vec![
            "other-api".into(),
            TEST_JWT_AUDIENCE.into(),
        ])),
        ..claims(cf::OUTSIDER, now + 3600, None, TEST_JWT_ISSUER, "")
    });
    let (status, _, body) = raw(&server, "GET", "/v1/measures", Some(&array), None, vec![]).await;
    assert_eq!(status, 200, "aud array: {body}");
    // A SPID-style subject with the TINIT- prefix is accepted.
    let tinit = server
        .auth
        .mint(&format!("TINIT-{}", cf::OUTSIDER), Duration::from_secs(600))
        .expect("mint");
    let (status, _, body) = raw(&server, "GET", "/v1/measures", Some(&tinit), None, vec![]).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.as_array()
            .is_some_and(|m| m.iter().any(|m| m["id"] == "up"))
    );
    let one = server
        .send("GET", "/v1/measures/up", Some(cf::OUTSIDER), None, &[])
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json["deadlines"]["record_within_days"], 15);
    let missing = server
        .send("GET", "/v1/measures/nope", Some(cf::OUTSIDER), None, &[])
        .await;
    assert_eq!(
        (missing.status, missing.problem_code().as_str()),
        (404, "not-found")
    );
    server.stop().await;
}

/// A problem's `detail` is Italian only: no English half after " / ", no parser wording (Rust
/// types, "expected", positions in English, axum's prefixes).
fn assert_italian(what: &str, problem: &serde_json::Value) {
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "{what}: no detail in {problem}");
    for leak in [
        " / ",
        "expected",
        "invalid type",
        "missing field",
        "unknown field",
        "struct ",
        "Invalid URL",
        "Failed to",
        "at line",
        "column ",
        "UUID parsing",
    ] {
        assert!(!detail.contains(leak), "{what}: {leak:?} in {detail:?}");
    }
}

async fn malformed_input(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let token = server.token(cf::ATS_OPERATOR);
    let t = Some(token.as_str());
    let json_ct = Some("application/json");
    for (what, body) in [
        ("syntax", b"{\"measure_id\": ".to_vec()),
        ("not an object", b"[1,2,3]".to_vec()),
        (
            "unknown field",
            serde_json::to_vec(&{
                let mut b = case_body();
                b["colour"] = json!("blue");
                b
            })
            .expect("json"),
        ),
        (
            "invalid fiscal code",
            serde_json::to_vec(&{
                let mut b = case_body();
                b["case_manager"] = json!("RSSMRA85T10A562X");
                b
            })
            .expect("json"),
        ),
        ("missing field", br#"{"measure_id":"up"}"#.to_vec()),
        ("empty body", vec![]),
        ("binary", vec![0xff, 0xfe, 0x00, 0x01]),
    ] {
        let (status, headers, body) = raw(&server, "POST", "/v1/cases", t, json_ct, body).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert!(is_problem(&headers), "{what}");
        assert_eq!(body["code"], "malformed-request", "{what}");
        assert_italian(what, &body);
    }
    // The field is named, in Italian, with no parser wording.
    for (what, edit, field) in [
        ("unknown field", json!({"colour": "blue"}), "colour"),
        (
            "invalid fiscal code",
            json!({"case_manager": "RSSMRA85T10A562X"}),
            "case_manager",
        ),
        (
            "wrong type",
            json!({"recipient": {"pseudonym": 7}}),
            "recipient.pseudonym",
        ),
    ] {
        let mut b = case_body();
        for (k, v) in edit.as_object().expect("object") {
            if let (Some(inner), Some(target)) = (v.as_object(), b[k].as_object_mut()) {
                for (ik, iv) in inner {
                    target.insert(ik.clone(), iv.clone());
                }
            } else {
                b[k] = v.clone();
            }
        }
        let body = serde_json::to_vec(&b).expect("json");
        let (status, _, problem) = raw(&server, "POST", "/v1/cases", t, json_ct, body).await;
        assert_eq!(status, 400, "{what}: {problem}");
        assert_eq!(problem["field"], field, "{what}: {problem}");
        assert_italian(what, &problem);
    }
    let missing = br#"{"measure_id":"up"}"#.to_vec();
    let (_, _, problem) = raw(&server, "POST", "/v1/cases", t, json_ct, missing).await;
    assert_eq!(
        problem["field"], "ats",
        "the first missing field: {problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("campo obbligatorio mancante")),
        "{problem}"
    );
    // Query and path parameters too.
    for (path, field) in [
        ("/v1/ats/ATS-MILANO/cases?limit=abc", Some("limit")),
        ("/v1/cases/not-a-uuid", None),
        ("/v1/me/entries?from=2026-13-01", Some("from")),
    ] {
        let r = server
            .send("GET", path, Some(cf::ATS_OPERATOR), None, &[])
            .await;
        assert_eq!(r.status, 400, "{path}: {}", r.json);
        assert_eq!(r.problem_code(), "malformed-request", "{path}");
        if let Some(field) = field {
            assert_eq!(r.json["field"], field, "{path}: {}", r.json);
        }
        assert_italian(path, &r.json);
    }
    // Wrong media type.
    let body = serde_json::to_vec(&case_body()).expect("json");
    for ct in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, headers, problem) =
            raw(&server, "POST", "/v1/cases", t, ct, body.clone()).await;
        assert_eq!(status, 415, "{ct:?}: {problem}");
        assert!(is_problem(&headers));
    }
    // Too large.
    let big = format!("{{\"reason\": \"{}\"}}", "x".repeat(200 * 1024));
    let (status, headers, problem) = raw(
        &server,
        "POST",
        &format!("/v1/cases/{}/interruption", uuid::Uuid::nil()),
        t,
        json_ct,
        big.into_bytes(),
    )
    .await;
    assert_eq!(status, 413, "{problem}");
    assert!(is_problem(&headers));
    // Bad path parameters, phases, unknown routes and methods.
    for (method, path, expected) in [
        ("GET", "/v1/cases/not-a-uuid", 400),
        (
            "POST",
            "/v1/cases/00000000-0000-0000-0000-000000000000/phases/9/open",
            400,
        ),
        (
            "POST",
            "/v1/cases/00000000-0000-0000-0000-000000000000/phases/x/open",
            400,
        ),
        ("GET", "/v1/nothing-here", 404),
        ("DELETE", "/v1/cases", 405),
        ("GET", "/v1/cases/00000000-0000-0000-0000-000000000000", 404),
    ] {
        let (status, headers, problem) = raw(&server, method, path, t, None, vec![]).await;
        assert_eq!(status, expected, "{method} {path}: {problem}");
        assert!(is_problem(&headers), "{method} {path}");
    }
    // Headers.
    let bad_if_match = server
        .send(
            "POST",
            "/v1/cases",
            Some(cf::ATS_OPERATOR),
            Some(&case_body()),
            &[("if-match", "\"abc\"")],
        )
        .await;
    assert_eq!(bad_if_match.status, 400);
    // Request ids: generated, or echoed when given.
    let r = server.send("GET", "/healthz", None, None, &[]).await;
    assert!(r.header("x-request-id").is_some_and(|v| !v.is_empty()));
    let r = server
        .send("GET", "/healthz", None, None, &[("x-request-id", "req-42")])
        .await;
    assert_eq!(r.header("x-request-id").as_deref(), Some("req-42"));
    server.stop().await;
}

async fn idempotency_and_versions(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let key = "idempotency-key";
    let open_case = |body: Value| {
        let call = open_case_as(&server, cf::ATS_OPERATOR, body);
        call.header(key, "open-case-0001").send()
    };
    let first = open_case(case_body()).await;
    assert_eq!(first.status, 201, "{}", first.json);
    assert_eq!(first.header("etag").as_deref(), Some("\"1\""));
    let again = open_case(case_body()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.bytes, first.bytes, "the first answer, byte for byte");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.header("etag"), first.header("etag"));
    let case = CaseApi::of(&server, id_in(&first.json, "case_id"));
    assert_eq!(
        server
            .db
            .count("SELECT count(*) FROM events WHERE event_type = 'CaseOpened'")
            .await,
        1,
        "a replay writes nothing"
    );
    // Same key, different request.
    let mut other = case_body();
    other["recipient"]["pseudonym"] = json!("UP-2024-0002");
    let mismatch = open_case(other).await;
    assert_eq!(
        (mismatch.status, mismatch.problem_code().as_str()),
        (422, "idempotency-key-reused")
    );
    // Keys belong to their actor: another person's identical key is a new request.
    let open = case
        .open_phase(1)
        .header(key, "open-case-0001")
        .send()
        .await;
    assert_eq!(open.status, 200, "{}", open.json);
    // A refusal is replayed too.
    let open_again = || case.open_phase(1).header(key, "open-again").send();
    let refused = open_again().await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (409, "diary-already-opened")
    );
    let refused_again = open_again().await;
    assert_eq!(refused_again.bytes, refused.bytes);

    // If-Match: stale → 412, current → applied, and the ETag moves.
    let version = open.json["version"].as_i64().expect("version");
    assert_eq!(version, 2);
    let enable = || case.enable_professional("asst", cf::PSICOLOGO, &["psicologo"]);
    let stale = enable().header("if-match", "\"1\"").send().await;
    assert_eq!(
        (stale.status, stale.problem_code().as_str()),
        (412, "version-mismatch")
    );
    assert_eq!(stale.json["current_version"], 2);
    let current = enable().header("if-match", "\"2\"").send().await;
    assert_eq!(current.status, 200, "{}", current.json);
    assert_eq!(current.header("etag").as_deref(), Some("\"3\""));
    assert_eq!(current.json["version"], 3);
    let get = case.view(cf::RESP_ASST).send().await;
    assert_eq!(get.header("etag").as_deref(), Some("\"3\""));
    // A command that changes nothing keeps the version and records nothing.
    let noop = enable().send().await;
    assert_eq!((noop.status, noop.json["version"].as_i64()), (200, Some(3)));
    assert_eq!(noop.json["events"], json!([]));

    // The grants stream honours If-Match the same way (one executor for every decider).
    let grants = server
        .call("GET", "/v1/admin/grants", cf::PLATFORM_ADMIN, None)
        .await;
    let grants_version = grants["version"].as_i64().expect("grants version");
    let add = |v: i64| {
        crate::api_scenario::grant(&server, cf::PLATFORM_ADMIN, cf::OUTSIDER, "auditor", None)
            .header("if-match", &format!("\"{v}\""))
            .send()
    };
    let stale = add(grants_version - 1).await;
    assert_eq!(
        (stale.status, stale.problem_code().as_str()),
        (412, "version-mismatch"),
        "{}",
        stale.json
    );
    assert_eq!(stale.json["current_version"], grants_version);
    let current = add(grants_version).await;
    assert_eq!(current.status, 200, "{}", current.json);
    assert_eq!(current.json["version"], grants_version + 1);
    server.stop().await;
}

/// Every route the API serves, as (method, OpenAPI path).
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/cases"),
    ("get", "/v1/cases/{id}"),
    ("put", "/v1/cases/{id}/responsabili/{ente}"),
    ("post", "/v1/cases/{id}/phases/{n}/open"),
    ("post", "/v1/cases/{id}/professionals"),
    ("delete", "/v1/cases/{id}/professionals/{cf}"),
    ("post", "/v1/cases/{id}/entries"),
    ("patch", "/v1/cases/{id}/entries/{eid}"),
    ("delete", "/v1/cases/{id}/entries/{eid}"),
    ("post", "/v1/cases/{id}/phases/{n}/validation"),
    ("post", "/v1/cases/{id}/phases/{n}/close"),
    ("post", "/v1/cases/{id}/phases/{n}/validation/withdrawal"),
    ("put", "/v1/cases/{id}/case-manager"),
    ("put", "/v1/cases/{id}/recipient/confirmers"),
    ("post", "/v1/cases/{id}/entries/{eid}/cosignature"),
    ("put", "/v1/cases/{id}/recipient/enrolment"),
    ("post", "/v1/cases/{id}/paper-diaries/{pid}/cancellation"),
    (
        "post",
        "/v1/cases/{id}/confirmation-requests/{rid}/cancellation",
    ),
    ("post", "/v1/cases/{id}/confirmation-requests"),
    ("post", "/v1/cases/{id}/confirmation-requests/{rid}/resend"),
    ("put", "/v1/cases/{id}/pdi"),
    ("post", "/v1/cases/{id}/interruption"),
    ("post", "/v1/cases/{id}/suspensions"),
    ("post", "/v1/cases/{id}/suspensions/{from}/reactivation"),
    ("post", "/v1/cases/{id}/suspensions/{from}/authorisation"),
    ("post", "/v1/cases/{id}/objectives"),
    ("post", "/v1/cases/{id}/formal-checks"),
    ("post", "/v1/system-failures"),
    ("get", "/v1/system-failures"),
    ("post", "/v1/system-failures/{id}/resolution"),
    ("get", "/v1/admin/grants"),
    ("post", "/v1/admin/grants"),
    ("delete", "/v1/admin/grants"),
    ("get", "/v1/measures"),
    ("get", "/v1/measures/{id}"),
    ("put", "/v1/test-clock"),
    ("post", "/v1/firmalom/callbacks"),
    ("get", "/v1/cases/{id}/phases/{n}/paper-diary"),
    ("post", "/v1/cases/{id}/phases/{n}/paper-diary"),
    ("post", "/v1/cases/{id}/phases/{n}/paper-confirmation"),
    ("get", "/v1/cases/{id}/documents"),
    ("post", "/v1/cases/{id}/documents"),
    ("post", "/v1/cases/{id}/documents/{did}/share"),
    ("post", "/v1/cases/{id}/paper-diaries/{pid}/check"),
    ("get", "/v1/documents/{sha256}"),
    ("get", "/v1/cases/{id}/audit-trail"),
    ("get", "/v1/cases/{id}/audit-trail/verification"),
    ("get", "/v1/cases/{id}/dossier"),
    ("post", "/v1/samples"),
    ("get", "/v1/seals"),
    ("get", "/v1/access-log"),
    ("get", "/v1/seals/{day}"),
    ("get", "/v1/people/{fiscal_code}/entries"),
    ("get", "/v1/samples/{id}"),
    ("get", "/v1/samples/{id}/selection.csv"),
    ("post", "/v1/plans"),
    ("get", "/v1/plans/{id}"),
    ("post", "/v1/plans/{id}/people"),
    ("post", "/v1/plans/{id}/final-report"),
    ("get", "/v1/plans/{id}/report"),
    ("post", "/v1/plans/{id}/control-samples"),
    ("get", "/v1/people/{fiscal_code}/cost-records"),
    ("post", "/v1/people/{fiscal_code}/cost-records"),
    ("get", "/v1/timesheets/{fiscal_code}/{month}"),
    ("post", "/v1/timesheets/{fiscal_code}/{month}/days"),
    (
        "post",
        "/v1/timesheets/{fiscal_code}/{month}/days/{row}/withdrawal",
    ),
    ("post", "/v1/timesheets/{fiscal_code}/{month}/signature"),
    (
        "post",
        "/v1/timesheets/{fiscal_code}/{month}/countersignatures",
    ),
    ("get", "/v1/cases/{id}/notifications"),
    ("get", "/v1/cases/{id}/history"),
    ("get", "/v1/cases/{id}/checklists"),
    ("get", "/v1/ats/{ats}/dashboard"),
    ("get", "/v1/ats/{ats}/cases"),
    ("get", "/v1/reports/costs"),
    ("get", "/v1/reports/vouchers"),
    ("get", "/v1/me"),
    ("get", "/v1/me/cases"),
    ("get", "/v1/me/entries"),
    ("get", "/v1/me/notifications"),
    ("get", "/v1/organisations"),
    ("post", "/v1/organisations"),
    ("get", "/v1/organisations/{code}"),
    ("get", "/v1/organisations/{code}/staff"),
    ("put", "/v1/organisations/{code}/staff/{fiscal_code}"),
    ("delete", "/v1/organisations/{code}/staff/{fiscal_code}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

fn collect_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(s) = v.as_str() {
                        out.insert(s.to_owned());
                    }
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn api_openapi_document_lists_every_route_and_schema() {
    let server = ApiServer::start(Backend::Sqlite, t0()).await;
    let r = server.send("GET", "/openapi.json", None, None, &[]).await;
    assert_eq!(r.status, 200);
    let doc = &r.json;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    for (method, path) in ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "no undocumented or phantom operations"
    );
    // Every referenced schema exists.
    let mut refs = BTreeSet::new();
    collect_refs(doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name} is referenced but missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // The main read models are typed, not opaque objects: a dashboard or BI client can generate
    // its types from the document.
    for (path, schema) in [
        ("/v1/cases/{id}", "CaseDiary"),
        ("/v1/ats/{ats}/dashboard", "AtsDashboard"),
    ] {
        let response =
            &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(
            response["$ref"],
            format!("#/components/schemas/{schema}"),
            "{path}: {response}"
        );
    }
    // A write and a read of system failures have their own shapes under their own names.
    let declared = &doc["paths"]["/v1/system-failures"]["post"]["responses"]["201"]["content"]["application/json"]
        ["schema"]["$ref"];
    assert_eq!(declared, "#/components/schemas/DeclaredFailure");
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["DeclaredFailure"]["properties"]["version"].is_object());
    assert!(schemas["DeclaredFailure"]["properties"]["entries"].is_null());
    assert!(schemas["SystemFailureView"]["properties"]["entries"].is_object());
    let entry_states = &doc["components"]["schemas"]["EntryState"]["enum"];
    assert!(
        entry_states
            .as_array()
            .is_some_and(|v| v.contains(&json!("confirmed")) && v.contains(&json!("withdrawn"))),
        "{entry_states}"
    );
    for path in [
        "/v1/ats/{ats}/cases",
        "/v1/cases/{id}/audit-trail",
        "/v1/cases/{id}/checklists",
        "/v1/system-failures",
        "/v1/reports/costs",
    ] {
        let response =
            &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(
            response.is_object() && response != &json!({}),
            "{path}: {response}"
        );
        assert_ne!(response["type"], "object", "{path} is typed: {response}");
    }
    // Every documented route is served (none answers 404 for a missing route).
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{eid}", "00000000-0000-0000-0000-000000000000")
            .replace("{rid}", "00000000-0000-0000-0000-000000000000")
            .replace("{ente}", "provider")
            .replace("{ats}", "ATS-MILANO")
            .replace("{n}", "1")
            .replace("{cf}", cf::EDUCATORE);
        let r = server
            .send(&method.to_uppercase(), &concrete, None, None, &[])
            .await;
        assert!(
            r.status != 405
                && !(r.status == 404
                    && r.problem_code() == "not-found"
                    && r.json["detail"] == "no such resource"),
            "{method} {path} is documented but not served: {} {}",
            r.status,
            r.json
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn api_test_clock_route_exists_only_with_the_flag() {
    let server = TestServer::start(Backend::Sqlite).await;
    let r = server
        .client
        .put(server.url("/v1/test-clock"))
        .json(&json!({ "now": "2024-03-01T08:00:00Z" }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), 404);
    server.stop().await;

    let api = ApiServer::start(Backend::Sqlite, t0()).await;
    grant_roles(&api).await;
    api.set_clock(t0() + chrono::Duration::days(30)).await;
    let case_id = open_case(&api).await;
    let view = CaseApi::of(&api, case_id)
        .view(cf::ATS_OPERATOR)
        .send()
        .await;
    let opened_at = view.json["diaries"].as_array().map(Vec::len);
    assert_eq!(opened_at, Some(0));
    let events = api
        .state
        .store
        .read_stream(&format!("case-{case_id}"), 1)
        .await
        .expect("read");
    assert_eq!(
        events[0].metadata.occurred_at,
        t0() + chrono::Duration::days(30),
        "decided at the test clock's now"
    );
    api.stop().await;
}

// ---- Idempotency-Key retention ----------------------------------------------------------------

async fn idempotency_retention(backend: Backend) {
    use diario_api::idempotency::{
        StoredResponse, find, key_hash, purge_before, request_hash, save,
    };
    let db = diario_tests::TestDb::new(backend).await;
    let (old, recent) = (
        key_hash(cf::RESP_ASST, "old"),
        key_hash(cf::RESP_ASST, "recent"),
    );
    let now = chrono::Utc::now();
    let answer = StoredResponse {
        request_hash: request_hash("POST", "/v1/cases", b"{}"),
        status: 201,
        etag: Some("\"3\"".into()),
        content_type: "application/json".into(),
        body: b"{}".to_vec(),
    };
    save(&db.db, &old, &answer, now - chrono::Duration::days(8))
        .await
        .expect("save");
    save(&db.db, &recent, &answer, now - chrono::Duration::hours(1))
        .await
        .expect("save");
    let purged = purge_before(&db.db, now - chrono::Duration::days(7))
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    assert!(find(&db.db, &old).await.expect("find").is_none());
    assert_eq!(find(&db.db, &recent).await.expect("find"), Some(answer));
    db.cleanup().await;
}

diario_tests::scenario_on_each_backend!(idempotency_retention =>
    idempotency_answers_past_their_retention_are_purged_on_postgres,
    idempotency_answers_past_their_retention_are_purged_on_sqlite);

/// The served OpenAPI document validates with `openapi-spec-validator` (Python; installed by
/// `.ci/run`) with zero errors.
#[tokio::test]
async fn api_openapi_document_validates_with_openapi_spec_validator() {
    let server = ApiServer::start(Backend::Sqlite, t0()).await;
    let r = server.send("GET", "/openapi.json", None, None, &[]).await;
    assert_eq!(r.status, 200);
    let path = std::env::temp_dir().join(format!("diario-openapi-{}.json", uuid::Uuid::now_v7()));
    std::fs::write(&path, serde_json::to_vec(&r.json).expect("json")).expect("write");
    let script = "import json, sys\n\
from openapi_spec_validator import OpenAPIV31SpecValidator\n\
spec = json.load(open(sys.argv[1]))\n\
errors = [f'{list(e.absolute_path)}: {e.message}' for e in OpenAPIV31SpecValidator(spec).iter_errors()]\n\
print('\\n'.join(errors))\n\
sys.exit(1 if errors else 0)\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "openapi-spec-validator is required: pip install openapi-spec-validator"
    );
    assert!(
        out.status.success(),
        "the OpenAPI document has errors:\n{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    server.stop().await;
}

/// Without `--test-clock` the document does not list `/v1/test-clock` (no route that is not
/// served).
#[tokio::test]
async fn api_openapi_document_lists_the_test_clock_only_when_it_is_served() {
    let server = ApiServer::start_with(Backend::Sqlite, t0(), |s| s.test_clock = None).await;
    let doc = server
        .send("GET", "/openapi.json", None, None, &[])
        .await
        .json;
    assert!(doc["paths"]["/v1/test-clock"].is_null(), "{}", doc["paths"]);
    assert!(doc["paths"]["/v1/me"].is_object());
    let put = server
        .send(
            "PUT",
            "/v1/test-clock",
            None,
            Some(&serde_json::json!({ "now": t0() })),
            &[],
        )
        .await;
    assert_eq!(put.status, 404);
    server.stop().await;
}

/// The interactive reference at `/docs` is served from the binary: its page loads only its own
/// scripts and styles (no CDN), the scripts are there, and it reads the served document.
#[tokio::test]
async fn api_docs_is_an_embedded_interactive_reference_of_the_served_document() {
    let server = ApiServer::start(Backend::Sqlite, t0()).await;
    // `/docs` redirects to `/docs/` (the client follows it).
    let moved = server.send("GET", "/docs", None, None, &[]).await;
    assert_eq!(moved.status, 200);
    let page = server.send("GET", "/docs/", None, None, &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.header("content-type")
    );
    let html = String::from_utf8(page.bytes.clone()).expect("utf-8");
    let mut loaded = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            loaded.push(part.split('"').next().unwrap_or_default().to_owned());
        }
    }
    assert!(
        loaded.iter().any(|u| u.ends_with("swagger-ui-bundle.js")),
        "{loaded:?}"
    );
    assert!(
        loaded.iter().all(|u| !u.contains("//")),
        "everything from this server: {loaded:?}"
    );
    for file in loaded.iter().map(|u| u.trim_start_matches("./")) {
        let got = server
            .send("GET", &format!("/docs/{file}"), None, None, &[])
            .await;
        assert_eq!(got.status, 200, "/docs/{file}");
        assert!(!got.bytes.is_empty(), "/docs/{file}");
    }
    let init = server
        .send("GET", "/docs/swagger-initializer.js", None, None, &[])
        .await;
    let init = String::from_utf8(init.bytes.clone()).expect("utf-8");
    assert!(init.contains("\"url\": \"/openapi.json\""), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    server.stop().await;
}
