//! Issue 17, documents of the pathway (Art. 1) and the ATS's four-eyes check of paper scans,
//! over real HTTP on both backends: a phase is not closed without its output; the PI is
//! uploaded (a PDF, stored by hash, downloadable byte for byte), listed, shared through the
//! fake FirmaLOM and confirmed by a signed callback; the PDI caps name the PDI version and a
//! raise after phase III hours needs a reason the ATS reads; a paper scan's hours are "awaiting
//! check" in the cost report until an ATS operator other than the uploader checks the scan.

use diario_tests::{Backend, FirmalomServer, FirmalomSetup, cf, sample_pdf};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{CaseApi, educatore_entry, pdi, request_id, t0};
use crate::firmalom_e2e::{
    callback, event_types, phase_one_ready, png_scan, post_callback, upload, wait_notified,
    with_fake_firmalom,
};

diario_tests::scenario_on_each_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    outputs_documents_and_pdi => a_phase_closes_with_its_output_and_documents_go_through_firmalom_on_postgres,
        a_phase_closes_with_its_output_and_documents_go_through_firmalom_on_sqlite;
    paper_scans_checked => paper_scan_hours_await_the_ats_four_eyes_check_on_postgres,
        paper_scan_hours_await_the_ats_four_eyes_check_on_sqlite;
}

async fn documents(case: &CaseApi<'_>, who: &str) -> Value {
    case.call("GET", "/documents", who, None).await
}

async fn outputs_documents_and_pdi(backend: Backend) {
    let (fake, server) = with_fake_firmalom(backend).await;
    let (case_id, _) = phase_one_ready(&server, true).await;
    let case = CaseApi::of(&server, case_id);

    // Art. 1: phase I closes with the Progetto individualizzato.
    let missing = case
        .close_phase(1)
        .refused(422, "closing-document-missing")
        .await;
    assert!(
        missing["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Progetto individualizzato"))
    );
    let before = documents(&case, cf::ATS_OPERATOR).await;
    assert_eq!(before["documents"], json!([]));
    assert!(
        before["missing_outputs"]
            .as_array()
            .is_some_and(|m| m.iter().any(|o| o["kind"] == "progetto_individualizzato")),
        "{before}"
    );

    // Bad uploads write nothing: not a PDF, an unknown kind, someone outside the phase's staff.
    let pi = sample_pdf("Progetto individualizzato del caso di prova");
    let upload_as = |who: &'static str, kind: &'static str, bytes: Vec<u8>| {
        let server = &server;
        async move { server.upload_document(case_id, who, kind, &bytes).await }
    };
    let r = upload_as(cf::RESP_ASST, "progetto_individualizzato", png_scan()).await;
    assert_eq!(
        (r.status, r.problem_code()),
        (415, "unsupported-document-type".into()),
        "{}",
        r.json
    );
    let r = upload_as(cf::RESP_ASST, "pagella", pi.clone()).await;
    assert_eq!(
        (r.status, r.problem_code()),
        (422, "document-kind-unknown".into()),
        "{}",
        r.json
    );
    let r = upload_as(cf::PSICOLOGO, "progetto_individualizzato", pi.clone()).await;
    assert_eq!(
        (r.status, r.problem_code()),
        (403, "document-not-allowed".into()),
        "{}",
        r.json
    );
    let sha: String = <sha2::Sha256 as sha2::Digest>::digest(&pi)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let gone = server
        .send(
            "GET",
            &format!("/v1/documents/{sha}"),
            Some(cf::RESP_ASST),
            None,
            &[],
        )
        .await;
    assert_eq!(gone.status, 404, "a refused upload left its bytes behind");

    // The PI by the ASST's responsabile: recorded with kind, version and hash.
    let r = upload_as(cf::RESP_ASST, "progetto_individualizzato", pi.clone()).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let added = &r.json["events"][0];
    assert_eq!(added["type"], "DocumentAdded");
    assert_eq!(
        (added["version"].as_u64(), added["document_sha256"].as_str()),
        (Some(1), Some(sha.as_str()))
    );
    let document_id: Uuid = added["document_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    let listed = documents(&case, cf::ATS_OPERATOR).await;
    let doc = &listed["documents"][0];
    assert_eq!(doc["kind_name"], "Progetto individualizzato (PI)");
    assert_eq!(
        (
            doc["phase"].as_u64(),
            doc["latest"].as_bool(),
            doc["closes_phase"].as_bool()
        ),
        (Some(1), Some(true), Some(true))
    );
    assert_eq!(doc["recorded_by"], cf::RESP_ASST);
    assert!(
        !listed["missing_outputs"]
            .as_array()
            .expect("list")
            .iter()
            .any(|o| o["phase"] == 1),
        "{listed}"
    );
    let download = server
        .send(
            "GET",
            doc["href"].as_str().expect("href"),
            Some(cf::ATS_OPERATOR),
            None,
            &[],
        )
        .await;
    assert_eq!(download.status, 200);
    assert_eq!(
        download.bytes, pi,
        "the stored document is the uploaded one, byte for byte"
    );

    // Shared through FirmaLOM: the notification names the document; the parent confirms it.
    let shared = case
        .call(
            "POST",
            &format!("/documents/{document_id}/share"),
            cf::RESP_ASST,
            None,
        )
        .yielding(201, |b| b)
        .await;
    let share_id = request_id(&shared);
    wait_notified(&fake, share_id, 1).await;
    let notification = fake
        .received()
        .into_iter()
        .find(|n| n.request_id == share_id)
        .expect("notified");
    assert_eq!(notification.kind, "document_shared");
    let notified = notification
        .document
        .expect("the document in the notification");
    assert_eq!(
        (notified.document_id, notified.document_sha256.as_str()),
        (document_id, sha.as_str())
    );
    assert!(notification.entries.is_empty());
    case.call(
        "POST",
        &format!("/documents/{document_id}/share"),
        cf::RESP_ASST,
        None,
    )
    .refused(409, "document-share-pending")
    .await;
    let answered = post_callback(&server, &callback(case_id, share_id, cf::PARENT, true)).await;
    assert_eq!(answered.status, 200, "{}", answered.json);
    assert_eq!(answered.json["events"][0]["type"], "DocumentAnswered");
    let listed = documents(&case, cf::RESP_ASST).await;
    assert_eq!(
        listed["documents"][0]["shares"][0]["status"], "confirmed",
        "{listed}"
    );
    assert_eq!(
        listed["documents"][0]["shares"][0]["answered_by"],
        cf::PARENT
    );

    // Now the diary closes; the audit trail lists the document and its sharing.
    let closed = case.close_phase(1).await;
    let r1 = request_id(&closed);
    server.catch_up().await;
    let trail = case.call("GET", "/audit-trail", cf::AUDITOR, None).await;
    let descriptions: Vec<&str> = trail["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["description"].as_str())
        .collect();
    assert!(
        descriptions
            .iter()
            .any(|d| d.contains("Progetto individualizzato") && d.contains(&sha)),
        "{descriptions:?}"
    );
    assert!(
        descriptions.iter().any(|d| d.contains("confermato da")),
        "{descriptions:?}"
    );

    // Phase II: the PDI caps need the PDI, and name its version.
    wait_notified(&fake, r1, 1).await;
    let confirmed = post_callback(&server, &callback(case_id, r1, cf::PARENT, true)).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.json);
    case.start_phase_two(&["educatore_professionale"]).await;
    case.set_pdi(pdi("contrasto_dispersione_scolastica", 600, Some(1200)))
        .refused(422, "pdi-document-required")
        .await;
    let pdi_id = case.add_output(2).await;
    let set = case
        .set_pdi(pdi("contrasto_dispersione_scolastica", 600, Some(1200)))
        .await;
    assert_eq!(
        set["events"][0]["document"]["document_id"],
        pdi_id.to_string()
    );
    assert_eq!(set["events"][0]["document"]["version"], 1);
    case.open_phase(3).await;
    let entry = educatore_entry(
        3,
        "contrasto_dispersione_scolastica",
        ["2024-03-04", "14:00", "15:00"],
    );
    case.record_entry(cf::EDUCATORE, entry).await;
    // Raising a cap once phase III has hours needs a reason, and the ATS reads it.
    case.set_pdi(pdi("contrasto_dispersione_scolastica", 900, Some(1200)))
        .refused(422, "pdi-raise-reason-missing")
        .await;
    let mut raised = pdi("contrasto_dispersione_scolastica", 900, Some(1200));
    raised["reason"] = json!("PDI rivisto dopo la verifica intermedia");
    let set = case.set_pdi(raised).await;
    assert_eq!(set["events"][0]["raised_after_hours"], true);
    let listed = documents(&case, cf::ATS_OPERATOR).await;
    assert_eq!(listed["pdi"]["pdi_version"], 1);
    assert_eq!(
        listed["pdi"]["raises"][0]["reason"], "PDI rivisto dopo la verifica intermedia",
        "{listed}"
    );
    let e = case
        .record_entry(
            cf::EDUCATORE,
            educatore_entry(
                3,
                "contrasto_dispersione_scolastica",
                ["2024-03-04", "15:00", "16:00"],
            ),
        )
        .await;
    let checklist = case
        .request_confirmation(3, &[e])
        .yielding(201, |b| b)
        .await;
    let checklist = &checklist["events"][0]["checklist"];
    assert_eq!(
        checklist["pdi_document"]["document_id"],
        pdi_id.to_string(),
        "{checklist}"
    );
    assert!(
        event_types(&server, case_id)
            .await
            .iter()
            .any(|(t, _)| t == "DocumentShared")
    );
    server.stop().await;
}

async fn cost_statuses(server: &FirmalomServer, case_id: Uuid) -> Vec<String> {
    server.catch_up().await;
    let r = server
        .send(
            "GET",
            &format!("/v1/reports/costs?case_id={case_id}"),
            Some(cf::ATS_OPERATOR),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn paper_scans_checked(backend: Backend) {
    let server = FirmalomServer::start(backend, t0(), FirmalomSetup::callbacks_only()).await;
    let (case_id, _) = phase_one_ready(&server, false).await;
    let case = CaseApi::of(&server, case_id);
    case.add_output(1).await;
    case.close_phase(1).await;
    let pdf = case
        .call("POST", "/phases/1/paper-diary", cf::RESP_ASST, None)
        .send()
        .await;
    assert_eq!(pdf.status, 201);
    let paper_id: Uuid = pdf
        .header("x-diario-paper-id")
        .and_then(|s| s.parse().ok())
        .expect("paper id");
    let scan = png_scan();
    let r = upload(
        &server,
        case_id,
        &scan,
        ("scan.png", "image/png"),
        cf::PARENT,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    // Confirmed on paper, not yet checked: not claimable.
    assert_eq!(
        cost_statuses(&server, case_id).await,
        vec!["awaiting-check"]
    );
    let listed = documents(&case, cf::ATS_OPERATOR).await;
    assert_eq!(
        listed["paper_scans"][0]["check"], "awaiting_check",
        "{listed}"
    );

    let check = |who: &'static str, body: Value| {
        case.call(
            "POST",
            &format!("/paper-diaries/{paper_id}/check"),
            who,
            Some(body),
        )
    };
    // Only the ATS checks; the uploader's side cannot mark its own scan.
    check(cf::RESP_ASST, json!({ "accepted": true }))
        .refused(403, "not-ats-operator")
        .await;
    check(cf::ATS_OPERATOR, json!({ "accepted": false }))
        .refused(422, "reason-required")
        .await;
    let refused = check(
        cf::ATS_OPERATOR,
        json!({ "accepted": false, "reason": "firma illeggibile" }),
    )
    .await;
    assert_eq!(refused["events"][0]["type"], "PaperScanChecked");
    assert_eq!(cost_statuses(&server, case_id).await, vec!["scan-refused"]);
    check(cf::ATS_OPERATOR, json!({ "accepted": true }))
        .refused(409, "scan-not-awaiting-check")
        .await;

    // A new scan of the same signed diary replaces it and awaits its own check.
    let mut rescan = png_scan();
    rescan.extend_from_slice(b" nuova scansione leggibile");
    let paper = paper_id.to_string();
    let r = server
        .send_multipart(
            &format!("/v1/cases/{case_id}/phases/1/paper-confirmation"),
            cf::RESP_ASST,
            &[
                ("file", Some("scan2.png"), "image/png", &rescan),
                ("signed_by", None, "text/plain", cf::PARENT.as_bytes()),
                ("paper_id", None, "text/plain", paper.as_bytes()),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        cost_statuses(&server, case_id).await,
        vec!["awaiting-check"]
    );
    let checked = check(cf::ATS_OPERATOR, json!({ "accepted": true })).await;
    assert_eq!(checked["events"][0]["accepted"], true);
    assert_eq!(cost_statuses(&server, case_id).await, vec!["claimable"]);
    let listed = documents(&case, cf::AUDITOR).await;
    assert_eq!(listed["paper_scans"][0]["check"], "checked");
    assert_eq!(listed["paper_scans"][0]["checked_by"], cf::ATS_OPERATOR);
    server.stop().await;
}
