//! `GET /v1/alerts`: the caller's alerts, newest last, filterable by channel and by state.

use actix_web::{get, web, HttpResponse};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::auth::{Caller, Scope};
use super::error::{ApiError, ErrorBody};
use super::views::{page_limit, AlertList, AlertQuery, AlertState, AlertView};
use super::AppState;
use crate::db;

/// List alerts, oldest first: what the ingest found wrong with a stream (no media while
/// connected, frame rate or bitrate collapse, keyframes too far apart, audio/video drift) or
/// with its processing (transcoder failed, slow or unavailable), each open until cleared.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = ["channels:read"])),
    params(AlertQuery),
    responses((status = 200, body = AlertList), (status = 400, body = ErrorBody))
)]
#[get("/v1/alerts")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<AlertQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let mut select = db::alerts::Entity::find()
        .filter(db::alerts::Column::AccountId.eq(caller.account_id.to_string()))
        .order_by_asc(db::alerts::Column::Id)
        .limit(page_limit(query.limit)?);
    if let Some(channel) = &query.channel_id {
        select = select.filter(db::alerts::Column::ChannelId.eq(channel.as_str()));
    }
    select = match query.state {
        None => select,
        Some(AlertState::Open) => select.filter(db::alerts::Column::ClearedAt.is_null()),
        Some(AlertState::Closed) => select.filter(db::alerts::Column::ClearedAt.is_not_null()),
    };
    if let Some(after) = &query.after {
        select = select.filter(db::alerts::Column::Id.gt(after.as_str()));
    }
    let rows = select.all(&state.db).await?;
    Ok(HttpResponse::Ok().json(AlertList {
        data: rows.iter().map(AlertView::of).collect(),
    }))
}
