//! The metrics playback registers in its process's registry (served at `/metrics` with the
//! rest) wherever the process serves playback.

use sigma_metrics::prometheus::{IntCounterVec, IntGauge};

sigma_metrics::metrics! {
    pub struct PlaybackMetrics {
        cache: IntCounterVec = counters(
            "playback_cache_total",
            "Media requests served from memory (hit), read from the object store (miss), or \
             served from live media held while the store fails (held)",
            &["result"],
        );
        waiting: IntGauge = gauge(
            "playback_waiting",
            "Requests held open now: blocking playlist reloads, preload-hinted parts, \
             multivariant playlists awaiting a first segment",
        );
        refused: IntCounterVec = counters(
            "playback_refused_total",
            "Requests for a signed channel refused, by reason (token_required, token_expired, \
             invalid_token, token_not_for_this_stream, token_wrong_audience)",
            &["reason"],
        );
        catchup_sessions: IntGauge = gauge(
            "playback_catchup_sessions",
            "Sessions whose catch-up timeline this process holds in memory: the running ones \
             and the ended ones whose playlists the store does not have yet",
        );
    }
}
