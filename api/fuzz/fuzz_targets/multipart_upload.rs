//! The paper-confirmation upload: the bytes are the multipart body
//! (boundary `fuzzing::MULTIPART_BOUNDARY`).
#![no_main]

use diario_api::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fuzzing::multipart(data);
});
