//! The daily seal (`docs/dossier.md`, "The daily seal"): once a day the heads of every stream
//! of the log — its last version and hash — are combined into one digest, a Merkle root, and
//! recorded in the `seals` stream. A copy of the root kept outside the database (printed,
//! e-mailed to the Region, filed with the auditors) makes a later rewrite of the whole
//! database detectable: whoever rewrites events consistently, hashes and heads included,
//! changes at least one head, and so the root.
//!
//! Each seal records only the heads that changed since the previous one; the heads of seal N
//! are those of seals 1…N folded in order, so the log stays small and anyone can recompute
//! every root from the seals alone.
//!
//! **The tree.** Leaves are the streams in byte order of their ids (the `seals` stream itself
//! excluded); a leaf is `hex(SHA-256(stream_id ":" version ":" hash))`; a level's nodes are
//! paired left to right, a node is `hex(SHA-256(left_hex right_hex))`, and an odd last node
//! goes up unchanged; the root is the last node left (`hex(SHA-256(""))` for no stream).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The head of one stream, as sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedHead {
    /// The stream.
    pub stream_id: String,
    /// Its last version.
    pub version: i64,
    /// The hash of its last event.
    pub hash: String,
}

/// The stream the seals are recorded in (not itself sealed).
pub const SEALS_STREAM: &str = "seals";

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A leaf: `hex(SHA-256(stream_id ":" version ":" hash))`.
pub fn leaf(head: &SealedHead) -> String {
    hex_sha256(format!("{}:{}:{}", head.stream_id, head.version, head.hash).as_bytes())
}

/// The Merkle root of `heads` (any order: sorted by stream id here).
pub fn merkle_root(heads: &[SealedHead]) -> String {
    let mut sorted: Vec<&SealedHead> = heads.iter().collect();
    sorted.sort_by(|a, b| a.stream_id.as_bytes().cmp(b.stream_id.as_bytes()));
    let mut level: Vec<String> = sorted.into_iter().map(leaf).collect();
    if level.is_empty() {
        return hex_sha256(b"");
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => hex_sha256(format!("{left}{right}").as_bytes()),
                [odd] => odd.clone(),
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    level.remove(0)
}

/// Events of the `seals` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SealEvent {
    /// The heads of every stream, sealed.
    StreamsSealed {
        /// The civil day (Europe/Rome) of the seal.
        day: NaiveDate,
        /// The heads that changed since the previous seal (all of them in the first).
        changed: Vec<SealedHead>,
        /// How many streams the seal covers.
        streams: u64,
        /// The Merkle root over every stream's head.
        root: String,
        /// The previous seal's root (`None` for the first).
        previous_root: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// The seals folded: every stream's head as of the last seal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealState {
    /// Stream id → (version, hash).
    pub heads: BTreeMap<String, (i64, String)>,
    /// The last seal's day and root.
    pub last: Option<(NaiveDate, String)>,
}

impl SealState {
    /// The heads as of the last seal.
    pub fn sealed_heads(&self) -> Vec<SealedHead> {
        self.heads
            .iter()
            .map(|(stream_id, (version, hash))| SealedHead {
                stream_id: stream_id.clone(),
                version: *version,
                hash: hash.clone(),
            })
            .collect()
    }
}

/// The seal of `day` over the current `heads` (the `seals` stream's own head is left out), or
/// nothing when `day` is sealed already.
pub fn decide_seal(
    state: &SealState,
    heads: &[SealedHead],
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<SealEvent> {
    if state.last.as_ref().is_some_and(|(last, _)| *last >= day) {
        return Vec::new();
    }
    let heads: Vec<SealedHead> = heads
        .iter()
        .filter(|h| h.stream_id != SEALS_STREAM)
        .cloned()
        .collect();
    let changed: Vec<SealedHead> = heads
        .iter()
        .filter(|h| {
            state
                .heads
                .get(&h.stream_id)
                .is_none_or(|(v, hash)| *v != h.version || *hash != h.hash)
        })
        .cloned()
        .collect();
    vec![SealEvent::StreamsSealed {
        day,
        streams: heads.len() as u64,
        root: merkle_root(&heads),
        previous_root: state.last.as_ref().map(|(_, root)| root.clone()),
        changed,
        at: now,
    }]
}

/// Folds one seal.
pub fn evolve_seal(mut state: SealState, event: &SealEvent) -> SealState {
    let SealEvent::StreamsSealed {
        day, changed, root, ..
    } = event;
    for h in changed {
        state
            .heads
            .insert(h.stream_id.clone(), (h.version, h.hash.clone()));
    }
    state.last = Some((*day, root.clone()));
    state
}
