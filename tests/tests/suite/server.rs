//! End-to-end tests of the `diario` server over real HTTP.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use diario_tests::{Backend, TestServer, diario_command, free_port};
use serde_json::Value;

async fn health_and_readiness(backend: Backend) {
    let expected = match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let server = TestServer::start(backend).await;
    assert_eq!(server.get("/healthz").await.status(), 200);
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["database"], expected);
    assert_eq!(server.get("/nope").await.status(), 404);
    server.stop().await;
}

diario_tests::scenario_on_each_backend!(health_and_readiness =>
    the_server_is_healthy_and_ready_on_postgres,
    the_server_is_healthy_and_ready_on_sqlite);

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let server = TestServer::start(Backend::Sqlite).await;
    server.db.db.close().await;
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    let body: Value = ready.json().await.expect("json");
    assert!(
        body["type"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/not-ready")
    );
    server.stop().await;
}

/// `diario serve`, set up by `configure`, in a new temporary directory (its working directory,
/// without `DATABASE_URL`) on a free port. Returns the process, the directory and the base URL.
fn serve_in_temp_dir(name: &str, configure: impl FnOnce(&mut Command)) -> (Child, PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let mut command = diario_command(&["serve"]);
    command
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env("DIARIO_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    configure(&mut command);
    let child = command.spawn().expect("start diario serve");
    (child, dir, format!("http://127.0.0.1:{port}"))
}

/// The status of the first answer to `GET /readyz` within 10 seconds.
async fn first_readiness(client: &reqwest::Client, base: &str) -> Option<u16> {
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            return Some(r.status().as_u16());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// SIGTERM, as a process manager would send it; waits for the exit.
fn terminate(mut child: Child) -> ExitStatus {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    child.wait().expect("wait for diario")
}

/// The README's run command on the SQLite default: the binary creates `diario.db` in its
/// working directory, answers `/readyz`, and exits cleanly on SIGTERM.
#[tokio::test]
async fn the_binary_serves_on_the_sqlite_default_and_stops_on_sigterm() {
    let (child, dir, base) = serve_in_temp_dir("diario-bin", |_| {});
    let ready = first_readiness(&reqwest::Client::new(), &base).await == Some(200);
    let status = terminate(child);
    let db_created = dir.join("diario.db").exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ready, "diario serve did not answer /readyz with 200");
    assert!(
        status.success(),
        "diario did not exit cleanly on SIGTERM: {status}"
    );
    assert!(db_created, "the default SQLite file was not created");
}

/// Production authentication end to end: `diario serve` configured with an identity
/// provider's RS256 public key file (no development secret) accepts the provider's signed
/// tokens and refuses tokens signed with another key, of another issuer, or none at all.
#[tokio::test]
async fn the_binary_accepts_rs256_tokens_of_the_configured_identity_provider() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/jwt");
    let (child, dir, base) = serve_in_temp_dir("diario-rs256", |command| {
        command
            .env_remove("DIARIO_JWT_SECRET")
            .env(
                "DIARIO_JWT_PUBLIC_KEY_FILE",
                fixtures.join("idp-rs256-public.pem"),
            )
            .env("DIARIO_JWT_ISSUER", "https://idp.regione.example")
            .env("DIARIO_JWT_AUDIENCE", "diario");
    });
    let client = reqwest::Client::new();
    first_readiness(&client, &base).await;
    let exp = u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970") + 600;
    let token = |key: &str, iss: &str| {
        let pem = std::fs::read(fixtures.join(key)).expect("key fixture");
        let claims = diario_api::auth::Claims {
            sub: "TINIT-RSSMRA85T10A562S".into(),
            exp,
            nbf: None,
            iat: None,
            iss: Some(iss.into()),
            aud: Some("diario".into()),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(&pem).expect("RSA key"),
        )
        .expect("sign")
    };
    let status = |token: Option<String>| {
        let mut r = client.get(format!("{base}/v1/measures"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move { r.send().await.map(|r| r.status().as_u16()) }
    };
    let idp = status(Some(token(
        "idp-rs256-private.pem",
        "https://idp.regione.example",
    )))
    .await;
    let other_key = status(Some(token(
        "other-rs256-private.pem",
        "https://idp.regione.example",
    )))
    .await;
    let other_issuer = status(Some(token(
        "idp-rs256-private.pem",
        "https://elsewhere.example",
    )))
    .await;
    let none = status(None).await;
    terminate(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        idp.ok(),
        Some(200),
        "the identity provider's token is accepted"
    );
    assert_eq!(
        other_key.ok(),
        Some(401),
        "another key's signature is refused"
    );
    assert_eq!(other_issuer.ok(), Some(401), "another issuer is refused");
    assert_eq!(none.ok(), Some(401), "no token, no access");
}
