//! The `sigma-analytics` projection: each [`ViewerActivity`] batch merges its reports into the
//! reporting playback sessions' spans (`viewer_spans`). Merging is a union, so a batch applied
//! twice, or two playback nodes reporting the same player, change nothing more.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use sigma_shared::audience::{merge, ActivityDecodeError, Span, ViewerActivity};
use sigma_shared::log::{Pace, Record, VIEWERS_TOPIC};

use crate::db::viewer_spans;
use crate::project::projector::{ProjectorError, RecordProjection};

pub const GROUP: &str = "sigma-analytics";
/// Rows per statement: well inside every backend's limit on bound parameters.
const CHUNK: usize = 500;

pub struct Analytics;

/// A playback session's spans while it watched one live session: (playback id, session id).
type Key = (String, String);

#[async_trait::async_trait]
impl RecordProjection for Analytics {
    fn topic(&self) -> &'static str {
        VIEWERS_TOPIC
    }

    fn group(&self) -> &'static str {
        GROUP
    }

    fn name(&self) -> &'static str {
        "analytics"
    }

    /// Audience figures are counted by the minute; no request waits for a span.
    fn pace(&self) -> Pace {
        Pace::Relaxed
    }

    async fn apply_record(
        &self,
        txn: &DatabaseTransaction,
        record: &Record,
    ) -> Result<(), ProjectorError> {
        let activity = match ViewerActivity::from_bytes(&record.payload) {
            Ok(activity) => activity,
            Err(source @ ActivityDecodeError::FutureVersion(_)) => {
                return Err(ProjectorError::Activity {
                    partition: record.partition,
                    offset: record.offset,
                    source,
                })
            }
            Err(error) => {
                tracing::error!(partition = record.partition, offset = record.offset, %error, "skipping malformed viewer activity");
                return Ok(());
            }
        };
        apply(txn, &activity).await?;
        Ok(())
    }
}

async fn apply(txn: &DatabaseTransaction, activity: &ViewerActivity) -> Result<(), sea_orm::DbErr> {
    let playback_ids: BTreeSet<String> = activity
        .viewers
        .iter()
        .map(|watching| watching.playback_id.to_string())
        .collect();
    let playback_ids: Vec<String> = playback_ids.into_iter().collect();
    let mut spans: BTreeMap<Key, (String, Vec<Span>)> = BTreeMap::new();
    for chunk in playback_ids.chunks(CHUNK) {
        let rows = viewer_spans::Entity::find()
            .filter(viewer_spans::Column::PlaybackId.is_in(chunk.iter().cloned()))
            .all(txn)
            .await?;
        for row in rows {
            let (_, list) = spans
                .entry((row.playback_id, row.session_id))
                .or_insert_with(|| (row.channel_id, Vec::new()));
            list.push(Span {
                start_ms: row.start_ms,
                end_ms: row.end_ms,
            });
        }
    }
    let mut changed = BTreeSet::new();
    for watching in &activity.viewers {
        let key = (
            watching.playback_id.to_string(),
            watching.session_id.to_string(),
        );
        let (_, list) = spans
            .entry(key.clone())
            .or_insert_with(|| (activity.channel_id.to_string(), Vec::new()));
        list.sort();
        let report = Span {
            start_ms: watching.first_ms,
            end_ms: watching.last_ms,
        };
        if merge(list, report) {
            changed.insert(key);
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    let changed_ids: BTreeSet<&String> = changed.iter().map(|(playback, _)| playback).collect();
    let changed_ids: Vec<&String> = changed_ids.into_iter().collect();
    for chunk in changed_ids.chunks(CHUNK) {
        viewer_spans::Entity::delete_many()
            .filter(viewer_spans::Column::PlaybackId.is_in(chunk.iter().map(|id| id.as_str())))
            .exec(txn)
            .await?;
    }
    let rows: Vec<viewer_spans::ActiveModel> = spans
        .iter()
        .filter(|((playback, _), _)| changed_ids.binary_search(&playback).is_ok())
        .flat_map(|((playback, session), (channel, list))| {
            list.iter().map(move |span| viewer_spans::ActiveModel {
                playback_id: Set(playback.clone()),
                session_id: Set(session.clone()),
                channel_id: Set(channel.clone()),
                start_ms: Set(span.start_ms),
                end_ms: Set(span.end_ms),
            })
        })
        .collect();
    for chunk in rows.chunks(CHUNK / 5) {
        viewer_spans::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
