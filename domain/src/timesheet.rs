//! The monthly timesheet of seed 004 (Allegato B): «Report di attività e ore/giornate lavorate
//! (time-sheet mensile) firmato dalla risorsa umana impiegata controfirmato dal legale
//! rappresentante o dal responsabile del Piano», «da compilare su base giornaliera», and for a
//! person on several plans «un time-sheet complessivo». One stream per person and month
//! (`timesheet-{fiscal code}-{YYYY-MM}`): every plan's rows of that person and month are in
//! it, so the daily maximum across plans is checked on one version, like the agenda's one
//! person, one hour.
//!
//! The person records their days and signs the month; each plan's countersigner then
//! countersigns that plan's rows, and the countersignature **records the hourly cost it prices
//! them at** (from the person's cost record in force, or the volunteer unit cost): a later
//! correction of the cost record never reprices a countersigned month. The month is closed
//! when the person has signed and every plan with rows has countersigned.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::catalogue::Measure;
pub use crate::cost_records::{CostRecord, record_in_force};
use crate::plan::{Financing, PlanFile};
use crate::staff_cost::{
    CostBasis, HourlyCost, StaffCostError, check_day, eligible_cost, hourly_cost, rules_of,
};
use crate::values::{Cents, FiscalCode, civil_date};

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl Month {
    /// The month of a date.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// `YYYY-MM`, as in the stream id.
    pub fn key(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        let month = Month {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
        };
        month.first_day().map(|_| month)
    }

    /// The month `by` months later (earlier when negative).
    pub fn shift(&self, by: i32) -> Month {
        let index = self.year * 12 + self.month as i32 - 1 + by;
        Month {
            year: index.div_euclid(12),
            month: (index.rem_euclid(12) + 1) as u32,
        }
    }

    /// The first day.
    pub fn first_day(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// The last day.
    pub fn last_day(&self) -> Option<NaiveDate> {
        let first = self.first_day()?;
        first
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.pred_opt())
    }
}

/// Why a timesheet command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum TimesheetError {
    /// Only the person fills and signs their own timesheet.
    #[error("solo la persona compila e firma il proprio time-sheet")]
    NotThePerson,
    /// The person does not work on the plan.
    #[error("la persona non è indicata nel piano")]
    NotOnThePlan,
    /// The action is not in the plan.
    #[error("il piano non prevede l'azione {0}")]
    UnknownAction(String),
    /// A day outside the timesheet's month.
    #[error("il giorno {date} non è nel mese {month} del time-sheet")]
    OutsideMonth {
        /// The day.
        date: NaiveDate,
        /// `YYYY-MM`.
        month: String,
    },
    /// A day outside the plan's activities.
    #[error("il giorno {date} è fuori dal periodo del piano ({start} – {end})")]
    OutsidePlan {
        /// The day.
        date: NaiveDate,
        /// First day of the plan.
        start: NaiveDate,
        /// Last day of the plan.
        end: NaiveDate,
    },
    /// Hours are recorded for days that have come.
    #[error("il giorno {0} non è ancora arrivato")]
    FutureDay(NaiveDate),
    /// Minutes that are not a positive multiple of the measure's granularity.
    #[error("{minutes} minuti: le ore si indicano a multipli di {granularity} minuti")]
    Granularity {
        /// Minutes given.
        minutes: u32,
        /// The measure's granularity.
        granularity: u32,
    },
    /// The activity must be described.
    #[error("descrizione dell'attività: campo obbligatorio")]
    ActivityMissing,
    /// A row id already used.
    #[error("la riga {0} è già registrata")]
    RowIdUsed(Uuid),
    /// No such row.
    #[error("la riga {0} non esiste")]
    RowNotFound(Uuid),
    /// The person signed: the month is closed to them.
    #[error("il time-sheet del mese è firmato: non si modifica")]
    Signed,
    /// The person has not signed yet.
    #[error("il time-sheet va prima firmato dalla persona")]
    NotSigned,
    /// A month is signed when it is over.
    #[error("il time-sheet mensile si firma dall'ultimo giorno del mese ({0})")]
    MonthNotOver(NaiveDate),
    /// Nothing to sign or countersign.
    #[error("il time-sheet non ha ore registrate per questo piano")]
    Empty,
    /// Only the plan's legal representative or delegate countersigns, never the person.
    #[error("controfirma il legale rappresentante del piano o il responsabile delegato")]
    NotACountersigner,
    /// A plan countersigns once.
    #[error("il time-sheet è già controfirmato per questo piano")]
    AlreadyCountersigned,
    /// The person has no cost record in force for the month.
    #[error("manca il costo orario documentato della persona per il mese {0}")]
    NoCostRecord(String),
    /// A staff-cost rule.
    #[error(transparent)]
    StaffCost(#[from] StaffCostError),
}

impl TimesheetError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            TimesheetError::NotThePerson => "not-the-person",
            TimesheetError::NotOnThePlan => "not-on-the-plan",
            TimesheetError::UnknownAction(_) => "unknown-action",
            TimesheetError::OutsideMonth { .. } => "day-outside-month",
            TimesheetError::OutsidePlan { .. } => "day-outside-plan",
            TimesheetError::FutureDay(_) => "future-day",
            TimesheetError::Granularity { .. } => "minutes-granularity",
            TimesheetError::ActivityMissing => "activity-required",
            TimesheetError::RowIdUsed(_) => "row-id-already-used",
            TimesheetError::RowNotFound(_) => "row-not-found",
            TimesheetError::Signed => "timesheet-signed",
            TimesheetError::NotSigned => "timesheet-not-signed",
            TimesheetError::MonthNotOver(_) => "month-not-over",
            TimesheetError::Empty => "timesheet-empty",
            TimesheetError::NotACountersigner => "not-a-countersigner",
            TimesheetError::AlreadyCountersigned => "already-countersigned",
            TimesheetError::NoCostRecord(_) => "no-cost-record",
            TimesheetError::StaffCost(e) => e.code(),
        }
    }

    /// The broad class (403, 404, 409 or 422).
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            TimesheetError::NotThePerson
            | TimesheetError::NotOnThePlan
            | TimesheetError::NotACountersigner => ErrorKind::Forbidden,
            TimesheetError::RowNotFound(_) => ErrorKind::NotFound,
            TimesheetError::Signed
            | TimesheetError::NotSigned
            | TimesheetError::MonthNotOver(_)
            | TimesheetError::AlreadyCountersigned
            | TimesheetError::RowIdUsed(_) => ErrorKind::Conflict,
            _ => ErrorKind::Unprocessable,
        }
    }
}

/// One day of work on one plan's action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Id.
    pub row_id: Uuid,
    /// The plan.
    pub plan_id: Uuid,
    /// The plan's action.
    pub action: String,
    /// «descrizione attività/mansione svolta».
    pub activity: String,
    /// The day.
    pub date: NaiveDate,
    /// Minutes worked.
    pub minutes: u32,
    /// Withdrawn before signing.
    pub withdrawn: bool,
}

/// One priced line of a countersignature: an action's minutes at the recorded hourly cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// The action.
    pub action: String,
    /// Minutes.
    pub minutes: u32,
    /// Minutes × hourly cost, half-up to the cent.
    pub amount: Cents,
}

/// Commands of a timesheet stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum TimesheetCommand {
    /// The person records a day of work on one plan's action.
    RecordDay {
        /// Id.
        row_id: Uuid,
        /// The plan.
        plan_id: Uuid,
        /// The action.
        action: String,
        /// What was done.
        activity: String,
        /// The day.
        date: NaiveDate,
        /// Minutes.
        minutes: u32,
    },
    /// The person withdraws a row before signing.
    WithdrawRow {
        /// The row.
        row_id: Uuid,
    },
    /// The person signs the month.
    SignTimesheet,
    /// A plan's countersigner countersigns that plan's rows.
    Countersign {
        /// The plan.
        plan_id: Uuid,
    },
}

/// Events of a timesheet stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TimesheetEvent {
    /// A day was recorded.
    DayRecorded {
        /// The person.
        person: FiscalCode,
        /// The month.
        month: Month,
        /// The row.
        #[serde(flatten)]
        row: Row,
        /// When.
        at: DateTime<Utc>,
    },
    /// A row was withdrawn.
    RowWithdrawn {
        /// The row.
        row_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// The person signed the month.
    TimesheetSigned {
        /// The person.
        person: FiscalCode,
        /// The month.
        month: Month,
        /// When.
        at: DateTime<Utc>,
    },
    /// A plan countersigned its rows, at the hourly cost recorded here.
    TimesheetCountersigned {
        /// The person.
        person: FiscalCode,
        /// The month.
        month: Month,
        /// The plan.
        plan_id: Uuid,
        /// Who.
        by: FiscalCode,
        /// The partner the person works for on the plan.
        organisation: String,
        /// How the hours are financed.
        financing: Financing,
        /// The cost record used (none for a volunteer).
        cost_record: Option<Uuid>,
        /// The hourly cost used.
        rate: HourlyCost,
        /// Per action.
        lines: Vec<PricedLine>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A countersignature as folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Countersignature {
    /// Who.
    pub by: FiscalCode,
    /// Financing.
    pub financing: Financing,
    /// The rate.
    pub rate: HourlyCost,
    /// Lines.
    pub lines: Vec<PricedLine>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A timesheet as its stream leaves it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimesheetState {
    /// Rows by id.
    pub rows: BTreeMap<Uuid, Row>,
    /// When the person signed.
    pub signed_at: Option<DateTime<Utc>>,
    /// Countersignatures by plan.
    pub countersigned: BTreeMap<Uuid, Countersignature>,
}

impl TimesheetState {
    /// Live rows.
    pub fn live(&self) -> impl Iterator<Item = &Row> {
        self.rows.values().filter(|r| !r.withdrawn)
    }

    /// The minutes of a day, every plan together.
    pub fn minutes_on(&self, date: NaiveDate) -> u32 {
        self.live()
            .filter(|r| r.date == date)
            .map(|r| r.minutes)
            .sum()
    }

    /// Whether the month is closed: signed, and countersigned by every plan with rows.
    pub fn closed(&self) -> bool {
        self.signed_at.is_some()
            && self
                .live()
                .all(|r| self.countersigned.contains_key(&r.plan_id))
    }
}

/// What a timesheet decision reads besides its state.
pub struct TimesheetContext<'a> {
    /// The person (from the stream id).
    pub person: &'a FiscalCode,
    /// The month (from the stream id).
    pub month: Month,
    /// The measure of the plan concerned.
    pub measure: &'a Measure,
    /// The plan the command names (for `RecordDay` and `Countersign`).
    pub plan: Option<&'a PlanFile>,
    /// The person's cost records (for `Countersign`).
    pub cost_records: &'a [CostRecord],
    /// Who.
    pub actor: &'a Actor,
    /// When.
    pub now: DateTime<Utc>,
}

/// Decides a timesheet command.
pub fn decide_timesheet(
    state: &TimesheetState,
    command: &TimesheetCommand,
    ctx: &TimesheetContext<'_>,
) -> Result<Vec<TimesheetEvent>, TimesheetError> {
    let is_person = ctx.actor.fiscal_code() == Some(ctx.person);
    match command {
        TimesheetCommand::RecordDay {
            row_id,
            plan_id,
            action,
            activity,
            date,
            minutes,
        } => {
            if !is_person {
                return Err(TimesheetError::NotThePerson);
            }
            if state.signed_at.is_some() {
                return Err(TimesheetError::Signed);
            }
            if state.rows.contains_key(row_id) {
                return Err(TimesheetError::RowIdUsed(*row_id));
            }
            let plan = ctx.plan.ok_or(TimesheetError::NotOnThePlan)?;
            if !plan.people.contains_key(ctx.person) {
                return Err(TimesheetError::NotOnThePlan);
            }
            if plan.action(action).is_none() {
                return Err(TimesheetError::UnknownAction(action.clone()));
            }
            if Month::of(*date) != ctx.month {
                return Err(TimesheetError::OutsideMonth {
                    date: *date,
                    month: ctx.month.key(),
                });
            }
            if *date < plan.start || *date > plan.end {
                return Err(TimesheetError::OutsidePlan {
                    date: *date,
                    start: plan.start,
                    end: plan.end,
                });
            }
            if *date > civil_date(ctx.now) {
                return Err(TimesheetError::FutureDay(*date));
            }
            let g = ctx.measure.slot_granularity_minutes;
            if *minutes == 0 || minutes % g != 0 {
                return Err(TimesheetError::Granularity {
                    minutes: *minutes,
                    granularity: g,
                });
            }
            if activity.trim().is_empty() {
                return Err(TimesheetError::ActivityMissing);
            }
            check_day(ctx.measure, *date, state.minutes_on(*date), *minutes)?;
            Ok(vec![TimesheetEvent::DayRecorded {
                person: ctx.person.clone(),
                month: ctx.month,
                row: Row {
                    row_id: *row_id,
                    plan_id: *plan_id,
                    action: action.clone(),
                    activity: activity.trim().to_owned(),
                    date: *date,
                    minutes: *minutes,
                    withdrawn: false,
                },
                at: ctx.now,
            }])
        }
        TimesheetCommand::WithdrawRow { row_id } => {
            if !is_person {
                return Err(TimesheetError::NotThePerson);
            }
            if state.signed_at.is_some() {
                return Err(TimesheetError::Signed);
            }
            match state.rows.get(row_id) {
                Some(r) if !r.withdrawn => Ok(vec![TimesheetEvent::RowWithdrawn {
                    row_id: *row_id,
                    at: ctx.now,
                }]),
                _ => Err(TimesheetError::RowNotFound(*row_id)),
            }
        }
        TimesheetCommand::SignTimesheet => {
            if !is_person {
                return Err(TimesheetError::NotThePerson);
            }
            if state.signed_at.is_some() {
                return Err(TimesheetError::Signed);
            }
            if state.live().next().is_none() {
                return Err(TimesheetError::Empty);
            }
            let last = ctx.month.last_day().unwrap_or(NaiveDate::MAX);
            if civil_date(ctx.now) < last {
                return Err(TimesheetError::MonthNotOver(last));
            }
            Ok(vec![TimesheetEvent::TimesheetSigned {
                person: ctx.person.clone(),
                month: ctx.month,
                at: ctx.now,
            }])
        }
        TimesheetCommand::Countersign { plan_id } => {
            let plan = ctx.plan.ok_or(TimesheetError::NotOnThePlan)?;
            let by = ctx
                .actor
                .fiscal_code()
                .filter(|cf| plan.countersigners.contains(cf) && *cf != ctx.person)
                .ok_or(TimesheetError::NotACountersigner)?;
            if state.signed_at.is_none() {
                return Err(TimesheetError::NotSigned);
            }
            if state.countersigned.contains_key(plan_id) {
                return Err(TimesheetError::AlreadyCountersigned);
            }
            let mut by_action: BTreeMap<&str, u32> = BTreeMap::new();
            for r in state.live().filter(|r| &r.plan_id == plan_id) {
                *by_action.entry(r.action.as_str()).or_default() += r.minutes;
            }
            if by_action.is_empty() {
                return Err(TimesheetError::Empty);
            }
            let person = plan
                .people
                .get(ctx.person)
                .ok_or(TimesheetError::NotOnThePlan)?;
            let rules = rules_of(ctx.measure)?;
            let (cost_record, rate) = if person.financing == Financing::Volunteer {
                (None, hourly_cost(rules, &CostBasis::Volunteer)?)
            } else {
                let record = record_in_force(ctx.cost_records, &person.organisation, ctx.month)
                    .ok_or_else(|| TimesheetError::NoCostRecord(ctx.month.key()))?;
                (Some(record.record_id), hourly_cost(rules, &record.basis)?)
            };
            let lines = by_action
                .into_iter()
                .map(|(action, minutes)| PricedLine {
                    action: action.to_owned(),
                    minutes,
                    amount: eligible_cost(&rate, u64::from(minutes)),
                })
                .collect();
            Ok(vec![TimesheetEvent::TimesheetCountersigned {
                person: ctx.person.clone(),
                month: ctx.month,
                plan_id: *plan_id,
                by: by.clone(),
                organisation: person.organisation.clone(),
                financing: person.financing,
                cost_record,
                rate,
                lines,
                at: ctx.now,
            }])
        }
    }
}

/// Folds one event.
pub fn evolve_timesheet(mut state: TimesheetState, event: &TimesheetEvent) -> TimesheetState {
    match event {
        TimesheetEvent::DayRecorded { row, .. } => {
            state.rows.insert(row.row_id, row.clone());
        }
        TimesheetEvent::RowWithdrawn { row_id, .. } => {
            if let Some(r) = state.rows.get_mut(row_id) {
                r.withdrawn = true;
            }
        }
        TimesheetEvent::TimesheetSigned { at, .. } => state.signed_at = Some(*at),
        TimesheetEvent::TimesheetCountersigned {
            plan_id,
            by,
            financing,
            rate,
            lines,
            at,
            ..
        } => {
            state.countersigned.insert(
                *plan_id,
                Countersignature {
                    by: by.clone(),
                    financing: *financing,
                    rate: *rate,
                    lines: lines.clone(),
                    at: *at,
                },
            );
        }
    }
    state
}
