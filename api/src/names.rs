//! Names next to fiscal codes in every JSON view (issue 13): a `GET` under `/v1` that answers
//! `200 application/json` with an object gets a top-level `names` object mapping each fiscal
//! code that appears anywhere in the body to "Nome Cognome", for the staff whose name is
//! recorded (projection `people`); in sentences (the audit trail's descriptions) the code
//! itself becomes "Nome Cognome (CF)", while fields that hold a code keep the bare code. One rule in one place, so no view — present or future —
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
    for v in object.values_mut() {
        name_codes_in_text(v, &names);
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

/// The fiscal codes (as stored: 16 capitals and digits, check letter valid) in `text`: the
/// whole string, or words of a sentence.
pub(crate) fn codes_in(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() == 16)
        .filter(|w| FiscalCode::parse(w).is_ok_and(|cf| cf.as_str() == *w))
}

/// Every fiscal code in the strings of `v`.
fn collect_codes(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => out.extend(codes_in(s).map(str::to_owned)),
        Value::Array(items) => items.iter().for_each(|i| collect_codes(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_codes(i, out)),
        _ => {}
    }
}

/// `text` with each fiscal code whose name is recorded written "Nome Cognome (CF)".
pub(crate) fn name_codes(text: &str, names: &diario_projections::Names) -> String {
    // Each code once: a code written twice is replaced everywhere by the first `replace`.
    let known: BTreeSet<String> = codes_in(text)
        .filter(|cf| names.get(cf).is_some())
        .map(str::to_owned)
        .collect();
    let mut out = text.to_owned();
    for cf in known {
        out = out.replace(&cf, &names.label(&cf));
    }
    out
}

/// In sentences (strings that are not themselves a code: an audit trail's descriptions, a
/// message), each known code becomes "Nome Cognome (CF)". Fields that hold a code stay the code.
fn name_codes_in_text(v: &mut Value, names: &diario_projections::Names) {
    match v {
        Value::String(s) if s.len() > 16 => *s = name_codes(s, names),
        Value::Array(items) => items.iter_mut().for_each(|i| name_codes_in_text(i, names)),
        Value::Object(map) => map.values_mut().for_each(|i| name_codes_in_text(i, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_sentences_get_the_name_next_to_them() {
        let names = diario_projections::Names(
            [("GLLLCU88E10D969Z".to_owned(), "Luca Galli".to_owned())]
                .into_iter()
                .collect(),
        );
        let mut v = serde_json::json!({
            "professional": "GLLLCU88E10D969Z",
            "description": "Professionista GLLLCU88E10D969Z abilitato (asst)",
            "other": "Responsabile cambiato: RSSMRA85T10A562S → GLLLCU88E10D969Z",
        });
        for x in v.as_object_mut().expect("object").values_mut() {
            name_codes_in_text(x, &names);
        }
        assert_eq!(v["professional"], "GLLLCU88E10D969Z");
        assert_eq!(
            v["description"],
            "Professionista Luca Galli (GLLLCU88E10D969Z) abilitato (asst)"
        );
        assert_eq!(
            v["other"],
            "Responsabile cambiato: RSSMRA85T10A562S → Luca Galli (GLLLCU88E10D969Z)"
        );
    }

    #[test]
    fn a_code_written_twice_gets_its_name_once_each_time() {
        let names = diario_projections::Names(
            [("GLLLCU88E10D969Z".to_owned(), "Luca Galli".to_owned())]
                .into_iter()
                .collect(),
        );
        assert_eq!(
            name_codes("GLLLCU88E10D969Z sostituisce GLLLCU88E10D969Z", &names),
            "Luca Galli (GLLLCU88E10D969Z) sostituisce Luca Galli (GLLLCU88E10D969Z)"
        );
    }

    #[test]
    fn fiscal_codes_are_found_anywhere_in_a_view() {
        let v = serde_json::json!({
            "responsabile_asst": "RSSMRA85T10A562S",
            "diaries": [{ "entries": [{ "professional": "FRRSFN75M22B157W", "service": "colloquio" }] }],
            "pseudonym": "UP-MI-000123",
            "not_a_code": "RSSMRA85T10A562X",
            "description": "Professionista GLLLCU88E10D969Z abilitato",
        });
        let mut codes = BTreeSet::new();
        collect_codes(&v, &mut codes);
        assert_eq!(
            codes.into_iter().collect::<Vec<_>>(),
            ["FRRSFN75M22B157W", "GLLLCU88E10D969Z", "RSSMRA85T10A562S"]
        );
    }
}
