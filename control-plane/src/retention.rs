//! Catch-up retention: an ended session's media (`live/{channel}/{session}/…` — every
//! rendition's init, parts and segments, and the source pieces — and `thumbs/{session}/…`) are
//! deleted from the object store `SIGMA_CATCHUP_RETENTION_SECONDS` after the session ended.
//! Finalized recordings (`recordings/…`) are products of their own and are kept — unless the
//! owner deletes the session's media (`session.media_deleted`): then they are due at once,
//! recording included.
//!
//! Driven by events, with no timer living only in memory: the [`Expiries`] projection (group
//! `sigma-retention`) turns each `session.ended` into a row saying when its media expire, in the
//! same transaction as the offset; the [`sweep`] job of the process that owns the channel's
//! partition deletes what is due and records `session.media_expired`, which playback (the
//! catch-up playlists disappear) and the sessions read model (`catchup_url` goes) follow. A
//! sweep interrupted by a crash is simply done again: deleting is idempotent.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};
use sigma_shared::command::IngestAction;
use sigma_shared::event::{Decision, Event};
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::log::{Offset, Pace, Partition};
use sigma_shared::rejection::Rejection;

use crate::db::media_expiry;
use crate::project::ownership::{Owned, Ownership};
use crate::project::projector::Projection;
use sigma_edge_worker::bus::CommandBus;

pub const GROUP: &str = "sigma-retention";
/// The longest the sweeper sleeps without looking (a new expiry wakes it sooner).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Sessions expired per pass.
const BATCH: u64 = 100;

#[derive(Debug, thiserror::Error)]
enum SweepError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("recording the expiry: {0}")]
    Record(String),
}

/// The projection: `session.ended` → when its media expire.
pub struct Expiries {
    pub ownership: Ownership,
    pub retention: Duration,
}

#[async_trait::async_trait]
impl Projection for Expiries {
    fn group(&self) -> &'static str {
        GROUP
    }

    fn name(&self) -> &'static str {
        "retention"
    }

    /// Expiries are hours away.
    fn pace(&self) -> Pace {
        Pace::Relaxed
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        decision: &Decision,
        partition: Partition,
        _offset: Offset,
    ) -> Result<(), DbErr> {
        let retention = chrono::Duration::from_std(self.retention).unwrap_or_default();
        for event in decision.events() {
            let (session_id, expires_at, with_recording) = match (&event.event, event.channel_id) {
                (Event::SessionEnded { session_id, .. }, Some(_)) => {
                    (session_id, event.occurred_at + retention, false)
                }
                (Event::SessionMediaDeleted { session_id }, Some(_)) => {
                    (session_id, event.occurred_at, true)
                }
                _ => continue,
            };
            let row = media_expiry::Model {
                session_id: session_id.to_string(),
                channel_id: event
                    .channel_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                log_partition: partition as i32,
                expires_at,
                with_recording,
            };
            // A deletion brings the expiry forward; an end seen again changes nothing.
            let on_conflict = if with_recording {
                OnConflict::column(media_expiry::Column::SessionId)
                    .update_columns([
                        media_expiry::Column::ExpiresAt,
                        media_expiry::Column::WithRecording,
                    ])
                    .to_owned()
            } else {
                OnConflict::column(media_expiry::Column::SessionId)
                    .do_nothing()
                    .to_owned()
            };
            media_expiry::Entity::insert(row.into_active_model())
                .on_conflict(on_conflict)
                .exec_without_returning(txn)
                .await?;
        }
        Ok(())
    }

    fn owned(&self, partitions: &std::collections::HashMap<Partition, Offset>) {
        self.ownership.set(partitions);
    }

    fn applied(&self, _partition: Partition, _next: Offset) {
        self.ownership.nudge();
    }

    fn wants(&self) -> Option<fn(&Event) -> bool> {
        Some(|event| {
            matches!(
                event,
                Event::SessionEnded { .. } | Event::SessionMediaDeleted { .. }
            )
        })
    }
}

/// Deletes the media that are due, in the partitions this process owns, for the life of the
/// process.
pub async fn sweep(
    db: DatabaseConnection,
    store: Arc<dyn ObjectStore>,
    bus: Arc<CommandBus>,
    mut owned: Owned,
) {
    loop {
        let partitions = owned.partitions();
        let pause = match sweep_once(&db, store.as_ref(), &bus, &partitions).await {
            Ok(next_due) => next_due.map_or(SWEEP_EVERY, |due| due.min(SWEEP_EVERY)),
            Err(error) => {
                tracing::warn!(%error, "catch-up retention sweep failed; trying again");
                SWEEP_EVERY
            }
        };
        owned.next_change(pause).await;
    }
}

/// One pass: expires what is due; returns how long until the next expiry, if any is queued.
async fn sweep_once(
    db: &DatabaseConnection,
    store: &dyn ObjectStore,
    bus: &CommandBus,
    partitions: &std::collections::BTreeSet<Partition>,
) -> Result<Option<Duration>, SweepError> {
    if partitions.is_empty() {
        return Ok(None);
    }
    let owned = || {
        media_expiry::Entity::find()
            .filter(media_expiry::Column::LogPartition.is_in(partitions.iter().map(|p| *p as i32)))
    };
    let now = Utc::now();
    let due = owned()
        .filter(media_expiry::Column::ExpiresAt.lte(now))
        .order_by_asc(media_expiry::Column::ExpiresAt)
        .limit(BATCH)
        .all(db)
        .await?;
    for row in due {
        let (Ok(channel_id), Ok(session_id)) = (
            row.channel_id.parse::<ChannelId>(),
            row.session_id.parse::<SessionId>(),
        ) else {
            continue;
        };
        let mut deleted = delete_media(store, channel_id, session_id).await?;
        if row.with_recording {
            deleted += delete_recording(store, session_id).await?;
        }
        record_expiry(bus, channel_id, session_id).await?;
        // Only the row as it was read: a deletion by the owner that changed it meanwhile
        // (the recording too, now) is swept again.
        media_expiry::Entity::delete_many()
            .filter(media_expiry::Column::SessionId.eq(row.session_id.clone()))
            .filter(media_expiry::Column::WithRecording.eq(row.with_recording))
            .exec(db)
            .await?;
        tracing::info!(%session_id, objects = deleted, "catch-up media expired");
    }
    let next = owned()
        .order_by_asc(media_expiry::Column::ExpiresAt)
        .one(db)
        .await?;
    Ok(next.map(|row| (row.expires_at - Utc::now()).to_std().unwrap_or_default()))
}

/// Deletes the session's recording; returns how many objects there were (0 or 1).
pub(crate) async fn delete_recording(
    store: &dyn ObjectStore,
    session_id: SessionId,
) -> Result<usize, object_store::Error> {
    match store
        .delete(&StorePath::from(format!("recordings/{session_id}.mp4")))
        .await
    {
        Ok(()) => Ok(1),
        Err(object_store::Error::NotFound { .. }) => Ok(0),
        Err(error) => Err(error),
    }
}

/// Deletes every object of the session's catch-up media; returns how many there were.
pub(crate) async fn delete_media(
    store: &dyn ObjectStore,
    channel_id: ChannelId,
    session_id: SessionId,
) -> Result<usize, object_store::Error> {
    let mut deleted = 0;
    // The playlists first: none is ever served naming media that are gone.
    for prefix in [
        format!("vod/{session_id}"),
        format!("live/{channel_id}/{session_id}"),
        format!("thumbs/{session_id}"),
    ] {
        let prefix = StorePath::from(prefix);
        let locations = store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        let gone: Vec<StorePath> = store.delete_stream(locations).try_collect().await?;
        deleted += gone.len();
    }
    Ok(deleted)
}

async fn record_expiry(
    bus: &CommandBus,
    channel_id: ChannelId,
    session_id: SessionId,
) -> Result<(), SweepError> {
    let command = sigma_shared::command::Command::channel(
        channel_id,
        sigma_shared::command::ChannelCommand::Ingest {
            action: IngestAction::ExpireMedia { session_id },
        },
    );
    match bus.submit(command).await {
        // A deleted channel's sessions expire too, silently.
        Ok(Ok(_)) | Ok(Err(Rejection::NotFound { .. })) => Ok(()),
        Ok(Err(rejection)) => Err(SweepError::Record(rejection.to_string())),
        Err(error) => Err(SweepError::Record(error.to_string())),
    }
}
