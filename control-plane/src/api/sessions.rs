//! Sessions and the channel event history: read-only views of what happened.

use actix_web::{get, web, HttpResponse};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use sigma_shared::ids::SessionId;

use super::auth::{Caller, Scope};
use super::channels::{channel_id, owned_channel};
use super::error::{ApiError, ErrorBody};
use super::views::{EventList, EventView, Page, SessionList, SessionView};
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
        .limit(page.limit());
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
    params(("id" = String, Path, description = "Channel id"), Page),
    responses((status = 200, body = EventList), (status = 404, body = ErrorBody))
)]
#[get("/v1/channels/{id}/events")]
pub async fn events(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let channel_id = channel_id(&id)?;
    let after: i64 = match &page.after {
        None => 0,
        Some(text) => text.parse().map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "bad_query",
                "`after` is a sequence number for events",
            )
        })?,
    };
    let owned = db::channel_events::Entity::find()
        .filter(db::channel_events::Column::ChannelId.eq(channel_id.to_string()))
        .filter(db::channel_events::Column::AccountId.eq(caller.account_id.to_string()));
    if owned.clone().count(&state.db).await? == 0 {
        return Err(ApiError::not_found("channel"));
    }
    let rows = owned
        .filter(db::channel_events::Column::Sequence.gt(after))
        .order_by_asc(db::channel_events::Column::Sequence)
        .limit(page.limit())
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(EventList {
        data: rows.iter().map(EventView::of).collect(),
    }))
}
