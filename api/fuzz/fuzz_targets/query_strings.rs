//! The query strings of the reads: the first byte picks the route (`fuzzing::QUERY_ROUTES`).
#![no_main]

use diario_api::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (route, query) = fuzzing::split_route(data);
    fuzzing::query(route, query);
});
