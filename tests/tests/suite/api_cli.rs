//! The `diario` binary's API subcommands: `token` mints development tokens the server accepts,
//! `grant add|revoke|list` manages organisation roles as events (both backends).

use diario_api::domain::grants::GrantRole;
use diario_tests::{Backend, TestDb, cf, diario_command, run_ok};

const SECRET: &str = "cli-test-secret-0123456789abcdef-0123456789";

#[test]
fn api_cli_token_mints_a_token_the_server_accepts() {
    let sub = format!("TINIT-{}", cf::RESP_ASST);
    let token = run_ok(
        diario_command(&["token", "--sub", &sub, "--ttl", "2h"])
            .env("DIARIO_JWT_SECRET", SECRET)
            .env("DIARIO_JWT_ISSUER", "https://idp.test")
            .env_remove("DIARIO_JWT_AUDIENCE")
            .env_remove("DIARIO_JWT_PUBLIC_KEY_FILE"),
    );
    let verifier = |issuer: &str| {
        diario_api::AuthConfig::disabled()
            .with_secret(SECRET.as_bytes())
            .expect("secret")
            .with_issuer(Some(issuer.into()))
    };
    let verify = |config: diario_api::AuthConfig| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(config.verify(token.trim()))
    };
    let who = verify(verifier("https://idp.test")).expect("the minted token verifies");
    assert_eq!(who.as_str(), cf::RESP_ASST);
    // Another issuer is refused.
    assert!(verify(verifier("https://other")).is_err());

    let no_secret = diario_command(&["token", "--sub", cf::RESP_ASST])
        .env_remove("DIARIO_JWT_SECRET")
        .output()
        .expect("run diario token");
    assert!(!no_secret.status.success(), "minting needs the secret");
    let bad_cf = diario_command(&["token", "--sub", "RSSMRA85T10A562X"])
        .env("DIARIO_JWT_SECRET", SECRET)
        .output()
        .expect("run diario token");
    assert!(
        !bad_cf.status.success(),
        "the subject must be a fiscal code"
    );
}

async fn grants(backend: Backend) {
    let db = TestDb::new(backend).await;
    let grant = |args: &[&str]| {
        let mut command = diario_command(&["grant"]);
        command.args(args).env("DATABASE_URL", &db.url);
        command
    };
    let run = |args: &[&str]| run_ok(&mut grant(args));
    run(&[
        "add",
        "--cf",
        cf::ATS_OPERATOR,
        "--role",
        "ats_operator",
        "--scope",
        "ATS-MILANO",
    ]);
    run(&["add", "--cf", cf::SUPPORT, "--role", "support"]);
    let listed = run(&["list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("ATS-MILANO"));
    run(&["revoke", "--cf", cf::SUPPORT, "--role", "support"]);
    let (in_force, version) = diario_tests::handler(&db.db)
        .grants()
        .await
        .expect("grants");
    assert_eq!(version, 3, "three events in the grants stream");
    assert_eq!(in_force.len(), 1);
    assert!(in_force.iter().all(|g| g.role == GrantRole::AtsOperator));
    // The role is spelled as in the API (`ats_operator`); without a scope, or with a scope the
    // registry does not hold, the grant is refused by the rule, not by the argument parser.
    for extra in [&[][..], &["--scope", "ATS-MILAN0"][..]] {
        let mut args = vec!["add", "--cf", cf::OUTSIDER, "--role", "ats_operator"];
        args.extend_from_slice(extra);
        let out = grant(&args).output().expect("run diario grant");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr.contains("scope") || stderr.contains("ATS-MILAN0"),
            "{args:?}: {stderr}"
        );
        assert_ne!(
            out.status.code(),
            Some(2),
            "not an argument error: {stderr}"
        );
    }
    db.cleanup().await;
}

diario_tests::scenario_on_each_backend!(grants =>
    api_cli_grants_are_events_on_postgres,
    api_cli_grants_are_events_on_sqlite);

/// History recorded before agendas existed: two cases that billed the same psicologo's phase I
/// hours on the same morning (appended to the log directly, as the old service let them be).
/// `diario agenda overlaps` reports them; `diario agenda import` claims every live entry once.
async fn agenda_history(backend: Backend) {
    use diario_tests::datagen::{Seeded, append_case, typical_case};
    let db = TestDb::new(backend).await;
    let measure = diario_api::domain::Measure::up_default().expect("the #UP measure");
    let start = chrono::NaiveDate::from_ymd_opt(2024, 3, 4).expect("date");
    let mut rng = Seeded::new(7);
    let mut live = 0;
    for _ in 0..2 {
        let case = typical_case(&mut rng, &measure, start, 2);
        append_case(db.db.event_store().as_ref(), &case, 50)
            .await
            .expect("append history");
        live += case.state.file.as_ref().map_or(0, |f| f.entries.len());
    }
    let agenda = |action: &str| {
        let mut command = diario_command(&["agenda", action]);
        command.env("DATABASE_URL", &db.url);
        run_ok(&mut command)
    };
    let report = agenda("overlaps");
    let overlaps: Vec<serde_json::Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON per line"))
        .collect();
    let psicologo: Vec<_> = overlaps
        .iter()
        .filter(|o| o["professional"] == cf::PSICOLOGO)
        .collect();
    assert_eq!(
        psicologo.len(),
        2,
        "both phase I hours, billed twice: {report}"
    );
    assert!(
        psicologo
            .iter()
            .all(|o| o["across_cases"] == true && o["first"]["case_id"] != o["second"]["case_id"]),
        "{report}"
    );
    assert_eq!(
        psicologo[0]["first"]["start"], "09:00",
        "the report names the slot: {report}"
    );

    let imported: serde_json::Value = serde_json::from_str(&agenda("import")).expect("json");
    assert_eq!(
        imported["claims"], live,
        "every live entry claimed: {imported}"
    );
    let again: serde_json::Value = serde_json::from_str(&agenda("import")).expect("json");
    assert_eq!(
        again["claims"], 0,
        "a second import writes nothing: {again}"
    );
    let handler = diario_tests::handler(&db.db);
    let psi = diario_api::domain::FiscalCode::parse(cf::PSICOLOGO).expect("cf");
    let (claims, _) = handler.agenda(&psi).await.expect("agenda");
    assert_eq!(claims.len(), 4, "two phase I hours on each case");
    assert_eq!(
        diario_api::domain::agenda::overlaps(&claims).len(),
        2,
        "the import keeps history's overlaps for the report"
    );
    db.cleanup().await;
}

diario_tests::scenario_on_each_backend!(agenda_history =>
    api_cli_agenda_reports_and_imports_the_history_on_postgres,
    api_cli_agenda_reports_and_imports_the_history_on_sqlite);

/// An operator's catalogue file that refers to an unknown figure stops `diario serve` before
/// anything is served, naming the file and the reason (`--catalogue-dir`).
#[test]
fn api_cli_an_invalid_catalogue_file_stops_the_server_naming_it() {
    let dir = std::env::temp_dir().join(format!("diario-bad-catalogue-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut up: serde_json::Value =
        serde_json::from_str(diario_api::domain::catalogue::SHIPPED_MEASURES[0].1).expect("up");
    up["version"] = "2".into();
    up["effective_from"] = "2027-01-01".into();
    up["services"][0]["figures"] = serde_json::json!(["astronauta"]);
    std::fs::write(dir.join("up-2027.json"), up.to_string()).expect("write");
    let db = dir.join("diario.db");
    let out = diario_command(&["serve", "--addr", "127.0.0.1:0"])
        .env("DIARIO_CATALOGUE_DIR", &dir)
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("DIARIO_JWT_SECRET", SECRET)
        .output()
        .expect("run diario serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the server must not start: {stderr}");
    assert!(
        stderr.contains("up-2027.json") && stderr.contains("astronauta"),
        "the message names the file and the unknown figure: {stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
