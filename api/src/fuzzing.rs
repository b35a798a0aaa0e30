//! Entry points for fuzzing the parsers that face the network (`docs/fuzzing.md`): the JSON
//! bodies of the writes, the FirmaLOM callback, the query strings and the paper-confirmation
//! upload. Each runs, on arbitrary bytes, the code the server runs on a request's bytes, and
//! throws the outcome away: whatever the input, none of them may panic. The `cargo fuzz`
//! targets in `api/fuzz/` call them, and `tests/fuzz_corpora.rs` replays the saved corpora.
//!
//! Everything is deterministic: a fixed clock for the signature window, no database, no
//! network; the asynchronous extractors run on a current-thread runtime of the calling thread.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use chrono::{DateTime, Utc};
use diario_domain::{FailureScope, FiscalCode, Phase};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::ApiError;
use crate::dto::{
    AmendEntryBody, CloseBody, ConfirmationRequestBody, CreateCaseBody, DeclareFailureBody,
    EnableProfessionalBody, EnteQuery, GrantBody, InterruptionBody, PdiBody, RecordEntryBody,
    ResolveFailureBody, ResponsabileBody, TestClockBody, ValidationBody,
};
use crate::extract::{ApiQuery, WriteRequest};
use crate::firmalom::{Callback, SIGNATURE_HEADER, TIMESTAMP_HEADER, callback_command_id};
use crate::paper::{self, PaperQuery};
use crate::reads::{
    AtsCasesQuery, CostQuery, DashboardQuery, FailureQuery, HistoryQuery, PageQuery,
};

/// The write routes whose JSON body [`write_body`] parses, by index (`route % len`).
pub const WRITE_ROUTES: &[&str] = &[
    "POST /v1/cases",
    "PUT /v1/cases/{id}/responsabili/{ente}",
    "POST /v1/cases/{id}/professionals",
    "POST /v1/cases/{id}/entries",
    "PATCH /v1/cases/{id}/entries/{eid}",
    "POST /v1/cases/{id}/phases/{n}/validation",
    "POST /v1/cases/{id}/phases/{n}/close",
    "POST /v1/cases/{id}/confirmation-requests",
    "PUT /v1/cases/{id}/pdi",
    "POST /v1/cases/{id}/interruption",
    "POST /v1/system-failures",
    "POST /v1/system-failures/{id}/resolution",
    "POST|DELETE /v1/admin/grants",
    "PUT /v1/test-clock",
];

/// The routes whose query string [`query`] reads, by index (`route % len`).
pub const QUERY_ROUTES: &[&str] = &[
    "GET /v1/cases/{id}/audit-trail, /checklists (PageQuery)",
    "GET /v1/cases/{id}/history (HistoryQuery)",
    "GET /v1/ats/{ats}/dashboard (DashboardQuery)",
    "GET /v1/ats/{ats}/cases (AtsCasesQuery)",
    "GET /v1/reports/costs (CostQuery)",
    "GET /v1/system-failures (FailureQuery)",
    "DELETE /v1/cases/{id}/professionals/{cf} (EnteQuery)",
    "GET /v1/cases/{id}/phases/{n}/paper-diary (PaperQuery)",
];

/// The boundary of the multipart bodies [`multipart`] reads.
pub const MULTIPART_BOUNDARY: &str = "diario-fuzz";

/// The secret and the clock of [`firmalom_callback`]'s signature checks.
pub const FIRMALOM_SECRET: &[u8] = b"firmalom-fuzz-secret-0123456789";
pub const FIRMALOM_NOW: i64 = 1_800_000_000;

/// The first byte of a fuzz input picks the route, the rest is the input proper (an empty
/// input is route 0 with no bytes).
pub fn split_route(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((r, rest)) => (usize::from(*r), rest),
        None => (0, data),
    }
}

/// A write request on `path` carrying `body`, as `WriteRequest::from_request` leaves it.
fn write_request(bytes: &[u8]) -> WriteRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    WriteRequest {
        method: Method::POST,
        path: "/v1/fuzz".into(),
        headers,
        body: bytes.to_vec().into(),
    }
}

/// The body of write route `route` (see [`WRITE_ROUTES`]) read as its handler reads it:
/// `WriteRequest::json` (control characters refused, then the DTO), then what the handler
/// turns the DTO into before the command handler sees it.
pub fn write_body(route: usize, bytes: &[u8]) {
    let req = write_request(bytes);
    match route % WRITE_ROUTES.len() {
        0 => {
            let _ = req.json::<CreateCaseBody>();
        }
        1 => {
            let _ = req.json::<ResponsabileBody>();
        }
        2 => {
            let _ = req.json::<EnableProfessionalBody>();
        }
        3 => {
            if let Ok(body) = req.json::<RecordEntryBody>() {
                let _ =
                    crate::dto::slot_of(body.date, body.start, body.end, body.slot.as_ref(), None);
            }
        }
        4 => {
            if let Ok(body) = req.json::<AmendEntryBody>()
                && let Some(slot) = &body.slot
            {
                let _ = slot.slot();
            }
        }
        5 => {
            let _ = req.json_or_default::<ValidationBody>();
        }
        6 => {
            let _ = req.json_or_default::<CloseBody>();
        }
        7 => {
            let _ = req.json::<ConfirmationRequestBody>();
        }
        8 => {
            if let Ok(body) = req.json::<PdiBody>() {
                let _ = body.caps();
            }
        }
        9 => {
            let _ = req.json::<InterruptionBody>();
        }
        10 => {
            if let Ok(body) = req.json::<DeclareFailureBody>() {
                let _ = FailureScope::from(body.scope);
            }
        }
        11 => {
            let _ = req.json::<ResolveFailureBody>();
        }
        12 => {
            if let Ok(body) = req.json::<GrantBody>() {
                let _ = body.grant();
            }
        }
        _ => {
            let _ = req.json::<TestClockBody>();
        }
    }
}

/// A FirmaLOM callback: the input is `timestamp header \n signature header \n body`. Runs
/// the signature check as received (headers the HTTP layer would refuse count as absent),
/// then again with a genuine signature of the body for that timestamp (so that the window
/// check runs too), then the body's parsing and the reading of the signer's fiscal code.
pub fn firmalom_callback(bytes: &[u8]) {
    let mut parts = bytes.splitn(3, |b| *b == b'\n');
    let timestamp = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in [(TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)] {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = DateTime::<Utc>::from_timestamp(FIRMALOM_NOW, 0).unwrap_or_default();
    let window = Duration::from_secs(300);
    let secret = FIRMALOM_SECRET;
    let given = crate::firmalom::verify(
        secret,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        body,
        now,
        window,
    );
    if let Some(ts) = header(TIMESTAMP_HEADER).and_then(|t| t.trim().parse::<i64>().ok()) {
        let genuine = crate::firmalom::sign(secret, ts, body);
        let _ = crate::firmalom::verify(
            secret,
            header(TIMESTAMP_HEADER),
            Some(&genuine),
            body,
            now,
            window,
        );
    }
    let _ = given;
    if let Ok(callback) = serde_json::from_slice::<Callback>(body) {
        let _ = FiscalCode::parse(&callback.signer_cf);
        let _ = callback_command_id(callback.delivery_id);
    }
}

thread_local! {
    static RUNTIME: Option<tokio::runtime::Runtime> =
        tokio::runtime::Builder::new_current_thread().build().ok();
}

/// Runs `f` to completion on this thread's current-thread runtime.
fn block_on<F: Future>(f: F) -> Option<F::Output> {
    RUNTIME.with(|rt| rt.as_ref().map(|rt| rt.block_on(f)))
}

/// `ApiQuery<T>` (the control-character check, then axum's `Query`) on `parts`.
async fn api_query<T: DeserializeOwned + Send>(
    parts: &mut axum::http::request::Parts,
) -> Option<T> {
    ApiQuery::<T>::from_request_parts(parts, &())
        .await
        .ok()
        .map(|ApiQuery(t)| t)
}

/// The query string of route `route` (see [`QUERY_ROUTES`]), when `/v1/fuzz?<bytes>` is a
/// request target the HTTP layer accepts: the `ApiQuery` extractor, then the plain checks the
/// handler applies to what it read.
pub fn query(route: usize, bytes: &[u8]) {
    let mut target = b"/v1/fuzz?".to_vec();
    target.extend_from_slice(bytes);
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    let Ok(request) = Request::builder().uri(uri).body(()) else {
        return;
    };
    let (mut parts, ()) = request.into_parts();
    let parts = &mut parts;
    block_on(async move {
        match route % QUERY_ROUTES.len() {
            0 => {
                let _ = api_query::<PageQuery>(parts).await;
            }
            1 => {
                let _ = api_query::<HistoryQuery>(parts).await;
            }
            2 => {
                let _ = api_query::<DashboardQuery>(parts).await;
            }
            3 => {
                if let Some(q) = api_query::<AtsCasesQuery>(parts).await
                    && let Some(status) = q.status.as_deref()
                {
                    let _ = diario_projections::CaseStatus::parse(status);
                }
            }
            4 => {
                let _ = api_query::<CostQuery>(parts).await;
            }
            5 => {
                let _ = api_query::<FailureQuery>(parts).await;
            }
            6 => {
                let _ = api_query::<EnteQuery>(parts).await;
            }
            _ => {
                if let Some(q) = api_query::<PaperQuery>(parts).await {
                    let _ = paper::parse_ids(q.entry_ids.as_deref());
                }
            }
        }
    });
}

/// A paper-confirmation upload whose body is `bytes` (content type `multipart/form-data` with
/// [`MULTIPART_BOUNDARY`]), read as `paper::paper_confirmation` reads it before the write: the
/// form field by field (at most [`paper::MAX_DOCUMENT_BYTES`] of scan), the scan's type by
/// content, the signer's fiscal code and the paper id, the scan's hash, the upload.
///
/// The handler and this call the same `paper::read_form`; only the write that follows (which
/// needs a database and a token) is not run.
pub fn multipart(bytes: &[u8]) {
    let content_type = format!("multipart/form-data; boundary={MULTIPART_BOUNDARY}");
    let Ok(request) = Request::builder()
        .method(Method::POST)
        .uri("/v1/cases/00000000-0000-0000-0000-000000000000/phases/1/paper-confirmation")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes.to_vec()))
    else {
        return;
    };
    let _ = block_on(read_upload(request));
}

async fn read_upload(req: Request) -> Result<paper::Upload, ApiError> {
    let multipart = Multipart::from_request(req, &())
        .await
        .map_err(|_| ApiError::UnsupportedDocument("not multipart".into()))?;
    paper::read_form(multipart, Uuid::nil(), Phase::I).await
}
