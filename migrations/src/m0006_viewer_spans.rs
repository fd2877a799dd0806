//! Viewer spans: per playback session and live session, the merged runs of its requests, from
//! which analytics computes CCU, views and watch time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ViewerSpans {
    Table,
    PlaybackId,
    SessionId,
    ChannelId,
    StartMs,
    EndMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ViewerSpans::Table)
                    .if_not_exists()
                    .col(string(ViewerSpans::PlaybackId))
                    .col(string(ViewerSpans::SessionId))
                    .col(string(ViewerSpans::ChannelId))
                    .col(big_integer(ViewerSpans::StartMs))
                    .col(big_integer(ViewerSpans::EndMs))
                    .primary_key(
                        Index::create()
                            .col(ViewerSpans::PlaybackId)
                            .col(ViewerSpans::SessionId)
                            .col(ViewerSpans::StartMs),
                    )
                    .to_owned(),
            )
            .await?;
        // A channel's or a session's spans over a range; the live CCU reads recent ends.
        for (name, column) in [
            ("viewer_spans_by_channel", ViewerSpans::ChannelId),
            ("viewer_spans_by_session", ViewerSpans::SessionId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ViewerSpans::Table)
                        .col(column)
                        .col(ViewerSpans::EndMs)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ViewerSpans::Table).to_owned())
            .await
    }
}
