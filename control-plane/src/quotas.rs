//! The quotas the control plane counts on its read models: the channels and the webhook
//! subscriptions of an account. The limits and the per-account locks are
//! [`sigma_edge_worker::quotas`], which ingest counts open sessions with.

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter};
use sigma_edge_worker::quotas::{Counted, Quotas};
use sigma_shared::ids::AccountId;
use tokio::sync::MutexGuard;

use crate::db;

pub type QuotaError = sigma_edge_worker::quotas::QuotaError<DbErr>;

/// Room for one more channel: hold the guard until the channel's command is decided.
pub async fn room_for_a_channel<'q>(
    quotas: &'q Quotas,
    db: &DatabaseConnection,
    account: AccountId,
) -> Result<MutexGuard<'q, ()>, QuotaError> {
    let count = db::channels::Entity::find()
        .filter(db::channels::Column::AccountId.eq(account.to_string()))
        .count(db);
    quotas.admit(account, Counted::Channels, count).await
}

/// Room for one more webhook subscription: hold the guard until its command is decided.
pub async fn room_for_a_webhook<'q>(
    quotas: &'q Quotas,
    db: &DatabaseConnection,
    account: AccountId,
) -> Result<MutexGuard<'q, ()>, QuotaError> {
    let count = db::webhooks::Entity::find()
        .filter(db::webhooks::Column::AccountId.eq(account.to_string()))
        .filter(db::webhooks::Column::DeletedAt.is_null())
        .count(db);
    quotas.admit(account, Counted::Webhooks, count).await
}
