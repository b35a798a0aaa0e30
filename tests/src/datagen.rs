//! Realistic #UP histories for benchmarks, from a fixed seed: every event is produced by the
//! real decider (`diario_domain::decide`), so the log is what production would hold.

use crate::case_stream;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use diario_domain::{
    Actor, ActorRole, CaseCommand, CaseEvent, CaseState, Context, FiscalCode, Measure, decide,
    evolve,
};
use diario_log::LogEvent;
use diario_log::{EventStore, ExpectedVersion, StoreError};
use serde_json::{Value, json};
use uuid::Uuid;

/// Fiscal codes used by the generated cases (valid check characters).
pub mod people {
    pub use crate::cf::{
        ATS_OPERATOR, CASE_MANAGER, EDUCATORE, PARENT, PSICOLOGO, RESP_ASST, RESP_PROVIDER,
    };
}

/// The eight ATS of Lombardy, which the generated cases are spread across.
pub const ATS: [&str; 8] = [
    "ATS-MILANO",
    "ATS-INSUBRIA",
    "ATS-MONTAGNA",
    "ATS-BRIANZA",
    "ATS-BERGAMO",
    "ATS-BRESCIA",
    "ATS-VALPADANA",
    "ATS-PAVIA",
];

/// A small deterministic generator (SplitMix64), so the same seed gives the same data.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Seeded(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A version-4-shaped id from the generator.
    pub fn uuid(&mut self) -> Uuid {
        let hi = u128::from(self.next_u64());
        let lo = u128::from(self.next_u64());
        uuid::Builder::from_random_bytes(((hi << 64) | lo).to_be_bytes()).into_uuid()
    }
}

fn cf(s: &str) -> FiscalCode {
    match FiscalCode::parse(s) {
        Ok(c) => c,
        Err(e) => panic!("bad fixture CF {s}: {e}"),
    }
}

fn command(v: Value) -> CaseCommand {
    match serde_json::from_value(v.clone()) {
        Ok(c) => c,
        Err(e) => panic!("bad generated command {v}: {e}"),
    }
}

/// Builds one case's history by deciding commands in turn.
pub struct CaseBuilder<'m> {
    pub case_id: Uuid,
    pub state: CaseState,
    pub events: Vec<CaseEvent>,
    measure: &'m Measure,
    pub refused: usize,
}

impl<'m> CaseBuilder<'m> {
    pub fn new(case_id: Uuid, measure: &'m Measure) -> Self {
        CaseBuilder {
            case_id,
            state: CaseState::default(),
            events: Vec::new(),
            measure,
            refused: 0,
        }
    }

    /// Decides `cmd`; on success applies the events, otherwise counts a refusal.
    pub fn run(&mut self, who: &str, role: ActorRole, now: DateTime<Utc>, cmd: Value) -> bool {
        let actor = Actor::person(cf(who), role);
        let ctx = Context::new(actor, now, self.measure);
        match decide(&self.state, &command(cmd), &ctx) {
            Ok(events) => {
                for e in &events {
                    self.state = evolve(std::mem::take(&mut self.state), e);
                }
                self.events.extend(events);
                true
            }
            Err(_) => {
                self.refused += 1;
                false
            }
        }
    }

    pub fn staff(&mut self, who: &str, now: DateTime<Utc>, cmd: Value) -> bool {
        self.run(who, ActorRole::Staff, now, cmd)
    }
}

/// 20:00 in Rome on `date`.
pub fn evening(date: NaiveDate) -> DateTime<Utc> {
    match Rome
        .from_local_datetime(&date.and_hms_opt(20, 0, 0).unwrap_or_default())
        .single()
    {
        Some(t) => t.with_timezone(&Utc),
        None => Utc.from_utc_datetime(&date.and_hms_opt(19, 0, 0).unwrap_or_default()),
    }
}

fn slot(date: NaiveDate, start_half_hours: u32, halves: u32) -> Value {
    let fmt = |h: u32| format!("{:02}:{:02}", h / 2, (h % 2) * 30);
    json!({"date": date.to_string(), "start": fmt(start_half_hours), "end": fmt(start_half_hours + halves)})
}

/// A typical pathway: phase I assessed, confirmed and handed to ATS; phases II–III opened;
/// `phase3_days` days of phase III sessions, confirmed by the family in requests of a few
/// entries. About 10 + 4 × `phase3_days` events.
pub fn typical_case<'m>(
    rng: &mut Seeded,
    measure: &'m Measure,
    start: NaiveDate,
    phase3_days: u32,
) -> CaseBuilder<'m> {
    let case_id = rng.uuid();
    let ats = ATS[rng.below(ATS.len() as u64) as usize];
    let provider = format!("ENTE-{:03}", rng.below(60));
    case_with_id(case_id, rng, measure, start, phase3_days, ats, &provider)
}

/// [`typical_case`] in a given ATS and provider.
pub fn typical_case_of<'m>(
    rng: &mut Seeded,
    measure: &'m Measure,
    start: NaiveDate,
    phase3_days: u32,
    ats: &str,
    provider: &str,
) -> CaseBuilder<'m> {
    let case_id = rng.uuid();
    case_with_id(case_id, rng, measure, start, phase3_days, ats, provider)
}

fn case_with_id<'m>(
    case_id: Uuid,
    rng: &mut Seeded,
    measure: &'m Measure,
    start: NaiveDate,
    phase3_days: u32,
    ats: &str,
    provider: &str,
) -> CaseBuilder<'m> {
    use people::*;
    let mut b = CaseBuilder::new(case_id, measure);
    // The first ASST of the ATS's territory in the shipped registry.
    let asst = diario_domain::Organisations::default()
        .iter()
        .find(|o| o.ats.as_deref() == Some(ats))
        .map(|o| o.code.clone())
        .expect("every ATS has an ASST");
    let t = evening(start);
    b.run(
        ATS_OPERATOR,
        ActorRole::AtsOperator,
        t,
        json!({
            "type": "OpenCase", "case_id": b.case_id, "measure_id": measure.id, "ats": ats,
            "asst": asst, "provider": provider,
            "responsabile_asst": RESP_ASST, "responsabile_provider": RESP_PROVIDER,
            "case_manager": CASE_MANAGER,
            "recipient": {"pseudonym": format!("UP-{}", rng.below(1_000_000)), "minor": true,
                          "firmalom_enrolled": true, "confirmers": [PARENT]}
        }),
    );
    b.staff(RESP_ASST, t, json!({"type": "EnableProfessional", "ente": "asst", "professional": PSICOLOGO, "figures": ["psicologo"]}));
    b.staff(RESP_PROVIDER, t, json!({"type": "EnableProfessional", "ente": "provider", "professional": EDUCATORE, "figures": ["educatore_professionale"]}));
    b.staff(RESP_ASST, t, json!({"type": "OpenPhaseDiary", "phase": 1}));
    let mut day = start;
    for i in 0..2u32 {
        let id = rng.uuid();
        b.staff(PSICOLOGO, evening(day), json!({"type": "RecordEntry", "entry_id": id, "phase": 1,
            "figure": "psicologo", "service": "colloquio_valutazione", "slot": slot(day, 18 + 4 * i, 2)}));
    }
    day += Duration::days(1);
    b.staff(
        RESP_ASST,
        evening(day),
        json!({"type": "ValidateEntries", "phase": 1}),
    );
    // Art. 1: the PI closes phase I (the hash of a document the generator does not store).
    b.staff(RESP_ASST, evening(day), json!({"type": "AddDocument", "document_id": rng.uuid(),
        "kind": "progetto_individualizzato", "document_sha256": "0a".repeat(32), "media_type": "application/pdf"}));
    let close = rng.uuid();
    b.staff(
        RESP_ASST,
        evening(day),
        json!({"type": "ClosePhaseDiary", "phase": 1, "request_id": close}),
    );
    b.run(PARENT, ActorRole::Recipient, evening(day) + Duration::hours(1),
        json!({"type": "AnswerConfirmation", "request_id": close, "answer": {"outcome": "confirmed"}}));
    b.staff(
        RESP_PROVIDER,
        evening(day),
        json!({"type": "OpenPhaseDiary", "phase": 2}),
    );
    b.staff(
        RESP_PROVIDER,
        evening(day),
        json!({"type": "OpenPhaseDiary", "phase": 3}),
    );
    b.staff(RESP_PROVIDER, evening(day), json!({"type": "AddDocument", "document_id": rng.uuid(),
        "kind": "piano_di_intervento", "document_sha256": "0b".repeat(32), "media_type": "application/pdf"}));
    b.staff(RESP_PROVIDER, evening(day), json!({"type": "SetPdiCaps", "caps": [
        {"service": "contrasto_dispersione_scolastica", "max_minutes": 100_000}], "total_max_minutes": 200_000}));
    let mut pending = Vec::new();
    for _ in 0..phase3_days {
        day += Duration::days(1);
        let id = rng.uuid();
        if b.staff(
            EDUCATORE,
            evening(day),
            json!({"type": "RecordEntry", "entry_id": id, "phase": 3,
            "figure": "educatore_professionale", "service": "contrasto_dispersione_scolastica",
            "slot": slot(day, 28 + 2 * rng.below(4) as u32, 2)}),
        ) {
            pending.push(id);
        }
        if pending.len() >= 3 {
            let rid = rng.uuid();
            if b.staff(
                RESP_PROVIDER,
                evening(day),
                json!({"type": "RequestConfirmation",
                "request_id": rid, "phase": 3, "entry_ids": pending}),
            ) {
                b.run(PARENT, ActorRole::Recipient, evening(day) + Duration::hours(2),
                    json!({"type": "AnswerConfirmation", "request_id": rid, "answer": {"outcome": "confirmed"}}));
            }
            pending.clear();
        }
    }
    b
}

/// A long phase III: `entries` sessions of half an hour, 16 a day, recorded the same evening.
pub fn long_case<'m>(
    rng: &mut Seeded,
    measure: &'m Measure,
    start: NaiveDate,
    entries: u32,
) -> CaseBuilder<'m> {
    let mut b = typical_case(rng, measure, start, 0);
    let mut day = start + Duration::days(2);
    for i in 0..entries {
        if i % 16 == 0 {
            day += Duration::days(1);
        }
        let id = rng.uuid();
        b.staff(people::EDUCATORE, evening(day), json!({"type": "RecordEntry", "entry_id": id,
            "phase": 3, "figure": "educatore_professionale", "service": "contrasto_dispersione_scolastica",
            "slot": slot(day, 16 + (i % 16), 1)}));
    }
    b
}

/// Appends a built case as one stream (one append per `chunk` events).
pub async fn append_case(
    store: &dyn EventStore,
    b: &CaseBuilder<'_>,
    chunk: usize,
) -> Result<i64, StoreError> {
    let stream = case_stream(b.case_id);
    let mut version = 0i64;
    for part in b.events.chunks(chunk.max(1)) {
        let encoded = part
            .iter()
            .map(|e| {
                LogEvent::encode(e).map_err(|_| StoreError::InvalidAppend("unencodable event"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let meta = crate::command_metadata(people::RESP_PROVIDER, "staff", Utc::now());
        version = store
            .append(&stream, ExpectedVersion::Exact(version), encoded, meta)
            .await?
            .version;
    }
    Ok(version)
}
