//! Sessions and the channel event history: views of what happened, and the deletion of a
//! session's recording and catch-up media.

use actix_web::{delete, get, web, HttpResponse};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sigma_shared::command::{ChannelCommand, Command, OwnerAction};
use sigma_shared::ids::{ChannelId, SessionId};

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
    let sessions =
        db::sessions::Entity::find().filter(db::sessions::Column::ChannelId.eq(channel.id));
    let rows = page
        .of(sessions, db::sessions::Column::Id)?
        .all(&state.db)
        .await?;
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

/// Delete an ended session's recording and catch-up media (playlists, segments, thumbnails,
/// storyboard). Playback answers 404 for them as soon as the deletion reaches it, the objects
/// are deleted from the store right after, and `session.media_deleted` is recorded; nothing of
/// the session is stored again (a recording still being made is dropped).
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["channels:write"])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = ErrorBody, description = "No such session, or its media are deleted already"),
        (status = 409, body = ErrorBody, description = "The session is still open (`too_early`)"),
    )
)]
#[delete("/v1/sessions/{id}/recording")]
pub async fn delete_media(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsWrite)?;
    let row = owned_session(&state, &caller, &id).await?;
    let (Ok(session_id), Ok(channel_id)) = (
        row.id.parse::<SessionId>(),
        row.channel_id.parse::<ChannelId>(),
    ) else {
        return Err(ApiError::not_found("session"));
    };
    state
        .bus
        .submit(Command::channel(
            channel_id,
            ChannelCommand::Owner {
                account_id: caller.account_id,
                action: OwnerAction::DeleteSessionMedia { session_id },
            },
        ))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// A channel's event history, in order. It goes with the channel: a deleted channel's history
/// is 404 like the channel.
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
