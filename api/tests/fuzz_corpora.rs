//! Replays the saved fuzz corpora (`api/fuzz/corpus/<target>/`, docs/fuzzing.md) through the
//! entry points the `cargo fuzz` targets call, so that every input a fuzzing run kept — the
//! crash reproducers among them — keeps passing on the stable toolchain. A missing or empty
//! corpus fails the test: it would otherwise pass by replaying nothing.

use std::path::PathBuf;

use diario_api::fuzzing;

/// Every file of the corpus of `target`, with its name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} cannot be read: {e}", dir.display()));
    let mut inputs: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry
                .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
                .path();
            let bytes =
                std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (path.display().to_string(), bytes)
        })
        .collect();
    assert!(
        !inputs.is_empty(),
        "the corpus {} is empty: nothing to replay",
        dir.display()
    );
    inputs.sort();
    inputs
}

/// Feeds every input of `target`'s corpus to `run`, naming the input that panics.
fn replay(target: &str, run: impl Fn(&[u8])) {
    for (name, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&bytes)));
        assert!(outcome.is_ok(), "{target}: the input {name} panics");
    }
}

#[test]
fn write_bodies_corpus_replays() {
    replay("write_bodies", |data| {
        let (route, body) = fuzzing::split_route(data);
        fuzzing::write_body(route, body);
    });
}

#[test]
fn firmalom_callback_corpus_replays() {
    replay("firmalom_callback", fuzzing::firmalom_callback);
}

#[test]
fn query_strings_corpus_replays() {
    replay("query_strings", |data| {
        let (route, query) = fuzzing::split_route(data);
        fuzzing::query(route, query);
    });
}

#[test]
fn multipart_upload_corpus_replays() {
    replay("multipart_upload", fuzzing::multipart);
}

/// Every route of the entry points has at least one saved input: a route added to
/// `WRITE_ROUTES` or `QUERY_ROUTES` without a seed is noticed.
#[test]
fn every_route_has_a_saved_input() {
    for (target, routes) in [
        ("write_bodies", fuzzing::WRITE_ROUTES.len()),
        ("query_strings", fuzzing::QUERY_ROUTES.len()),
    ] {
        let covered: std::collections::BTreeSet<usize> = corpus(target)
            .iter()
            .map(|(_, data)| fuzzing::split_route(data).0 % routes)
            .collect();
        let missing: Vec<usize> = (0..routes).filter(|r| !covered.contains(r)).collect();
        assert!(
            missing.is_empty(),
            "{target}: no input for routes {missing:?}"
        );
    }
}
