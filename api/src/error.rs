//! The API's one error type and its one mapping to HTTP: RFC 7807 `application/problem+json`
//! with a stable `type` per rule. Server-side failures are logged and answered opaquely.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Base of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://diario.example/problems/";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the database is not reachable")]
    NotReady(#[source] diario_commands::StoreError),
    #[error("not found")]
    NotFound,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The problem document (RFC 7807).
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::NotReady(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "the database does not answer".into(),
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not-found",
                "no such resource".into(),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred; it has been logged".into(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, detail) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let problem = Problem {
            kind: format!("{PROBLEM_BASE}{code}"),
            title: code.replace('-', " "),
            status: status.as_u16(),
            detail,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
