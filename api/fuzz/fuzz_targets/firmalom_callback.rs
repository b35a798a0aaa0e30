//! The FirmaLOM callback: `timestamp \n signature \n body`.
#![no_main]

use diario_api::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fuzzing::firmalom_callback(data);
});
