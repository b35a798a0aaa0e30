//! The flat amounts of a voucher pathway (seed 003 §12) and the payments on them (§13): what
//! an Ambito may claim for each case, what is not yet due and why, the advance and the
//! balance. Pure rules on the measure's data (`FlatAmount::due_when`, `Voucher::advance`);
//! docs/domain.md, choices 32–36, says how each phrase is read.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::case::CaseFile;
use crate::catalogue::{DueWhen, FlatAmount, Measure};
use crate::values::Cents;
use crate::voucher::{
    Accesses, CaseVoucher, ServiceDay, Validity, VoucherError, count_accesses, realised, terms,
};

/// What the rules need to know of one pathway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pathway<'a> {
    /// Its voucher (start, intensity, suspensions).
    pub voucher: &'a CaseVoucher,
    /// The document kinds recorded on the case.
    pub documents: &'a BTreeSet<String>,
    /// Its accesses (`crate::voucher::count_accesses`).
    pub accesses: Accesses,
    /// The case manager's declaration: `Some(true)` objectives achieved, `Some(false)` not
    /// achieved, `None` not declared yet.
    pub objectives_achieved: Option<bool>,
    /// Whether the case manager's formal check of the diaries passed after the declaration.
    pub formal_check_passed: bool,
    /// Whether the pathway was interrupted for good.
    pub interrupted: bool,
}

/// Why an amount is not (yet) due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Why {
    /// The document that triggers it is not recorded.
    DocumentMissing {
        /// Its kind.
        document: String,
    },
    /// Fewer accesses than the intensity's minimum.
    AccessesShort {
        /// Counted so far.
        counted: u32,
        /// The minimum.
        required: u32,
    },
    /// The case manager has not declared the objectives (with the final report).
    ObjectivesNotDeclared,
    /// The case manager declared the objectives not achieved.
    ObjectivesNotAchieved,
    /// The case manager's formal check (§9 D) has not passed.
    FormalCheckMissing,
    /// The pathway was interrupted.
    Interrupted,
    /// The voucher's validity is over.
    ValidityOver {
        /// Its last day.
        end: NaiveDate,
    },
    /// The closure procedures are over (§11: 30 July 2018).
    ClosureOver {
        /// Their last day.
        by: NaiveDate,
    },
}

impl Why {
    /// The Italian sentence the report shows.
    pub fn message(&self) -> String {
        match self {
            Why::DocumentMissing { document } => format!("manca il documento {document}"),
            Why::AccessesShort { counted, required } => {
                format!("accessi documentati {counted} su {required} richiesti")
            }
            Why::ObjectivesNotDeclared => {
                "il case manager non ha ancora dichiarato gli obiettivi (relazione finale)"
                    .to_owned()
            }
            Why::ObjectivesNotAchieved => {
                "il case manager ha dichiarato gli obiettivi non conseguiti".to_owned()
            }
            Why::FormalCheckMissing => {
                "manca la verifica formale dei diari del case manager (§9 D)".to_owned()
            }
            Why::Interrupted => "percorso interrotto".to_owned(),
            Why::ValidityOver { end } => format!("validità del voucher terminata il {end}"),
            Why::ClosureOver { by } => format!("procedure di chiusura terminate il {by}"),
        }
    }
}

/// Where one flat amount stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LineStatus {
    /// Due: the Ambito may claim it.
    Due,
    /// Not due yet; each reason still open.
    NotYetDue {
        /// What is missing.
        why: Vec<Why>,
    },
    /// Never due: what made it impossible, then what was missing.
    NotDue {
        /// Why.
        why: Vec<Why>,
    },
}

/// One flat amount of the pathway's intensity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimLine {
    /// The output (the measure's `output`).
    pub output: String,
    /// Its amount.
    pub amount: Cents,
    /// Where it stands.
    pub status: LineStatus,
}

/// What an Ambito may claim for one pathway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// One line per flat amount of the intensity, in the measure's order.
    pub lines: Vec<ClaimLine>,
    /// The sum of the due lines, never more than the voucher.
    pub due: Cents,
    /// Whether the pathway is realised (§12).
    pub realised: bool,
}

/// The lines of `measure` for `intensity`.
fn lines_of<'m>(measure: &'m Measure, intensity: &str) -> impl Iterator<Item = &'m FlatAmount> {
    measure
        .flat_amounts
        .iter()
        .filter(move |a| a.intensity.as_deref().is_none_or(|i| i == intensity))
}

/// §12: each flat amount of the pathway's intensity, due or not and why, as of `as_of`.
pub fn claim(measure: &Measure, p: &Pathway<'_>, as_of: NaiveDate) -> Result<Claim, VoucherError> {
    let terms = terms(measure)?;
    if !measure
        .intensities
        .iter()
        .any(|i| i.id == p.voucher.intensity)
    {
        return Err(VoucherError::UnknownIntensity(p.voucher.intensity.clone()));
    }
    let is_realised = realised(&p.accesses, p.objectives_achieved == Some(true));
    let validity = p.voucher.validity(terms, as_of);
    // What can no longer change: the pathway stopped, or its time ran out.
    let mut ended = Vec::new();
    if p.interrupted {
        ended.push(Why::Interrupted);
    }
    if p.objectives_achieved == Some(false) {
        ended.push(Why::ObjectivesNotAchieved);
    }
    let accesses_open = as_of <= validity.end;
    if !accesses_open && p.accesses.counted < p.accesses.required {
        ended.push(Why::ValidityOver { end: validity.end });
    }
    if let Some(by) = terms.final_report_by
        && as_of > by
        && p.objectives_achieved.is_none()
    {
        ended.push(Why::ClosureOver { by });
    }
    let mut lines = Vec::new();
    let mut due = Cents(0);
    for amount in lines_of(measure, &p.voucher.intensity) {
        let missing = match &amount.due_when {
            DueWhen::Document { document } => {
                if p.documents.contains(document) {
                    Vec::new()
                } else {
                    vec![Why::DocumentMissing {
                        document: document.clone(),
                    }]
                }
            }
            DueWhen::Realised => {
                let mut why = Vec::new();
                if p.accesses.counted < p.accesses.required {
                    why.push(Why::AccessesShort {
                        counted: p.accesses.counted,
                        required: p.accesses.required,
                    });
                }
                if p.objectives_achieved.is_none() {
                    why.push(Why::ObjectivesNotDeclared);
                }
                if is_realised && terms.formal_check && !p.formal_check_passed {
                    why.push(Why::FormalCheckMissing);
                }
                why
            }
        };
        // A due document stays due whatever happens later (§12 «anche qualora…»); anything
        // else missing on an ended pathway is never due.
        let status = if missing.is_empty()
            && (matches!(amount.due_when, DueWhen::Document { .. }) || is_realised)
        {
            LineStatus::Due
        } else if ended.is_empty() {
            LineStatus::NotYetDue { why: missing }
        } else {
            let mut why = ended.clone();
            why.extend(missing);
            LineStatus::NotDue { why }
        };
        if status == LineStatus::Due {
            due = due.plus(amount.amount_cents);
        }
        lines.push(ClaimLine {
            output: amount.output.clone(),
            amount: amount.amount_cents,
            status,
        });
    }
    if due.0 > terms.amount_cents.0 {
        due = terms.amount_cents;
    }
    Ok(Claim {
        lines,
        due,
        realised: is_realised,
    })
}

/// What the Region pays on one voucher (§13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// The advance: the measure's percent of the voucher once its document is recorded.
    pub advance: Cents,
    /// The amounts due (`Claim::due`).
    pub due: Cents,
    /// Due − advance: positive to pay, negative to recover.
    pub balance: Cents,
}

/// §13: the advance on a voucher whose advance document (the PI) is recorded, and the balance
/// of the amounts due net of it; an interrupted pathway's balance is negative when the
/// advance exceeds what became due (choice 35).
pub fn payment(measure: &Measure, p: &Pathway<'_>, claim: &Claim) -> Result<Payment, VoucherError> {
    let terms = terms(measure)?;
    let advance = match &terms.advance {
        Some(a) if p.documents.contains(&a.document) => {
            let value = i128::from(terms.amount_cents.0) * i128::from(a.percent) / 100;
            Cents(i64::try_from(value).unwrap_or(i64::MAX))
        }
        _ => Cents(0),
    };
    Ok(Payment {
        advance,
        due: claim.due,
        balance: Cents(claim.due.0.saturating_sub(advance.0)),
    })
}

/// The sum of several payments (an Ambito's request).
pub fn total(payments: &[Payment]) -> Payment {
    payments.iter().fold(
        Payment {
            advance: Cents(0),
            due: Cents(0),
            balance: Cents(0),
        },
        |t, p| Payment {
            advance: t.advance.plus(p.advance),
            due: t.due.plus(p.due),
            balance: t.balance.plus(p.balance),
        },
    )
}

/// What a case records of its voucher pathway, as of no particular day: the read model keeps
/// it, and [`PathwayFacts::status`] says where the pathway stands on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathwayFacts {
    /// The voucher: start, intensity, suspensions.
    pub voucher: CaseVoucher,
    /// The document kinds recorded.
    pub documents: BTreeSet<String>,
    /// The days and services of the confirmed, not withdrawn entries (distinct).
    pub service_days: Vec<ServiceDay>,
    /// The case manager's declaration of the objectives.
    pub objectives_achieved: Option<bool>,
    /// Whether the formal check passed after the declaration (§9 D).
    pub formal_check_passed: bool,
    /// Whether the pathway was interrupted.
    pub interrupted: bool,
}

/// Where a voucher pathway stands on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathwayStatus {
    /// The day.
    pub as_of: NaiveDate,
    /// The voucher's validity (§10–11).
    pub validity: Validity,
    /// Days suspended in total, and of them authorised (§9 E).
    pub suspended_days: u32,
    /// The authorised ones, which extend the validity.
    pub authorised_days: u32,
    /// The measure's maximum of suspended days.
    pub max_suspension_days: Option<u32>,
    /// Accesses so far against the intensity's minimum (§12).
    pub accesses: Accesses,
    /// The claim, line by line (§12).
    pub claim: Claim,
    /// Advance and balance (§13).
    pub payment: Payment,
}

impl PathwayFacts {
    /// The facts of a case with a voucher.
    pub fn of(file: &CaseFile) -> Option<PathwayFacts> {
        let voucher = file.voucher.clone()?;
        let service_days: BTreeSet<ServiceDay> = file
            .entries
            .values()
            .filter(|e| e.confirmed && !e.withdrawn)
            .map(|e| ServiceDay {
                date: e.slot.date,
                service: e.service.clone(),
            })
            .collect();
        Some(PathwayFacts {
            voucher,
            documents: file.documents.values().map(|d| d.kind.clone()).collect(),
            service_days: service_days.into_iter().collect(),
            objectives_achieved: file.objectives.as_ref().map(|o| o.achieved),
            formal_check_passed: file.formal_check_passed(),
            interrupted: file.interrupted_at.is_some(),
        })
    }

    /// Where the pathway stands on `as_of` under `measure`.
    pub fn status(
        &self,
        measure: &Measure,
        as_of: NaiveDate,
    ) -> Result<PathwayStatus, VoucherError> {
        let terms = terms(measure)?;
        let accesses = count_accesses(measure, &self.voucher, &self.service_days, as_of)?;
        let pathway = Pathway {
            voucher: &self.voucher,
            documents: &self.documents,
            accesses: accesses.clone(),
            objectives_achieved: self.objectives_achieved,
            formal_check_passed: self.formal_check_passed,
            interrupted: self.interrupted,
        };
        let claim = claim(measure, &pathway, as_of)?;
        let payment = payment(measure, &pathway, &claim)?;
        Ok(PathwayStatus {
            as_of,
            validity: self.voucher.validity(terms, as_of),
            suspended_days: self.voucher.suspended_days(as_of),
            authorised_days: self.voucher.authorised_days(as_of),
            max_suspension_days: terms.max_suspension_days,
            accesses,
            claim,
            payment,
        })
    }
}
