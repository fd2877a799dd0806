//! Webhook subscriptions (a read model of the webhook aggregate), the delivery outbox (a
//! projection of the events topic, one row per event and subscription, on which the dispatcher
//! records each delivery's progress) and every attempt made.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    AccountId,
    Url,
    EventTypes,
    Secret,
    PreviousSecret,
    PreviousValidUntil,
    CreatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    EventId,
    EventType,
    ChannelId,
    Sequence,
    LogPartition,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    GiveUpAt,
    LastStatusCode,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    DeliveryId,
    Attempt,
    AttemptedAt,
    StatusCode,
    Error,
    DurationMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [webhooks(), webhook_deliveries(), webhook_attempts()] {
            manager.create_table(table).await?;
        }
        for index in [
            webhooks_by_account(),
            webhook_deliveries_once(),
            webhook_deliveries_pending(),
            webhook_deliveries_by_lane(),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn webhooks() -> TableCreateStatement {
    Table::create()
        .table(Webhooks::Table)
        .if_not_exists()
        .col(string(Webhooks::Id).primary_key())
        .col(string(Webhooks::AccountId))
        .col(text(Webhooks::Url))
        .col(text(Webhooks::EventTypes))
        .col(string(Webhooks::Secret))
        .col(string_null(Webhooks::PreviousSecret))
        .col(timestamp_with_time_zone_null(Webhooks::PreviousValidUntil))
        .col(timestamp_with_time_zone(Webhooks::CreatedAt))
        .col(timestamp_with_time_zone_null(Webhooks::DeletedAt))
        .to_owned()
}

fn webhooks_by_account() -> IndexCreateStatement {
    Index::create()
        .name("webhooks_by_account")
        .table(Webhooks::Table)
        .col(Webhooks::AccountId)
        .col(Webhooks::Id)
        .if_not_exists()
        .to_owned()
}

fn webhook_deliveries() -> TableCreateStatement {
    Table::create()
        .table(WebhookDeliveries::Table)
        .if_not_exists()
        .col(string(WebhookDeliveries::Id).primary_key())
        .col(string(WebhookDeliveries::WebhookId))
        .col(string(WebhookDeliveries::EventId))
        .col(string(WebhookDeliveries::EventType))
        .col(string(WebhookDeliveries::ChannelId))
        .col(big_integer(WebhookDeliveries::Sequence))
        .col(integer(WebhookDeliveries::LogPartition))
        .col(text(WebhookDeliveries::Body))
        .col(string(WebhookDeliveries::Status))
        .col(integer(WebhookDeliveries::Attempts))
        .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
        .col(timestamp_with_time_zone(WebhookDeliveries::GiveUpAt))
        .col(integer_null(WebhookDeliveries::LastStatusCode))
        .col(text_null(WebhookDeliveries::LastError))
        .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
        .col(timestamp_with_time_zone_null(
            WebhookDeliveries::DeliveredAt,
        ))
        .to_owned()
}

/// One delivery per event and subscription, however often the event is projected.
fn webhook_deliveries_once() -> IndexCreateStatement {
    Index::create()
        .name("webhook_deliveries_once")
        .table(WebhookDeliveries::Table)
        .col(WebhookDeliveries::WebhookId)
        .col(WebhookDeliveries::EventId)
        .unique()
        .if_not_exists()
        .to_owned()
}

/// The dispatcher's question: what is pending in the partitions I own?
fn webhook_deliveries_pending() -> IndexCreateStatement {
    Index::create()
        .name("webhook_deliveries_pending")
        .table(WebhookDeliveries::Table)
        .col(WebhookDeliveries::Status)
        .col(WebhookDeliveries::LogPartition)
        .if_not_exists()
        .to_owned()
}

/// A lane (one subscription, one channel) in sequence order; and the delivery log.
fn webhook_deliveries_by_lane() -> IndexCreateStatement {
    Index::create()
        .name("webhook_deliveries_by_lane")
        .table(WebhookDeliveries::Table)
        .col(WebhookDeliveries::WebhookId)
        .col(WebhookDeliveries::ChannelId)
        .col(WebhookDeliveries::Sequence)
        .if_not_exists()
        .to_owned()
}

fn webhook_attempts() -> TableCreateStatement {
    Table::create()
        .table(WebhookAttempts::Table)
        .if_not_exists()
        .col(string(WebhookAttempts::DeliveryId))
        .col(integer(WebhookAttempts::Attempt))
        .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
        .col(integer_null(WebhookAttempts::StatusCode))
        .col(text_null(WebhookAttempts::Error))
        .col(big_integer(WebhookAttempts::DurationMs))
        .primary_key(
            Index::create()
                .col(WebhookAttempts::DeliveryId)
                .col(WebhookAttempts::Attempt),
        )
        .to_owned()
}
