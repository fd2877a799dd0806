//! Webhook subscriptions: the read model of the webhook aggregate, with the (sealed) secrets that sign.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The event-type filter as a JSON array; empty means every type.
    #[sea_orm(column_type = "Text")]
    pub event_types: String,
    /// The signing secret, sealed under the secrets key (see [`crate::sealing`]).
    pub sealed_secret: String,
    /// The secret before the last rotation (sealed), which also signs until
    /// `previous_valid_until`.
    pub previous_sealed_secret: Option<String>,
    pub previous_valid_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// A deleted subscription is kept so its delivery log stays readable.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
