//! The live projector: a member of the `sigma-projections` group on the events topic. For each
//! record of a partition it owns, it applies the decision and stores the next offset in one
//! transaction; records below the stored offset (redelivered after a crash or a rebalance) are
//! skipped, so each is applied exactly once.

use std::collections::HashMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use sigma_shared::event::{Decision, DecodeError};
use sigma_shared::log::{EventLog, GroupEvent, LogError, Offset, Partition, Record, EVENTS_TOPIC};

use super::progress::Progress;
use super::{apply_decision, PROJECTION};
use crate::db::projection_offsets;
use crate::metrics::Metrics;

pub const GROUP: &str = "sigma-projections";

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("read-model database: {0}")]
    Database(#[from] DbErr),
    #[error("the replay's reading task failed: {0}")]
    Reader(String),
    #[error("cannot read partition {partition} offset {offset}: {source}")]
    Decode {
        partition: Partition,
        offset: Offset,
        source: DecodeError,
    },
}

/// Runs until the log fails. `ready` is called once the member has joined.
pub async fn run(
    log: &dyn EventLog,
    db: DatabaseConnection,
    progress: Progress,
    metrics: Metrics,
    ready: impl FnOnce(),
) -> Result<(), ProjectorError> {
    let mut member = log.join(EVENTS_TOPIC, GROUP).await?;
    ready();
    let mut applied: HashMap<Partition, Offset> = HashMap::new();
    loop {
        match member.next().await? {
            GroupEvent::Assigned(partitions) => {
                for (partition, next) in stored_offsets(&db, &partitions).await? {
                    applied.insert(partition, next);
                    progress.record(partition, next);
                }
                tracing::info!(?partitions, "projector took partitions");
            }
            GroupEvent::Revoked(partitions) => {
                partitions.iter().for_each(|partition| {
                    applied.remove(partition);
                });
            }
            GroupEvent::Record(record) => {
                let Some(next) = applied.get(&record.partition).copied() else {
                    continue;
                };
                if record.offset >= next {
                    apply_record(&db, &record).await?;
                    applied.insert(record.partition, record.offset + 1);
                    progress.record(record.partition, record.offset + 1);
                    metrics.events_projected.inc();
                }
                member.commit(record.partition, record.offset + 1).await?;
            }
        }
    }
}

async fn apply_record(db: &DatabaseConnection, record: &Record) -> Result<(), ProjectorError> {
    let txn = db.begin().await?;
    match Decision::from_bytes(&record.payload) {
        Ok(decision) => apply_decision(&txn, &decision, record.partition, record.offset).await?,
        // A record this build cannot understand must not be skipped: stop and say so.
        Err(source @ DecodeError::FutureVersion { .. }) => {
            return Err(ProjectorError::Decode {
                partition: record.partition,
                offset: record.offset,
                source,
            })
        }
        Err(error) => {
            tracing::error!(partition = record.partition, offset = record.offset, %error, "skipping a malformed record");
        }
    }
    store_offset(&txn, record.partition, record.offset + 1).await?;
    txn.commit().await?;
    Ok(())
}

pub(crate) async fn store_offset(
    txn: &DatabaseTransaction,
    partition: Partition,
    next: Offset,
) -> Result<(), DbErr> {
    let row = projection_offsets::ActiveModel {
        projection: Set(PROJECTION.to_owned()),
        log_partition: Set(partition as i32),
        next_offset: Set(next as i64),
    };
    projection_offsets::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                projection_offsets::Column::Projection,
                projection_offsets::Column::LogPartition,
            ])
            .update_column(projection_offsets::Column::NextOffset)
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

async fn stored_offsets(
    db: &DatabaseConnection,
    partitions: &[Partition],
) -> Result<Vec<(Partition, Offset)>, DbErr> {
    let rows = projection_offsets::Entity::find()
        .filter(projection_offsets::Column::Projection.eq(PROJECTION))
        .all(db)
        .await?;
    let stored: HashMap<Partition, Offset> = rows
        .into_iter()
        .map(|row| (row.log_partition as Partition, row.next_offset as Offset))
        .collect();
    Ok(partitions
        .iter()
        .map(|p| (*p, stored.get(p).copied().unwrap_or(0)))
        .collect())
}
