//! The web interface, served by the same binary (server-rendered with askama templates in
//! `api/templates`, the stylesheet embedded): the browser login (OpenID Connect authorization
//! code flow with PKCE, state and nonce; `login`), the sessions with their CSRF token and
//! timeouts (`session`), and the pages of each role — my cases and my week, the case with its
//! record form and the responsabile's actions (`case`), the ATS dashboard and case list
//! (`ats`), the auditor's timeline and checklists (`audit`), the system failures (`failures`),
//! my profile (`me`). The pages send the same commands through the same handler, and read the
//! same read models under the same access policy, as the API.

mod ats;
mod audit;
mod case;
mod documents;
mod entry;
mod failures;
pub mod login;
mod manage;
mod me;
mod open_case;
mod paper;
mod plans;
pub mod session;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::{ApiError, AppState};
use login::{LoginSettings, RelyingParty};
use session::{MaybeSession, SessionSettings, WebSession};

/// Settings of the web interface.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The address people reach the service at (`https://diario.example`), without a trailing
    /// slash: the redirect URI of the login is `{public_url}/auth/callback`, and a plain
    /// `http://` one gives non-`Secure` cookies (development only).
    pub public_url: String,
    /// The identity provider registration (`None`: no browser login).
    pub login: Option<LoginSettings>,
    pub sessions: SessionSettings,
    /// `diario demo` only: the development login (pick a demo person, no identity provider),
    /// announced on every page.
    pub dev_login: bool,
}

impl WebSettings {
    /// Settings for `public_url` without a login.
    pub fn new(public_url: impl Into<String>) -> WebSettings {
        let public_url = public_url.into().trim_end_matches('/').to_owned();
        let sessions = SessionSettings {
            secure: !public_url.starts_with("http://"),
            ..SessionSettings::default()
        };
        WebSettings {
            public_url,
            login: None,
            sessions,
            dev_login: false,
        }
    }
}

/// What the pages need, built once from [`WebSettings`].
#[derive(Debug)]
pub struct WebState {
    pub public_url: String,
    pub sessions: SessionSettings,
    pub rp: Option<RelyingParty>,
    pub dev_login: bool,
}

impl WebState {
    pub fn new(settings: &WebSettings) -> Result<WebState, String> {
        let rp = settings
            .login
            .clone()
            .map(|l| RelyingParty::new(l, &settings.public_url))
            .transpose()?;
        Ok(WebState {
            public_url: settings.public_url.clone(),
            sessions: settings.sessions.clone(),
            rp,
            dev_login: settings.dev_login,
        })
    }

    /// The same settings with no browser login (cannot fail).
    pub fn without_login(settings: &WebSettings) -> WebState {
        WebState {
            public_url: settings.public_url.clone(),
            sessions: settings.sessions.clone(),
            rp: None,
            dev_login: settings.dev_login,
        }
    }

    /// `scheme://host[:port]` of the public URL (what a browser sends as `Origin`).
    pub fn origin(&self) -> &str {
        let after_scheme = self.public_url.find("://").map_or(0, |i| i + 3);
        match self.public_url[after_scheme..].find('/') {
            Some(i) => &self.public_url[..after_scheme + i],
            None => &self.public_url,
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/accedi", get(start_login))
        .route("/auth/callback", get(callback))
        .route("/esci", post(logout))
        .route("/accedi-sviluppo", get(dev_login_page).post(dev_login))
        .route("/pratiche/{id}", get(case::show))
        .route("/ats/{code}", get(ats::dashboard))
        .route("/ats/{code}/pratiche", get(ats::cases))
        .route(
            "/ats/{code}/pratiche/nuova",
            get(open_case::show).post(open_case::open),
        )
        .route("/ats/{code}/costi", get(ats::costs))
        .route("/ats/{code}/{file}", get(ats::download))
        .route("/pratiche/{id}/storico", get(audit::timeline))
        .route("/pratiche/{id}/checklist", get(audit::checklists))
        .route("/settimana", get(me::week))
        .route("/fogli-ore", get(plans::timesheet))
        .route("/fogli-ore/{mese}/giorni", post(plans::record_day))
        .route(
            "/fogli-ore/{mese}/giorni/{row}/ritiro",
            post(plans::withdraw_day),
        )
        .route("/fogli-ore/{mese}/firma", post(plans::sign))
        .route("/piani", get(plans::list))
        .route("/piani/{id}", get(plans::show))
        .route("/piani/{id}/controfirme", post(plans::countersign))
        .route("/piani/{id}/{file}", get(plans::download))
        .route("/profilo", get(me::profile))
        .route(
            "/malfunzionamenti",
            get(failures::show).post(failures::declare),
        )
        .route(
            "/malfunzionamenti/{id}/risoluzione",
            post(failures::resolve),
        )
        .route("/pratiche/{id}/prestazioni", post(case::record))
        .route(
            "/pratiche/{id}/prestazioni/{eid}",
            get(entry::page).post(entry::amend),
        )
        .route(
            "/pratiche/{id}/prestazioni/{eid}/ritiro",
            post(entry::withdraw),
        )
        .route("/pratiche/{id}/fasi/{n}/{action}", post(case::phase_action))
        .route("/pratiche/{id}/fasi/{n}/richiesta", post(manage::request))
        .route(
            "/pratiche/{id}/richieste/{rid}/reinvio",
            post(manage::resend),
        )
        .route(
            "/pratiche/{id}/richieste/{rid}/annullamento",
            post(manage::cancel_request),
        )
        .route("/pratiche/{id}/professionisti", post(manage::enable))
        .route(
            "/pratiche/{id}/professionisti/{ente}/{cf}/disabilitazione",
            post(manage::disable),
        )
        .route("/pratiche/{id}/interruzione", post(manage::interrupt))
        .route("/pratiche/{id}/voucher/sospensione", post(manage::suspend))
        .route(
            "/pratiche/{id}/voucher/riattivazione",
            post(manage::reactivate),
        )
        .route(
            "/pratiche/{id}/voucher/autorizzazione",
            post(manage::authorise),
        )
        .route("/pratiche/{id}/voucher/obiettivi", post(manage::objectives))
        .route(
            "/pratiche/{id}/voucher/verifica",
            post(manage::formal_check),
        )
        .route("/pratiche/{id}/fasi/{n}/cartaceo", post(paper::generate))
        .route(
            "/pratiche/{id}/fasi/{n}/firma",
            post(paper::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::paper::MAX_DOCUMENT_BYTES + 64 * 1024,
            )),
        )
        .route(
            "/pratiche/{id}/fasi/{n}/diario-cartaceo",
            get(case::paper_diary),
        )
        .route(
            "/pratiche/{id}/documenti",
            post(documents::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::paper::MAX_DOCUMENT_BYTES + 64 * 1024,
            )),
        )
        .route("/pratiche/{id}/documenti/{doc}", get(documents::download))
        .route(
            "/pratiche/{id}/documenti/{doc}/condivisione",
            post(documents::share),
        )
        .route(
            "/pratiche/{id}/cartacei/{pid}/verifica",
            post(documents::check),
        )
        .route("/static/diario.css", get(stylesheet))
}

/// An HTML page with the headers every page carries: no caching of personal data, no framing,
/// only this site's resources.
fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => page(status, html),
        Err(e) => ApiError::Internal(Box::new(e)).into_response(),
    }
}

/// The frame of every page: the demo banner, who is signed in (with the logout's CSRF token)
/// and the menu of what they may open.
pub(super) struct Chrome {
    dev: bool,
    who: Option<String>,
    csrf: String,
    /// (href, label, this page) — the menu, only for a signed-in person.
    nav: Vec<(String, String, bool)>,
}

impl Chrome {
    /// The frame for a visitor.
    pub(super) fn visitor(dev: bool) -> Chrome {
        Chrome {
            dev,
            who: None,
            csrf: String::new(),
            nav: Vec::new(),
        }
    }

    /// The frame for the signed-in person on page `here` (a path of the menu, or any other):
    /// their name and the pages their grants open.
    pub(super) async fn of(
        state: &AppState,
        session: &WebSession,
        here: &str,
    ) -> Result<Chrome, ApiError> {
        let principal = session.principal(state).await?;
        let (registry, _) = state.handler.organisations().await?;
        let mut nav = vec![
            ("/".to_owned(), "Le mie pratiche".to_owned()),
            ("/settimana".to_owned(), "La mia settimana".to_owned()),
        ];
        nav.extend(
            registry
                .iter()
                .filter(|o| o.kind == diario_domain::OrgKind::Ats)
                .filter(|o| diario_commands::access::read_ats(&principal, &o.code).is_ok())
                .map(|o| {
                    (
                        format!("/ats/{}", o.code),
                        format!("Cruscotto – {}", o.name),
                    )
                }),
        );
        // Seed 004: my timesheet for a plan's people, the plans for them, their
        // countersigners and the ATS.
        let plan_roles =
            diario_projections::plans::plan_roles(&state.db, principal.cf.as_str()).await?;
        if plan_roles.iter().any(|r| r == "person") {
            nav.push(("/fogli-ore".to_owned(), "Il mio foglio ore".to_owned()));
        }
        if !plan_roles.is_empty()
            || principal.has_any(diario_domain::grants::GrantRole::AtsOperator)
            || principal.has_any(diario_domain::grants::GrantRole::Auditor)
        {
            nav.push(("/piani".to_owned(), "Piani".to_owned()));
        }
        if can_see_failures(&principal) {
            nav.push((
                "/malfunzionamenti".to_owned(),
                "Malfunzionamenti".to_owned(),
            ));
        }
        nav.push(("/profilo".to_owned(), "Il mio profilo".to_owned()));
        Ok(Chrome {
            dev: state.web.dev_login,
            who: Some(display_name(state, session).await?),
            csrf: session.csrf_token.clone(),
            nav: nav
                .into_iter()
                .map(|(href, label)| {
                    let current = href == here;
                    (href, label, current)
                })
                .collect(),
        })
    }
}

/// The support desk, the platform administrators and the ATS operators and auditors (who read
/// the failures their entries rely on) see the failures page.
fn can_see_failures(p: &diario_commands::Principal) -> bool {
    diario_commands::access::capabilities(p)
        .iter()
        .any(|c| matches!(c.code, "declare-failures" | "read-ats"))
}

/// After a write, waits (at most two seconds) until read model `follower` has applied every
/// event stored so far, so the page the person is sent to shows what they just did. Pages
/// whose read model lags are still served after the wait, only possibly a moment old.
pub(super) async fn settle(state: &AppState, follower: &str) -> Result<(), ApiError> {
    for _ in 0..40 {
        let lag = diario_log::follower::lag_at(&state.db, &[follower], state.handler.now()).await?;
        if lag.iter().all(|l| l.events_behind == 0) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The recipients' pseudonyms of cases `ids` (the case id itself for a case not opened).
pub(super) async fn pseudonyms(
    state: &AppState,
    ids: Vec<uuid::Uuid>,
) -> Result<std::collections::HashMap<uuid::Uuid, String>, ApiError> {
    let mut out = std::collections::HashMap::new();
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(v) = out.entry(id) {
            let (case, _) = state.handler.load_case(id).await?;
            v.insert(
                case.file
                    .map_or_else(|| id.to_string(), |f| f.recipient.pseudonym),
            );
        }
    }
    Ok(out)
}

/// The Italian half of a domain message written "italiano / English" (the pages are in
/// Italian; the API keeps both until its messages are Italian only).
pub(super) fn italian(message: &str) -> String {
    message.split(" / ").next().unwrap_or(message).to_owned()
}

/// A page with one message (errors of the login, the logout).
#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    heading: String,
    message: String,
    link: String,
    link_text: String,
}

fn message(
    status: StatusCode,
    heading: &str,
    message: &str,
    link: &str,
    link_text: &str,
) -> Response {
    render(
        status,
        &MessagePage {
            chrome: Chrome::visitor(false),
            heading: heading.to_owned(),
            message: message.to_owned(),
            link: link.to_owned(),
            link_text: link_text.to_owned(),
        },
    )
}

/// One of my cases on the home page.
struct CaseRow {
    id: String,
    pseudonym: String,
    ats: String,
    provider: String,
    roles: String,
    waiting: Vec<String>,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    login_available: bool,
    cases: Vec<CaseRow>,
}

fn role_label(role: &diario_projections::MyRole) -> String {
    let ente = if role.ente == "asst" {
        "ASST"
    } else {
        "ente erogatore"
    };
    match role.role.as_str() {
        "responsabile" => format!("Responsabile ({ente})"),
        "case_manager" => "Case manager".to_owned(),
        _ => format!("Professionista ({ente})"),
    }
}

fn waiting_label(w: &diario_projections::Waiting) -> String {
    let phase = w.phase.map(|p| format!(", fase {p}")).unwrap_or_default();
    let what = match w.code.as_str() {
        "rejected" => "prestazioni rifiutate da correggere",
        "expired" => "richieste di conferma scadute da inviare di nuovo",
        "to-validate" => "prestazioni da validare",
        "to-send" => "prestazioni validate da inviare in conferma",
        "awaiting-confirmation" => "richieste in attesa di conferma",
        "my-drafts" => "mie prestazioni non ancora validate",
        _ => {
            return format!(
                "nessuna attività da oltre {} giorni",
                diario_projections::mine::IDLE_DAYS
            );
        }
    };
    format!("{} {what}{phase}", w.count)
}

/// "Nome Cognome (CF)" when the name is recorded, the fiscal code otherwise.
async fn display_name(state: &AppState, session: &WebSession) -> Result<String, ApiError> {
    let cf = session.fiscal_code.as_str();
    let names = diario_projections::names(&state.db, [cf]).await?;
    Ok(names.label(cf))
}

/// The home page: the login for a visitor, my cases for a signed-in person.
async fn home(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(render(
            StatusCode::OK,
            &HomePage {
                chrome: Chrome::visitor(state.web.dev_login),
                login_available: state.web.rp.is_some(),
                cases: Vec::new(),
            },
        ));
    };
    let cases = diario_projections::my_cases(
        &state.db,
        state.handler.catalogue(),
        session.fiscal_code.as_str(),
        state.handler.now(),
    )
    .await?;
    let (registry, _) = state.handler.organisations().await?;
    let org = |code: &str| {
        registry
            .get(code)
            .map_or_else(|| code.to_owned(), |o| o.name.clone())
    };
    let rows = cases
        .iter()
        .map(|c| CaseRow {
            id: c.case.case_id.to_string(),
            pseudonym: c.case.recipient_pseudonym.clone(),
            ats: org(&c.case.ats),
            provider: org(&c.case.provider),
            roles: c
                .roles
                .iter()
                .map(role_label)
                .collect::<Vec<_>>()
                .join(", "),
            waiting: c.waiting.iter().map(waiting_label).collect(),
            status: case::case_status_label(c.case.status),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &HomePage {
            chrome: Chrome::of(&state, &session, "/").await?,
            login_available: true,
            cases: rows,
        },
    ))
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    login_hint: Option<String>,
    next: Option<String>,
}

/// Starts the login: 303 to the identity provider.
async fn start_login(State(state): State<AppState>, Query(q): Query<StartQuery>) -> Response {
    let Some(rp) = state.web.rp.as_ref() else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Accesso non configurato",
            "L'accesso con SPID o CIE non è configurato su questo server.",
            "/",
            "Torna alla pagina iniziale",
        );
    };
    let return_to = login::safe_return(q.next.as_deref());
    match login::start(&state, rp, q.login_hint.as_deref(), &return_to).await {
        Ok(url) => see_other(&url, None),
        Err(e) => login_failed(&e),
    }
}

fn see_other(location: &str, set_cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Some(c) = set_cookie {
        h.insert(header::SET_COOKIE, c);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn login_failed(e: &login::LoginError) -> Response {
    tracing::warn!(error = ?e, "browser login failed");
    let status = if login::is_unavailable(e) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::BAD_REQUEST
    };
    message(
        status,
        "Accesso non riuscito",
        &e.to_string(),
        "/accedi",
        "Riprova ad accedere",
    )
}

/// The provider's redirect back: the session is created and the person sent where they were
/// going.
async fn callback(State(state): State<AppState>, Query(q): Query<login::Callback>) -> Response {
    let Some(rp) = state.web.rp.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match login::finish(&state, rp, q).await {
        Ok(done) => {
            tracing::info!(actor = %done.fiscal_code, "browser login");
            see_other(&done.return_to, Some(done.set_cookie))
        }
        Err(e) => login_failed(&e),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// Logout: the session ends here (the identity provider's own session is the provider's).
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(e) = session::check_form(&state, &headers, &session, &form.csrf) {
        return Ok(message(
            StatusCode::FORBIDDEN,
            "Operazione non consentita",
            &e.to_string(),
            "/",
            "Torna alla pagina iniziale",
        ));
    }
    let clear = session::end(&state, &session).await?;
    Ok(see_other("/", Some(clear)))
}

async fn stylesheet() -> Response {
    let mut response = include_str!("../../static/diario.css").into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// One person of the development login.
struct DevPerson {
    fiscal_code: &'static str,
    name: String,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "dev_login.html")]
struct DevLoginPage {
    chrome: Chrome,
    people: Vec<DevPerson>,
}

/// The development login: the demo's people, one button each (`diario demo` only).
async fn dev_login_page(State(state): State<AppState>) -> Response {
    if !state.web.dev_login {
        return crate::ApiError::NotFound.into_response();
    }
    let people = crate::demo::PEOPLE
        .iter()
        .map(|p| DevPerson {
            fiscal_code: p.fiscal_code,
            name: format!("{} {}", p.given_name, p.family_name),
            role: p.role,
        })
        .collect();
    render(
        StatusCode::OK,
        &DevLoginPage {
            chrome: Chrome::visitor(true),
            people,
        },
    )
}

#[derive(Debug, Deserialize)]
struct DevLoginForm {
    fiscal_code: String,
}

/// Signs in as a demo person (`diario demo` only; a cross-site post is refused).
async fn dev_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<DevLoginForm>,
) -> Result<Response, ApiError> {
    if !state.web.dev_login {
        return Ok(crate::ApiError::NotFound.into_response());
    }
    let cross_site = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o != state.web.origin());
    let person = crate::demo::PEOPLE
        .iter()
        .find(|p| p.fiscal_code == form.fiscal_code);
    let (Some(person), false) = (person, cross_site) else {
        return Ok(message(
            StatusCode::FORBIDDEN,
            "Accesso non consentito",
            "Si può entrare solo come una delle persone della demo, da questa pagina.",
            "/accedi-sviluppo",
            "Torna all'elenco",
        ));
    };
    let fiscal_code = diario_domain::FiscalCode::parse(person.fiscal_code)
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    tracing::warn!(actor = %fiscal_code, "DEVELOPMENT LOGIN (diario demo): signed in without an identity provider");
    let cookie = session::create(&state, &fiscal_code, true).await?;
    Ok(see_other("/", Some(cookie)))
}
