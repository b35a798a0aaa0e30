//! The case dossier for an auditor over real HTTP on both backends: exported in one request,
//! its hash chain recomputed by an independent implementation (a few lines of Python with
//! `hashlib`, and the `jq` + `sha256sum` recipe the dossier itself ships), and one tampered
//! byte detected by both.

use std::io::Write;
use std::process::Command;

use diario_tests::{ApiServer, Backend, cf};

use crate::api_scenario::{CaseApi, grant_roles, psicologo_entry, t0};

diario_tests::scenario_on_each_backend! {
    dossier_recomputed =>
        a_dossier_chain_is_recomputed_without_our_code_and_a_tampered_byte_is_found_on_postgres,
        a_dossier_chain_is_recomputed_without_our_code_and_a_tampered_byte_is_found_on_sqlite;
}

/// Recomputes the chain from the exported file alone; prints the last hash, exits 1 on the
/// first broken link.
const VERIFY_PY: &str = r#"
import hashlib, json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
prev = "0" * 64
for n, e in enumerate(d["events"], 1):
    env = e["envelope"]
    if env["stream_version"] != n or e["prev_hash"] != prev:
        print("broken link at", n); sys.exit(1)
    canon = json.dumps(env, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    h = hashlib.sha256((prev + canon).encode("utf-8")).hexdigest()
    if h != e["hash"]:
        print("hash mismatch at", n); sys.exit(1)
    prev = h
if d["head"] != {"version": len(d["events"]), "hash": prev}:
    print("head mismatch"); sys.exit(1)
print(prev)
"#;

fn run(command: &mut Command) -> (bool, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn python(file: &std::path::Path) -> (bool, String) {
    diario_tests::python_on(VERIFY_PY, &std::fs::read(file).expect("the dossier"))
}

/// The recipe shipped in the dossier (`how_to_verify.shell`), run by bash in the file's
/// directory; it reads `dossier.json`.
fn shell_recipe(dir: &std::path::Path, recipe: &str) -> (bool, String) {
    run(Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {recipe}"))
        .current_dir(dir))
}

async fn dossier_recomputed(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await;
    for (start, end) in [("09:00", "10:00"), ("11:00", "12:30")] {
        case.record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", start, end),
        )
        .await;
    }
    case.validate(1, None).await;
    case.add_output(1).await;
    case.close_phase(1).await;
    server.catch_up().await;

    // Only auditors and the case's ATS export it.
    case.call("GET", "/dossier", cf::PSICOLOGO, None)
        .refused(403, "audit-access-denied")
        .await;
    let exported = case.call("GET", "/dossier", cf::AUDITOR, None).send().await;
    assert_eq!(exported.status, 200, "{}", exported.json);
    let d = &exported.json;
    assert_eq!(d["format"], "diario-online/case-dossier/1");
    assert_eq!(d["chain"]["intact"], true, "{}", d["chain"]);
    let events = d["events"].as_array().expect("events");
    let view = case.view(cf::AUDITOR).send().await;
    assert_eq!(
        events.len() as i64,
        view.json["version"].as_i64().expect("version"),
        "every event of the case"
    );
    assert!(
        d["checklists"].as_array().is_some_and(|c| !c.is_empty()),
        "the closure's Art. 8 checklist: {}",
        d["checklists"]
    );
    assert_eq!(d["diary"]["case_id"], case.id.to_string());
    let recipe = d["how_to_verify"]["shell"].as_str().expect("recipe");

    let dir = std::env::temp_dir().join(format!("diario-dossier-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("dossier.json");
    std::fs::File::create(&file)
        .and_then(|mut f| f.write_all(&exported.bytes))
        .expect("write dossier");
    let (ok, out) = python(&file);
    assert!(ok, "Python recomputes the chain: {out}");
    assert_eq!(out.trim(), d["head"]["hash"].as_str().expect("head"));
    let (ok, out) = shell_recipe(&dir, recipe);
    assert!(ok, "the shipped jq + sha256sum recipe verifies: {out}");
    assert!(out.contains("catena integra"), "{out}");

    // One byte of one event changed (a minute of the first entry's end): both find it.
    let text = String::from_utf8(exported.bytes.clone()).expect("utf-8");
    let at = text
        .find("\"end\":\"10:00\"")
        .expect("the first entry's end")
        + 11;
    let mut tampered = exported.bytes.clone();
    assert_eq!(tampered[at], b'0');
    tampered[at] = b'3';
    std::fs::write(&file, &tampered).expect("write tampered");
    let (ok, out) = python(&file);
    assert!(!ok, "Python finds the tampered byte: {out}");
    assert!(out.contains("hash mismatch"), "{out}");
    let (ok, out) = shell_recipe(&dir, recipe);
    assert!(!ok, "the recipe finds the tampered byte: {out}");
    assert!(out.contains("hash diverso alla versione"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
    server.stop().await;
}
