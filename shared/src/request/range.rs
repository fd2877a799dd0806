//! `Range: bytes=…` requests (RFC 9110 §14), so players and browsers can seek in a recording
//! without downloading it whole. One range per request; a header naming several is ignored
//! (the whole object is then sent, which the RFC allows). Positions are `u64` and every sum
//! is checked: `bytes=0-18446744073709551615` is the whole object, in any build.

use std::ops::Range;

/// How to answer a request for an object of known size.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 with every byte (no range, or one the server may ignore).
    Whole,
    /// 206 with these bytes (never empty, always within the object).
    Part(Range<u64>),
    /// 416: the range is malformed in a way that cannot be ignored (`bytes=5-2`) or lies past
    /// the object's end.
    Unsatisfiable,
}

/// What a `Range` header value asks of an object of `size` bytes.
pub fn answer(header: Option<&str>, size: u64) -> Answer {
    match requested(header) {
        Requested::Whole => Answer::Whole,
        Requested::Unsatisfiable => Answer::Unsatisfiable,
        Requested::Part(wanted) => match within(wanted, size) {
            Some(bytes) => Answer::Part(bytes),
            None => Answer::Unsatisfiable,
        },
    }
}

/// A range as the header states it, before the object's size is known.
#[derive(Debug, PartialEq, Eq)]
enum Requested {
    Whole,
    Part(Wanted),
    Unsatisfiable,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Wanted {
    /// `bytes=first-last`, `last` inclusive.
    Bounded { first: u64, last: u64 },
    /// `bytes=first-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

fn requested(header: Option<&str>) -> Requested {
    let Some(spec) = header.and_then(|value| value.trim().strip_prefix("bytes=")) else {
        return Requested::Whole;
    };
    if spec.contains(',') {
        return Requested::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Requested::Whole;
    };
    let number = |text: &str| text.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => match number(last) {
            Some(0) => Requested::Unsatisfiable,
            Some(suffix) => Requested::Part(Wanted::Suffix(suffix)),
            None => Requested::Whole,
        },
        (false, true) => match number(first) {
            Some(first) => Requested::Part(Wanted::From(first)),
            None => Requested::Whole,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(first), Some(last)) if first <= last => {
                Requested::Part(Wanted::Bounded { first, last })
            }
            (Some(_), Some(_)) => Requested::Unsatisfiable,
            _ => Requested::Whole,
        },
        (true, true) => Requested::Whole,
    }
}

/// The bytes `wanted` covers in an object of `size` bytes; `None` if none. A last position
/// past the end means the end (RFC 9110 §14.1.2), `u64::MAX` too.
fn within(wanted: Wanted, size: u64) -> Option<Range<u64>> {
    let bytes = match wanted {
        Wanted::Bounded { first, last } => first..last.saturating_add(1).min(size),
        Wanted::From(first) => first..size,
        Wanted::Suffix(last) => size.saturating_sub(last)..size,
    };
    (bytes.start < bytes.end).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_are_read_and_the_rest_ignored_or_refused() {
        assert_eq!(answer(None, 1000), Answer::Whole);
        assert_eq!(answer(Some("bytes=0-99"), 1000), Answer::Part(0..100));
        assert_eq!(answer(Some("bytes=100-"), 1000), Answer::Part(100..1000));
        assert_eq!(answer(Some("bytes=-500"), 1000), Answer::Part(500..1000));
        assert_eq!(answer(Some("bytes=0-1,5-9"), 1000), Answer::Whole);
        assert_eq!(answer(Some("items=0-9"), 1000), Answer::Whole);
        assert_eq!(answer(Some("bytes=abc-"), 1000), Answer::Whole);
        assert_eq!(answer(Some("bytes=9-2"), 1000), Answer::Unsatisfiable);
        assert_eq!(answer(Some("bytes=-0"), 1000), Answer::Unsatisfiable);
    }

    #[test]
    fn the_largest_last_position_is_the_whole_object_without_overflow() {
        assert_eq!(
            answer(Some("bytes=0-18446744073709551615"), 1234),
            Answer::Part(0..1234)
        );
        assert_eq!(
            answer(
                Some("bytes=18446744073709551615-18446744073709551615"),
                1234
            ),
            Answer::Unsatisfiable
        );
        assert_eq!(
            answer(Some("bytes=-18446744073709551615"), 1234),
            Answer::Part(0..1234)
        );
    }

    #[test]
    fn ranges_are_cut_to_the_object_and_those_past_its_end_refused() {
        assert_eq!(answer(Some("bytes=0-99"), 50), Answer::Part(0..50));
        assert_eq!(answer(Some("bytes=10-"), 50), Answer::Part(10..50));
        assert_eq!(answer(Some("bytes=-500"), 50), Answer::Part(0..50));
        assert_eq!(answer(Some("bytes=50-"), 50), Answer::Unsatisfiable);
        assert_eq!(answer(Some("bytes=60-69"), 50), Answer::Unsatisfiable);
        assert_eq!(answer(Some("bytes=0-"), 0), Answer::Unsatisfiable);
    }

    proptest::proptest! {
        #[test]
        fn every_part_lies_within_the_object(header in "bytes=[0-9 ]{0,22}-[0-9 ]{0,22}", size in proptest::prelude::any::<u64>()) {
            if let Answer::Part(bytes) = answer(Some(&header), size) {
                proptest::prop_assert!(bytes.start < bytes.end && bytes.end <= size);
            }
        }
    }
}
