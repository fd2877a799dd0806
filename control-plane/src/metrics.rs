//! Prometheus metrics of a control-plane process, served at `/metrics`.

use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use sigma_edge_worker::metrics::IngestMetrics;
use sigma_playback::PlaybackMetrics;

/// Declares each metric once — its field, its type and how it is made (name, help, labels) —
/// and makes [`Metrics`] with every one registered (by hand, each was written four times), and
/// with playback's, which its crate defines and which count their limits in `$limits`.
macro_rules! metrics {
    (limits: $limits:ident; $($(#[$doc:meta])* $field:ident: $kind:ty = $make:expr;)*) => {
        #[derive(Clone)]
        pub struct Metrics {
            registry: Registry,
            pub playback: PlaybackMetrics,
            $($(#[$doc])* pub $field: $kind,)*
        }

        impl Metrics {
            pub fn new() -> Self {
                let registry =
                    Registry::new_custom(Some("sigma".into()), None).expect("a valid prefix");
                $(let $field = registered(&registry, $make);)*
                Self {
                    playback: PlaybackMetrics::register(&registry, $limits.clone()),
                    $($field,)*
                    registry,
                }
            }
        }
    };
}

metrics! {
    limits: limits_hit;
    http_requests: IntCounterVec = counters(
        "http_requests_total",
        "HTTP requests by route and status",
        &["route", "status"],
    );
    http_duration: HistogramVec = histograms(
        "http_request_duration_seconds",
        "HTTP request latency by route",
        &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0],
        &["route"],
    );
    commands_decided: IntCounterVec = counters(
        "commands_decided_total",
        "Commands decided by this process, by outcome",
        &["outcome"],
    );
    events_projected: IntCounter = counter(
        "events_projected_total",
        "Decisions applied to the read models",
    );
    decider_partitions: IntGauge = gauge(
        "decider_partitions",
        "Command partitions this process decides for",
    );
    /// Which partitions: where a channel's decisions (and its session timers) are made.
    decider_partition_owned: IntGaugeVec = gauges(
        "decider_partition_owned",
        "1 for each command partition this process decides for",
        &["partition"],
    );
    decider_commits_refused: IntCounter = counter(
        "decider_commits_refused_total",
        "Command offsets the broker refused to commit (a rebalance under way); the redelivered \
         commands are skipped as already decided",
    );
    ingest_dropped: IntCounterVec = counters(
        "ingest_dropped_total",
        "RTMP connections dropped, by reason (refusals, garbage, silence, ...)",
        &["reason"],
    );
    ingest_publishers: IntGauge = gauge(
        "ingest_publishers",
        "Publishers streaming into this process",
    );
    ingest_bytes: IntCounter = counter(
        "ingest_bytes_total",
        "Bytes of publishers' media received and packaged here (rate() gives the bitrate)",
    );
    webhook_attempts: IntCounterVec = counters(
        "webhook_attempts_total",
        "Webhook delivery attempts, by what followed (delivered, retried, given_up)",
        &["outcome"],
    );
    webhook_lanes: IntGauge = gauge(
        "webhook_lanes",
        "Subscription-and-channel lanes with deliveries pending in this process",
    );
    alerts: IntCounterVec = counters(
        "alerts_total",
        "Stream alerts raised and cleared by this process, by code",
        &["code", "transition"],
    );
    nodes_lost: IntCounter = counter(
        "nodes_lost_total",
        "Nodes this process declared lost (their heartbeats stopped)",
    );
    viewers: IntGaugeVec = gauges(
        "viewers",
        "Playback sessions watching each channel now (from the analytics projection; the same \
         figure on every platform process)",
        &["channel_id"],
    );
    limits_hit: IntCounterVec = counters(
        "limits_hit_total",
        "Times a limit of docs/SECURITY.md bit, by limit (held_requests, ...)",
        &["limit"],
    );
    webhook_deliveries: IntGaugeVec = gauges(
        "webhook_deliveries",
        "Webhook deliveries by status (pending: not delivered yet; failed: given up)",
        &["status"],
    );
    packaged: IntCounterVec = counters(
        "packaged_total",
        "Init segments, parts and segments stored and announced, every rendition",
        &["kind"],
    );
    packaging_seconds: HistogramVec = histograms(
        "packaging_seconds",
        "From the frame that completes a part or segment arriving to it being stored and announced \
         to playback",
        &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0],
        &["kind"],
    );
    consumer_lag: GaugeVec = float_gauges(
        "consumer_lag_seconds",
        "How long the last record a consumer group applied here had waited in the log",
        &["group"],
    );
    storage_free_bytes: IntGauge = gauge(
        "storage_free_bytes",
        "Free bytes on the fullest file system the process writes to (the data dir, local media)",
    );
    storage_level: IntGauge = gauge(
        "storage_level",
        "0: room; 1: below the low watermark (new publishers refused); 2: down to the reserve \
         (live media held in memory)",
    );
    storage_held_bytes: IntGauge = gauge(
        "storage_held_bytes",
        "Live media held in memory because the object store failed or the disk is at its reserve",
    );
}

/// `metric`, registered in `registry`; a name or label that Prometheus refuses, or a name used
/// twice, is a bug of this file, caught by the first process that starts.
fn registered<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("metrics are registered once");
    metric
}

fn counter(name: &str, help: &str) -> prometheus::Result<IntCounter> {
    IntCounter::new(name, help)
}

fn counters(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

fn gauge(name: &str, help: &str) -> prometheus::Result<IntGauge> {
    IntGauge::new(name, help)
}

fn gauges(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    IntGaugeVec::new(Opts::new(name, help), labels)
}

fn float_gauges(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
    GaugeVec::new(Opts::new(name, help), labels)
}

fn histograms(
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> prometheus::Result<HistogramVec> {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
}

impl Metrics {
    /// The handles ingest reports into.
    pub fn ingest(&self) -> IngestMetrics {
        IngestMetrics {
            ingest_dropped: self.ingest_dropped.clone(),
            ingest_publishers: self.ingest_publishers.clone(),
            ingest_bytes: self.ingest_bytes.clone(),
            alerts: self.alerts.clone(),
            packaged: self.packaged.clone(),
            packaging_seconds: self.packaging_seconds.clone(),
            storage_free_bytes: self.storage_free_bytes.clone(),
            storage_level: self.storage_level.clone(),
            storage_held_bytes: self.storage_held_bytes.clone(),
            limits_hit: self.limits_hit.clone(),
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
