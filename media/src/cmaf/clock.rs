//! FLV and RTMP carry 32-bit millisecond timestamps: they wrap after about 49.7 days, and
//! encoders restart or jump them (a reconnecting OBS, a source switch). The packager needs one
//! continuous, monotonic-enough timeline; this maps raw timestamps onto it.

const WRAP: i64 = 1 << 32;
/// A step larger than this between consecutive timestamps (either way) is a jump, not time
/// passing: the timeline continues from where it was.
const MAX_STEP_MS: i64 = 5_000;

#[derive(Debug, Default)]
pub struct Clock {
    last: Option<i64>,
    wraps: i64,
    offset: i64,
}

impl Clock {
    /// The continuous time (ms) of a raw timestamp, shared by all tracks of a stream so they
    /// stay in sync.
    pub fn continuous(&mut self, raw: i64) -> i64 {
        let mut value = raw + self.wraps * WRAP;
        if let Some(last) = self.last {
            if last - value > WRAP / 2 {
                self.wraps += 1;
                value += WRAP;
            }
            if (value - last).abs() > MAX_STEP_MS {
                self.offset += last - value;
            }
        }
        self.last = Some(value);
        value + self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrap_of_the_32_bit_clock_continues_the_timeline() {
        let mut clock = Clock::default();
        let near_end = WRAP - 40;
        assert_eq!(clock.continuous(near_end), near_end);
        assert_eq!(clock.continuous(near_end + 33), near_end + 33);
        assert_eq!(clock.continuous(26), WRAP + 26, "after the wrap");
        assert_eq!(clock.continuous(59), WRAP + 59);
    }

    #[test]
    fn jumps_either_way_continue_from_where_the_timeline_was() {
        let mut clock = Clock::default();
        assert_eq!(clock.continuous(100_000), 100_000);
        assert_eq!(clock.continuous(100_033), 100_033);
        // The encoder restarted its clock at zero.
        assert_eq!(clock.continuous(0), 100_033);
        assert_eq!(clock.continuous(33), 100_066);
        // It leapt an hour ahead.
        assert_eq!(clock.continuous(3_600_033), 100_066);
        assert_eq!(clock.continuous(3_600_066), 100_099);
        // Small reorderings between tracks are not jumps.
        assert_eq!(clock.continuous(3_600_050), 100_083);
    }
}
