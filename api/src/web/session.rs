//! Browser sessions: a random id in a `Secure; HttpOnly; SameSite=Lax` cookie (`__Host-` prefixed
//! behind HTTPS), the SHA-256 of the id in `web_sessions` with the person, a CSRF token for the
//! forms, and two timeouts — idle (no request for `idle`) and absolute (`absolute` after the
//! login). An expired session is deleted when it is next presented.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};
use diario_domain::FiscalCode;
use diario_log::Val;
use openidconnect::CsrfToken;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after the login, used or not.
    pub absolute: Duration,
    /// Secure cookie (`__Host-` prefix): true unless the public URL is plain `http://`.
    pub secure: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            secure: true,
        }
    }
}

impl SessionSettings {
    /// The session cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-diario_session"
        } else {
            "diario_session"
        }
    }
}

/// A signed-in person, from the session cookie.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub fiscal_code: FiscalCode,
    /// The token the session's forms carry (`_csrf`).
    pub csrf_token: String,
    /// Started by the development login (`diario demo`), not by the identity provider.
    pub development: bool,
    id_hash: String,
}

/// A random secret (32 bytes, base64url) for session ids, CSRF tokens, states and nonces.
pub fn random_secret() -> String {
    CsrfToken::new_random_len(32).secret().clone()
}

/// Hex SHA-256 of a secret: what the tables keep instead of the secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether two secrets are equal, compared through their digests (no timing side channel on
/// the secret itself).
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| Cookie::parse(c.trim()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn set_cookie(settings: &SessionSettings, value: &str, max_age: Option<Duration>) -> HeaderValue {
    let mut c = Cookie::build((settings.cookie_name(), value.to_owned()))
        .path("/")
        .http_only(true)
        .secure(settings.secure)
        .same_site(SameSite::Lax);
    c = match max_age {
        Some(age) => c.max_age(cookie::time::Duration::seconds(
            i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        )),
        None => c.max_age(cookie::time::Duration::ZERO),
    };
    HeaderValue::from_str(&c.build().to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Creates the session of `fiscal_code` and returns the `Set-Cookie` header that carries it.
pub async fn create(
    state: &AppState,
    fiscal_code: &FiscalCode,
    development: bool,
) -> Result<HeaderValue, ApiError> {
    // Each login clears what has expired (sessions past their lifetime, abandoned logins), so
    // the tables stay small without a worker of their own.
    purge(state).await?;
    let id = random_secret();
    let now = state.handler.now();
    state
        .db
        .exec(
            "INSERT INTO web_sessions (id_hash, fiscal_code, csrf_token, created_at, \
             last_seen_at, development) VALUES ($1, $2, $3, $4, $4, $5)",
            &[
                digest(&id).into(),
                fiscal_code.as_str().into(),
                random_secret().into(),
                Val::Instant(Some(now)),
                development.into(),
            ],
        )
        .await?;
    let settings = &state.web.sessions;
    Ok(set_cookie(settings, &id, Some(settings.absolute)))
}

/// Ends the session (logout): deletes it and returns the `Set-Cookie` that clears the cookie.
pub async fn end(state: &AppState, session: &WebSession) -> Result<HeaderValue, ApiError> {
    state
        .db
        .exec(
            "DELETE FROM web_sessions WHERE id_hash = $1",
            &[session.id_hash.as_str().into()],
        )
        .await?;
    Ok(set_cookie(&state.web.sessions, "", None))
}

/// The session the request's cookie names, if it is still valid (touched: its idle time
/// starts again). An expired one is deleted.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<WebSession>, ApiError> {
    let settings = &state.web.sessions;
    let Some(id) = cookie_value(headers, settings.cookie_name()) else {
        return Ok(None);
    };
    let id_hash = digest(&id);
    let Some(row) = state
        .db
        .fetch_optional(
            "SELECT fiscal_code, csrf_token, created_at, last_seen_at, development \
             FROM web_sessions WHERE id_hash = $1",
            &[id_hash.as_str().into()],
        )
        .await?
    else {
        return Ok(None);
    };
    let now = state.handler.now();
    let created: DateTime<Utc> = row.instant("created_at")?;
    let seen: DateTime<Utc> = row.instant("last_seen_at")?;
    let expired = |since: DateTime<Utc>, limit: Duration| {
        chrono::Duration::from_std(limit).is_ok_and(|limit| now - since >= limit)
    };
    if expired(created, settings.absolute) || expired(seen, settings.idle) {
        state
            .db
            .exec(
                "DELETE FROM web_sessions WHERE id_hash = $1",
                &[id_hash.as_str().into()],
            )
            .await?;
        return Ok(None);
    }
    state
        .db
        .exec(
            "UPDATE web_sessions SET last_seen_at = $2 WHERE id_hash = $1",
            &[id_hash.as_str().into(), Val::Instant(Some(now))],
        )
        .await?;
    let fiscal_code = FiscalCode::parse(&row.text("fiscal_code")?)
        .map_err(|e| ApiError::Internal(format!("web_sessions.fiscal_code: {e}").into()))?;
    Ok(Some(WebSession {
        fiscal_code,
        csrf_token: row.text("csrf_token")?,
        development: row.bool("development")?,
        id_hash,
    }))
}

/// Deletes sessions past their absolute lifetime and logins older than 10 minutes.
pub async fn purge(state: &AppState) -> Result<u64, ApiError> {
    let now = state.handler.now();
    let absolute = chrono::Duration::from_std(state.web.sessions.absolute)
        .unwrap_or(chrono::Duration::hours(12));
    let sessions = state
        .db
        .exec(
            "DELETE FROM web_sessions WHERE created_at < $1",
            &[Val::Instant(Some(now - absolute))],
        )
        .await?;
    let logins = state
        .db
        .exec(
            "DELETE FROM web_logins WHERE created_at < $1",
            &[Val::Instant(Some(now - chrono::Duration::minutes(10)))],
        )
        .await?;
    Ok(sessions + logins)
}

impl WebSession {
    /// The signed-in person with their grants, as the API's bearer tokens give it.
    pub async fn principal(
        &self,
        state: &AppState,
    ) -> Result<diario_commands::Principal, ApiError> {
        Ok(state
            .handler
            .principal(self.fiscal_code.clone(), &state.auth.platform_admins)
            .await?)
    }
}

/// The optional session of a page request.
pub struct MaybeSession(pub Option<WebSession>);

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(MaybeSession(current(state, &parts.headers).await?))
    }
}

/// Whether a form post is the session's own: its `_csrf` field is the session's token, and
/// the `Origin` header, when the browser sends one, is this service's.
pub fn check_form(
    state: &AppState,
    headers: &HeaderMap,
    session: &WebSession,
    csrf: &str,
) -> Result<(), ApiError> {
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_none_or(|o| o == state.web.origin());
    if origin_ok && same_secret(csrf, &session.csrf_token) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: "csrf-check-failed",
            message: "il modulo non proviene da questa sessione; ricaricare la pagina e riprovare / the form does not come from this session: reload the page and try again".into(),
        })
    }
}
