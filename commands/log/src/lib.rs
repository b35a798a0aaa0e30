//! The event log of Diario Online: the append-only store (PostgreSQL and SQLite) with its
//! per-stream hash chain and a global order followers read without ever skipping an event;
//! the codec of every event kind and the stream names; the one SQL layer (and the one instant
//! format) that every other table of the service goes through; and the followers of the log —
//! checkpoints, batches, leadership, lag — used by the read models and the workers alike.
//!
//! Both the write side (`diario-commands`) and the read side (`diario-projections`) depend on
//! this crate, and on nothing of each other.

#![forbid(unsafe_code)]

pub mod codec;
pub mod db;
pub mod follower;
mod row_de;
pub mod sql;
pub mod store;
pub mod time;

pub use codec::{CodecError, LogEvent, StreamId, StreamKind, decode_all};
pub use db::Database;
pub use follower::{FollowError, Follower, FollowerSpec};
pub use sql::{Query, Row, Tx, Val};
pub use store::{
    AppendOutcome, ChainBreak, ChainReport, EventMetadata, EventStore, ExpectedVersion,
    GlobalPosition, NewEvent, RecordedEvent, StoreError, StreamAppend, StreamHead, canonical_json,
    chain_hash, envelope_json,
};
pub use time::{INSTANT_FORMAT, instant_text, parse_instant};
