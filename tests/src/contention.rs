//! Busy cases: entries sent all at once through two servers on one PostgreSQL database, with
//! several writers per case. Used by the suite (no write may be refused) and by
//! `diario-bench contention` (the latencies, against the same burst on as many cases as writes).

use std::time::{Duration, Instant};

use crate::{ApiServer, Backend, Served, cf, quiet_settings, test_auth};

/// The answers of one burst: status per write and the latencies, sorted.
#[derive(Debug)]
pub struct Burst {
    pub statuses: Vec<(u16, String)>,
    pub latencies: Vec<Duration>,
    /// `EntryRecorded` events in the log after the burst.
    pub recorded: i64,
}

impl Burst {
    /// The `q` quantile of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        self.latencies[((n as f64 * q).ceil() as usize).clamp(1, n) - 1]
    }

    /// Writes not answered 201, with their answers.
    pub fn refused(&self) -> Vec<&(u16, String)> {
        self.statuses.iter().filter(|(s, _)| *s != 201).collect()
    }
}

/// `cases × writers` entries at once (each writer sends one), alternating between two servers
/// on one PostgreSQL database; every entry has its own half-hour slot.
pub async fn burst(cases: usize, writers: usize) -> Burst {
    let (a, mut b) = two_servers().await;
    let mut ids = Vec::new();
    for n in 0..cases {
        ids.push(open_case(&a, n).await);
    }
    let total = cases * writers;
    // The psicologo's slots: 20 half hours a day from 4 March, clock after the last day.
    let days = total.div_ceil(20);
    a.set_clock(t0() + chrono::Duration::days(3 + days as i64))
        .await;
    // Each case has its own psicologo (one professional, one hour): the writers of one case
    // contend for it, as colleagues saving at the same moment do.
    let tokens: Vec<String> = (0..cases)
        .map(|n| a.token(&cf::numbered_professional(n)))
        .collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(total)
        .build()
        .expect("client");
    let writes = (0..total).map(|k| {
        let base = if k % 2 == 0 { &a.base_url } else { &b.base_url };
        let url = format!("{base}/v1/cases/{}/entries", ids[k / writers]);
        let date = chrono::NaiveDate::from_ymd_opt(2024, 3, 4).expect("date")
            + chrono::Duration::days((k / 20) as i64);
        let start = 8 * 60 + 30 * (k % 20);
        let hm = |m: usize| format!("{:02}:{:02}", m / 60, m % 60);
        let body = serde_json::json!({
            "phase": 1, "figure": "psicologo", "service": "colloquio_valutazione",
            "slot": { "date": date.to_string(), "start": hm(start), "end": hm(start + 30) }
        });
        let (client, token) = (client.clone(), tokens[k / writers].clone());
        async move {
            let began = Instant::now();
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", format!("busy-{k}"))
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (status, text, began.elapsed())
        }
    });
    let answers = futures::future::join_all(writes).await;
    let mut latencies: Vec<_> = answers.iter().map(|(_, _, d)| *d).collect();
    latencies.sort();
    let recorded =
        a.db.count("SELECT count(*) FROM events WHERE event_type = 'EntryRecorded'")
            .await;
    b.stop().await;
    a.stop().await;
    Burst {
        statuses: answers.into_iter().map(|(s, t, _)| (s, t)).collect(),
        latencies,
        recorded,
    }
}

/// Two servers on one PostgreSQL database, each with its own pool and caches, sharing the
/// first's clock (1 March 2024, 09:00 in Rome); the ATS operator granted and the provider
/// registered through the first.
pub async fn two_servers() -> (ApiServer, Served) {
    let a = ApiServer::start(Backend::Postgres, t0()).await;
    grant(&a).await;
    let mut settings = quiet_settings();
    settings.auth = test_auth();
    settings.test_clock = Some(a.clock.clone());
    let db_b = diario_log::Database::connect(&a.db.url)
        .await
        .expect("a second pool");
    let b = Served::start(db_b, &settings).await;
    (a, b)
}

/// The clock at the start: 1 March 2024, 09:00 in Rome.
fn t0() -> chrono::DateTime<chrono::Utc> {
    diario_domain::testing::fixtures::rome(2024, 3, 1, 9, 0)
}

async fn grant(server: &ApiServer) {
    let body = serde_json::json!({
        "fiscal_code": cf::ATS_OPERATOR, "role": "ats_operator", "scope": "ATS-MILANO"
    });
    let r = server
        .send(
            "POST",
            "/v1/admin/grants",
            Some(cf::PLATFORM_ADMIN),
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let provider = crate::standard_provider_body();
    let r = server
        .send(
            "POST",
            "/v1/organisations",
            Some(cf::PLATFORM_ADMIN),
            Some(&provider),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
}

/// A case with phase I open and its own psicologo (`cf::numbered_professional(n)`) enabled.
pub async fn open_case(server: &ApiServer, n: usize) -> uuid::Uuid {
    let body = serde_json::json!({
        "measure_id": "up", "ats": "ATS-MILANO", "asst": "ASST-NORD-MILANO", "provider": "ENTE-ALFA",
        "responsabile_asst": cf::RESP_ASST, "responsabile_provider": cf::RESP_PROVIDER,
        "case_manager": cf::CASE_MANAGER,
        "recipient": { "pseudonym": format!("BUSY-{n}"), "minor": true,
                       "firmalom_enrolled": true, "confirmers": [cf::PARENT] }
    });
    let r = server
        .send(
            "POST",
            "/v1/cases",
            Some(cf::ATS_OPERATOR),
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id: uuid::Uuid = r.json["case_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("case id");
    let path = format!("/v1/cases/{id}/phases/1/open");
    let r = server
        .send("POST", &path, Some(cf::RESP_ASST), None, &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let enable = serde_json::json!({
        "ente": "asst", "professional": cf::numbered_professional(n), "figures": ["psicologo"]
    });
    let path = format!("/v1/cases/{id}/professionals");
    let r = server
        .send("POST", &path, Some(cf::RESP_ASST), Some(&enable), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    id
}
