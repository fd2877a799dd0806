//! What ingest counts, registered in its process's registry (served at `/metrics`) wherever the
//! process ingests (a worker, the whole platform); and what the live store counts, wherever one
//! writes media (those and a control plane, whose recorder writes the recordings).

use sigma_metrics::prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge};

sigma_metrics::metrics! {
    pub struct IngestMetrics {
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
        alerts: IntCounterVec = counters(
            "alerts_total",
            "Stream alerts raised and cleared by this process, by code",
            &["code", "transition"],
        );
        packaged: IntCounterVec = counters(
            "packaged_total",
            "Init segments, parts and segments stored and announced, every rendition",
            &["kind"],
        );
        packaging_seconds: HistogramVec = histograms(
            "packaging_seconds",
            "From the frame that completes a part or segment arriving to it being stored and \
             announced to playback",
            &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0],
            &["kind"],
        );
    }
}

sigma_metrics::metrics! {
    pub struct StorageMetrics {
        storage_free_bytes: IntGauge = gauge(
            "storage_free_bytes",
            "Free bytes on the fullest file system the process writes to (the data dir, local \
             media)",
        );
        storage_level: IntGauge = gauge(
            "storage_level",
            "0: room; 1: below the low watermark (new publishers refused); 2: down to the \
             reserve (live media held in memory)",
        );
        storage_held_bytes: IntGauge = gauge(
            "storage_held_bytes",
            "Live media held in memory because the object store failed or the disk is at its \
             reserve",
        );
    }
}
