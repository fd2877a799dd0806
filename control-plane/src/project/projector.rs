//! The live projector: a member of a projection's consumer group (the read models'
//! `sigma-projections`, the webhook outbox's `sigma-webhooks`, … on the events topic; the
//! audience's `sigma-analytics` on the viewers topic). For each record of a partition it owns, it
//! applies the record and stores the next offset in one transaction; records below the stored
//! offset (redelivered after a crash or a rebalance) are skipped, so each is applied exactly
//! once.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set,
};
use sigma_shared::event::{Decision, DecodeError, Event};
use sigma_shared::log::{
    Checkpoints, EventLog, GroupEvent, LogError, Offset, Pace, Partition, Record, EVENTS_TOPIC,
};

use super::progress::Progress;
use super::{apply_decision, PROJECTION};
use crate::db::projection_offsets;
use crate::metrics::Metrics;
use crate::sealing::SecretsKey;

/// Something the projector keeps up to date from the events topic: a consumer group of its
/// own, the name its offsets are stored under, and what a decision changes in its tables.
#[async_trait::async_trait]
pub trait Projection: Send + Sync {
    /// The consumer group: projections progress independently of one another.
    fn group(&self) -> &'static str;
    /// The key of its rows in `projection_offsets`.
    fn name(&self) -> &'static str;
    /// Whether a reader waits for it (see [`Pace`]).
    fn pace(&self) -> Pace;
    /// Applies one decision inside the caller's transaction (which also stores the offset).
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        decision: &Decision,
        partition: Partition,
        offset: Offset,
    ) -> Result<(), DbErr>;
    /// The partitions this member owns now, each with the next offset to apply; told after
    /// every assignment change.
    fn owned(&self, _partitions: &HashMap<Partition, Offset>) {}
    /// A record of `partition` is applied and committed; `next` follows it.
    fn applied(&self, _partition: Partition, _next: Offset) {}
    /// The events this projection changes its tables for, if not all of them: a decision with
    /// none of them is passed over without a transaction (see [`run`]).
    fn wants(&self) -> Option<fn(&Event) -> bool> {
        None
    }
}

/// What the projector runs: any projection of decisions ([`Projection`]), or one of another
/// topic that reads its records itself.
#[async_trait::async_trait]
pub trait RecordProjection: Send + Sync {
    fn topic(&self) -> &'static str;
    fn group(&self) -> &'static str;
    fn name(&self) -> &'static str;
    fn pace(&self) -> Pace;
    /// Applies one record inside the caller's transaction (which also stores the offset). An
    /// error stops the projector: a record must never be skipped silently.
    async fn apply_record(
        &self,
        txn: &DatabaseTransaction,
        record: &Record,
    ) -> Result<(), ProjectorError>;
    /// See [`Projection::owned`].
    fn owned(&self, _partitions: &HashMap<Partition, Offset>) {}
    /// See [`Projection::applied`].
    fn applied(&self, _partition: Partition, _next: Offset) {}
    /// Whether applying `record` would change nothing (see [`Projection::wants`]): it must
    /// say so from the record alone, so that reading it again after a restart is passed over
    /// again.
    fn passes_over(&self, _record: &Record) -> bool {
        false
    }
}

#[async_trait::async_trait]
impl<P: Projection> RecordProjection for P {
    fn topic(&self) -> &'static str {
        EVENTS_TOPIC
    }

    fn group(&self) -> &'static str {
        Projection::group(self)
    }

    fn name(&self) -> &'static str {
        Projection::name(self)
    }

    fn pace(&self) -> Pace {
        Projection::pace(self)
    }

    async fn apply_record(
        &self,
        txn: &DatabaseTransaction,
        record: &Record,
    ) -> Result<(), ProjectorError> {
        match Decision::from_bytes(&record.payload) {
            Ok(decision) => {
                self.apply(txn, &decision, record.partition, record.offset)
                    .await?
            }
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
        Ok(())
    }

    fn owned(&self, partitions: &HashMap<Partition, Offset>) {
        Projection::owned(self, partitions)
    }

    fn applied(&self, partition: Partition, next: Offset) {
        Projection::applied(self, partition, next)
    }

    fn passes_over(&self, record: &Record) -> bool {
        let Some(wants) = Projection::wants(self) else {
            return false;
        };
        Decision::from_bytes(&record.payload)
            .is_ok_and(|decision| !decision.events().iter().any(|event| wants(&event.event)))
    }
}

/// The read models the API serves (`sigma-projections`).
pub struct ReadModels {
    pub progress: Progress,
    pub metrics: Metrics,
    /// Seals the secrets of events written before secrets were sealed.
    pub secrets: Arc<SecretsKey>,
}

pub const GROUP: &str = "sigma-projections";

#[async_trait::async_trait]
impl Projection for ReadModels {
    fn group(&self) -> &'static str {
        GROUP
    }

    fn name(&self) -> &'static str {
        PROJECTION
    }

    /// A write's answer is read from the read models.
    fn pace(&self) -> Pace {
        Pace::Prompt
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        decision: &Decision,
        partition: Partition,
        offset: Offset,
    ) -> Result<(), DbErr> {
        let decision = self.secrets.seal_legacy(decision);
        apply_decision(txn, &decision, partition, offset).await
    }

    fn owned(&self, partitions: &HashMap<Partition, Offset>) {
        for (partition, next) in partitions {
            self.progress.record(*partition, *next);
        }
    }

    fn applied(&self, partition: Partition, next: Offset) {
        self.progress.record(partition, next);
        self.metrics.events_projected.inc();
    }
}

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
    #[error("cannot read viewer activity at partition {partition} offset {offset}: {source}")]
    Activity {
        partition: Partition,
        offset: Offset,
        source: sigma_shared::audience::ActivityDecodeError,
    },
}

/// Runs `projection` until the log fails. `ready` is called once the member has joined.
pub async fn run(
    log: &dyn EventLog,
    db: DatabaseConnection,
    projection: &dyn RecordProjection,
    metrics: &Metrics,
    ready: impl FnOnce(),
) -> Result<(), ProjectorError> {
    let lag = metrics
        .consumer_lag
        .with_label_values(&[projection.group()]);
    let mut applied: HashMap<Partition, Offset> = HashMap::new();
    let mut passed_over = PassedOver::default();
    let mut checkpoints = Checkpoints::every(COMMIT_EVERY);
    // A restarted member owns nothing until the group assigns it partitions again.
    projection.owned(&applied);
    let mut member = log
        .join(projection.topic(), projection.group(), projection.pace())
        .await?;
    ready();
    loop {
        match member.next().await? {
            GroupEvent::Assigned(partitions) => {
                let stored = stored_offsets(&db, projection.name(), &partitions).await?;
                applied.extend(stored);
                projection.owned(&applied);
                tracing::info!(
                    projection = projection.name(),
                    ?partitions,
                    "projector took partitions"
                );
            }
            GroupEvent::Revoked(partitions) => {
                partitions.iter().for_each(|partition| {
                    applied.remove(partition);
                });
                projection.owned(&applied);
            }
            GroupEvent::Record(record) => {
                let Some(next) = applied.get(&record.partition).copied() else {
                    continue;
                };
                if record.offset >= next {
                    if !passed_over.pass(projection, &record) {
                        apply_record(&db, projection, &record).await?;
                        projection.applied(record.partition, record.offset + 1);
                    }
                    applied.insert(record.partition, record.offset + 1);
                    // How long the record waited in the log: the group's lag, in time (a
                    // broker's offsets are not needed, and tansu's high watermark is wrong).
                    let waited_ms = chrono::Utc::now().timestamp_millis() - record.timestamp_ms;
                    lag.set(waited_ms.max(0) as f64 / 1e3);
                }
                // The stored offsets say what is applied; the group's only where a member
                // that takes the partition over starts reading (it passes over what is below
                // them).
                if checkpoints.due(record.partition) {
                    member.commit(record.partition, record.offset + 1).await?;
                }
            }
        }
    }
}

/// How many records of a partition a projector applies between two commits of its group.
const COMMIT_EVERY: u32 = 100;

/// Records passed over without a transaction, per partition since the last one applied. Their
/// offset is not stored with the projection's, so a restart may read them again (from the
/// stored offset, or from the group's where that is further on) and passes over them again;
/// after [`PassedOver::AT_MOST`] in a row one is applied anyway (changing nothing but the
/// stored offset), which bounds what a restart reads again.
#[derive(Default)]
struct PassedOver(HashMap<Partition, u32>);

impl PassedOver {
    const AT_MOST: u32 = 1000;

    /// Whether `record` is passed over.
    fn pass(&mut self, projection: &dyn RecordProjection, record: &Record) -> bool {
        let count = self.0.entry(record.partition).or_default();
        if *count < Self::AT_MOST && projection.passes_over(record) {
            *count += 1;
            return true;
        }
        *count = 0;
        false
    }
}

async fn apply_record(
    db: &DatabaseConnection,
    projection: &dyn RecordProjection,
    record: &Record,
) -> Result<(), ProjectorError> {
    let txn = crate::db::begin_write(db).await?;
    projection.apply_record(&txn, record).await?;
    store_offset_of(&txn, projection.name(), record.partition, record.offset + 1).await?;
    txn.commit().await?;
    Ok(())
}

/// Stores the read models' next offset for `partition` (the replay's writer uses it too).
pub(crate) async fn store_offset(
    txn: &DatabaseTransaction,
    partition: Partition,
    next: Offset,
) -> Result<(), DbErr> {
    store_offset_of(txn, PROJECTION, partition, next).await
}

async fn store_offset_of(
    txn: &DatabaseTransaction,
    projection: &str,
    partition: Partition,
    next: Offset,
) -> Result<(), DbErr> {
    let row = projection_offsets::ActiveModel {
        projection: Set(projection.to_owned()),
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
    projection: &str,
    partitions: &[Partition],
) -> Result<Vec<(Partition, Offset)>, DbErr> {
    let rows = projection_offsets::Entity::find()
        .filter(projection_offsets::Column::Projection.eq(projection))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sigma_shared::event::{EventEnvelope, Outcome};
    use sigma_shared::ids::{AccountId, ChannelId, CommandId, SessionId};
    use sigma_shared::session::EndReason;

    use super::*;
    use crate::project::ownership::Ownership;
    use crate::retention::Expiries;

    fn record(offset: Offset, event: Event) -> Record {
        let decision = Decision {
            command_id: CommandId::generate(),
            stream: "ch".to_owned(),
            outcome: Outcome::Accepted {
                events: vec![EventEnvelope::accepted_now(
                    AccountId::generate(),
                    Some(ChannelId::generate()),
                    event,
                )],
            },
        };
        Record {
            partition: 0,
            offset,
            key: "ch".to_owned(),
            payload: decision.to_bytes(),
            timestamp_ms: 0,
        }
    }

    #[test]
    fn a_projection_passes_over_what_it_does_not_want_but_stores_its_place_every_thousand() {
        let expiries = Expiries {
            ownership: Ownership::new().0,
            retention: Duration::from_secs(60),
        };
        let ended = record(
            0,
            Event::SessionEnded {
                session_id: SessionId::generate(),
                reason: EndReason::PublisherGone,
            },
        );
        let stopped = |offset| record(offset, Event::ChannelStopped {});
        let mut passed_over = PassedOver::default();
        assert!(
            !passed_over.pass(&expiries, &ended),
            "a session's end is applied"
        );
        for offset in 1..=PassedOver::AT_MOST as Offset {
            assert!(passed_over.pass(&expiries, &stopped(offset)), "{offset}");
        }
        assert!(
            !passed_over.pass(&expiries, &stopped(1001)),
            "the thousand-and-first in a row is applied, storing the offset"
        );
        assert!(
            passed_over.pass(&expiries, &stopped(1002)),
            "then the count starts again"
        );
        assert!(
            !passed_over.pass(&ReadModelsLike, &stopped(1003)),
            "a projection that wants everything passes over nothing"
        );
    }

    /// A projection of every event, as the read models are.
    struct ReadModelsLike;

    #[async_trait::async_trait]
    impl Projection for ReadModelsLike {
        fn group(&self) -> &'static str {
            "everything"
        }

        fn name(&self) -> &'static str {
            "everything"
        }

        fn pace(&self) -> Pace {
            Pace::Prompt
        }

        async fn apply(
            &self,
            _: &DatabaseTransaction,
            _: &Decision,
            _: Partition,
            _: Offset,
        ) -> Result<(), DbErr> {
            Ok(())
        }
    }
}
