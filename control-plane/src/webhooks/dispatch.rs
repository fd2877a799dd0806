//! The dispatcher: sends what the outbox holds.
//!
//! Deliveries go in *lanes*, one per subscription and channel. A lane sends its deliveries one at
//! a time in the channel's `sequence` order and waits out each retry before the next, which is
//! what per-channel ordering needs; lanes run concurrently and independently, so a dead or slow
//! endpoint holds back only its own lanes. A process sends only the lanes of the events-topic
//! partitions it owns in the `sigma-webhooks` group, so in a scaled-out deployment each lane has
//! one sender, and a partition's lanes move with it when a process dies.
//!
//! Every attempt is recorded (`webhook_attempts`) with the status code or the error, and the
//! delivery's row says what happens next; nothing about a delivery lives only in memory.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use sigma_shared::ids::WebhookId;
use sigma_shared::log::Partition;
use sigma_shared::secret::Sealed;
use tokio::task::JoinHandle;

use super::backoff::Backoff;
use super::{signature, target, DELIVERED, FAILED, PENDING};
use crate::db::{webhook_attempts, webhook_deliveries, webhooks};
use crate::metrics::Metrics;
use crate::project::ownership::Owned;
use crate::sealing::{Purpose, SealingError, SecretsKey};

/// How often the dispatcher looks for pending lanes it was not woken for (manual
/// redeliveries, deliveries queued by another process before a rebalance).
const POLL: Duration = Duration::from_secs(1);
/// Pause after a database error before a lane is looked at again.
const DATABASE_PAUSE: Duration = Duration::from_secs(1);
/// Longest error text kept per attempt.
const MAX_ERROR_CHARS: usize = 500;

#[derive(Clone, Debug)]
pub struct DeliverySettings {
    pub timeout: Duration,
    pub backoff: Backoff,
    pub allow_private: bool,
}

/// One subscription's deliveries for one channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Lane {
    webhook_id: String,
    channel_id: String,
}

pub struct Dispatcher {
    db: DatabaseConnection,
    client: reqwest::Client,
    settings: DeliverySettings,
    metrics: Metrics,
    /// Opens the subscriptions' signing secrets.
    secrets: Arc<SecretsKey>,
}

/// What one attempt came to.
struct Attempt {
    at: DateTime<Utc>,
    status_code: Option<u16>,
    error: Option<String>,
    took: Duration,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

impl Dispatcher {
    pub fn new(
        db: DatabaseConnection,
        settings: DeliverySettings,
        metrics: Metrics,
        secrets: Arc<SecretsKey>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect could lead anywhere, private ranges included: a 3xx is a failure.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would connect for us, past the address checks.
            .no_proxy()
            .dns_resolver(Arc::new(target::GuardedResolver {
                allow_private: settings.allow_private,
            }))
            .user_agent(concat!("Sigma-Live-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            db,
            client,
            settings,
            metrics,
            secrets,
        })
    }

    /// Runs for the life of the process: starts a task per pending lane of the owned partitions,
    /// and stops the lanes of partitions this process no longer owns.
    pub async fn run(self: Arc<Self>, mut owned: Owned) {
        let mut lanes: HashMap<Lane, (i32, JoinHandle<()>)> = HashMap::new();
        loop {
            let partitions = owned.partitions();
            lanes.retain(|_, (partition, task)| {
                let keep = !task.is_finished() && partitions.contains(&(*partition as Partition));
                if !keep {
                    task.abort();
                }
                keep
            });
            match self.pending_lanes(&partitions).await {
                Ok(pending) => {
                    for (lane, partition) in pending {
                        if lanes.contains_key(&lane) {
                            continue;
                        }
                        let task = tokio::spawn(self.clone().drive(lane.clone()));
                        lanes.insert(lane, (partition, task));
                    }
                }
                Err(error) => tracing::warn!(%error, "webhook dispatcher cannot read the outbox"),
            }
            self.metrics.webhook_lanes.set(lanes.len() as i64);
            owned.next_change(POLL).await;
        }
    }

    async fn pending_lanes(
        &self,
        partitions: &BTreeSet<Partition>,
    ) -> Result<Vec<(Lane, i32)>, DbErr> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, i32)> = webhook_deliveries::Entity::find()
            .select_only()
            .column(webhook_deliveries::Column::WebhookId)
            .column(webhook_deliveries::Column::ChannelId)
            .column(webhook_deliveries::Column::LogPartition)
            .distinct()
            .filter(webhook_deliveries::Column::Status.eq(PENDING))
            .filter(
                webhook_deliveries::Column::LogPartition
                    .is_in(partitions.iter().map(|p| *p as i32)),
            )
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(webhook_id, channel_id, partition)| {
                (
                    Lane {
                        webhook_id,
                        channel_id,
                    },
                    partition,
                )
            })
            .collect())
    }

    /// Sends a lane's pending deliveries in order until none is left.
    async fn drive(self: Arc<Self>, lane: Lane) {
        loop {
            match self.step(&lane).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(%error, webhook = lane.webhook_id, channel = lane.channel_id, "webhook lane paused");
                    tokio::time::sleep(DATABASE_PAUSE).await;
                    return;
                }
            }
        }
    }

    /// Makes one attempt at the lane's first pending delivery (after waiting for its time);
    /// `false` when the lane is empty.
    async fn step(&self, lane: &Lane) -> Result<bool, DbErr> {
        let Some(delivery) = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::WebhookId.eq(lane.webhook_id.as_str()))
            .filter(webhook_deliveries::Column::ChannelId.eq(lane.channel_id.as_str()))
            .filter(webhook_deliveries::Column::Status.eq(PENDING))
            .order_by_asc(webhook_deliveries::Column::Sequence)
            .one(&self.db)
            .await?
        else {
            return Ok(false);
        };
        if let Ok(wait) = (delivery.next_attempt_at - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        let subscription = webhooks::Entity::find_by_id(lane.webhook_id.as_str())
            .one(&self.db)
            .await?
            .filter(|subscription| subscription.deleted_at.is_none());
        let Some(subscription) = subscription else {
            self.abandon(lane).await?;
            return Ok(false);
        };
        let attempt = self.send(&subscription, &delivery).await;
        self.record(delivery, attempt).await?;
        Ok(true)
    }

    /// The secrets that sign a delivery sent at `at`, opened: the current one, and the
    /// previous one during a rotation's overlap.
    fn signing_secrets(
        &self,
        subscription: &webhooks::Model,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, SealingError> {
        let webhook = subscription
            .id
            .parse::<WebhookId>()
            .map_err(|_| SealingError::Malformed)?;
        let open = |text: &str| {
            let sealed = Sealed::try_from(text.to_owned())?;
            self.secrets.open(&sealed, Purpose::WebhookSecret(webhook))
        };
        let mut secrets = vec![open(&subscription.sealed_secret)?];
        if let (Some(previous), Some(until)) = (
            &subscription.previous_sealed_secret,
            subscription.previous_valid_until,
        ) {
            if at < until {
                secrets.push(open(previous)?);
            }
        }
        Ok(secrets)
    }

    async fn send(
        &self,
        subscription: &webhooks::Model,
        delivery: &webhook_deliveries::Model,
    ) -> Attempt {
        let at = Utc::now();
        let started = Instant::now();
        let secrets = match self.signing_secrets(subscription, at) {
            Ok(secrets) => secrets,
            // Never sent unsigned: the attempt fails. The delivery log, which the subscriber
            // reads, says only that; the server's log says why.
            Err(error) => {
                tracing::error!(webhook = %subscription.id, %error, "cannot open a webhook's signing secret");
                return Attempt {
                    at,
                    status_code: None,
                    error: Some("the signing secret cannot be opened (see the server log)".into()),
                    took: started.elapsed(),
                };
            }
        };
        if let Err(refused) =
            target::check_before_connecting(&subscription.url, self.settings.allow_private)
        {
            return Attempt {
                at,
                status_code: None,
                error: Some(refused.to_string()),
                took: started.elapsed(),
            };
        }
        let sent = self
            .client
            .post(&subscription.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Sigma-Event-Id", delivery.event_id.as_str())
            .header("Sigma-Delivery-Id", delivery.id.as_str())
            .header(
                "Sigma-Signature",
                signature::header(&secrets, at.timestamp(), delivery.body.as_bytes()),
            )
            .body(delivery.body.clone())
            .send()
            .await;
        let (status_code, error) = match sent {
            Ok(response) => {
                let status = response.status();
                let error =
                    (!status.is_success()).then(|| format!("the endpoint answered {status}"));
                (Some(status.as_u16()), error)
            }
            Err(error) => (None, Some(describe(&error))),
        };
        Attempt {
            at,
            status_code,
            error,
            took: started.elapsed(),
        }
    }

    /// Records an attempt and moves the delivery on: delivered, retried later, or given up.
    async fn record(
        &self,
        delivery: webhook_deliveries::Model,
        attempt: Attempt,
    ) -> Result<(), DbErr> {
        let number = delivery.attempts + 1;
        let txn = crate::db::begin_write(&self.db).await?;
        webhook_attempts::Model {
            delivery_id: delivery.id.clone(),
            attempt: number,
            attempted_at: attempt.at,
            status_code: attempt.status_code.map(i32::from),
            error: attempt.error.clone(),
            duration_ms: attempt.took.as_millis() as i64,
        }
        .into_active_model()
        .insert(&txn)
        .await?;
        let give_up_at = delivery.give_up_at;
        let mut row = delivery.into_active_model();
        row.attempts = Set(number);
        row.last_status_code = Set(attempt.status_code.map(i32::from));
        row.last_error = Set(attempt.error.clone());
        let outcome = if attempt.succeeded() {
            row.status = Set(DELIVERED.to_owned());
            row.delivered_at = Set(Some(attempt.at));
            "delivered"
        } else {
            let pause = self
                .settings
                .backoff
                .delay(number as u32, rand::random::<f64>());
            let next = Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default();
            if next > give_up_at {
                row.status = Set(FAILED.to_owned());
                "given_up"
            } else {
                row.next_attempt_at = Set(next);
                "retried"
            }
        };
        row.update(&txn).await?;
        txn.commit().await?;
        self.metrics
            .webhook_attempts
            .with_label_values(&[outcome])
            .inc();
        Ok(())
    }

    /// The subscription was deleted: its lane's pending deliveries will never go.
    async fn abandon(&self, lane: &Lane) -> Result<(), DbErr> {
        webhook_deliveries::Entity::update_many()
            .col_expr(webhook_deliveries::Column::Status, FAILED.into())
            .col_expr(
                webhook_deliveries::Column::LastError,
                "the subscription was deleted".into(),
            )
            .filter(webhook_deliveries::Column::WebhookId.eq(lane.webhook_id.as_str()))
            .filter(webhook_deliveries::Column::ChannelId.eq(lane.channel_id.as_str()))
            .filter(webhook_deliveries::Column::Status.eq(PENDING))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// A transport error in words a receiver's owner can act on.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(MAX_ERROR_CHARS).collect()
}
