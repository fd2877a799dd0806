//! The webhook outbox: a projection of the events topic (group `sigma-webhooks`) that turns each
//! channel event into one pending delivery per matching subscription, in the same transaction as
//! the offset — so every event is queued exactly once, and what is pending survives any restart
//! because it is in the database, not in memory.
//!
//! The body is fixed here, so every attempt and every manual redelivery sends the same bytes.
//! A subscription receives the events that occurred after it was created.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter};
use serde::Serialize;
use sigma_shared::event::{Decision, EventEnvelope};
use sigma_shared::ids::{ChannelId, DeliveryId, EventId, SessionId};
use sigma_shared::log::{Offset, Pace, Partition};
use sigma_shared::webhook::wants;

use super::PENDING;
use crate::db::{webhook_deliveries, webhooks};
use crate::project::ownership::Ownership;
use crate::project::projector::Projection;

pub const GROUP: &str = "sigma-webhooks";

/// What a receiver gets: `{id, type, created_at, channel_id, session_id, sequence, data}`.
#[derive(Serialize)]
struct Body<'a> {
    id: EventId,
    #[serde(rename = "type")]
    event_type: &'a str,
    created_at: chrono::DateTime<Utc>,
    channel_id: ChannelId,
    session_id: Option<SessionId>,
    sequence: u64,
    data: serde_json::Value,
}

pub fn body(event: &EventEnvelope, channel_id: ChannelId) -> String {
    serde_json::to_string(&Body {
        id: event.id,
        event_type: event.event.type_name(),
        created_at: event.occurred_at,
        channel_id,
        session_id: event.session_id,
        sequence: event.sequence,
        data: event.event.public_data(),
    })
    .expect("a body serializes")
}

pub struct Outbox {
    /// The partitions this process owns in the group: the dispatcher sends only their lanes.
    pub ownership: Ownership,
    /// How long a delivery is retried before it is given up.
    pub retry_for: Duration,
}

#[async_trait::async_trait]
impl Projection for Outbox {
    fn group(&self) -> &'static str {
        GROUP
    }

    fn name(&self) -> &'static str {
        "webhooks"
    }

    /// A delivery may leave a fraction of a second later; no request waits for it.
    fn pace(&self) -> Pace {
        Pace::Relaxed
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        decision: &Decision,
        partition: Partition,
        _offset: Offset,
    ) -> Result<(), DbErr> {
        // One decision is about one aggregate, so one account's subscriptions serve them all.
        let mut subscriptions: HashMap<String, Vec<webhooks::Model>> = HashMap::new();
        for event in decision.events() {
            let Some(channel_id) = event.channel_id else {
                continue;
            };
            let account = event.account_id.to_string();
            if !subscriptions.contains_key(&account) {
                let found = webhooks::Entity::find()
                    .filter(webhooks::Column::AccountId.eq(account.as_str()))
                    .filter(webhooks::Column::DeletedAt.is_null())
                    .all(txn)
                    .await?;
                subscriptions.insert(account.clone(), found);
            }
            let now = Utc::now();
            let retry_for = chrono::Duration::from_std(self.retry_for).unwrap_or_default();
            let rows: Vec<webhook_deliveries::ActiveModel> = subscriptions[&account]
                .iter()
                .filter(|webhook| webhook.created_at <= event.occurred_at)
                .filter(|webhook| {
                    let types: Vec<String> =
                        serde_json::from_str(&webhook.event_types).unwrap_or_default();
                    wants(&types, event.event.type_name())
                })
                .map(|webhook| {
                    webhook_deliveries::Model {
                        id: DeliveryId::generate().to_string(),
                        webhook_id: webhook.id.clone(),
                        event_id: event.id.to_string(),
                        event_type: event.event.type_name().to_owned(),
                        channel_id: channel_id.to_string(),
                        sequence: event.sequence as i64,
                        log_partition: partition as i32,
                        body: body(event, channel_id),
                        status: PENDING.to_owned(),
                        attempts: 0,
                        next_attempt_at: now,
                        give_up_at: now + retry_for,
                        last_status_code: None,
                        last_error: None,
                        created_at: now,
                        delivered_at: None,
                    }
                    .into_active_model()
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            webhook_deliveries::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([
                        webhook_deliveries::Column::WebhookId,
                        webhook_deliveries::Column::EventId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        Ok(())
    }

    fn owned(&self, partitions: &HashMap<Partition, Offset>) {
        self.ownership.set(partitions);
    }

    fn applied(&self, _partition: Partition, _next: Offset) {
        self.ownership.nudge();
    }
}
