//! `Range` header values against any object size: a part is never empty and never reaches past
//! the object, whatever the numbers (no overflow near `u64::MAX`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigma_shared::request::range::{answer, Answer};

fuzz_target!(|input: (u64, &str)| {
    let (size, header) = input;
    if let Answer::Part(bytes) = answer(Some(header), size) {
        assert!(bytes.start < bytes.end && bytes.end <= size);
    }
});
