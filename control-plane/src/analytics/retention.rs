//! Viewer spans are kept `SIGMA_ANALYTICS_RETENTION_DAYS` (default 400: a year and a month of
//! comparisons), then deleted, so the table grows with the audience of that window, not with
//! every player that ever connected. Each platform process prunes; deleting is idempotent.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::db::viewer_spans;

/// How often old spans are looked for.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes the spans that ended before `cutoff_ms`; returns how many.
pub async fn prune_before(db: &DatabaseConnection, cutoff_ms: i64) -> Result<u64, DbErr> {
    let deleted = viewer_spans::Entity::delete_many()
        .filter(viewer_spans::Column::EndMs.lt(cutoff_ms))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Prunes spans older than `retention`, now and every hour, for the life of the process.
pub async fn prune(db: DatabaseConnection, retention: Duration) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    loop {
        ticks.tick().await;
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff_ms = Utc::now().timestamp_millis().saturating_sub(retention_ms);
        match prune_before(&db, cutoff_ms).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "viewer spans past their retention deleted"),
            Err(error) => tracing::warn!(%error, "pruning viewer spans failed; trying again later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, Set};

    use super::*;

    #[tokio::test]
    async fn spans_that_ended_before_the_cutoff_go_and_the_rest_stay() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("db").display());
        let db = crate::db::connect(&url).await.unwrap();
        for (playback, end_ms) in [("pb_old", 1_000), ("pb_edge", 5_000), ("pb_new", 9_000)] {
            viewer_spans::ActiveModel {
                playback_id: Set(playback.into()),
                session_id: Set("se_x".into()),
                channel_id: Set("ch_x".into()),
                start_ms: Set(end_ms - 500),
                end_ms: Set(end_ms),
            }
            .insert(&db)
            .await
            .unwrap();
        }
        assert_eq!(prune_before(&db, 5_000).await.unwrap(), 1);
        let left: Vec<String> = viewer_spans::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.playback_id)
            .collect();
        assert_eq!(left, ["pb_edge", "pb_new"]);
    }
}
