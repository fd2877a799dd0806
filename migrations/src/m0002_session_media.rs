//! What a session produced besides its live stream: the finalized source recording.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    RecordingPath,
    RecordingBytes,
    RecordingMilliseconds,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds columns one at a time.
        for column in [
            string_null(Sessions::RecordingPath),
            big_integer_null(Sessions::RecordingBytes),
            big_integer_null(Sessions::RecordingMilliseconds),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Sessions::RecordingPath,
            Sessions::RecordingBytes,
            Sessions::RecordingMilliseconds,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
