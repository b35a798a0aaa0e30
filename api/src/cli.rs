//! Command-line interface: `diario serve`, `diario migrate`, `diario token`, `diario grant`.
//! Every flag can also be set from the environment (see the configuration table in README.md
//! and docs/api.md).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use diario_commands::{CommandHandler, CommandOptions, SystemClock, TestClock};
use diario_domain::grants::{Grant, GrantCommand, GrantRole};
use diario_domain::{Catalogue, CatalogueError, FiscalCode};
use diario_log::Database;
use diario_log::follower::RunnerOptions;

use crate::auth::{AuthConfig, AuthConfigError};
use crate::{Settings, serve, start};

/// Diario Online: the verifiable time register of the #UP measure.
#[derive(Debug, Parser)]
#[command(name = "diario", version, about)]
pub struct Cli {
    /// A TOML file of settings (keys: the flags' long names with `_`); flags and environment
    /// variables win over it. Every variable also has a `*_FILE` form for secrets.
    #[arg(long, global = true, env = "DIARIO_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Log lines as text (colours on a terminal) or JSON objects, one per line.
    #[arg(
        long,
        global = true,
        env = "DIARIO_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: crate::telemetry::LogFormat,
    /// The OpenTelemetry collector's OTLP/HTTP traces URL (`http://collector:4318/v1/traces`):
    /// the spans are exported there. Unset: no export.
    #[arg(long, global = true, env = "DIARIO_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans.
    #[arg(
        long,
        global = true,
        env = "DIARIO_OTLP_SERVICE_NAME",
        default_value = "diario"
    )]
    pub otlp_service_name: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the database migrations and exit.
    Migrate(DbArgs),
    /// Run the HTTP server (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Mint a development token (HS256, from DIARIO_JWT_SECRET) and print it.
    Token(TokenArgs),
    /// Manage organisation roles (grants): add, revoke, list.
    Grant(GrantArgs),
    /// Rebuild read models from zero (every projection, or the one named), then exit.
    Rebuild(RebuildArgs),
    /// Check a case stream's hash chain and print the report (exit code 1 when broken).
    Verify(VerifyArgs),
    /// One professional, one hour, for the history: `overlaps` prints (JSON lines) the
    /// overlapping live entries already in the log; `import` writes the claims of every live
    /// entry recorded before agendas existed (once; a second run writes nothing).
    Agenda(AgendaArgs),
    /// Seal today's heads of every stream in one Merkle root (once a day; the server does it
    /// by itself) and print the seal: keep a copy of the root outside the database.
    Seal(DbArgs),
    /// DEMO: a fresh embedded database with demo data (organisations, named staff, cases in
    /// every state), the server with the development login on, and a token per person.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, env = "DIARIO_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Directory of the demo database (`demo.db`, recreated at every start).
    #[arg(long, default_value = "diario-demo")]
    pub dir: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
    /// Projection to rebuild (case_diaries, audit_trail, checklists, system_failures, people,
    /// staff_notifications); all when absent.
    pub projection: Option<String>,
}

#[derive(Debug, Args)]
pub struct AgendaArgs {
    #[command(subcommand)]
    pub action: AgendaAction,
}

#[derive(Debug, Subcommand)]
pub enum AgendaAction {
    /// Print the overlaps among the live entries of the log (read-only), one JSON per line.
    Overlaps(DbArgs),
    /// Write the claims of the entries recorded before agendas existed, then print the count.
    Import(DbArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The case id.
    pub case_id: uuid::Uuid,
}

/// Token verification settings (shared by `serve` and `token`).
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// HS256 secret (at least 32 bytes) for development tokens.
    #[arg(long, env = "DIARIO_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// The OpenID provider's issuer URL: its discovery document and published keys (JWKS)
    /// verify tokens, and `iss` must name it. Needs DIARIO_JWT_AUDIENCE.
    #[arg(long, env = "DIARIO_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The claim that carries the fiscal code: `sub` (the default) or, behind SPID/CIE,
    /// `fiscal_number` (its `TINIT-` prefix is accepted).
    #[arg(long, env = "DIARIO_FISCAL_CODE_CLAIM")]
    pub fiscal_code_claim: Option<String>,
    /// PEM file with the RS256/PS256 (RSA) or ES256 (P-256) public key of the identity provider.
    #[arg(long, env = "DIARIO_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<String>,
    /// Required `iss` claim, when set.
    #[arg(long, env = "DIARIO_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "DIARIO_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Comma-separated fiscal codes of the bootstrap platform administrators.
    #[arg(long, env = "DIARIO_PLATFORM_ADMINS", default_value = "")]
    pub platform_admins: String,
}

impl AuthArgs {
    pub fn config(&self) -> Result<AuthConfig, AuthConfigError> {
        let mut config = AuthConfig::disabled()
            .with_issuer(self.jwt_issuer.clone())
            .with_audience(self.jwt_audience.clone())
            .with_fiscal_code_claim(self.fiscal_code_claim.clone())?
            .with_platform_admins(&self.platform_admins)?;
        if let Some(issuer) = self.oidc_issuer.as_deref().filter(|s| !s.is_empty()) {
            if let Some(other) = self
                .jwt_issuer
                .as_deref()
                .filter(|i| !i.is_empty() && *i != issuer)
            {
                tracing::warn!(
                    jwt_issuer = other,
                    oidc_issuer = issuer,
                    "DIARIO_JWT_ISSUER is ignored: the OpenID provider's issuer is required"
                );
            }
            config = config.with_oidc(crate::auth::oidc::OidcSettings::new(issuer))?;
        }
        if let Some(secret) = self.jwt_secret.as_deref().filter(|s| !s.is_empty()) {
            config = config.with_secret(secret.as_bytes())?;
        }
        if let Some(path) = self
            .jwt_public_key_file
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            config = config.with_public_key_file(path)?;
        }
        config.check()
    }
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Subject: the fiscal code (bare or TINIT-prefixed).
    #[arg(long)]
    pub sub: String,
    /// Validity: e.g. 30m, 1h, 2d, 3600s.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    pub ttl: Duration,
}

/// Parses `90s`, `30m`, `1h`, `2d` (a bare number is seconds).
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 30m, 1h, 2d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("invalid duration unit in {s:?}: use s, m, h or d")),
    };
    if secs == 0 {
        return Err("the duration must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    #[command(subcommand)]
    pub action: GrantAction,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RoleArg {
    AtsOperator,
    EnteAdmin,
    Auditor,
    Support,
    PlatformAdmin,
    /// The data-protection officer.
    Dpo,
}

impl From<RoleArg> for GrantRole {
    fn from(r: RoleArg) -> GrantRole {
        match r {
            RoleArg::AtsOperator => GrantRole::AtsOperator,
            RoleArg::EnteAdmin => GrantRole::EnteAdmin,
            RoleArg::Auditor => GrantRole::Auditor,
            RoleArg::Support => GrantRole::Support,
            RoleArg::PlatformAdmin => GrantRole::PlatformAdmin,
            RoleArg::Dpo => GrantRole::DataProtectionOfficer,
        }
    }
}

#[derive(Debug, Args)]
pub struct GrantSpec {
    #[command(flatten)]
    pub db: DbArgs,
    /// The person's fiscal code.
    #[arg(long)]
    pub cf: String,
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// ATS code (ats_operator, auditor) or ente code (ente_admin).
    #[arg(long)]
    pub scope: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum GrantAction {
    /// Give a role.
    Add(GrantSpec),
    /// Take a role away.
    Revoke(GrantSpec),
    /// Print the grants in force (JSON lines).
    List(DbArgs),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database URL: `postgres://…` or `sqlite://path` (the file is created on first run).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://diario.db")]
    pub database_url: String,
}

/// Where the measure catalogues come from.
#[derive(Debug, Args, Default)]
pub struct CatalogueArgs {
    /// A directory of measure catalogue files (`*.json`, one measure version each, with
    /// `version` and `effective_from`): added to the shipped catalogues, replacing a shipped
    /// one with the same id and version. Every file is validated; an invalid one stops the
    /// command, naming the file (`docs/domain.md`, "Measure catalogues").
    #[arg(long, env = "DIARIO_CATALOGUE_DIR")]
    pub catalogue_dir: Option<std::path::PathBuf>,
}

impl CatalogueArgs {
    /// The shipped catalogues with the directory's files.
    pub fn load(&self) -> Result<Catalogue, CatalogueError> {
        let Some(dir) = &self.catalogue_dir else {
            return Catalogue::shipped();
        };
        let unreadable = |e: std::io::Error| CatalogueError::Directory {
            dir: dir.display().to_string(),
            error: e.to_string(),
        };
        let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(unreadable)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(unreadable)?;
        names.retain(|p| p.extension().is_some_and(|x| x == "json"));
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        for path in names {
            let text = std::fs::read_to_string(&path).map_err(|e| CatalogueError::File {
                file: path.display().to_string(),
                error: Box::new(CatalogueError::Directory {
                    dir: dir.display().to_string(),
                    error: e.to_string(),
                }),
            })?;
            files.push((path.display().to_string(), text));
        }
        Catalogue::with_files(&files)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
    /// Address to listen on.
    #[arg(long, env = "DIARIO_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "DIARIO_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Seconds a request (its body included) may take before it is answered 408.
    #[arg(long, env = "DIARIO_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// DEVELOPMENT ONLY: a movable clock and `PUT /v1/test-clock`. Never in production.
    #[arg(long)]
    pub test_clock: bool,
    #[command(flatten)]
    pub firmalom: crate::firmalom::FirmalomArgs,
    /// Do not run the projection runner in this process (another process keeps the read
    /// models up to date).
    #[arg(long, env = "DIARIO_NO_PROJECTIONS")]
    pub no_projections: bool,
    #[command(flatten)]
    pub web: WebArgs,
    /// The SMTP relay staff notifications are e-mailed through (`smtp://host:port`,
    /// `smtp://host:587?tls=required`, `smtps://host:465`); unset: the inbox only.
    #[arg(long, env = "DIARIO_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of the notification e-mails.
    #[arg(
        long,
        env = "DIARIO_MAIL_FROM",
        default_value = "Diario Online <noreply@localhost>"
    )]
    pub mail_from: String,
    /// Seconds between two passes of the notification e-mails.
    #[arg(long, env = "DIARIO_MAIL_INTERVAL_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub mail_interval_secs: u64,
    /// The key (at least 16 bytes) of the actor tags in the logs (HMAC-SHA256 of the fiscal
    /// code): the same person keeps the same tag across restarts and instances. Unset: a
    /// random key at each start.
    #[arg(long, env = "DIARIO_LOG_TAG_KEY", hide_env_values = true)]
    pub log_tag_key: Option<String>,
}

/// The web interface: where people reach it, the browser login, the sessions.
#[derive(Debug, Args)]
pub struct WebArgs {
    /// The address people reach the service at (e.g. `https://diario.example`); the login's
    /// redirect URI is `{public-url}/auth/callback`. Default: `http://` + the listen address
    /// (development: plain HTTP gives non-Secure cookies).
    #[arg(long, env = "DIARIO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The client id this service is registered with at the OpenID provider
    /// (DIARIO_OIDC_ISSUER): enables the browser login.
    #[arg(long, env = "DIARIO_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client secret of that registration.
    #[arg(long, env = "DIARIO_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Minutes without a request after which a browser session ends.
    #[arg(long, env = "DIARIO_SESSION_IDLE_MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub session_idle_minutes: u64,
    /// Hours after the login at which a browser session ends, used or not.
    #[arg(long, env = "DIARIO_SESSION_MAX_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u64).range(1..=168))]
    pub session_max_hours: u64,
}

impl WebArgs {
    /// The web settings for a server listening on `addr` with `oidc_issuer`.
    pub fn settings(
        &self,
        addr: SocketAddr,
        oidc_issuer: Option<&str>,
    ) -> Result<crate::web::WebSettings, CliError> {
        let public_url = self
            .public_url
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| format!("http://{addr}"));
        let mut web = crate::web::WebSettings::new(public_url);
        web.sessions.idle = Duration::from_secs(self.session_idle_minutes * 60);
        web.sessions.absolute = Duration::from_secs(self.session_max_hours * 3600);
        let client_id = self.oidc_client_id.clone().filter(|c| !c.is_empty());
        match (client_id, oidc_issuer.filter(|i| !i.is_empty())) {
            (Some(client_id), Some(issuer)) => {
                let client_secret = self
                    .oidc_client_secret
                    .clone()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        CliError::Usage(
                            "DIARIO_OIDC_CLIENT_ID needs DIARIO_OIDC_CLIENT_SECRET".into(),
                        )
                    })?;
                web.login = Some(crate::web::login::LoginSettings {
                    issuer: issuer.to_owned(),
                    client_id,
                    client_secret,
                });
            }
            (Some(_), None) => {
                return Err(CliError::Usage(
                    "DIARIO_OIDC_CLIENT_ID needs DIARIO_OIDC_ISSUER (the provider)".into(),
                ));
            }
            (None, _) => {}
        }
        if web.sessions.secure && !web.public_url.starts_with("https://") {
            return Err(CliError::Usage(format!(
                "DIARIO_PUBLIC_URL must be an http:// or https:// URL, not {:?}",
                web.public_url
            )));
        }
        crate::web::WebState::new(&web).map_err(CliError::Usage)?;
        if !web.sessions.secure {
            tracing::warn!(
                public_url = %web.public_url,
                "the web interface is served over plain HTTP: session cookies are not Secure (development only)"
            );
        }
        Ok(web)
    }
}

impl ServeArgs {
    /// The server's settings from the flags.
    pub fn settings(&self, catalogue: Catalogue) -> Result<Settings, CliError> {
        let mut settings = Settings::new(catalogue);
        settings.auth = self.auth.config()?;
        settings.test_clock = self.test_clock.then(|| TestClock::new(chrono::Utc::now()));
        settings.firmalom = self.firmalom.config().map_err(CliError::Usage)?;
        settings.workers = Some(self.firmalom.worker_settings());
        settings.projections = (!self.no_projections).then(RunnerOptions::default);
        settings.request_timeout = Duration::from_secs(self.request_timeout_secs);
        settings.web = self
            .web
            .settings(self.addr, self.auth.oidc_issuer.as_deref())?;
        if let Some(relay) = self.smtp_url.clone().filter(|u| !u.is_empty()) {
            let mail = crate::mail::MailSettings {
                relay,
                from: self.mail_from.clone(),
                interval: Duration::from_secs(self.mail_interval_secs),
            };
            crate::mail::check(&mail).map_err(CliError::Usage)?;
            settings.mail = Some(mail);
        }
        if let Some(key) = self.log_tag_key.as_deref().filter(|k| !k.is_empty()) {
            if key.len() < 16 {
                return Err(CliError::Usage(
                    "DIARIO_LOG_TAG_KEY must be at least 16 bytes".into(),
                ));
            }
            settings.log_tag_key = Some(key.as_bytes().to_vec());
        }
        Ok(settings)
    }
}

/// Errors that stop the binary.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("database: {0}")]
    Store(#[from] diario_log::StoreError),
    #[error("the measure catalogue is invalid: {0}")]
    Catalogue(#[from] CatalogueError),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("authentication settings: {0}")]
    Auth(#[from] AuthConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Command(#[from] diario_commands::HandlerError),
    #[error("projections: {0}")]
    Projection(#[from] diario_projections::ProjectionError),
    #[error("projections: {0}")]
    Follow(#[from] diario_log::FollowError),
}

pub async fn run(cli: Cli, sources: crate::config::Sources) -> Result<(), CliError> {
    let log_format = cli.log_format;
    match cli.command {
        Command::Migrate(args) => {
            let db = Database::connect(&args.database_url).await?;
            db.migrate().await?;
            tracing::info!(backend = db.backend(), "migrations applied");
            db.close().await;
            Ok(())
        }
        Command::Serve(args) => {
            // An invalid catalogue stops the server here, before anything is served.
            let catalogue = args.catalogue.load()?;
            for m in catalogue.iter() {
                let versions: Vec<String> = catalogue
                    .versions(&m.id)
                    .iter()
                    .map(|v| {
                        format!(
                            "{}@{}",
                            v.version.as_deref().unwrap_or("-"),
                            v.effective_from
                                .map_or("start".to_owned(), |d| d.to_string())
                        )
                    })
                    .collect();
                tracing::info!(measure = %m.id, versions = %versions.join(","), example_values = m.example_values, "measure catalogue");
            }
            // One server per SQLite file: held until the process ends.
            let _lock = SqliteLock::take(&args.db.database_url)?;
            let settings = args.settings(catalogue)?;
            let db = Database::connect(&args.db.database_url).await?;
            db.migrate().await?;
            if !settings.auth.enabled() {
                tracing::warn!(
                    "no token keys configured (DIARIO_OIDC_ISSUER, DIARIO_JWT_PUBLIC_KEY_FILE or DIARIO_JWT_SECRET): every /v1 route will answer 401"
                );
            }
            if let Some(oidc) = settings.auth.oidc() {
                // Fetched now so the first request does not wait; a provider that is down at
                // start-up is asked again when the first token arrives.
                if let Err(e) = oidc.refresh(None).await {
                    tracing::warn!(issuer = oidc.issuer(), error = %e, "identity provider not reachable at start-up; its keys will be fetched on the first token");
                }
            }
            if settings.test_clock.is_some() {
                tracing::warn!(
                    "!!! TEST CLOCK ENABLED (--test-clock): PUT /v1/test-clock moves the service clock; NEVER use this in production !!!"
                );
            }
            let listener = tokio::net::TcpListener::bind(args.addr).await?;
            summary(&args, &settings, &db, &sources, log_format);
            tracing::info!(addr = %listener.local_addr()?, backend = db.backend(), "diario serving");
            let started = start(db.clone(), &settings);
            let served = serve(
                listener,
                started.state.clone(),
                crate::shutdown_signal(),
                Duration::from_secs(args.shutdown_grace_secs),
            )
            .await;
            started.stop().await;
            served?;
            db.close().await;
            tracing::info!("diario stopped");
            Ok(())
        }
        Command::Token(args) => {
            let config = args.auth.config()?;
            let cf = FiscalCode::parse(&args.sub)
                .map_err(|e| CliError::Usage(format!("--sub is not a fiscal code: {e}")))?;
            let token = config.mint(cf.as_str(), args.ttl)?;
            println!("{token}");
            Ok(())
        }
        Command::Grant(args) => grant(args.action).await,
        Command::Demo(args) => demo(args).await,
        Command::Rebuild(args) => rebuild(args).await,
        Command::Verify(args) => verify(args).await,
        Command::Agenda(args) => agenda(args.action).await,
        Command::Seal(args) => seal(args).await,
    }
}

async fn grant(action: GrantAction) -> Result<(), CliError> {
    let (db_args, command) = match action {
        GrantAction::List(db) => (db, None),
        GrantAction::Add(spec) => {
            let g = spec_grant(&spec)?;
            (spec.db, Some(GrantCommand::AddGrant(g)))
        }
        GrantAction::Revoke(spec) => {
            let g = spec_grant(&spec)?;
            (spec.db, Some(GrantCommand::RevokeGrant(g)))
        }
    };
    let (db, handler) = open_handler(&db_args.database_url, Catalogue::default()).await?;
    let result = async {
        if let Some(command) = command {
            let outcome = handler
                .execute_grant(&command, None, &CommandOptions::new())
                .await?;
            tracing::info!(
                version = outcome.version,
                changed = !outcome.events.is_empty(),
                "grants updated"
            );
        }
        let (grants, _) = handler.grants().await?;
        for g in &grants {
            println!("{}", serde_json::to_string(g).unwrap_or_default());
        }
        Ok::<(), CliError>(())
    }
    .await;
    db.close().await;
    result
}

async fn rebuild(args: RebuildArgs) -> Result<(), CliError> {
    let catalogue = args.catalogue.load()?;
    let names: Vec<String> = args.projection.iter().cloned().collect();
    let followers = diario_projections::select(&catalogue, &names).map_err(|e| {
        CliError::Usage(format!(
            "{e}; known: {}",
            diario_projections::PROJECTIONS.join(", ")
        ))
    })?;
    let db = Database::connect(&args.db.database_url).await?;
    db.migrate().await?;
    let store = db.event_store();
    let result = async {
        let names: Vec<&str> = followers.iter().map(|p| p.name()).collect();
        let _lock = RebuildLock::take(&db, &names).await?;
        let started = std::time::Instant::now();
        // Every projection asked for in ONE pass over the log.
        let applied = diario_log::follower::rebuild(&db, store.as_ref(), &followers).await?;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        for (name, events) in &applied {
            tracing::info!(projection = %name, events, elapsed_ms, "projection rebuilt");
            println!(
                "{}",
                serde_json::json!({ "projection": name, "events": events })
            );
        }
        Ok::<(), CliError>(())
    }
    .await;
    db.close().await;
    result
}

/// The start-up summary: every setting that shapes what the server does, no secret (only
/// whether one is set), and where the file and `*_FILE` settings came from.
fn summary(
    args: &ServeArgs,
    settings: &Settings,
    db: &Database,
    sources: &crate::config::Sources,
    log_format: crate::telemetry::LogFormat,
) {
    let on = |b: bool| if b { "on" } else { "off" };
    let mut auth = Vec::new();
    if settings.auth.oidc().is_some() {
        auth.push("oidc");
    }
    if args
        .auth
        .jwt_public_key_file
        .as_deref()
        .is_some_and(|f| !f.is_empty())
    {
        auth.push("public-key");
    }
    if args
        .auth
        .jwt_secret
        .as_deref()
        .is_some_and(|f| !f.is_empty())
    {
        auth.push("hs256-secret");
    }
    let from: Vec<String> = sources
        .settings
        .iter()
        .map(|(key, source)| format!("{key}<-{source}"))
        .collect();
    tracing::info!(
        database = %redact_url(&args.db.database_url),
        backend = db.backend(),
        token_keys = %if auth.is_empty() { "none".to_owned() } else { auth.join("+") },
        oidc_issuer = args.auth.oidc_issuer.as_deref().unwrap_or("-"),
        public_url = %settings.web.public_url,
        browser_login = on(settings.web.login.is_some()),
        firmalom = settings.firmalom.as_ref().map_or("off", |f| if f.url.is_some() { "dispatch+callbacks" } else { "callbacks" }),
        smtp = on(settings.mail.is_some()),
        projections = on(settings.projections.is_some()),
        test_clock = on(settings.test_clock.is_some()),
        request_timeout_secs = args.request_timeout_secs,
        log_format = log_format.name(),
        log_tag_key = if settings.log_tag_key.is_some() { "set" } else { "random" },
        otlp_export = on(crate::telemetry::exporting()),
        config_file = %sources.file.as_ref().map_or("-".to_owned(), |f| f.display().to_string()),
        from_files = %from.join(","),
        "configuration"
    );
}

/// `url` with the password of its user part replaced by `***`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            let masked = if authority.contains(':')
                && authority[..authority.len() - host.len()].contains(':')
            {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// One `diario serve` (or `diario demo`) per SQLite file: an exclusive lock on
/// `<file>.serve-lock`, held by the process until it ends (the kernel drops it when the process
/// dies, even by SIGKILL). SQLite would let a second server open the file, and then two
/// processes would each run the projections and the workers with no leadership between them.
struct SqliteLock {
    _file: Option<std::fs::File>,
}

impl SqliteLock {
    fn take(database_url: &str) -> Result<SqliteLock, CliError> {
        let Some(path) = sqlite_path(database_url) else {
            return Ok(SqliteLock { _file: None });
        };
        let lock = std::path::PathBuf::from(format!("{}.serve-lock", path.display()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|e| {
                CliError::Usage(format!("cannot open the lock file {}: {e}", lock.display()))
            })?;
        match file.try_lock() {
            Ok(()) => Ok(SqliteLock { _file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => Err(CliError::Usage(format!(
                "another diario server is already running on the SQLite database {} (it holds {}): \
                 one server per SQLite file; stop it first, or use PostgreSQL to run several",
                path.display(),
                lock.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(CliError::Usage(format!(
                "cannot lock {}: {e}",
                lock.display()
            ))),
        }
    }
}

/// The file of a `sqlite:` URL (`None`: not SQLite, or in memory).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// On PostgreSQL a rebuild takes the projections' leadership locks, so that no running
/// `diario serve` applies events to a table being rebuilt; it refuses when a server leads one.
struct RebuildLock {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

impl RebuildLock {
    async fn take(db: &Database, names: &[&str]) -> Result<RebuildLock, CliError> {
        let Database::Postgres(pool) = db else {
            return Ok(RebuildLock { conn: None });
        };
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| CliError::Usage(format!("cannot connect: {e}")))?;
        for name in names {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(diario_log::follower::leadership_key(name))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| CliError::Usage(format!("cannot take the lock of {name}: {e}")))?;
            if !got {
                let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
                    .execute(&mut *conn)
                    .await;
                return Err(CliError::Usage(format!(
                    "projection {name} is being run by a `diario serve` process on this database: stop the servers (or start them with --no-projections) before rebuilding"
                )));
            }
        }
        Ok(RebuildLock { conn: Some(conn) })
    }
}

impl Drop for RebuildLock {
    fn drop(&mut self) {
        // The connection is closed, not returned to the pool, so the session's locks go.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

async fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let db = Database::connect(&args.db.database_url).await?;
    db.migrate().await?;
    let report = diario_projections::verify_case(db.event_store().as_ref(), args.case_id).await;
    db.close().await;
    let report = report?;
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
    if report.is_intact() {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "the hash chain of case {} is broken",
            args.case_id
        )))
    }
}

/// The database (migrated) and a command handler on it with the real clock: what the
/// commands that write events from the command line share.
async fn open_handler(
    database_url: &str,
    catalogue: Catalogue,
) -> Result<(Database, CommandHandler), CliError> {
    let db = Database::connect(database_url).await?;
    db.migrate().await?;
    let handler = CommandHandler::new(
        db.event_store(),
        catalogue,
        std::sync::Arc::new(SystemClock),
    );
    Ok((db, handler))
}

async fn seal(args: DbArgs) -> Result<(), CliError> {
    let (db, handler) = open_handler(&args.database_url, Catalogue::shipped()?).await?;
    let result = async {
        let outcome = handler.seal(&CommandOptions::new()).await?;
        let (day, root) = outcome.state.last.clone().unwrap_or_default();
        println!(
            "{}",
            serde_json::json!({
                "day": day,
                "root": root,
                "streams": outcome.state.heads.len(),
                "sealed_now": !outcome.events.is_empty(),
            })
        );
        Ok::<(), CliError>(())
    }
    .await;
    db.close().await;
    result
}

async fn agenda(action: AgendaAction) -> Result<(), CliError> {
    let (db_args, import) = match action {
        AgendaAction::Overlaps(db) => (db, false),
        AgendaAction::Import(db) => (db, true),
    };
    let (db, handler) = open_handler(&db_args.database_url, Catalogue::shipped()?).await?;
    let result = async {
        if import {
            let report = crate::agenda::import(&handler).await?;
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        } else {
            for overlap in crate::agenda::overlaps(&handler).await? {
                println!("{}", serde_json::to_string(&overlap).unwrap_or_default());
            }
        }
        Ok::<(), CliError>(())
    }
    .await;
    db.close().await;
    result
}

fn spec_grant(spec: &GrantSpec) -> Result<Grant, CliError> {
    let fiscal_code = FiscalCode::parse(&spec.cf)
        .map_err(|e| CliError::Usage(format!("--cf is not a fiscal code: {e}")))?;
    Ok(Grant {
        fiscal_code,
        role: spec.role.into(),
        scope: spec.scope.clone(),
    })
}

/// `diario demo` (see [`crate::demo`]).
async fn demo(args: DemoArgs) -> Result<(), CliError> {
    std::fs::create_dir_all(&args.dir)?;
    let path = args.dir.join("demo.db");
    let _lock = SqliteLock::take(&format!("sqlite://{}", path.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(&file)?;
        }
    }
    let url = format!("sqlite://{}", path.display());
    let catalogue = Catalogue::shipped()?;
    let db = Database::connect(&url).await?;
    db.migrate().await?;
    let now = chrono::Utc::now();
    let clock = TestClock::new(now);
    let seeding = diario_commands::CommandHandler::new(
        db.event_store(),
        catalogue.clone(),
        std::sync::Arc::new(clock.clone()),
    );
    let cases = crate::demo::seed(&seeding, &db, &clock, now)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    // The read models hold the whole demo before the first page is served.
    diario_log::follower::catch_up_to_end(
        &db,
        db.event_store().as_ref(),
        &diario_projections::read_models(&catalogue),
        Duration::from_secs(120),
    )
    .await?;
    let secret = crate::web::session::random_secret();
    let mut settings = Settings::new(catalogue);
    settings.auth = AuthConfig::disabled()
        .with_secret(secret.as_bytes())?
        .with_platform_admins("ADMNTR80A01F205F")?;
    let base = format!("http://{}", args.addr);
    settings.web = crate::web::WebSettings::new(base.clone());
    settings.web.dev_login = true;
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::warn!(
        "!!! DEMO (diario demo): invented data and the DEVELOPMENT LOGIN without an identity provider at {base}/accedi-sviluppo; NEVER use this for real data !!!"
    );
    println!(
        "Diario Online – demo at {base}/ (database {})",
        path.display()
    );
    println!(
        "Sign in as anyone at {base}/accedi-sviluppo, or call the API with these tokens (12 h):"
    );
    for p in &crate::demo::PEOPLE {
        let token = settings
            .auth
            .mint(p.fiscal_code, Duration::from_secs(12 * 3600))?;
        println!(
            "  {} {} – {} ({}):\n    Authorization: Bearer {token}",
            p.given_name, p.family_name, p.role, p.fiscal_code
        );
    }
    println!("Cases:");
    for (id, description) in &cases {
        println!("  {id}  {description}");
    }
    let started = start(db.clone(), &settings);
    let served = serve(
        listener,
        started.state.clone(),
        crate::shutdown_signal(),
        Duration::from_secs(10),
    )
    .await;
    started.stop().await;
    served?;
    db.close().await;
    Ok(())
}
