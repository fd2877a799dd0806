//! The metrics playback adds to its process's registry (served at `/metrics` with the rest).

use prometheus::core::Collector;
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct PlaybackMetrics {
    pub cache: IntCounterVec,
    pub waiting: IntGauge,
    pub refused: IntCounterVec,
    pub catchup_sessions: IntGauge,
    /// The process's `limits_hit_total`, which playback's limits (held requests, remembered
    /// misses, tokens kept) count in beside every other role's.
    pub limits_hit: IntCounterVec,
}

impl PlaybackMetrics {
    /// Registers playback's metrics in `registry`, which holds `limits_hit` already. A name
    /// Prometheus refuses or one used twice is a bug of this file, caught by the first process
    /// that starts.
    pub fn register(registry: &Registry, limits_hit: IntCounterVec) -> Self {
        let metrics = Self::new(limits_hit).expect("valid metrics");
        let own: [Box<dyn Collector>; 4] = [
            Box::new(metrics.cache.clone()),
            Box::new(metrics.waiting.clone()),
            Box::new(metrics.refused.clone()),
            Box::new(metrics.catchup_sessions.clone()),
        ];
        for collector in own {
            registry
                .register(collector)
                .expect("metrics are registered once");
        }
        metrics
    }

    fn new(limits_hit: IntCounterVec) -> prometheus::Result<Self> {
        Ok(Self {
            cache: IntCounterVec::new(
                Opts::new(
                    "playback_cache_total",
                    "Media requests served from memory (hit), read from the object store (miss), \
                     or served from live media held while the store fails (held)",
                ),
                &["result"],
            )?,
            waiting: IntGauge::new(
                "playback_waiting",
                "Requests held open now: blocking playlist reloads, preload-hinted parts, \
                 multivariant playlists awaiting a first segment",
            )?,
            refused: IntCounterVec::new(
                Opts::new(
                    "playback_refused_total",
                    "Requests for a signed channel refused, by reason (token_required, \
                     token_expired, invalid_token, token_not_for_this_stream, \
                     token_wrong_audience)",
                ),
                &["reason"],
            )?,
            catchup_sessions: IntGauge::new(
                "playback_catchup_sessions",
                "Sessions whose catch-up timeline this process holds in memory: the running ones \
                 and the ended ones whose playlists the store does not have yet",
            )?,
            limits_hit,
        })
    }
}
