//! Prometheus metrics of a control-plane process, served at `/metrics`.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub commands_decided: IntCounterVec,
    pub events_projected: IntCounter,
    pub decider_partitions: IntGauge,
    /// Which partitions: where a channel's decisions (and its session timers) are made.
    pub decider_partition_owned: IntGaugeVec,
    pub decider_commits_refused: IntCounter,
    pub ingest_dropped: IntCounterVec,
    pub ingest_publishers: IntGauge,
    pub ingest_bytes: IntCounter,
    pub webhook_attempts: IntCounterVec,
    pub webhook_lanes: IntGauge,
    pub alerts: IntCounterVec,
    pub nodes_lost: IntCounter,
    pub viewers: IntGaugeVec,
    pub playback_cache: IntCounterVec,
    pub playback_waiting: IntGauge,
    pub playback_refused: IntCounterVec,
    pub playback_catchup_sessions: IntGauge,
    pub limits_hit: IntCounterVec,
    pub webhook_deliveries: IntGaugeVec,
    pub packaged: IntCounterVec,
    pub packaging_seconds: HistogramVec,
    pub consumer_lag: GaugeVec,
    pub storage_free_bytes: IntGauge,
    pub storage_level: IntGauge,
    pub storage_held_bytes: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("sigma".into()), None).expect("a valid prefix");
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let commands_decided = IntCounterVec::new(
            Opts::new(
                "commands_decided_total",
                "Commands decided by this process, by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let events_projected = IntCounter::new(
            "events_projected_total",
            "Decisions applied to the read models",
        )
        .expect("valid metric");
        let decider_partitions = IntGauge::new(
            "decider_partitions",
            "Command partitions this process decides for",
        )
        .expect("valid metric");
        let decider_partition_owned = IntGaugeVec::new(
            Opts::new(
                "decider_partition_owned",
                "1 for each command partition this process decides for",
            ),
            &["partition"],
        )
        .expect("valid metric");
        let decider_commits_refused = IntCounter::new(
            "decider_commits_refused_total",
            "Command offsets the broker refused to commit (a rebalance under way); the \
             redelivered commands are skipped as already decided",
        )
        .expect("valid metric");
        let playback_refused = IntCounterVec::new(
            Opts::new(
                "playback_refused_total",
                "Requests for a signed channel refused, by reason (token_required, token_expired, \
                 invalid_token, token_not_for_this_stream, token_wrong_audience)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let ingest_dropped = IntCounterVec::new(
            Opts::new(
                "ingest_dropped_total",
                "RTMP connections dropped, by reason (refusals, garbage, silence, ...)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let ingest_publishers = IntGauge::new(
            "ingest_publishers",
            "Publishers streaming into this process",
        )
        .expect("valid metric");
        let ingest_bytes = IntCounter::new(
            "ingest_bytes_total",
            "Bytes of publishers' media received and packaged here (rate() gives the bitrate)",
        )
        .expect("valid metric");
        let webhook_attempts = IntCounterVec::new(
            Opts::new(
                "webhook_attempts_total",
                "Webhook delivery attempts, by what followed (delivered, retried, given_up)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let webhook_lanes = IntGauge::new(
            "webhook_lanes",
            "Subscription-and-channel lanes with deliveries pending in this process",
        )
        .expect("valid metric");
        let alerts = IntCounterVec::new(
            Opts::new(
                "alerts_total",
                "Stream alerts raised and cleared by this process, by code",
            ),
            &["code", "transition"],
        )
        .expect("valid metric");
        let nodes_lost = IntCounter::new(
            "nodes_lost_total",
            "Nodes this process declared lost (their heartbeats stopped)",
        )
        .expect("valid metric");
        let viewers = IntGaugeVec::new(
            Opts::new(
                "viewers",
                "Playback sessions watching each channel now (from the analytics projection; \
                 the same figure on every platform process)",
            ),
            &["channel_id"],
        )
        .expect("valid metric");
        let playback_cache = IntCounterVec::new(
            Opts::new(
                "playback_cache_total",
                "Media requests served from memory (hit), read from the object store (miss), or served from \
                 live media held while the store fails (held)",
            ),
            &["result"],
        )
        .expect("valid metric");
        let playback_waiting = IntGauge::new(
            "playback_waiting",
            "Blocking playlist reloads and preload-hinted part requests held open now",
        )
        .expect("valid metric");
        let playback_catchup_sessions = IntGauge::new(
            "playback_catchup_sessions",
            "Sessions whose catch-up timeline this process holds in memory: the running ones and \
             the ended ones whose playlists the store does not have yet",
        )
        .expect("valid metric");
        let limits_hit = IntCounterVec::new(
            Opts::new(
                "limits_hit_total",
                "Times a limit of docs/SECURITY.md bit, by limit (held_requests, ...)",
            ),
            &["limit"],
        )
        .expect("valid metric");
        let webhook_deliveries = IntGaugeVec::new(
            Opts::new(
                "webhook_deliveries",
                "Webhook deliveries by status (pending: not delivered yet; failed: given up)",
            ),
            &["status"],
        )
        .expect("valid metric");
        let packaged = IntCounterVec::new(
            Opts::new(
                "packaged_total",
                "Init segments, parts and segments stored and announced, every rendition",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let packaging_seconds = HistogramVec::new(
            HistogramOpts::new(
                "packaging_seconds",
                "From the frame that completes a part or segment arriving to it being stored \
                 and announced to playback",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
            &["kind"],
        )
        .expect("valid metric");
        let consumer_lag = GaugeVec::new(
            Opts::new(
                "consumer_lag_seconds",
                "How long the last record a consumer group applied here had waited in the log",
            ),
            &["group"],
        )
        .expect("valid metric");
        let storage_free_bytes = IntGauge::new(
            "storage_free_bytes",
            "Free bytes on the fullest file system the process writes to (the data dir, local media)",
        )
        .expect("valid metric");
        let storage_level = IntGauge::new(
            "storage_level",
            "0: room; 1: below the low watermark (new publishers refused); 2: down to the reserve \
             (live media held in memory)",
        )
        .expect("valid metric");
        let storage_held_bytes = IntGauge::new(
            "storage_held_bytes",
            "Live media held in memory because the object store failed or the disk is at its reserve",
        )
        .expect("valid metric");
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(commands_decided.clone()),
            Box::new(events_projected.clone()),
            Box::new(decider_partitions.clone()),
            Box::new(decider_partition_owned.clone()),
            Box::new(decider_commits_refused.clone()),
            Box::new(ingest_dropped.clone()),
            Box::new(ingest_publishers.clone()),
            Box::new(ingest_bytes.clone()),
            Box::new(webhook_attempts.clone()),
            Box::new(webhook_lanes.clone()),
            Box::new(alerts.clone()),
            Box::new(nodes_lost.clone()),
            Box::new(viewers.clone()),
            Box::new(playback_cache.clone()),
            Box::new(playback_waiting.clone()),
            Box::new(playback_refused.clone()),
            Box::new(playback_catchup_sessions.clone()),
            Box::new(limits_hit.clone()),
            Box::new(webhook_deliveries.clone()),
            Box::new(packaged.clone()),
            Box::new(packaging_seconds.clone()),
            Box::new(consumer_lag.clone()),
            Box::new(storage_free_bytes.clone()),
            Box::new(storage_level.clone()),
            Box::new(storage_held_bytes.clone()),
        ] {
            registry
                .register(collector)
                .expect("metrics are registered once");
        }
        Self {
            registry,
            http_requests,
            http_duration,
            commands_decided,
            events_projected,
            decider_partitions,
            decider_partition_owned,
            decider_commits_refused,
            ingest_dropped,
            ingest_publishers,
            ingest_bytes,
            webhook_attempts,
            webhook_lanes,
            alerts,
            nodes_lost,
            viewers,
            playback_cache,
            playback_waiting,
            playback_refused,
            playback_catchup_sessions,
            limits_hit,
            webhook_deliveries,
            packaged,
            packaging_seconds,
            consumer_lag,
            storage_free_bytes,
            storage_level,
            storage_held_bytes,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
