//! End-to-end tests of the `diario` server over real HTTP.

use std::process::{Command, Stdio};
use std::time::Duration;

use diario_tests::{Backend, TestServer, diario_binary};
use serde_json::Value;

async fn health_and_readiness(backend: Backend, expected: &str) {
    let server = TestServer::start(backend).await;
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(health.status(), 200);
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["database"], expected);
    let missing = server
        .client
        .get(server.url("/nope"))
        .send()
        .await
        .expect("GET /nope");
    assert_eq!(missing.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn the_server_is_healthy_and_ready_on_postgres() {
    health_and_readiness(Backend::Postgres, "postgres").await;
}

#[tokio::test]
async fn the_server_is_healthy_and_ready_on_sqlite() {
    health_and_readiness(Backend::Sqlite, "sqlite").await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let server = TestServer::start(Backend::Sqlite).await;
    server.db.db.close().await;
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
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

/// The README's run command on the SQLite default: the binary creates `diario.db` in its
/// working directory, answers `/readyz`, and exits cleanly on SIGTERM.
#[tokio::test]
async fn the_binary_serves_on_the_sqlite_default_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("diario-bin-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new(diario_binary())
        .arg("serve")
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env("DIARIO_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start diario serve");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(&url).send().await {
            ready = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SIGTERM, as a process manager would send it.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait for diario");
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
    let dir = std::env::temp_dir().join(format!("diario-rs256-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new(diario_binary())
        .arg("serve")
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("DIARIO_JWT_SECRET")
        .env("DIARIO_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "DIARIO_JWT_PUBLIC_KEY_FILE",
            fixtures.join("idp-rs256-public.pem"),
        )
        .env("DIARIO_JWT_ISSUER", "https://idp.regione.example")
        .env("DIARIO_JWT_AUDIENCE", "diario")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start diario serve");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
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
