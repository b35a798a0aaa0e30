//! Own extractors so that axum's plain-text rejections never reach a client: every failure to
//! read a request becomes an `application/problem+json` answer (400, 413, 415).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// Maximum request body size (bytes).
pub const BODY_LIMIT: usize = 64 * 1024;

/// A write request: method, path, headers and the raw body (kept raw for the idempotency
/// fingerprint). A non-empty body must be JSON (`application/json` or `…+json`).
pub struct WriteRequest {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl FromRequest<AppState> for WriteRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let method = req.method().clone();
        let path = request_path(&req);
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(BODY_LIMIT)
            } else {
                ApiError::BadRequest("il corpo della richiesta non è leggibile".into())
            }
        })?;
        if !body.is_empty() && !is_json(&headers) {
            return Err(ApiError::UnsupportedMediaType);
        }
        Ok(WriteRequest {
            method,
            path,
            headers,
            body,
        })
    }
}

/// Path and query of a request: the part of the idempotency fingerprint that names the target.
pub fn request_path(req: &Request) -> String {
    req.uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

impl WriteRequest {
    /// The body as `T`; an empty body is refused.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::BadRequest("serve un corpo JSON".into()));
        }
        parse(&self.body)
    }

    /// The body as `T`, or `T::default()` when empty or `null` (commands with optional
    /// fields).
    pub fn json_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Ok(T::default());
        }
        let value = parse_value(&self.body)?;
        if value.is_null() {
            return Ok(T::default());
        }
        from_value(value)
    }
}

/// A JSON body as `T`: refused (400) when it is not JSON, when a string in it holds a control
/// character ([`control_character`], naming the field) or when it does not fit `T`.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    from_value(parse_value(body)?)
}

/// A body that is not JSON: where it stops being JSON, never the parser's words.
fn unreadable(e: &serde_json::Error) -> ApiError {
    ApiError::Malformed {
        field: None,
        message: format!(
            "il corpo non è JSON valido (riga {}, colonna {})",
            e.line(),
            e.column()
        ),
    }
}

/// What a deserializer's message means, in Italian: serde's and the standard parsers' own
/// wording (English, naming Rust types) is replaced; a message of this service's own types
/// (a fiscal code, a phase: already Italian) is kept.
pub fn reason(message: &str) -> String {
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    let m = message.trim();
    if m.starts_with("missing field") {
        "campo obbligatorio mancante".into()
    } else if m.starts_with("unknown field") {
        let allowed: Vec<&str> = m
            .split_once("expected")
            .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        if allowed.is_empty() {
            "campo non previsto".into()
        } else {
            format!("campo non previsto (ammessi: {})", allowed.join(", "))
        }
    } else if m.starts_with("unknown variant") {
        let allowed: Vec<&str> = m
            .split_once("expected")
            .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        format!(
            "valore {} non previsto (ammessi: {})",
            quoted(m).unwrap_or_default(),
            allowed.join(", ")
        )
    } else if m.starts_with("invalid type") {
        "tipo di valore non valido".into()
    } else if m.starts_with("invalid length") {
        "numero di elementi non valido".into()
    } else if m.contains("UUID")
        || m.contains("invalid character: expected")
        || m.contains("invalid group")
    {
        "non è un UUID".into()
    } else if m.contains("digit")
        || m.contains("number too large")
        || m.contains("integer")
        || m.contains("float")
    {
        "non è un numero valido".into()
    } else if m.contains("premature end of input")
        || m.contains("input contains invalid characters")
        || m.contains("input is out of range")
        || m.contains("trailing input")
        || m.contains("input is not enough")
    {
        "data o ora non valida".into()
    } else if m.starts_with("invalid value") || m.starts_with("expected") || m.is_empty() {
        "valore non valido".into()
    } else {
        // This service's own message (already Italian).
        m.to_owned()
    }
}

/// The refusal of a request part that could not be read at `path` (`slot.start`; empty: the
/// whole part).
fn malformed_at(what: &str, path: &str, message: &str) -> ApiError {
    let reason = reason(message);
    if path.is_empty() || path == "." {
        ApiError::Malformed {
            field: None,
            message: format!("{what} non è valido: {reason}"),
        }
    } else {
        ApiError::Malformed {
            field: Some(path.to_owned()),
            message: format!("il campo {path} non è valido: {reason}"),
        }
    }
}

/// The body as JSON, checked for control characters, with integral numbers written as
/// decimals (`2.0`) read as the integers they are (JSON Schema counts them as integers).
fn parse_value(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(|e| unreadable(&e))?;
    if let Some(field) = control_character_in(&value, &mut String::new()) {
        return Err(control_character(&field));
    }
    integral_numbers(&mut value);
    Ok(value)
}

fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| path_refusal("il corpo", e))
}

/// The refusal of what `serde_path_to_error` could not read in `what` (the body, the query):
/// the field at its path (a missing field named by its parent path and itself) and the
/// Italian reason.
fn path_refusal<E: std::fmt::Display>(what: &str, e: serde_path_to_error::Error<E>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    let path = match inner
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        Some(f) if path.is_empty() || path == "." => f.to_owned(),
        Some(f) => format!("{path}.{f}"),
        None => path,
    };
    malformed_at(what, &path, &inner)
}

/// Rewrites `2.0` as `2` throughout `value` (within the exactly representable range).
fn integral_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                // Within ±2^53 the float is an exact integer.
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// A character no text of this service may hold: C0 and C1 controls (NUL among them, which
/// PostgreSQL cannot store), except tab and line breaks in free text.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The refusal naming the field that holds a control character.
pub fn control_character(field: &str) -> ApiError {
    ApiError::InvalidField {
        field: field.to_owned(),
        message: format!("il campo {field} contiene un carattere di controllo"),
    }
}

/// The path (`recipient.pseudonym`, `entry_ids[2]`) of the first string, or object key, of
/// `value` that holds a forbidden character.
fn control_character_in(value: &serde_json::Value, at: &mut String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => s.chars().any(is_forbidden_char).then(|| field_name(at)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let len = at.len();
            at.push_str(&format!("[{i}]"));
            let found = control_character_in(v, at);
            at.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let len = at.len();
            if !at.is_empty() {
                at.push('.');
            }
            // A key is shown only when it is clean (it is the name of the field).
            if k.chars().any(is_forbidden_char) {
                at.push_str("<key>");
                let found = field_name(at);
                at.truncate(len);
                return Some(found);
            }
            at.push_str(k);
            let found = control_character_in(v, at);
            at.truncate(len);
            found
        }),
        _ => None,
    }
}

fn field_name(at: &str) -> String {
    if at.is_empty() {
        "(body)".into()
    } else {
        at.to_owned()
    }
}

/// The first parameter of a percent-encoded path or query that decodes to a control
/// character: `Some(name)` (the query key, or `path`).
fn control_character_in_uri(parts: &Parts) -> Option<String> {
    // Controls spelled `%00`–`%1F`, `%7F` decode to themselves; C1 controls arrive as UTF-8.
    let encoded_control = |s: &str| percent_decoded(s).chars().any(is_forbidden_char);
    if encoded_control(parts.uri.path()) {
        return Some("path".into());
    }
    parts.uri.query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if encoded_control(key) {
                Some("query".to_owned())
            } else {
                encoded_control(value).then(|| key.to_owned())
            }
        })
    })
}

/// Two ASCII hex digits as a byte (`from_str_radix` alone would take `+1`).
fn hex_byte(h: &str) -> Option<u8> {
    h.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| u8::from_str_radix(h, 16).ok())
        .flatten()
}

/// `s` with `%XX` sequences decoded (lossy), to find controls spelled in UTF-8 (C1: `%C2%80`).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(hex_byte)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Path` with a problem+json rejection in Italian naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        if let Some(field) = control_character_in_uri(parts) {
            return Err(control_character(&field));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(t)) => Ok(ApiPath(t)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(match e.kind() {
                ErrorKind::ParseErrorAtKey { key, .. }
                | ErrorKind::InvalidUtf8InPathParam { key } => ApiError::Malformed {
                    field: Some(key.clone()),
                    message: format!("il parametro {key} del percorso non è valido"),
                },
                ErrorKind::DeserializeError { key, message, .. } => {
                    malformed_at("il percorso", key, message)
                }
                ErrorKind::Message(m) => malformed_at("il percorso", "", m),
                _ => ApiError::Malformed {
                    field: None,
                    message: "un parametro del percorso non è valido".into(),
                },
            }),
            Err(_) => Err(ApiError::Malformed {
                field: None,
                message: "il percorso non è valido".into(),
            }),
        }
    }
}

/// `Query` with a problem+json rejection in Italian naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        if let Some(field) = control_character_in_uri(parts) {
            return Err(control_character(&field));
        }
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|e| path_refusal("la query", e))
    }
}
