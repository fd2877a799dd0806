//! Percentiles of measured durations.

use std::time::Duration;

/// Sorted samples of one measurement.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_unstable();
        Self(samples)
    }

    /// The nearest-rank percentile, `p` in 0..=100.
    pub fn percentile(&self, p: f64) -> Duration {
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// `p50 / p99 / max` in milliseconds, for a table cell.
    pub fn summary_ms(&self) -> [f64; 3] {
        [
            self.percentile(50.0),
            self.percentile(99.0),
            *self.0.last().expect("not empty"),
        ]
        .map(|d| d.as_secs_f64() * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let latencies = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(latencies.percentile(50.0), Duration::from_millis(50));
        assert_eq!(latencies.percentile(99.0), Duration::from_millis(99));
        assert_eq!(latencies.percentile(100.0), Duration::from_millis(100));
        assert_eq!(latencies.percentile(0.0), Duration::from_millis(1));
    }
}
