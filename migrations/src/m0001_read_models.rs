//! Accounts, channels, sessions, channel event history, and the log offsets the projections
//! applied.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Id,
    AccountId,
    Name,
    Status,
    StreamKey,
    LatencyMode,
    Transcode,
    DvrWindowSeconds,
    RecordSource,
    ThumbnailIntervalSeconds,
    ReconnectWindowSeconds,
    MaxSessionSeconds,
    PlaybackPolicy,
    CurrentSessionId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    ChannelId,
    AccountId,
    Status,
    PublisherConnected,
    RestreamCount,
    StartedAt,
    LiveAt,
    EndedAt,
    EndReason,
    ErrorMessage,
}

#[derive(DeriveIden)]
enum ChannelEvents {
    Table,
    EventId,
    AccountId,
    ChannelId,
    SessionId,
    Sequence,
    EventType,
    SchemaVersion,
    OccurredAt,
    Data,
    LogPartition,
    LogOffset,
}

#[derive(DeriveIden)]
enum ProjectionOffsets {
    Table,
    Projection,
    LogPartition,
    NextOffset,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            accounts(),
            channels(),
            sessions(),
            channel_events(),
            projection_offsets(),
        ] {
            manager.create_table(table).await?;
        }
        for index in [
            channels_by_account(),
            channels_by_stream_key(),
            sessions_by_channel(),
            channel_events_in_order(),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProjectionOffsets::Table.into_iden(),
            ChannelEvents::Table.into_iden(),
            Sessions::Table.into_iden(),
            Channels::Table.into_iden(),
            Accounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

fn accounts() -> TableCreateStatement {
    Table::create()
        .table(Accounts::Table)
        .if_not_exists()
        .col(string(Accounts::Id).primary_key())
        .col(string(Accounts::Name))
        .col(timestamp_with_time_zone(Accounts::CreatedAt))
        .to_owned()
}

fn channels() -> TableCreateStatement {
    Table::create()
        .table(Channels::Table)
        .if_not_exists()
        .col(string(Channels::Id).primary_key())
        .col(string(Channels::AccountId))
        .col(string(Channels::Name))
        .col(string(Channels::Status))
        .col(string(Channels::StreamKey))
        .col(string(Channels::LatencyMode))
        .col(string(Channels::Transcode))
        .col(big_integer(Channels::DvrWindowSeconds))
        .col(boolean(Channels::RecordSource))
        .col(big_integer(Channels::ThumbnailIntervalSeconds))
        .col(big_integer(Channels::ReconnectWindowSeconds))
        .col(big_integer(Channels::MaxSessionSeconds))
        .col(string(Channels::PlaybackPolicy))
        .col(string_null(Channels::CurrentSessionId))
        .col(timestamp_with_time_zone(Channels::CreatedAt))
        .col(timestamp_with_time_zone(Channels::UpdatedAt))
        .to_owned()
}

fn channels_by_account() -> IndexCreateStatement {
    Index::create()
        .name("channels_by_account")
        .table(Channels::Table)
        .col(Channels::AccountId)
        .col(Channels::Id)
        .if_not_exists()
        .to_owned()
}

fn channels_by_stream_key() -> IndexCreateStatement {
    Index::create()
        .name("channels_by_stream_key")
        .table(Channels::Table)
        .col(Channels::StreamKey)
        .unique()
        .if_not_exists()
        .to_owned()
}

fn sessions() -> TableCreateStatement {
    Table::create()
        .table(Sessions::Table)
        .if_not_exists()
        .col(string(Sessions::Id).primary_key())
        .col(string(Sessions::ChannelId))
        .col(string(Sessions::AccountId))
        .col(string(Sessions::Status))
        .col(boolean(Sessions::PublisherConnected))
        .col(big_integer(Sessions::RestreamCount))
        .col(timestamp_with_time_zone(Sessions::StartedAt))
        .col(timestamp_with_time_zone_null(Sessions::LiveAt))
        .col(timestamp_with_time_zone_null(Sessions::EndedAt))
        .col(string_null(Sessions::EndReason))
        .col(text_null(Sessions::ErrorMessage))
        .to_owned()
}

fn sessions_by_channel() -> IndexCreateStatement {
    Index::create()
        .name("sessions_by_channel")
        .table(Sessions::Table)
        .col(Sessions::ChannelId)
        .col(Sessions::Id)
        .if_not_exists()
        .to_owned()
}

fn channel_events() -> TableCreateStatement {
    Table::create()
        .table(ChannelEvents::Table)
        .if_not_exists()
        .col(string(ChannelEvents::EventId).primary_key())
        .col(string(ChannelEvents::AccountId))
        .col(string(ChannelEvents::ChannelId))
        .col(string_null(ChannelEvents::SessionId))
        .col(big_integer(ChannelEvents::Sequence))
        .col(string(ChannelEvents::EventType))
        .col(integer(ChannelEvents::SchemaVersion))
        .col(timestamp_with_time_zone(ChannelEvents::OccurredAt))
        .col(text(ChannelEvents::Data))
        .col(integer(ChannelEvents::LogPartition))
        .col(big_integer(ChannelEvents::LogOffset))
        .to_owned()
}

fn channel_events_in_order() -> IndexCreateStatement {
    Index::create()
        .name("channel_events_in_order")
        .table(ChannelEvents::Table)
        .col(ChannelEvents::ChannelId)
        .col(ChannelEvents::Sequence)
        .unique()
        .if_not_exists()
        .to_owned()
}

fn projection_offsets() -> TableCreateStatement {
    Table::create()
        .table(ProjectionOffsets::Table)
        .if_not_exists()
        .col(string(ProjectionOffsets::Projection))
        .col(integer(ProjectionOffsets::LogPartition))
        .col(big_integer(ProjectionOffsets::NextOffset))
        .primary_key(
            Index::create()
                .col(ProjectionOffsets::Projection)
                .col(ProjectionOffsets::LogPartition),
        )
        .to_owned()
}
