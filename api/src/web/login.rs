//! Browser login: the OpenID Connect authorization code flow with PKCE, state and nonce, as
//! the relying party of the configured provider (the SPID/CIE broker), with the
//! `openidconnect` crate. The pending login (PKCE verifier, nonce, where to return) waits in
//! `web_logins` under the hash of its state, used once; the ID token is verified (signature
//! against the provider's published keys, issuer, audience, expiry, nonce) and the fiscal code
//! taken from the configured claim, as for bearer tokens.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use diario_domain::FiscalCode;
use diario_log::Val;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IssuerUrl, LoginHint, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::session::digest;
use crate::AppState;
use crate::auth::oidc::causes;

/// The relying party's registration at the provider.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// The provider's issuer (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

/// Every claim of the ID token beyond the standard ones (the fiscal code may be one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OtherClaims(BTreeMap<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type TokenResp = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResp,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long the discovered metadata and keys are used before they are fetched again.
const CLIENT_MAX_AGE: Duration = Duration::from_secs(300);

/// How long a login may take between the redirect to the provider and the callback.
const LOGIN_MAX_AGE: chrono::Duration = chrono::Duration::minutes(10);

/// A failed HTTP exchange with the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Why a login cannot be completed: shown to the person (Italian), logged with the cause.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("il fornitore di identità non risponde; riprovare tra poco")]
    ProviderUnavailable(String),
    #[error("la richiesta di accesso è scaduta o non è stata avviata da questo sito; riprovare")]
    UnknownState,
    #[error("l'accesso è stato annullato o rifiutato dal fornitore di identità ({0})")]
    Refused(String),
    #[error("la risposta del fornitore di identità non è valida")]
    InvalidResponse(String),
    #[error("il fornitore di identità non ha comunicato un codice fiscale valido (attributo {0})")]
    NoFiscalCode(String),
}

/// The relying party: settings, an HTTP client that follows no redirects, and the discovered
/// client (metadata and keys) for a few minutes.
pub struct RelyingParty {
    settings: LoginSettings,
    redirect_url: RedirectUrl,
    http: reqwest::Client,
    cached: tokio::sync::Mutex<Option<(Instant, Arc<Client>)>>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .field("redirect_url", &self.redirect_url.as_str())
            .finish()
    }
}

async fn send(
    client: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(causes(&e)))?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(|e| HttpError(causes(&e)))?;
    let mut out = openidconnect::HttpResponse::new(bytes.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

impl RelyingParty {
    /// The relying party of `settings`, returning to `{public_url}/auth/callback`.
    pub fn new(settings: LoginSettings, public_url: &str) -> Result<RelyingParty, String> {
        let redirect_url = RedirectUrl::new(format!("{public_url}/auth/callback"))
            .map_err(|e| format!("the public URL {public_url:?} is not a URL: {e}"))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(RelyingParty {
            settings,
            redirect_url,
            http,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The provider's issuer.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The client from the provider's discovery document and keys (cached; `fresh` fetches).
    async fn client(&self, fresh: bool) -> Result<Arc<Client>, LoginError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, client)) = cached.as_ref()
            && !fresh
            && at.elapsed() < CLIENT_MAX_AGE
        {
            return Ok(client.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| LoginError::ProviderUnavailable(e.to_string()))?;
        let http = self.http.clone();
        let fetch = move |r| send(http.clone(), r);
        let metadata = CoreProviderMetadata::discover_async(issuer, &fetch)
            .await
            .map_err(|e| LoginError::ProviderUnavailable(causes(&e)))?;
        let client = Client::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect_url.clone());
        let client = Arc::new(client);
        *cached = Some((Instant::now(), client.clone()));
        Ok(client)
    }
}

/// Starts a login: records the pending login and answers the provider's authorization URL.
/// `login_hint` is passed on (a broker may use it to preselect the identity provider).
pub async fn start(
    state: &AppState,
    rp: &RelyingParty,
    login_hint: Option<&str>,
    return_to: &str,
) -> Result<String, LoginError> {
    let client = rp.client(false).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge);
    if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
        request = request.set_login_hint(LoginHint::new(hint.to_owned()));
    }
    let (url, csrf, nonce) = request.url();
    state
        .db
        .exec(
            "INSERT INTO web_logins (state_hash, pkce_verifier, nonce, return_to, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                digest(csrf.secret()).into(),
                verifier.secret().as_str().into(),
                nonce.secret().as_str().into(),
                return_to.into(),
                Val::Instant(Some(state.handler.now())),
            ],
        )
        .await
        .map_err(|e| LoginError::ProviderUnavailable(format!("web_logins: {e}")))?;
    Ok(url.to_string())
}

/// The parameters of the provider's redirect back (RFC 6749 §4.1.2, RFC 9207 `iss`).
#[derive(Debug, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// The outcome of a completed login.
pub struct LoggedIn {
    pub fiscal_code: FiscalCode,
    pub return_to: String,
    pub set_cookie: HeaderValue,
}

/// Completes a login: the pending login of `state` (used once), the code exchanged with the
/// PKCE verifier, the ID token verified, the session created.
pub async fn finish(
    state: &AppState,
    rp: &RelyingParty,
    callback: Callback,
) -> Result<LoggedIn, LoginError> {
    let Some(state_param) = callback.state.as_deref() else {
        return Err(LoginError::UnknownState);
    };
    let row = state
        .db
        .fetch_optional(
            "DELETE FROM web_logins WHERE state_hash = $1 \
             RETURNING pkce_verifier, nonce, return_to, created_at",
            &[digest(state_param).into()],
        )
        .await
        .map_err(|e| LoginError::ProviderUnavailable(format!("web_logins: {e}")))?
        .ok_or(LoginError::UnknownState)?;
    let invalid = |e: diario_log::StoreError| LoginError::InvalidResponse(e.to_string());
    let created = row.instant("created_at").map_err(invalid)?;
    if state.handler.now() - created > LOGIN_MAX_AGE {
        return Err(LoginError::UnknownState);
    }
    if let Some(error) = callback.error {
        let detail = callback.error_description.unwrap_or_default();
        return Err(LoginError::Refused(
            format!("{error} {detail}").trim().to_owned(),
        ));
    }
    // RFC 9207: a response that names another issuer is a mix-up attack.
    if let Some(iss) = callback.iss.as_deref()
        && iss != rp.issuer()
    {
        return Err(LoginError::InvalidResponse(format!(
            "the response names issuer {iss:?}"
        )));
    }
    let code = callback
        .code
        .ok_or_else(|| LoginError::InvalidResponse("no code".into()))?;
    let verifier = PkceCodeVerifier::new(row.text("pkce_verifier").map_err(invalid)?);
    let nonce = Nonce::new(row.text("nonce").map_err(invalid)?);
    let return_to = row.text("return_to").map_err(invalid)?;

    let client = rp.client(false).await?;
    let http = rp.http.clone();
    let fetch = move |r| send(http.clone(), r);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| LoginError::InvalidResponse(causes(&e)))?
        .set_pkce_verifier(verifier)
        .request_async(&fetch)
        .await
        .map_err(|e| LoginError::InvalidResponse(causes(&e)))?;
    let id_token = token
        .id_token()
        .ok_or_else(|| LoginError::InvalidResponse("no ID token".into()))?;
    let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
        Ok(claims) => claims.clone(),
        // A key the cached set does not hold: the provider rotated its keys. Once more with
        // the keys fetched again.
        Err(ClaimsVerificationError::SignatureVerification(_)) => {
            let fresh = rp.client(true).await?;
            id_token
                .claims(&fresh.id_token_verifier(), &nonce)
                .map_err(|e| LoginError::InvalidResponse(causes(&e)))?
                .clone()
        }
        Err(e) => return Err(LoginError::InvalidResponse(causes(&e))),
    };
    let name = state.auth.fiscal_code_claim();
    let value = if name == "sub" {
        Some(claims.subject().as_str().to_owned())
    } else {
        claims
            .additional_claims()
            .0
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let fiscal_code = value
        .and_then(|v| FiscalCode::parse(&v).ok())
        .ok_or_else(|| LoginError::NoFiscalCode(name.to_owned()))?;
    let set_cookie = super::session::create(state, &fiscal_code, false)
        .await
        .map_err(|e| LoginError::ProviderUnavailable(format!("web_sessions: {e}")))?;
    Ok(LoggedIn {
        fiscal_code,
        return_to,
        set_cookie,
    })
}

/// Whether an error is the provider's or the network's (503) rather than the response's (400).
pub fn is_unavailable(e: &LoginError) -> bool {
    matches!(e, LoginError::ProviderUnavailable(_))
}

/// A local path to return to after the login: only paths of this site (no open redirect).
pub fn safe_return(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}
