//! Viewer spans: the merged runs of a playback session's requests while it watched a session.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "viewer_spans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub playback_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    pub channel_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
