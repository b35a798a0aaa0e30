//! Given/when/then tests, one per rule of the Regolamento. Test names are the
//! rules; docs/domain.md maps them to articles.

mod common;

mod agenda;
mod alerts;
mod checklist;
mod confirmation;
mod confirmers;
mod dead_ends;
mod deliveries;
mod documents;
mod editability;
mod failures;
mod flat_amounts;
mod interruption;
mod measures;
mod organisations;
mod paper;
mod plans;
mod rates;
mod recording;
mod roles;
mod sampling;
mod seal;
mod serialization;
mod staff_cost;
mod voucher_cases;
mod vouchers;
mod whole_diary;
