//! `Range: bytes=…` requests (RFC 9110 §14), so players and browsers can seek in a recording
//! without downloading it whole. One range per request; a header naming several is ignored
//! (the whole object is then sent, which the RFC allows).

use object_store::GetRange;

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    /// No usable range: send everything.
    Whole,
    Part(GetRange),
    /// A range that is malformed in a way that cannot be ignored (`bytes=5-2`).
    Unsatisfiable,
}

/// Reads a `Range` header value.
pub fn parse(header: Option<&str>) -> Requested {
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
        // `bytes=-500`: the last 500 bytes.
        (true, false) => match number(last) {
            Some(0) => Requested::Unsatisfiable,
            Some(suffix) => Requested::Part(GetRange::Suffix(suffix)),
            None => Requested::Whole,
        },
        // `bytes=100-`: from 100 on.
        (false, true) => match number(first) {
            Some(start) => Requested::Part(GetRange::Offset(start)),
            None => Requested::Whole,
        },
        (false, false) => match (number(first), number(last)) {
            // A last position past the end means the end (RFC 9110 §14.1.2), u64::MAX too.
            (Some(start), Some(end)) if start <= end => {
                Requested::Part(GetRange::Bounded(start..end.saturating_add(1)))
            }
            (Some(_), Some(_)) => Requested::Unsatisfiable,
            _ => Requested::Whole,
        },
        (true, true) => Requested::Whole,
    }
}

/// The bytes `wanted` covers in an object of `size` bytes; `None` if none (416).
pub fn within(wanted: &GetRange, size: u64) -> Option<std::ops::Range<u64>> {
    let bytes = match wanted {
        GetRange::Bounded(bytes) => bytes.start..bytes.end.min(size),
        GetRange::Offset(start) => *start..size,
        GetRange::Suffix(last) => size.saturating_sub(*last)..size,
    };
    (bytes.start < bytes.end).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_are_read_and_the_rest_ignored_or_refused() {
        assert_eq!(parse(None), Requested::Whole);
        assert_eq!(
            parse(Some("bytes=0-99")),
            Requested::Part(GetRange::Bounded(0..100))
        );
        assert_eq!(
            parse(Some("bytes=100-")),
            Requested::Part(GetRange::Offset(100))
        );
        assert_eq!(
            parse(Some("bytes=-500")),
            Requested::Part(GetRange::Suffix(500))
        );
        assert_eq!(parse(Some("bytes=0-1,5-9")), Requested::Whole);
        assert_eq!(parse(Some("items=0-9")), Requested::Whole);
        assert_eq!(parse(Some("bytes=abc-")), Requested::Whole);
        assert_eq!(parse(Some("bytes=9-2")), Requested::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0")), Requested::Unsatisfiable);
    }

    #[test]
    fn the_largest_last_position_is_the_whole_object_without_overflow() {
        let wanted = parse(Some("bytes=0-18446744073709551615"));
        assert_eq!(wanted, Requested::Part(GetRange::Bounded(0..u64::MAX)));
        let Requested::Part(range) = wanted else {
            unreachable!()
        };
        assert_eq!(within(&range, 1234), Some(0..1234));
    }

    #[test]
    fn ranges_are_cut_to_the_object_and_those_past_its_end_refused() {
        assert_eq!(within(&GetRange::Bounded(0..100), 50), Some(0..50));
        assert_eq!(within(&GetRange::Offset(10), 50), Some(10..50));
        assert_eq!(within(&GetRange::Suffix(500), 50), Some(0..50));
        assert_eq!(within(&GetRange::Offset(50), 50), None);
        assert_eq!(within(&GetRange::Bounded(60..70), 50), None);
    }
}
