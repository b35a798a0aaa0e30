//! A fake FirmaLOM that speaks real HTTP: it receives notifications on `POST /notifications`,
//! checks their HMAC signature with the shared secret, can be told to fail the next N
//! deliveries with 500, and signs callbacks the way the real app would.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use diario_api::firmalom::outbox::Notification;
use diario_api::firmalom::{
    Callback, CallbackEntry, CallbackOutcome, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify,
};
use uuid::Uuid;

#[derive(Default)]
struct Inner {
    /// Every delivery is answered with this status (a FirmaLOM that does not know the
    /// recipient: refused for good).
    refuse_with: Option<u16>,
    fail_next: usize,
    failed: usize,
    received: Vec<Notification>,
    bad_signatures: usize,
}

/// A running fake FirmaLOM on a random local port.
pub struct FakeFirmalom {
    pub url: String,
    pub secret: Vec<u8>,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct FakeState {
    secret: Vec<u8>,
    inner: Arc<Mutex<Inner>>,
}

async fn receive(State(state): State<FakeState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = verify(
        &state.secret,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        Utc::now(),
        std::time::Duration::from_secs(300),
    );
    let mut inner = match state.inner.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if signed.is_err() {
        inner.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if let Some(status) = inner.refuse_with {
        inner.failed += 1;
        return StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
    }
    if inner.fail_next > 0 {
        inner.fail_next -= 1;
        inner.failed += 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    match serde_json::from_slice::<Notification>(&body) {
        Ok(n) => {
            inner.received.push(n);
            StatusCode::ACCEPTED
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

impl FakeFirmalom {
    pub async fn start(secret: &[u8]) -> FakeFirmalom {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = FakeState {
            secret: secret.to_vec(),
            inner: inner.clone(),
        };
        let app = Router::new()
            .route("/notifications", post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake FirmaLOM");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeFirmalom {
            url: format!("http://{addr}/notifications"),
            secret: secret.to_vec(),
            inner,
            task,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut guard)
    }

    /// The next `n` deliveries are answered with 500.
    pub fn fail_next(&self, n: usize) {
        self.with(|i| i.fail_next = n);
    }

    /// Every delivery from now on is answered with `status` (`None`: accepted again).
    pub fn refuse_with(&self, status: Option<u16>) {
        self.with(|i| i.refuse_with = status);
    }

    /// Notifications accepted (signature valid), in arrival order.
    pub fn received(&self) -> Vec<Notification> {
        self.with(|i| i.received.clone())
    }

    /// Deliveries answered with 500.
    pub fn failed(&self) -> usize {
        self.with(|i| i.failed)
    }

    /// Deliveries refused for a bad signature.
    pub fn bad_signatures(&self) -> usize {
        self.with(|i| i.bad_signatures)
    }

    /// The app's answer to notification `n` entry by entry, as a person ticking each line
    /// (phases III–IV): the entries in `rejected` rejected with the reason typed (if any), the
    /// others confirmed.
    pub fn per_entry_answer(
        n: &Notification,
        signer: &str,
        rejected: &[(Uuid, Option<&str>)],
    ) -> Callback {
        let entries = n
            .entries
            .iter()
            .map(|e| {
                let rejection = rejected.iter().find(|(id, _)| *id == e.entry_id);
                CallbackEntry {
                    entry_id: e.entry_id,
                    outcome: if rejection.is_some() {
                        CallbackOutcome::Rejected
                    } else {
                        CallbackOutcome::Confirmed
                    },
                    reason: rejection.and_then(|(_, why)| why.map(str::to_owned)),
                }
            })
            .collect();
        Callback {
            delivery_id: Uuid::now_v7(),
            case_id: n.case_id,
            request_id: n.request_id,
            signer_cf: signer.to_owned(),
            outcome: CallbackOutcome::PerEntry,
            reason: None,
            entries: Some(entries),
        }
    }

    /// A callback body and its signature headers, as FirmaLOM would send them.
    pub fn signed_callback(&self, callback: &Callback) -> (Vec<u8>, Vec<(&'static str, String)>) {
        let body = serde_json::to_vec(callback).expect("callback json");
        let ts = Utc::now().timestamp();
        let headers = vec![
            (TIMESTAMP_HEADER, ts.to_string()),
            (SIGNATURE_HEADER, sign(&self.secret, ts, &body)),
            ("content-type", "application/json".to_owned()),
        ];
        (body, headers)
    }
}

impl Drop for FakeFirmalom {
    fn drop(&mut self) {
        self.task.abort();
    }
}
