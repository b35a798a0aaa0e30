//! Seed 004: the territorial plan and the monthly timesheets of its people — the plan's limits
//! at opening, the overall timesheet's daily maximum across plans, signing and countersigning
//! with the hourly cost recorded, and the final report's 60 days.
use crate::common::*;
use diario_domain::plan::*;
use diario_domain::staff_cost::*;
use diario_domain::timesheet::*;

fn ageing() -> Measure {
    Measure::shipped()
        .unwrap()
        .into_iter()
        .find(|m| m.id.as_str() == "invecchiamento_attivo_2024")
        .unwrap()
}

fn ats() -> Actor {
    Actor::person(ats_operator(), ActorRole::AtsOperator)
}

fn plan_id(n: u128) -> Uuid {
    Uuid::from_u128(0x9000 + n)
}

fn open(n: u128, budget: PlanCosts) -> PlanCommand {
    PlanCommand::OpenPlan {
        plan_id: plan_id(n),
        measure_id: MeasureId::new("invecchiamento_attivo_2024"),
        title: format!("Piano {n}"),
        ats: "ATS-MILANO".into(),
        lead: "COOP-A".into(),
        partners: vec!["COOP-B".into()],
        actions: vec![Action {
            id: "A1".into(),
            name: "Laboratori intergenerazionali".into(),
            area: ServiceId::new("socializzazione_inclusione"),
        }],
        start: date(2025, 1, 1),
        end: date(2026, 12, 31),
        budget,
        countersigners: vec![resp_provider()],
    }
}

fn budget() -> PlanCosts {
    PlanCosts {
        staff: Cents(6_000_000),
        other: Cents(2_000_000),
        volunteers: Cents(1_000_000),
        cash: Cents(1_000_000),
        ..Default::default()
    }
}

/// A plan opened with `people` (fiscal code, organisation, figure, financing).
fn plan(n: u128, people: &[(FiscalCode, &str, &str, Financing)]) -> PlanFile {
    let m = ageing();
    let mut state: PlanState = None;
    let mut commands = vec![open(n, budget())];
    commands.extend(people.iter().map(|(cf, org, figure, financing)| {
        PlanCommand::AssignPerson(PlanPerson {
            person: cf.clone(),
            organisation: (*org).into(),
            figure: FigureId::new(*figure),
            financing: *financing,
        })
    }));
    for c in commands {
        for e in decide_plan(&state, &c, &m, &ats(), rome(2025, 1, 2, 9, 0)).unwrap() {
            state = evolve_plan(state, &e);
        }
    }
    state.unwrap()
}

fn employee() -> (FiscalCode, &'static str, &'static str, Financing) {
    (
        educatore(),
        "COOP-A",
        "personale_interno",
        Financing::Contribution,
    )
}

fn volunteer() -> (FiscalCode, &'static str, &'static str, Financing) {
    (parent(), "COOP-B", "volontario", Financing::Volunteer)
}

struct Sheet {
    person: FiscalCode,
    month: Month,
    state: TimesheetState,
    records: Vec<CostRecord>,
}

impl Sheet {
    fn new(person: FiscalCode, year: i32, month: u32) -> Sheet {
        Sheet {
            person,
            month: Month { year, month },
            state: TimesheetState::default(),
            records: Vec::new(),
        }
    }

    fn run(
        &mut self,
        command: TimesheetCommand,
        plan: &PlanFile,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), TimesheetError> {
        let m = ageing();
        let ctx = TimesheetContext {
            person: &self.person,
            month: self.month,
            measure: &m,
            plan: Some(plan),
            cost_records: &self.records,
            actor,
            now,
        };
        for e in decide_timesheet(&self.state, &command, &ctx)? {
            self.state = evolve_timesheet(std::mem::take(&mut self.state), &e);
        }
        Ok(())
    }

    fn me(&self) -> Actor {
        Actor::person(self.person.clone(), ActorRole::Staff)
    }

    fn day(
        &mut self,
        plan: &PlanFile,
        n: u128,
        d: u32,
        minutes: u32,
    ) -> Result<(), TimesheetError> {
        let me = self.me();
        let date = date(self.month.year, self.month.month, d);
        self.run(
            TimesheetCommand::RecordDay {
                row_id: Uuid::from_u128(n),
                plan_id: plan.plan_id,
                action: "A1".into(),
                activity: "Laboratorio di memoria".into(),
                date,
                minutes,
            },
            plan,
            &me,
            rome(2025, 3, 31, 18, 0),
        )
    }
}

fn full_time_record(annual: i64, valid_from: NaiveDate, at: DateTime<Utc>) -> CostRecord {
    CostRecord {
        record_id: Uuid::from_u128(at.timestamp() as u128),
        organisation: "COOP-A".into(),
        valid_from,
        basis: CostBasis::Employee {
            annual: AnnualCost {
                a1_monthly_pay: Cents(annual),
                ..Default::default()
            },
            part_time_percent: 100,
        },
        at,
    }
}

/// Given the measure's daily maximum of 12 hours, when a person with 9 hours on plan A records
/// 6 on plan B the same day, then their overall timesheet refuses it and nothing is recorded;
/// 3 hours pass.
#[test]
fn a_person_on_two_plans_never_passes_the_daily_maximum_across_them() {
    let a = plan(1, &[employee()]);
    let b = plan(2, &[employee()]);
    let mut sheet = Sheet::new(educatore(), 2025, 3);
    sheet.day(&a, 1, 4, 9 * 60).unwrap();
    assert_eq!(
        sheet.day(&b, 2, 4, 6 * 60),
        Err(TimesheetError::StaffCost(StaffCostError::DailyMaximum {
            date: date(2025, 3, 4),
            total_minutes: 15 * 60,
            max_minutes: 12 * 60
        }))
    );
    assert_eq!(sheet.state.minutes_on(date(2025, 3, 4)), 9 * 60);
    sheet.day(&b, 3, 4, 3 * 60).unwrap();
    assert_eq!(sheet.state.minutes_on(date(2025, 3, 4)), 12 * 60);
}

/// Given a timesheet, then only the person on the plan fills it, with the plan's actions, in
/// its month and period, in multiples of the granularity, never for days to come.
#[test]
fn a_timesheet_row_is_the_person_s_own_day_on_one_of_the_plan_s_actions() {
    let a = plan(1, &[employee()]);
    let mut sheet = Sheet::new(educatore(), 2025, 3);
    let other = Actor::person(psicologo(), ActorRole::Staff);
    let record = |d: NaiveDate, minutes: u32, action: &str| TimesheetCommand::RecordDay {
        row_id: Uuid::from_u128(7),
        plan_id: a.plan_id,
        action: action.into(),
        activity: "Laboratorio".into(),
        date: d,
        minutes,
    };
    let evening = rome(2025, 3, 20, 18, 0);
    assert_eq!(
        sheet.run(record(date(2025, 3, 4), 60, "A1"), &a, &other, evening),
        Err(TimesheetError::NotThePerson)
    );
    let me = sheet.me();
    assert_eq!(
        sheet.run(record(date(2025, 3, 4), 60, "A9"), &a, &me, evening),
        Err(TimesheetError::UnknownAction("A9".into()))
    );
    assert!(matches!(
        sheet.run(record(date(2025, 4, 1), 60, "A1"), &a, &me, evening),
        Err(TimesheetError::OutsideMonth { .. })
    ));
    assert_eq!(
        sheet.run(record(date(2025, 3, 21), 60, "A1"), &a, &me, evening),
        Err(TimesheetError::FutureDay(date(2025, 3, 21)))
    );
    assert!(matches!(
        sheet.run(record(date(2025, 3, 4), 45, "A1"), &a, &me, evening),
        Err(TimesheetError::Granularity { .. })
    ));
    let stranger = plan(3, &[]);
    assert_eq!(
        sheet.run(record(date(2025, 3, 4), 60, "A1"), &stranger, &me, evening),
        Err(TimesheetError::NotOnThePlan)
    );
    let mut before = Sheet::new(educatore(), 2024, 12);
    let me = before.me();
    assert!(matches!(
        before.run(record(date(2024, 12, 30), 60, "A1"), &a, &me, evening),
        Err(TimesheetError::OutsidePlan { .. })
    ));
    assert!(sheet.state.rows.is_empty() && before.state.rows.is_empty());
}

/// Given a signed month, when the countersigner countersigns, then the rows are priced at the
/// record in force (€34,400 / 1,720 = €20.00/h) and that rate stays with them: a later
/// correction of the cost record does not reprice the closed month.
#[test]
fn the_countersignature_records_the_rate_and_a_later_correction_does_not_reprice() {
    let a = plan(1, &[employee()]);
    let mut sheet = Sheet::new(educatore(), 2025, 3);
    sheet.records.push(full_time_record(
        3_440_000,
        date(2025, 1, 1),
        rome(2025, 1, 2, 9, 0),
    ));
    sheet.day(&a, 1, 3, 6 * 60).unwrap();
    sheet.day(&a, 2, 4, 90).unwrap();
    let rep = Actor::person(resp_provider(), ActorRole::Staff);
    let countersign = TimesheetCommand::Countersign { plan_id: a.plan_id };
    assert_eq!(
        sheet.run(countersign.clone(), &a, &rep, rome(2025, 4, 1, 9, 0)),
        Err(TimesheetError::NotSigned)
    );
    let me = sheet.me();
    assert_eq!(
        sheet.run(
            TimesheetCommand::SignTimesheet,
            &a,
            &me,
            rome(2025, 3, 30, 18, 0)
        ),
        Err(TimesheetError::MonthNotOver(date(2025, 3, 31)))
    );
    sheet
        .run(
            TimesheetCommand::SignTimesheet,
            &a,
            &me,
            rome(2025, 3, 31, 18, 0),
        )
        .unwrap();
    assert_eq!(sheet.day(&a, 3, 5, 60), Err(TimesheetError::Signed));
    assert_eq!(
        sheet.run(countersign.clone(), &a, &me, rome(2025, 4, 1, 9, 0)),
        Err(TimesheetError::NotACountersigner),
        "never the person"
    );
    sheet
        .run(countersign.clone(), &a, &rep, rome(2025, 4, 1, 9, 0))
        .unwrap();
    let c = &sheet.state.countersigned[&a.plan_id];
    assert_eq!(c.rate.cents, Cents(2000));
    assert_eq!(
        c.lines,
        [PricedLine {
            action: "A1".into(),
            minutes: 450,
            amount: Cents(15_000)
        }]
    );
    assert!(sheet.state.closed());
    // A corrected cost record arrives later: the month stays priced as countersigned.
    sheet.records.push(full_time_record(
        4_300_000,
        date(2025, 1, 1),
        rome(2025, 5, 2, 9, 0),
    ));
    assert_eq!(
        sheet.run(countersign, &a, &rep, rome(2025, 5, 3, 9, 0)),
        Err(TimesheetError::AlreadyCountersigned)
    );
    assert_eq!(
        sheet.state.countersigned[&a.plan_id].lines[0].amount,
        Cents(15_000)
    );
    // The record in force for a month is the latest dated on or before its last day.
    let recs = vec![
        full_time_record(3_440_000, date(2025, 1, 1), rome(2025, 1, 2, 9, 0)),
        full_time_record(4_300_000, date(2025, 4, 1), rome(2025, 4, 2, 9, 0)),
    ];
    let march = record_in_force(
        &recs,
        "COOP-A",
        Month {
            year: 2025,
            month: 3,
        },
    )
    .unwrap();
    let april = record_in_force(
        &recs,
        "COOP-A",
        Month {
            year: 2025,
            month: 4,
        },
    )
    .unwrap();
    assert_eq!(
        (march.valid_from, april.valid_from),
        (date(2025, 1, 1), date(2025, 4, 1))
    );
    assert!(
        record_in_force(
            &recs,
            "COOP-B",
            Month {
                year: 2025,
                month: 4
            }
        )
        .is_none()
    );
}

/// Given a volunteer, then their hours are priced at €16.37 as co-financing without a cost
/// record: 10 hours are €163.70.
#[test]
fn a_volunteer_s_month_is_co_financing_at_the_standard_unit_cost() {
    let a = plan(1, &[volunteer()]);
    let mut sheet = Sheet::new(parent(), 2025, 3);
    sheet.day(&a, 1, 3, 6 * 60).unwrap();
    sheet.day(&a, 2, 4, 4 * 60).unwrap();
    let me = sheet.me();
    sheet
        .run(
            TimesheetCommand::SignTimesheet,
            &a,
            &me,
            rome(2025, 3, 31, 18, 0),
        )
        .unwrap();
    let rep = Actor::person(resp_provider(), ActorRole::Staff);
    sheet
        .run(
            TimesheetCommand::Countersign { plan_id: a.plan_id },
            &a,
            &rep,
            rome(2025, 4, 1, 9, 0),
        )
        .unwrap();
    let c = &sheet.state.countersigned[&a.plan_id];
    assert!(c.rate.cofinancing);
    assert_eq!(c.financing, Financing::Volunteer);
    assert_eq!(c.lines[0].amount, Cents(16_370));
}

/// Given an employee without a cost record for the month, then the countersignature is
/// refused: an hour is never priced at nothing.
#[test]
fn an_employee_s_month_needs_a_documented_cost_record() {
    let a = plan(1, &[employee()]);
    let mut sheet = Sheet::new(educatore(), 2025, 3);
    sheet.records.push(full_time_record(
        3_440_000,
        date(2025, 4, 1),
        rome(2025, 4, 2, 9, 0),
    ));
    sheet.day(&a, 1, 3, 60).unwrap();
    let me = sheet.me();
    sheet
        .run(
            TimesheetCommand::SignTimesheet,
            &a,
            &me,
            rome(2025, 3, 31, 18, 0),
        )
        .unwrap();
    let rep = Actor::person(resp_provider(), ActorRole::Staff);
    assert_eq!(
        sheet.run(
            TimesheetCommand::Countersign { plan_id: a.plan_id },
            &a,
            &rep,
            rome(2025, 4, 1, 9, 0)
        ),
        Err(TimesheetError::NoCostRecord("2025-03".into()))
    );
}

/// Given a plan to open, then it lasts at most 24 months, its actions are areas of the
/// measure, its budget keeps the Allegato B's limits, only an ATS operator opens it, and a
/// volunteer is never paid by the contribution.
#[test]
fn a_plan_is_opened_within_the_measure_s_limits() {
    let m = ageing();
    let now = rome(2025, 1, 2, 9, 0);
    let decide = |c: &PlanCommand, actor: &Actor| decide_plan(&None, c, &m, actor, now);
    assert!(decide(&open(1, budget()), &ats()).is_ok());
    assert_eq!(
        decide(
            &open(1, budget()),
            &Actor::person(educatore(), ActorRole::Staff)
        ),
        Err(PlanError::NotAtsOperator)
    );
    let mut long = open(1, budget());
    if let PlanCommand::OpenPlan { end, .. } = &mut long {
        *end = date(2027, 1, 1);
    }
    assert!(matches!(
        decide(&long, &ats()),
        Err(PlanError::TooLong { .. })
    ));
    let short = PlanCosts {
        cash: Cents(0),
        volunteers: Cents(0),
        ..budget()
    };
    assert!(
        matches!(decide(&open(1, short), &ats()), Err(PlanError::Budget(why)) if why.contains("cofinanziamento"))
    );
    let mut area = open(1, budget());
    if let PlanCommand::OpenPlan { actions, .. } = &mut area {
        actions[0].area = ServiceId::new("valutazione_multidimensionale");
    }
    assert!(matches!(
        decide(&area, &ats()),
        Err(PlanError::UnknownArea { .. })
    ));
    let up = Measure::shipped()
        .unwrap()
        .into_iter()
        .find(|m| m.id.as_str() == "up")
        .unwrap();
    assert!(matches!(
        decide_plan(&None, &open(1, budget()), &up, &ats(), now),
        Err(PlanError::NotAPlanMeasure(_))
    ));
    let opened = plan(1, &[]);
    let paid_volunteer = PlanCommand::AssignPerson(PlanPerson {
        person: parent(),
        organisation: "COOP-B".into(),
        figure: FigureId::new("volontario"),
        financing: Financing::Contribution,
    });
    assert_eq!(
        decide_plan(&Some(opened), &paid_volunteer, &m, &ats(), now),
        Err(PlanError::VolunteerAsContribution)
    );
}

/// Given a plan ending 31 December 2026, then its final report is due within 60 days: due,
/// due soon in the last 15 days, overdue after 1 March 2027; filing it clears the flag and a
/// filing before the end is refused.
#[test]
fn the_final_report_is_due_within_60_days_of_the_plan_s_end() {
    let m = ageing();
    let p = plan(1, &[]);
    assert_eq!(p.report_due(), date(2027, 3, 1));
    assert_eq!(report_status(&p, date(2026, 12, 31)), ReportStatus::Running);
    assert_eq!(report_status(&p, date(2027, 1, 10)), ReportStatus::Due);
    assert_eq!(report_status(&p, date(2027, 2, 20)), ReportStatus::DueSoon);
    assert_eq!(report_status(&p, date(2027, 3, 1)), ReportStatus::DueSoon);
    assert_eq!(report_status(&p, date(2027, 3, 2)), ReportStatus::Overdue);
    let state = Some(p);
    assert_eq!(
        decide_plan(
            &state,
            &PlanCommand::FileFinalReport,
            &m,
            &ats(),
            rome(2026, 12, 31, 9, 0)
        ),
        Err(PlanError::ReportTooEarly(date(2026, 12, 31)))
    );
    let events = decide_plan(
        &state,
        &PlanCommand::FileFinalReport,
        &m,
        &ats(),
        rome(2027, 3, 2, 9, 0),
    )
    .unwrap();
    assert!(matches!(
        events[0],
        PlanEvent::FinalReportFiled { late: true, .. }
    ));
    let filed = events.iter().fold(state, evolve_plan).unwrap();
    assert_eq!(report_status(&filed, date(2027, 3, 2)), ReportStatus::Filed);
}

/// Given the events of a plan and of a timesheet, then they read back from their JSON as they
/// were written (the log keeps JSON).
#[test]
fn plan_and_timesheet_events_round_trip_through_json() {
    let m = ageing();
    let events = decide_plan(
        &None,
        &open(1, budget()),
        &m,
        &ats(),
        rome(2025, 1, 2, 9, 0),
    )
    .unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["type"], "PlanOpened");
    assert_eq!(json["totals"]["cofinancing_bp"], 2000);
    let back: PlanEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, events[0]);
    let a = plan(1, &[employee()]);
    let mut sheet = Sheet::new(educatore(), 2025, 3);
    sheet.day(&a, 1, 3, 60).unwrap();
    let row = sheet.state.rows.values().next().unwrap().clone();
    let e = TimesheetEvent::DayRecorded {
        person: educatore(),
        month: Month {
            year: 2025,
            month: 3,
        },
        row,
        at: rome(2025, 3, 3, 18, 0),
    };
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["minutes"], 60);
    assert_eq!(serde_json::from_value::<TimesheetEvent>(json).unwrap(), e);
    assert_eq!(
        Month::parse("2025-03"),
        Some(Month {
            year: 2025,
            month: 3
        })
    );
    assert_eq!(Month::parse("2025-13"), None);
}

fn documents(n: u128, plan: &PlanFile) -> Vec<PlanDocument> {
    (0..n)
        .map(|i| {
            let month = format!("2025-{:02}", (i % 12) + 1);
            let person = if i % 2 == 0 { educatore() } else { psicologo() };
            // Distinct ids for the test's many documents (a real plan has one per person and
            // month).
            PlanDocument {
                document_id: document_id(plan.plan_id, &person, &format!("{month}#{i}")),
                person,
                month,
                organisation: if i % 3 == 0 { "COOP-B" } else { "COOP-A" }.into(),
                amount: Cents(10_000 + 100 * i as i64),
            }
        })
        .collect()
}

fn sample_of(plan: &PlanFile, docs: Vec<PlanDocument>, seed: &str) -> ControlSample {
    let m = ageing();
    let state = Some(plan.clone());
    let command = PlanCommand::DrawControlSample {
        seed: seed.into(),
        documents: docs,
    };
    match decide_plan(&state, &command, &m, &ats(), rome(2027, 1, 10, 9, 0))
        .unwrap()
        .remove(0)
    {
        PlanEvent::ControlSampleDrawn(s) => s,
        other => panic!("{other:?}"),
    }
}

/// Given a plan's supporting documents, when the ATS draws its check, then up to 50 documents
/// every one is checked; past 50, a sample covering at least 10% of the spending in each
/// partner, drawn again identically from the same seed (the thresholds are the measure's
/// data).
#[test]
fn the_ats_checks_every_document_up_to_50_and_a_sample_of_10_percent_of_spending_past_it() {
    let p = plan(1, &[]);
    let few = sample_of(&p, documents(50, &p), "estrazione-2027-01-10");
    assert_eq!(few.selected.len(), 50);
    assert_eq!(few.thresholds.expenditure_pct, 100);
    let docs = documents(60, &p);
    let many = sample_of(&p, docs.clone(), "estrazione-2027-01-10");
    assert_eq!(
        many.thresholds,
        diario_domain::sampling::Thresholds {
            operations_pct: 1,
            expenditure_pct: 10
        }
    );
    assert!(many.selected.len() < 60 && !many.selected.is_empty());
    for partner in ["COOP-A", "COOP-B"] {
        let of = |ids: &mut dyn Iterator<Item = &PlanDocument>| -> i64 {
            ids.filter(|d| d.organisation == partner)
                .map(|d| d.amount.0)
                .sum()
        };
        let total = of(&mut docs.iter());
        let taken = of(&mut docs
            .iter()
            .filter(|d| many.selected.contains(&d.document_id)));
        assert!(taken * 10 >= total, "{partner}: {taken} of {total}");
    }
    let again = sample_of(&p, docs, "estrazione-2027-01-10");
    assert_eq!(again.selected, many.selected);
    let m = ageing();
    assert_eq!(
        decide_plan(
            &Some(p.clone()),
            &PlanCommand::DrawControlSample {
                seed: "con spazi".into(),
                documents: documents(3, &p)
            },
            &m,
            &ats(),
            rome(2027, 1, 10, 9, 0)
        ),
        Err(PlanError::InvalidSeed)
    );
    assert_eq!(
        decide_plan(
            &Some(p),
            &PlanCommand::DrawControlSample {
                seed: "s".into(),
                documents: vec![]
            },
            &m,
            &ats(),
            rome(2027, 1, 10, 9, 0)
        ),
        Err(PlanError::NothingToSample)
    );
}
