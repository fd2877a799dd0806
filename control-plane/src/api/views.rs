//! The JSON shapes of the API: what it accepts and what it returns.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use serde::{Deserialize, Deserializer, Serialize};
use sigma_shared::channel::ChannelStatus;
use sigma_shared::ids::{AccountId, AlertId, ChannelId, DeliveryId, EventId, SessionId, WebhookId};
use sigma_shared::session::{EndReason, Input, SessionStatus};
use sigma_shared::settings::{ChannelSettings, SettingsPatch};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::db;
use crate::project::channels::{settings, text_enum};

/// Where viewers and broadcasters reach this installation.
#[derive(Clone, Debug)]
pub struct PublicUrls {
    pub http: String,
    pub rtmp: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// Not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: AccountId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl AccountView {
    pub fn of(row: db::accounts::Model) -> Self {
        Self {
            id: row.id.parse().expect("stored ids parse"),
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub data: Vec<AccountView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub account_id: AccountId,
    /// Defaults to every scope: `channels:read`, `channels:write`.
    pub scopes: Option<Vec<String>>,
    /// Defaults to 3600; at most 31 days.
    #[schema(minimum = 1, maximum = 2_678_400)]
    pub ttl_seconds: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A new channel, as `POST /v1/channels` documents it (the body is read as a
/// [`ChannelInput`]): its name and any settings, the others taking their defaults.
#[derive(Serialize, ToSchema)]
pub struct NewChannel {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    #[serde(flatten)]
    #[schema(inline)]
    pub settings: SettingsPatch,
}

/// A channel's name and settings, for create (name required) and patch (everything optional).
/// Unknown fields are refused, so a typo never silently does nothing.
#[derive(Serialize, ToSchema)]
pub struct ChannelInput {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: Option<String>,
    #[serde(flatten)]
    #[schema(inline)]
    pub settings: SettingsPatch,
}

impl<'de> Deserialize<'de> for ChannelInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut fields = serde_json::Map::deserialize(deserializer)?;
        let name = match fields.remove("name") {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => Some(String::deserialize(value).map_err(D::Error::custom)?),
        };
        let settings = SettingsPatch::deserialize(serde_json::Value::Object(fields))
            .map_err(D::Error::custom)?;
        Ok(Self { name, settings })
    }
}

#[derive(Serialize, ToSchema)]
pub struct ChannelView {
    pub id: ChannelId,
    pub name: String,
    pub status: ChannelStatus,
    /// The secret a broadcaster pushes with; rotate it with `POST /v1/channels/{id}/stream-key`.
    /// Shown only to a token with `channels:write`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_key: Option<String>,
    /// Where to push: `rtmp://HOST:PORT/live/{stream_key}`. Shown only with the stream key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmp_url: Option<String>,
    /// The multivariant HLS playlist.
    pub playback_url: String,
    #[serde(flatten)]
    pub settings: ChannelSettings,
    pub current_session_id: Option<SessionId>,
    /// Playback sessions watching now (one who left is counted for up to 15 s more).
    #[schema(minimum = 0)]
    pub viewers: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ChannelView {
    /// The channel of `row`, with its `stream_key` if the caller may see it.
    pub fn of(
        row: &db::channels::Model,
        stream_key: Option<String>,
        viewers: i64,
        urls: &PublicUrls,
    ) -> Self {
        Self {
            id: row.id.parse().expect("stored ids parse"),
            name: row.name.clone(),
            status: text_enum(&row.status),
            rtmp_url: stream_key
                .as_ref()
                .map(|key| format!("{}/live/{key}", urls.rtmp)),
            stream_key,
            playback_url: format!("{}/live/{}/index.m3u8", urls.http, row.id),
            settings: settings(row),
            current_session_id: row
                .current_session_id
                .as_deref()
                .map(|id| id.parse().expect("stored ids parse")),
            viewers,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ChannelList {
    pub data: Vec<ChannelView>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: SessionId,
    pub channel_id: ChannelId,
    pub status: SessionStatus,
    pub publisher_connected: bool,
    /// How many times the publisher came back within the reconnect window.
    pub restream_count: i64,
    /// Whether a backup publisher (`?backup=1`) is connected, on standby or on air.
    pub backup_connected: bool,
    /// Whose media players get: the primary's, or the backup's while the primary is gone or
    /// stalled.
    pub on_air_input: Input,
    /// How many times playback switched between the inputs (`session.failover`).
    pub failover_count: i64,
    pub started_at: DateTime<Utc>,
    pub live_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    pub error_message: Option<String>,
    /// The source recording as one MP4, once finalized after the session ended (channels with
    /// `record_source`).
    pub recording_url: Option<String>,
    pub recording_bytes: Option<i64>,
    pub recording_seconds: Option<f64>,
    /// The session replayed: an `EVENT` playlist while it runs, `VOD` once it has ended;
    /// absent once its media expired (`SIGMA_CATCHUP_RETENTION_SECONDS` after it ended).
    pub catchup_url: Option<String>,
    /// The newest thumbnail (JPEG); 404 until the first, or if the channel takes none.
    pub thumbnail_url: String,
    /// The storyboard: WebVTT cues pointing into sprite sheets, for scrubbing previews.
    pub storyboard_url: String,
}

impl SessionView {
    pub fn of(row: &db::sessions::Model, urls: &PublicUrls) -> Self {
        Self {
            id: row.id.parse().expect("stored ids parse"),
            channel_id: row.channel_id.parse().expect("stored ids parse"),
            status: text_enum(&row.status),
            publisher_connected: row.publisher_connected,
            restream_count: row.restream_count,
            backup_connected: row.backup_connected,
            on_air_input: text_enum(&row.on_air_input),
            failover_count: row.failover_count,
            started_at: row.started_at,
            live_at: row.live_at,
            ended_at: row.ended_at,
            end_reason: row.end_reason.as_deref().map(text_enum),
            error_message: row.error_message.clone(),
            recording_url: row
                .recording_path
                .as_ref()
                .map(|_| format!("{}/recordings/{}.mp4", urls.http, row.id)),
            catchup_url: row
                .media_expired_at
                .is_none()
                .then(|| format!("{}/vod/{}/index.m3u8", urls.http, row.id)),
            thumbnail_url: format!("{}/thumbs/{}/latest.jpg", urls.http, row.id),
            storyboard_url: format!("{}/thumbs/{}/storyboard.vtt", urls.http, row.id),
            recording_bytes: row.recording_bytes,
            recording_seconds: row
                .recording_milliseconds
                .map(|milliseconds| milliseconds as f64 / 1000.0),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub data: Vec<SessionView>,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: EventId,
    /// e.g. `channel.created`, `session.live`, `session.ended`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: i32,
    /// Position in the channel's history, from 1, without gaps.
    pub sequence: i64,
    pub occurred_at: DateTime<Utc>,
    pub channel_id: ChannelId,
    pub session_id: Option<SessionId>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl EventView {
    pub fn of(row: &db::channel_events::Model) -> Self {
        Self {
            id: row.event_id.parse().expect("stored ids parse"),
            event_type: row.event_type.clone(),
            schema_version: row.schema_version,
            sequence: row.sequence,
            occurred_at: row.occurred_at,
            channel_id: row.channel_id.parse().expect("stored ids parse"),
            session_id: row
                .session_id
                .as_deref()
                .map(|id| id.parse().expect("stored ids parse")),
            data: serde_json::from_str(&row.data).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventList {
    pub data: Vec<EventView>,
}

/// Paging for lists ordered by id (ids are time-ordered, so this is creation order).
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// At most this many items (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Only items after this id (or, for events, this sequence number).
    pub after: Option<String>,
}

impl Page {
    /// This page of `query`: ordered by `id`, after the cursor, at most the limit.
    pub fn of<E, C>(&self, query: Select<E>, id: C) -> Result<Select<E>, ApiError>
    where
        E: EntityTrait,
        C: ColumnTrait,
    {
        let query = query.order_by_asc(id).limit(page_limit(self.limit)?);
        Ok(match &self.after {
            Some(after) => query.filter(id.gt(after.as_str())),
            None => query,
        })
    }
}

/// Paging for a channel's events, in sequence order.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventPage {
    /// At most this many events (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Only events after this sequence number.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub after: Option<u64>,
}

/// A list's `limit`: 100 if absent; outside 1–1000 a 400.
pub fn page_limit(limit: Option<u64>) -> Result<u64, ApiError> {
    match limit.unwrap_or(100) {
        limit @ 1..=1000 => Ok(limit),
        _ => Err(ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "bad_query",
            "limit must be between 1 and 1000",
        )),
    }
}

/// A new subscription.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where to `POST` events: an http(s) URL on a public address.
    #[schema(required = true, max_length = 2000)]
    pub url: Option<String>,
    /// The event types to send (e.g. `session.live`); absent or empty: all of them.
    pub event_types: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    pub id: WebhookId,
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// After a rotation, the previous secret also signs until then.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

impl WebhookView {
    pub fn of(row: &db::webhooks::Model) -> Self {
        Self {
            id: row.id.parse().expect("stored ids parse"),
            url: row.url.clone(),
            event_types: serde_json::from_str(&row.event_types).unwrap_or_default(),
            created_at: row.created_at,
            previous_secret_valid_until: row
                .previous_valid_until
                .filter(|until| *until > Utc::now()),
        }
    }
}

/// A subscription with its signing secret: shown once, when created or rotated.
#[derive(Serialize, ToSchema)]
pub struct NewWebhookView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// HMAC-SHA256 key of the `Sigma-Signature` header; keep it, it is not shown again.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<WebhookView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secret keeps signing (0 to 604800 s; default 86400).
    #[schema(maximum = 604_800)]
    pub overlap_seconds: Option<u32>,
}

/// Filters and paging of the delivery log.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// At most this many deliveries (1–1000, default 100).
    pub limit: Option<u64>,
    /// Only deliveries after this delivery id.
    pub after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's HTTP status; absent when no response came (see `error`).
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl AttemptView {
    pub fn of(row: &db::webhook_attempts::Model) -> Self {
        Self {
            attempt: row.attempt,
            attempted_at: row.attempted_at,
            status_code: row.status_code,
            error: row.error.clone(),
            duration_ms: row.duration_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: DeliveryId,
    /// The event's id, also sent as `Sigma-Event-Id` and shown in the channel's history.
    pub event_id: EventId,
    pub event_type: String,
    pub channel_id: ChannelId,
    pub sequence: i64,
    /// `pending`, `delivered` or `failed` (the retry period ended).
    pub status: String,
    pub attempts: i32,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempt_log: Vec<AttemptView>,
}

impl DeliveryView {
    pub fn of(row: &db::webhook_deliveries::Model, attempt_log: Vec<AttemptView>) -> Self {
        Self {
            id: row.id.parse().expect("stored ids parse"),
            event_id: row.event_id.parse().expect("stored ids parse"),
            event_type: row.event_type.clone(),
            channel_id: row.channel_id.parse().expect("stored ids parse"),
            sequence: row.sequence,
            status: row.status.clone(),
            attempts: row.attempts,
            next_attempt_at: (row.status == crate::webhooks::PENDING)
                .then_some(row.next_attempt_at),
            last_status_code: row.last_status_code,
            last_error: row.last_error.clone(),
            created_at: row.created_at,
            delivered_at: row.delivered_at,
            attempt_log,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<DeliveryView>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Closed,
}

/// Filters and paging of the alert list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Only this channel's alerts.
    pub channel_id: Option<String>,
    /// `open` (not cleared yet) or `closed`.
    pub state: Option<AlertState>,
    /// At most this many alerts (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Only alerts after this alert id.
    pub after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertView {
    pub id: AlertId,
    pub channel_id: ChannelId,
    pub session_id: SessionId,
    /// Stable: `no_media`, `frame_rate_low`, `bitrate_low`, `keyframe_interval_long`,
    /// `av_drift`, `publisher_dropped`, `transcoder_failed`, `transcoder_slow`,
    /// `transcoder_unavailable`, …
    pub code: String,
    pub message: String,
    pub state: AlertState,
    pub raised_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
}

impl AlertView {
    pub fn of(row: &db::alerts::Model) -> Self {
        Self {
            // Alerts from before alert ids carry their event's id.
            id: row
                .id
                .parse()
                .unwrap_or_else(|_| AlertId::from_uuid(uuid::Uuid::nil())),
            channel_id: row.channel_id.parse().expect("stored ids parse"),
            session_id: row.session_id.parse().expect("stored ids parse"),
            code: row.code.clone(),
            message: row.message.clone(),
            state: match row.cleared_at {
                None => AlertState::Open,
                Some(_) => AlertState::Closed,
            },
            raised_at: row.raised_at,
            cleared_at: row.cleared_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub data: Vec<AlertView>,
}
