//! A real OpenID provider for the tests: `oidc-provider` (npm, an OpenID Certified
//! implementation) run by Node.js from `tests/oidc/provider.mjs` on a loopback port, shaped like
//! an Italian public-service identity broker (opaque `sub`, `fiscal_number` with `TINIT-`).
//!
//! Tokens are obtained the way a client obtains them: the authorization code flow with PKCE
//! (S256), state and nonce, the code exchanged at the token endpoint with the client's secret.
//! The provider's only test shortcut is the login step (the `login_hint` is the person).
//!
//! Node.js and the npm package are required: the first provider started installs the package
//! (`npm ci` in `tests/oidc`, the lock file pins it) when it is missing, and a test fails loudly
//! if that cannot be done.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use sha2::{Digest, Sha256};

/// The client registered at the provider.
pub const CLIENT_ID: &str = "diario";
pub const CLIENT_SECRET: &str = "diario-test-client-secret-0123456789";
/// The resource (audience) the access tokens are for.
pub const AUDIENCE: &str = "urn:diario:api";
/// The redirect URI registered for [`CLIENT_ID`].
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// The tokens of one login.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
}

/// A running provider (stopped on drop).
pub struct OpenIdProvider {
    child: Child,
    pub issuer: String,
    /// The ids of the keys it signs with (new ones at each start).
    pub kids: Vec<String>,
    alg: String,
    port: u16,
    redirect_uris: Vec<String>,
}

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// Installs the provider's npm package once per process when it is not there.
fn ensure_installed() {
    crate::npm_ci(&provider_dir(), "oidc-provider");
}

impl OpenIdProvider {
    /// A provider signing access tokens with `alg` (RS256, PS256 or ES256).
    pub fn start(alg: &str) -> OpenIdProvider {
        Self::start_for(alg, &[])
    }

    /// A provider that also accepts `redirect_uris` for [`CLIENT_ID`] (a server's
    /// `{public_url}/auth/callback`, for the browser login).
    pub fn start_for(alg: &str, redirect_uris: &[String]) -> OpenIdProvider {
        ensure_installed();
        let mut uris = vec![REDIRECT_URI.to_owned()];
        uris.extend(redirect_uris.iter().cloned());
        Self::spawn(alg, 0, uris)
    }

    fn spawn(alg: &str, port: u16, redirect_uris: Vec<String>) -> OpenIdProvider {
        let mut child = Command::new("node")
            .arg(provider_dir().join("provider.mjs"))
            .env("OP_PORT", port.to_string())
            .env("OP_ALG", alg)
            .env("OP_AUDIENCE", AUDIENCE)
            .env("OP_REDIRECT_URIS", redirect_uris.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("the test OpenID provider needs node (Node.js): {e}"));
        let stdout = child.stdout.take().expect("provider stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the provider's first line");
        // The rest is drained: a closed pipe would kill the provider at its next write.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let started: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let _ = child.kill();
            panic!("the test OpenID provider did not start (first line {line:?}): {e}")
        });
        let issuer = started["issuer"].as_str().expect("issuer").to_owned();
        let port = issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("issuer port");
        let kids = started["kids"]
            .as_array()
            .expect("kids")
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        OpenIdProvider {
            child,
            issuer,
            kids,
            alg: alg.to_owned(),
            port,
            redirect_uris,
        }
    }

    /// Key rotation: the provider restarts at the same issuer with new keys (new key ids);
    /// tokens issued from now on are signed with them.
    pub fn rotate_keys(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let next = Self::spawn(&self.alg, self.port, self.redirect_uris.clone());
        assert_eq!(
            next.issuer, self.issuer,
            "the rotated provider keeps its issuer"
        );
        *self = next;
    }

    /// The tokens of a login of `login_hint` (a fiscal code, optionally `;shape`, see
    /// `provider.mjs`) through the authorization code flow with PKCE.
    pub async fn login(&self, login_hint: &str) -> Tokens {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        let state = uuid::Uuid::new_v4().simple().to_string();
        let authorize = reqwest::Url::parse_with_params(
            &format!("{}/auth", self.issuer),
            &[
                ("client_id", CLIENT_ID),
                ("response_type", "code"),
                ("scope", "openid profile api"),
                ("redirect_uri", REDIRECT_URI),
                ("state", &state),
                ("nonce", "test-nonce"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", login_hint),
                ("resource", AUDIENCE),
            ],
        )
        .expect("authorize URL");
        let back = self.follow_to(authorize, REDIRECT_URI).await;
        let query: BTreeMap<_, _> = back.query_pairs().into_owned().collect();
        assert_eq!(query.get("state"), Some(&state), "state comes back");
        let code = query
            .get("code")
            .cloned()
            .unwrap_or_else(|| panic!("the provider redirected back without a code: {back}"));
        let mut form = reqwest::Url::parse("http://form/").expect("url");
        form.query_pairs_mut()
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("code_verifier", &verifier)
            .append_pair("resource", AUDIENCE);
        let response = client
            .post(format!("{}/token", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.query().unwrap_or("").to_owned())
            .send()
            .await
            .expect("token endpoint answers");
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("token response JSON");
        assert!(status.is_success(), "token endpoint: {status} {body}");
        Tokens {
            access_token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            id_token: body["id_token"].as_str().expect("id_token").to_owned(),
        }
    }
}

impl OpenIdProvider {
    /// Follows an authorization request through the provider (as a browser would, keeping the
    /// provider's cookies) until it redirects to a URL starting with `back`; returns that URL.
    pub async fn follow_to(&self, authorize: reqwest::Url, back: &str) -> reqwest::Url {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut cookies = BTreeMap::new();
        let mut url = authorize;
        for _ in 0..10 {
            let cookie = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let response = client
                .get(url.clone())
                .header("cookie", cookie)
                .send()
                .await
                .expect("provider answers");
            for set in response.headers().get_all("set-cookie") {
                let pair = set.to_str().unwrap_or("").split(';').next().unwrap_or("");
                if let Some((k, v)) = pair.split_once('=') {
                    cookies.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
            let status = response.status();
            let location = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned);
            let Some(location) = location.filter(|_| status.is_redirection()) else {
                let body = response.text().await.unwrap_or_default();
                panic!("the provider stopped the login with {status}: {body}");
            };
            let next = url.join(&location).expect("redirect URL");
            if next.as_str().starts_with(back) {
                return next;
            }
            url = next;
        }
        panic!("the login did not come back to {back} in 10 redirects");
    }
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
