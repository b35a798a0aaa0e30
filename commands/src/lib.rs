//! Diario Online application layer: the event store (PostgreSQL and SQLite) and, later, the
//! command handler that wires the `diario-domain` decider to it (DESIGN §5).

pub mod clock;
pub mod codec;
pub mod db;
pub mod firmalom;
pub mod handler;
pub mod idempotency;
pub mod paper;
pub mod store;

pub use clock::{Clock, SystemClock, TestClock};
pub use db::Database;
pub use handler::{CaseOutcome, CommandHandler, CommandOptions, HandlerError};
pub use store::{
    AppendOutcome, ChainBreak, ChainReport, EventMetadata, EventStore, ExpectedVersion,
    GlobalPosition, NewEvent, RecordedEvent, StoreError, StreamHead,
};
