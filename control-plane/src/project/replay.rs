//! Rebuilds every read model from the log: empties the tables, then applies every decision of
//! every partition from offset zero, in large transactions.
//!
//! Run it with the control plane stopped (`sigma replay`); the result equals what the live
//! projector had built, which a test checks on SQLite and PostgreSQL.

use futures::StreamExt;
use sea_orm::{DatabaseConnection, EntityTrait, TransactionTrait};
use sigma_shared::event::{Decision, DecodeError};
use sigma_shared::log::{EventLog, EVENTS_TOPIC};

use super::apply_decision;
use super::projector::{store_offset, ProjectorError};
use crate::db;

/// Records applied per transaction.
const BATCH: usize = 2_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayReport {
    pub records: u64,
    pub events: u64,
}

pub async fn replay(
    log: &dyn EventLog,
    db: &DatabaseConnection,
) -> Result<ReplayReport, ProjectorError> {
    log.ensure_topic(EVENTS_TOPIC).await?;
    let txn = db.begin().await?;
    db::channel_events::Entity::delete_many().exec(&txn).await?;
    db::sessions::Entity::delete_many().exec(&txn).await?;
    db::channels::Entity::delete_many().exec(&txn).await?;
    db::accounts::Entity::delete_many().exec(&txn).await?;
    db::projection_offsets::Entity::delete_many()
        .exec(&txn)
        .await?;
    txn.commit().await?;

    let mut report = ReplayReport::default();
    for partition in 0..log.partitions() {
        let end = log.end_offset(EVENTS_TOPIC, partition).await?;
        let mut records = log
            .read(EVENTS_TOPIC, partition, 0, end)
            .await?
            .chunks(BATCH);
        while let Some(chunk) = records.next().await {
            let txn = db.begin().await?;
            let mut next = None;
            for record in chunk {
                let record = record?;
                match Decision::from_bytes(&record.payload) {
                    Ok(decision) => {
                        apply_decision(&txn, &decision, partition, record.offset).await?;
                        report.events += decision.events().len() as u64;
                    }
                    Err(source @ DecodeError::FutureVersion { .. }) => {
                        return Err(ProjectorError::Decode {
                            partition,
                            offset: record.offset,
                            source,
                        })
                    }
                    Err(error) => {
                        tracing::error!(partition, offset = record.offset, %error, "skipping a malformed record")
                    }
                }
                report.records += 1;
                next = Some(record.offset + 1);
            }
            if let Some(next) = next {
                store_offset(&txn, partition, next).await?;
            }
            txn.commit().await?;
        }
    }
    Ok(report)
}
