//! Authentication (`Authorization: Bearer <JWT>`; the fiscal code, bare or `TINIT-` prefixed,
//! in a configurable claim) and the organisation roles of the caller (grants, `docs/api.md`).
//!
//! Keys come from configuration: an OpenID provider (`DIARIO_OIDC_ISSUER`: discovery and JWKS,
//! [`oidc`]), an RS256/PS256/ES256 public key in a PEM file (`DIARIO_JWT_PUBLIC_KEY_FILE`), an
//! HS256 secret for development (`DIARIO_JWT_SECRET`). Expiry and not-before are always
//! checked; issuer and audience, when configured, are required and must match (`aud` may be a
//! string or an array); a token with a `crit` header is refused (no extension is understood).

pub mod oidc;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use diario_commands::Principal;
use diario_domain::FiscalCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{ApiError, AppState};

/// Token settings.
#[derive(Clone, Default)]
pub struct AuthConfig {
    secret: Option<Vec<u8>>,
    public_key: Option<(DecodingKey, Algorithm)>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Bootstrap platform administrators (`DIARIO_PLATFORM_ADMINS`).
    pub platform_admins: BTreeSet<FiscalCode>,
    /// The OpenID provider whose published keys verify tokens.
    oidc: Option<Arc<oidc::OidcKeys>>,
    /// The claim that carries the fiscal code (`sub` unless configured; SPID and CIE brokers
    /// send it in `fiscal_number`, their `sub` being an opaque identifier).
    fiscal_code_claim: Option<String>,
}

/// The claim read for the fiscal code when none is configured.
pub const DEFAULT_FISCAL_CODE_CLAIM: &str = "sub";

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("hs256", &self.secret.is_some())
            .field("public_key", &self.public_key.as_ref().map(|(_, a)| *a))
            .field("oidc", &self.oidc.as_ref().map(|o| o.issuer().to_owned()))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("fiscal_code_claim", &self.fiscal_code_claim())
            .field("platform_admins", &self.platform_admins.len())
            .finish()
    }
}

/// Why the token settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("cannot read the public key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the public key file is neither an RSA nor an EC (P-256) PEM public key")]
    Key,
    #[error("DIARIO_JWT_SECRET must be at least 32 bytes")]
    ShortSecret,
    #[error("DIARIO_PLATFORM_ADMINS: {0}")]
    Admin(String),
    #[error("no HS256 secret configured (DIARIO_JWT_SECRET): cannot mint tokens")]
    NoSecret,
    #[error("cannot mint the token: {0}")]
    Mint(String),
    #[error(
        "DIARIO_OIDC_ISSUER needs DIARIO_JWT_AUDIENCE: without it a token the provider issued to another service would be accepted"
    )]
    OidcWithoutAudience,
    #[error("DIARIO_OIDC_ISSUER must be an http(s) URL: {0}")]
    OidcIssuer(String),
    #[error("DIARIO_FISCAL_CODE_CLAIM must name a claim: {0:?}")]
    Claim(String),
}

/// The claims the service reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The fiscal code (`TINIT-` prefix allowed).
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// One audience or several (RFC 7519 §4.1.3): identity providers send either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
}

/// The `aud` claim: a string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl From<&str> for Audience {
    fn from(aud: &str) -> Self {
        Audience::One(aud.to_owned())
    }
}

impl From<String> for Audience {
    fn from(aud: String) -> Self {
        Audience::One(aud)
    }
}

impl AuthConfig {
    /// No keys: every authenticated route answers 401.
    pub fn disabled() -> Self {
        AuthConfig::default()
    }

    pub fn with_secret(mut self, secret: impl Into<Vec<u8>>) -> Result<Self, AuthConfigError> {
        let secret = secret.into();
        if secret.len() < 32 {
            return Err(AuthConfigError::ShortSecret);
        }
        self.secret = Some(secret);
        Ok(self)
    }

    /// An RSA (RS256, PS256) or P-256 (ES256) public key (PEM, SubjectPublicKeyInfo or PKCS#1).
    pub fn with_public_key_pem(mut self, pem: &[u8]) -> Result<Self, AuthConfigError> {
        let key = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
            (k, Algorithm::RS256)
        } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
            (k, Algorithm::ES256)
        } else {
            return Err(AuthConfigError::Key);
        };
        self.public_key = Some(key);
        Ok(self)
    }

    pub fn with_public_key_file(self, path: &str) -> Result<Self, AuthConfigError> {
        let pem = std::fs::read(path).map_err(|source| AuthConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.with_public_key_pem(&pem)
    }

    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.issuer = issuer.filter(|s| !s.is_empty());
        self
    }

    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience.filter(|s| !s.is_empty());
        self
    }

    /// Verify tokens with the keys the OpenID provider `settings.issuer` publishes; its issuer
    /// becomes the required `iss`. An audience must be configured too ([`Self::check`]).
    pub fn with_oidc(mut self, settings: oidc::OidcSettings) -> Result<Self, AuthConfigError> {
        let issuer = settings.issuer.clone();
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(AuthConfigError::OidcIssuer(issuer));
        }
        self.issuer = Some(issuer);
        self.oidc = Some(Arc::new(oidc::OidcKeys::new(settings)));
        Ok(self)
    }

    /// The claim that carries the fiscal code (`None` or empty: [`DEFAULT_FISCAL_CODE_CLAIM`]).
    pub fn with_fiscal_code_claim(
        mut self,
        claim: Option<String>,
    ) -> Result<Self, AuthConfigError> {
        match claim.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
            Some(c) if c.chars().any(|ch| ch.is_control() || ch.is_whitespace()) => {
                Err(AuthConfigError::Claim(c))
            }
            claim => {
                self.fiscal_code_claim = claim;
                Ok(self)
            }
        }
    }

    pub fn fiscal_code_claim(&self) -> &str {
        self.fiscal_code_claim
            .as_deref()
            .unwrap_or(DEFAULT_FISCAL_CODE_CLAIM)
    }

    /// The OpenID provider, when one is configured.
    pub fn oidc(&self) -> Option<&Arc<oidc::OidcKeys>> {
        self.oidc.as_ref()
    }

    /// Settings that are each valid but unsafe together.
    pub fn check(self) -> Result<Self, AuthConfigError> {
        if self.oidc.is_some() && self.audience.is_none() {
            return Err(AuthConfigError::OidcWithoutAudience);
        }
        Ok(self)
    }

    /// Comma-separated fiscal codes.
    pub fn with_platform_admins(mut self, list: &str) -> Result<Self, AuthConfigError> {
        for part in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let cf = FiscalCode::parse(part)
                .map_err(|e| AuthConfigError::Admin(format!("{part}: {e}")))?;
            self.platform_admins.insert(cf);
        }
        Ok(self)
    }

    /// Whether any verification key is configured.
    pub fn enabled(&self) -> bool {
        self.secret.is_some() || self.public_key.is_some() || self.oidc.is_some()
    }

    /// Mints an HS256 token for `sub` valid for `ttl` (development: `diario token`).
    pub fn mint(&self, sub: &str, ttl: Duration) -> Result<String, AuthConfigError> {
        let secret = self.secret.as_ref().ok_or(AuthConfigError::NoSecret)?;
        let now = now_secs();
        let claims = Claims {
            sub: sub.to_owned(),
            exp: now + ttl.as_secs(),
            nbf: Some(now),
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(Audience::One),
        };
        self.mint_claims(&claims, secret)
    }

    /// Mints a token with arbitrary claims (tests: expired, not yet valid, wrong issuer).
    pub fn mint_claims_hs256(&self, claims: &Claims) -> Result<String, AuthConfigError> {
        let secret = self.secret.as_ref().ok_or(AuthConfigError::NoSecret)?;
        self.mint_claims(claims, secret)
    }

    fn mint_claims(&self, claims: &Claims, secret: &[u8]) -> Result<String, AuthConfigError> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .map_err(|e| AuthConfigError::Mint(e.to_string()))
    }

    /// Verifies a token and returns the caller's fiscal code.
    pub async fn verify(&self, token: &str) -> Result<FiscalCode, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauth("il token bearer non è un JWT"))?;
        // RFC 7515 §4.1.11: a header extension the recipient does not understand makes the
        // token invalid. This service understands none.
        if header.crit.is_some() {
            return Err(unauth(
                "il token indica parametri critici dell'intestazione (crit) che questo server non gestisce",
            ));
        }
        let key = self.key_for(&header).await?;
        let claims = self.decode(token, &key, header.alg)?;
        let name = self.fiscal_code_claim();
        let value = claims
            .get(name)
            .ok_or_else(|| unauth(&format!("il token non ha il claim {name}")))?
            .as_str()
            .ok_or_else(|| unauth(&format!("il claim {name} del token non è una stringa")))?;
        FiscalCode::parse(value).map_err(|e| {
            unauth(&format!(
                "il claim {name} del token non è un codice fiscale: {e}"
            ))
        })
    }

    /// The key for the token's algorithm: the HS256 secret, the provider's key of the token's
    /// `kid`, or the configured public key. Nothing else: no algorithm confusion.
    async fn key_for(&self, header: &Header) -> Result<DecodingKey, ApiError> {
        match header.alg {
            Algorithm::HS256 => match &self.secret {
                Some(s) => Ok(DecodingKey::from_secret(s)),
                None => Err(unauth("HS256 tokens are not accepted")),
            },
            alg @ (Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256) => {
                if let Some(oidc) = &self.oidc
                    && (header.kid.is_some() || self.public_key.is_none())
                {
                    return oidc
                        .key(header.kid.as_deref(), alg)
                        .await
                        .map_err(|e| match e {
                            oidc::KeysError::Unavailable(m) => {
                                ApiError::IdentityProviderUnavailable(m)
                            }
                            oidc::KeysError::UnknownKey { .. } => {
                                unauth("il token è firmato con una chiave che il fornitore di identità non pubblica")
                            }
                        });
                }
                match &self.public_key {
                    Some((k, a)) if oidc::rsa_family(*a) == oidc::rsa_family(alg) => Ok(k.clone()),
                    _ => Err(unauth(
                        "nessuna chiave configurata per l'algoritmo del token",
                    )),
                }
            }
            _ => Err(unauth("l'algoritmo del token non è accettato")),
        }
    }

    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        alg: Algorithm,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
        let mut validation = Validation::new(alg);
        validation.validate_nbf = true;
        validation.leeway = 30;
        // Issuer and audience are required when configured: a token without them is refused,
        // not accepted for lack of anything to compare.
        let mut required = vec!["exp"];
        if self.issuer.is_some() {
            required.push("iss");
        }
        if self.audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::ExpiredSignature => unauth("il token è scaduto"),
                    K::ImmatureSignature => unauth("il token non è ancora valido (nbf)"),
                    K::InvalidIssuer => unauth("l'emittente del token non è accettato"),
                    K::InvalidAudience => unauth("il destinatario (aud) del token non è accettato"),
                    K::InvalidSignature => unauth("la firma del token non è valida"),
                    K::MissingRequiredClaim(c) => unauth(&format!("il token non ha il claim {c}")),
                    _ => unauth("il token non è valido"),
                }
            })
    }
}

fn unauth(message: &str) -> ApiError {
    ApiError::Unauthenticated(message.to_owned())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A short tag of a fiscal code for logs (no personal data in logs): the first 6 bytes of
/// HMAC-SHA256 under the server's log key, in hex. Keyed, so hashing the list of fiscal codes
/// (a small, structured space) does not reverse it; the same person has the same tag for as
/// long as the key stays (`DIARIO_LOG_TAG_KEY`; random at each start when unset).
pub fn log_tag(key: &[u8], cf: &FiscalCode) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length, so this cannot fail.
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(cf.as_str().as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..6])
}

/// The authenticated caller (an extractor): the person of the bearer token with the grants in
/// force.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthenticated("serve un token bearer".into()))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "l'intestazione Authorization deve essere `Bearer <token>`".into(),
                )
            })?;
        if !state.auth.enabled() {
            return Err(ApiError::Unauthenticated(
                "su questo server non è configurata alcuna chiave per i token".into(),
            ));
        }
        let cf = state.auth.verify(token).await?;
        tracing::Span::current().record("actor", log_tag(&state.log_tag_key, &cf).as_str());
        let principal = state
            .handler
            .principal(cf, &state.auth.platform_admins)
            .await?;
        Ok(Auth(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A throw-away P-256 key pair generated for this test only (never used anywhere else).
    const EC_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgapE0MIu38HY+zXmW
59HkY6i6L6DNwDaeT9APcnsZhNShRANCAAQ85uZlvB7qF2D69lATDQAgPX7nPN3r
xZN4wszmKHeYXCoZX0z3bdvpqDVilwLQRUgJw5bY6rBpZLw/Ls+CeTR+
-----END PRIVATE KEY-----
";
    const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPObmZbwe6hdg+vZQEw0AID1+5zzd
68WTeMLM5ih3mFwqGV9M923b6ag1YpcC0EVICcOW2OqwaWS8Py7Pgnk0fg==
-----END PUBLIC KEY-----
";

    fn verify(config: &AuthConfig, token: &str) -> Result<FiscalCode, ApiError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(config.verify(token))
    }

    /// The test P-256 key, issuer and audience.
    fn ec_config() -> AuthConfig {
        AuthConfig::disabled()
            .with_public_key_pem(EC_PUBLIC.as_bytes())
            .expect("public key")
            .with_issuer(Some("https://idp.example".into()))
            .with_audience(Some("diario".into()))
    }

    fn es256(claims: &Claims) -> String {
        let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("EC key");
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &key).expect("sign")
    }

    fn claims(sub: &str, exp: u64) -> Claims {
        Claims {
            sub: sub.into(),
            exp,
            nbf: None,
            iat: None,
            iss: Some("https://idp.example".into()),
            aud: Some("diario".into()),
        }
    }

    #[test]
    fn es256_tokens_verify_against_the_configured_public_key() {
        let config = ec_config();
        let token = es256(&claims("TINIT-RSSMRA85T10A562S", now_secs() + 600));
        assert_eq!(
            verify(&config, &token)
                .map(|cf| cf.as_str().to_owned())
                .ok(),
            Some("RSSMRA85T10A562S".to_owned())
        );
        let expired = es256(&claims("RSSMRA85T10A562S", now_secs() - 600));
        assert!(verify(&config, &expired).is_err());
        // HS256 is not accepted when only a public key is configured (no algorithm confusion).
        let hs = AuthConfig::disabled()
            .with_secret(EC_PUBLIC.as_bytes())
            .expect("secret")
            .mint_claims_hs256(&claims("RSSMRA85T10A562S", now_secs() + 600))
            .expect("mint");
        assert!(verify(&config, &hs).is_err());
        // A tampered signature fails.
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(verify(&config, &tampered).is_err());
    }

    #[test]
    fn configured_issuer_and_audience_are_required_and_crit_is_refused() {
        let config = ec_config();
        let valid = claims("RSSMRA85T10A562S", now_secs() + 600);
        assert!(verify(&config, &es256(&valid)).is_ok());
        let no_iss = Claims {
            iss: None,
            ..valid.clone()
        };
        assert!(verify(&config, &es256(&no_iss)).is_err(), "no iss");
        let no_aud = Claims {
            aud: None,
            ..valid.clone()
        };
        assert!(verify(&config, &es256(&no_aud)).is_err(), "no aud");
        let many = Claims {
            aud: Some(Audience::Many(vec!["other".into(), "diario".into()])),
            ..valid.clone()
        };
        assert!(
            verify(&config, &es256(&many)).is_ok(),
            "aud array naming us"
        );
        let others = Claims {
            aud: Some(Audience::Many(vec!["other".into()])),
            ..valid.clone()
        };
        assert!(
            verify(&config, &es256(&others)).is_err(),
            "aud array without us"
        );
        let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("EC key");
        let mut header = Header::new(Algorithm::ES256);
        header.crit = Some(vec!["x-unknown".into()]);
        let crit = jsonwebtoken::encode(&header, &valid, &key).expect("sign");
        assert!(verify(&config, &crit).is_err(), "unknown crit");
    }

    #[test]
    fn secrets_and_keys_are_validated() {
        assert!(
            AuthConfig::disabled()
                .with_secret(b"short".to_vec())
                .is_err()
        );
        assert!(
            AuthConfig::disabled()
                .with_public_key_pem(b"not a key")
                .is_err()
        );
        assert!(
            AuthConfig::disabled()
                .with_platform_admins("RSSMRA85T10A562X")
                .is_err()
        );
    }
}
