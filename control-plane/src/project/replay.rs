//! Rebuilds every read model from the log: empties the tables, folds every decision of every
//! partition in memory with the same pure projection functions the live projector applies row
//! by row, and writes the result in bulk — history rows in multi-row inserts as they stream by,
//! the final accounts, channels, sessions, webhook subscriptions and alerts once at the end. Reading and folding run on one
//! task and writing on another, so decoding and the database work in parallel. One
//! transaction: a failed replay leaves the tables as they were.
//!
//! Run it with the control plane stopped (`sigma replay`); the result equals what the live
//! projector had built, which a test checks on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, TransactionTrait,
};
use sigma_shared::event::{Decision, DecodeError};
use sigma_shared::log::{EventLog, Offset, Partition, EVENTS_TOPIC};
use tokio::sync::mpsc;

use super::projector::{store_offset, ProjectorError};
use super::{accounts, alerts, channels, history, playback_keys, sessions, webhooks, PROJECTION};
use crate::db;
use crate::sealing::SecretsKey;

/// Rows per multi-row `INSERT`: the widest table has 16 columns, and SQLite allows 32,766
/// bound values per statement.
const INSERT_ROWS: usize = 1_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayReport {
    pub records: u64,
    pub events: u64,
}

/// The read models' final rows, keyed as the projections key them.
#[derive(Default)]
struct Folded {
    accounts: HashMap<String, db::accounts::Model>,
    channels: HashMap<String, db::channels::Model>,
    sessions: HashMap<String, db::sessions::Model>,
    webhooks: HashMap<String, db::webhooks::Model>,
    alerts: HashMap<String, db::alerts::Model>,
    playback_keys: HashMap<String, db::playback_keys::Model>,
}

/// Applies a pure projection to the in-memory row its event touches.
fn fold<M>(
    rows: &mut HashMap<String, M>,
    key: Option<String>,
    change: impl FnOnce(Option<M>) -> Option<M>,
) {
    let Some(key) = key else { return };
    let before = rows.remove(&key);
    if let Some(after) = change(before) {
        rows.insert(key, after);
    }
}

/// Inserts `rows` in statements of [`INSERT_ROWS`].
async fn insert_all<E>(
    txn: &DatabaseTransaction,
    rows: impl IntoIterator<Item = E::Model>,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = rows
            .by_ref()
            .take(INSERT_ROWS)
            .map(IntoActiveModel::into_active_model)
            .collect();
        E::insert_many(chunk).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// What the reading task hands the writing one.
enum Batch {
    History(Vec<db::channel_events::Model>),
    /// Everything of a partition below `next` has been read.
    Offset {
        partition: Partition,
        next: Offset,
    },
    Done(Box<Folded>, ReplayReport),
}

/// Reads and folds every partition, sending history rows in batches, then the folded rows.
async fn read_all(
    log: Arc<dyn EventLog>,
    secrets: Arc<SecretsKey>,
    batches: mpsc::Sender<Batch>,
) -> Result<(), ProjectorError> {
    let closed = || ProjectorError::Log(sigma_shared::log::LogError::Closed);
    let mut report = ReplayReport::default();
    let mut folded = Folded::default();
    let mut history_rows = Vec::with_capacity(INSERT_ROWS);
    for partition in 0..log.partitions() {
        let end = log.end_offset(EVENTS_TOPIC, partition).await?;
        let mut records = log.read(EVENTS_TOPIC, partition, 0, end).await?;
        let mut next = None;
        while let Some(record) = records.next().await {
            let record = record?;
            match Decision::from_bytes(&record.payload) {
                Ok(decision) => {
                    let decision = secrets.seal_legacy(&decision);
                    for event in decision.events() {
                        fold(&mut folded.accounts, accounts::key(event), |row| {
                            accounts::apply(row, event)
                        });
                        fold(&mut folded.channels, channels::key(event), |row| {
                            channels::apply(row, event)
                        });
                        fold(&mut folded.sessions, sessions::key(event), |row| {
                            sessions::apply(row, event)
                        });
                        fold(&mut folded.webhooks, webhooks::key(event), |row| {
                            webhooks::apply(row, event)
                        });
                        fold(&mut folded.alerts, alerts::key(event), |row| {
                            alerts::apply(row, event)
                        });
                        fold(
                            &mut folded.playback_keys,
                            playback_keys::key(event),
                            |row| playback_keys::apply(row, event),
                        );
                        history_rows.extend(history::row(event, partition, record.offset));
                        if history_rows.len() >= INSERT_ROWS {
                            let full = std::mem::replace(
                                &mut history_rows,
                                Vec::with_capacity(INSERT_ROWS),
                            );
                            batches
                                .send(Batch::History(full))
                                .await
                                .map_err(|_| closed())?;
                        }
                    }
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
            batches
                .send(Batch::Offset { partition, next })
                .await
                .map_err(|_| closed())?;
        }
    }
    batches
        .send(Batch::History(history_rows))
        .await
        .map_err(|_| closed())?;
    batches
        .send(Batch::Done(Box::new(folded), report))
        .await
        .map_err(|_| closed())
}

pub async fn replay(
    log: Arc<dyn EventLog>,
    db: &DatabaseConnection,
    secrets: Arc<SecretsKey>,
) -> Result<ReplayReport, ProjectorError> {
    log.ensure_topic(EVENTS_TOPIC).await?;
    let txn = db.begin().await?;
    db::channel_events::Entity::delete_many().exec(&txn).await?;
    db::sessions::Entity::delete_many().exec(&txn).await?;
    db::channels::Entity::delete_many().exec(&txn).await?;
    db::accounts::Entity::delete_many().exec(&txn).await?;
    db::webhooks::Entity::delete_many().exec(&txn).await?;
    db::alerts::Entity::delete_many().exec(&txn).await?;
    db::playback_keys::Entity::delete_many().exec(&txn).await?;
    // Only the read models' offsets: the webhook outbox is not rebuilt (its deliveries went
    // out already), so its projection keeps its place.
    db::projection_offsets::Entity::delete_many()
        .filter(db::projection_offsets::Column::Projection.eq(PROJECTION))
        .exec(&txn)
        .await?;

    let (sender, mut batches) = mpsc::channel(4);
    let reader = tokio::spawn(read_all(log, secrets, sender));
    let mut finished = None;
    while let Some(batch) = batches.recv().await {
        match batch {
            Batch::History(rows) => insert_all::<db::channel_events::Entity>(&txn, rows).await?,
            Batch::Offset { partition, next } => store_offset(&txn, partition, next).await?,
            Batch::Done(folded, report) => finished = Some((folded, report)),
        }
    }
    reader
        .await
        .map_err(|join| ProjectorError::Reader(join.to_string()))??;
    let (folded, report) = finished.expect("the reader ends with its result");
    insert_all::<db::accounts::Entity>(&txn, folded.accounts.into_values()).await?;
    insert_all::<db::channels::Entity>(&txn, folded.channels.into_values()).await?;
    insert_all::<db::sessions::Entity>(&txn, folded.sessions.into_values()).await?;
    insert_all::<db::webhooks::Entity>(&txn, folded.webhooks.into_values()).await?;
    insert_all::<db::alerts::Entity>(&txn, folded.alerts.into_values()).await?;
    insert_all::<db::playback_keys::Entity>(&txn, folded.playback_keys.into_values()).await?;
    txn.commit().await?;
    Ok(report)
}
