//! Projections (read models): a scripted multi-case history written through the real event
//! store, then every read model compared with values computed by hand; rebuilds from zero give
//! identical tables; two runners on one PostgreSQL database hand over leadership when one dies;
//! history as of an instant replays the stream.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use diario_log::LogEvent;
use diario_log::follower::{self, RunnerOptions};
use diario_log::{Database, EventMetadata, EventStore, ExpectedVersion, NewEvent};
use diario_projections::domain::case::{
    AmendEntry, AnswerConfirmation, ClosePhaseDiary, EnableProfessional, ExpireConfirmationRequest,
    GeneratePaperDiary, InterruptPathway, OpenCase, OpenPhaseDiary, RecordEntry,
    RecordNotificationDelivery, RequestConfirmation, ResendConfirmation, SetPdiCaps,
    UploadPaperConfirmation, ValidateEntries, WithdrawEntry,
};
use diario_projections::domain::testing::fixtures as f;
use diario_projections::domain::{
    Actor, ActorRole, Answer, CaseCommand, CaseEvent, Context, Ente, FailureCommand, FailureEvent,
    FailureScope, FiscalCode, Measure, MeasureId, PdiCap, Phase, Recipient, Sha256Hex,
    SystemFailure, TimeSlot, decide, decide_failure, evolve_failure, fold,
};
use diario_projections::{
    AtsDashboard, CaseDiary, CaseFilter, CaseStatus, ChecklistFilter, CostFilter, EntryFilter,
    EntryState, FailureFilter, Page, PageRequest, RequestCounts,
};
use diario_tests::{Backend, TestDb};
use diario_tests::{case_stream, failure_stream};

/// Every read model over the shipped catalogue.
fn read_models() -> Vec<std::sync::Arc<dyn diario_log::Follower>> {
    diario_projections::read_models(&diario_tests::catalogue())
}
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

diario_tests::tests_on_each_backend!(
    every_read_model_matches_the_scripted_history,
    a_rebuild_from_zero_yields_identical_tables,
    history_as_of_returns_the_earlier_state_after_later_amendments,
    concurrent_catch_ups_apply_every_event_exactly_once,
    lag_counts_the_events_not_yet_applied,
    the_live_runner_catches_up_and_stops_on_shutdown,
    pagination_walks_every_item_once,
    read_your_writes_falls_back_to_the_stream,
    a_batch_that_fails_midway_leaves_nothing_behind,
    the_dashboard_lists_the_longest_idle_cases_first_and_says_when_there_are_more,
);

// ------------------------------------------------------------------------------------------
// Scripted history: commands decided by the real domain, appended through the real store.
// ------------------------------------------------------------------------------------------

struct World {
    store: Arc<dyn EventStore>,
    measure: Measure,
    failures: Vec<SystemFailure>,
    /// Every event appended per case, in order.
    appended: BTreeMap<Uuid, Vec<CaseEvent>>,
}

fn role_name(actor: &Actor) -> String {
    match actor.role() {
        Some(r) => serde_json::to_value(r)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        None => "system".to_owned(),
    }
}

fn meta(actor: &Actor, now: DateTime<Utc>) -> EventMetadata {
    let cf = actor.fiscal_code().map_or("SYSTEM", |c| c.as_str());
    diario_tests::command_metadata(cf, &role_name(actor), now)
}

fn staff(cf: FiscalCode) -> Actor {
    Actor::person(cf, ActorRole::Staff)
}

impl World {
    fn new(store: Arc<dyn EventStore>) -> World {
        World {
            store,
            measure: f::up(),
            failures: Vec::new(),
            appended: BTreeMap::new(),
        }
    }

    /// Loads the case, decides, appends with the expected version; panics on refusal.
    async fn case(
        &mut self,
        case_id: Uuid,
        actor: Actor,
        now: DateTime<Utc>,
        command: CaseCommand,
    ) -> Vec<CaseEvent> {
        let stream = case_stream(case_id);
        let recorded = self.store.read_stream(&stream, 1).await.expect("read");
        let events: Vec<CaseEvent> = recorded
            .iter()
            .map(|r| <CaseEvent as LogEvent>::decode(r).expect("decode"))
            .collect();
        let state = fold(&events);
        let ctx = Context::new(actor.clone(), now, &self.measure).with_failures(&self.failures);
        let new = decide(&state, &command, &ctx)
            .unwrap_or_else(|e| panic!("{} refused: {e} ({})", command.name(), e.code()));
        if new.is_empty() {
            return new;
        }
        let version = i64::try_from(state.version).expect("version");
        self.append(&stream, version, &new, &actor, now).await;
        self.appended
            .entry(case_id)
            .or_default()
            .extend(new.iter().cloned());
        // FirmaLOM receives each notification at once: the dispatcher's report (Art. 6).
        for e in &new {
            if let CaseEvent::ConfirmationRequested { request_id, at, .. }
            | CaseEvent::ConfirmationResent { request_id, at, .. } = e
            {
                let delivery =
                    CaseCommand::RecordNotificationDelivery(RecordNotificationDelivery {
                        request_id: *request_id,
                        sent_at: *at,
                        received_at: now,
                    });
                Box::pin(self.case(case_id, Actor::System, now, delivery)).await;
            }
        }
        new
    }

    /// Appends `events` to `stream` after `version`, as decided by `actor` at `now`.
    async fn append<E: LogEvent + serde::Serialize>(
        &self,
        stream: &str,
        version: i64,
        events: &[E],
        actor: &Actor,
        now: DateTime<Utc>,
    ) {
        let envelopes = events.iter().map(|e| e.encode().expect("encode")).collect();
        let expected = ExpectedVersion::Exact(version);
        let appended = self
            .store
            .append(stream, expected, envelopes, meta(actor, now));
        appended.await.expect("append");
    }

    async fn failure(
        &mut self,
        failure_id: Uuid,
        actor: Actor,
        now: DateTime<Utc>,
        command: FailureCommand,
    ) {
        let stream = failure_stream(failure_id);
        let recorded = self.store.read_stream(&stream, 1).await.expect("read");
        let state = recorded
            .iter()
            .map(|r| <FailureEvent as LogEvent>::decode(r).expect("decode"))
            .fold(None, |s, e| evolve_failure(s, &e));
        let new = decide_failure(&state, &command, &actor, now).expect("failure command");
        self.append(&stream, recorded.len() as i64, &new, &actor, now)
            .await;
        let state = new.iter().fold(state, evolve_failure);
        self.failures.retain(|x| x.id != failure_id);
        self.failures.extend(state);
    }

    async fn open_case(
        &mut self,
        case_id: Uuid,
        ats: &str,
        provider: &str,
        firmalom: bool,
        now: DateTime<Utc>,
    ) {
        let open = OpenCase {
            case_id,
            measure_id: MeasureId::new("up"),
            ats: ats.to_owned(),
            asst: "ASST-FBF-SACCO".to_owned(),
            provider: provider.to_owned(),
            responsabile_asst: f::resp_asst(),
            responsabile_provider: f::resp_provider(),
            case_manager: f::case_manager(),
            recipient: Recipient {
                pseudonym: format!("UP-{}", case_id.simple()),
                minor: true,
                firmalom_enrolled: firmalom,
                confirmers: vec![f::parent()],
            },
            voucher: None,
        };
        let ats_operator = Actor::person(f::ats_operator(), ActorRole::AtsOperator);
        let command = CaseCommand::OpenCase(open);
        self.case(case_id, ats_operator, now, command).await;
    }

    /// Enables `who` for `figures` as the responsabile of `ente`.
    async fn enable(
        &mut self,
        case_id: Uuid,
        ente: Ente,
        who: FiscalCode,
        figures: &[&str],
        now: DateTime<Utc>,
    ) {
        let by = match ente {
            Ente::Asst => f::resp_asst(),
            Ente::Provider => f::resp_provider(),
        };
        let figures = figures.iter().map(|x| f::fig(x)).collect();
        let enable = EnableProfessional {
            ente,
            professional: who,
            figures,
        };
        let command = CaseCommand::EnableProfessional(enable);
        self.case(case_id, staff(by), now, command).await;
    }

    /// The ASST enables the psicologo as psicologo.
    async fn enable_psicologo(&mut self, case_id: Uuid, now: DateTime<Utc>) {
        let figures = &["psicologo"];
        self.enable(case_id, Ente::Asst, f::psicologo(), figures, now)
            .await;
    }

    /// The provider enables the educatore for `figures`.
    async fn enable_educatore(&mut self, case_id: Uuid, figures: &[&str], now: DateTime<Utc>) {
        self.enable(case_id, Ente::Provider, f::educatore(), figures, now)
            .await;
    }

    /// A command of the responsabile of `phase` (the ASST's for phase I, the provider's after).
    async fn by_responsabile(
        &mut self,
        case_id: Uuid,
        phase: Phase,
        now: DateTime<Utc>,
        command: CaseCommand,
    ) -> Vec<CaseEvent> {
        let by = if phase == Phase::I {
            f::resp_asst()
        } else {
            f::resp_provider()
        };
        self.case(case_id, staff(by), now, command).await
    }

    /// A command of the provider's responsabile.
    async fn by_provider(
        &mut self,
        case_id: Uuid,
        now: DateTime<Utc>,
        command: CaseCommand,
    ) -> Vec<CaseEvent> {
        self.by_responsabile(case_id, Phase::III, now, command)
            .await
    }

    async fn open_phase(&mut self, case_id: Uuid, phase: Phase, now: DateTime<Utc>) {
        let command = CaseCommand::OpenPhaseDiary(OpenPhaseDiary { phase });
        self.by_responsabile(case_id, phase, now, command).await;
    }

    async fn record(&mut self, case_id: Uuid, entry: Entry, now: DateTime<Utc>) {
        let command = CaseCommand::RecordEntry(entry.command);
        self.case(case_id, staff(entry.by), now, command).await;
    }

    /// The psicologo withdraws an entry of theirs.
    async fn withdraw(&mut self, case_id: Uuid, entry_id: Uuid, now: DateTime<Utc>) {
        let command = CaseCommand::WithdrawEntry(WithdrawEntry {
            entry_id,
            reason: Some("registrata per errore".into()),
        });
        self.case(case_id, staff(f::psicologo()), now, command)
            .await;
    }

    /// The psicologo moves an entry of theirs to `slot`.
    async fn amend(&mut self, case_id: Uuid, entry: Entry, now: DateTime<Utc>) {
        let e = entry.command;
        let amend = AmendEntry {
            entry_id: e.entry_id,
            figure: e.figure,
            service: e.service,
            slot: e.slot,
            system_failure_id: e.system_failure_id,
            reason: Some("orario corretto".into()),
        };
        let command = CaseCommand::AmendEntry(amend);
        self.case(case_id, staff(entry.by), now, command).await;
    }

    /// The responsabile validates every entry of `phase`.
    async fn validate(&mut self, case_id: Uuid, phase: Phase, now: DateTime<Utc>) {
        let validate = ValidateEntries {
            phase,
            entry_ids: None,
        };
        let command = CaseCommand::ValidateEntries(validate);
        self.by_responsabile(case_id, phase, now, command).await;
    }

    /// The responsabile closes `phase` (the whole-diary request `request_id` goes with it).
    async fn close(&mut self, case_id: Uuid, phase: Phase, request_id: Uuid, now: DateTime<Utc>) {
        self.output(case_id, phase, now).await;
        let close = ClosePhaseDiary { phase, request_id };
        let command = CaseCommand::ClosePhaseDiary(close);
        self.by_responsabile(case_id, phase, now, command).await;
    }

    /// The phase's responsabile records the output that closes `phase` (Art. 1); the bytes are
    /// not needed by the read models, only the hash.
    async fn output(&mut self, case_id: Uuid, phase: Phase, now: DateTime<Utc>) {
        let (kind, _) = diario_tests::up_output(u8::from(phase));
        let command = CaseCommand::AddDocument(diario_domain::case::AddDocument {
            document_id: Uuid::now_v7(),
            kind: kind.to_owned(),
            title: None,
            document_sha256: diario_domain::Sha256Hex::parse(&"0d".repeat(32)).expect("hex"),
            media_type: "application/pdf".to_owned(),
        });
        self.by_responsabile(case_id, phase, now, command).await;
    }

    /// The provider's responsabile sets the PDI caps (`(service, max_minutes)`), from a PDI
    /// recorded just before.
    async fn set_pdi(
        &mut self,
        case_id: Uuid,
        caps: &[(&str, u32)],
        total_max_minutes: Option<u32>,
        now: DateTime<Utc>,
    ) {
        let caps = caps
            .iter()
            .map(|(service, max_minutes)| PdiCap {
                service: f::svc(service),
                max_minutes: *max_minutes,
            })
            .collect();
        self.output(case_id, Phase::II, now).await;
        let command = CaseCommand::SetPdiCaps(SetPdiCaps {
            caps,
            total_max_minutes,
            pdi_document_id: None,
            reason: None,
        });
        self.by_provider(case_id, now, command).await;
    }

    async fn request(
        &mut self,
        case_id: Uuid,
        request: Uuid,
        phase: Phase,
        entries: &[Uuid],
        now: DateTime<Utc>,
    ) {
        let command = CaseCommand::RequestConfirmation(RequestConfirmation {
            request_id: request,
            phase,
            entry_ids: entries.to_vec(),
        });
        self.by_responsabile(case_id, phase, now, command).await;
    }

    async fn answer(&mut self, case_id: Uuid, request: Uuid, answer: Answer, now: DateTime<Utc>) {
        let parent = Actor::person(f::parent(), ActorRole::Recipient);
        let command = CaseCommand::AnswerConfirmation(AnswerConfirmation {
            request_id: request,
            answer,
        });
        self.case(case_id, parent, now, command).await;
    }
}

/// An entry to record: its author and the command.
struct Entry {
    by: FiscalCode,
    command: RecordEntry,
}

impl Entry {
    /// Entry `entry_id` by `by` in `phase`: `figure` delivering `service` in `slot`.
    fn new(
        by: FiscalCode,
        entry_id: Uuid,
        phase: Phase,
        figure: &str,
        service: &str,
        slot: TimeSlot,
    ) -> Entry {
        let command = RecordEntry {
            entry_id,
            phase,
            figure: f::fig(figure),
            service: f::svc(service),
            slot,
            system_failure_id: None,
        };
        Entry { by, command }
    }

    /// The same entry as `figure`.
    fn delivered_as(mut self, figure: &str) -> Entry {
        self.command.figure = f::fig(figure);
        self
    }

    /// The same entry recorded under the declared system failure `failure`.
    fn under(mut self, failure: Uuid) -> Entry {
        self.command.system_failure_id = Some(failure);
        self
    }
}

/// A phase I entry of the psicologo: `service` on `day` March 2024 from `start` to `end`.
fn psicologo(entry_id: Uuid, service: &str, day: u32, start: &str, end: &str) -> Entry {
    let slot = f::slot(march(day), start, end);
    Entry::new(
        f::psicologo(),
        entry_id,
        Phase::I,
        "psicologo",
        service,
        slot,
    )
}

/// An entry of the educatore, as educatore professionale, in `phase`: `service` on `day`
/// March 2024 from `start` to `end`.
fn educatore(
    entry_id: Uuid,
    phase: Phase,
    service: &str,
    day: u32,
    start: &str,
    end: &str,
) -> Entry {
    let slot = f::slot(march(day), start, end);
    let figure = "educatore_professionale";
    Entry::new(f::educatore(), entry_id, phase, figure, service, slot)
}

const CONTRASTO: &str = "contrasto_dispersione_scolastica";
const INCLUSIONE: &str = "accompagnamento_inclusione";

const CASE_A: Uuid = Uuid::from_u128(0xA);
const CASE_B: Uuid = Uuid::from_u128(0xB);
const CASE_C: Uuid = Uuid::from_u128(0xC);
const CASE_D: Uuid = Uuid::from_u128(0xD);
const CASE_E: Uuid = Uuid::from_u128(0xE);
const FAILURE_1: Uuid = Uuid::from_u128(0xF1);

fn rome(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    f::rome(2024, 3, d, h, m)
}
fn march(d: u32) -> NaiveDate {
    f::date(2024, 3, d)
}
use f::{eid, rid};

/// The scripted history (all in March 2024, Europe/Rome):
///
/// Case A (ATS-MILANO, COOP-A, FirmaLOM): phase I — E1 psicologo 90', E2 60' amended to 120',
/// E3 30' withdrawn; validated, closed (R1), confirmed and handed to ATS. Phase II — E8 60'
/// draft. Phase III (PDI caps) — E4 educatore 120' + E5 mediatore 90' confirmed (R2), E6 60'
/// rejected (R3), E7 60' expired (R4, by the scheduler), E10 60' pending (R5, deadline 25/03
/// 18:00).
/// Case B (ATS-MILANO, COOP-B, no FirmaLOM): phase I — E9 psicologo 60' recorded late under
/// the regional failure F1 (began 01/03, resolved 20/03).
/// Case C (ATS-BERGAMO, COOP-A): phase I opened, pathway interrupted.
/// Case D (ATS-BERGAMO, COOP-D, no FirmaLOM): phase III — E11 educatore 60' confirmed on a
/// signed paper diary (P = rid 11).
/// Case E (ATS-BERGAMO, COOP-D, FirmaLOM): phase III — E12 educatore 60' in R7, re-sent after a
/// day without answer (expiry recorded first), then confirmed.
/// Plus one event of a "grants-…" stream the projections do not handle.
async fn scripted_history(store: Arc<dyn EventStore>) -> World {
    let mut w = World::new(store);
    let (a, b, c) = (CASE_A, CASE_B, CASE_C);
    let support = Actor::person(f::support(), ActorRole::Support);
    w.failure(
        FAILURE_1,
        support.clone(),
        rome(1, 10, 0),
        FailureCommand::DeclareSystemFailure {
            failure_id: FAILURE_1,
            scope: FailureScope::Regional,
            ticket: "INC-0042".to_owned(),
            description: "Portale regionale non raggiungibile".to_owned(),
            began_at: rome(1, 8, 0),
            ticket_opened_at: Some(rome(1, 8, 15)),
        },
    )
    .await;

    // Case A, phase I.
    w.open_case(a, "ATS-MILANO", "COOP-A", true, rome(1, 9, 0))
        .await;
    w.enable_psicologo(a, rome(1, 9, 10)).await;
    let both = ["educatore_professionale", "mediatore"];
    w.enable_educatore(a, &both, rome(1, 9, 20)).await;
    w.open_phase(a, Phase::I, rome(1, 9, 30)).await;
    let e1 = psicologo(eid(1), "colloquio_valutazione", 4, "10:00", "11:30");
    w.record(a, e1, rome(4, 12, 0)).await;
    let e2 = psicologo(eid(2), "valutazione_multidimensionale", 5, "09:00", "10:00");
    w.record(a, e2, rome(5, 11, 0)).await;
    let e3 = psicologo(eid(3), "stesura_pi", 6, "09:00", "09:30");
    w.record(a, e3, rome(6, 10, 0)).await;
    w.withdraw(a, eid(3), rome(6, 10, 30)).await;
    let e2_longer = psicologo(eid(2), "valutazione_multidimensionale", 5, "09:00", "11:00");
    w.amend(a, e2_longer, rome(6, 12, 0)).await;
    w.validate(a, Phase::I, rome(7, 9, 0)).await;
    w.close(a, Phase::I, rid(1), rome(7, 9, 5)).await;
    w.answer(a, rid(1), Answer::Confirmed, rome(7, 18, 0)).await;

    // Case A, phases II and III.
    w.open_phase(a, Phase::II, rome(8, 9, 0)).await;
    let e8 = educatore(eid(8), Phase::II, "osservazione", 8, "10:00", "11:00");
    w.record(a, e8, rome(8, 12, 0)).await;
    w.open_phase(a, Phase::III, rome(8, 13, 0)).await;
    let caps = [(CONTRASTO, 600), (INCLUSIONE, 600)];
    w.set_pdi(a, &caps, Some(1200), rome(8, 13, 10)).await;
    let e4 = educatore(eid(4), Phase::III, CONTRASTO, 11, "15:00", "17:00");
    w.record(a, e4, rome(11, 18, 0)).await;
    let e5 = educatore(eid(5), Phase::III, INCLUSIONE, 12, "15:00", "16:30");
    w.record(a, e5.delivered_as("mediatore"), rome(12, 17, 0))
        .await;
    let e6 = educatore(eid(6), Phase::III, CONTRASTO, 13, "15:00", "16:00");
    w.record(a, e6, rome(13, 17, 0)).await;
    w.request(a, rid(2), Phase::III, &[eid(4), eid(5)], rome(13, 18, 0))
        .await;
    w.answer(a, rid(2), Answer::Confirmed, rome(14, 9, 0)).await;
    w.request(a, rid(3), Phase::III, &[eid(6)], rome(14, 10, 0))
        .await;
    let reason = "orario errato".to_owned();
    w.answer(
        a,
        rid(3),
        Answer::Rejected {
            reason: Some(reason),
        },
        rome(14, 12, 0),
    )
    .await;
    let e7 = educatore(eid(7), Phase::III, CONTRASTO, 15, "15:00", "16:00");
    w.record(a, e7, rome(15, 17, 0)).await;
    w.request(a, rid(4), Phase::III, &[eid(7)], rome(15, 18, 0))
        .await;
    let expiry = ExpireConfirmationRequest { request_id: rid(4) };
    let expire = CaseCommand::ExpireConfirmationRequest(expiry);
    w.case(a, Actor::System, rome(16, 19, 0), expire).await;

    // Case B: a late entry under the declared failure.
    w.open_case(b, "ATS-MILANO", "COOP-B", false, rome(1, 10, 0))
        .await;
    w.enable_psicologo(b, rome(1, 10, 10)).await;
    w.open_phase(b, Phase::I, rome(1, 10, 30)).await;
    w.failure(
        FAILURE_1,
        support,
        rome(20, 13, 0),
        FailureCommand::ResolveSystemFailure {
            failure_id: FAILURE_1,
            resolved_at: rome(20, 12, 0),
        },
    )
    .await;
    let e9 = psicologo(eid(9), "colloquio_valutazione", 2, "09:00", "10:00");
    w.record(b, e9.under(FAILURE_1), rome(22, 10, 0)).await;

    // Case A: one more phase III entry, pending at the end.
    let e10 = educatore(eid(10), Phase::III, CONTRASTO, 22, "15:00", "16:00");
    w.record(a, e10, rome(22, 17, 0)).await;
    w.request(a, rid(5), Phase::III, &[eid(10)], rome(24, 18, 0))
        .await;

    // Case C: interrupted.
    w.open_case(c, "ATS-BERGAMO", "COOP-A", true, rome(1, 11, 0))
        .await;
    w.open_phase(c, Phase::I, rome(1, 11, 30)).await;
    let reason = "Trasferimento fuori regione".to_owned();
    let interrupt = CaseCommand::InterruptPathway(InterruptPathway {
        cause: diario_api::domain::case::InterruptionCause::Other,
        reason: Some(reason),
    });
    w.case(c, staff(f::resp_asst()), rome(5, 10, 0), interrupt)
        .await;

    // Cases D (no FirmaLOM: paper diary) and E (a request re-sent after a day without answer),
    // ATS-BERGAMO, phase III.
    for (id, firmalom) in [(CASE_D, false), (CASE_E, true)] {
        w.open_case(id, "ATS-BERGAMO", "COOP-D", firmalom, rome(1, 12, 0))
            .await;
        w.enable_educatore(id, &["educatore_professionale"], rome(1, 12, 10))
            .await;
        for (phase, minute) in [(Phase::I, 20), (Phase::II, 30), (Phase::III, 40)] {
            w.open_phase(id, phase, rome(1, 12, minute)).await;
        }
        w.set_pdi(id, &[(CONTRASTO, 600)], None, rome(1, 12, 50))
            .await;
    }
    let d = CASE_D;
    let e11 = educatore(eid(11), Phase::III, CONTRASTO, 11, "15:00", "16:00");
    w.record(d, e11, rome(11, 17, 0)).await;
    let paper = GeneratePaperDiary {
        paper_id: rid(11),
        phase: Phase::III,
        entry_ids: Some(vec![eid(11)]),
    };
    let generate = CaseCommand::GeneratePaperDiary(paper);
    w.by_provider(d, rome(11, 18, 0), generate).await;
    let upload = UploadPaperConfirmation {
        paper_id: rid(11),
        document_sha256: Sha256Hex::parse(&"ab".repeat(32)).expect("hash"),
        signed_by: f::parent(),
    };
    let upload = CaseCommand::UploadPaperConfirmation(upload);
    w.by_provider(d, rome(12, 10, 0), upload).await;
    let e = CASE_E;
    let e12 = educatore(eid(12), Phase::III, CONTRASTO, 11, "09:00", "10:00");
    w.record(e, e12, rome(11, 12, 0)).await;
    w.request(e, rid(7), Phase::III, &[eid(12)], rome(11, 18, 0))
        .await;
    // Overdue and not yet expired: the re-send records the expiry first, then the re-send.
    let resend = CaseCommand::ResendConfirmation(ResendConfirmation { request_id: rid(7) });
    let resent = w.by_provider(e, rome(13, 10, 0), resend).await;
    assert_eq!(
        resent.iter().map(|x| x.event_type()).collect::<Vec<_>>(),
        vec!["ConfirmationRequestExpired", "ConfirmationResent"]
    );
    w.answer(e, rid(7), Answer::Confirmed, rome(13, 12, 0))
        .await;

    // A stream no projection handles: skipped, but the checkpoints move past it.
    w.store
        .append(
            "grants-ats-milano",
            ExpectedVersion::Any,
            vec![NewEvent {
                event_type: "GrantGiven".to_owned(),
                schema_version: 1,
                payload: json!({"cf": "RSSMRA85T10A562S"}),
            }],
            meta(
                &Actor::person(f::ats_operator(), ActorRole::AtsOperator),
                rome(1, 8, 0),
            ),
        )
        .await
        .expect("append grant");
    w
}

/// A dashboard's diaries per phase: (phase, open, closed, handed to ATS).
fn diaries_by_phase(d: &AtsDashboard) -> Vec<(u8, i64, i64, i64)> {
    let counts = d.diaries_by_phase.iter();
    counts
        .map(|p| (p.phase, p.open, p.closed, p.handed_to_ats))
        .collect()
}

/// A dashboard's minutes per phase and figure: (phase, figure, minutes, confirmed minutes).
fn minutes_by_phase(d: &AtsDashboard) -> Vec<(u8, &str, i64, i64)> {
    let minutes = d.minutes_by_phase_and_figure.iter();
    minutes
        .map(|m| (m.phase, m.figure.as_str(), m.minutes, m.confirmed_minutes))
        .collect()
}

/// (pending, expiring within 24 hours, overdue, expired, rejected, confirmed, ended).
fn request_counts(r: &RequestCounts) -> (i64, i64, i64, i64, i64, i64, i64) {
    let open = (r.pending, r.expiring_within_24h, r.overdue);
    let ended = (r.expired, r.rejected, r.confirmed, r.ended);
    (open.0, open.1, open.2, ended.0, ended.1, ended.2, ended.3)
}

/// Each total as (key, minutes, confirmed minutes, confirmed cost in cents).
fn totals(list: &[diario_projections::diaries::Total]) -> Vec<(&str, i64, i64, i64)> {
    list.iter()
        .map(|t| {
            (
                t.key.as_str(),
                t.minutes,
                t.confirmed_minutes,
                t.confirmed_cost_cents,
            )
        })
        .collect()
}

async fn total_events(db: &TestDb) -> i64 {
    db.count("SELECT count(*) FROM events").await
}

/// Catches every projection up to the end of the log. On PostgreSQL `read_all` only hands out
/// events below the oldest transaction still running on the whole server (other tests run
/// concurrently), so "read_all returned nothing" is not "caught up": wait for a zero lag.
async fn catch_up(db: &Database) {
    drain(db, follower::DEFAULT_BATCH_SIZE).await;
}

/// The projections' lags when some projection is behind the end of the log.
async fn lagging(db: &Database) -> Option<String> {
    let lags = follower::lag_at(db, &diario_projections::PROJECTIONS, Utc::now())
        .await
        .expect("lag");
    let behind = lags.iter().any(|l| l.events_behind != 0);
    behind.then(|| format!("{lags:?}"))
}

async fn drain(db: &Database, batch: i64) {
    let store = db.event_store();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        for p in read_models() {
            while follower::run_batch(db, store.as_ref(), std::slice::from_ref(&p), batch)
                .await
                .expect("batch")
                > 0
            {}
        }
        let Some(lags) = lagging(db).await else {
            return;
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "no catch-up: {lags}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every projection's checkpoint counted each event of the log exactly once.
async fn assert_each_event_applied_once(db: &TestDb) {
    let n = total_events(db).await;
    for name in diario_projections::PROJECTIONS {
        let cp = follower::checkpoint(&db.db, name)
            .await
            .expect("checkpoint");
        assert_eq!(
            cp.events_applied, n,
            "projection {name} must pass every event once, handled or not"
        );
    }
}

async fn the_dashboard_lists_the_longest_idle_cases_first_and_says_when_there_are_more(
    db: &TestDb,
) {
    // 110 open cases of one ATS, the k-th with its last entry k days before 1 June 2025 (case
    // 0 has no entry: it counts from its opening, 200 days before), and 3 that are not idle.
    let now = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    let ts = |t: DateTime<Utc>| match db.backend() {
        Backend::Postgres => format!("'{}'", t.to_rfc3339()),
        Backend::Sqlite => format!("'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
    };
    for k in 0..113i64 {
        let id = Uuid::from_u128(0xA7_0000 + k as u128);
        let last = match k {
            0 => "NULL".to_owned(),
            110.. => ts(now - chrono::Duration::hours(1)),
            _ => ts(now - chrono::Duration::days(k)),
        };
        db.raw(&format!(
            "INSERT INTO rm_cases (case_id, measure_id, ats, asst, provider, status, \
             recipient_pseudonym, recipient_minor, firmalom_enrolled, responsabile_asst, \
             responsabile_provider, case_manager, opened_at, interrupted_at, last_entry_at, \
             last_entry_date, minutes, confirmed_minutes, confirmed_cost_cents, version, \
             last_event_at) VALUES ('{id}', 'up', 'ATS-IDLE', 'ASST-X', 'P-X', 'open', 'x', \
             {f}, {f}, 'r', 'r', 'm', {opened}, NULL, {last}, NULL, 0, 0, 0, 1, {opened})",
            f = if db.backend() == Backend::Postgres {
                "false"
            } else {
                "0"
            },
            opened = ts(now - chrono::Duration::days(200)),
        ))
        .await;
    }
    let d = diario_projections::ats_dashboard(&db.db, "ATS-IDLE", now, 7)
        .await
        .expect("dashboard");
    assert_eq!(d.idle_cases.len(), diario_projections::IDLE_CASES_SHOWN);
    assert!(
        d.idle_cases_more,
        "103 cases are idle (0 and 8–109), 10 are listed"
    );
    let expected: Vec<Uuid> = std::iter::once(0)
        .chain((8..110).rev())
        .take(10)
        .map(|k| Uuid::from_u128(0xA7_0000 + k as u128))
        .collect();
    assert_eq!(
        d.idle_cases.iter().map(|c| c.case_id).collect::<Vec<_>>(),
        expected,
        "case 0 (idle since its opening), then by last entry, oldest first"
    );
    let d = diario_projections::ats_dashboard(&db.db, "ATS-IDLE", now, 102)
        .await
        .expect("dashboard");
    assert_eq!(d.idle_cases.len(), 8, "case 0 and cases 103–109");
    assert!(!d.idle_cases_more);
    // The full list behind the dashboard: every idle case, paginated.
    let filter = CaseFilter {
        ats: Some("ATS-IDLE".into()),
        status: Some(CaseStatus::Open),
        idle_before: Some(now - chrono::Duration::days(7)),
        ..Default::default()
    };
    let listed = walk(40, async |page| {
        let cases = diario_projections::list_cases(&db.db, &filter, page).await;
        cases.expect("list")
    })
    .await;
    assert_eq!(listed.len(), 103);
}

/// Case A replayed from its stream up to the events that happened at `at`.
async fn case_a_as_of(store: &dyn EventStore, at: DateTime<Utc>) -> Option<CaseDiary> {
    let catalogue = diario_tests::catalogue();
    diario_projections::history_as_of(store, &catalogue, CASE_A, at)
        .await
        .expect("history as of")
}

/// Case A replayed from its stream up to the events recorded by `instant`.
async fn case_a_as_recorded(store: &dyn EventStore, instant: DateTime<Utc>) -> Option<CaseDiary> {
    let catalogue = diario_tests::catalogue();
    diario_projections::history_as_recorded(store, &catalogue, CASE_A, instant)
        .await
        .expect("history as recorded")
}

/// Every item of a paginated query, `limit` per page: `page` fetches one.
async fn walk<T>(limit: i64, mut page: impl AsyncFnMut(&PageRequest) -> Page<T>) -> Vec<T> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let p = page(&PageRequest::after(cursor, limit)).await;
        assert!(p.items.len() as i64 <= limit);
        items.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return items,
        }
    }
}

/// Every read-model table, as text rows.
async fn dump(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    diario_projections::dump_read_models(&db.db)
        .await
        .expect("dump")
}

/// Rebuilds every read model from zero ([`rebuild_everything`]): the tables equal `expected`.
async fn assert_a_rebuild_gives(db: &TestDb, expected: &BTreeMap<String, Vec<String>>) {
    rebuild_everything(db).await;
    assert_eq!(
        &dump(db).await,
        expected,
        "the read models equal a rebuild from zero"
    );
}

async fn rebuild_everything(db: &TestDb) {
    follower::rebuild(&db.db, db.db.event_store().as_ref(), &read_models())
        .await
        .expect("rebuild");
    catch_up(&db.db).await;
    assert_each_event_applied_once(db).await;
    assert_dashboard_counters_match_the_rows(db).await;
}

/// The ATS counters the projection keeps by difference equal the same sums computed from the
/// rows (what the dashboard aggregated at query time before the counters existed).
async fn assert_dashboard_counters_match_the_rows(db: &TestDb) {
    let t = |e: &str| format!("CAST({e} AS TEXT)");
    let line = |ats: &str, metric: &str, k1: &str, k2: &str, n: &str| {
        format!(
            "{} || '|' || {metric} || '|' || {} || '|' || {} || '|' || {}",
            t(ats),
            t(k1),
            t(k2),
            t(n)
        )
    };
    let from_rows = [
        format!(
            "SELECT {} FROM rm_cases GROUP BY ats, status",
            line("ats", "'cases'", "status", "''", "count(*)")
        ),
        format!(
            "SELECT {} FROM rm_diaries GROUP BY ats, phase, status",
            line("ats", "'diaries'", "phase", "status", "count(*)")
        ),
        format!(
            "SELECT {} FROM rm_entries WHERE state <> 'withdrawn' GROUP BY ats, phase, figure",
            line("ats", "'minutes'", "phase", "figure", "SUM(minutes)")
        ),
        format!(
            "SELECT {} FROM rm_entries WHERE state = 'confirmed' GROUP BY ats, phase, figure",
            line(
                "ats",
                "'confirmed_minutes'",
                "phase",
                "figure",
                "SUM(minutes)"
            )
        ),
        format!(
            "SELECT {} FROM rm_requests GROUP BY ats, status",
            line("ats", "'requests'", "status", "''", "count(*)")
        ),
        format!(
            "SELECT {} FROM rm_entries WHERE state <> 'withdrawn' \
             AND system_failure_id IS NOT NULL GROUP BY ats",
            line("ats", "'late_entries'", "''", "''", "count(*)")
        ),
    ];
    let mut expected = Vec::new();
    for q in &from_rows {
        expected.extend(db.texts(q).await);
    }
    expected.sort();
    let mut counters = db
        .texts(&format!(
            "SELECT {} FROM rm_ats_counters",
            line("ats", "metric", "k1", "k2", "n")
        ))
        .await;
    counters.sort();
    assert!(!counters.is_empty(), "the scripted history has cases");
    assert_eq!(counters, expected);
}

// ------------------------------------------------------------------------------------------
// Read models against hand-computed values
// ------------------------------------------------------------------------------------------

async fn every_read_model_matches_the_scripted_history(db: &TestDb) {
    let store = db.db.event_store();
    let world = scripted_history(store.clone()).await;
    catch_up(&db.db).await;
    assert_each_event_applied_once(db).await;

    // (1) Current diaries of case A.
    let a = diario_projections::case_diary(&db.db, CASE_A)
        .await
        .expect("query")
        .expect("case A");
    assert_eq!(a.ats, "ATS-MILANO");
    assert_eq!(a.provider, "COOP-A");
    assert_eq!(a.status, CaseStatus::Open);
    assert_eq!(a.version, world.appended[&CASE_A].len() as i64);
    assert_eq!(a.opened_at, rome(1, 9, 0));
    assert_eq!(a.last_event_at, rome(24, 18, 0));
    // Live minutes: 90 + 120 (E2 amended) + 60 (E8) + 120 + 90 + 60 + 60 + 60.
    assert_eq!(a.minutes, 660);
    // Confirmed: E1 90 + E2 120 (psicologo, 45 €/h) + E4 120 (educatore, 30 €/h) + E5 90
    // (mediatore, 28 €/h).
    assert_eq!(a.confirmed_minutes, 420);
    assert_eq!(a.confirmed_cost_cents, 6750 + 9000 + 6000 + 4200);
    assert_eq!(a.last_entry_at, Some(rome(22, 17, 0)));
    assert_eq!(a.last_entry_date, Some(march(22)));
    let phases: Vec<(u8, &str)> = a
        .diaries
        .iter()
        .map(|d| (d.phase, d.status.as_str()))
        .collect();
    assert_eq!(phases, vec![(1, "handed_to_ats"), (2, "open"), (3, "open")]);

    let states: BTreeMap<Uuid, EntryState> = a
        .diaries
        .iter()
        .flat_map(|d| d.entries.iter())
        .map(|e| (e.entry_id, e.state))
        .collect();
    let expected: BTreeMap<Uuid, EntryState> = [
        (eid(1), EntryState::Confirmed),
        (eid(2), EntryState::Confirmed),
        (eid(3), EntryState::Withdrawn),
        (eid(4), EntryState::Confirmed),
        (eid(5), EntryState::Confirmed),
        (eid(6), EntryState::Rejected),
        (eid(7), EntryState::Expired),
        (eid(8), EntryState::Draft),
        (eid(10), EntryState::Pending),
    ]
    .into_iter()
    .collect();
    assert_eq!(states, expected);

    let p1 = &a.diaries[0];
    assert_eq!(
        (
            p1.entries_count,
            p1.minutes,
            p1.confirmed_minutes,
            p1.confirmed_cost_cents
        ),
        (2, 210, 210, 15750)
    );
    let e2 = p1
        .entries
        .iter()
        .find(|e| e.entry_id == eid(2))
        .expect("E2");
    assert_eq!(
        (e2.start.as_str(), e2.end.as_str(), e2.minutes, e2.revision),
        ("09:00", "11:00", 120, 1)
    );
    assert_eq!(e2.professional, f::psicologo().as_str());
    assert_eq!(
        (e2.figure.as_str(), e2.service.as_str()),
        ("psicologo", "valutazione_multidimensionale")
    );
    assert_eq!((e2.unit_cost_cents, e2.cost_cents), (Some(4500), 9000));
    assert_eq!(e2.request_id, Some(rid(1)));
    assert!(e2.validated);
    let p2 = &a.diaries[1];
    assert_eq!(
        (p2.entries_count, p2.minutes, p2.confirmed_minutes),
        (1, 60, 0)
    );
    let p3 = &a.diaries[2];
    assert_eq!(
        (
            p3.entries_count,
            p3.minutes,
            p3.confirmed_minutes,
            p3.confirmed_cost_cents
        ),
        (5, 390, 210, 10200)
    );
    assert_eq!(
        totals(&p3.totals_by_figure),
        vec![
            ("educatore_professionale", 300, 120, 6000),
            ("mediatore", 90, 90, 4200)
        ]
    );
    assert_eq!(
        totals(&p3.totals_by_service),
        vec![
            ("accompagnamento_inclusione", 90, 90, 4200),
            ("contrasto_dispersione_scolastica", 300, 120, 6000)
        ]
    );
    let requests: Vec<(Uuid, &str, &str)> = p3
        .requests
        .iter()
        .map(|r| (r.request_id, r.channel.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        requests,
        vec![
            (rid(2), "firmalom", "confirmed"),
            (rid(3), "firmalom", "rejected"),
            (rid(4), "firmalom", "expired"),
            (rid(5), "firmalom", "pending"),
        ]
    );
    assert_eq!(p3.pending_requests.len(), 1);
    assert_eq!(p3.pending_requests[0].request_id, rid(5));
    // One civil day after the request (Art. 6).
    assert_eq!(p3.pending_requests[0].deadline, Some(rome(25, 18, 0)));
    assert_eq!(p3.pending_requests[0].entry_ids, vec![eid(10)]);

    let codes: Vec<&str> = a.alerts.iter().map(|x| x.code.as_str()).collect();
    for code in [
        "entries-awaiting-validation",
        "entries-not-sent-for-confirmation",
        "entries-rejected",
        "request-expired",
    ] {
        assert!(
            codes.contains(&code),
            "case A should alert {code}: {codes:?}"
        );
    }
    assert!(!codes.contains(&"request-overdue"), "{codes:?}");
    // Brought to the present: R5 (deadline 25/03 18:00) is overdue on 26/03, not on 25/03.
    let on_time = diario_projections::case_diary_at(&db.db, CASE_A, rome(25, 12, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(on_time.alerts, a.alerts);
    let late = diario_projections::case_diary_at(&db.db, CASE_A, rome(26, 12, 0))
        .await
        .unwrap()
        .unwrap();
    let overdue: Vec<_> = late
        .alerts
        .iter()
        .filter(|x| x.code == "request-overdue")
        .collect();
    assert_eq!(overdue.len(), 1);
    assert_eq!(
        (overdue[0].request_id, overdue[0].entry_ids.clone()),
        (Some(rid(5)), vec![eid(10)])
    );
    let rejected = a
        .alerts
        .iter()
        .find(|x| x.code == "entries-rejected")
        .expect("alert");
    assert_eq!(
        (rejected.phase, rejected.entry_ids.clone()),
        (Some(3), vec![eid(6)])
    );
    assert!(a.alerts.iter().all(|x| x.as_of == rome(24, 18, 0)));

    // The read model equals the replay of the whole stream.
    let replay = case_a_as_of(&*store, rome(31, 0, 0)).await.expect("case A");
    assert_eq!(replay, a);

    let b = diario_projections::case_diary(&db.db, CASE_B)
        .await
        .expect("query")
        .expect("case B");
    assert_eq!(
        (
            b.status.as_str(),
            b.firmalom_enrolled,
            b.minutes,
            b.confirmed_minutes
        ),
        ("open", false, 60, 0)
    );
    let e9 = &b.diaries[0].entries[0];
    assert_eq!(
        (e9.entry_id, e9.state, e9.system_failure_id),
        (eid(9), EntryState::Draft, Some(FAILURE_1))
    );
    let codes: Vec<&str> = b.alerts.iter().map(|x| x.code.as_str()).collect();
    assert!(
        codes.contains(&"digital-confirmation-unavailable"),
        "{codes:?}"
    );
    assert!(codes.contains(&"entries-awaiting-validation"), "{codes:?}");

    let c = diario_projections::case_diary(&db.db, CASE_C)
        .await
        .expect("query")
        .expect("case C");
    assert_eq!(c.status, CaseStatus::Interrupted);
    assert_eq!(c.interrupted_at, Some(rome(5, 10, 0)));
    assert!(c.alerts.is_empty());
    assert!(
        diario_projections::case_diary(&db.db, Uuid::from_u128(0xDEAD))
            .await
            .expect("query")
            .is_none()
    );

    // Case lists with filters.
    let all = PageRequest::default();
    let filter = |set: fn(&mut CaseFilter)| {
        let mut filter = CaseFilter::default();
        set(&mut filter);
        filter
    };
    for (filter, expected) in [
        (
            filter(|f| f.ats = Some("ATS-MILANO".into())),
            vec![CASE_A, CASE_B],
        ),
        (
            filter(|f| f.provider = Some("COOP-A".into())),
            vec![CASE_A, CASE_C],
        ),
        (
            filter(|f| f.status = Some(CaseStatus::Interrupted)),
            vec![CASE_C],
        ),
        (
            filter(|f| (f.from, f.to) = (Some(rome(1, 9, 30)), Some(rome(1, 10, 30)))),
            vec![CASE_B],
        ),
    ] {
        let page = diario_projections::list_cases(&db.db, &filter, &all)
            .await
            .unwrap();
        let ids: Vec<Uuid> = page.items.iter().map(|c| c.case_id).collect();
        assert_eq!(ids, expected, "{filter:?}");
    }
    let confirmed_in_milano = EntryFilter {
        ats: Some("ATS-MILANO".into()),
        state: Some(EntryState::Confirmed),
        ..Default::default()
    };
    let entries = diario_projections::list_entries(&db.db, &confirmed_in_milano, &all)
        .await
        .unwrap();
    assert_eq!(
        entries.items.iter().map(|e| e.entry_id).collect::<Vec<_>>(),
        vec![eid(1), eid(2), eid(4), eid(5)]
    );

    // (2) Audit trail: every event of case A in order, with actor, role, instant.
    let trail = diario_projections::audit_trail(&db.db, CASE_A, &PageRequest::first(500))
        .await
        .unwrap();
    assert!(trail.next_cursor.is_none());
    let appended = &world.appended[&CASE_A];
    assert_eq!(trail.items.len(), appended.len());
    for (i, (record, event)) in trail.items.iter().zip(appended).enumerate() {
        assert_eq!(record.stream_version, i as i64 + 1);
        assert_eq!(record.event_type, event.event_type());
        assert_eq!(record.occurred_at, event.at());
        assert_eq!(record.description, diario_projections::describe(event));
    }
    let first = &trail.items[0];
    assert_eq!(
        (first.actor_cf.as_str(), first.actor_role.as_str()),
        (f::ats_operator().as_str(), "ats_operator")
    );
    let first_of = |event_type: &str| {
        let mut records = trail.items.iter();
        let found = records.find(|r| r.event_type == event_type);
        found.unwrap_or_else(|| panic!("no {event_type} in the audit trail"))
    };
    let e1 = first_of("EntryRecorded");
    assert_eq!(
        e1.description,
        "Prestazione registrata (fase I): colloquio_valutazione come psicologo, 04/03/2024 10:00-11:30 (90 min)"
    );
    assert_eq!(e1.actor_cf, f::psicologo().as_str());
    let expiry = first_of("ConfirmationRequestExpired");
    assert_eq!(
        (expiry.actor_cf.as_str(), expiry.actor_role.as_str()),
        ("SYSTEM", "system")
    );
    let report = diario_projections::verify_case(store.as_ref(), CASE_A)
        .await
        .unwrap();
    assert!(report.is_intact(), "{report:?}");

    // (4) Checklists: one per request of case A, all passed.
    let checklists_of = async |filter: ChecklistFilter| {
        let lists = diario_projections::checklists(&db.db, &filter, &all).await;
        lists.expect("checklists")
    };
    let costs_of = async |filter: CostFilter| {
        let costs = diario_projections::cost_report(
            &db.db,
            &diario_tests::catalogue(),
            &filter,
            chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
        )
        .await;
        costs.expect("cost report")
    };
    let lists = checklists_of(ChecklistFilter {
        case_id: Some(CASE_A),
        ..Default::default()
    })
    .await;
    let kinds: Vec<(Uuid, &str, u8, bool)> = lists
        .items
        .iter()
        .map(|k| (k.request_id, k.kind.as_str(), k.phase, k.passed))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (rid(1), "request", 1, true),
            (rid(2), "request", 3, true),
            (rid(3), "request", 3, true),
            (rid(4), "request", 3, true),
            (rid(5), "request", 3, true),
        ]
    );
    let r2 = &lists.items[1];
    assert_eq!(r2.entry_ids, vec![eid(4), eid(5)]);
    assert_eq!(r2.request_minutes, 210);
    assert_eq!(
        r2.request_minutes_by_figure,
        [
            ("educatore_professionale".to_owned(), 120),
            ("mediatore".to_owned(), 90)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(r2.request_cost_cents, 10200);
    assert_eq!(r2.stored_by, f::resp_provider().as_str());
    assert!(!r2.checks.is_empty());
    assert!(r2.checks.iter().all(|c| c.passed || !c.blocking));
    let bergamo_lists = checklists_of(ChecklistFilter {
        ats: Some("ATS-BERGAMO".into()),
        ..Default::default()
    })
    .await;
    let kinds: Vec<(Uuid, Uuid, &str, bool)> = bergamo_lists
        .items
        .iter()
        .map(|k| (k.case_id, k.request_id, k.kind.as_str(), k.passed))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (CASE_D, rid(11), "paper", true),
            (CASE_E, rid(7), "request", true),
            (CASE_E, rid(7), "resend", true),
        ]
    );
    assert!(
        bergamo_lists
            .items
            .iter()
            .all(|k| k.request_minutes == 60 && k.request_cost_cents == 3000)
    );

    // (5) ATS dashboard at 25/03 12:00, idle threshold 3 days.
    let d = diario_projections::ats_dashboard(&db.db, "ATS-MILANO", rome(25, 12, 0), 3)
        .await
        .unwrap();
    assert_eq!(
        d.cases_by_status,
        [("open".to_owned(), 2)].into_iter().collect()
    );
    assert_eq!(
        diaries_by_phase(&d),
        vec![(1, 1, 0, 1), (2, 1, 0, 0), (3, 1, 0, 0)]
    );
    assert_eq!(
        minutes_by_phase(&d),
        vec![
            (1, "psicologo", 90 + 120 + 60, 210),
            (2, "educatore_professionale", 60, 0),
            (3, "educatore_professionale", 300, 120),
            (3, "mediatore", 90, 90),
        ]
    );
    assert_eq!(request_counts(&d.requests), (1, 1, 0, 1, 1, 2, 0));
    assert_eq!(d.confirmation_rate, Some(0.5));
    assert_eq!(d.entries_under_system_failure, 1);
    // B's last entry was recorded on 22/03 at 10:00, A's at 17:00; the threshold is 22/03 12:00.
    assert_eq!(
        d.idle_cases.iter().map(|c| c.case_id).collect::<Vec<_>>(),
        vec![CASE_B]
    );
    // After the deadline the pending request is overdue, not expiring.
    let later = diario_projections::ats_dashboard(&db.db, "ATS-MILANO", rome(26, 12, 0), 3)
        .await
        .unwrap();
    assert_eq!(
        (later.requests.expiring_within_24h, later.requests.overdue),
        (0, 1)
    );
    let bergamo = diario_projections::ats_dashboard(&db.db, "ATS-BERGAMO", rome(25, 12, 0), 3)
        .await
        .unwrap();
    // C interrupted (its phase I handed to ATS by the interruption); D and E open in phase III.
    assert_eq!(
        bergamo.cases_by_status,
        [("interrupted".to_owned(), 1), ("open".to_owned(), 2)]
            .into_iter()
            .collect()
    );
    assert_eq!(
        diaries_by_phase(&bergamo),
        vec![(1, 2, 0, 1), (2, 2, 0, 0), (3, 2, 0, 0)]
    );
    assert_eq!(
        minutes_by_phase(&bergamo),
        vec![(3, "educatore_professionale", 120, 120)]
    );
    // The paper diary of D and the re-sent request of E (expired, re-sent, then confirmed).
    assert_eq!(request_counts(&bergamo.requests), (0, 0, 0, 0, 0, 2, 0));
    assert_eq!(bergamo.confirmation_rate, Some(1.0));
    assert_eq!(bergamo.entries_under_system_failure, 0);
    assert_eq!(
        bergamo
            .idle_cases
            .iter()
            .map(|c| c.case_id)
            .collect::<Vec<_>>(),
        // Longest idle first: E's last entry was recorded on 11/03 at 12:00, D's at 17:00.
        vec![CASE_E, CASE_D]
    );
    let d = diario_projections::case_diary(&db.db, CASE_D)
        .await
        .unwrap()
        .unwrap();
    let p3 = &d.diaries[2];
    assert_eq!(
        (
            p3.entries[0].entry_id,
            p3.entries[0].state,
            p3.entries[0].request_id,
            p3.entries[0].cost_cents
        ),
        (eid(11), EntryState::Confirmed, Some(rid(11)), 3000)
    );
    assert_eq!(
        (
            p3.requests[0].channel.as_str(),
            p3.requests[0].status.as_str(),
            p3.requests[0].deadline
        ),
        ("paper", "confirmed", None)
    );
    let e = diario_projections::case_diary(&db.db, CASE_E)
        .await
        .unwrap()
        .unwrap();
    let r7 = &e.diaries[2].requests[0];
    // Re-sent on 13/03 10:00 with a new one-day deadline.
    assert_eq!(
        (r7.status.as_str(), r7.times_sent, r7.sent_at, r7.deadline),
        ("confirmed", 2, rome(13, 10, 0), Some(rome(14, 10, 0)))
    );
    assert_eq!(e.diaries[2].entries[0].state, EntryState::Confirmed);

    // (6) Cost report.
    let costs = costs_of(CostFilter {
        ats: Some("ATS-MILANO".into()),
        ..Default::default()
    })
    .await;
    type Line<'a> = (&'a str, &'a str, &'a str, i64, i64, Option<i64>, i64);
    let lines: Vec<Line> = costs
        .lines
        .iter()
        .map(|l| {
            (
                l.provider.as_str(),
                l.period.as_str(),
                l.figure.as_str(),
                l.entries,
                l.confirmed_minutes,
                l.unit_cost_cents,
                l.cost_cents,
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                "COOP-A",
                "2024-03",
                "educatore_professionale",
                1,
                120,
                Some(3000),
                6000
            ),
            ("COOP-A", "2024-03", "mediatore", 1, 90, Some(2800), 4200),
            ("COOP-A", "2024-03", "psicologo", 2, 210, Some(4500), 15750),
        ]
    );
    assert_eq!(
        (costs.total_confirmed_minutes, costs.total_cost_cents),
        (420, 25950)
    );
    assert_eq!(costs.by_provider.len(), 1);
    assert_eq!(
        costs.by_provider[0].cost_cents,
        6000 + 4200,
        "the provider's own hours; the ASST's phase I hours are the ASST's"
    );
    assert_eq!(
        costs
            .by_ente
            .iter()
            .map(|t| (t.key.as_str(), t.cost_cents))
            .collect::<Vec<_>>(),
        vec![("ASST-FBF-SACCO", 15750), ("COOP-A", 10200)]
    );
    assert_eq!(
        (costs.claimable_cost_cents, costs.confirmed_open_cost_cents),
        (15750, 10200),
        "phase I handed to ATS is claimable; phase III not yet handed over"
    );
    assert_eq!(costs.by_case[0].key, CASE_A.to_string());
    assert_eq!(costs.by_ats[0].cost_cents, 25950);
    let csv = diario_projections::cost_report_csv(&costs);
    let a_id = CASE_A;
    assert_eq!(
        csv,
        format!(
            "ats,provider,case_id,period,figure,entries,confirmed_minutes,unit_cost_cents,cost_cents,cost_eur,status,ente,output\r\n\
             ATS-MILANO,COOP-A,{a_id},2024-03,educatore_professionale,1,120,3000,6000,60.00,confirmed-open,COOP-A,\r\n\
             ATS-MILANO,COOP-A,{a_id},2024-03,mediatore,1,90,2800,4200,42.00,confirmed-open,COOP-A,\r\n\
             ATS-MILANO,COOP-A,{a_id},2024-03,psicologo,2,210,4500,15750,157.50,claimable,ASST-FBF-SACCO,\r\n"
        )
    );
    let phase_iii_period = costs_of(CostFilter {
        from: Some(march(11)),
        to: Some(march(31)),
        ..Default::default()
    })
    .await;
    assert_eq!(
        (
            phase_iii_period.total_confirmed_minutes,
            phase_iii_period.total_cost_cents
        ),
        // A's E4 + E5, D's E11 (paper) and E's E12: 120 + 90 + 60 + 60 minutes.
        (330, 6000 + 4200 + 3000 + 3000)
    );
    assert_eq!(
        phase_iii_period
            .by_ats
            .iter()
            .map(|t| (t.key.as_str(), t.confirmed_minutes, t.cost_cents))
            .collect::<Vec<_>>(),
        vec![("ATS-BERGAMO", 120, 6000), ("ATS-MILANO", 210, 10200)]
    );
    assert_eq!(
        phase_iii_period
            .by_provider
            .iter()
            .map(|t| (t.key.as_str(), t.cost_cents))
            .collect::<Vec<_>>(),
        vec![("COOP-A", 10200), ("COOP-D", 6000)]
    );
    assert_eq!(phase_iii_period.by_period.len(), 1);
    assert_eq!(phase_iii_period.by_period[0].key, "2024-03");
    let coop_b = costs_of(CostFilter {
        provider: Some("COOP-B".into()),
        ..Default::default()
    })
    .await;
    assert!(coop_b.lines.is_empty());
    assert_eq!(coop_b.total_cost_cents, 0);

    // (7) System failures with the entries that relied on each.
    let failures = diario_projections::system_failures(&db.db, &FailureFilter::default(), &all)
        .await
        .unwrap();
    assert_eq!(failures.items.len(), 1);
    let f1 = &failures.items[0];
    assert_eq!(
        (
            f1.failure_id,
            f1.scope.as_str(),
            f1.ente.as_deref(),
            f1.ticket.as_str()
        ),
        (FAILURE_1, "regional", None, "INC-0042")
    );
    assert_eq!(
        (f1.began_at, f1.resolved_at),
        (rome(1, 8, 0), Some(rome(20, 12, 0)))
    );
    assert_eq!(f1.declared_by, f::support().as_str());
    assert_eq!(
        f1.entries
            .iter()
            .map(|e| (e.entry_id, e.case_id, e.minutes))
            .collect::<Vec<_>>(),
        vec![(eid(9), CASE_B, 60)]
    );
    let unresolved = diario_projections::system_failures(
        &db.db,
        &FailureFilter {
            unresolved: Some(true),
            ..Default::default()
        },
        &all,
    )
    .await
    .unwrap();
    assert!(unresolved.items.is_empty());
}

// ------------------------------------------------------------------------------------------
// Rebuild, history, exactly-once, lag, runner
// ------------------------------------------------------------------------------------------

async fn a_rebuild_from_zero_yields_identical_tables(db: &TestDb) {
    let store = db.db.event_store();
    scripted_history(store.clone()).await;
    // Catch up in small batches (many transactions), then rebuild in large ones.
    drain(&db.db, 3).await;
    let before = dump(db).await;
    assert!(
        before["rm_entries"].len() == 12
            && before["rm_audit_trail"].len() as i64 == total_events(db).await - 3,
        "{before:#?}"
    );
    assert_a_rebuild_gives(db, &before).await;
    // A single projection by name, too.
    let one = diario_projections::select(&diario_tests::catalogue(), &["case_diaries".into()])
        .expect("a known projection");
    assert_eq!(one.len(), 1);
    follower::rebuild(&db.db, store.as_ref(), &one)
        .await
        .expect("rebuild");
    catch_up(&db.db).await;
    assert_eq!(dump(db).await, before);
    assert!(diario_projections::select(&diario_tests::catalogue(), &["nope".into()]).is_err());
}

async fn history_as_of_returns_the_earlier_state_after_later_amendments(db: &TestDb) {
    let store = db.db.event_store();
    let before_anything = Utc::now() - chrono::Duration::seconds(1);
    scripted_history(store.clone()).await;
    catch_up(&db.db).await;
    // 06/03 11:00: E3 already withdrawn, E2 not yet amended (amended at 12:00).
    let then = case_a_as_of(&*store, rome(6, 11, 0))
        .await
        .expect("case existed");
    assert_eq!(then.diaries.len(), 1);
    let e2 = then.diaries[0]
        .entries
        .iter()
        .find(|e| e.entry_id == eid(2))
        .expect("E2");
    assert_eq!(
        (e2.end.as_str(), e2.minutes, e2.revision, e2.state),
        ("10:00", 60, 0, EntryState::Draft)
    );
    let e3 = then.diaries[0]
        .entries
        .iter()
        .find(|e| e.entry_id == eid(3))
        .expect("E3");
    assert_eq!(e3.state, EntryState::Withdrawn);
    assert_eq!((then.minutes, then.confirmed_minutes), (150, 0));
    assert_eq!(then.last_event_at, rome(6, 10, 30));
    // Today's read model shows the amendment and the confirmation.
    let now = diario_projections::case_diary(&db.db, CASE_A)
        .await
        .unwrap()
        .unwrap();
    let e2_now = now.diaries[0]
        .entries
        .iter()
        .find(|e| e.entry_id == eid(2))
        .unwrap();
    assert_eq!(
        (e2_now.end.as_str(), e2_now.minutes, e2_now.state),
        ("11:00", 120, EntryState::Confirmed)
    );
    // Before the case existed.
    assert!(case_a_as_of(&*store, rome(1, 8, 59)).await.is_none());
    // By the store clock: nothing was recorded before the script ran; everything now.
    assert!(case_a_as_recorded(&*store, before_anything).await.is_none());
    let recorded = case_a_as_recorded(&*store, Utc::now()).await;
    assert_eq!(recorded.as_ref(), Some(&now));
}

async fn concurrent_catch_ups_apply_every_event_exactly_once(db: &TestDb) {
    let store = db.db.event_store();
    scripted_history(store.clone()).await;
    // Four uncoordinated catch-ups on the same database (no leadership): the checkpoint
    // compare-and-set lets each batch through once.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let db = db.db.clone();
        tasks.push(tokio::spawn(async move {
            let store = db.event_store();
            let mut n = 0;
            for p in read_models() {
                loop {
                    let k = follower::run_batch(&db, store.as_ref(), std::slice::from_ref(&p), 4)
                        .await
                        .expect("batch");
                    if k == 0 {
                        break;
                    }
                    n += k;
                }
            }
            n
        }));
    }
    let mut applied = 0;
    for t in tasks {
        applied += t.await.expect("task");
    }
    // (Events hidden by a transaction still running elsewhere on the server come later.)
    catch_up(&db.db).await;
    assert_each_event_applied_once(db).await;
    assert!(
        applied as i64 <= diario_projections::PROJECTIONS.len() as i64 * total_events(db).await
    );
    let concurrent = dump(db).await;
    assert_a_rebuild_gives(db, &concurrent).await;
}

async fn lag_counts_the_events_not_yet_applied(db: &TestDb) {
    let store = db.db.event_store();
    scripted_history(store.clone()).await;
    let n = total_events(db).await;
    let lags = follower::lag_at(
        &db.db,
        &diario_projections::PROJECTIONS,
        rome(31, 0, 0) + chrono::Duration::days(10_000),
    )
    .await
    .unwrap();
    assert_eq!(lags.len(), diario_projections::PROJECTIONS.len());
    assert!(
        lags.iter()
            .all(|l| l.events_behind == n && l.seconds_behind > 0.0),
        "{lags:?}"
    );
    catch_up(&db.db).await;
    let lags = follower::lag_at(&db.db, &diario_projections::PROJECTIONS, Utc::now())
        .await
        .unwrap();
    assert!(
        lags.iter()
            .all(|l| l.events_behind == 0 && l.seconds_behind == 0.0),
        "{lags:?}"
    );
    let text = follower::lag_metrics(&lags);
    assert!(
        text.contains("diario_projection_lag_events{projection=\"case_diaries\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("diario_projection_lag_seconds{projection=\"audit_trail\"} 0\n"),
        "{text}"
    );
}

async fn wait_caught_up(db: &Database, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let Some(lags) = lagging(db).await else {
            return;
        };
        let within_time = tokio::time::Instant::now() < deadline;
        assert!(within_time, "projections did not catch up: {lags}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A live runner of every read model on `db` (polling fast); it stops when `true` is sent.
fn spawn_runner(db: &Database) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let runner = follower::spawn(db.clone(), db.event_store(), read_models(), fast(), stopped);
    (stop, runner)
}

fn fast() -> RunnerOptions {
    RunnerOptions {
        poll_interval: Duration::from_millis(20),
        batch_size: 7,
        max_batches_per_turn: 3,
    }
}

async fn the_live_runner_catches_up_and_stops_on_shutdown(db: &TestDb) {
    let (tx, handle) = spawn_runner(&db.db);
    scripted_history(db.db.event_store()).await;
    wait_caught_up(&db.db, Duration::from_secs(30)).await;
    let live = dump(db).await;
    tx.send(true).expect("signal");
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("runner stops")
        .expect("runner task");
    assert_a_rebuild_gives(db, &live).await;
}

async fn pagination_walks_every_item_once(db: &TestDb) {
    let store = db.db.event_store();
    scripted_history(store.clone()).await;
    catch_up(&db.db).await;
    let entries = walk(3, async |page| {
        let filter = EntryFilter::default();
        let entries = diario_projections::list_entries(&db.db, &filter, page).await;
        entries.expect("entries")
    })
    .await;
    let seen: Vec<Uuid> = entries.iter().map(|e| e.entry_id).collect();
    let mut expected: Vec<Uuid> = (1..=12).map(eid).collect();
    expected.sort();
    assert_eq!(seen, expected);
    let trail = walk(4, async |page| {
        let trail = diario_projections::audit_trail(&db.db, CASE_A, page).await;
        trail.expect("audit trail")
    })
    .await;
    let versions: Vec<i64> = trail.iter().map(|r| r.stream_version).collect();
    assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>());
    let lists = walk(2, async |page| {
        let filter = ChecklistFilter::default();
        let lists = diario_projections::checklists(&db.db, &filter, page).await;
        lists.expect("checklists")
    })
    .await
    .len();
    assert_eq!(lists, 8);
    assert!(
        diario_projections::list_cases(
            &db.db,
            &CaseFilter::default(),
            &PageRequest::after(Some("garbage".into()), 2)
        )
        .await
        .is_err()
    );
}

async fn read_your_writes_falls_back_to_the_stream(db: &TestDb) {
    let store = db.db.event_store();
    scripted_history(store.clone()).await;
    let now = rome(26, 12, 0);
    // Nothing projected yet: the read model does not know the case, the consistent read
    // replays the stream.
    assert!(
        diario_projections::case_diary(&db.db, CASE_A)
            .await
            .unwrap()
            .is_none()
    );
    let catalogue = diario_tests::catalogue();
    let folded = |id| {
        let handler = diario_commands::CommandHandler::new(
            store.clone(),
            catalogue.clone(),
            std::sync::Arc::new(diario_commands::SystemClock),
        );
        async move { handler.load_case(id).await.unwrap().0 }
    };
    let case = folded(CASE_A).await;
    let fresh = diario_projections::case_diary_consistent(&db.db, &case, &catalogue, now)
        .await
        .unwrap()
        .expect("case A from the stream");
    assert_eq!(fresh.confirmed_cost_cents, 25950);
    catch_up(&db.db).await;
    let projected = diario_projections::case_diary_at(&db.db, CASE_A, now)
        .await
        .unwrap();
    assert_eq!(projected.as_ref(), Some(&fresh));
    assert_eq!(
        diario_projections::case_diary_consistent(&db.db, &case, &catalogue, now)
            .await
            .unwrap(),
        projected
    );
    assert!(
        diario_projections::case_diary_consistent(
            &db.db,
            &folded(Uuid::from_u128(0xDEAD)).await,
            &catalogue,
            now
        )
        .await
        .unwrap()
        .is_none()
    );
    let leaders = follower::leaders(&db.db, &diario_projections::PROJECTIONS)
        .await
        .unwrap();
    assert_eq!(leaders.len(), diario_projections::PROJECTIONS.len());
    match db.backend() {
        // No runner is running: nobody leads.
        Backend::Postgres => assert!(leaders.iter().all(|l| !l.led), "{leaders:?}"),
        Backend::Sqlite => assert!(leaders.iter().all(|l| l.led), "{leaders:?}"),
    }
}

/// Fault injection: the database refuses the audit-trail row of the 5th event of case A, in
/// the middle of a batch (as a crash mid-transaction would).
async fn inject_fault(db: &TestDb) {
    let a = CASE_A;
    match db.backend() {
        Backend::Postgres => {
            db.raw(&format!(
                "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.case_id = '{a}' AND NEW.stream_version = 5 THEN \
                 RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END; $$"
            ))
            .await;
            db.raw(
                "CREATE TRIGGER injected_fault BEFORE INSERT ON rm_audit_trail \
                 FOR EACH ROW EXECUTE FUNCTION injected_fault()",
            )
            .await;
        }
        Backend::Sqlite => {
            db.raw(&format!(
                "CREATE TRIGGER injected_fault BEFORE INSERT ON rm_audit_trail \
                 WHEN NEW.case_id = '{a}' AND NEW.stream_version = 5 \
                 BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            ))
            .await;
        }
    }
}

async fn a_batch_that_fails_midway_leaves_nothing_behind(db: &TestDb) {
    let store = db.db.event_store();
    scripted_history(store.clone()).await;
    inject_fault(db).await;
    let audit = read_models()
        .into_iter()
        .find(|p| p.name() == "audit_trail")
        .expect("audit projection");
    // Batches of 10 until the one holding case A's 5th event: it fails as a whole. (On
    // PostgreSQL, read_all may hand out fewer events while other tests' transactions run.)
    let err = loop {
        let rows = db.count("SELECT count(*) FROM rm_audit_trail").await;
        let cp = follower::checkpoint(&db.db, "audit_trail").await.unwrap();
        match follower::run_batch(&db.db, store.as_ref(), std::slice::from_ref(&audit), 10).await {
            Err(e) => {
                assert_eq!(
                    db.count("SELECT count(*) FROM rm_audit_trail").await,
                    rows,
                    "no row of the failed batch stays"
                );
                assert_eq!(
                    follower::checkpoint(&db.db, "audit_trail").await.unwrap(),
                    cp,
                    "the checkpoint did not move"
                );
                break e;
            }
            Ok(0) => tokio::time::sleep(Duration::from_millis(20)).await,
            Ok(_) => {}
        }
    };
    assert!(err.to_string().contains("injected fault"), "{err}");
    let a = CASE_A;
    let sql = format!(
        "SELECT count(*) FROM rm_audit_trail WHERE case_id = '{a}' AND stream_version >= 5"
    );
    assert_eq!(
        db.count(&sql).await,
        0,
        "nothing from case A's 5th event on"
    );
    // A live runner keeps retrying (and the other projections go on) until the fault is gone.
    let (stop, runner) = spawn_runner(&db.db);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(db.count("SELECT count(*) FROM rm_audit_trail").await, 0);
    assert!(db.count("SELECT count(*) FROM rm_cases").await > 0);
    match db.backend() {
        Backend::Postgres => {
            db.raw("DROP TRIGGER injected_fault ON rm_audit_trail")
                .await
        }
        Backend::Sqlite => db.raw("DROP TRIGGER injected_fault").await,
    }
    wait_caught_up(&db.db, Duration::from_secs(30)).await;
    stop.send(true).expect("stop");
    runner.await.expect("runner");
    assert_each_event_applied_once(db).await;
    let live = dump(db).await;
    assert_a_rebuild_gives(db, &live).await;
}

// ------------------------------------------------------------------------------------------
// Two runners on one PostgreSQL database: leadership and takeover
// ------------------------------------------------------------------------------------------

/// A writer that keeps opening small cases with a few entries each.
async fn write_cases(store: Arc<dyn EventStore>, writer: u128, cases: u128) {
    let mut w = World::new(store);
    for n in 0..cases {
        let id = Uuid::from_u128(0x1_0000 * (writer + 1) + n);
        let ats = if n % 2 == 0 {
            "ATS-MILANO"
        } else {
            "ATS-BRIANZA"
        };
        w.open_case(id, ats, "COOP-A", true, rome(1, 9, 0)).await;
        w.enable_psicologo(id, rome(1, 9, 10)).await;
        w.open_phase(id, Phase::I, rome(1, 9, 30)).await;
        for k in 0..3u32 {
            let entry = Uuid::from_u128((id.as_u128() << 8) + u128::from(k));
            let start = format!("{:02}:00", 9 + k);
            let end = format!("{:02}:00", 10 + k);
            let colloquio = psicologo(entry, "colloquio_valutazione", 4, &start, &end);
            w.record(id, colloquio, rome(4, 20, 0)).await;
        }
        w.validate(id, Phase::I, rome(5, 9, 0)).await;
        // Keep the stream going for a while, so the kill lands mid-stream.
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// Advisory locks granted in this test's database (other tests run on the same server).
async fn advisory_locks_held(db: &TestDb) -> i64 {
    db.count(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_runners_one_dies_mid_stream_and_the_other_takes_over() {
    let db = TestDb::new(Backend::Postgres).await;
    let server = |db: &TestDb| {
        let url = db.url.clone();
        async move { Database::connect_with(&url, 4).await.expect("runner pool") }
    };
    // "Server" A starts first and takes every projection.
    let pool_a = server(&db).await;
    let (stop_a, runner_a) = spawn_runner(&pool_a);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while advisory_locks_held(&db).await < diario_projections::PROJECTIONS.len() as i64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "runner A never took leadership"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leaders_a = follower::leaders(&db.db, &diario_projections::PROJECTIONS)
        .await
        .unwrap();
    assert!(leaders_a.iter().all(|l| l.led), "{leaders_a:?}");
    // "Server" B runs alongside: it stands by.
    let pool_b = server(&db).await;
    let (stop_b, runner_b) = spawn_runner(&pool_b);

    // Writers append concurrently.
    let mut writers = Vec::new();
    for writer in 0..4 {
        let store = db.db.event_store();
        writers.push(tokio::spawn(write_cases(store, writer, 20)));
    }
    // Kill A mid-stream: once it has applied something but the writers are still going.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let cp = follower::checkpoint(&db.db, "case_diaries").await.unwrap();
        if cp.events_applied > 20 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runner A applied nothing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        writers.iter().any(|w| !w.is_finished()),
        "the writers finished before the kill: make them write more"
    );
    runner_a.abort();
    let _ = runner_a.await;
    pool_a.close().await;
    drop(stop_a);

    for w in writers {
        w.await.expect("writer");
    }
    // Only B is left: it must take the locks and bring every projection to the end of the log.
    wait_caught_up(&db.db, Duration::from_secs(60)).await;
    assert_eq!(
        advisory_locks_held(&db).await,
        diario_projections::PROJECTIONS.len() as i64,
        "runner B holds the leadership"
    );
    let leaders_b = follower::leaders(&db.db, &diario_projections::PROJECTIONS)
        .await
        .unwrap();
    for (a, b) in leaders_a.iter().zip(&leaders_b) {
        assert!(
            b.led && b.pid != a.pid,
            "{} still led by the dead runner: {a:?} {b:?}",
            b.follower
        );
    }
    let live = dump(&db).await;
    assert_eq!(live["rm_cases"].len(), 80);
    assert_eq!(live["rm_entries"].len(), 80 * 3);
    stop_b.send(true).expect("stop B");
    tokio::time::timeout(Duration::from_secs(10), runner_b)
        .await
        .expect("B stops")
        .expect("B task");
    pool_b.close().await;
    assert_eq!(
        advisory_locks_held(&db).await,
        0,
        "locks released on shutdown"
    );

    assert_a_rebuild_gives(&db, &live).await;
    db.cleanup().await;
}
