//! Domain events ↔ stored envelopes. The store keeps the type and schema version in their own
//! columns; reading goes through the domain's upcaster so old schema versions become current
//! events before anyone sees them.

use diario_domain::{CaseEvent, FailureEvent, UpcastError, upcast};
use serde_json::Value;

use crate::store::{NewEvent, RecordedEvent};

/// Stream ids: one stream per case, one per system failure (Art. 9), one for grants.
pub fn case_stream(case_id: uuid::Uuid) -> String {
    format!("case-{case_id}")
}

/// The case a stream belongs to, if it is a case stream (`case-{uuid}`).
pub fn case_id_of(stream_id: &str) -> Option<uuid::Uuid> {
    stream_id
        .strip_prefix("case-")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
}

/// The stream of one declared system failure.
pub fn failure_stream(failure_id: uuid::Uuid) -> String {
    format!("failure-{failure_id}")
}

/// A stored event that could not be read back as a domain event.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("event {event_type} v{schema_version} cannot be read: {reason}")]
    Unreadable {
        event_type: String,
        schema_version: i32,
        reason: String,
    },
}

fn without_type_tag(value: Value) -> Value {
    match value {
        Value::Object(mut map) => {
            map.remove("type");
            Value::Object(map)
        }
        other => other,
    }
}

/// The envelope for a case event: the payload without the `type` tag (it has its own column).
pub fn encode_case_event(event: &CaseEvent) -> Result<NewEvent, serde_json::Error> {
    Ok(NewEvent {
        event_type: event.event_type().to_owned(),
        schema_version: i32::try_from(event.schema_version()).unwrap_or(i32::MAX),
        payload: without_type_tag(serde_json::to_value(event)?),
    })
}

/// The envelope for a system-failure event.
pub fn encode_failure_event(event: &FailureEvent) -> Result<NewEvent, serde_json::Error> {
    Ok(NewEvent {
        event_type: event.event_type().to_owned(),
        schema_version: i32::try_from(event.schema_version()).unwrap_or(i32::MAX),
        payload: without_type_tag(serde_json::to_value(event)?),
    })
}

/// Reads a stored case event, upcasting older schema versions.
pub fn decode_case_event(recorded: &RecordedEvent) -> Result<CaseEvent, CodecError> {
    let version = u32::try_from(recorded.schema_version).unwrap_or(0);
    upcast(&recorded.event_type, version, recorded.payload.clone()).map_err(|e: UpcastError| {
        CodecError::Unreadable {
            event_type: recorded.event_type.clone(),
            schema_version: recorded.schema_version,
            reason: e.to_string(),
        }
    })
}

/// Reads a stored system-failure event.
pub fn decode_failure_event(recorded: &RecordedEvent) -> Result<FailureEvent, CodecError> {
    let mut payload = recorded.payload.clone();
    if let Value::Object(map) = &mut payload {
        map.insert("type".into(), Value::String(recorded.event_type.clone()));
    }
    serde_json::from_value(payload).map_err(|e| CodecError::Unreadable {
        event_type: recorded.event_type.clone(),
        schema_version: recorded.schema_version,
        reason: e.to_string(),
    })
}
