//! The event store: an append-only log of immutable events, one stream per case, with a
//! per-stream hash chain and a global order that subscribers can follow without ever skipping
//! an event (`docs/event-store.md`).

mod chain;
mod pg_group;
pub mod postgres;
pub mod sqlite;

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use chain::{
    ChainBreak, ChainReport, GENESIS_HASH, canonical_bytes, canonical_json, chain_hash,
    envelope_json, verify_chain,
};

/// Where an event sits in the global log, in the order subscribers receive it.
///
/// On PostgreSQL the order is `(transaction id, position)`: positions come from a sequence and
/// concurrent transactions can commit them out of order, so the pair — read only below the
/// oldest transaction still running — is what makes "never skip an event" hold (see
/// `docs/event-store.md`). On SQLite writes are serialised, so `transaction` is always 0 and
/// `position` alone orders the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GlobalPosition {
    pub transaction: u64,
    pub position: i64,
}

impl GlobalPosition {
    /// Before the first event: a subscriber starting from scratch reads after this.
    pub const START: GlobalPosition = GlobalPosition {
        transaction: 0,
        position: 0,
    };
}

impl fmt::Display for GlobalPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transaction, self.position)
    }
}

/// What the writer believes the stream's current version is (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the current version is.
    Any,
    /// The stream must be at exactly this version; `Exact(0)` means "must not exist yet".
    Exact(i64),
}

/// An event to append: its type, payload schema version and JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: i32,
    pub payload: serde_json::Value,
}

/// Who did what, when, and why — stored with every event of one command (Art. 4: every action is
/// attributable to a person's fiscal code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub actor_cf: String,
    pub actor_role: String,
    /// When the fact happened according to the service clock (may be a test clock).
    pub occurred_at: DateTime<Utc>,
    /// The command that produced the events: appending twice with one command id writes once.
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
}

impl EventMetadata {
    /// Timestamps are kept to the microsecond, the precision both databases store, so a hash
    /// computed before writing equals the one recomputed after reading.
    pub(crate) fn normalised(&self) -> EventMetadata {
        EventMetadata {
            occurred_at: truncate_to_micros(self.occurred_at),
            ..self.clone()
        }
    }
}

/// An event as stored: envelope, payload and its link in the stream's hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub global_position: GlobalPosition,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: serde_json::Value,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
    /// Hex SHA-256 of the previous event of the stream ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// Hex SHA-256(prev_hash ‖ canonical bytes of this event).
    pub hash: String,
    /// The case event the payload decodes to, kept from the first [`RecordedEvent::case_event`]
    /// on (not stored, not serialised, not part of equality).
    #[serde(skip)]
    pub decoded: crate::codec::DecodedOnce,
}

/// The result of an append: the events written (or, for a repeated command id, the events the
/// first attempt wrote).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppendOutcome {
    pub stream_id: String,
    /// The stream version after the append.
    pub version: i64,
    pub events: Vec<RecordedEvent>,
    /// True when the command id had already been stored and nothing was written this time.
    pub replayed: bool,
}

/// One stream's part of an append: the events and the version the writer expects.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// The last version and hash of a stream, kept beside the log so that removing the newest
/// events is as detectable as removing one in the middle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamHead {
    pub version: i64,
    pub hash: String,
}

/// Failures of the store — kept apart from domain refusals (a conflict is the only one a caller
/// is expected to handle by retrying).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream_id} is at version {actual}, not the expected {expected}")]
    VersionConflict {
        stream_id: String,
        expected: i64,
        actual: i64,
    },
    /// The append was handed to a group commit that stopped before answering: whether it was
    /// written is unknown (as after a lost connection); a retry with the same command id tells.
    #[error("append interrupted: {0}")]
    Interrupted(&'static str),
    #[error("invalid append: {0}")]
    InvalidAppend(&'static str),
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(&'static str),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// The append-only event store (`docs/event-store.md`). Implemented for PostgreSQL and SQLite; both pass the
/// same conformance suite in `tests/`.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream_id` atomically — all or nothing.
    ///
    /// Refuses with [`StoreError::VersionConflict`] when the stream is not at `expected`.
    /// If `metadata.command_id` was already stored, writes nothing and returns the first
    /// outcome with `replayed = true`.
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: EventMetadata,
    ) -> Result<AppendOutcome, StoreError> {
        let primary = StreamAppend {
            stream_id: stream_id.to_owned(),
            expected,
            events,
        };
        let mut outcomes = self.append_streams(primary, Vec::new(), metadata).await?;
        Ok(outcomes.remove(0))
    }

    /// Appends to `primary` and, in the same transaction, to each of `linked` (other streams
    /// whose consistency the command also decided on, e.g. a professional's agenda): all or
    /// nothing, each stream at its expected version. The command id is recorded for the
    /// primary stream; a repeated command id writes nothing and returns the primary's first
    /// outcome alone (`replayed = true`). Returns the primary's outcome first, then the
    /// linked ones in the order given. Heads are locked in stream-id order, so two appends
    /// that share streams cannot deadlock.
    async fn append_streams(
        &self,
        primary: StreamAppend,
        linked: Vec<StreamAppend>,
        metadata: EventMetadata,
    ) -> Result<Vec<AppendOutcome>, StoreError>;

    /// What the command `command_id` recorded, if the store has it: its stream, the stream
    /// version after it and its events (`replayed = true`). A retry whose decision is refused
    /// on the state its own first attempt produced is answered from this.
    async fn find_command(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError>;

    /// Events of one stream with `stream_version >= from_version`, in version order.
    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The head of every stream whose id starts with `prefix` (a stream category such as
    /// `failure-`), by stream id: what a cache of folded states compares its versions with,
    /// so that a category is read again only where it changed.
    async fn stream_heads(&self, prefix: &str) -> Result<Vec<(String, StreamHead)>, StoreError>;

    /// The heads of the streams named in `streams` that exist and of every stream whose id
    /// starts with `prefix`, by stream id, in one read where the backend can (PostgreSQL: one
    /// round trip): what a command checks its cached shared states with (the grants and the
    /// declared failures) before deciding.
    async fn heads_of(
        &self,
        streams: &[&str],
        prefix: &str,
    ) -> Result<Vec<(String, StreamHead)>, StoreError> {
        let mut heads = self.stream_heads(prefix).await?;
        for stream in streams {
            if stream.starts_with(prefix) {
                continue;
            }
            if let Some(head) = self.stream_head(stream).await? {
                heads.push(((*stream).to_owned(), head));
            }
        }
        heads.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(heads)
    }

    /// Up to `limit` events after `after`, in global order, for subscribers. Never returns an
    /// event that a transaction still in flight could precede, so a subscriber that checkpoints
    /// the last position it saw can never skip one.
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The stream's last version and hash, if it exists.
    async fn stream_head(&self, stream_id: &str) -> Result<Option<StreamHead>, StoreError>;

    /// Walks the stream's hash chain and reports the first broken link (an altered, inserted or
    /// removed event).
    async fn verify_stream(&self, stream_id: &str) -> Result<ChainReport, StoreError> {
        let events = self.read_stream(stream_id, 1).await?;
        let head = self.stream_head(stream_id).await?;
        Ok(verify_chain(stream_id, &events, head.as_ref()))
    }
}

/// `prefix` as a LIKE pattern matching every string that starts with it.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The smallest string greater than every string that starts with `prefix` (None: no bound).
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(u32::from(last) + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

pub(crate) fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Checks the arguments of a multi-stream append and gives the order its parts are written
/// in (by stream id; `true` marks the primary).
pub(crate) fn check_appends(
    primary: StreamAppend,
    linked: Vec<StreamAppend>,
) -> Result<Vec<(bool, StreamAppend)>, StoreError> {
    let mut parts: Vec<(bool, StreamAppend)> = std::iter::once((true, primary))
        .chain(linked.into_iter().map(|l| (false, l)))
        .collect();
    for (_, p) in &parts {
        check_append(&p.stream_id, &p.events)?;
    }
    parts.sort_by(|a, b| a.1.stream_id.cmp(&b.1.stream_id));
    if parts
        .windows(2)
        .any(|w| w[0].1.stream_id == w[1].1.stream_id)
    {
        return Err(StoreError::InvalidAppend(
            "a stream appears twice in one append",
        ));
    }
    Ok(parts)
}

/// The outcomes of a multi-stream append written in stream-id order, put back in the order
/// of the call: the primary first, then the linked streams as given.
pub(crate) fn in_call_order(
    order: &[String],
    mut written: Vec<(bool, AppendOutcome)>,
) -> Vec<AppendOutcome> {
    let primary = written
        .iter()
        .position(|(p, _)| *p)
        .map(|i| written.remove(i).1);
    let mut out: Vec<AppendOutcome> = primary.into_iter().collect();
    for id in order {
        if let Some(i) = written.iter().position(|(_, o)| &o.stream_id == id) {
            out.push(written.remove(i).1);
        }
    }
    out
}

/// Checks the arguments of an append before touching the database.
pub(crate) fn check_append(stream_id: &str, events: &[NewEvent]) -> Result<(), StoreError> {
    if stream_id.is_empty() {
        return Err(StoreError::InvalidAppend("the stream id is empty"));
    }
    if events.is_empty() {
        return Err(StoreError::InvalidAppend(
            "an append needs at least one event",
        ));
    }
    Ok(())
}

/// Builds the envelopes of a batch, chaining each event's hash to the previous one.
pub(crate) fn seal_batch(
    stream_id: &str,
    current_version: i64,
    last_hash: &str,
    events: Vec<NewEvent>,
    metadata: &EventMetadata,
    recorded_at: DateTime<Utc>,
) -> Vec<RecordedEvent> {
    let metadata = metadata.normalised();
    let recorded_at = truncate_to_micros(recorded_at);
    let mut prev = last_hash.to_owned();
    events
        .into_iter()
        .zip(current_version + 1..)
        .map(|(e, version)| {
            let mut recorded = RecordedEvent {
                event_id: Uuid::now_v7(),
                stream_id: stream_id.to_owned(),
                stream_version: version,
                global_position: GlobalPosition::START,
                event_type: e.event_type,
                schema_version: e.schema_version,
                payload: e.payload,
                metadata: metadata.clone(),
                recorded_at,
                prev_hash: prev.clone(),
                hash: String::new(),
                decoded: Default::default(),
            };
            recorded.hash = chain_hash(&prev, &canonical_bytes(&recorded));
            prev = recorded.hash.clone();
            recorded
        })
        .collect()
}

pub(crate) fn check_expected(
    stream_id: &str,
    expected: ExpectedVersion,
    actual: i64,
) -> Result<(), StoreError> {
    match expected {
        ExpectedVersion::Exact(v) if v != actual => Err(StoreError::VersionConflict {
            stream_id: stream_id.to_owned(),
            expected: v,
            actual,
        }),
        _ => Ok(()),
    }
}
