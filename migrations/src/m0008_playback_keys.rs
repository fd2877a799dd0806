//! Playback keys: each account's Ed25519 public keys that signed playback tokens are verified
//! with. The private halves are kept nowhere.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlaybackKeys {
    Table,
    Id,
    AccountId,
    PublicKey,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlaybackKeys::Table)
                    .if_not_exists()
                    .col(string(PlaybackKeys::Id).primary_key())
                    .col(string(PlaybackKeys::AccountId))
                    .col(string(PlaybackKeys::PublicKey))
                    .col(timestamp_with_time_zone(PlaybackKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("playback_keys_by_account")
                    .table(PlaybackKeys::Table)
                    .col(PlaybackKeys::AccountId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlaybackKeys::Table).to_owned())
            .await
    }
}
