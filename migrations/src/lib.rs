//! The read-model schema, for SQLite (standalone) and PostgreSQL (scale-out) alike.
//!
//! These tables are projections of the event log: they can be dropped and rebuilt by replay at
//! any time, so a migration may change them freely as long as the projections that fill them
//! change with it.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m0001_read_models;
mod m0002_session_media;
mod m0003_webhooks;
mod m0004_media_retention;
mod m0005_alerts;
mod m0006_viewer_spans;
mod m0007_session_inputs;
mod m0008_playback_keys;
mod m0009_token_generation;
mod m0010_media_deletion;
mod m0011_secrets_out_of_history;
mod m0012_sealed_secrets;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_read_models::Migration),
            Box::new(m0002_session_media::Migration),
            Box::new(m0003_webhooks::Migration),
            Box::new(m0004_media_retention::Migration),
            Box::new(m0005_alerts::Migration),
            Box::new(m0006_viewer_spans::Migration),
            Box::new(m0007_session_inputs::Migration),
            Box::new(m0008_playback_keys::Migration),
            Box::new(m0009_token_generation::Migration),
            Box::new(m0010_media_deletion::Migration),
            Box::new(m0011_secrets_out_of_history::Migration),
            Box::new(m0012_sealed_secrets::Migration),
        ]
    }
}
