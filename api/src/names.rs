//! Names next to fiscal codes in every JSON view (issue 13): a `GET` under `/v1` that answers
//! `200 application/json` with an object gets a top-level `names` object mapping each fiscal
//! code that appears anywhere in the body to "Nome Cognome", for the staff whose name is
//! recorded (projection `people`). One rule in one place, so no view — present or future —
//! shows a bare code when the name is known. The viewer already sees the code; the name of the
//! same person adds no access. People without a recorded name (the recipient's confirmers,
//! who are never staff) stay codes.

use std::collections::BTreeSet;

use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use diario_domain::FiscalCode;
use serde_json::Value;

use crate::AppState;

/// Bodies larger than this are passed through unchanged (they are exports, not views).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The middleware (see the module documentation).
pub async fn add_names(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let applies = req.method() == Method::GET && req.uri().path().starts_with("/v1/");
    let response = next.run(req).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !applies || !json || response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Only bodies whose size is known and bounded (views; the handlers' JSON always is).
    if body.size_hint().upper().is_none_or(|n| n > MAX_BODY as u64) {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let mut codes = BTreeSet::new();
    for v in object.values() {
        collect_codes(v, &mut codes);
    }
    if codes.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let names = match diario_projections::names(&state.db, codes.iter().map(String::as_str)).await {
        Ok(names) => names,
        Err(e) => {
            // The view itself is right; only the names are missing. Say so in the log.
            tracing::warn!(error = %e, "names of the fiscal codes in a view could not be read");
            return Response::from_parts(parts, Body::from(bytes));
        }
    };
    if names.0.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let map = names
        .0
        .into_iter()
        .map(|(cf, name)| (cf, Value::String(name)))
        .collect();
    object.insert("names".into(), Value::Object(map));
    let Ok(body) = serde_json::to_vec(&Value::Object(object)) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Every string in `v` that is a fiscal code (as stored: 16 characters, check letter valid).
fn collect_codes(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if s.len() == 16 => {
            if let Ok(cf) = FiscalCode::parse(s)
                && cf.as_str() == s
            {
                out.insert(s.clone());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_codes(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_codes(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_codes_are_found_anywhere_in_a_view() {
        let v = serde_json::json!({
            "responsabile_asst": "RSSMRA85T10A562S",
            "diaries": [{ "entries": [{ "professional": "FRRSFN75M22B157W", "service": "colloquio" }] }],
            "pseudonym": "UP-MI-000123",
            "not_a_code": "RSSMRA85T10A562X",
        });
        let mut codes = BTreeSet::new();
        collect_codes(&v, &mut codes);
        assert_eq!(
            codes.into_iter().collect::<Vec<_>>(),
            ["FRRSFN75M22B157W", "RSSMRA85T10A562S"]
        );
    }
}
