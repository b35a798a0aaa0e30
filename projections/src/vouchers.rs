//! The voucher report (seed 003 §12–13): per Ambito (the lead body that holds the case's
//! public-body party) and case, the flat amounts due, not yet due and not due with the reasons,
//! the advance and the balance — what the Ambito files with the Region. Read from the voucher
//! column of `rm_cases` (the case diaries projection) and computed for the day asked, with the
//! domain's rules (`diario_domain::flat_amounts`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diario_domain::Catalogue;
use diario_domain::flat_amounts::{LineStatus, Payment, total};
use diario_domain::values::Cents;
use diario_log::Database;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;
use crate::diaries::VoucherView;
use diario_log::Query;

/// Filters of [`voucher_report`].
#[derive(Debug, Clone, Default)]
pub struct VoucherFilter {
    /// Only the cases of this ATS.
    pub ats: Option<String>,
    /// Only the cases of this Ambito lead body.
    pub ambito: Option<String>,
    /// Only the cases of this measure.
    pub measure_id: Option<String>,
    /// Only this case.
    pub case_id: Option<Uuid>,
    /// Only the cases of this provider.
    pub provider: Option<String>,
}

#[derive(Deserialize)]
struct Row {
    case_id: Uuid,
    measure_id: String,
    ats: String,
    asst: String,
    provider: String,
    recipient_pseudonym: String,
    #[serde(default, deserialize_with = "crate::diaries::json_or_null")]
    voucher: Option<VoucherView>,
}

/// One reason a line is not (yet) due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReasonView {
    /// Stable code (`document-missing`, `accesses-short`, `objectives-not-declared`, …).
    pub code: String,
    /// The Italian sentence.
    pub message: String,
}

/// One flat amount of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClaimLineView {
    /// The output it pays.
    pub output: String,
    pub amount_cents: i64,
    /// `due`, `not_yet_due` or `not_due`.
    pub status: String,
    pub reasons: Vec<ReasonView>,
}

/// One case of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VoucherCase {
    pub case_id: Uuid,
    pub measure_id: String,
    pub ats: String,
    pub provider: String,
    pub recipient_pseudonym: String,
    pub intensity: String,
    pub start: NaiveDate,
    /// The voucher's last valid day as of the report.
    pub validity_end: NaiveDate,
    pub suspended_days: u32,
    pub authorised_days: u32,
    pub accesses: u32,
    pub accesses_required: u32,
    pub realised: bool,
    pub interrupted: bool,
    pub lines: Vec<ClaimLineView>,
    pub due_cents: i64,
    pub advance_cents: i64,
    /// Due − advance: positive to pay, negative to recover.
    pub balance_cents: i64,
}

/// The cases of one Ambito and their totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AmbitoReport {
    /// The lead body's organisation code.
    pub ambito: String,
    pub cases: Vec<VoucherCase>,
    pub due_cents: i64,
    pub advance_cents: i64,
    pub balance_cents: i64,
}

/// The voucher report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VoucherReport {
    /// The day the amounts are computed for.
    pub as_of: NaiveDate,
    pub ambiti: Vec<AmbitoReport>,
    pub due_cents: i64,
    pub advance_cents: i64,
    pub balance_cents: i64,
}

fn line_view(l: &diario_domain::flat_amounts::ClaimLine) -> ClaimLineView {
    let (status, why) = match &l.status {
        LineStatus::Due => ("due", &[][..]),
        LineStatus::NotYetDue { why } => ("not_yet_due", &why[..]),
        LineStatus::NotDue { why } => ("not_due", &why[..]),
    };
    ClaimLineView {
        output: l.output.clone(),
        amount_cents: l.amount.0,
        status: status.to_owned(),
        reasons: why
            .iter()
            .map(|w| ReasonView {
                code: serde_json::to_value(w)
                    .ok()
                    .and_then(|v| v.get("code").and_then(|c| c.as_str().map(str::to_owned)))
                    .unwrap_or_default(),
                message: w.message(),
            })
            .collect(),
    }
}

/// §12–13: every voucher case of the filter, per Ambito, as of `as_of`.
pub async fn voucher_report(
    db: &Database,
    catalogue: &Catalogue,
    filter: &VoucherFilter,
    as_of: NaiveDate,
) -> Result<VoucherReport, ProjectionError> {
    let mut q = Query::new(
        "SELECT case_id, measure_id, ats, asst, provider, recipient_pseudonym, voucher \
         FROM rm_cases WHERE voucher IS NOT NULL",
    );
    q.and_some(" AND ats = ", filter.ats.as_ref());
    q.and_some(" AND asst = ", filter.ambito.as_ref());
    q.and_some(" AND measure_id = ", filter.measure_id.as_ref());
    q.and_some(" AND case_id = ", filter.case_id);
    q.and_some(" AND provider = ", filter.provider.as_ref());
    let mut by_ambito: BTreeMap<String, (Vec<VoucherCase>, Vec<Payment>)> = BTreeMap::new();
    for r in db.query(&q).await? {
        let row: Row = r.decode()?;
        let Some(view) = row.voucher else { continue };
        let measure = catalogue.get(&diario_domain::MeasureId::new(&row.measure_id));
        let Some(measure) = measure else { continue };
        let status = view
            .facts
            .status(measure, as_of)
            .map_err(|e| ProjectionError::Corrupt(format!("case {}: {e}", row.case_id)))?;
        let case = VoucherCase {
            case_id: row.case_id,
            measure_id: row.measure_id,
            ats: row.ats,
            provider: row.provider,
            recipient_pseudonym: row.recipient_pseudonym,
            intensity: view.facts.voucher.intensity.clone(),
            start: view.facts.voucher.start,
            validity_end: status.validity.end,
            suspended_days: status.suspended_days,
            authorised_days: status.authorised_days,
            accesses: status.accesses.counted,
            accesses_required: status.accesses.required,
            realised: status.claim.realised,
            interrupted: view.facts.interrupted,
            lines: status.claim.lines.iter().map(line_view).collect(),
            due_cents: status.payment.due.0,
            advance_cents: status.payment.advance.0,
            balance_cents: status.payment.balance.0,
        };
        let slot = by_ambito.entry(row.asst).or_default();
        slot.0.push(case);
        slot.1.push(status.payment);
    }
    let mut all = Vec::new();
    let ambiti = by_ambito
        .into_iter()
        .map(|(ambito, (mut cases, payments))| {
            cases.sort_by_key(|c| c.case_id);
            let t = total(&payments);
            all.push(t);
            AmbitoReport {
                ambito,
                cases,
                due_cents: t.due.0,
                advance_cents: t.advance.0,
                balance_cents: t.balance.0,
            }
        })
        .collect();
    let t = total(&all);
    let Cents(due) = t.due;
    Ok(VoucherReport {
        as_of,
        ambiti,
        due_cents: due,
        advance_cents: t.advance.0,
        balance_cents: t.balance.0,
    })
}

impl VoucherReport {
    /// One CSV row per flat amount of each case (the Ambito's filing): ambito, case,
    /// pseudonym, intensity, accesses, realised, output, amount, status, reasons, and the
    /// case's due, advance and balance on each of its rows.
    pub fn csv_rows(&self) -> Vec<Vec<String>> {
        let euros = |c: i64| format!("{}.{:02}", c / 100, (c % 100).abs());
        let mut rows = vec![
            [
                "ambito",
                "case_id",
                "recipient_pseudonym",
                "intensity",
                "accesses",
                "accesses_required",
                "realised",
                "output",
                "amount_eur",
                "status",
                "reasons",
                "case_due_eur",
                "case_advance_eur",
                "case_balance_eur",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for a in &self.ambiti {
            for c in &a.cases {
                for l in &c.lines {
                    rows.push(vec![
                        a.ambito.clone(),
                        c.case_id.to_string(),
                        c.recipient_pseudonym.clone(),
                        c.intensity.clone(),
                        c.accesses.to_string(),
                        c.accesses_required.to_string(),
                        c.realised.to_string(),
                        l.output.clone(),
                        euros(l.amount_cents),
                        l.status.clone(),
                        l.reasons
                            .iter()
                            .map(|r| r.message.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                        euros(c.due_cents),
                        euros(c.advance_cents),
                        euros(c.balance_cents),
                    ]);
                }
            }
        }
        rows
    }
}

/// One voucher pathway as the ATS dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PathwayRow {
    pub case_id: Uuid,
    pub ambito: String,
    pub intensity: String,
    pub accesses: u32,
    pub accesses_required: u32,
    pub realised: bool,
    pub interrupted: bool,
    pub validity_end: NaiveDate,
    pub due_cents: i64,
}

/// The voucher pathways of an ATS on the dashboard (seed 003): counts, money and the pathways
/// furthest from their minimum of accesses first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoucherSummary {
    pub as_of: NaiveDate,
    pub pathways: usize,
    pub realised: usize,
    pub interrupted: usize,
    pub due_cents: i64,
    pub advance_cents: i64,
    pub balance_cents: i64,
    /// At most [`PATHWAYS_SHOWN`]: running pathways by the share of accesses still missing,
    /// then the others; the full list is `GET /v1/reports/vouchers`.
    pub shown: Vec<PathwayRow>,
    pub more: bool,
}

/// Pathways listed on the dashboard.
pub const PATHWAYS_SHOWN: usize = 20;

impl VoucherReport {
    /// The dashboard's summary; `None` without voucher pathways.
    pub fn summary(&self) -> Option<VoucherSummary> {
        let mut rows: Vec<PathwayRow> = self
            .ambiti
            .iter()
            .flat_map(|a| {
                a.cases.iter().map(|c| PathwayRow {
                    case_id: c.case_id,
                    ambito: a.ambito.clone(),
                    intensity: c.intensity.clone(),
                    accesses: c.accesses,
                    accesses_required: c.accesses_required,
                    realised: c.realised,
                    interrupted: c.interrupted,
                    validity_end: c.validity_end,
                    due_cents: c.due_cents,
                })
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        let pathways = rows.len();
        let realised = rows.iter().filter(|r| r.realised).count();
        let interrupted = rows.iter().filter(|r| r.interrupted).count();
        // Running first, by the share of accesses done (least first), then by case id.
        rows.sort_by(|a, b| {
            let done = |r: &PathwayRow| {
                u64::from(r.accesses) * 1000 / u64::from(r.accesses_required.max(1))
            };
            (a.realised || a.interrupted, done(a), a.case_id).cmp(&(
                b.realised || b.interrupted,
                done(b),
                b.case_id,
            ))
        });
        let more = rows.len() > PATHWAYS_SHOWN;
        rows.truncate(PATHWAYS_SHOWN);
        Some(VoucherSummary {
            as_of: self.as_of,
            pathways,
            realised,
            interrupted,
            due_cents: self.due_cents,
            advance_cents: self.advance_cents,
            balance_cents: self.balance_cents,
            shown: rows,
            more,
        })
    }
}
