//! Sessions: one row per broadcast, from `session.init` to `session.ended`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub channel_id: String,
    pub account_id: String,
    pub status: String,
    pub publisher_connected: bool,
    pub restream_count: i64,
    pub started_at: DateTimeUtc,
    pub live_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub end_reason: Option<String>,
    pub error_message: Option<String>,
    /// The finalized source recording, once `recording.ready`.
    pub recording_path: Option<String>,
    pub recording_bytes: Option<i64>,
    pub recording_milliseconds: Option<i64>,
    /// When the catch-up media were deleted (retention, or the owner), if they were.
    pub media_expired_at: Option<DateTimeUtc>,
    /// When the owner deleted the session's media (recording included), if they did.
    pub media_deleted_at: Option<DateTimeUtc>,
    pub backup_connected: bool,
    /// `primary` or `backup`: whose media players get.
    pub on_air_input: String,
    pub failover_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
