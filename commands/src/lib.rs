//! Diario Online write side: the one executor of every decider (cases, system failures,
//! grants) with `If-Match`, idempotency and retry (writes to one stream take turns), the
//! folded-state cache, the access policy, the clock and the deterministic ids. Depends on the
//! log and the domain.

#![forbid(unsafe_code)]

pub mod access;
pub mod cache;
pub mod clock;
pub mod decider;
pub mod handler;
pub mod ids;
pub mod turns;

pub use access::{Caller, Denied, Principal};
pub use clock::{Clock, SystemClock, TestClock};
pub use decider::{
    Attribution, CaseDecider, Decider, Decision, FailureDecider, GrantDecider, OrganisationDecider,
    StaffDecider,
};
pub use handler::{
    CaseOutcome, CommandHandler, CommandOptions, FailureOutcome, GrantOutcome, HandlerError,
    OrganisationOutcome, Outcome, StaffOutcome,
};
pub use ids::{command_id_for, derived_id};
