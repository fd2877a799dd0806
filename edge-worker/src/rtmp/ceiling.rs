//! A publisher's bitrate ceiling: a token bucket that fills at the ceiling and holds one
//! window's worth, so bursts (a keyframe, catching up after a stall) pass and a sustained
//! excess does not.

use std::time::{Duration, Instant};

pub struct BitrateCeiling {
    bytes_per_second: f64,
    capacity: f64,
    tokens: f64,
    filled_at: Instant,
}

impl BitrateCeiling {
    pub fn new(bits_per_second: u64, window: Duration, now: Instant) -> Self {
        let bytes_per_second = bits_per_second as f64 / 8.0;
        let capacity = bytes_per_second * window.as_secs_f64();
        Self {
            bytes_per_second,
            capacity,
            tokens: capacity,
            filled_at: now,
        }
    }

    /// Counts `bytes` received at `now`; false once the publisher is over the ceiling.
    pub fn allows(&mut self, bytes: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.filled_at).as_secs_f64();
        self.filled_at = now;
        self.tokens = (self.tokens + elapsed * self.bytes_per_second).min(self.capacity);
        self.tokens -= bytes as f64;
        self.tokens >= 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_and_a_sustained_excess_does_not() {
        let start = Instant::now();
        // 8 Mbit/s = 1 MB/s, a 2 s window: a 2 MB burst passes.
        let mut ceiling = BitrateCeiling::new(8_000_000, Duration::from_secs(2), start);
        assert!(ceiling.allows(2_000_000, start));
        // At the ceiling, for a minute.
        for second in 1..=60 {
            assert!(ceiling.allows(1_000_000, start + Duration::from_secs(second)));
        }
        // 1.5 MB/s: the window runs dry in about 4 s.
        let over = (61..=70)
            .find(|&second| !ceiling.allows(1_500_000, start + Duration::from_secs(second)));
        assert!(matches!(over, Some(61..=66)), "{over:?}");
    }
}
