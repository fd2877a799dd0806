//! The metrics of a process, served at `/metrics`: one registry per process ([`Process`]),
//! holding what every process counts (HTTP requests, the limits of docs/SECURITY.md), into
//! which the crate of each role the process runs registers the metrics it declares with
//! [`metrics!`] — ingest's in the edge worker, playback's in playback, the deciders', the
//! projector's and the webhooks' in the control plane. A worker's `/metrics` therefore shows
//! ingest and no webhook figures.

use prometheus::core::Collector;
use prometheus::{Encoder, HistogramVec, IntCounterVec, Registry, TextEncoder};

pub use prometheus;

/// Declares a role's metrics once — each field, its type and how it is made (name, help,
/// labels, with the constructors of [`make`]) — as a struct whose `register` registers every
/// one in the process's registry and carries the process's `limits_hit` beside them.
#[macro_export]
macro_rules! metrics {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$doc:meta])* $field:ident: $kind:ty = $make:expr;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name {
            /// The process's `limits_hit_total{limit}`, which every role's limits count in.
            pub limits_hit: $crate::prometheus::IntCounterVec,
            $($(#[$doc])* pub $field: $kind,)*
        }

        impl $name {
            /// Registers these metrics in `process`'s registry. A name Prometheus refuses, or
            /// one used twice, is a bug of the declaring crate, caught by the first process
            /// that starts.
            pub fn register(process: &$crate::Process) -> Self {
                #[allow(unused_imports)]
                use $crate::make::*;
                Self {
                    limits_hit: process.limits_hit.clone(),
                    $($field: process.registered($make),)*
                }
            }
        }
    };
}

/// A process's registry, with what every process counts.
#[derive(Clone)]
pub struct Process {
    registry: Registry,
    /// `limits_hit_total{limit}`: times a limit of docs/SECURITY.md bit.
    pub limits_hit: IntCounterVec,
    /// `http_requests_total{route, status}`.
    pub http_requests: IntCounterVec,
    /// `http_request_duration_seconds{route}`.
    pub http_duration: HistogramVec,
}

impl Process {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("sigma".into()), None).expect("a valid prefix");
        Self {
            limits_hit: registered(
                &registry,
                make::counters(
                    "limits_hit_total",
                    "Times a limit of docs/SECURITY.md bit, by limit (held_requests, ...)",
                    &["limit"],
                ),
            ),
            http_requests: registered(
                &registry,
                make::counters(
                    "http_requests_total",
                    "HTTP requests by route and status",
                    &["route", "status"],
                ),
            ),
            http_duration: registered(
                &registry,
                make::histograms(
                    "http_request_duration_seconds",
                    "HTTP request latency by route",
                    &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0],
                    &["route"],
                ),
            ),
            registry,
        }
    }

    /// `metric`, registered here.
    pub fn registered<M: Collector + Clone + 'static>(&self, metric: prometheus::Result<M>) -> M {
        registered(&self.registry, metric)
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

impl Default for Process {
    fn default() -> Self {
        Self::new()
    }
}

/// `metric`, registered in `registry`; a name or label that Prometheus refuses, or a name used
/// twice, is a bug of the declaring crate.
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

/// How metrics are made: name, help, labels (and buckets).
pub mod make {
    use prometheus::{
        GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
        Opts,
    };

    pub fn counter(name: &str, help: &str) -> prometheus::Result<IntCounter> {
        IntCounter::new(name, help)
    }

    pub fn counters(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
        IntCounterVec::new(Opts::new(name, help), labels)
    }

    pub fn gauge(name: &str, help: &str) -> prometheus::Result<IntGauge> {
        IntGauge::new(name, help)
    }

    pub fn gauges(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
        IntGaugeVec::new(Opts::new(name, help), labels)
    }

    pub fn float_gauges(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
        GaugeVec::new(Opts::new(name, help), labels)
    }

    pub fn histograms(
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
}
