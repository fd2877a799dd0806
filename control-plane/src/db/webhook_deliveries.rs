//! The webhook outbox: one row per event and matching subscription. Rows are created by the
//! webhook projection (exactly once per event, with the log offset) and moved along by the
//! dispatcher: `pending` → `delivered`, or `failed` once the retry period is over.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub channel_id: String,
    /// The event's place in its channel's stream: deliveries of a lane go in this order.
    pub sequence: i64,
    /// The events-topic partition of the channel: whoever owns it in the webhook group sends.
    pub log_partition: i32,
    /// The exact body sent (and signed) on every attempt.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub give_up_at: DateTimeUtc,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
