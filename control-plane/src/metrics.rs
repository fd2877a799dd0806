//! What the control plane counts — its deciders, projector, webhooks, node monitor and the
//! live audience — registered in a platform process's registry (served at `/metrics` beside
//! what ingest and playback register there).

use sigma_metrics::prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec};

sigma_metrics::metrics! {
    pub struct Metrics {
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
            "Command offsets the broker refused to commit (a rebalance under way); the \
             redelivered commands are skipped as already decided",
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
        nodes_lost: IntCounter = counter(
            "nodes_lost_total",
            "Nodes this process declared lost (their heartbeats stopped)",
        );
        viewers: IntGaugeVec = gauges(
            "viewers",
            "Playback sessions watching each channel now (from the analytics projection; the \
             same figure on every platform process)",
            &["channel_id"],
        );
        webhook_deliveries: IntGaugeVec = gauges(
            "webhook_deliveries",
            "Webhook deliveries by status (pending: not delivered yet; failed: given up)",
            &["status"],
        );
        consumer_lag: GaugeVec = float_gauges(
            "consumer_lag_seconds",
            "How long the last record a consumer group applied here had waited in the log",
            &["group"],
        );
    }
}
