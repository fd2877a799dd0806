//! Catch-up retention: when each ended session's media expire (a projection of `session.ended`),
//! and when they did (`session.media_expired`, on the session).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MediaExpiry {
    Table,
    SessionId,
    ChannelId,
    LogPartition,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    MediaExpiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MediaExpiry::Table)
                    .if_not_exists()
                    .col(string(MediaExpiry::SessionId).primary_key())
                    .col(string(MediaExpiry::ChannelId))
                    .col(integer(MediaExpiry::LogPartition))
                    .col(timestamp_with_time_zone(MediaExpiry::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("media_expiry_due")
                    .table(MediaExpiry::Table)
                    .col(MediaExpiry::LogPartition)
                    .col(MediaExpiry::ExpiresAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(timestamp_with_time_zone_null(Sessions::MediaExpiredAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::MediaExpiredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(MediaExpiry::Table).to_owned())
            .await
    }
}
