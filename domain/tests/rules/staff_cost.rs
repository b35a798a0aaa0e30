//! Seed 004 (DGR 2168/2024, Allegato B): actual staff cost from the annual cost and the
//! timesheet hours, external rates, volunteers as co-financing, the plan's limits and the
//! daily maximum of a person's overall timesheet — with the annex's numbers.
use crate::common::*;
use diario_domain::staff_cost::*;

fn ageing() -> Measure {
    Measure::shipped()
        .unwrap()
        .into_iter()
        .find(|m| m.id.as_str() == "invecchiamento_attivo_2024")
        .unwrap()
}

fn rules() -> diario_domain::catalogue::CostRules {
    ageing().cost_rules.unwrap()
}

fn employee(a1_monthly_pay: i64, b1_inps: i64, part_time_percent: u32) -> CostBasis {
    CostBasis::Employee {
        annual: AnnualCost {
            a1_monthly_pay: Cents(a1_monthly_pay),
            b1_inps: Cents(b1_inps),
            ..Default::default()
        },
        part_time_percent,
    }
}

/// Given a full-time employee whose latest documented annual cost is €34,400 (pay and
/// charges), when the hourly cost is computed, then it is €34,400 / 1,720 = €20.00 and 90
/// minutes cost €30.00.
#[test]
fn a_full_time_employee_costs_the_annual_cost_over_1720_hours() {
    let h = hourly_cost(&rules(), &employee(2_600_000, 840_000, 100)).unwrap();
    assert_eq!(h.cents, Cents(2000));
    assert_eq!(h.annual_cents, Some(Cents(3_440_000)));
    assert_eq!(h.standard_hours_x100, Some(172_000));
    assert!(!h.cofinancing);
    assert_eq!(eligible_cost(&h, 90), Cents(3000));
}

/// Given a 50% part-time employee costing €17,200 a year, when the hourly cost is computed,
/// then the 1,720 hours are prorated to 860 and the hour costs €20.00.
#[test]
fn a_part_time_employee_divides_by_the_prorated_hours() {
    let h = hourly_cost(&rules(), &employee(1_300_000, 420_000, 50)).unwrap();
    assert_eq!(h.standard_hours_x100, Some(86_000));
    assert_eq!(h.cents, Cents(2000));
    // Rounded half-up to the cent: €30,000 / 1,720 = €17.4418… → €17.44.
    let odd = hourly_cost(&rules(), &employee(3_000_000, 0, 100)).unwrap();
    assert_eq!(odd.cents, Cents(1744));
    assert_eq!(
        hourly_cost(&rules(), &employee(3_000_000, 0, 0)),
        Err(StaffCostError::PartTime { percent: 0 })
    );
    assert_eq!(
        hourly_cost(&rules(), &employee(3_000_000, 0, 101)),
        Err(StaffCostError::PartTime { percent: 101 })
    );
}

/// Given an external professional with a contract rate, then the hours cost that rate.
#[test]
fn external_staff_cost_the_contract_s_hourly_rate() {
    let h = hourly_cost(
        &rules(),
        &CostBasis::External {
            hourly_cents: Cents(3500),
        },
    )
    .unwrap();
    assert_eq!(eligible_cost(&h, 120), Cents(7000));
    assert!(matches!(
        hourly_cost(
            &rules(),
            &CostBasis::External {
                hourly_cents: Cents(0)
            }
        ),
        Err(StaffCostError::NotPositive { .. })
    ));
}

/// Given 10 volunteer hours, then they are valued at €163.70 as co-financing, counted only up
/// to the room the plan's co-financing leaves.
#[test]
fn volunteer_hours_are_co_financing_up_to_its_amount() {
    let v = volunteer_value(&rules(), 600, Cents(1_000_000)).unwrap();
    assert_eq!(
        v,
        VolunteerValue {
            valued: Cents(16_370),
            counted: Cents(16_370),
            over_limit: Cents(0)
        }
    );
    let capped = volunteer_value(&rules(), 600, Cents(10_000)).unwrap();
    assert_eq!(
        (capped.counted, capped.over_limit),
        (Cents(10_000), Cents(6_370))
    );
    let none = volunteer_value(&rules(), 600, Cents(-5)).unwrap();
    assert_eq!(none.counted, Cents(0));
    assert!(
        hourly_cost(&rules(), &CostBasis::Volunteer)
            .unwrap()
            .cofinancing
    );
}

/// Given a plan of €100,000, when its co-financing is €19,999, then it is flagged (under
/// 20%); at €20,000 it is not.
#[test]
fn a_plan_whose_co_financing_falls_under_20_percent_is_flagged() {
    let costs = |cash: i64| PlanCosts {
        staff: Cents(6_000_000),
        other: Cents(10_000_000 - 6_000_000 - cash),
        cash: Cents(cash),
        ..Default::default()
    };
    let short = plan_totals(&rules(), &costs(1_999_900));
    assert_eq!(short.total, Cents(10_000_000));
    assert_eq!(short.cofinancing_bp, 1999);
    assert_eq!(
        short.flags,
        [PlanFlag::CofinancingShort {
            cofinancing_bp: 1999,
            min_percent: 20
        }]
    );
    assert!(short.flags[0].message().contains("19,99%"));
    let enough = plan_totals(&rules(), &costs(2_000_000));
    assert_eq!(enough.public, Cents(8_000_000));
    assert!(enough.flags.is_empty(), "{:?}", enough.flags);
}

/// Given a regional contribution of €80,000, then equipment up to €16,000 (20%) passes and
/// €16,000.01 is flagged; equipment outside the other costs is flagged too.
#[test]
fn equipment_stays_within_20_percent_of_the_regional_contribution() {
    let costs = |equipment: i64| PlanCosts {
        staff: Cents(5_000_000),
        other: Cents(3_000_000),
        equipment: Cents(equipment),
        volunteers: Cents(2_000_000),
        ..Default::default()
    };
    assert!(plan_totals(&rules(), &costs(1_600_000)).flags.is_empty());
    assert_eq!(
        plan_totals(&rules(), &costs(1_600_001)).flags,
        [PlanFlag::EquipmentOver {
            equipment: Cents(1_600_001),
            max: Cents(1_600_000)
        }]
    );
    let outside = PlanCosts {
        other: Cents(100),
        equipment: Cents(200),
        ..costs(0)
    };
    assert!(
        plan_totals(&rules(), &outside)
            .flags
            .contains(&PlanFlag::EquipmentOutsideOtherCosts)
    );
}

/// Given the measure's daily maximum of 12 hours, when a person has 9 hours on plan A and
/// records 6 on plan B the same day, then the overall timesheet refuses it; 3 hours pass.
#[test]
fn a_day_of_the_overall_timesheet_never_passes_the_daily_maximum() {
    let m = ageing();
    let day = date(2025, 3, 4);
    assert_eq!(
        check_day(&m, day, 9 * 60, 6 * 60),
        Err(StaffCostError::DailyMaximum {
            date: day,
            total_minutes: 15 * 60,
            max_minutes: 12 * 60
        })
    );
    assert_eq!(check_day(&m, day, 9 * 60, 3 * 60), Ok(()));
}

/// Given a measure without staff cost rules (#UP), then no staff cost is computed.
#[test]
fn only_a_measure_with_cost_rules_prices_staff_by_their_cost() {
    let up = Measure::shipped()
        .unwrap()
        .into_iter()
        .find(|m| m.id.as_str() == "up")
        .unwrap();
    assert_eq!(rules_of(&up), Err(StaffCostError::NoCostRules));
    assert!(rules_of(&ageing()).is_ok());
}
