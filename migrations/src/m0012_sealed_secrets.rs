//! Secrets sealed at rest: a channel row kept its stream key in clear, a subscription row its
//! signing secrets. Now a channel row keeps its key's fingerprint (the SHA-256 ingest looks a
//! key up by) and the key sealed under the deployment's secrets key; a subscription row keeps
//! its secrets sealed.
//!
//! Sealing needs the secrets key, which a migration does not have. So the rows are not
//! converted here: the read models are emptied, with their offsets, and the projector rebuilds
//! them from the log when the control plane starts — sealing, as it goes, the secrets of the
//! events written before (the control plane's `SecretsKey::seal_legacy`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Channels {
    Table,
    StreamKey,
    StreamKeyFingerprint,
    SealedStreamKey,
}

#[derive(Clone, Copy, DeriveIden)]
enum Webhooks {
    Table,
    Secret,
    PreviousSecret,
    SealedSecret,
    PreviousSealedSecret,
}

#[derive(Clone, Copy, DeriveIden)]
enum ProjectionOffsets {
    Table,
    Projection,
}

/// The tables the read-model projection (`read_models`) fills.
const READ_MODELS: [&str; 7] = [
    "channel_events",
    "sessions",
    "channels",
    "accounts",
    "webhooks",
    "alerts",
    "playback_keys",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        empty_read_models(manager).await?;
        manager
            .drop_index(
                Index::drop()
                    .name("channels_by_stream_key")
                    .table(Channels::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        crate::columns::drop(manager, Channels::Table, vec![Channels::StreamKey]).await?;
        crate::columns::add(
            manager,
            Channels::Table,
            vec![
                string(Channels::StreamKeyFingerprint)
                    .default("")
                    .to_owned(),
                string(Channels::SealedStreamKey).default("").to_owned(),
            ],
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("channels_by_stream_key_fingerprint")
                    .table(Channels::Table)
                    .col(Channels::StreamKeyFingerprint)
                    .unique()
                    .to_owned(),
            )
            .await?;
        crate::columns::drop(
            manager,
            Webhooks::Table,
            vec![Webhooks::Secret, Webhooks::PreviousSecret],
        )
        .await?;
        crate::columns::add(
            manager,
            Webhooks::Table,
            vec![
                string(Webhooks::SealedSecret).default("").to_owned(),
                string_null(Webhooks::PreviousSealedSecret),
            ],
        )
        .await
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        // Secrets are never put back in clear.
        Err(DbErr::Migration(
            "secrets are not unsealed: restore a backup taken before this migration".into(),
        ))
    }
}

/// Deletes every row the read-model projection wrote, and where it had got to in the log.
async fn empty_read_models(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    for table in READ_MODELS {
        let delete = Query::delete().from_table(Alias::new(table)).to_owned();
        db.execute(backend.build(&delete)).await?;
    }
    let offsets = Query::delete()
        .from_table(ProjectionOffsets::Table)
        .and_where(Expr::col(ProjectionOffsets::Projection).eq("read_models"))
        .to_owned();
    db.execute(backend.build(&offsets)).await?;
    Ok(())
}
