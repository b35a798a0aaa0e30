//! Browser login against the real OpenID provider (`oidc-provider`): the authorization code
//! flow with PKCE, state and nonce driven by the server, a server-side session in an HttpOnly,
//! SameSite cookie, CSRF-checked logout, idle and absolute timeouts, a replayed or forged
//! callback refused. The bearer API is unaffected.

use std::collections::BTreeMap;
use std::time::Duration;

use diario_api::AuthConfig;
use diario_api::web::WebSettings;
use diario_api::web::login::LoginSettings;
use diario_tests::oidc::{AUDIENCE, CLIENT_ID, CLIENT_SECRET, OpenIdProvider};
use diario_tests::{ApiServer, Backend, cf};

/// A browser: no automatic redirects, the server's cookies kept by name.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    body: String,
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = req.header("cookie", cookie).send().await.expect("send");
        let set_cookie: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &set_cookie {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k.trim());
                } else {
                    self.cookies
                        .insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
        Page {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned),
            set_cookie,
            body: response.text().await.unwrap_or_default(),
        }
    }

    async fn get(&mut self, path_or_url: &str) -> Page {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        let req = self.client.get(url);
        self.send(req).await
    }

    async fn post_form(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut body = reqwest::Url::parse("http://form/").expect("url");
        body.query_pairs_mut().extend_pairs(form);
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.query().unwrap_or("").to_owned());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        self.send(req).await
    }

    /// Logs in as `who` through the provider; returns the callback URL the provider sent the
    /// browser to, and the page the callback answered.
    async fn login(&mut self, provider: &OpenIdProvider, who: &str) -> (String, Page) {
        let start = self.get(&format!("/accedi?login_hint={who}&next=/")).await;
        assert_eq!(start.status, 303, "{}", start.body);
        let authorize = start.location.expect("redirect to the provider");
        assert!(authorize.starts_with(&provider.issuer), "{authorize}");
        let back = provider
            .follow_to(
                authorize.parse().expect("URL"),
                &format!("{}/auth/callback", self.base),
            )
            .await;
        let done = self.get(back.as_str()).await;
        (back.to_string(), done)
    }
}

fn csrf_of(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let at = html.find(marker).expect("a form with the CSRF token") + marker.len();
    html[at..].split('"').next().unwrap_or("").to_owned()
}

async fn server_for(provider: &OpenIdProvider, listener: tokio::net::TcpListener) -> ApiServer {
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let issuer = provider.issuer.clone();
    ApiServer::start_on(Backend::Sqlite, chrono::Utc::now(), listener, move |s| {
        s.auth = AuthConfig::disabled()
            .with_audience(Some(AUDIENCE.into()))
            .with_fiscal_code_claim(Some("fiscal_number".into()))
            .expect("claim")
            .with_oidc(diario_api::auth::oidc::OidcSettings::new(&issuer))
            .expect("oidc")
            .check()
            .expect("audience");
        let mut web = WebSettings::new(base);
        web.login = Some(LoginSettings {
            issuer,
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
        });
        web.sessions.idle = Duration::from_secs(30 * 60);
        web.sessions.absolute = Duration::from_secs(12 * 3600);
        s.web = web;
    })
    .await
}

#[tokio::test]
async fn browser_login_with_pkce_state_and_nonce_gives_a_session_and_logout_ends_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let provider = OpenIdProvider::start_for("RS256", &[format!("{base}/auth/callback")]);
    let server = server_for(&provider, listener).await;
    let mut browser = Browser::new(&base);

    // A visitor sees the login.
    let home = browser.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Entra con SPID o CIE"), "{}", home.body);
    assert!(home.body.contains("lang=\"it\""));

    // The authorization request carries PKCE (S256), state and nonce.
    let start = browser.get("/accedi?login_hint=x").await;
    let authorize: reqwest::Url = start.location.expect("location").parse().expect("URL");
    let q: BTreeMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    // (128 random bits at least: 22 base64url characters.)
    for p in ["code_challenge", "state", "nonce"] {
        assert!(
            q.get(p).is_some_and(|v| v.len() >= 22),
            "{p} in {authorize}"
        );
    }
    assert_eq!(
        q.get("redirect_uri"),
        Some(&format!("{base}/auth/callback"))
    );

    // The login: the session cookie is HttpOnly and SameSite; the home page names me.
    let (callback, done) = browser.login(&provider, cf::PSICOLOGO).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/"));
    let cookie = done.set_cookie.first().expect("a session cookie").clone();
    assert!(cookie.starts_with("diario_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let home = browser.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Le mie pratiche"), "{}", home.body);
    assert!(home.body.contains(cf::PSICOLOGO), "{}", home.body);
    assert_eq!(home.set_cookie, Vec::<String>::new());

    // The same callback again (a replayed code and state) is refused: the login was used.
    let mut other = Browser::new(&base);
    let replay = other.get(&callback).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("scaduta"), "{}", replay.body);
    // A forged state is refused too.
    let forged = other.get("/auth/callback?code=abc&state=forged").await;
    assert_eq!(forged.status, 400);

    // Logout needs the session's CSRF token (and this site's Origin).
    let csrf = csrf_of(&home.body);
    let bad = browser
        .post_form("/esci", &[("_csrf", "wrong")], None)
        .await;
    assert_eq!(bad.status, 403, "{}", bad.body);
    let cross = browser
        .post_form("/esci", &[("_csrf", &csrf)], Some("https://evil.example"))
        .await;
    assert_eq!(cross.status, 403);
    assert!(
        browser.get("/").await.body.contains("Le mie pratiche"),
        "still signed in"
    );
    let out = browser
        .post_form("/esci", &[("_csrf", &csrf)], Some(&base))
        .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert!(browser.get("/").await.body.contains("Entra con SPID o CIE"));

    // The bearer API keeps working for systems.
    let tokens = provider.login(cf::EDUCATORE).await;
    let me = server
        .client
        .get(server.url("/v1/me"))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .expect("send");
    assert_eq!(me.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn browser_sessions_end_after_the_idle_and_the_absolute_timeouts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let provider = OpenIdProvider::start_for("ES256", &[format!("{base}/auth/callback")]);
    let server = server_for(&provider, listener).await;
    let signed_in = |b: &Page| b.body.contains("Le mie pratiche");

    // Idle: 29 minutes between requests keep the session; 30 end it.
    let mut browser = Browser::new(&base);
    let t0 = chrono::Utc::now();
    server.set_clock(t0).await;
    browser.login(&provider, cf::RESP_ASST).await;
    server.set_clock(t0 + chrono::Duration::minutes(29)).await;
    assert!(signed_in(&browser.get("/").await));
    server.set_clock(t0 + chrono::Duration::minutes(58)).await;
    assert!(
        signed_in(&browser.get("/").await),
        "each request restarts the idle time"
    );
    server.set_clock(t0 + chrono::Duration::minutes(88)).await;
    assert!(
        !signed_in(&browser.get("/").await),
        "30 idle minutes end the session"
    );

    // Absolute: used every 20 minutes, it still ends 12 hours after the login.
    let mut browser = Browser::new(&base);
    let t1 = t0 + chrono::Duration::hours(1);
    server.set_clock(t1).await;
    browser.login(&provider, cf::RESP_ASST).await;
    let mut t = t1;
    while t < t1 + chrono::Duration::hours(12) - chrono::Duration::minutes(20) {
        t += chrono::Duration::minutes(20);
        server.set_clock(t).await;
        assert!(signed_in(&browser.get("/").await), "at {t}");
    }
    server.set_clock(t1 + chrono::Duration::hours(12)).await;
    assert!(
        !signed_in(&browser.get("/").await),
        "12 hours after the login"
    );
    server.stop().await;
}
