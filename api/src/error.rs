//! The API's one error type and its one mapping to HTTP: RFC 7807 `application/problem+json`
//! with a stable `type` per rule. Server-side failures are logged and answered opaquely.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use diario_commands::HandlerError;
use diario_domain::{DomainError, ErrorKind};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Base of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://diario.example/problems/";

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("la base dati non risponde")]
    NotReady(#[source] diario_log::StoreError),
    #[error("risorsa inesistente")]
    NotFound,
    #[error("{0}")]
    NotFoundWhat(String),
    #[error("metodo non consentito")]
    MethodNotAllowed,
    /// 400: the request cannot be read (JSON syntax, types, missing fields, bad header).
    #[error("{0}")]
    BadRequest(String),
    /// 400 naming the field that cannot be accepted (`field` extension).
    #[error("{message}")]
    InvalidField { field: String, message: String },
    /// 400 `malformed-request` naming the field (when known) that cannot be read.
    #[error("{message}")]
    Malformed {
        field: Option<String>,
        message: String,
    },
    /// 408: the request (its body included) took longer than the timeout (seconds).
    #[error("la richiesta ha superato {0} secondi")]
    RequestTimeout(u64),
    /// 414: the request target is longer than the limit (bytes).
    #[error("l'indirizzo supera {0} byte")]
    UriTooLong(usize),
    /// 431: the header section is larger than the limit (bytes) or has too many headers.
    #[error("le intestazioni superano {0} byte o sono troppe")]
    HeadersTooLarge(usize),
    /// 401: no or invalid bearer token.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403 with a stable code.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 412: `If-Match` is stale.
    #[error("la pratica è alla versione {actual}, non {expected}: rileggerla e riprovare")]
    PreconditionFailed { expected: i64, actual: i64 },
    /// 413
    #[error("il corpo della richiesta supera {0} byte")]
    PayloadTooLarge(usize),
    /// 415
    #[error("il corpo della richiesta deve essere application/json")]
    UnsupportedMediaType,
    /// 422 with a stable code outside the domain (slots, idempotency, catalogue).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// A refusal naming the request field it is about (`field` extension), with its status.
    #[error("{message}")]
    Field {
        status: StatusCode,
        code: &'static str,
        field: &'static str,
        message: String,
    },
    /// 409: concurrent writers won every attempt.
    #[error("la pratica è stata modificata nello stesso momento; riprovare")]
    Contention,
    /// A rule of the Regolamento refused the command.
    #[error(transparent)]
    Domain(DomainError),
    /// A rule of a measure's own streams (plans, timesheets, cost records: seed 004) refused
    /// the command; `details` are the rule's data (e.g. the day's minutes), as the `rule`
    /// extension.
    #[error("{message}")]
    Rule {
        kind: ErrorKind,
        code: &'static str,
        message: String,
        details: Value,
    },
    /// A late answer (Art. 6): the request's expiry was recorded, the answer refused.
    #[error("Art. 6: la risposta è arrivata oltre il termine di un giorno; la richiesta è scaduta")]
    LateAnswer { version: i64 },
    /// 401: a FirmaLOM callback whose HMAC signature is missing, wrong or stale.
    #[error("firma FirmaLOM rifiutata: {0}")]
    BadSignature(crate::firmalom::signature::SignatureError),
    /// 409: a FirmaLOM delivery id that was already answered (replay).
    #[error(
        "questa consegna FirmaLOM è già stata elaborata (prima risposta: {original_status}); nulla è cambiato"
    )]
    CallbackReplayed { original_status: u16 },
    /// 503: FirmaLOM callbacks arrive but no secret is configured.
    #[error("FirmaLOM non è configurato su questo server (DIARIO_FIRMALOM_SECRET)")]
    FirmalomNotConfigured,
    /// 503: the identity provider's keys cannot be fetched, and the token's key is not cached.
    #[error("il fornitore di identità non risponde; riprovare tra poco")]
    IdentityProviderUnavailable(String),
    /// 415 for uploaded documents (checked by content).
    #[error("{0}")]
    UnsupportedDocument(String),
    #[error("errore interno")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Failures of a background pass (deadline scheduler, dispatcher, purge): logged, and the
/// next pass tries again.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] diario_log::StoreError),
    #[error(transparent)]
    Follow(#[from] diario_log::FollowError),
    #[error(transparent)]
    Handler(#[from] HandlerError),
}

/// The problem document (RFC 7807), with the rule's code and article as extensions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable URI per rule: `https://diario.example/problems/{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Human message naming the rule (Italian / English).
    pub detail: String,
    /// The stable code (last segment of `type`).
    pub code: String,
    /// The article of the Regolamento, when the refusal comes from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
    /// Rule-specific data (e.g. the Art. 8 checklist, the current version).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

impl From<HandlerError> for ApiError {
    fn from(e: HandlerError) -> Self {
        match e {
            HandlerError::Domain(d) => ApiError::Domain(d),
            HandlerError::Grant(diario_domain::grants::GrantError::Organisation(e)) => {
                ApiError::Field {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: e.code(),
                    field: e.field(),
                    message: e.to_string(),
                }
            }
            HandlerError::Grant(g) => {
                let code = g.code();
                if code == "grant-not-found" {
                    ApiError::NotFoundWhat(g.to_string())
                } else {
                    ApiError::Unprocessable {
                        code,
                        message: g.to_string(),
                    }
                }
            }
            HandlerError::Organisation(e) => ApiError::Field {
                status: if e.is_conflict() {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
                code: e.code(),
                field: e.field(),
                message: e.to_string(),
            },
            HandlerError::Staff(e) => ApiError::Field {
                status: if e.code() == "staff-membership-not-found" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
                code: e.code(),
                field: e.field(),
                message: e.to_string(),
            },
            HandlerError::Sample(e) => match e.field() {
                Some(field) => ApiError::Field {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: e.code(),
                    field,
                    message: e.to_string(),
                },
                None => ApiError::Unprocessable {
                    code: e.code(),
                    message: e.to_string(),
                },
            },
            HandlerError::Plan(e) => ApiError::rule(e.kind(), e.code(), &e),
            HandlerError::Timesheet(e) => ApiError::rule(e.kind(), e.code(), &e),
            HandlerError::StaffCost(e) => ApiError::rule(
                if e.forbidden() {
                    ErrorKind::Forbidden
                } else {
                    ErrorKind::Unprocessable
                },
                e.code(),
                &e,
            ),
            HandlerError::UnknownMeasure(m) => ApiError::Unprocessable {
                code: "measure-not-in-catalogue",
                message: format!("la misura {m} non è nel catalogo"),
            },
            HandlerError::PreconditionFailed { expected, actual } => {
                ApiError::PreconditionFailed { expected, actual }
            }
            HandlerError::Contention { .. } => ApiError::Contention,
            HandlerError::CommandIdReused => ApiError::Unprocessable {
                code: "idempotency-key-reused",
                message: "questa Idempotency-Key è già stata usata per un'altra richiesta; usarne \
                          una nuova / this Idempotency-Key was used for a different request; use \
                          a new key"
                    .into(),
            },
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// The access policy's refusals are 403 with the policy's code.
impl From<diario_commands::Denied> for ApiError {
    fn from(d: diario_commands::Denied) -> Self {
        ApiError::Forbidden {
            code: d.code,
            message: d.message,
        }
    }
}

/// A failure of the database under a request is the server's (500, logged).
impl From<diario_log::StoreError> for ApiError {
    fn from(e: diario_log::StoreError) -> Self {
        ApiError::Internal(Box::new(e))
    }
}

/// Read-model queries: a cursor the client made up is its mistake (400); anything else is the
/// server's (500, logged).
impl From<diario_projections::ProjectionError> for ApiError {
    fn from(e: diario_projections::ProjectionError) -> Self {
        match e {
            diario_projections::ProjectionError::BadCursor(c) => ApiError::Field {
                status: StatusCode::BAD_REQUEST,
                code: "invalid-cursor",
                field: "cursor",
                message: format!(
                    "cursore non valido {c:?}: ripassare il `next_cursor` della pagina precedente"
                ),
            },
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// The HTTP status of a rule's broad class.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl ApiError {
    /// A refusal of a rule whose error serialises its data with a `code` tag.
    pub fn rule<E: std::fmt::Display + Serialize>(
        kind: ErrorKind,
        code: &'static str,
        e: &E,
    ) -> ApiError {
        let mut details = serde_json::to_value(e).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut details {
            map.remove("code");
        }
        ApiError::Rule {
            kind,
            code,
            message: e.to_string(),
            details,
        }
    }

    /// Whether a retry with the same `Idempotency-Key` must get this answer again: refusals
    /// decided on the request itself are; transient or server-side failures are not.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ApiError::Domain(_)
                | ApiError::Rule { .. }
                | ApiError::LateAnswer { .. }
                | ApiError::Forbidden { .. }
                | ApiError::Unprocessable { .. }
                | ApiError::Field { .. }
                | ApiError::NotFoundWhat(_)
        )
    }

    fn parts(
        &self,
    ) -> (
        StatusCode,
        String,
        String,
        Option<String>,
        Map<String, Value>,
    ) {
        let mut ext = Map::new();
        let simple = |s: StatusCode, c: &str, d: String| (s, c.to_owned(), d, None, Map::new());
        match self {
            ApiError::NotReady(_) => simple(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "la base dati non risponde".into(),
            ),
            ApiError::NotFound => simple(
                StatusCode::NOT_FOUND,
                "not-found",
                "risorsa inesistente".into(),
            ),
            ApiError::NotFoundWhat(m) => simple(StatusCode::NOT_FOUND, "not-found", m.clone()),
            ApiError::MethodNotAllowed => simple(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "metodo non consentito su questa risorsa".into(),
            ),
            ApiError::BadRequest(m) => {
                simple(StatusCode::BAD_REQUEST, "malformed-request", m.clone())
            }
            ApiError::Malformed { field, message } => {
                if let Some(field) = field {
                    ext.insert("field".into(), Value::from(field.as_str()));
                }
                (
                    StatusCode::BAD_REQUEST,
                    "malformed-request".into(),
                    message.clone(),
                    None,
                    ext,
                )
            }
            ApiError::InvalidField { field, message } => {
                ext.insert("field".into(), Value::from(field.as_str()));
                (
                    StatusCode::BAD_REQUEST,
                    "invalid-characters".into(),
                    message.clone(),
                    None,
                    ext,
                )
            }
            ApiError::RequestTimeout(_) => simple(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                self.to_string(),
            ),
            ApiError::UriTooLong(_) => {
                simple(StatusCode::URI_TOO_LONG, "uri-too-long", self.to_string())
            }
            ApiError::HeadersTooLarge(_) => simple(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers-too-large",
                self.to_string(),
            ),
            ApiError::Unauthenticated(m) => {
                simple(StatusCode::UNAUTHORIZED, "unauthenticated", m.clone())
            }
            ApiError::Forbidden { code, message } => {
                simple(StatusCode::FORBIDDEN, code, message.clone())
            }
            ApiError::PreconditionFailed { expected, actual } => {
                ext.insert("current_version".into(), Value::from(*actual));
                ext.insert("expected_version".into(), Value::from(*expected));
                (
                    StatusCode::PRECONDITION_FAILED,
                    "version-mismatch".into(),
                    self.to_string(),
                    None,
                    ext,
                )
            }
            ApiError::PayloadTooLarge(_) => simple(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                self.to_string(),
            ),
            ApiError::UnsupportedMediaType => simple(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                self.to_string(),
            ),
            ApiError::Unprocessable { code, message } => {
                simple(StatusCode::UNPROCESSABLE_ENTITY, code, message.clone())
            }
            ApiError::Contention => {
                simple(StatusCode::CONFLICT, "concurrent-update", self.to_string())
            }
            ApiError::Field {
                status,
                code,
                field,
                message,
            } => {
                ext.insert("field".into(), Value::from(*field));
                (*status, (*code).to_owned(), message.clone(), None, ext)
            }
            ApiError::Rule {
                kind,
                code,
                message,
                details,
            } => {
                let status = status_of(*kind);
                if details.as_object().is_some_and(|m| !m.is_empty()) {
                    ext.insert("rule".into(), details.clone());
                }
                (status, (*code).to_owned(), message.clone(), None, ext)
            }
            ApiError::Domain(d) => {
                let status = status_of(d.kind());
                if let DomainError::ChecklistFailed(checklist) = d
                    && let Ok(v) = serde_json::to_value(checklist.as_ref())
                {
                    ext.insert("checklist".into(), v);
                }
                if let DomainError::Organisation(e) = d {
                    ext.insert("field".into(), Value::from(e.field()));
                }
                if let DomainError::OverlappingEntryOnOtherCase { case_id, entry_id } = d {
                    ext.insert("other_case_id".into(), Value::from(case_id.to_string()));
                    ext.insert("other_entry_id".into(), Value::from(entry_id.to_string()));
                }
                (
                    status,
                    d.code().to_owned(),
                    d.to_string(),
                    d.article().map(str::to_owned),
                    ext,
                )
            }
            ApiError::LateAnswer { version } => {
                ext.insert("version".into(), Value::from(*version));
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "confirmation-answer-too-late".into(),
                    self.to_string(),
                    Some("Art. 6".into()),
                    ext,
                )
            }
            ApiError::BadSignature(_) => simple(
                StatusCode::UNAUTHORIZED,
                "invalid-signature",
                self.to_string(),
            ),
            ApiError::CallbackReplayed { original_status } => {
                ext.insert("original_status".into(), Value::from(*original_status));
                (
                    StatusCode::CONFLICT,
                    "callback-replayed".into(),
                    self.to_string(),
                    None,
                    ext,
                )
            }
            ApiError::FirmalomNotConfigured => simple(
                StatusCode::SERVICE_UNAVAILABLE,
                "firmalom-not-configured",
                self.to_string(),
            ),
            ApiError::IdentityProviderUnavailable(_) => simple(
                StatusCode::SERVICE_UNAVAILABLE,
                "identity-provider-unavailable",
                self.to_string(),
            ),
            ApiError::UnsupportedDocument(m) => simple(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-document-type",
                m.clone(),
            ),
            ApiError::Internal(_) => simple(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "si è verificato un errore interno, registrato nei log".into(),
            ),
        }
    }

    /// What the log may say of this error: the chain of messages, with a database error
    /// reduced to its SQLSTATE and message. A database's detail and context can quote the
    /// statement's parameters — event payloads with fiscal codes — and never reach the log.
    pub fn log_text(&self) -> String {
        let mut parts = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = next {
            if let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>() {
                parts.push(format!(
                    "database error {}: {}",
                    db.code().as_deref().unwrap_or("-"),
                    db.message()
                ));
                break;
            }
            parts.push(e.to_string());
            next = e.source();
        }
        parts.dedup();
        parts.join(": ")
    }

    /// Status and the problem document as bytes.
    pub fn render(&self) -> (StatusCode, Vec<u8>) {
        let (status, code, detail, article, extensions) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self.log_text(), "request failed");
        }
        let problem = Problem {
            kind: format!("{PROBLEM_BASE}{code}"),
            title: code.replace('-', " "),
            status: status.as_u16(),
            detail,
            code,
            article,
            extensions,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        (status, body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthenticated = matches!(self, ApiError::Unauthenticated(_));
        let (status, body) = self.render();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if unauthenticated {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
