//! Deleted session media: an expiry row that also takes the session's recording (the owner
//! deleted it), where retention keeps recordings; and when a session's media were deleted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum MediaExpiry {
    Table,
    WithRecording,
}

#[derive(Clone, Copy, DeriveIden)]
enum Sessions {
    Table,
    MediaDeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::add(
            manager,
            MediaExpiry::Table,
            vec![boolean(MediaExpiry::WithRecording).default(false).to_owned()],
        )
        .await?;
        crate::columns::add(
            manager,
            Sessions::Table,
            vec![timestamp_with_time_zone_null(Sessions::MediaDeletedAt)],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop(manager, Sessions::Table, vec![Sessions::MediaDeletedAt]).await?;
        crate::columns::drop(manager, MediaExpiry::Table, vec![MediaExpiry::WithRecording]).await
    }
}
