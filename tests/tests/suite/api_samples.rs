//! Samples for controls over real HTTP on both backends: drawn by an auditor, recorded with
//! seed, log position and population, redrawn in a few lines of Python from those alone with
//! the documented ranking; scoped for an ATS operator; exported with a link to each dossier.

use diario_tests::datagen::{Seeded, append_case, typical_case_of};
use diario_tests::{ApiServer, Backend, cf};
use serde_json::{Value, json};

use crate::api_scenario::{grant_roles, t0};

diario_tests::scenario_on_each_backend! {
    samples =>
        a_sample_is_redrawn_in_python_from_its_seed_position_and_population_on_postgres,
        a_sample_is_redrawn_in_python_from_its_seed_position_and_population_on_sqlite;
}

/// Redraws the sample from the exported JSON alone and checks the thresholds per stratum;
/// prints the cases drawn, one per line.
const REDRAW_PY: &str = r#"
import hashlib, json, sys
s = json.load(open(sys.argv[1], encoding="utf-8"))
pop, seed = s["population"], s["seed"]
canon = json.dumps([{k: o[k] for k in ("ats", "case_id", "expenditure_cents", "provider")} for o in pop],
                   sort_keys=True, separators=(",", ":"), ensure_ascii=False)
assert hashlib.sha256(canon.encode("utf-8")).hexdigest() == s["population_sha256"], "population digest"
rank = lambda o: (hashlib.sha256((seed + ":" + o["case_id"]).encode("utf-8")).hexdigest(), o["case_id"])
strata = {}
for o in pop:
    strata.setdefault((o["ats"], o["provider"]), []).append(o)
drawn = []
for key in sorted(strata):
    ops = sorted(strata[key], key=rank)
    total = sum(o["expenditure_cents"] for o in ops)
    need_ops = -(-len(ops) * s["operations_pct"] // 100)
    need_amount = -(-total * s["expenditure_pct"] // 100)
    taken, amount = 0, 0
    for o in ops:
        if taken >= need_ops and amount >= need_amount:
            break
        drawn.append(o["case_id"]); taken += 1; amount += o["expenditure_cents"]
    assert taken * 100 >= len(ops) * s["operations_pct"], key
    assert amount * 100 >= total * s["expenditure_pct"], key
assert drawn == [c["case_id"] for c in s["selected"]], "same cases, same order"
print("\n".join(drawn))
"#;

fn redraw(sample: &[u8]) -> Vec<String> {
    let (ok, out) = diario_tests::python_on(REDRAW_PY, sample);
    assert!(ok, "Python redraws the sample: {out}");
    out.lines().map(str::to_owned).collect()
}

async fn samples(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    // 48 cases with confirmed hours, 12 in each (ATS, provider), written as history.
    let measure = diario_api::domain::Measure::up_default().expect("#UP");
    let start = chrono::NaiveDate::from_ymd_opt(2024, 3, 4).expect("date");
    let mut rng = Seeded::new(2026);
    for (ats, provider) in [
        ("ATS-MILANO", "ENTE-ALFA"),
        ("ATS-MILANO", "ENTE-BETA"),
        ("ATS-BERGAMO", "ENTE-ALFA"),
        ("ATS-BERGAMO", "ENTE-GAMMA"),
    ] {
        for _ in 0..12 {
            let days = rng.below(9) as u32;
            let case = typical_case_of(&mut rng, &measure, start, days, ats, provider);
            append_case(server.db.db.event_store().as_ref(), &case, 50)
                .await
                .expect("append case");
        }
    }
    server.catch_up().await;

    let draw = |who: &'static str, body: Value| server.call("POST", "/v1/samples", who, Some(body));
    let drawn = draw(cf::AUDITOR, json!({ "seed": "estrazione-2026-12-03" }))
        .header("idempotency-key", "sample-1")
        .send()
        .await;
    assert_eq!(drawn.status, 201, "{}", drawn.json);
    let s = &drawn.json;
    assert_eq!(s["population_size"], 48, "{s}");
    assert_eq!(
        (s["operations_pct"].as_u64(), s["expenditure_pct"].as_u64()),
        (Some(5), Some(10))
    );
    assert!(
        s["position"].as_str().is_some_and(|p| p != "0:0"),
        "{}",
        s["position"]
    );
    let selected = s["selected"].as_array().expect("selected");
    assert!(
        !selected.is_empty() && selected.len() < 48,
        "a sample, not everything: {}",
        selected.len()
    );
    let redrawn = redraw(&drawn.bytes);
    assert_eq!(redrawn.len(), selected.len());

    // The recorded event holds the same: seed, position and population.
    let id = s["sample_id"].as_str().expect("id").to_owned();
    let event = server
        .db
        .count(&format!(
            "SELECT count(*) FROM events WHERE event_type = 'SampleDrawn' AND stream_id = 'sample-{id}'"
        ))
        .await;
    assert_eq!(event, 1);
    let again = server
        .call("GET", format!("/v1/samples/{id}"), cf::AUDITOR, None)
        .send()
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json["selected"], s["selected"]);
    assert_eq!(redraw(&again.bytes), redrawn);
    // A retry with the key is the first draw, not a new one.
    let retry = draw(cf::AUDITOR, json!({ "seed": "estrazione-2026-12-03" }))
        .header("idempotency-key", "sample-1")
        .send()
        .await;
    assert_eq!(retry.json["sample_id"], s["sample_id"]);

    // The list with a link to each dossier, which the auditor can open.
    let csv = server
        .call(
            "GET",
            format!("/v1/samples/{id}/selection.csv"),
            cf::AUDITOR,
            None,
        )
        .send()
        .await;
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.bytes.clone()).expect("utf-8");
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "case_id,ats,provider,expenditure_cents,rank_key,dossier"
    );
    assert_eq!(rows.len(), selected.len() + 1);
    let first_link = selected[0]["dossier"].as_str().expect("link");
    assert!(rows[1].ends_with(first_link), "{}", rows[1]);
    let dossier = server
        .call("GET", first_link, cf::AUDITOR, None)
        .send()
        .await;
    assert_eq!(dossier.status, 200, "{}", dossier.json);

    // An ATS operator samples their own ATS only; the all-ATS sample is not theirs.
    let mine = draw(cf::ATS_OPERATOR, json!({})).send().await;
    assert_eq!(mine.status, 201, "{}", mine.json);
    assert_eq!(
        (
            mine.json["ats"].as_str(),
            mine.json["population_size"].as_u64()
        ),
        (Some("ATS-MILANO"), Some(24))
    );
    assert!(
        mine.json["seed"].as_str().is_some_and(|s| s.len() == 32),
        "a drawn seed is recorded"
    );
    redraw(&mine.bytes);
    draw(cf::ATS_OPERATOR, json!({ "ats": "ATS-BERGAMO" }))
        .refused(403, "ats-access-denied")
        .await;
    server
        .call("GET", format!("/v1/samples/{id}"), cf::ATS_OPERATOR, None)
        .refused(404, "not-found")
        .await;
    draw(cf::PSICOLOGO, json!({}))
        .refused(403, "ats-access-denied")
        .await;

    // Bad thresholds and seeds name the field; nothing is written.
    let bad = draw(cf::AUDITOR, json!({ "operations_pct": 0 }))
        .refused(422, "invalid-sample-threshold")
        .await;
    assert_eq!(bad["field"], "operations_pct");
    let bad = draw(cf::AUDITOR, json!({ "seed": "con spazi" }))
        .refused(422, "invalid-sample-seed")
        .await;
    assert_eq!(bad["field"], "seed");
    let samples = server
        .db
        .count("SELECT count(*) FROM events WHERE event_type = 'SampleDrawn'")
        .await;
    assert_eq!(samples, 2);
    server.stop().await;
}
