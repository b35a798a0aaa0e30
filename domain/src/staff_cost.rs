//! Actual staff cost, volunteers and co-financing (seed 004, DGR 2168/2024, Allegato B): the
//! rules of a measure whose `cost_model` is `actual_staff_cost`. Pure functions over the
//! measure's `cost_rules`; the streams that record cost records and timesheets call them.
//!
//! - Employee: «Costo orario del personale = i più recenti costi lordi per l'impiego
//!   documentati / 1.720 ore», the 1,720 hours «riproporzionato alla % di impiego in caso di
//!   part-time»; «Costo ammissibile = Costo orario x Ore lavorate».
//! - External staff: «il costo orario definito nel contratto … moltiplicato per le ore
//!   lavorate».
//! - Volunteers: «€ 131,00 per giornata, ovvero € 16,37 per ora», only «nel limite massimo del
//!   valore del cofinanziamento»: co-financing, never regional contribution.
//! - The plan: «TOTALE CONTRIBUTO PUBBLICO al massimo 80% del costo totale ammissibile»,
//!   «TOTALE COFINANZIAMENTO … almeno 20%», «acquisti di beni/attrezzature fino ad un massimo
//!   del 20% del contributo regionale».
//! - The timesheet: a person on several plans keeps «un time-sheet complessivo»; its days never
//!   exceed the measure's daily maximum across plans.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::catalogue::{CostRules, Measure};
use crate::values::Cents;

/// Why a staff-cost rule refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum StaffCostError {
    /// The measure has no cost rules for staff (not an `actual_staff_cost` measure).
    #[error("la misura non prevede il costo effettivo del personale (cost_rules)")]
    NoCostRules,
    /// A part-time percentage outside 1–100.
    #[error("percentuale di part-time {percent}: deve essere tra 1 e 100")]
    PartTime {
        /// The percentage given.
        percent: u32,
    },
    /// An annual cost or an hourly rate that is not positive.
    #[error("{what}: l'importo deve essere positivo")]
    NotPositive {
        /// Which amount.
        what: String,
    },
    /// Only an ATS operator records a person's cost.
    #[error("solo un operatore ATS registra il costo della persona")]
    NotAtsOperator,
    /// A record id already used.
    #[error("il record di costo {0} è già registrato")]
    RecordIdUsed(uuid::Uuid),
    /// A required field.
    #[error("{0}: campo obbligatorio")]
    Missing(&'static str),
    /// A day of the person's overall timesheet past the measure's daily maximum.
    #[error(
        "il {date} risultano {total_minutes} minuti tra tutti i piani: supera il massimo giornaliero di {max_minutes} minuti"
    )]
    DailyMaximum {
        /// The day.
        date: NaiveDate,
        /// The minutes of the day with the new row, all plans together.
        total_minutes: u32,
        /// The measure's maximum.
        max_minutes: u32,
    },
}

impl StaffCostError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            StaffCostError::NoCostRules => "no-staff-cost-rules",
            StaffCostError::PartTime { .. } => "invalid-part-time",
            StaffCostError::NotPositive { .. } => "cost-not-positive",
            StaffCostError::NotAtsOperator => "not-ats-operator",
            StaffCostError::RecordIdUsed(_) => "cost-record-id-used",
            StaffCostError::Missing(_) => "field-required",
            StaffCostError::DailyMaximum { .. } => "daily-maximum-exceeded",
        }
    }

    /// Whether the refusal is about who acts (403) rather than what is asked (422/409).
    pub fn forbidden(&self) -> bool {
        matches!(self, StaffCostError::NotAtsOperator)
    }
}

/// Whether a basis prices an hour (part-time share 1–100, positive amounts), before any
/// measure's rules.
pub fn check_basis(basis: &CostBasis) -> Result<(), StaffCostError> {
    match basis {
        CostBasis::Employee {
            annual,
            part_time_percent,
        } => {
            if *part_time_percent == 0 || *part_time_percent > 100 {
                return Err(StaffCostError::PartTime {
                    percent: *part_time_percent,
                });
            }
            if annual.total().0 <= 0 {
                return Err(StaffCostError::NotPositive {
                    what: "costo annuo lordo totale (C)".to_owned(),
                });
            }
            Ok(())
        }
        CostBasis::External { hourly_cents } if hourly_cents.0 <= 0 => {
            Err(StaffCostError::NotPositive {
                what: "costo orario del contratto".to_owned(),
            })
        }
        CostBasis::External { .. } | CostBasis::Volunteer => Ok(()),
    }
}

/// The most recent documented annual gross cost of an employee, by the components of the
/// Allegato B's «prospetto di calcolo del costo orario» (A: retribuzione, B: oneri sociali e
/// previdenziali a carico del datore di lavoro), in cents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnnualCost {
    /// A1. Somma delle retribuzioni mensili lorde.
    pub a1_monthly_pay: Cents,
    /// A2. Tredicesima mensilità.
    pub a2_thirteenth: Cents,
    /// A3. Quattordicesima e ulteriori mensilità.
    pub a3_fourteenth: Cents,
    /// A4. Maggiorazioni legate ai turni.
    pub a4_shifts: Cents,
    /// A5. Arretrati.
    pub a5_arrears: Cents,
    /// A6. Indennità.
    pub a6_allowances: Cents,
    /// A7. Quota di TFR annuo maturato.
    pub a7_severance: Cents,
    /// B1. INPS.
    pub b1_inps: Cents,
    /// B2. INAIL.
    pub b2_inail: Cents,
    /// B3. Fondi obbligatori previsti dal C.C.N.L.
    pub b3_ccnl_funds: Cents,
    /// B4. Previdenza complementare / assistenza sanitaria integrativa.
    pub b4_supplementary: Cents,
    /// B5. Altri costi sostenuti per il personale.
    pub b5_other: Cents,
}

impl AnnualCost {
    /// A: the gross pay (A1–A7).
    pub fn pay(&self) -> Cents {
        [
            self.a1_monthly_pay,
            self.a2_thirteenth,
            self.a3_fourteenth,
            self.a4_shifts,
            self.a5_arrears,
            self.a6_allowances,
            self.a7_severance,
        ]
        .into_iter()
        .fold(Cents(0), Cents::plus)
    }

    /// B: the employer's social and pension charges (B1–B5).
    pub fn charges(&self) -> Cents {
        [
            self.b1_inps,
            self.b2_inail,
            self.b3_ccnl_funds,
            self.b4_supplementary,
            self.b5_other,
        ]
        .into_iter()
        .fold(Cents(0), Cents::plus)
    }

    /// C = A + B: «costo annuo lordo totale».
    pub fn total(&self) -> Cents {
        self.pay().plus(self.charges())
    }
}

/// What prices a person's hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CostBasis {
    /// Personale dipendente: the annual cost and the part-time share.
    Employee {
        /// The most recent documented annual gross cost.
        annual: AnnualCost,
        /// «% Part-time» (100 for full time).
        part_time_percent: u32,
    },
    /// Personale esterno: the contract's hourly rate (taxes and contributions included).
    External {
        /// Cents per hour.
        hourly_cents: Cents,
    },
    /// Volontario: the standard unit cost of the measure, as co-financing.
    Volunteer,
}

/// An hourly cost and how it was reached, recorded with the hours it prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyCost {
    /// Cents per hour, rounded half-up to the cent («E. COSTO MEDIO ORARIO (E=C/D)»).
    pub cents: Cents,
    /// C, the annual cost divided (employees only).
    pub annual_cents: Option<Cents>,
    /// D in hundredths of an hour: 1,720 × the part-time share (employees only).
    pub standard_hours_x100: Option<u64>,
    /// Whether the hours are co-financing (volunteers) rather than cost.
    pub cofinancing: bool,
}

fn round_half_up(numerator: i128, denominator: i128) -> i64 {
    let q = (2 * numerator + denominator) / (2 * denominator);
    i64::try_from(q).unwrap_or(i64::MAX)
}

/// The hourly cost of a basis under the measure's rules.
pub fn hourly_cost(rules: &CostRules, basis: &CostBasis) -> Result<HourlyCost, StaffCostError> {
    match basis {
        CostBasis::Employee {
            annual,
            part_time_percent,
        } => {
            check_basis(basis)?;
            let c = annual.total();
            let hours = rules
                .annual_standard_hours
                .ok_or(StaffCostError::NoCostRules)?;
            // D × 100 = hours × percent: cents per hour = C × 100 / (hours × percent).
            let d_x100 = u64::from(hours) * u64::from(*part_time_percent);
            Ok(HourlyCost {
                cents: Cents(round_half_up(i128::from(c.0) * 100, i128::from(d_x100))),
                annual_cents: Some(c),
                standard_hours_x100: Some(d_x100),
                cofinancing: false,
            })
        }
        CostBasis::External { hourly_cents } => {
            check_basis(basis)?;
            Ok(HourlyCost {
                cents: *hourly_cents,
                annual_cents: None,
                standard_hours_x100: None,
                cofinancing: false,
            })
        }
        CostBasis::Volunteer => Ok(HourlyCost {
            cents: rules
                .volunteer_hourly_cents
                .ok_or(StaffCostError::NoCostRules)?,
            annual_cents: None,
            standard_hours_x100: None,
            cofinancing: true,
        }),
    }
}

/// «Costo ammissibile = Costo orario x Ore lavorate»: the minutes at the hourly cost, rounded
/// half-up to the cent (the rounding of every other amount of the service).
pub fn eligible_cost(hourly: &HourlyCost, minutes: u64) -> Cents {
    Cents::for_minutes(minutes, hourly.cents)
}

/// The cost rules of an `actual_staff_cost` measure.
pub fn rules_of(measure: &Measure) -> Result<&CostRules, StaffCostError> {
    measure
        .cost_rules
        .as_ref()
        .filter(|r| r.annual_standard_hours.is_some())
        .ok_or(StaffCostError::NoCostRules)
}

/// The overall timesheet's check: the minutes already on `date` across every plan, plus the
/// new row, never past the measure's daily maximum.
pub fn check_day(
    measure: &Measure,
    date: NaiveDate,
    minutes_already: u32,
    new_minutes: u32,
) -> Result<(), StaffCostError> {
    let total = minutes_already.saturating_add(new_minutes);
    match measure.max_minutes_per_day {
        Some(max) if total > max => Err(StaffCostError::DailyMaximum {
            date,
            total_minutes: total,
            max_minutes: max,
        }),
        _ => Ok(()),
    }
}

/// A plan's costs by the categories of the Allegato B1's «piano dei costi», in cents: the
/// budget when the plan is approved, the actuals when it is reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanCosts {
    /// A. Costi del personale interno ed esterno (regional contribution).
    pub staff: Cents,
    /// B. Altri costi (diretti diversi dal personale e indiretti).
    pub other: Cents,
    /// Of B, «acquisti di beni/attrezzature».
    pub equipment: Cents,
    /// D. Valorizzazione di personale già dipendente degli enti della rete (co-financing).
    pub network_staff: Cents,
    /// E. Valorizzazione del lavoro volontario (co-financing).
    pub volunteers: Cents,
    /// F. Quota economica (co-financing).
    pub cash: Cents,
}

/// What the Allegato B1's totals say of a plan's costs, and what breaks its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTotals {
    /// C = A + B: «totale contributo pubblico».
    pub public: Cents,
    /// G = D + E + F: «totale cofinanziamento».
    pub cofinancing: Cents,
    /// H = C + G: «totale costo».
    pub total: Cents,
    /// G / H in basis points (2000 = 20%), rounded down (0 when H is 0).
    pub cofinancing_bp: u32,
    /// Limits the costs break.
    pub flags: Vec<PlanFlag>,
}

/// A limit of the Allegato B a plan's costs break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum PlanFlag {
    /// «cofinanziamento obbligatorio pari ad almeno il 20% del costo totale»: G < 20% of H
    /// (equivalently C > 80% of H).
    CofinancingShort {
        /// G / H in basis points.
        cofinancing_bp: u32,
        /// The minimum, in percent.
        min_percent: u32,
    },
    /// «acquisti di beni/attrezzature fino ad un massimo del 20% del contributo regionale».
    EquipmentOver {
        /// The equipment.
        equipment: Cents,
        /// The maximum: the percentage of C.
        max: Cents,
    },
    /// The equipment is part of B: it cannot exceed it.
    EquipmentOutsideOtherCosts,
}

impl PlanFlag {
    /// The Italian sentence.
    pub fn message(&self) -> String {
        match self {
            PlanFlag::CofinancingShort {
                cofinancing_bp,
                min_percent,
            } => format!(
                "il cofinanziamento è il {},{:02}% del costo totale: deve essere almeno il {min_percent}%",
                cofinancing_bp / 100,
                cofinancing_bp % 100
            ),
            PlanFlag::EquipmentOver { equipment, max } => format!(
                "beni e attrezzature per {} superano il massimo di {} (quota del contributo regionale)",
                equipment, max
            ),
            PlanFlag::EquipmentOutsideOtherCosts => {
                "beni e attrezzature devono essere compresi negli altri costi (B)".to_owned()
            }
        }
    }
}

/// The totals of a plan's costs and the limits they break under the measure's rules.
pub fn plan_totals(rules: &CostRules, costs: &PlanCosts) -> PlanTotals {
    let public = costs.staff.plus(costs.other);
    let cofinancing = costs.network_staff.plus(costs.volunteers).plus(costs.cash);
    let total = public.plus(cofinancing);
    let cofinancing_bp = if total.0 > 0 {
        u32::try_from(i128::from(cofinancing.0) * 10_000 / i128::from(total.0)).unwrap_or(0)
    } else {
        0
    };
    let mut flags = Vec::new();
    if let Some(min) = rules.min_cofinancing_percent
        && total.0 > 0
        && i128::from(cofinancing.0) * 100 < i128::from(total.0) * i128::from(min)
    {
        flags.push(PlanFlag::CofinancingShort {
            cofinancing_bp,
            min_percent: min,
        });
    }
    if costs.equipment.0 > costs.other.0 {
        flags.push(PlanFlag::EquipmentOutsideOtherCosts);
    }
    if let Some(max_percent) = rules.max_equipment_percent {
        // Rounded down: the limit is never more than the percentage of C.
        let max =
            Cents(i64::try_from(i128::from(public.0) * i128::from(max_percent) / 100).unwrap_or(0));
        if costs.equipment.0 > max.0 {
            flags.push(PlanFlag::EquipmentOver {
                equipment: costs.equipment,
                max,
            });
        }
    }
    PlanTotals {
        public,
        cofinancing,
        total,
        cofinancing_bp,
        flags,
    }
}

/// Volunteer hours valued and what of them counts: «nel limite massimo del valore del
/// cofinanziamento». The counted part never exceeds the plan's co-financing less the other
/// co-financing (D and F) already reported; the rest is valued but not counted, and nothing of
/// it ever reaches the regional contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerValue {
    /// Hours × the standard unit cost.
    pub valued: Cents,
    /// What counts as co-financing (E).
    pub counted: Cents,
    /// Valued beyond the limit: not counted.
    pub over_limit: Cents,
}

/// Values `minutes` of volunteer work under the measure's rules, counted up to `room` (the
/// plan's co-financing less the other co-financing reported).
pub fn volunteer_value(
    rules: &CostRules,
    minutes: u64,
    room: Cents,
) -> Result<VolunteerValue, StaffCostError> {
    let rate = hourly_cost(rules, &CostBasis::Volunteer)?;
    Ok(volunteer_count(eligible_cost(&rate, minutes), room))
}

/// What of `valued` volunteer work counts as co-financing within `room`.
pub fn volunteer_count(valued: Cents, room: Cents) -> VolunteerValue {
    let counted = Cents(valued.0.min(room.0.max(0)));
    VolunteerValue {
        valued,
        counted,
        over_limit: Cents(valued.0 - counted.0),
    }
}
