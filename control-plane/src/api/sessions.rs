//! Sessions and the channel event history: read-only views of what happened.

use actix_web::{get, web, HttpResponse};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sigma_shared::ids::SessionId;

use super::auth::{Caller, Scope};
use super::channels::{channel_id, owned_channel};
use super::error::{ApiError, ErrorBody};
use super::views::{page_limit, EventList, EventPage, EventView, Page, SessionList, SessionView};
use super::AppState;
use crate::db;

/// List a channel's sessions, oldest first.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["channels:read"])),
    params(("id" = String, Path, description = "Channel id"), Page),
    responses((status = 200, body = SessionList), (status = 404, body = ErrorBody))
)]
#[get("/v1/channels/{id}/sessions")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let channel = owned_channel(&state, &caller, channel_id(&id)?).await?;
    let mut query = db::sessions::Entity::find()
        .filter(db::sessions::Column::ChannelId.eq(channel.id))
        .order_by_asc(db::sessions::Column::Id)
        .limit(page.limit()?);
    if let Some(after) = &page.after {
        query = query.filter(db::sessions::Column::Id.gt(after.as_str()));
    }
    let rows = query.all(&state.db).await?;
    Ok(HttpResponse::Ok().json(SessionList {
        data: rows
            .iter()
            .map(|row| SessionView::of(row, &state.urls))
            .collect(),
    }))
}

/// The caller's session `id`, or 404.
pub async fn owned_session(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<db::sessions::Model, ApiError> {
    let session_id: SessionId = id.parse().map_err(|_| ApiError::not_found("session"))?;
    db::sessions::Entity::find_by_id(session_id.to_string())
        .filter(db::sessions::Column::AccountId.eq(caller.account_id.to_string()))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("session"))
}

/// Read a session.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["channels:read"])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody))
)]
#[get("/v1/sessions/{id}")]
pub async fn read(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let row = owned_session(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(SessionView::of(&row, &state.urls)))
}

/// A channel's event history, in order. It outlives the channel: a deleted channel's history
/// stays readable by its owner.
#[utoipa::path(
    tag = "events",
    security(("bearer" = ["channels:read"])),
    params(("id" = String, Path, description = "Channel id"), EventPage),
    responses((status = 200, body = EventList), (status = 404, body = ErrorBody))
)]
#[get("/v1/channels/{id}/events")]
pub async fn events(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<EventPage>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let channel_id = channel_id(&id)?;
    let after = i64::try_from(page.after.unwrap_or(0)).map_err(|_| {
        ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "bad_query",
            "`after` is a sequence number, at most 2^63 - 1",
        )
    })?;
    // A deleted channel's history goes with it.
    owned_channel(&state, &caller, channel_id).await?;
    let rows = db::channel_events::Entity::find()
        .filter(db::channel_events::Column::ChannelId.eq(channel_id.to_string()))
        .filter(db::channel_events::Column::Sequence.gt(after))
        .order_by_asc(db::channel_events::Column::Sequence)
        .limit(page_limit(page.limit)?)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(EventList {
        data: rows.iter().map(EventView::of).collect(),
    }))
}
