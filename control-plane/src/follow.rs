//! Folds of the events that requests are checked against in memory (who may watch a
//! channel, which API tokens are revoked): each starts from the read models, at the offsets
//! they were projected up to, and follows the events from there.

use std::sync::Arc;

use futures::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use sigma_shared::event::{Decision, EventEnvelope};
use sigma_shared::log::{EventLog, LogError, Offset, Partition, EVENTS_TOPIC};

use crate::db;

/// Where the read models stand in the events, per partition. Read before the rows a fold
/// starts from: rows read after can only be newer, so a fold's `apply` must leave a row that
/// already holds an event unchanged when it sees that event again.
pub async fn projected_offsets(
    db: &DatabaseConnection,
) -> Result<Vec<(Partition, Offset)>, DbErr> {
    Ok(db::projection_offsets::Entity::find()
        .filter(db::projection_offsets::Column::Projection.eq(crate::project::PROJECTION))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.log_partition as Partition, row.next_offset as Offset))
        .collect())
}

/// Hands `apply` every event from `from` (partitions the read models never reached start at
/// 0) up to the end of the log before it returns, then every event as it is appended, for
/// as long as the process runs. `what` names the fold in the logs.
pub async fn follow_events(
    log: &Arc<dyn EventLog>,
    from: &[(Partition, Offset)],
    what: &'static str,
    apply: impl Fn(&EventEnvelope) + Send + 'static,
) -> Result<(), LogError> {
    let decide = move |payload: &[u8]| match Decision::from_bytes(payload) {
        Ok(decision) => decision.events().iter().for_each(&apply),
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
            decide(&record?.payload);
        }
        caught_up.push((partition, end));
    }
    let mut records = log.follow(EVENTS_TOPIC, &caught_up).await?;
    tokio::spawn(async move {
        while let Some(record) = records.next().await {
            match record {
                Ok(record) => decide(&record.payload),
                Err(error) => tracing::error!(%error, what, "following the events"),
            }
        }
        tracing::error!(what, "the events stream ended");
    });
    Ok(())
}
