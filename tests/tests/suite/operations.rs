//! Operating the `diario` binary: a configuration file with a secret read from a file, JSON
//! logs whose actor tag is a keyed hash, the metrics of what it served and wrote, and one server
//! per SQLite file. Real processes on real ports.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use diario_tests::{TEST_JWT_SECRET, cf, diario_command, free_port};
use serde_json::Value;

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("diario-ops-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `diario serve` with only what the test gives (no inherited DIARIO_* settings).
fn serve(args: &[&str]) -> std::process::Command {
    let mut command = diario_command(&["serve"]);
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("DIARIO_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command.env("RUST_LOG", "info");
    command
}

async fn wait_ready(client: &reqwest::Client, base: &str, child: &mut Child) {
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("diario serve exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("diario serve on {base} did not become ready");
}

fn stop(mut child: Child) -> String {
    let _ = child.kill();
    let out = child.wait_with_output().expect("reap diario serve");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of the sample whose line starts with `prefix`.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix} in\n{text}"))
}

#[tokio::test]
async fn operations_a_toml_file_a_file_secret_json_logs_keyed_actor_tags_and_metrics() {
    let dir = temp_dir();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let secret_file = dir.join("jwt-secret");
    std::fs::write(&secret_file, format!("{TEST_JWT_SECRET}\n")).expect("secret file");
    let config = dir.join("diario.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"sqlite://{}\"\naddr = \"127.0.0.1:{port}\"\nplatform_admins = \"{}\"\nrequest_timeout_secs = 20\n",
            dir.join("diario.db").display(),
            cf::PLATFORM_ADMIN
        ),
    )
    .expect("config file");
    let log_key = "log-tag-key-of-this-test-0123456789";
    let mut child = serve(&["--config", config.to_str().expect("utf-8 path")])
        .env("DIARIO_JWT_SECRET_FILE", &secret_file)
        .env("DIARIO_LOG_FORMAT", "json")
        .env("DIARIO_LOG_TAG_KEY", log_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start diario serve");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut child).await;

    // The secret from the file verifies tokens: an administrator registers an organisation.
    let auth = diario_api::AuthConfig::disabled()
        .with_secret(TEST_JWT_SECRET.as_bytes())
        .expect("secret");
    let admin = auth
        .mint(cf::PLATFORM_ADMIN, Duration::from_secs(600))
        .expect("token");
    let created = client
        .post(format!("{base}/v1/organisations"))
        .bearer_auth(&admin)
        .json(&diario_tests::standard_provider_body())
        .send()
        .await
        .expect("register");
    assert!(created.status().is_success(), "{}", created.status());
    let unknown = uuid::Uuid::now_v7();
    // A caller's W3C trace id is kept: in the answer's traceparent (with this server's span)
    // and in the request's log lines.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let missing = client
        .get(format!("{base}/v1/cases/{unknown}"))
        .bearer_auth(&admin)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    let answered = missing
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("traceparent on the answer")
        .to_owned();
    let parts: Vec<&str> = answered.split('-').collect();
    assert_eq!(parts.len(), 4, "{answered}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", trace_id, "01"));
    assert!(
        parts[2].len() == 16 && parts[2] != "00f067aa0ba902b7",
        "{answered}"
    );
    let server_span = parts[2].to_owned();

    // Metrics: the requests under their route template, the events appended by type.
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics");
    let content_type = metrics
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    let text = metrics.text().await.expect("metrics text");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(
        sample(
            &text,
            "diario_http_requests_total{method=\"GET\",route=\"/v1/cases/{id}\",status=\"404\"}"
        ),
        1.0
    );
    assert!(
        sample(
            &text,
            "diario_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/cases/{id}\"}"
        ) >= 1.0
    );
    assert!(
        sample(
            &text,
            "diario_events_appended_total{type=\"OrganisationRegistered\"}"
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(sample(&text, "diario_firmalom_outbox_backlog"), 0.0);
    assert_eq!(sample(&text, "diario_database_up"), 1.0);
    assert!(text.contains("diario_build_info{version=\""), "{text}");
    assert!(
        !text.contains(&unknown.to_string()),
        "no concrete path in the labels"
    );

    // /readyz names the leading process (this one, on SQLite) as host:pid.
    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    let pid = child.id();
    let instance = ready["instance"].as_str().expect("instance").to_owned();
    assert!(instance.ends_with(&format!(":{pid}")), "{ready}");
    assert!(
        ready["projections"]
            .as_array()
            .expect("projections")
            .iter()
            .all(|p| p["leader"] == instance.as_str()),
        "{ready}"
    );

    // The logs: one JSON object per line; the start-up summary names where settings came from
    // and never a secret; the actor of a request is HMAC(log key, fiscal code), not a plain
    // hash of it.
    let log = stop(child);
    let lines: Vec<Value> = BufReader::new(log.as_bytes())
        .lines()
        .map(|l| {
            let l = l.expect("line");
            serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
        })
        .collect();
    assert!(!log.contains(TEST_JWT_SECRET), "a secret in the logs");
    assert!(!log.contains(log_key), "the log key in the logs");
    assert!(!log.contains('\u{1b}'), "ANSI codes when not on a terminal");
    let summary = lines
        .iter()
        .find(|l| l["fields"]["message"] == "configuration")
        .expect("a start-up summary");
    assert_eq!(summary["fields"]["token_keys"], "hs256-secret");
    assert_eq!(summary["fields"]["log_tag_key"], "set");
    let from = summary["fields"]["from_files"]
        .as_str()
        .expect("from_files");
    assert!(
        from.contains("jwt_secret<-DIARIO_JWT_SECRET_FILE") && from.contains("addr<-file"),
        "{from}"
    );
    let cf = diario_api::domain::FiscalCode::parse(cf::PLATFORM_ADMIN).expect("cf");
    let tag = diario_api::auth::log_tag(log_key.as_bytes(), &cf);
    let plain = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(cf.as_str().as_bytes());
        digest[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_ne!(tag, plain);
    let served: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request served")
        .collect();
    assert!(
        served.iter().any(
            |l| l["span"]["actor"] == tag.as_str() && l["span"]["route"] == "/v1/organisations"
        ),
        "{served:?}"
    );
    assert!(!log.contains(&plain) && !log.contains(cf::PLATFORM_ADMIN));
    assert!(
        served.iter().any(|l| l["span"]["trace_id"] == trace_id
            && l["span"]["span_id"] == server_span.as_str()
            && l["span"]["route"] == "/v1/cases/{id}"),
        "{served:?}"
    );
}

#[tokio::test]
async fn operations_a_second_server_on_one_sqlite_file_refuses_to_start() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("diario.db").display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = serve(&[])
        .env("DATABASE_URL", &url)
        .env("DIARIO_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the first server");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut first).await;

    let second = serve(&[])
        .env("DATABASE_URL", &url)
        .env("DIARIO_ADDR", format!("127.0.0.1:{}", free_port()))
        .output()
        .expect("run the second server");
    assert!(!second.status.success(), "the second server started");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another diario server is already running on the SQLite database"),
        "{stderr}"
    );
    // The first one is untouched.
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    // Once it is gone (even killed), a server starts again on the same file.
    let _ = stop(first);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut again = serve(&[])
        .env("DATABASE_URL", &url)
        .env("DIARIO_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start again");
    wait_ready(&client, &base, &mut again).await;
    let _ = stop(again);
}

/// The repository's root (the workspace).
fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

#[test]
fn operations_the_systemd_unit_verifies_and_is_hardened() {
    let analyze = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output();
    assert!(
        analyze.is_ok_and(|o| o.status.success()),
        "systemd-analyze is required (apt-get install systemd; .ci/run does it)"
    );
    let unit = std::fs::read_to_string(repo().join("deploy/diario.service")).expect("the unit");
    let bin = diario_tests::diario_binary();
    // `verify` checks that ExecStart is executable: point it at the binary just built.
    let dir = temp_dir();
    let path = dir.join("diario.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/diario", bin.to_str().expect("utf-8 path")),
    )
    .expect("write the unit");
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze verify");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && stderr.trim().is_empty(),
        "{stderr}"
    );

    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze security");
    let report = String::from_utf8_lossy(&security.stdout);
    let level: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for diario.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in\n{report}"));
    assert!(level <= 2.0, "exposure {level} (want OK, ≤ 2.0):\n{report}");
}

#[test]
fn operations_the_shipped_configuration_file_is_understood() {
    let dir = temp_dir();
    let out = diario_command(&["migrate"])
        .env("DIARIO_CONFIG", repo().join("deploy/diario.toml"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("d.db").display()),
        )
        .output()
        .expect("diario migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A misspelt key stops the binary with the key named.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "adress = \"127.0.0.1:1\"\n").expect("write");
    let out = diario_command(&["--config", bad.to_str().expect("utf-8"), "migrate"])
        .output()
        .expect("diario migrate");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown setting `adress`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn operations_the_dockerfile_builds_the_binary_and_runs_it_unprivileged_with_a_health_check() {
    // No container engine runs here: the conventions are checked on the text.
    let text = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let froms = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "multi-stage");
    assert!(text.contains("cargo build --release --locked -p diario-api --bin diario"));
    let user = text
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && user != "USER 0", "{user}");
    assert!(text.contains("HEALTHCHECK") && text.contains("/readyz"));
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).expect(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target"));
}

#[tokio::test]
async fn operations_spans_are_exported_over_otlp_under_the_callers_trace() {
    // A collector that speaks OTLP/HTTP: it keeps every protobuf body POSTed to /v1/traces
    // (the OpenTelemetry Collector is not installed here; the exporter is the real one).
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let keep = received.clone();
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().expect("lock").push(body.to_vec());
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let collector_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let dir = temp_dir();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = serve(&[])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("d.db").display()),
        )
        .env("DIARIO_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "DIARIO_OTLP_ENDPOINT",
            format!("http://{collector_addr}/v1/traces"),
        )
        .env("DIARIO_OTLP_SERVICE_NAME", "diario-test")
        // The SDK's batch delay (ms), short for the test.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start diario serve");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut child).await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let parent = "b7ad6b7169203331";
    let r = client
        .get(format!("{base}/healthz"))
        .header("traceparent", format!("00-{trace_id}-{parent}-01"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200);
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
            .collect()
    };
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let mut exported = false;
    for _ in 0..100 {
        let bodies = received.lock().expect("lock").clone();
        // The request's span, in the caller's trace, child of the caller's span, from this
        // service.
        if bodies.iter().any(|b| {
            contains(b, &hex(trace_id))
                && contains(b, &hex(parent))
                && contains(b, b"diario-test")
                && contains(b, b"/healthz")
        }) {
            exported = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop(child);
    assert!(exported, "no span of the request reached the collector");
}
