//! Own extractors so that axum's plain-text rejections never reach a client: every failure to
//! read a request becomes an `application/problem+json` answer (400, 413, 415).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
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
                ApiError::BadRequest("the request body cannot be read".into())
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
            return Err(ApiError::BadRequest("a JSON body is required".into()));
        }
        parse(&self.body)
    }

    /// The body as `T`, or `T::default()` when empty (commands with optional fields).
    pub fn json_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Ok(T::default());
        }
        parse(&self.body)
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the JSON body cannot be read: {e}")))
}

/// Declares an extractor wrapping one of axum's, whose rejection is a 400 problem naming what
/// could not be read.
macro_rules! problem_extractor {
    ($(#[$doc:meta])* $name:ident wraps $inner:ident, $what:literal) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<T, S> FromRequestParts<S> for $name<T>
        where
            T: DeserializeOwned + Send,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                $inner::<T>::from_request_parts(parts, state)
                    .await
                    .map(|$inner(t)| $name(t))
                    .map_err(|e| ApiError::BadRequest(format!(concat!($what, ": {}"), e.body_text())))
            }
        }
    };
}

problem_extractor!(
    /// `Path` with a problem+json rejection.
    ApiPath wraps Path, "invalid path parameter"
);
problem_extractor!(
    /// `Query` with a problem+json rejection.
    ApiQuery wraps Query, "invalid query"
);
