//! The bounded AMF0 decoder: any bytes decode or fail, never panic or recurse without limit;
//! what it decodes, rml_amf0 encodes and our decoder reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rml_rtmp::rml_amf0;
use sigma_edge_worker::rtmp::amf0;

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = amf0::decode(data) {
        let encoded = rml_amf0::serialize(&values).expect("decoded values encode");
        assert_eq!(
            amf0::decode(&encoded).expect("encoded values decode"),
            values
        );
    }
});
