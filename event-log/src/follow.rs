//! Folds of the events topic that a process keeps in memory (who may watch a channel, which API
//! tokens are revoked, which channel a stream key opens, which command was decided how): each
//! is brought up to the end of the log before the process serves, then kept current.

use std::sync::Arc;

use futures::StreamExt;
use sigma_shared::event::{Decision, EventEnvelope};
use sigma_shared::log::{EventLog, LogError, Offset, Partition, EVENTS_TOPIC};

/// Hands `apply` every decision from `from` (partitions `from` does not name start at 0), with
/// where it lies, up to the end of the log before it returns, then every decision as it is
/// appended, for as long as the process runs. `what` names the fold in the logs.
pub async fn follow_decisions(
    log: &Arc<dyn EventLog>,
    from: &[(Partition, Offset)],
    what: &'static str,
    apply: impl Fn(Decision, Partition, Offset) + Send + 'static,
) -> Result<(), LogError> {
    let decide = move |payload: &[u8], partition, offset| match Decision::from_bytes(payload) {
        Ok(decision) => apply(decision, partition, offset),
        Err(error) => tracing::error!(%error, what, "a decision this fold cannot read"),
    };
    let mut caught_up = Vec::new();
    for partition in 0..log.partitions() {
        let start = from
            .iter()
            .find(|(of, _)| *of == partition)
            .map_or(0, |(_, offset)| *offset);
        let end = log.end_offset(EVENTS_TOPIC, partition).await?;
        let mut records = log.read(EVENTS_TOPIC, partition, start, end).await?;
        while let Some(record) = records.next().await {
            let record = record?;
            decide(&record.payload, record.partition, record.offset);
        }
        caught_up.push((partition, end));
    }
    let mut records = log.follow(EVENTS_TOPIC, &caught_up).await?;
    tokio::spawn(async move {
        while let Some(record) = records.next().await {
            match record {
                Ok(record) => decide(&record.payload, record.partition, record.offset),
                Err(error) => tracing::error!(%error, what, "following the events"),
            }
        }
        tracing::error!(what, "the events stream ended");
    });
    Ok(())
}

/// [`follow_decisions`] for a fold of the accepted events alone.
pub async fn follow_events(
    log: &Arc<dyn EventLog>,
    from: &[(Partition, Offset)],
    what: &'static str,
    apply: impl Fn(&EventEnvelope) + Send + 'static,
) -> Result<(), LogError> {
    follow_decisions(log, from, what, move |decision, _, _| {
        decision.events().iter().for_each(&apply)
    })
    .await
}
