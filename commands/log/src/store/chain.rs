//! The per-stream hash chain: `hash = SHA-256(prev_hash ‖ canonical bytes)`.
//!
//! The canonical bytes are a JSON object of the whole envelope (payload and metadata included)
//! with object keys sorted recursively and no whitespace, built here by hand so that neither
//! PostgreSQL's JSONB key order nor serde_json's map feature can change them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{RecordedEvent, StreamHead};
use crate::time::INSTANT_FORMAT;

/// The `prev_hash` of a stream's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The bytes that are hashed for one event: [`envelope_json`] with object keys sorted
/// recursively and no whitespace. Excludes the global position (assigned by the database at
/// commit) and the hashes themselves.
pub fn canonical_bytes(e: &RecordedEvent) -> Vec<u8> {
    canonical_json(&envelope_json(e)).into_bytes()
}

/// The envelope an event's hash covers, as a JSON object (13 fields): what a case dossier
/// exports for each event, beside its position and hashes, so that anyone can recompute the
/// chain from the export alone (`docs/dossier.md`).
pub fn envelope_json(e: &RecordedEvent) -> Value {
    let m = &e.metadata;
    serde_json::json!({
        "stream_id": e.stream_id,
        "stream_version": e.stream_version,
        "event_id": e.event_id.to_string(),
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "payload": e.payload,
        "actor_cf": m.actor_cf,
        "actor_role": m.actor_role,
        "occurred_at": m.occurred_at.format(INSTANT_FORMAT).to_string(),
        "recorded_at": e.recorded_at.format(INSTANT_FORMAT).to_string(),
        "command_id": m.command_id.to_string(),
        "correlation_id": m.correlation_id.to_string(),
        "causation_id": m.causation_id.map(|c| c.to_string()),
    })
}

/// `v` with object keys sorted recursively and no whitespace (the form `jq -cS` and Python's
/// `json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` also write).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Hex SHA-256 of the previous hash (as its hex text) followed by the canonical bytes.
pub fn chain_hash(prev_hash: &str, canonical: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical);
    hex::encode(hasher.finalize())
}

/// The first place a stream's chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    /// The stream version at which the break is seen.
    pub version: i64,
    pub reason: String,
}

/// The outcome of walking a stream's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub stream_id: String,
    pub events_checked: usize,
    pub last_version: i64,
    pub first_break: Option<ChainBreak>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Walks `events` (a whole stream in version order) and reports the first broken link: a
/// missing version, a `prev_hash` that is not the previous event's hash, a hash that does not
/// match the content, or a stream head that disagrees with the last event (tail removed).
pub fn verify_chain(
    stream_id: &str,
    events: &[RecordedEvent],
    head: Option<&StreamHead>,
) -> ChainReport {
    let mut report = ChainReport {
        stream_id: stream_id.to_owned(),
        events_checked: 0,
        last_version: 0,
        first_break: None,
    };
    let mut prev_hash = GENESIS_HASH.to_owned();
    for (expected_version, e) in (1..).zip(events) {
        let broken = |reason: String| ChainBreak {
            version: e.stream_version,
            reason,
        };
        let fault = if e.stream_version != expected_version {
            Some(broken(format!(
                "version {expected_version} is missing (found {})",
                e.stream_version
            )))
        } else if e.prev_hash != prev_hash {
            Some(broken(
                "prev_hash does not match the previous event's hash".into(),
            ))
        } else if chain_hash(&e.prev_hash, &canonical_bytes(e)) != e.hash {
            Some(broken(
                "the stored hash does not match the event's content".into(),
            ))
        } else {
            None
        };
        if let Some(fault) = fault {
            report.first_break = Some(fault);
            return report;
        }
        report.events_checked += 1;
        report.last_version = e.stream_version;
        prev_hash = e.hash.clone();
    }
    match head {
        Some(h) if h.version != report.last_version || (h.version > 0 && h.hash != prev_hash) => {
            report.first_break = Some(ChainBreak {
                version: report.last_version + 1,
                reason: format!(
                    "the stream head records version {} but the log ends at version {}",
                    h.version, report.last_version
                ),
            });
        }
        None if !events.is_empty() => {
            report.first_break = Some(ChainBreak {
                version: 1,
                reason: "events exist for a stream that has no head".into(),
            });
        }
        _ => {}
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventMetadata, GlobalPosition};
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    /// A golden vector: the canonical bytes and the hash of one event, written out by hand and
    /// hashed outside Rust (`sha256("0"*64 + canonical)`). Every stored chain depends on these
    /// bytes; if this test fails, stored chains stop verifying.
    #[test]
    fn the_canonical_bytes_and_the_hash_of_an_event_never_change() {
        let id = |n: u128| Uuid::from_u128(0x0190f4c2_0000_7000_8000_000000000000 | n);
        let e = RecordedEvent {
            event_id: id(1),
            stream_id: format!("case-{}", id(0xaa)),
            stream_version: 1,
            global_position: GlobalPosition {
                transaction: 99,
                position: 7,
            },
            event_type: "EntryRecorded".into(),
            schema_version: 2,
            payload: serde_json::json!({"note": "è", "minutes": 90}),
            metadata: EventMetadata {
                actor_cf: "RSSMRA85T10A562S".into(),
                actor_role: "staff".into(),
                occurred_at: Utc
                    .with_ymd_and_hms(2024, 3, 4, 17, 30, 0)
                    .single()
                    .expect("instant")
                    + chrono::Duration::microseconds(123_456),
                command_id: id(2),
                correlation_id: id(3),
                causation_id: None,
            },
            recorded_at: Utc
                .with_ymd_and_hms(2024, 3, 4, 17, 30, 1)
                .single()
                .expect("instant"),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
            decoded: Default::default(),
        };
        let canonical = String::from_utf8(canonical_bytes(&e)).expect("UTF-8");
        assert_eq!(
            canonical,
            r#"{"actor_cf":"RSSMRA85T10A562S","actor_role":"staff","causation_id":null,"command_id":"0190f4c2-0000-7000-8000-000000000002","correlation_id":"0190f4c2-0000-7000-8000-000000000003","event_id":"0190f4c2-0000-7000-8000-000000000001","event_type":"EntryRecorded","occurred_at":"2024-03-04T17:30:00.123456Z","payload":{"minutes":90,"note":"è"},"recorded_at":"2024-03-04T17:30:01.000000Z","schema_version":2,"stream_id":"case-0190f4c2-0000-7000-8000-0000000000aa","stream_version":1}"#
        );
        assert_eq!(
            chain_hash(GENESIS_HASH, canonical.as_bytes()),
            "c4aea8a33f18c329d6a4a5dabce3125361a19672545eb2a162b4226cffe48c51"
        );
        // The instant text of the SQL layer is the format the chain hashes.
        assert_eq!(
            crate::time::instant_text(e.metadata.occurred_at),
            "2024-03-04T17:30:00.123456Z"
        );
    }

    #[test]
    fn canonical_bytes_do_not_depend_on_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"q":2,"p":3}],"x":"é"}}"#).expect("json");
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":"é","y":[1,{"p":3,"q":2}]},"b":1}"#).expect("json");
        let (mut sa, mut sb) = (String::new(), String::new());
        write_canonical(&a, &mut sa);
        write_canonical(&b, &mut sb);
        assert_eq!(sa, sb);
        assert_eq!(sa, r#"{"a":{"x":"é","y":[1,{"p":3,"q":2}]},"b":1}"#);
    }
}
