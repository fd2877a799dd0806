//! The bounded AMF0 decoder: any bytes decode or fail, never panic or recurse without limit;
//! what it decodes, rml_amf0 encodes and our decoder reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rml_rtmp::rml_amf0::{self, Amf0Value};
use sigma_edge_worker::rtmp::amf0;

/// Equal values, numbers compared bit for bit (NaN is NaN).
fn same(a: &Amf0Value, b: &Amf0Value) -> bool {
    match (a, b) {
        (Amf0Value::Number(a), Amf0Value::Number(b)) => a.to_bits() == b.to_bits(),
        (Amf0Value::Object(a), Amf0Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, value)| b.get(key).is_some_and(|other| same(value, other)))
        }
        (Amf0Value::StrictArray(a), Amf0Value::StrictArray(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = amf0::decode(data) {
        let encoded = rml_amf0::serialize(&values).expect("decoded values encode");
        let again = amf0::decode(&encoded).expect("encoded values decode");
        assert_eq!(again.len(), values.len());
        assert!(values.iter().zip(&again).all(|(a, b)| same(a, b)));
    }
});
