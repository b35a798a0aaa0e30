//! Domain events ↔ stored envelopes, and the names of the streams. The store keeps the type and
//! the schema version in their own columns; case events are read through the domain's upcaster
//! so that old schema versions become current events before anyone sees them.

use std::fmt;
use std::sync::OnceLock;

use diario_domain::agenda::AgendaEvent;
use diario_domain::grants::GrantEvent;
use diario_domain::organisations::OrganisationEvent;
use diario_domain::sampling::SampleEvent;
use diario_domain::seal::SealEvent;
use diario_domain::staff::StaffEvent;
use diario_domain::{CaseEvent, FailureEvent, upcast};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::store::{NewEvent, RecordedEvent};

/// The id of a stream: one per case, one per declared system failure (Art. 9), one for the
/// organisation grants. Kept as its stored text so the store can take it as `&str`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

/// What a stream holds, read from its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// `case-{uuid}`.
    Case(Uuid),
    /// `failure-{uuid}`.
    Failure(Uuid),
    /// `grants`.
    Grants,
    /// `organisations`.
    Organisations,
    /// `person-{fiscal code}`: a staff member's name and memberships.
    Person,
    /// `agenda-{fiscal code}`: the time a professional's live entries claim, on every case.
    Agenda,
    /// Any other stream (not written by the service; the conformance suite uses some).
    Other,
}

impl StreamId {
    /// Prefix of the case streams.
    pub const CASES: &'static str = "case-";
    /// Prefix of the system-failure streams (a small category, read whole).
    pub const FAILURES: &'static str = "failure-";
    /// The one grants stream.
    pub const GRANTS: &'static str = "grants";
    /// The one registry of organisations (those registered after the shipped ones).
    pub const ORGANISATIONS: &'static str = "organisations";
    /// Prefix of the staff members' streams.
    pub const PEOPLE: &'static str = "person-";
    /// Prefix of the professionals' agendas (one professional, one hour).
    pub const AGENDAS: &'static str = "agenda-";
    /// Prefix of the samples for controls.
    pub const SAMPLES: &'static str = "sample-";
    /// Prefix of the territorial plans (seed 004).
    pub const PLANS: &'static str = "plan-";
    /// Prefix of the monthly overall timesheets (seed 004): `timesheet-{cf}-{YYYY-MM}`.
    pub const TIMESHEETS: &'static str = "timesheet-";
    /// Prefix of the people's cost records (seed 004): `costs-{cf}`.
    pub const COSTS: &'static str = "costs-";

    /// The stream of one territorial plan.
    pub fn plan(plan_id: Uuid) -> StreamId {
        StreamId(format!("{}{plan_id}", Self::PLANS))
    }

    /// The overall timesheet of a person for a month (`YYYY-MM`).
    pub fn timesheet(fiscal_code: &str, month: &str) -> StreamId {
        StreamId(format!("{}{fiscal_code}-{month}", Self::TIMESHEETS))
    }

    /// The cost records of a person.
    pub fn costs(fiscal_code: &str) -> StreamId {
        StreamId(format!("{}{fiscal_code}", Self::COSTS))
    }

    /// The stream of one case.
    pub fn case(case_id: Uuid) -> StreamId {
        StreamId(format!("{}{case_id}", Self::CASES))
    }

    /// The stream of one declared system failure.
    pub fn failure(failure_id: Uuid) -> StreamId {
        StreamId(format!("{}{failure_id}", Self::FAILURES))
    }

    /// The grants stream.
    pub fn grants() -> StreamId {
        StreamId(Self::GRANTS.to_owned())
    }

    /// The registry of organisations.
    pub fn organisations() -> StreamId {
        StreamId(Self::ORGANISATIONS.to_owned())
    }

    /// The stream of one staff member.
    pub fn person(fiscal_code: &diario_domain::FiscalCode) -> StreamId {
        StreamId(format!("{}{fiscal_code}", Self::PEOPLE))
    }

    /// The agenda of one professional: the time their live entries claim, on every case.
    pub fn agenda(fiscal_code: &diario_domain::FiscalCode) -> StreamId {
        StreamId(format!("{}{fiscal_code}", Self::AGENDAS))
    }

    /// The daily seals of the log (`diario_domain::seal`).
    pub fn seals() -> StreamId {
        StreamId(diario_domain::seal::SEALS_STREAM.to_owned())
    }

    /// The stream of one sample for controls.
    pub fn sample(sample_id: Uuid) -> StreamId {
        StreamId(format!("{}{sample_id}", Self::SAMPLES))
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the stream with this stored id holds.
    pub fn kind_of(stream_id: &str) -> StreamKind {
        let uuid = |prefix: &str| {
            stream_id
                .strip_prefix(prefix)
                .and_then(|id| Uuid::parse_str(id).ok())
        };
        if let Some(id) = uuid(Self::CASES) {
            StreamKind::Case(id)
        } else if let Some(id) = uuid(Self::FAILURES) {
            StreamKind::Failure(id)
        } else if stream_id == Self::GRANTS {
            StreamKind::Grants
        } else if stream_id == Self::ORGANISATIONS {
            StreamKind::Organisations
        } else if stream_id.starts_with(Self::PEOPLE) {
            StreamKind::Person
        } else if stream_id.starts_with(Self::AGENDAS) {
            StreamKind::Agenda
        } else {
            StreamKind::Other
        }
    }

    /// The case a stored stream id belongs to, if it is a case stream.
    pub fn case_of(stream_id: &str) -> Option<Uuid> {
        match Self::kind_of(stream_id) {
            StreamKind::Case(id) => Some(id),
            _ => None,
        }
    }

    /// The failure a stored stream id belongs to, if it is a failure stream.
    pub fn failure_of(stream_id: &str) -> Option<Uuid> {
        match Self::kind_of(stream_id) {
            StreamKind::Failure(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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
    #[error("event {event_type} cannot be written: {reason}")]
    Unwritable { event_type: String, reason: String },
}

/// A domain event the log can store and read back: its type name (the serde `type` tag) and
/// schema version go to their own columns, the rest of the payload to `payload`.
pub trait LogEvent: Sized + Serialize {
    /// The schema version of the payload as written today.
    fn schema_version(&self) -> u32 {
        1
    }

    /// Reads a stored event (upcasting older schema versions where the domain has them).
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError>;

    /// The envelope to append.
    fn encode(&self) -> Result<NewEvent, CodecError> {
        let unwritable = |event_type: &str, reason: String| CodecError::Unwritable {
            event_type: event_type.to_owned(),
            reason,
        };
        let Value::Object(mut payload) =
            serde_json::to_value(self).map_err(|e| unwritable("?", e.to_string()))?
        else {
            return Err(unwritable("?", "an event is a JSON object".into()));
        };
        let Some(Value::String(event_type)) = payload.remove("type") else {
            return Err(unwritable("?", "an event has a `type` tag".into()));
        };
        Ok(NewEvent {
            schema_version: i32::try_from(self.schema_version())
                .map_err(|_| unwritable(&event_type, "schema version out of range".into()))?,
            event_type,
            payload: Value::Object(payload),
        })
    }
}

fn unreadable(recorded: &RecordedEvent, reason: String) -> CodecError {
    CodecError::Unreadable {
        event_type: recorded.event_type.clone(),
        schema_version: recorded.schema_version,
        reason,
    }
}

/// Puts the `type` tag back and deserialises (events with a single schema version).
fn decode_tagged<T: DeserializeOwned>(recorded: &RecordedEvent) -> Result<T, CodecError> {
    let mut payload = recorded.payload.clone();
    if let Value::Object(map) = &mut payload {
        map.insert("type".into(), Value::String(recorded.event_type.clone()));
    }
    serde_json::from_value(payload).map_err(|e| unreadable(recorded, e.to_string()))
}

/// A case event decoded from its envelope, kept with the envelope after the first decode. The
/// read models of one batch all read the same case events; events never change, so the first
/// decode serves every later reader of the same `RecordedEvent`.
#[derive(Default, Clone)]
pub struct DecodedOnce(OnceLock<CaseEvent>);

/// A cache, not part of what an event is: two envelopes are equal whatever each has decoded.
impl PartialEq for DecodedOnce {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for DecodedOnce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "decoded"
        } else {
            "-"
        })
    }
}

impl RecordedEvent {
    /// The case event this envelope holds, decoded on the first call and kept: the read models
    /// of a batch share one decode per event. An event that does not decode is an error on
    /// every call (nothing is kept).
    pub fn case_event(&self) -> Result<&CaseEvent, CodecError> {
        if let Some(event) = self.decoded.0.get() {
            return Ok(event);
        }
        let event = CaseEvent::decode(self)?;
        Ok(self.decoded.0.get_or_init(|| event))
    }
}

impl LogEvent for CaseEvent {
    fn schema_version(&self) -> u32 {
        CaseEvent::schema_version(self)
    }

    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        let version = u32::try_from(recorded.schema_version)
            .map_err(|_| unreadable(recorded, "negative schema version".into()))?;
        upcast(&recorded.event_type, version, recorded.payload.clone())
            .map_err(|e| unreadable(recorded, e.to_string()))
    }
}

/// Events with one schema version: the payload with its `type` tag put back.
impl LogEvent for FailureEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for GrantEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for OrganisationEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for StaffEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for SealEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for SampleEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for diario_domain::plan::PlanEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for diario_domain::timesheet::TimesheetEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for diario_domain::cost_records::CostEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

impl LogEvent for AgendaEvent {
    fn decode(recorded: &RecordedEvent) -> Result<Self, CodecError> {
        decode_tagged(recorded)
    }
}

/// Reads every event of a stream as `E`.
pub fn decode_all<E: LogEvent>(recorded: &[RecordedEvent]) -> Result<Vec<E>, CodecError> {
    recorded.iter().map(E::decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_name_what_they_hold() {
        let id = Uuid::nil();
        assert_eq!(
            StreamId::case(id).as_str(),
            "case-00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            StreamId::kind_of(StreamId::case(id).as_str()),
            StreamKind::Case(id)
        );
        assert_eq!(
            StreamId::kind_of(StreamId::failure(id).as_str()),
            StreamKind::Failure(id)
        );
        assert_eq!(StreamId::kind_of("grants"), StreamKind::Grants);
        assert_eq!(
            StreamId::kind_of("organisations"),
            StreamKind::Organisations
        );
        assert_eq!(
            StreamId::kind_of("person-RSSMRA85T10A562S"),
            StreamKind::Person
        );
        assert_eq!(StreamId::kind_of("case-not-a-uuid"), StreamKind::Other);
        assert_eq!(StreamId::case_of(StreamId::failure(id).as_str()), None);
    }

    fn sealed(payload: Value) -> RecordedEvent {
        let metadata = crate::store::EventMetadata {
            actor_cf: "RSSMRA85T10A562S".into(),
            actor_role: "staff".into(),
            occurred_at: chrono::Utc::now(),
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
        };
        let event = NewEvent {
            event_type: "PhaseDiaryOpened".into(),
            schema_version: 1,
            payload,
        };
        let mut sealed = crate::store::seal_batch(
            "case-x",
            0,
            crate::store::GENESIS_HASH,
            vec![event],
            &metadata,
            chrono::Utc::now(),
        );
        sealed.remove(0)
    }

    /// The read models of a batch share one decode: the second reader gets what the first
    /// decoded, even if the envelope's payload were different by then (it never is: events are
    /// immutable; the test changes it only to see which of the two answers comes back).
    #[test]
    fn a_case_event_is_decoded_once_and_kept_with_its_envelope() {
        let opened = CaseEvent::PhaseDiaryOpened {
            phase: diario_domain::Phase::II,
            by: diario_domain::FiscalCode::parse("RSSMRA85T10A562S").expect("cf"),
            at: chrono::Utc::now(),
        };
        let mut e = sealed(opened.encode().expect("encode").payload);
        let fresh = e.clone();
        assert_eq!(format!("{:?}", e.decoded), "-");
        assert_eq!(e.case_event().expect("decode"), &opened);
        assert_eq!(format!("{:?}", e.decoded), "decoded");
        e.payload = serde_json::json!({"phase": 3});
        assert_eq!(e.case_event().expect("kept"), &opened);
        // A cache, not part of the event: equal to the envelope that never decoded, and kept
        // by a clone.
        assert_eq!(e.clone().case_event().expect("cloned"), &opened);
        e.payload = fresh.payload.clone();
        assert_eq!(e, fresh);
    }

    #[test]
    fn an_event_that_does_not_decode_fails_every_time_and_keeps_nothing() {
        let e = sealed(serde_json::json!({"phase": "not a phase"}));
        assert!(e.case_event().is_err());
        assert!(e.case_event().is_err());
        assert_eq!(format!("{:?}", e.decoded), "-");
    }
}
