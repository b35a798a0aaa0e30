//! Given/when/then harness for the case decider (in the style of disintegrate's
//! `TestHarness`), plus fixtures. Public so other crates' tests can use it:
//!
//! ```
//! use diario_domain::testing::{CaseTest, fixtures as f};
//! use diario_domain::{CaseCommand, case::OpenPhaseDiary, Phase, DomainError, Ente};
//!
//! CaseTest::given(vec![f::case_opened(true)])
//!     .when(CaseCommand::OpenPhaseDiary(OpenPhaseDiary { phase: Phase::I }))
//!     .by(f::resp_provider())
//!     .at(f::rome(2024, 3, 1, 10, 0))
//!     .then_err(DomainError::NotPhaseResponsabile { phase: Phase::I, ente: Ente::Asst });
//! ```

use chrono::{DateTime, Utc};

use crate::case::{Actor, ActorRole, CaseCommand, CaseEvent, CaseState, Context, decide, evolve};
use crate::catalogue::Measure;
use crate::error::DomainError;
use crate::failures::SystemFailure;
use crate::values::FiscalCode;

/// A given/when/then test of one command.
#[derive(Debug, Clone)]
pub struct CaseTest {
    given: Vec<CaseEvent>,
    when: Option<CaseCommand>,
    actor: Option<Actor>,
    now: Option<DateTime<Utc>>,
    measure: Option<Measure>,
    failures: Vec<SystemFailure>,
}

/// A decision that records a refusal (one `ChecklistRefused` event) read as that refusal, as
/// the command handler reports it.
fn refusal(result: Result<Vec<CaseEvent>, DomainError>) -> Result<Vec<CaseEvent>, DomainError> {
    match result {
        Ok(events) => match events.as_slice() {
            [only] => only.recorded_refusal().map_or(Ok(events), Err),
            _ => Ok(events),
        },
        Err(e) => Err(e),
    }
}

impl CaseTest {
    /// The history of the case.
    pub fn given(events: impl IntoIterator<Item = CaseEvent>) -> Self {
        CaseTest {
            given: events.into_iter().collect(),
            when: None,
            actor: None,
            now: None,
            measure: None,
            failures: Vec::new(),
        }
    }

    /// The command under test.
    pub fn when(mut self, command: CaseCommand) -> Self {
        self.when = Some(command);
        self
    }

    /// Takes actor, clock, measure and failures from a context.
    pub fn with(mut self, ctx: Context<'_>) -> Self {
        self.actor = Some(ctx.actor);
        self.now = Some(ctx.now);
        self.measure = Some(ctx.measure.clone());
        self.failures = ctx.failures.to_vec();
        self
    }

    /// Acting as staff with this CF.
    pub fn by(self, cf: FiscalCode) -> Self {
        self.by_role(cf, ActorRole::Staff)
    }

    /// Acting as a person with a role.
    pub fn by_role(mut self, cf: FiscalCode, role: ActorRole) -> Self {
        self.actor = Some(Actor::person(cf, role));
        self
    }

    /// Acting as the system scheduler.
    pub fn by_system(mut self) -> Self {
        self.actor = Some(Actor::System);
        self
    }

    /// The decision instant.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// Another measure than #UP.
    pub fn measure(mut self, measure: Measure) -> Self {
        self.measure = Some(measure);
        self
    }

    /// Declared system failures (Art. 9).
    pub fn failures(mut self, failures: Vec<SystemFailure>) -> Self {
        self.failures = failures;
        self
    }

    /// Runs the decision and returns its result and the state it was decided on.
    #[track_caller]
    pub fn run(&self) -> (CaseState, Result<Vec<CaseEvent>, DomainError>) {
        let measure = match &self.measure {
            Some(m) => m.clone(),
            None => fixtures::up(),
        };
        let state = self.given.iter().fold(CaseState::default(), evolve);
        let Some(command) = &self.when else {
            panic!("CaseTest: no command given (call .when(..))");
        };
        let actor = self.actor.clone().unwrap_or(Actor::System);
        let now = self.now.unwrap_or_else(fixtures::t0);
        let ctx = Context::new(actor, now, &measure).with_failures(&self.failures);
        let result = decide(&state, command, &ctx);
        (state, result)
    }

    /// Asserts the command produces exactly these events; returns the new state.
    #[track_caller]
    pub fn then(self, expected: Vec<CaseEvent>) -> CaseState {
        let (state, result) = self.run();
        match result {
            Ok(events) => {
                assert_eq!(events, expected, "unexpected events");
                events.iter().fold(state, evolve)
            }
            Err(e) => panic!(
                "expected events {expected:#?}\nbut the command was refused: {e} ({})",
                e.code()
            ),
        }
    }

    /// Asserts the command is refused with this error.
    #[track_caller]
    pub fn then_err(self, expected: DomainError) {
        let (_, result) = self.run();
        match refusal(result) {
            Ok(events) => panic!("expected error {expected:?}\nbut got events {events:#?}"),
            Err(e) => assert_eq!(e, expected, "unexpected error"),
        }
    }

    /// Asserts the command is refused with an error of this code.
    #[track_caller]
    pub fn then_err_code(self, code: &str) -> DomainError {
        let (_, result) = self.run();
        match refusal(result) {
            Ok(events) => panic!("expected error code {code}\nbut got events {events:#?}"),
            Err(e) => {
                assert_eq!(e.code(), code, "unexpected error: {e}");
                e
            }
        }
    }

    /// Asserts the command succeeds and the events satisfy the predicate; returns events and
    /// the new state.
    #[track_caller]
    pub fn then_matches(
        self,
        predicate: impl FnOnce(&[CaseEvent]) -> bool,
    ) -> (Vec<CaseEvent>, CaseState) {
        let (state, result) = self.run();
        match result {
            Ok(events) => {
                assert!(predicate(&events), "events do not match: {events:#?}");
                let next = events.iter().fold(state, evolve);
                (events, next)
            }
            Err(e) => panic!(
                "expected events but the command was refused: {e} ({})",
                e.code()
            ),
        }
    }
}

/// Ready-made people, instants and events for tests (#UP measure, case opened on 1 March 2024).
pub mod fixtures {
    use chrono::{DateTime, NaiveDate, Utc};
    use uuid::Uuid;

    use crate::case::{CaseEvent, OpenCase, Recipient};
    use crate::catalogue::Measure;
    use crate::values::{
        Ente, FigureId, FiscalCode, MeasureId, Phase, ServiceId, TimeSlot, resolve_local,
    };

    fn cf(s: &str) -> FiscalCode {
        match FiscalCode::parse(s) {
            Ok(cf) => cf,
            Err(e) => panic!("fixture CF {s} invalid: {e}"),
        }
    }

    /// ATS operator.
    pub fn ats_operator() -> FiscalCode {
        cf("RSSMRA85T10A562S")
    }
    /// Responsabile of the ASST (phase I).
    pub fn resp_asst() -> FiscalCode {
        cf("BNCLRA80A41F205G")
    }
    /// Responsabile of the provider (phases II-IV).
    pub fn resp_provider() -> FiscalCode {
        cf("VRDGPP70C15H501K")
    }
    /// ASST case manager.
    pub fn case_manager() -> FiscalCode {
        cf("NREFNC90D52L219T")
    }
    /// ASST psychologist (enabled in phase I fixtures).
    pub fn psicologo() -> FiscalCode {
        cf("GLLLCU88E10D969Z")
    }
    /// Provider educator (enabled in phase II-IV fixtures).
    pub fn educatore() -> FiscalCode {
        cf("FRRSFN75M22B157W")
    }
    /// The parent who confirms for the minor recipient.
    pub fn parent() -> FiscalCode {
        cf("CLMMRC78P10F205F")
    }
    /// Support desk operator.
    pub fn support() -> FiscalCode {
        cf("BRNPLA65S12L736K")
    }
    /// Someone with no role on the case.
    pub fn outsider() -> FiscalCode {
        cf("MRNLSU92B60G273X")
    }

    /// The #UP measure shipped with the crate.
    pub fn up() -> Measure {
        match Measure::up_default() {
            Ok(m) => m,
            Err(e) => panic!("shipped #UP catalogue invalid: {e}"),
        }
    }

    /// The seed-003 measure shipped with the crate ("autonomia 2016", a voucher measure).
    pub fn autonomia() -> Measure {
        match Measure::shipped()
            .map(|all| all.into_iter().find(|m| m.id.as_str() == "autonomia_2016"))
        {
            Ok(Some(m)) => m,
            other => panic!("shipped autonomia_2016 catalogue missing or invalid: {other:?}"),
        }
    }

    /// An instant given as Europe/Rome local time.
    pub fn rome(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        let date = NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN);
        let time = chrono::NaiveTime::from_hms_opt(h, min, 0).unwrap_or(chrono::NaiveTime::MIN);
        resolve_local(date.and_time(time))
    }

    /// When the fixture case is opened: 1 March 2024, 09:00 in Rome.
    pub fn t0() -> DateTime<Utc> {
        rome(2024, 3, 1, 9, 0)
    }

    /// A civil date.
    pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
    }

    /// A slot on a date, times as `HH:MM`.
    pub fn slot(d: NaiveDate, start: &str, end: &str) -> TimeSlot {
        match TimeSlot::parse(d, start, end) {
            Ok(s) => s,
            Err(e) => panic!("fixture slot invalid: {e}"),
        }
    }

    /// The fixture case id.
    pub fn case_id() -> Uuid {
        Uuid::from_u128(0xCA5E)
    }
    /// Entry id number `n`.
    pub fn eid(n: u128) -> Uuid {
        Uuid::from_u128(0xE000 + n)
    }
    /// Request id number `n`.
    pub fn rid(n: u128) -> Uuid {
        Uuid::from_u128(0xF000 + n)
    }

    /// A figure id.
    pub fn fig(s: &str) -> FigureId {
        FigureId::new(s)
    }
    /// A service id.
    pub fn svc(s: &str) -> ServiceId {
        ServiceId::new(s)
    }

    /// The fixture recipient (a minor; the parent confirms).
    pub fn recipient(firmalom_enrolled: bool) -> Recipient {
        Recipient {
            pseudonym: "UP-MI-000123".to_owned(),
            minor: true,
            firmalom_enrolled,
            confirmers: vec![parent()],
        }
    }

    /// The ATS operator's `OpenCase` command for the fixture case; decided at [`t0`] it gives
    /// [`case_opened`].
    pub fn open_case(firmalom_enrolled: bool) -> OpenCase {
        OpenCase {
            case_id: case_id(),
            measure_id: MeasureId::new("up"),
            ats: "ATS-MILANO".to_owned(),
            asst: "ASST-FBF-SACCO".to_owned(),
            provider: "COOP-ESEMPIO".to_owned(),
            responsabile_asst: resp_asst(),
            responsabile_provider: resp_provider(),
            case_manager: case_manager(),
            recipient: recipient(firmalom_enrolled),
            voucher: None,
        }
    }

    /// `CaseOpened` by the ATS operator at [`t0`], with the data of [`open_case`].
    pub fn case_opened(firmalom_enrolled: bool) -> CaseEvent {
        case_opened_under("up", firmalom_enrolled)
    }

    /// [`case_opened`] under another measure.
    pub fn case_opened_under(measure: &str, firmalom_enrolled: bool) -> CaseEvent {
        let c = open_case(firmalom_enrolled);
        CaseEvent::CaseOpened {
            case_id: c.case_id,
            measure_id: MeasureId::new(measure),
            ats: c.ats,
            asst: c.asst,
            provider: c.provider,
            responsabile_asst: c.responsabile_asst,
            responsabile_provider: c.responsabile_provider,
            case_manager: c.case_manager,
            recipient: c.recipient,
            by: ats_operator(),
            at: t0(),
        }
    }

    /// `PhaseDiaryOpened` by the right responsabile at [`t0`].
    pub fn phase_opened(phase: Phase) -> CaseEvent {
        CaseEvent::PhaseDiaryOpened {
            phase,
            by: if phase == Phase::I {
                resp_asst()
            } else {
                resp_provider()
            },
            at: t0(),
        }
    }

    /// `ProfessionalEnabled` by the ente's responsabile at [`t0`].
    pub fn enabled(ente: Ente, professional: FiscalCode, figures: &[&str]) -> CaseEvent {
        CaseEvent::ProfessionalEnabled {
            ente,
            professional,
            figures: figures.iter().map(|f| fig(f)).collect(),
            by: match ente {
                Ente::Asst => resp_asst(),
                Ente::Provider => resp_provider(),
            },
            at: t0(),
        }
    }

    /// `EntryRecorded` with the given data, recorded at the slot's end.
    pub fn recorded(
        entry: Uuid,
        phase: Phase,
        professional: FiscalCode,
        figure: &str,
        service: &str,
        slot: TimeSlot,
    ) -> CaseEvent {
        CaseEvent::EntryRecorded {
            entry_id: entry,
            phase,
            professional,
            figure: fig(figure),
            service: svc(service),
            slot,
            minutes: slot.minutes(),
            system_failure_id: None,
            rate: Some(up().rate(&fig(figure))),
            at: slot.end_instant(),
        }
    }

    /// A case with every phase opened up to `phase` and the standard professionals enabled:
    /// the ASST psychologist (phase I) and the provider educator (phases II-IV).
    pub fn case_in_phase(phase: Phase, firmalom_enrolled: bool) -> Vec<CaseEvent> {
        let mut events = vec![
            case_opened(firmalom_enrolled),
            enabled(Ente::Asst, psicologo(), &["psicologo"]),
            enabled(
                Ente::Provider,
                educatore(),
                &["educatore_professionale", "mediatore"],
            ),
        ];
        for p in Phase::ALL.into_iter().filter(|p| *p <= phase) {
            events.push(phase_opened(p));
            events.extend(outputs(p));
        }
        events
    }

    /// Id of the `n`th test document.
    pub fn did(n: u128) -> Uuid {
        Uuid::from_u128(0xD0C0_0000 + n)
    }

    /// A test SHA-256 (`n` repeated).
    pub fn sha(n: u8) -> crate::values::Sha256Hex {
        crate::values::Sha256Hex::parse(&format!("{n:02x}").repeat(32)).expect("hex")
    }

    /// `DocumentAdded` of #UP's document `kind` (version 1, id `did(n)`), by the phase's
    /// responsabile.
    pub fn document_added(kind: &str, n: u128) -> CaseEvent {
        let m = up();
        let rule = m.document(kind).expect("a document kind of #UP");
        CaseEvent::DocumentAdded {
            document_id: did(n),
            kind: kind.to_owned(),
            phase: rule.phase,
            version: 1,
            title: rule.name.clone(),
            document_sha256: sha(u8::try_from(n % 200).unwrap_or(1)),
            media_type: "application/pdf".to_owned(),
            by: match m.phase(rule.phase).map(|p| p.registered_by) {
                Some(Ente::Asst) => resp_asst(),
                _ => resp_provider(),
            },
            at: t0(),
        }
    }

    /// The documents that close `phase` in #UP (Art. 1), recorded: the PI for phase I, the PDI
    /// for phase II, the final evaluation report for III, the follow-up report for IV.
    pub fn outputs(phase: Phase) -> Vec<CaseEvent> {
        up().documents
            .iter()
            .filter(|d| d.phase == phase && d.closes_phase)
            .map(|d| document_added(&d.kind, u128::from(u8::from(phase))))
            .collect()
    }
}
