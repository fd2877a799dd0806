//! Webhooks: every channel event, signed and delivered at least once to each subscription that
//! asked for its type, in per-channel `sequence` order per endpoint.
//!
//! The flow: the [`outbox`] projection queues one delivery per event and subscription in the
//! database (exactly once, with the log offset); the [`dispatch`]er sends them, lane by lane,
//! retrying with [`backoff`] until the retry period ends, and records every attempt; each request
//! carries a [`signature`] by the subscription's secrets, opened from their sealed form only to sign; targets are checked by [`target`]. Subscriptions themselves are an
//! aggregate (`sigma_shared::webhook`) with a read model in `project::webhooks`.
//!
//! Depends on the database and the log (through the projector); knows nothing of the API.

pub mod backoff;
pub mod dispatch;
pub mod outbox;
pub mod signature;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use self::dispatch::{DeliverySettings, Dispatcher};
use self::outbox::Outbox;
use crate::metrics::Metrics;
use crate::project::ownership::Ownership;
use crate::sealing::SecretsKey;

/// Delivery statuses as stored.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// How webhooks are delivered (`SIGMA_WEBHOOK_*`).
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Allow loopback and private-range targets (`SIGMA_WEBHOOK_ALLOW_PRIVATE=1`).
    pub allow_private: bool,
    /// Per-attempt timeout (`SIGMA_WEBHOOK_TIMEOUT_MS`, default 10 s).
    pub timeout: Duration,
    /// How long a delivery is retried (`SIGMA_WEBHOOK_RETRY_FOR_SECONDS`, default 24 h).
    pub retry_for: Duration,
    /// First retry pause, doubled per failure (`SIGMA_WEBHOOK_BACKOFF_BASE_MS`, default 1 s)…
    pub backoff_base: Duration,
    /// …up to this (`SIGMA_WEBHOOK_BACKOFF_MAX_MS`, default 1 h).
    pub backoff_max: Duration,
}

/// Starts the dispatcher; returns the outbox projection for the projector to run.
pub fn start(
    db: sea_orm::DatabaseConnection,
    settings: DeliverySettings,
    retry_for: Duration,
    metrics: Metrics,
    secrets: Arc<SecretsKey>,
) -> Result<Arc<Outbox>, reqwest::Error> {
    let (ownership, owned) = Ownership::new();
    let dispatcher = Arc::new(Dispatcher::new(db, settings, metrics, secrets)?);
    tokio::spawn(dispatcher.run(owned));
    Ok(Arc::new(Outbox {
        ownership,
        retry_for,
    }))
}
