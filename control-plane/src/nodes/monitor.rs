//! The node monitor: a member of the `sigma-nodes` group on the heartbeats topic. For the nodes
//! of the partitions it owns it keeps the last heartbeat ([`Liveness`]); a node silent for longer
//! than the timeout is declared lost: each session it was ingesting gets its publisher marked
//! gone (`session.publisher_disconnected`, so the publisher may come back through any other
//! worker within the reconnect window: `session.restream`) and a `node_lost` alert; the
//! deciders' timer ends it if the publisher does not come back.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sigma_shared::command::IngestAction;
use sigma_shared::ids::AlertId;
use sigma_shared::log::{
    partition_for, EventLog, GroupEvent, LogError, Pace, Partition, HEARTBEATS_TOPIC,
};
use tokio::sync::mpsc;

use super::liveness::Liveness;
use super::{Heartbeat, Ingesting};
use crate::metrics::Metrics;
use sigma_edge_worker::bus::CommandBus;
use sigma_edge_worker::publication::LogAdmission;

pub const GROUP: &str = "sigma-nodes";
/// How often silence is judged.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What the group member hands the judge.
enum Seen {
    Owned(BTreeSet<Partition>),
    Beat(Heartbeat),
}

/// Runs until the log fails. `ready` is called once the member has joined.
pub async fn run(
    log: Arc<dyn EventLog>,
    bus: Arc<CommandBus>,
    metrics: Metrics,
    timeout: Duration,
    ready: impl FnOnce(),
) -> Result<(), LogError> {
    let mut member = log.join(HEARTBEATS_TOPIC, GROUP, Pace::Relaxed).await?;
    ready();
    let (seen, mut sightings) = mpsc::unbounded_channel();
    let partitions = log.partitions();
    let judge = tokio::spawn(async move {
        let mut liveness = Liveness::default();
        let mut checks = tokio::time::interval(CHECK_EVERY);
        let timeout = chrono::Duration::from_std(timeout).unwrap_or_default();
        loop {
            tokio::select! {
                sighting = sightings.recv() => match sighting {
                    Some(Seen::Beat(heartbeat)) => liveness.observe(heartbeat),
                    Some(Seen::Owned(owned)) => liveness
                        .retain(|node| owned.contains(&partition_for(node, partitions))),
                    None => return,
                },
                _ = checks.tick() => {
                    for node in liveness.lost(Utc::now(), timeout) {
                        metrics.nodes_lost.inc();
                        tracing::warn!(node = node.node_id, role = node.role, sessions = node.ingesting.len(), "node lost: no heartbeat");
                        for ingesting in node.ingesting.clone() {
                            tokio::spawn(release(bus.clone(), node.clone(), ingesting));
                        }
                    }
                }
            }
        }
    });
    let mut owned = BTreeSet::new();
    let outcome = loop {
        let event = match member.next().await {
            Ok(event) => event,
            Err(error) => break Err(error),
        };
        match event {
            GroupEvent::Assigned(partitions) => {
                owned.extend(partitions);
                let _ = seen.send(Seen::Owned(owned.clone()));
            }
            GroupEvent::Revoked(partitions) => {
                partitions.iter().for_each(|partition| {
                    owned.remove(partition);
                });
                let _ = seen.send(Seen::Owned(owned.clone()));
            }
            GroupEvent::Record(record) => {
                if let Ok(heartbeat) = serde_json::from_slice::<Heartbeat>(&record.payload) {
                    let _ = seen.send(Seen::Beat(heartbeat));
                }
                if let Err(error) = member.commit(record.partition, record.offset + 1).await {
                    break Err(error);
                }
            }
        }
    };
    judge.abort();
    outcome
}

/// A lost node's session: its publisher is gone as of the node's last sign of life (the media
/// timeline is taken as running on until now, so a returning publisher never overlaps what was
/// stored), and an alert says why. The session ends if no publisher returns within the reconnect
/// window: the deciders' timer (`decide::timers`).
async fn release(bus: Arc<CommandBus>, node: Heartbeat, ingesting: Ingesting) {
    let Ingesting {
        channel_id,
        session_id,
        input,
        media_end_ms,
    } = ingesting;
    let silent_ms = (Utc::now() - node.sent_at).num_milliseconds().max(0) as u64;
    let media_end_ms = media_end_ms + silent_ms;
    let disconnect = IngestAction::disconnect(input, session_id, media_end_ms);
    if let Err(refusal) = LogAdmission::ingest(&bus, channel_id, disconnect).await {
        tracing::info!(%session_id, %refusal, "the lost node's session needs no release");
        return;
    }
    let alert = IngestAction::RaiseAlert {
        session_id,
        alert_id: AlertId::generate(),
        code: "node_lost".into(),
        message: format!(
            "edge node {} stopped sending heartbeats; the publisher may reconnect to another node",
            node.node_id
        ),
    };
    if let Err(refusal) = LogAdmission::ingest(&bus, channel_id, alert).await {
        tracing::warn!(%session_id, %refusal, "node_lost alert not recorded");
    }
}
