//! The API contract, tried by a tool that reads only the served OpenAPI document:
//! schemathesis (pip) against a real `diario demo` (its data and tokens), with a fixed seed and
//! a bounded number of examples, in its stateless phases (examples, coverage, fuzzing) and its
//! stateful one (following the document's links). Every check is on: no 5xx, responses conform
//! to the document (status, headers, bodies, content types), schema-violating requests are
//! refused, and a schema-valid request is refused only with a problem code the operation
//! documents (`tests/schemathesis/hooks.py`). The FirmaLOM callback is left out: it takes an
//! HMAC signature over the body that a generator cannot make (its own tests cover it).

use diario_tests::demo::{DemoProcess, token_of};

fn schemathesis(base: &str, token: &str) -> std::process::Output {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis");
    std::process::Command::new("schemathesis")
        .current_dir(&dir)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", &dir)
        .env("NO_COLOR", "1")
        .args(["--config-file", "schemathesis.toml", "run"])
        .arg(format!("{base}/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--exclude-path",
            "/v1/firmalom/callbacks",
            "--checks",
            "all",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("schemathesis cannot run ({e}): pip install schemathesis (.ci/run does it)")
        })
}

#[tokio::test]
async fn api_contract_schemathesis_finds_no_server_error_no_nonconforming_answer_and_no_undocumented_refusal()
 {
    let demo = DemoProcess::start().await;
    let lines = demo.printed();
    // A responsabile (writes on real cases) and the platform administrator (organisations,
    // grants): two runs, each on the same fixed seed.
    for who in ["Chiara Bianchi", "amministratore della piattaforma"] {
        let token = token_of(&lines, who);
        let base = demo.base.clone();
        let out = tokio::task::spawn_blocking(move || schemathesis(&base, &token))
            .await
            .expect("schemathesis run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis as {who} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tested: usize = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("Tested: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        assert!(
            tested >= 40,
            "schemathesis tested {tested} operations as {who}:\n{stdout}"
        );
    }
}
