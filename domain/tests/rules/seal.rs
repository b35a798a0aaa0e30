//! The daily seal: the heads of every stream in one Merkle root, once a day, recorded with
//! only the heads that changed since the previous seal.
use crate::common::*;
use diario_domain::seal::*;

fn head(stream: &str, version: i64, c: char) -> SealedHead {
    SealedHead {
        stream_id: stream.into(),
        version,
        hash: c.to_string().repeat(64),
    }
}

fn three() -> Vec<SealedHead> {
    vec![
        head("case-b", 3, 'b'),
        head("case-a", 2, 'a'),
        head("grants", 1, 'c'),
    ]
}

#[test]
fn the_root_is_the_documented_merkle_tree_of_the_heads() {
    // Recomputed with Python's hashlib: leaves sha256("id:version:hash") in id order, pairs
    // sha256(left ‖ right), the odd last node carried up.
    assert_eq!(
        merkle_root(&three()),
        "1bce52f387e07411f8358c5b0901e30287d76bce396b0202be344c21827674c5"
    );
    assert_eq!(
        merkle_root(&[]),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn any_rewritten_head_changes_the_root() {
    let sealed = merkle_root(&three());
    let mut rewritten = three();
    rewritten[0].hash = "d".repeat(64);
    assert_ne!(merkle_root(&rewritten), sealed);
    let mut truncated = three();
    truncated[1].version = 1;
    assert_ne!(merkle_root(&truncated), sealed);
}

#[test]
fn a_day_is_sealed_once_with_only_what_changed_since_the_previous_seal() {
    let mut heads = three();
    heads.push(head(SEALS_STREAM, 9, 'e'));
    let first = decide_seal(&SealState::default(), &heads, d(3, 4), evening());
    let SealEvent::StreamsSealed {
        changed,
        streams,
        root,
        previous_root,
        ..
    } = &first[0];
    assert_eq!(
        (changed.len(), *streams),
        (3, 3),
        "the seals stream is not sealed"
    );
    assert_eq!(root, &merkle_root(&three()));
    assert_eq!(previous_root, &None);
    let state = evolve_seal(SealState::default(), &first[0]);
    assert!(
        decide_seal(&state, &heads, d(3, 4), evening()).is_empty(),
        "once a day"
    );

    // The next day one case moved on: only its head is recorded, the root covers all three.
    let mut next = three();
    next[1] = head("case-a", 5, 'f');
    let second = decide_seal(&state, &next, d(3, 5), evening());
    let SealEvent::StreamsSealed {
        changed,
        root,
        previous_root,
        ..
    } = &second[0];
    assert_eq!(changed, &vec![head("case-a", 5, 'f')]);
    assert_eq!(
        previous_root.as_deref(),
        Some(merkle_root(&three()).as_str())
    );
    let state = evolve_seal(state, &second[0]);
    assert_eq!(
        root,
        &merkle_root(&state.sealed_heads()),
        "recomputable from the seals alone"
    );
}
