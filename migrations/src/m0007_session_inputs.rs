//! Backup inputs: per session, whether a backup publisher is connected, which input is on air,
//! and how many times the air changed hands (`session.failover`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Sessions {
    Table,
    BackupConnected,
    OnAirInput,
    FailoverCount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::add(
            manager,
            Sessions::Table,
            vec![
                boolean(Sessions::BackupConnected).default(false).to_owned(),
                string(Sessions::OnAirInput).default("primary").to_owned(),
                big_integer(Sessions::FailoverCount).default(0).to_owned(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop(
            manager,
            Sessions::Table,
            vec![
                Sessions::BackupConnected,
                Sessions::OnAirInput,
                Sessions::FailoverCount,
            ],
        )
        .await
    }
}
