//! The channel endpoints: create, list, read, patch, delete, stop, resume, rotate the key.
//!
//! Writes go through the command bus and answer with the channel as the read model holds it
//! once the command is applied; reads only ever see the caller's own channels (another
//! account's channel is a 404, never a 403, so ids leak nothing).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sigma_shared::command::{ChannelCommand, Command, OwnerAction};
use sigma_shared::ids::ChannelId;
use sigma_shared::secret::Sealed;
use sigma_shared::settings::ChannelSettings;

use super::auth::{Caller, Scope};
use super::body::JsonBody;
use super::error::{ApiError, ErrorBody};
use super::views::{ChannelInput, ChannelList, ChannelView, NewChannel, Page};
use super::AppState;
use crate::db;
use crate::sealing::{Purpose, SealingError};
use crate::secrets::random_text;

/// A new stream key: `sk_` and 32 letters and digits (190 bits).
fn new_stream_key() -> String {
    format!("sk_{}", random_text(32))
}

/// A channel id from a path; anything else is a 404, like a channel that does not exist.
pub fn channel_id(path: &str) -> Result<ChannelId, ApiError> {
    path.parse().map_err(|_| ApiError::not_found("channel"))
}

/// The caller's channel, or 404.
pub async fn owned_channel(
    state: &AppState,
    caller: &Caller,
    id: ChannelId,
) -> Result<db::channels::Model, ApiError> {
    db::channels::Entity::find_by_id(id.to_string())
        .filter(db::channels::Column::AccountId.eq(caller.account_id.to_string()))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("channel"))
}

/// The channels of `rows` as `caller` may see them: each one's stream key (the right to
/// publish) only if the caller may write the channel anyway, opened from its sealed form for
/// the answer alone; and how many watch each one now.
async fn views(
    state: &AppState,
    caller: &Caller,
    rows: &[db::channels::Model],
) -> Result<Vec<ChannelView>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let watching = crate::analytics::report::watching_now_of(&state.db, now_ms, &ids).await?;
    let view = |row: &db::channels::Model| {
        let stream_key = caller
            .holds(Scope::ChannelsWrite)
            .then(|| open_stream_key(state, row))
            .flatten();
        let viewers = watching.get(&row.id).copied().unwrap_or(0);
        ChannelView::of(row, stream_key, viewers, &state.urls)
    };
    Ok(rows.iter().map(view).collect())
}

/// [`views`] of one channel.
async fn view(
    state: &AppState,
    caller: &Caller,
    row: db::channels::Model,
) -> Result<ChannelView, ApiError> {
    let mut one = views(state, caller, std::slice::from_ref(&row)).await?;
    Ok(one.pop().expect("a view per row"))
}

/// The channel's key in clear; `None` (and an error in the server's log) if its sealed form
/// does not open: the answer goes out without the key rather than failing a write that was
/// applied, or a whole page.
fn open_stream_key(state: &AppState, row: &db::channels::Model) -> Option<String> {
    let channel = row.id.parse().ok()?;
    let opened = Sealed::try_from(row.sealed_stream_key.clone())
        .map_err(SealingError::from)
        .and_then(|sealed| state.secrets.open(&sealed, Purpose::StreamKey(channel)));
    opened
        .inspect_err(
            |error| tracing::error!(%channel, %error, "cannot open a channel's stream key"),
        )
        .ok()
}

/// Create a channel.
#[utoipa::path(
    tag = "channels",
    security(("bearer" = ["channels:write"])),
    request_body = NewChannel,
    responses(
        (status = 201, body = ChannelView),
        (status = 400, body = ErrorBody, description = "Malformed JSON"),
        (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The account has as many channels as its quota allows (`quota_exceeded`)"),
        (status = 422, body = ErrorBody, description = "A missing name, an unknown field or value, or a setting out of bounds"),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/v1/channels")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonBody<ChannelInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsWrite)?;
    let input = body.into_inner();
    let name = input.name.ok_or_else(|| {
        ApiError::unprocessable("missing_field", "name is required").for_field("name")
    })?;
    let _room =
        crate::quotas::room_for_a_channel(&state.quotas, &state.db, caller.account_id).await?;
    let channel_id = ChannelId::generate();
    let command = ChannelCommand::Create {
        account_id: caller.account_id,
        name,
        settings: ChannelSettings::default().patched(&input.settings),
        stream_key: state.secrets.seal_stream_key(&new_stream_key(), channel_id),
    };
    state
        .bus
        .submit(Command::channel(channel_id, command))
        .await??;
    let row = owned_channel(&state, &caller, channel_id).await?;
    Ok(HttpResponse::Created().json(view(&state, &caller, row).await?))
}

/// List the caller's channels, oldest first.
#[utoipa::path(
    tag = "channels",
    security(("bearer" = ["channels:read"])),
    params(Page),
    responses((status = 200, body = ChannelList), (status = 401, body = ErrorBody))
)]
#[get("/v1/channels")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let owned = db::channels::Entity::find()
        .filter(db::channels::Column::AccountId.eq(caller.account_id.to_string()));
    let rows = page
        .of(owned, db::channels::Column::Id)?
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(ChannelList {
        data: views(&state, &caller, &rows).await?,
    }))
}

/// Read a channel.
#[utoipa::path(
    tag = "channels",
    security(("bearer" = ["channels:read"])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody))
)]
#[get("/v1/channels/{id}")]
pub async fn read(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let row = owned_channel(&state, &caller, channel_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(view(&state, &caller, row).await?))
}

/// Runs an owner action and answers with the channel as it now is.
async fn act(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: OwnerAction,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsWrite)?;
    let channel_id = channel_id(id)?;
    let command = ChannelCommand::Owner {
        account_id: caller.account_id,
        action,
    };
    state
        .bus
        .submit(Command::channel(channel_id, command))
        .await??;
    let row = owned_channel(state, caller, channel_id).await?;
    Ok(HttpResponse::Ok().json(view(state, caller, row).await?))
}

/// Change a channel's name or settings.
#[utoipa::path(
    tag = "channels",
    security(("bearer" = ["channels:write"])),
    params(("id" = String, Path, description = "Channel id")),
    request_body = ChannelInput,
    responses(
        (status = 200, body = ChannelView),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
#[patch("/v1/channels/{id}")]
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<ChannelInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    act(
        &state,
        &caller,
        &id,
        OwnerAction::Update {
            name: input.name,
            patch: input.settings,
        },
    )
    .await
}

/// Delete a channel (ending its session, if any).
#[utoipa::path(
    tag = "channels",
    security(("bearer" = ["channels:write"])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 204), (status = 404, body = ErrorBody))
)]
#[delete("/v1/channels/{id}")]
pub async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsWrite)?;
    let command = ChannelCommand::Owner {
        account_id: caller.account_id,
        action: OwnerAction::Delete,
    };
    state
        .bus
        .submit(Command::channel(channel_id(&id)?, command))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Stop a channel: its session ends and ingest is refused until it is resumed.
#[utoipa::path(
    tag = "channels",
    security(("bearer" = ["channels:write"])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Already stopped"))
)]
#[post("/v1/channels/{id}/stop")]
pub async fn stop(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(&state, &caller, &id, OwnerAction::Stop).await
}

/// Resume a stopped channel.
#[utoipa::path(
    tag = "channels",
    security(("bearer" = ["channels:write"])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not stopped"))
)]
#[post("/v1/channels/{id}/resume")]
pub async fn resume(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(&state, &caller, &id, OwnerAction::Resume).await
}

/// Rotate the stream key: the old key stops working for new connections at once.
#[utoipa::path(
    tag = "channels",
    security(("bearer" = ["channels:write"])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody))
)]
#[post("/v1/channels/{id}/stream-key")]
pub async fn rotate_stream_key(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stream_key = state
        .secrets
        .seal_stream_key(&new_stream_key(), channel_id(&id)?);
    act(
        &state,
        &caller,
        &id,
        OwnerAction::RotateStreamKey { stream_key },
    )
    .await
}
