//! Diario Online domain: value types, the measure catalogue and the `Case`
//! aggregate as a pure decider implementing the Regolamento "diario online" of the measure
//! "#UP – Percorsi per crescere alla grande" (DGR XI/7503/2022), Art. 3–9.
//!
//! No I/O, no clock, no randomness: `decide(&state, &command, &context)` and
//! `evolve(state, &event)`; the caller supplies `now`, the actor, the measure, the declared
//! system failures and fresh ids.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod actor;
pub mod agenda;
pub mod alerts;
pub mod case;
pub mod catalogue;
pub mod checklist;
pub mod cost_records;
pub mod error;
pub mod failures;
pub mod flat_amounts;
pub mod grants;
pub mod organisations;
pub mod plan;
pub mod sampling;
pub mod seal;
pub mod staff;
pub mod staff_cost;
pub mod testing;
pub mod timesheet;
pub mod values;
pub mod voucher;

pub use alerts::{Alert, AlertCode, alerts};
pub use case::{
    Actor, ActorRole, Answer, CaseCommand, CaseEvent, CaseFile, CaseState, ConfirmationChannel,
    Context, DiaryStatus, Entry, PdiCap, Recipient, RequestScope, RequestStatus, ScanCheck,
    UpcastError, decide, evolve, fold, upcast,
};
pub use catalogue::{Catalogue, CatalogueError, ConfirmationMode, CostModel, Measure, Rate};
pub use checklist::{Check, Checklist, compute_checklist};
pub use error::{DomainError, ErrorKind};
pub use failures::{
    FailureCommand, FailureEvent, FailureScope, FailureState, SystemFailure, decide_failure,
    evolve_failure,
};
pub use organisations::{OrgKind, Organisation, OrganisationError, Organisations};
pub use values::{
    Cents, Ente, FigureId, FiscalCode, MeasureId, Phase, ServiceId, Sha256Hex, TimeSlot,
    TimeSlotError,
};
