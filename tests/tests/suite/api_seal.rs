//! The daily seal over real HTTP on both backends: the heads of every stream sealed in one
//! Merkle root, recomputed in Python from the exported heads; a consistent rewrite of an event
//! by someone with the database in hand (payload, hash and stream head all redone, so the hash
//! chain verifies) is caught by comparing with the root kept elsewhere.

use diario_commands::CommandOptions;
use diario_tests::{ApiServer, Backend, cf, diario_command, run_ok};
use serde_json::Value;

use crate::api_scenario::{CaseApi, grant_roles, psicologo_entry, t0};

diario_tests::scenario_on_each_backend! {
    sealed =>
        a_consistent_rewrite_of_the_database_is_caught_by_the_daily_seal_on_postgres,
        a_consistent_rewrite_of_the_database_is_caught_by_the_daily_seal_on_sqlite;
}

/// The documented tree, from the exported heads alone.
const ROOT_PY: &str = r#"
import hashlib, json, sys
heads = json.load(open(sys.argv[1]))["heads"]
H = lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest()
level = [H(f'{h["stream_id"]}:{h["version"]}:{h["hash"]}') for h in sorted(heads, key=lambda h: h["stream_id"].encode())]
if not level:
    level = [H("")]
while len(level) > 1:
    level = [H(level[i] + level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
print(level[0])
"#;

fn python_root(seal: &[u8]) -> String {
    let (ok, out) = diario_tests::python_on(ROOT_PY, seal);
    assert!(ok, "{out}");
    out.trim().to_owned()
}

/// The root of the store's heads right now (what tomorrow's seal would record).
async fn current_root(server: &ApiServer) -> String {
    let heads: Vec<diario_api::domain::seal::SealedHead> = server
        .db
        .db
        .event_store()
        .stream_heads("")
        .await
        .expect("heads")
        .into_iter()
        .filter(|(id, _)| id != "seals")
        .map(|(stream_id, h)| diario_api::domain::seal::SealedHead {
            stream_id,
            version: h.version,
            hash: h.hash,
        })
        .collect();
    diario_api::domain::seal::merkle_root(&heads)
}

async fn sealed(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await;
    let entry = case
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "09:00", "10:00"),
        )
        .await;

    // The worker's pass (what `diario seal` runs too): once today, then nothing.
    let handler = &server.state.handler;
    let first = handler.seal(&CommandOptions::new()).await.expect("seal");
    assert_eq!(first.events.len(), 1);
    let again = handler.seal(&CommandOptions::new()).await.expect("seal");
    assert!(again.events.is_empty(), "one seal a day");

    server
        .call("GET", "/v1/seals", cf::ATS_OPERATOR, None)
        .refused(403, "seal-access-denied")
        .await;
    let list = server.call("GET", "/v1/seals", cf::AUDITOR, None).await;
    let seals = list["seals"].as_array().expect("seals");
    assert_eq!(seals.len(), 1, "{list}");
    let day = seals[0]["day"].as_str().expect("day").to_owned();
    assert_eq!(day, "2024-03-04");
    let seal = server
        .call("GET", format!("/v1/seals/{day}"), cf::AUDITOR, None)
        .send()
        .await;
    assert_eq!(seal.status, 200, "{}", seal.json);
    let kept_elsewhere = seal.json["root"].as_str().expect("root").to_owned();
    assert_eq!(
        python_root(&seal.bytes),
        kept_elsewhere,
        "recomputed without our code"
    );
    assert_eq!(current_root(&server).await, kept_elsewhere);
    let heads = seal.json["heads"].as_array().expect("heads");
    assert!(
        heads
            .iter()
            .any(|h| h["stream_id"] == format!("case-{}", case.id)),
        "the case is sealed"
    );

    // Someone with the database rewrites the entry's end time and redoes its hash and the
    // stream head: the chain verifies, the seal does not.
    let stream = diario_tests::case_stream(case.id);
    let store = server.db.db.event_store();
    let events = store.read_stream(&stream, 1).await.expect("read");
    let mut forged = events
        .iter()
        .find(|e| e.event_type == "EntryRecorded" && e.payload["entry_id"] == entry.to_string())
        .cloned()
        .expect("the entry's event");
    assert_eq!(forged.stream_version, events.len() as i64, "the last event");
    forged.payload["slot"]["end"] = Value::from("11:00");
    forged.payload["minutes"] = Value::from(120);
    forged.hash = diario_log::chain_hash(
        &forged.prev_hash,
        &diario_log::store::canonical_bytes(&forged),
    );
    let payload = forged.payload.to_string().replace('\'', "''");
    match backend {
        Backend::Postgres => {
            server
                .db
                .raw("ALTER TABLE events DISABLE TRIGGER USER")
                .await
        }
        Backend::Sqlite => server.db.raw("DROP TRIGGER events_no_update").await,
    }
    let cast = if backend == Backend::Postgres {
        "::jsonb"
    } else {
        ""
    };
    server
        .db
        .raw(&format!(
            "UPDATE events SET payload = '{payload}'{cast}, hash = '{}' \
             WHERE stream_id = '{stream}' AND stream_version = {}",
            forged.hash, forged.stream_version
        ))
        .await;
    server
        .db
        .raw(&format!(
            "UPDATE streams SET last_hash = '{}' WHERE stream_id = '{stream}'",
            forged.hash
        ))
        .await;
    let report = store.verify_stream(&stream).await.expect("verify");
    assert!(
        report.is_intact(),
        "a consistent rewrite passes the chain check: {report:?}"
    );
    assert_ne!(
        current_root(&server).await,
        kept_elsewhere,
        "but not the seal kept elsewhere"
    );

    // `diario seal` on the next day seals the rewritten head — the old root stays in the log.
    let out = run_ok(diario_command(&["seal"]).env("DATABASE_URL", &server.db.url));
    let printed: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(printed["sealed_now"], true, "{printed}");
    assert_ne!(printed["root"], Value::from(kept_elsewhere.as_str()));
    server.stop().await;
}
