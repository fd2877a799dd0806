//! Deciders: the single writer per channel.
//!
//! Every control-plane process runs one member of the `sigma-deciders` group on the commands
//! topic. The member that owns a partition owns every aggregate keyed to it: on assignment it
//! rebuilds their state from the same partition of the events topic, then decides each command
//! and appends the [`Decision`]; it commits the commands' offset every [`COMMIT_EVERY`]
//! commands of a partition (a commit is a write on the broker's side, and would be one per
//! command). A command redelivered after a crash or a takeover finds its id among the decided
//! ones and is skipped, so each command is decided exactly once.

pub mod partition;
pub mod timers;

use std::collections::HashMap;

use futures::StreamExt;
use sigma_shared::command::CommandEnvelope;
use sigma_shared::event::Decision;
use sigma_shared::log::{
    Checkpoints, EventLog, GroupEvent, LogError, Pace, Partition, COMMANDS_TOPIC, EVENTS_TOPIC,
};

pub use self::partition::PartitionDecider;
use self::timers::Timers;
use crate::metrics::Metrics;

pub const GROUP: &str = "sigma-deciders";

/// Commands of a partition decided between two commits of the group: far fewer than the
/// command ids a partition remembers, so every command read again is known.
const COMMIT_EVERY: u32 = 100;

/// Runs until the log fails, keeping `timers` to the owned channels' deadlines. `ready` is
/// called once the member has joined.
pub async fn run(
    log: &dyn EventLog,
    metrics: Metrics,
    timers: &Timers,
    ready: impl FnOnce(),
) -> Result<(), LogError> {
    timers.clear();
    let mut member = log.join(COMMANDS_TOPIC, GROUP, Pace::Prompt).await?;
    ready();
    // A member that stopped owns nothing: the gauge must not keep its last assignment.
    let _owned_gauge = OwnedGauge(&metrics);
    let mut owned: HashMap<Partition, PartitionDecider> = HashMap::new();
    let mut checkpoints = Checkpoints::every(COMMIT_EVERY);
    loop {
        match member.next().await? {
            GroupEvent::Assigned(partitions) => {
                for partition in partitions {
                    let decider = rebuild(log, partition).await?;
                    for (channel, due) in decider.all_timers() {
                        timers.set(channel, partition, due);
                    }
                    owned.insert(partition, decider);
                    metrics
                        .decider_partition_owned
                        .with_label_values(&[&partition.to_string()])
                        .set(1);
                }
                metrics.decider_partitions.set(owned.len() as i64);
            }
            GroupEvent::Revoked(partitions) => {
                for partition in partitions {
                    owned.remove(&partition);
                    timers.forget(partition);
                    let _ = metrics
                        .decider_partition_owned
                        .remove_label_values(&[&partition.to_string()]);
                }
                metrics.decider_partitions.set(owned.len() as i64);
            }
            GroupEvent::Record(record) => {
                let Some(decider) = owned.get_mut(&record.partition) else {
                    continue;
                };
                match serde_json::from_slice::<CommandEnvelope>(&record.payload) {
                    Ok(command) => {
                        if let Some(decision) = decider.decide(&command) {
                            log.append(EVENTS_TOPIC, &decision.stream, &decision.to_bytes())
                                .await?;
                            metrics
                                .commands_decided
                                .with_label_values(&[outcome_label(&decision)])
                                .inc();
                            decider.apply(&decision);
                            if let Some((channel, due)) = decider.timers_of(&decision.stream) {
                                timers.set(channel, record.partition, due);
                            }
                        }
                    }
                    Err(error) => {
                        metrics
                            .commands_decided
                            .with_label_values(&["malformed"])
                            .inc();
                        tracing::warn!(partition = record.partition, offset = record.offset, %error, "skipping a malformed command");
                    }
                }
                // A commit refused (the partition was just taken away in a rebalance, the
                // coordinator is moving) loses nothing: the decision is in the log, so the
                // command, redelivered to whoever owns the partition next, is skipped there.
                // Stopping the member instead would throw this assignment away and rejoin with
                // a growing pause, delaying every command of the partition.
                if !checkpoints.due(record.partition) {
                    continue;
                }
                if let Err(error) = member.commit(record.partition, record.offset + 1).await {
                    metrics.decider_commits_refused.inc();
                    tracing::warn!(partition = record.partition, offset = record.offset, %error, "a command's offset was not committed; a redelivery will be skipped");
                }
            }
        }
    }
}

/// Zeroes the owned-partitions gauges when the member stops, however it stops.
struct OwnedGauge<'a>(&'a Metrics);

impl Drop for OwnedGauge<'_> {
    fn drop(&mut self) {
        self.0.decider_partitions.set(0);
        self.0.decider_partition_owned.reset();
    }
}

/// The state of every aggregate of a partition, from its decisions so far.
async fn rebuild(log: &dyn EventLog, partition: Partition) -> Result<PartitionDecider, LogError> {
    let started = std::time::Instant::now();
    let end = log.end_offset(EVENTS_TOPIC, partition).await?;
    let mut records = log.read(EVENTS_TOPIC, partition, 0, end).await?;
    let mut decider = PartitionDecider::default();
    let mut count = 0u64;
    while let Some(record) = records.next().await {
        let record = record?;
        match Decision::from_bytes(&record.payload) {
            Ok(decision) => decider.apply(&decision),
            Err(error) => {
                tracing::error!(partition, offset = record.offset, %error, "a decision the decider cannot read")
            }
        }
        count += 1;
    }
    tracing::info!(
        partition,
        records = count,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "decider took partition"
    );
    Ok(decider)
}

fn outcome_label(decision: &Decision) -> &'static str {
    match decision.outcome {
        sigma_shared::event::Outcome::Accepted { .. } => "accepted",
        sigma_shared::event::Outcome::Rejected { .. } => "rejected",
    }
}
