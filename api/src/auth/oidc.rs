//! The keys of an OpenID provider (OpenID Connect Discovery 1.0, RFC 7517): the discovery
//! document is read from `{issuer}/.well-known/openid-configuration`, its `issuer` must equal
//! the configured one (Discovery §4.3), and the signing keys come from its `jwks_uri`.
//!
//! Keys are cached. A token naming a key id the cache does not hold makes the cache refresh
//! (that is how a provider's key rotation reaches us), at most once per `min_refresh`, so a
//! stream of tokens with invented key ids cannot make us hammer the provider; the whole set is
//! also refreshed when older than `max_age`, so a withdrawn key stops verifying. Only
//! signature keys of the algorithms the service accepts are kept (RSA for RS256/PS256, EC P-256
//! for ES256): a symmetric (`oct`) key published in a JWKS is never used.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

/// How the provider is reached.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer identifier, exactly as the provider's tokens carry it in `iss`.
    pub issuer: String,
    /// The shortest interval between two refreshes caused by unknown key ids.
    pub min_refresh: Duration,
    /// The age after which the key set is fetched again before it is used.
    pub max_age: Duration,
    /// Timeout of each request to the provider.
    pub timeout: Duration,
}

impl OidcSettings {
    pub fn new(issuer: impl Into<String>) -> Self {
        OidcSettings {
            issuer: issuer.into(),
            min_refresh: Duration::from_secs(10),
            max_age: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why the keys cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The provider cannot be reached or answered something unusable.
    #[error("{0}")]
    Unavailable(String),
    /// The provider answered, and no key of the token's id and algorithm is published.
    #[error("the identity provider publishes no key {kid} for {alg:?}")]
    UnknownKey { kid: String, alg: Algorithm },
}

/// What the service reads of the discovery document.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

struct Key {
    kid: Option<String>,
    /// The `alg` the JWK is restricted to, when it names one.
    alg: Option<Algorithm>,
    rsa: bool,
    key: DecodingKey,
}

impl Key {
    fn fits(&self, alg: Algorithm) -> bool {
        rsa_family(alg) == Some(self.rsa) && self.alg.is_none_or(|a| a == alg)
    }
}

/// Whether `alg` is verified with an RSA key (`Some(true)`: RS256, PS256) or a P-256 key
/// (`Some(false)`: ES256); `None` for an algorithm the service does not accept from keys.
pub(crate) fn rsa_family(alg: Algorithm) -> Option<bool> {
    match alg {
        Algorithm::RS256 | Algorithm::PS256 => Some(true),
        Algorithm::ES256 => Some(false),
        _ => None,
    }
}

#[derive(Default)]
struct Cache {
    keys: Vec<Key>,
    /// The last successful fetch.
    fetched: Option<Instant>,
    /// The last attempt, successful or not: while the provider is down, requests do not each
    /// wait for a fetch to time out, one attempt per `min_refresh` is made.
    attempted: Option<Instant>,
}

/// The provider's signing keys, cached (read through its discovery document).
pub struct OidcKeys {
    settings: OidcSettings,
    client: reqwest::Client,
    cache: RwLock<Cache>,
    /// One refresh at a time; the others wait for it and read its result.
    refreshing: Mutex<()>,
    /// How many times the keys were fetched (for operators and tests).
    fetches: AtomicU64,
}

impl std::fmt::Debug for OidcKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcKeys")
            .field("issuer", &self.settings.issuer)
            .finish()
    }
}

impl OidcKeys {
    pub fn new(settings: OidcSettings) -> Self {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            // The discovery document names where the keys are; nothing else redirects us.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        OidcKeys {
            settings,
            client,
            cache: RwLock::new(Cache::default()),
            refreshing: Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times discovery and keys were fetched since start.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The key that verifies a token signed with `alg` under key id `kid` (a token without
    /// `kid` is verified only when exactly one published key fits its algorithm).
    pub async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, KeysError> {
        {
            let cache = self.cache.read().await;
            let fresh = cache
                .fetched
                .is_some_and(|t| t.elapsed() < self.settings.max_age);
            if fresh && let Some(k) = pick(&cache.keys, kid, alg) {
                return Ok(k);
            }
        }
        let refreshed = self.refresh(Some(self.settings.min_refresh)).await;
        let cache = self.cache.read().await;
        if let Err(e) = refreshed {
            // A provider that is down does not lock out tokens signed by a key we hold.
            return match pick(&cache.keys, kid, alg) {
                Some(k) => {
                    tracing::warn!(error = %e, "identity provider unreachable; using the cached keys");
                    Ok(k)
                }
                None => Err(e),
            };
        }
        pick(&cache.keys, kid, alg).ok_or_else(|| KeysError::UnknownKey {
            kid: kid.unwrap_or("(none)").to_owned(),
            alg,
        })
    }

    /// Fetches discovery and keys again, unless an attempt was made less than `unless_within`
    /// ago (a concurrent caller's refresh counts, and so does a failed one).
    pub async fn refresh(&self, unless_within: Option<Duration>) -> Result<(), KeysError> {
        let _turn = self.refreshing.lock().await;
        let last = self.cache.read().await.attempted;
        if let (Some(within), Some(last)) = (unless_within, last)
            && last.elapsed() < within.min(self.settings.max_age)
        {
            return Ok(());
        }
        self.cache.write().await.attempted = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let discovery = self.fetch_discovery().await?;
        let keys = self.fetch_keys(&discovery.jwks_uri).await?;
        tracing::info!(
            issuer = %self.settings.issuer,
            keys = keys.len(),
            "identity provider keys fetched"
        );
        let mut cache = self.cache.write().await;
        cache.keys = keys;
        cache.fetched = Some(Instant::now());
        Ok(())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, KeysError> {
        let unavailable = |e: String| KeysError::Unavailable(format!("{url}: {e}"));
        let response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| unavailable(causes(&e)))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|e| unavailable(e.to_string()))
    }

    async fn fetch_discovery(&self) -> Result<Discovery, KeysError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer != self.settings.issuer {
            return Err(KeysError::Unavailable(format!(
                "the discovery document names the issuer {}, not {}",
                discovery.issuer, self.settings.issuer
            )));
        }
        Ok(discovery)
    }

    async fn fetch_keys(&self, jwks_uri: &str) -> Result<Vec<Key>, KeysError> {
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let set: Set = self.get_json(jwks_uri).await?;
        // A key the library cannot read (an encryption key, an unknown curve) is skipped, not
        // a reason to refuse the others.
        Ok(set
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(|jwk| usable(&jwk))
            .collect())
    }
}

/// An error with its causes (a TLS failure is the cause of reqwest's "error sending request").
pub(crate) fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A published JWK as a verification key, when it is one the service may use.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(_) => return None,
    };
    let rsa = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => true,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => false,
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        alg,
        rsa,
        key,
    })
}

fn pick(keys: &[Key], kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid) && k.fits(alg))
            .map(|k| k.key.clone()),
        None => {
            let mut fitting = keys.iter().filter(|k| k.fits(alg));
            match (fitting.next(), fitting.next()) {
                (Some(k), None) => Some(k.key.clone()),
                _ => None,
            }
        }
    }
}
