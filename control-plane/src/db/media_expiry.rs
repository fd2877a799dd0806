//! When each ended session's catch-up media expire (or were deleted by the owner): one row per
//! session until they are deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media_expiry")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    pub channel_id: String,
    /// The channel's events-topic partition: its owner in `sigma-retention` does the deleting.
    pub log_partition: i32,
    pub expires_at: DateTimeUtc,
    /// The owner deleted the session's media: its recording goes too.
    pub with_recording: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
