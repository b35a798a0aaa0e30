//! The JSON body of every write: the first byte picks the route (`fuzzing::WRITE_ROUTES`).
#![no_main]

use diario_api::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (route, body) = fuzzing::split_route(data);
    fuzzing::write_body(route, body);
});
