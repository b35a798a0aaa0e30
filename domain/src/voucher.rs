//! The voucher of a flat-amount measure (seed 003, "autonomia 2016"): its validity with the
//! suspensions (§9 E, §10, §11), the accesses a pathway documents and whether it is
//! "realizzato" (§12). Pure rules on the measure's data (`catalogue::Voucher`,
//! `Measure::intensities`); docs/domain.md, choices 27–31, says how each phrase is read.

use std::collections::BTreeSet;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Measure, Voucher as Terms};
use crate::values::{ServiceId, add_civil_days};

/// A suspension of the PI/PEI (§9 E): from its first suspended day to the day the pathway is
/// active again (that day not suspended).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// The first suspended day.
    pub from: NaiveDate,
    /// The day of the reactivation; `None` while still suspended.
    pub reactivated_on: Option<NaiveDate>,
    /// Whether the Region authorised the extension of the terms it asks for.
    pub authorised: bool,
}

impl Suspension {
    /// Calendar days suspended; an open suspension counts up to `as_of` (excluded).
    pub fn days(&self, as_of: NaiveDate) -> u32 {
        let end = self.reactivated_on.unwrap_or(as_of).max(self.from);
        u32::try_from((end - self.from).num_days()).unwrap_or(u32::MAX)
    }

    /// Whether `date` is a suspended day.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && self.reactivated_on.is_none_or(|r| date < r)
    }

    fn overlaps(&self, other: &Suspension) -> bool {
        let before = |a: &Suspension, b: &Suspension| a.reactivated_on.is_some_and(|r| r <= b.from);
        !before(self, other) && !before(other, self)
    }
}

/// The nominative voucher of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseVoucher {
    /// The start of the activities.
    pub start: NaiveDate,
    /// The intensity chosen when the case opened (an id of `Measure::intensities`).
    pub intensity: String,
    /// Every suspension communicated, authorised or not.
    pub suspensions: Vec<Suspension>,
}

/// Which limit ends a voucher's validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The normal months plus the authorised suspended days.
    Months,
    /// The maximum months with suspensions (§10: 15).
    MaxMonths,
    /// The measure's last day of activities (§11: 15 June 2018).
    ActivitiesEnd,
}

/// A voucher's validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Validity {
    /// The last day of the normal months (12: 2017-02-01 → 2018-01-31).
    pub base_end: NaiveDate,
    /// The last valid day.
    pub end: NaiveDate,
    /// What fixed `end`.
    pub bound: Bound,
}

/// Why a voucher rule refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherError {
    /// The measure has no voucher.
    #[error("la misura {0} non prevede un voucher")]
    NotAVoucherMeasure(String),
    /// The intensity is not one of the measure's.
    #[error("intensity: l'intensità {0} non è prevista dalla misura")]
    UnknownIntensity(String),
    /// §9 E: at most `max` days of suspension in total.
    #[error(
        "§9 E: la sospensione porterebbe il totale a {total} giorni, oltre il massimo di {max} (anche non consecutivi)"
    )]
    SuspensionOverLimit {
        /// Days in total with this suspension.
        total: u32,
        /// The measure's maximum.
        max: u32,
    },
    /// A reactivation on or before the first suspended day.
    #[error("reactivated_on: la riattivazione deve seguire l'inizio della sospensione")]
    SuspensionEmpty,
    /// Two suspensions share a day.
    #[error("from: la sospensione si sovrappone a quella iniziata il {0}")]
    SuspensionOverlaps(NaiveDate),
    /// §9 E: nothing is delivered while the PI/PEI is suspended.
    #[error("§9 E: il {date} il PI/PEI è sospeso (dal {since})")]
    Suspended {
        /// The day asked for.
        date: NaiveDate,
        /// The first day of the suspension covering it.
        since: NaiveDate,
    },
    /// §10–11: nothing is delivered outside the voucher's validity.
    #[error("§10: il {date} è fuori dalla validità del voucher ({start} – {end})")]
    OutsideValidity {
        /// The day asked for.
        date: NaiveDate,
        /// The voucher's first day.
        start: NaiveDate,
        /// The voucher's last valid day.
        end: NaiveDate,
    },
}

impl VoucherError {
    /// The paragraph of the Avviso (seed 003) the rule comes from.
    pub fn article(&self) -> &'static str {
        match self {
            VoucherError::NotAVoucherMeasure(_) | VoucherError::UnknownIntensity(_) => {
                "Avviso autonomia 2016 §10"
            }
            VoucherError::OutsideValidity { .. } => "Avviso autonomia 2016 §10-11",
            VoucherError::SuspensionOverLimit { .. }
            | VoucherError::SuspensionEmpty
            | VoucherError::SuspensionOverlaps(_)
            | VoucherError::Suspended { .. } => "Avviso autonomia 2016 §9 E",
        }
    }

    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            VoucherError::NotAVoucherMeasure(_) => "not-a-voucher-measure",
            VoucherError::UnknownIntensity(_) => "unknown-intensity",
            VoucherError::SuspensionOverLimit { .. } => "suspension-over-limit",
            VoucherError::SuspensionEmpty => "suspension-empty",
            VoucherError::SuspensionOverlaps(_) => "suspension-overlaps",
            VoucherError::Suspended { .. } => "voucher-suspended",
            VoucherError::OutsideValidity { .. } => "outside-voucher-validity",
        }
    }
}

/// The measure's voucher terms.
pub fn terms(measure: &Measure) -> Result<&Terms, VoucherError> {
    measure
        .voucher
        .as_ref()
        .ok_or_else(|| VoucherError::NotAVoucherMeasure(measure.id.as_str().to_owned()))
}

/// The last day of `months` months from `start` (2017-02-01 + 12 → 2018-01-31; a day the
/// target month lacks falls to its last day first: 2017-01-31 + 15 → 2018-04-30, then − 1).
fn last_day(start: NaiveDate, months: u32) -> NaiveDate {
    start
        .checked_add_months(Months::new(months))
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

impl CaseVoucher {
    /// Days suspended in total, authorised or not, as of `as_of`.
    pub fn suspended_days(&self, as_of: NaiveDate) -> u32 {
        self.suspensions.iter().map(|s| s.days(as_of)).sum()
    }

    /// The authorised suspended days: the ones that extend the validity (§9 E).
    pub fn authorised_days(&self, as_of: NaiveDate) -> u32 {
        self.suspensions
            .iter()
            .filter(|s| s.authorised)
            .map(|s| s.days(as_of))
            .sum()
    }

    /// The suspension covering `date`, if any.
    pub fn suspension_on(&self, date: NaiveDate) -> Option<&Suspension> {
        self.suspensions.iter().find(|s| s.covers(date))
    }

    /// §10–11: the normal months plus the authorised suspended days, never past the maximum
    /// months nor the measure's last day of activities.
    pub fn validity(&self, terms: &Terms, as_of: NaiveDate) -> Validity {
        let base_end = last_day(self.start, terms.validity_months);
        let mut end = add_civil_days(base_end, self.authorised_days(as_of));
        let mut bound = Bound::Months;
        if let Some(max) = terms.max_validity_months {
            let max_end = last_day(self.start, max);
            if max_end < end {
                end = max_end;
                bound = Bound::MaxMonths;
            }
        }
        if let Some(last) = terms.activities_end
            && last < end
        {
            end = last;
            bound = Bound::ActivitiesEnd;
        }
        Validity {
            base_end,
            end,
            bound,
        }
    }

    /// §9 E: a new suspension, or the reactivation of the open one (the suspension with the
    /// same `from`, which it replaces), keeps every day apart and the total within the limit.
    pub fn check_suspension(
        &self,
        terms: &Terms,
        suspension: &Suspension,
        as_of: NaiveDate,
    ) -> Result<(), VoucherError> {
        if suspension
            .reactivated_on
            .is_some_and(|r| r <= suspension.from)
        {
            return Err(VoucherError::SuspensionEmpty);
        }
        let others = self
            .suspensions
            .iter()
            .filter(|s| s.from != suspension.from);
        let mut total = suspension.days(as_of);
        for other in others {
            if other.overlaps(suspension) {
                return Err(VoucherError::SuspensionOverlaps(other.from));
            }
            total += other.days(as_of);
        }
        if let Some(max) = terms.max_suspension_days
            && total > max
        {
            return Err(VoucherError::SuspensionOverLimit { total, max });
        }
        Ok(())
    }

    /// Whether a service may be delivered on `date`: within the validity and not suspended.
    pub fn check_activity_on(
        &self,
        terms: &Terms,
        date: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<(), VoucherError> {
        if let Some(s) = self.suspension_on(date) {
            return Err(VoucherError::Suspended {
                date,
                since: s.from,
            });
        }
        let validity = self.validity(terms, as_of);
        if date < self.start || date > validity.end {
            return Err(VoucherError::OutsideValidity {
                date,
                start: self.start,
                end: validity.end,
            });
        }
        Ok(())
    }
}

/// One confirmed, not withdrawn entry: the day and the service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceDay {
    /// The day of the entry.
    pub date: NaiveDate,
    /// Its service.
    pub service: ServiceId,
}

/// The accesses of a pathway against its intensity's minimum (§12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accesses {
    /// Days counted.
    pub counted: u32,
    /// The intensity's minimum for a realised pathway.
    pub required: u32,
}

/// §12: the days with at least one confirmed service of `access_services`, within the
/// voucher's validity and not suspended; two services on one day are one access.
pub fn count_accesses(
    measure: &Measure,
    voucher: &CaseVoucher,
    days: &[ServiceDay],
    as_of: NaiveDate,
) -> Result<Accesses, VoucherError> {
    let terms = terms(measure)?;
    let intensity = measure
        .intensities
        .iter()
        .find(|i| i.id == voucher.intensity)
        .ok_or_else(|| VoucherError::UnknownIntensity(voucher.intensity.clone()))?;
    let validity = voucher.validity(terms, as_of);
    let mut dates = BTreeSet::new();
    for d in days {
        if !terms.access_services.contains(&d.service) {
            continue;
        }
        if voucher.suspension_on(d.date).is_some() {
            continue;
        }
        if d.date < voucher.start || d.date > validity.end {
            continue;
        }
        dates.insert(d.date);
    }
    Ok(Accesses {
        counted: u32::try_from(dates.len()).unwrap_or(u32::MAX),
        required: intensity.min_accesses_for_realised,
    })
}

/// §12: a pathway is realised when its objectives are declared achieved (the final individual
/// report recorded by the case manager) and it documents the intensity's minimum accesses.
pub fn realised(accesses: &Accesses, objectives_declared: bool) -> bool {
    accesses.counted >= accesses.required && objectives_declared
}
