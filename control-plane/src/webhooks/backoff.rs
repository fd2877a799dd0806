//! When to try a failed delivery again: exponential backoff from `base`, capped at `max`, with
//! "equal jitter" (a random point in the upper half of the step), so endpoints that failed
//! together are not retried in lockstep yet every delay still grows.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The pause after the `failures`-th failed attempt (from 1); `unit` in [0, 1) is the random
    /// draw, passed in so the schedule is testable.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        let step = self.base.saturating_mul(1 << exponent).min(self.max);
        step.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(3600),
    };

    #[test]
    fn delays_double_up_to_the_cap() {
        assert_eq!(BACKOFF.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(BACKOFF.delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(BACKOFF.delay(5, 1.0), Duration::from_secs(16));
        assert_eq!(BACKOFF.delay(40, 1.0), Duration::from_secs(3600));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_step() {
        assert_eq!(BACKOFF.delay(3, 0.0), Duration::from_secs(2));
        for unit in [0.0, 0.3, 0.99] {
            let delay = BACKOFF.delay(3, unit);
            assert!(delay >= Duration::from_secs(2) && delay <= Duration::from_secs(4));
        }
    }
}
