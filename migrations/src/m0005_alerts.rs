//! Alerts: one row per alert, from `alert.raised` to `alert.cleared`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    AccountId,
    ChannelId,
    SessionId,
    Code,
    Message,
    RaisedAt,
    ClearedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .if_not_exists()
                    .col(string(Alerts::Id).primary_key())
                    .col(string(Alerts::AccountId))
                    .col(string(Alerts::ChannelId))
                    .col(string(Alerts::SessionId))
                    .col(string(Alerts::Code))
                    .col(text(Alerts::Message))
                    .col(timestamp_with_time_zone(Alerts::RaisedAt))
                    .col(timestamp_with_time_zone_null(Alerts::ClearedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alerts_by_account")
                    .table(Alerts::Table)
                    .col(Alerts::AccountId)
                    .col(Alerts::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alerts::Table).to_owned())
            .await
    }
}
