//! Channels as their owners see them: settings, key (sealed), derived status, current session.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub status: String,
    /// The SHA-256 of the stream key, which ingest finds the channel by.
    pub stream_key_fingerprint: String,
    /// The stream key sealed under the secrets key (see [`crate::sealing`]).
    pub sealed_stream_key: String,
    pub latency_mode: String,
    pub transcode: String,
    pub dvr_window_seconds: i64,
    pub record_source: bool,
    pub thumbnail_interval_seconds: i64,
    pub reconnect_window_seconds: i64,
    pub max_session_seconds: i64,
    pub playback_policy: String,
    pub current_session_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
