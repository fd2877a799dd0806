//! Projections: the read models the API serves, built from the decisions in the events topic.
//!
//! Each projection is a pure function from (row before, event) to row after — one file per
//! projection — and [`store`] does the I/O around them. [`projector`] runs them live as a
//! consumer-group member; [`replay`] rebuilds everything from offset zero. Both apply a record
//! and store its offset in one transaction, so a record is applied exactly once.

pub mod accounts;
pub mod alerts;
pub mod channels;
pub mod history;
pub mod ownership;
pub mod playback_keys;
pub mod progress;
pub mod projector;
pub mod replay;
pub mod sessions;
mod store;
pub mod webhooks;

use sea_orm::{DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel};
use sigma_shared::event::Decision;
use sigma_shared::log::{Offset, Partition};
use sigma_shared::secret::StoredSecret;

use crate::db;

/// The name under which the read models record their offsets.
pub const PROJECTION: &str = "read_models";

/// A secret as a read model keeps it: sealed. Callers seal legacy secrets first
/// ([`crate::sealing::SecretsKey::seal_legacy`]); one that was not is kept as nothing, never in
/// clear.
fn sealed_text(secret: &StoredSecret) -> String {
    secret
        .sealed()
        .map(|sealed| sealed.as_str().to_owned())
        .unwrap_or_default()
}

/// Applies one decision to every read model. The caller owns the transaction and the offset.
pub async fn apply_decision(
    txn: &DatabaseTransaction,
    decision: &Decision,
    partition: Partition,
    offset: Offset,
) -> Result<(), DbErr> {
    for event in decision.events() {
        store::apply_row::<db::accounts::Entity>(txn, accounts::key(event), |row| {
            accounts::apply(row, event)
        })
        .await?;
        store::apply_row::<db::channels::Entity>(txn, channels::key(event), |row| {
            channels::apply(row, event)
        })
        .await?;
        store::apply_row::<db::sessions::Entity>(txn, sessions::key(event), |row| {
            sessions::apply(row, event)
        })
        .await?;
        store::apply_row::<db::alerts::Entity>(txn, alerts::key(event), |row| {
            alerts::apply(row, event)
        })
        .await?;
        store::apply_row::<db::webhooks::Entity>(txn, webhooks::key(event), |row| {
            webhooks::apply(row, event)
        })
        .await?;
        store::apply_row::<db::playback_keys::Entity>(txn, playback_keys::key(event), |row| {
            playback_keys::apply(row, event)
        })
        .await?;
        if let Some(row) = history::row(event, partition, offset) {
            db::channel_events::Entity::insert(row.into_active_model())
                .exec_without_returning(txn)
                .await?;
        }
    }
    Ok(())
}
