//! The read-model database: connection, migrations, and one entity per table.
//!
//! SQLite in standalone mode, PostgreSQL in scale-out; the same entities and queries serve both.

pub mod accounts;
pub mod alerts;
pub mod channel_events;
pub mod channels;
pub mod media_expiry;
pub mod playback_keys;
pub mod projection_offsets;
pub mod sessions;
pub mod viewer_spans;
pub mod webhook_attempts;
pub mod webhook_deliveries;
pub mod webhooks;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, TransactionTrait,
};
use sigma_migrations::{Migrator, MigratorTrait};

/// Connects and brings the schema up to date.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if url.starts_with("sqlite:") { 4 } else { 16 })
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        // WAL lets the API read while the projector writes. The log is the source of truth, so
        // a transaction lost to a power cut is simply applied again from its offset.
        db.execute_unprepared("PRAGMA journal_mode=WAL;").await?;
        db.execute_unprepared("PRAGMA busy_timeout=5000;").await?;
    }
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Begins a transaction that will write. On SQLite it takes the write lock first, while the
/// busy timeout still applies: a transaction that reads and then writes would otherwise fail at
/// once ("database is locked") whenever another writer — the projector, the webhook outbox, the
/// dispatcher — committed in between.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE projection_offsets SET next_offset = next_offset WHERE 0")
            .await?;
    }
    Ok(txn)
}
