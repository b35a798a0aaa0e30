//! Commands and events as JSON; schema versions and upcasting.
use crate::common::*;
use std::collections::BTreeSet;

#[test]
fn commands_deserialize_from_clear_json() {
    let json = serde_json::json!({
        "type": "RecordEntry",
        "entry_id": "0190f4c2-0000-7000-8000-000000000001",
        "phase": 3,
        "figure": "educatore_professionale",
        "service": "contrasto_dispersione_scolastica",
        "slot": {"date": "2024-03-04", "start": "09:00", "end": "10:30"},
        "system_failure_id": null
    });
    let cmd: CaseCommand = serde_json::from_value(json).unwrap();
    match cmd {
        CaseCommand::RecordEntry(r) => {
            assert_eq!(r.phase, Phase::III);
            assert_eq!(r.slot.minutes(), 90);
        }
        other => panic!("unexpected {other:?}"),
    }
    let answer = serde_json::json!({
        "type": "AnswerConfirmation",
        "request_id": "0190f4c2-0000-7000-8000-000000000002",
        "answer": {"outcome": "rejected", "reason": "orari errati"}
    });
    assert!(serde_json::from_value::<CaseCommand>(answer).is_ok());
    let bad_cf = serde_json::json!({
        "type": "DisableProfessional", "ente": "provider", "professional": "RSSMRA85T10A562X"
    });
    assert!(serde_json::from_value::<CaseCommand>(bad_cf).is_err());
}

fn full_history() -> Vec<CaseEvent> {
    let mut h = phase1_closed(true);
    step(&mut h, confirm(rid(1)), signer(), next_morning());
    let h3 = phase3_answered(reject(rid(1), "no"));
    h.extend(h3.into_iter().filter(|e| {
        !matches!(
            e,
            CaseEvent::CaseOpened { .. }
                | CaseEvent::PhaseDiaryOpened {
                    phase: Phase::I,
                    ..
                }
        )
    }));
    h.extend([
        CaseEvent::CaseManagerChanged {
            previous: case_manager(),
            case_manager: outsider(),
            by: ats_operator(),
            at: evening(),
        },
        CaseEvent::ConfirmersChanged {
            previous: vec![parent()],
            confirmers: vec![parent(), outsider()],
            reason: Some("affido condiviso".into()),
            by: ats_operator(),
            at: evening(),
        },
        CaseEvent::ValidationWithdrawn {
            phase: Phase::I,
            entry_ids: vec![eid(1)],
            reason: "orario da correggere".into(),
            by: resp_asst(),
            at: evening(),
        },
        CaseEvent::PaperDiaryCancelled {
            paper_id: rid(5),
            phase: Phase::III,
            entry_ids: vec![eid(1)],
            refused_by_family: true,
            reason: None,
            by: resp_provider(),
            at: evening(),
        },
    ]);
    h
}

#[test]
fn every_event_round_trips_through_json_with_its_type_and_version() {
    for e in full_history() {
        let value = serde_json::to_value(&e).unwrap();
        assert_eq!(value["type"], e.event_type());
        let back = upcast(e.event_type(), e.schema_version(), value).unwrap();
        assert_eq!(back, e);
    }
}

#[test]
fn entry_recorded_v1_is_upcast_to_the_current_schema() {
    // v1 stored date + start + minutes and had no system_failure_id (and no type tag)
    let v1 = serde_json::json!({
        "entry_id": eid(1),
        "phase": 3,
        "professional": "FRRSFN75M22B157W",
        "figure": "educatore_professionale",
        "service": "contrasto_dispersione_scolastica",
        "date": "2024-03-04",
        "start": "09:00",
        "minutes": 90,
        "at": "2024-03-04T17:00:00Z"
    });
    let e = upcast("EntryRecorded", 1, v1).unwrap();
    assert_eq!(
        e,
        CaseEvent::EntryRecorded {
            entry_id: eid(1),
            phase: Phase::III,
            professional: educatore(),
            figure: fig("educatore_professionale"),
            service: svc("contrasto_dispersione_scolastica"),
            slot: slot(d(3, 4), "09:00", "10:30"),
            minutes: 90,
            system_failure_id: None,
            rate: None,
            at: "2024-03-04T17:00:00Z".parse().unwrap(),
        }
    );
    assert_eq!(e.schema_version(), 2);
    assert!(upcast("EntryRecorded", 3, serde_json::json!({})).is_err());
    assert!(upcast("NoSuchEvent", 1, serde_json::json!({})).is_err());
}

#[test]
fn error_codes_are_unique_and_kebab_case() {
    let samples = vec![
        DomainError::CaseNotOpened,
        DomainError::EntryRecordedTooLate {
            delivered: d(3, 4),
            deadline: d(3, 19),
            days: 15,
        },
        DomainError::AmendedDateTooLate {
            delivered: d(3, 4),
            deadline: d(3, 19),
            days: 15,
        },
        DomainError::EntryConfirmed(eid(1)),
        DomainError::EntryValidated(eid(1)),
        DomainError::EntryInPendingRequest(eid(1)),
        DomainError::DigitalConfirmationUnavailable,
        DomainError::PathwayClosed,
    ];
    let codes: BTreeSet<&str> = samples.iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), samples.len());
    for e in &samples {
        assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        assert!(!e.to_string().is_empty());
        let _ = e.kind();
    }
    assert_eq!(DomainError::NotAConfirmer.kind(), ErrorKind::Forbidden);
    assert_eq!(
        DomainError::EntryConfirmed(eid(1)).kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        DomainError::EntryNotFound(eid(1)).kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        DomainError::EntryRecordedTooLate {
            delivered: d(3, 4),
            deadline: d(3, 19),
            days: 15
        }
        .article(),
        Some("Art. 5")
    );
}

#[test]
fn actor_roles_are_stored_with_their_json_names() {
    for role in [
        ActorRole::Staff,
        ActorRole::AtsOperator,
        ActorRole::EnteAdmin,
        ActorRole::Recipient,
        ActorRole::Support,
        ActorRole::Auditor,
    ] {
        assert_eq!(
            serde_json::to_value(role).unwrap(),
            serde_json::Value::String(role.as_str().to_owned())
        );
    }
}
