//! What ingest counts, in the process's registry (its `/metrics`): the process registers these
//! with the rest of its metrics and hands ingest its handles.

use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge};

#[derive(Clone)]
pub struct IngestMetrics {
    /// `ingest_dropped_total{reason}`: connections dropped, by reason.
    pub ingest_dropped: IntCounterVec,
    pub ingest_publishers: IntGauge,
    pub ingest_bytes: IntCounter,
    /// `alerts_total{code, transition}`: stream alerts raised and cleared here.
    pub alerts: IntCounterVec,
    /// `packaged_total{kind}` and `packaging_seconds{kind}`: pieces stored and announced.
    pub packaged: IntCounterVec,
    pub packaging_seconds: HistogramVec,
    pub storage_free_bytes: IntGauge,
    pub storage_level: IntGauge,
    pub storage_held_bytes: IntGauge,
    /// The process's `limits_hit_total{limit}`.
    pub limits_hit: IntCounterVec,
}
