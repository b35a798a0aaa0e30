//! Tokens from a real OpenID provider (`oidc-provider`, started by the harness): discovery and
//! JWKS, the SPID shape (opaque `sub`, `fiscal_number` with `TINIT-`), `aud` as an array, key
//! rotation, RS256/PS256/ES256, and the tokens that must be refused.

use std::time::Duration;

use diario_api::AuthConfig;
use diario_api::auth::oidc::OidcSettings;
use diario_tests::oidc::{AUDIENCE, OpenIdProvider};
use diario_tests::{ApiServer, Backend, cf};

/// A server that trusts `issuer`, reads the fiscal code from `claim`, and refreshes its keys
/// on any unknown key id (no minimum interval, so each test's rotation is visible at once).
async fn server(issuer: &str, claim: &str) -> ApiServer {
    server_with(issuer, claim, OidcSettings::new(issuer).max_age).await
}

/// [`server`] whose key set is stale after `max_age`.
async fn server_with(issuer: &str, claim: &str, max_age: Duration) -> ApiServer {
    let mut settings = OidcSettings::new(issuer);
    settings.min_refresh = Duration::ZERO;
    settings.max_age = max_age;
    let auth = AuthConfig::disabled()
        .with_audience(Some(AUDIENCE.into()))
        .with_fiscal_code_claim(Some(claim.into()))
        .expect("claim")
        .with_oidc(settings)
        .expect("oidc")
        .check()
        .expect("audience configured");
    ApiServer::start_with(Backend::Sqlite, chrono::Utc::now(), |s| s.auth = auth).await
}

/// `GET /v1/me` with `token`: the status and the body.
async fn me(server: &ApiServer, token: &str) -> (u16, serde_json::Value) {
    let response = server
        .client
        .get(server.url("/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn refused(answer: &(u16, serde_json::Value), because: &str) {
    assert_eq!(answer.0, 401, "{because}: {}", answer.1);
    assert_eq!(answer.1["code"], "unauthenticated", "{because}");
    let detail = answer.1["detail"].as_str().unwrap_or("");
    assert!(detail.contains(because), "{because:?} not in {detail:?}");
}

fn alg_of(token: &str) -> String {
    format!(
        "{:?}",
        jsonwebtoken::decode_header(token).expect("JWT header").alg
    )
}

#[tokio::test]
async fn spid_shaped_tokens_from_a_real_provider() {
    let provider = OpenIdProvider::start("RS256");
    let server = server(&provider.issuer, "fiscal_number").await;

    // The fiscal code arrives in fiscal_number with its TINIT- prefix; sub is opaque.
    let tokens = provider.login(cf::PSICOLOGO).await;
    let (status, body) = me(&server, &tokens.access_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fiscal_code"], cf::PSICOLOGO);

    // aud as an array naming the service.
    let array = provider
        .login(&format!("{};aud-array", cf::EDUCATORE))
        .await;
    let (status, body) = me(&server, &array.access_token).await;
    assert_eq!(status, 200, "aud array: {body}");
    assert_eq!(body["fiscal_code"], cf::EDUCATORE);

    // Issuer configured: a token without iss is refused, although its signature is good.
    let no_iss = provider.login(&format!("{};no-iss", cf::EDUCATORE)).await;
    refused(&me(&server, &no_iss.access_token).await, "iss");
    let expired = provider.login(&format!("{};expired", cf::EDUCATORE)).await;
    refused(&me(&server, &expired.access_token).await, "scaduto");
    let anonymous = provider
        .login(&format!("{};no-fiscal-number", cf::EDUCATORE))
        .await;
    refused(&me(&server, &anonymous.access_token).await, "fiscal_number");
    // The ID token is for the client (aud = client id), not for this service's API.
    refused(&me(&server, &tokens.id_token).await, "destinatario (aud)");

    // A token of another provider (its own keys, its own issuer).
    let other = OpenIdProvider::start("RS256");
    let foreign = other.login(cf::PSICOLOGO).await;
    refused(&me(&server, &foreign.access_token).await, "chiave");
    server.stop().await;

    // The same provider's token where the fiscal code is read from sub (SPID's opaque id).
    let by_sub = self::server(&provider.issuer, "sub").await;
    refused(
        &me(&by_sub, &tokens.access_token).await,
        "non è un codice fiscale",
    );
    by_sub.stop().await;
}

#[tokio::test]
async fn a_rotated_key_works_after_one_refresh() {
    let mut provider = OpenIdProvider::start("ES256");
    let server = server(&provider.issuer, "fiscal_number").await;
    let oidc = server.auth.oidc().expect("oidc configured").clone();
    let before = provider.login(cf::PSICOLOGO).await;
    assert_eq!(me(&server, &before.access_token).await.0, 200);
    assert_eq!(me(&server, &before.access_token).await.0, 200);
    assert_eq!(oidc.fetches(), 1, "the keys are cached");

    let old_kids = provider.kids.clone();
    provider.rotate_keys();
    assert!(provider.kids.iter().all(|k| !old_kids.contains(k)));
    let after = provider.login(cf::PSICOLOGO).await;
    let (status, body) = me(&server, &after.access_token).await;
    assert_eq!(status, 200, "the rotated key: {body}");
    assert_eq!(oidc.fetches(), 2, "one refresh for the new key id");
    assert_eq!(me(&server, &after.access_token).await.0, 200);
    assert_eq!(oidc.fetches(), 2, "and cached again");
    // The withdrawn key no longer verifies.
    refused(&me(&server, &before.access_token).await, "chiave");
    server.stop().await;
}

#[tokio::test]
async fn rs256_ps256_and_es256_are_accepted() {
    for alg in ["RS256", "PS256", "ES256"] {
        let provider = OpenIdProvider::start(alg);
        let server = server(&provider.issuer, "fiscal_number").await;
        let tokens = provider.login(cf::PSICOLOGO).await;
        assert_eq!(
            alg_of(&tokens.access_token),
            alg,
            "the provider signs with {alg}"
        );
        let (status, body) = me(&server, &tokens.access_token).await;
        assert_eq!(status, 200, "{alg}: {body}");
        server.stop().await;
    }
}

#[tokio::test]
async fn an_unreachable_provider_answers_503_not_401() {
    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let provider = OpenIdProvider::start("RS256");
    let token = provider.login(cf::PSICOLOGO).await.access_token;
    let server = server(&format!("http://127.0.0.1:{port}"), "fiscal_number").await;
    let (status, body) = me(&server, &token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "identity-provider-unavailable");
    server.stop().await;
}

#[tokio::test]
async fn keys_already_held_keep_verifying_while_the_provider_is_down() {
    let provider = OpenIdProvider::start("RS256");
    // Stale at once: every token makes the server try to fetch the keys again.
    let server = server_with(&provider.issuer, "fiscal_number", Duration::ZERO).await;
    let oidc = server.auth.oidc().expect("oidc configured").clone();
    let token = provider.login(cf::PSICOLOGO).await.access_token;
    assert_eq!(me(&server, &token).await.0, 200);
    drop(provider);
    let before = oidc.fetches();
    let (status, body) = me(&server, &token).await;
    assert_eq!(status, 200, "the cached key verifies: {body}");
    assert_eq!(oidc.fetches(), before + 1, "a fetch was tried, and failed");
    server.stop().await;
}
