//! Audience reports read from the viewer spans: a channel's or a session's CCU series, peak,
//! views and watch time over a range, and how many are watching each channel now.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::sea_query::{Expr, Func, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use sigma_shared::audience::{self, merge, Audience, Span, Window, CONTINUOUS_GAP_MS};
use sigma_shared::ids::{ChannelId, SessionId};

use crate::db::viewer_spans;

/// Whose audience.
#[derive(Clone, Copy, Debug)]
pub enum Audiences {
    Channel(ChannelId),
    Session(SessionId),
}

impl Audiences {
    fn condition(&self) -> sea_orm::sea_query::SimpleExpr {
        match self {
            Self::Channel(id) => viewer_spans::Column::ChannelId.eq(id.to_string()),
            Self::Session(id) => viewer_spans::Column::SessionId.eq(id.to_string()),
        }
    }
}

/// Rows per `IN (…)` list.
const CHUNK: usize = 500;

/// The audience over `window`. Every playback session with a span in the range is read whole,
/// so a view is counted in the range where it started, however long it went on.
pub async fn report(
    db: &impl ConnectionTrait,
    whose: Audiences,
    window: Window,
) -> Result<Audience, DbErr> {
    let present: BTreeSet<String> = viewer_spans::Entity::find()
        .select_only()
        .column(viewer_spans::Column::PlaybackId)
        .filter(whose.condition())
        .filter(viewer_spans::Column::EndMs.gte(window.from_ms))
        .filter(viewer_spans::Column::StartMs.lt(window.to_ms))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let present: Vec<String> = present.into_iter().collect();
    let mut viewers: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for chunk in present.chunks(CHUNK) {
        let rows = viewer_spans::Entity::find()
            .filter(whose.condition())
            .filter(viewer_spans::Column::PlaybackId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        for row in rows {
            // One player's spans over several sessions of a channel are one viewing.
            merge(
                viewers.entry(row.playback_id).or_default(),
                Span {
                    start_ms: row.start_ms,
                    end_ms: row.end_ms,
                },
            );
        }
    }
    Ok(audience::audience(
        viewers.values().map(Vec::as_slice),
        window,
    ))
}

/// Playback sessions watching each channel at `now_ms`: those reported within the continuity
/// gap (the figure trails real departures by up to that gap plus a flush interval).
pub async fn watching_now(
    db: &impl ConnectionTrait,
    now_ms: i64,
) -> Result<Vec<(String, i64)>, DbErr> {
    watching(now_ms).into_tuple().all(db).await
}

/// [`watching_now`] for the channels `of` alone; a channel nobody watches is absent.
pub async fn watching_now_of(
    db: &impl ConnectionTrait,
    now_ms: i64,
    of: &[String],
) -> Result<BTreeMap<String, i64>, DbErr> {
    let mut found = BTreeMap::new();
    for chunk in of.chunks(CHUNK) {
        let of_chunk = watching(now_ms).filter(viewer_spans::Column::ChannelId.is_in(chunk));
        found.extend(of_chunk.into_tuple::<(String, i64)>().all(db).await?);
    }
    Ok(found)
}

/// Channel ids and their viewers at `now_ms`.
fn watching(now_ms: i64) -> sea_orm::Select<viewer_spans::Entity> {
    viewer_spans::Entity::find()
        .select_only()
        .column(viewer_spans::Column::ChannelId)
        .column_as(
            SimpleExpr::from(Func::count_distinct(Expr::col(
                viewer_spans::Column::PlaybackId,
            ))),
            "viewers",
        )
        .filter(viewer_spans::Column::EndMs.gte(now_ms - CONTINUOUS_GAP_MS))
        .group_by(viewer_spans::Column::ChannelId)
}
