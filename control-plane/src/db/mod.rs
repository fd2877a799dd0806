//! The read-model database: connection, migrations, and one entity per table.
//!
//! SQLite in standalone mode, PostgreSQL in scale-out; the same entities and queries serve both.

pub mod accounts;
pub mod channel_events;
pub mod channels;
pub mod projection_offsets;
pub mod sessions;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
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
