//! `diario demo`: the binary writes the demo through the real command handler, serves it with
//! the development login announced in the log and on every page, and prints a working token
//! per person; `diario serve` has no development login.

use serde_json::Value;

#[tokio::test]
async fn diario_demo_serves_demo_data_with_the_announced_development_login() {
    let demo = diario_tests::demo::DemoProcess::start().await;
    let base = demo.base.clone();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let lines = demo.printed();
    let text = lines.join("\n");
    assert!(
        text.contains("DEVELOPMENT LOGIN"),
        "the log says so loudly:\n{text}"
    );
    let token_of = |name: &str| diario_tests::demo::token_of(&lines, name);

    // The API with a printed token: the ATS operator's dashboard counts the demo cases, the
    // ASST responsabile has work waiting, and the names are there.
    let get = |path: &str, token: String| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let r = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    let cases = get("/v1/ats/ATS-MILANO/cases", token_of("Mario Rossi")).await;
    assert_eq!(cases["items"].as_array().map(Vec::len), Some(9), "{cases}");
    // The two autonomia 2016 pathways, written in the measure's own calendar: the realised
    // one is due in full, the interrupted one its assessment only (€4,800 + €480).
    let vouchers = get(
        "/v1/reports/vouchers?as_of=2018-01-31",
        token_of("Mario Rossi"),
    )
    .await;
    assert_eq!(vouchers["due_cents"], 528_000, "{vouchers}");
    assert_eq!(vouchers["balance_cents"], 144_000, "{vouchers}");
    let mine = get("/v1/me/cases", token_of("Chiara Bianchi")).await;
    let waiting: Vec<String> = mine["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .flat_map(|c| c["waiting"].as_array().cloned().unwrap_or_default())
        .filter_map(|w| w["code"].as_str().map(str::to_owned))
        .collect();
    for code in [
        "to-validate",
        "rejected",
        "expired",
        "awaiting-confirmation",
    ] {
        assert!(waiting.contains(&code.to_owned()), "{code} in {waiting:?}");
    }
    let inbox = get("/v1/me/notifications", token_of("Chiara Bianchi")).await;
    assert!(
        inbox["notifications"]
            .as_array()
            .is_some_and(|n| n.len() >= 2),
        "{inbox}"
    );
    // Realistic: the psicologo, on every case, is never in two places at once.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Rome)
        .date_naive();
    let from = today - chrono::Duration::days(14);
    let week = get(
        &format!("/v1/me/entries?from={from}&to={today}"),
        token_of("Luca Galli"),
    )
    .await;
    let days = week["days"].as_array().expect("days");
    assert!(!days.is_empty(), "{week}");
    assert!(days.iter().all(|d| d["overlaps"] == false), "{week}");
    let failures = get("/v1/system-failures", token_of("Paolo Bruni")).await;
    assert_eq!(
        failures["items"].as_array().map(Vec::len),
        Some(1),
        "{failures}"
    );

    // The development login: the banner on the page, a demo person signs in, anyone else not.
    let page = client
        .get(format!("{base}/accedi-sviluppo"))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Ambiente dimostrativo"), "{html}");
    assert!(html.contains("Luca Galli"), "{html}");
    let login = |cf: &'static str| {
        client
            .post(format!("{base}/accedi-sviluppo"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("fiscal_code={cf}"))
            .send()
    };
    let refused = login("MRNLSU92B60G273X").await.expect("send");
    assert_eq!(refused.status(), 403, "only the demo's people");
    let signed = login("GLLLCU88E10D969Z").await.expect("send");
    assert_eq!(signed.status(), 303);
    let cookie = signed
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let home = client
        .get(format!("{base}/"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("html");
    assert!(home.contains("Ambiente dimostrativo"));
    assert!(home.contains("Luca Galli (GLLLCU88E10D969Z)"), "{home}");
    assert!(home.contains("UP-DEMO-001"), "{home}");
    // A form post without the session's CSRF token records nothing.
    let case_id = home
        .split("/pratiche/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to a case")
        .to_owned();
    let forged = client
        .post(format!("{base}/pratiche/{case_id}/prestazioni"))
        .header("cookie", cookie.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("_csrf=forged&phase=1&figure=psicologo&service=colloquio_valutazione&date=2026-01-01&start=09:00&end=10:00")
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), 403);
    let page = client
        .get(format!("{base}/pratiche/{case_id}"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("html");
    assert!(!page.contains("01/01/2026"), "nothing was recorded");
    drop(demo);
}

#[tokio::test]
async fn diario_serve_has_no_development_login() {
    let server =
        diario_tests::ApiServer::start(diario_tests::Backend::Sqlite, chrono::Utc::now()).await;
    let page = server
        .send("GET", "/accedi-sviluppo", None, None, &[])
        .await;
    assert_eq!(page.status, 404);
    let post = server
        .client
        .post(server.url("/accedi-sviluppo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("fiscal_code=GLLLCU88E10D969Z")
        .send()
        .await
        .expect("send");
    assert_eq!(post.status(), 404);
    assert!(post.headers().get("set-cookie").is_none());
    server.stop().await;
}

/// The pages in a real browser (Debian's chromium, playwright-core): WCAG 2.1 AA by axe-core
/// on each, Italian, keyboard-only sign-in and logout, a 360 px phone screen, an hour recorded
/// from the case page and a refusal tied to its field, the responsabile's validation and
/// closure, the paper diary to sign, the ATS dashboard (`tests/web/check.mjs`).
#[tokio::test]
async fn the_pages_pass_axe_and_work_with_the_keyboard_on_a_phone_in_chromium() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    diario_tests::npm_ci(&dir, "playwright-core");
    let demo = diario_tests::demo::DemoProcess::start().await;
    // Each checked page at phone and desktop width, for a reviewer (not committed).
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web-screenshots");
    std::fs::create_dir_all(&shots).expect("the screenshots directory");
    eprintln!("screenshots of the pages: {}", shots.display());
    let out = std::process::Command::new("node")
        .arg(dir.join("check.mjs"))
        .arg(&demo.base)
        .env("SCREENSHOTS", &shots)
        .output()
        .unwrap_or_else(|e| panic!("the browser tests need node (Node.js): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("check.mjs printed no report ({e}); is chromium installed (apt-get install chromium)?\n{stdout}\n{stderr}")
    });
    assert_eq!(report["failures"], serde_json::json!([]), "{report:#}");
    assert_eq!(
        report["pages"].as_array().map(Vec::len),
        Some(39),
        "{report:#}"
    );
    assert!(out.status.success(), "{stderr}");
}
