//! Every event of every channel, in order: the channel's history as the API returns it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub account_id: String,
    pub channel_id: String,
    pub session_id: Option<String>,
    pub sequence: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub occurred_at: DateTimeUtc,
    /// The event's data as JSON text.
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub log_partition: i32,
    pub log_offset: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
