//! Signed playback: an account's playback keys, and playback tokens minted by the platform.
//!
//! A playback key is an Ed25519 key pair drawn here; the private half is in the answer to its
//! creation and kept nowhere, the public half goes into the log. With it an account mints
//! playback tokens itself (a JWT with `kid`, `sub`, `aud`, `exp`: see
//! [`sigma_playback::tokens`]) without calling us; or it asks us for one
//! (`POST /v1/channels/{id}/playback-tokens`), signed with the deployment's own key.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use sigma_shared::command::{AccountCommand, Command};
use sigma_shared::ids::PlaybackKeyId;
use utoipa::ToSchema;

use super::auth::{Caller, Scope};
use super::body::JsonBody;
use super::channels::{channel_id, owned_channel};
use super::error::{ApiError, ErrorBody};
use super::sessions::owned_session;
use super::AppState;
use crate::db;
use sigma_playback::tokens::Audience;

/// How long a minted token lives when the caller does not say, and at most.
const DEFAULT_TTL_SECONDS: u32 = 3_600;
const MAX_TTL_SECONDS: u32 = 30 * 24 * 3_600;

/// A playback key, without its private half.
#[derive(Serialize, ToSchema)]
pub struct PlaybackKeyView {
    /// The `kid` of the tokens it signs.
    pub id: PlaybackKeyId,
    /// The Ed25519 public key, 64 hex digits.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
}

impl PlaybackKeyView {
    fn of(row: &db::playback_keys::Model) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.id.parse().map_err(ApiError::internal)?,
            public_key: row.public_key.clone(),
            created_at: row.created_at,
        })
    }
}

/// A new playback key with its private half: shown once, kept nowhere.
#[derive(Serialize, ToSchema)]
pub struct NewPlaybackKeyView {
    #[serde(flatten)]
    pub key: PlaybackKeyView,
    /// The Ed25519 private key (PKCS#8 PEM) that signs playback tokens (`alg` `EdDSA`, `kid`
    /// this key's id). Keep it: it is not shown again.
    pub private_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct PlaybackKeyList {
    pub data: Vec<PlaybackKeyView>,
}

/// What a minted token opens and for how long.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Seconds the token is valid, 1 to 2592000 (30 days); 3600 if absent.
    #[schema(minimum = 1, maximum = 2592000)]
    pub ttl_seconds: Option<u32>,
    /// What the token opens; `video` if absent.
    pub audience: Option<Audience>,
}

#[derive(Serialize, ToSchema)]
pub struct PlaybackTokenView {
    /// Add it to the first playback URL as `?token=`; the playlists carry it on.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

fn key_id(path: &str) -> Result<PlaybackKeyId, ApiError> {
    path.parse()
        .map_err(|_| ApiError::not_found("playback key"))
}

/// Create a playback key. The response is the only time its private key is shown.
#[utoipa::path(
    tag = "playback",
    security(("bearer" = ["channels:write"])),
    responses(
        (status = 201, body = NewPlaybackKeyView),
        (status = 409, body = ErrorBody, description = "The account has as many keys as it may (`quota_exceeded`)"),
    )
)]
#[post("/v1/playback-keys")]
pub async fn create_key(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsWrite)?;
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let private_key = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(ApiError::internal)?
        .to_string();
    let key_id = PlaybackKeyId::generate();
    state
        .bus
        .submit(Command::account(
            caller.account_id,
            AccountCommand::AddPlaybackKey {
                key_id,
                public_key: hex::encode(signing.verifying_key().to_bytes()),
            },
        ))
        .await??;
    let row = db::playback_keys::Entity::find_by_id(key_id.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("playback key"))?;
    Ok(HttpResponse::Created().json(NewPlaybackKeyView {
        key: PlaybackKeyView::of(&row)?,
        private_key,
    }))
}

/// List the account's playback keys, oldest first.
#[utoipa::path(
    tag = "playback",
    security(("bearer" = ["channels:read"])),
    responses((status = 200, body = PlaybackKeyList))
)]
#[get("/v1/playback-keys")]
pub async fn list_keys(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let rows = db::playback_keys::Entity::find()
        .filter(db::playback_keys::Column::AccountId.eq(caller.account_id.to_string()))
        .order_by_asc(db::playback_keys::Column::Id)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(PlaybackKeyList {
        data: rows
            .iter()
            .map(PlaybackKeyView::of)
            .collect::<Result<_, _>>()?,
    }))
}

/// Delete a playback key: the tokens it signed stop opening anything, on every playback node
/// as soon as it hears of it.
#[utoipa::path(
    tag = "playback",
    security(("bearer" = ["channels:write"])),
    params(("id" = String, Path, description = "Playback key id")),
    responses((status = 204), (status = 404, body = ErrorBody))
)]
#[delete("/v1/playback-keys/{id}")]
pub async fn remove_key(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsWrite)?;
    state
        .bus
        .submit(Command::account(
            caller.account_id,
            AccountCommand::RemovePlaybackKey {
                key_id: key_id(&id)?,
            },
        ))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Mint a playback token for one of the caller's channels: it opens every session of the
/// channel, live and caught up, for its audience.
#[utoipa::path(
    tag = "playback",
    security(("bearer" = ["channels:read"])),
    params(("id" = String, Path, description = "Channel id")),
    request_body = TokenRequest,
    responses(
        (status = 201, body = PlaybackTokenView),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "ttl_seconds out of range"),
    )
)]
#[post("/v1/channels/{id}/playback-tokens")]
pub async fn channel_token(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let channel = owned_channel(&state, &caller, channel_id(&id)?).await?;
    mint(&state, &channel.id, body.into_inner())
}

/// Mint a playback token for one session: its catch-up, media, pictures and recording.
#[utoipa::path(
    tag = "playback",
    security(("bearer" = ["channels:read"])),
    params(("id" = String, Path, description = "Session id")),
    request_body = TokenRequest,
    responses(
        (status = 201, body = PlaybackTokenView),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "ttl_seconds out of range"),
    )
)]
#[post("/v1/sessions/{id}/playback-tokens")]
pub async fn session_token(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let session = owned_session(&state, &caller, &id).await?;
    mint(&state, &session.id, body.into_inner())
}

fn mint(state: &AppState, subject: &str, request: TokenRequest) -> Result<HttpResponse, ApiError> {
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("ttl_seconds must be 1 to {MAX_TTL_SECONDS}"),
        ));
    }
    let expires_at = Utc::now() + chrono::Duration::seconds(i64::from(ttl));
    let token = state.playback_tokens.mint(
        subject,
        request.audience.unwrap_or(Audience::Video),
        expires_at.timestamp(),
    );
    Ok(HttpResponse::Created().json(PlaybackTokenView { token, expires_at }))
}
