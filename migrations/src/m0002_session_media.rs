//! What a session produced besides its live stream: the finalized source recording.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Sessions {
    Table,
    RecordingPath,
    RecordingBytes,
    RecordingMilliseconds,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::add(
            manager,
            Sessions::Table,
            vec![
                string_null(Sessions::RecordingPath),
                big_integer_null(Sessions::RecordingBytes),
                big_integer_null(Sessions::RecordingMilliseconds),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop(
            manager,
            Sessions::Table,
            vec![
                Sessions::RecordingPath,
                Sessions::RecordingBytes,
                Sessions::RecordingMilliseconds,
            ],
        )
        .await
    }
}
