//! A bounded AMF0 decoder (AMF0 spec §2) for the values RTMP commands and metadata carry.
//! rml_amf0 recurses once per nesting level with no limit, so an object nested 10^5 deep in a
//! `connect` overflows the stack; this decoder refuses nesting past a small depth, and
//! [`crate::rtmp::guard`] hands rml_rtmp only what it decoded, re-encoded by rml_amf0 itself.
//!
//! It decodes what rml_amf0 does, the same way: number, boolean, string, object, null,
//! undefined, ECMA array (as an object), strict array; an object-end marker or the end of the
//! input ends the list. Anything else is an error.

use std::collections::HashMap;

use rml_rtmp::rml_amf0::Amf0Value;

/// How deep objects and arrays may nest. RTMP commands nest one level (the command object)
/// and metadata two at most.
pub const MAX_DEPTH: usize = 16;
/// How many values one message may hold, counting nested ones: a decoded value takes 50-odd
/// bytes however few it took on the wire, so this bounds what a message costs once decoded.
pub const MAX_VALUES: usize = 1024;

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0a;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Amf0Error {
    #[error("values nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("more than {MAX_VALUES} values")]
    TooMany,
    #[error("truncated value")]
    Truncated,
    #[error("unsupported AMF0 marker {0:#04x}")]
    UnknownMarker(u8),
    #[error("a string is not UTF-8")]
    NotUtf8,
    #[error("an object property has an empty name")]
    EmptyPropertyName,
}

/// Decodes a message's values, up to an object-end marker or the end of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    let mut input = Input {
        bytes,
        values_left: MAX_VALUES,
    };
    let mut values = Vec::new();
    while let Some(value) = next_value(&mut input, 0)? {
        values.push(value);
    }
    Ok(values)
}

/// What is left to decode, and how many more values it may hold.
struct Input<'a> {
    bytes: &'a [u8],
    values_left: usize,
}

/// The next value; `None` at an object-end marker or the end of the input.
fn next_value(input: &mut Input, depth: usize) -> Result<Option<Amf0Value>, Amf0Error> {
    let Some((&marker, rest)) = input.bytes.split_first() else {
        return Ok(None);
    };
    input.bytes = rest;
    if marker != OBJECT_END {
        input.values_left = input.values_left.checked_sub(1).ok_or(Amf0Error::TooMany)?;
    }
    let bytes = &mut input.bytes;
    let value = match marker {
        OBJECT_END => return Ok(None),
        NUMBER => Amf0Value::Number(f64::from_be_bytes(take(bytes)?)),
        BOOLEAN => Amf0Value::Boolean(take::<1>(bytes)?[0] == 1),
        STRING => Amf0Value::Utf8String(string(bytes)?),
        NULL => Amf0Value::Null,
        UNDEFINED => Amf0Value::Undefined,
        OBJECT => Amf0Value::Object(properties(input, nested(depth)?)?),
        ECMA_ARRAY => {
            // The count is advisory: the properties end with an object-end marker.
            take::<4>(bytes)?;
            Amf0Value::Object(properties(input, nested(depth)?)?)
        }
        STRICT_ARRAY => {
            let depth = nested(depth)?;
            let count = u32::from_be_bytes(take(bytes)?);
            // Each value takes at least a byte, so the input bounds the length.
            let mut values = Vec::new();
            for _ in 0..count {
                match next_value(input, depth)? {
                    Some(value) => values.push(value),
                    None => break,
                }
            }
            Amf0Value::StrictArray(values)
        }
        other => return Err(Amf0Error::UnknownMarker(other)),
    };
    Ok(Some(value))
}

fn nested(depth: usize) -> Result<usize, Amf0Error> {
    if depth >= MAX_DEPTH {
        return Err(Amf0Error::TooDeep);
    }
    Ok(depth + 1)
}

/// An object's properties, up to the empty name and object-end marker that close it.
fn properties(input: &mut Input, depth: usize) -> Result<HashMap<String, Amf0Value>, Amf0Error> {
    let mut properties = HashMap::new();
    loop {
        let name = string(&mut input.bytes)?;
        if name.is_empty() {
            return match take::<1>(&mut input.bytes)? {
                [OBJECT_END] => Ok(properties),
                _ => Err(Amf0Error::EmptyPropertyName),
            };
        }
        let value = next_value(input, depth)?.ok_or(Amf0Error::Truncated)?;
        properties.insert(name, value);
    }
}

/// A UTF-8 string with a 16-bit length.
fn string(bytes: &mut &[u8]) -> Result<String, Amf0Error> {
    let length = usize::from(u16::from_be_bytes(take(bytes)?));
    if bytes.len() < length {
        return Err(Amf0Error::Truncated);
    }
    let (text, rest) = bytes.split_at(length);
    *bytes = rest;
    String::from_utf8(text.to_vec()).map_err(|_| Amf0Error::NotUtf8)
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N], Amf0Error> {
    let (value, rest) = bytes.split_first_chunk::<N>().ok_or(Amf0Error::Truncated)?;
    *bytes = rest;
    Ok(*value)
}

#[cfg(test)]
mod tests {
    use rml_rtmp::rml_amf0;

    use super::*;

    fn nested_objects(depth: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..depth {
            bytes.extend_from_slice(&[OBJECT, 0, 1, b'a']);
        }
        bytes.push(NULL);
        for _ in 0..depth {
            bytes.extend_from_slice(&[0, 0, OBJECT_END]);
        }
        bytes
    }

    #[test]
    fn what_rml_amf0_encodes_decodes_to_the_same_values() {
        let values = vec![
            Amf0Value::Utf8String("connect".into()),
            Amf0Value::Number(1.0),
            Amf0Value::Object(HashMap::from([
                ("app".to_owned(), Amf0Value::Utf8String("live".into())),
                ("fpad".to_owned(), Amf0Value::Boolean(false)),
                ("audioCodecs".to_owned(), Amf0Value::Number(3191.0)),
                ("none".to_owned(), Amf0Value::Null),
                ("nothing".to_owned(), Amf0Value::Undefined),
                (
                    "list".to_owned(),
                    Amf0Value::StrictArray(vec![Amf0Value::Number(2.0), Amf0Value::Null]),
                ),
            ])),
        ];
        let bytes = rml_amf0::serialize(&values).unwrap();
        assert_eq!(decode(&bytes), Ok(values));
    }

    #[test]
    fn an_ecma_array_is_an_object_as_rml_amf0_reads_it() {
        let bytes = [
            &[ECMA_ARRAY, 0, 0, 0, 1, 0, 5][..],
            b"width",
            &[NUMBER],
            &320f64.to_be_bytes(),
            &[0, 0, OBJECT_END],
        ]
        .concat();
        let expected = vec![Amf0Value::Object(HashMap::from([(
            "width".to_owned(),
            Amf0Value::Number(320.0),
        )]))];
        assert_eq!(decode(&bytes), Ok(expected.clone()));
        assert_eq!(
            rml_amf0::deserialize(&mut std::io::Cursor::new(&bytes)).unwrap(),
            expected
        );
    }

    #[test]
    fn nesting_to_the_limit_decodes_and_past_it_is_refused() {
        assert!(decode(&nested_objects(MAX_DEPTH)).is_ok());
        assert_eq!(
            decode(&nested_objects(MAX_DEPTH + 1)),
            Err(Amf0Error::TooDeep)
        );
        // Deep enough to overflow a recursive decoder's stack.
        assert_eq!(decode(&nested_objects(200_000)), Err(Amf0Error::TooDeep));
        let arrays = [STRICT_ARRAY, 0, 0, 0, 1].repeat(200_000);
        assert_eq!(decode(&arrays), Err(Amf0Error::TooDeep));
    }

    #[test]
    fn truncated_and_unknown_input_is_an_error() {
        assert_eq!(decode(&[NUMBER, 0, 0]), Err(Amf0Error::Truncated));
        assert_eq!(decode(&[STRING, 0, 9, b'a']), Err(Amf0Error::Truncated));
        assert_eq!(decode(&[STRING, 0, 1, 0xff]), Err(Amf0Error::NotUtf8));
        assert_eq!(decode(&[OBJECT, 0, 1, b'a']), Err(Amf0Error::Truncated));
        assert_eq!(
            decode(&[OBJECT, 0, 0, NULL]),
            Err(Amf0Error::EmptyPropertyName)
        );
        assert_eq!(decode(&[0x0b]), Err(Amf0Error::UnknownMarker(0x0b)));
        // A huge count with nothing after it is bounded by the input.
        assert_eq!(
            decode(&[STRICT_ARRAY, 0xff, 0xff, 0xff, 0xff]),
            Ok(vec![Amf0Value::StrictArray(Vec::new())])
        );
    }

    #[test]
    fn a_message_of_many_small_values_is_refused_past_the_count() {
        assert_eq!(
            decode(&[NULL; MAX_VALUES]).map(|values| values.len()),
            Ok(MAX_VALUES)
        );
        assert_eq!(decode(&[NULL; MAX_VALUES + 1]), Err(Amf0Error::TooMany));
    }
}
