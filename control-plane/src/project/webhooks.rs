//! The webhook subscriptions read model: one row per subscription, with its signing secrets
//! (sealed).

use sigma_shared::event::{Event, EventEnvelope};

use crate::db::webhooks::Model;

pub fn key(event: &EventEnvelope) -> Option<String> {
    event.event.webhook_id().map(|id| id.to_string())
}

pub fn apply(row: Option<Model>, event: &EventEnvelope) -> Option<Model> {
    match &event.event {
        Event::WebhookCreated {
            webhook_id,
            url,
            event_types,
            secret,
        } => Some(Model {
            id: webhook_id.to_string(),
            account_id: event.account_id.to_string(),
            url: url.clone(),
            event_types: serde_json::to_string(event_types).expect("strings serialize"),
            sealed_secret: super::sealed_text(secret),
            previous_sealed_secret: None,
            previous_valid_until: None,
            created_at: event.occurred_at,
            deleted_at: None,
        }),
        Event::WebhookSecretRotated {
            secret,
            previous_valid_until,
            ..
        } => row.map(|row| Model {
            previous_sealed_secret: Some(row.sealed_secret.clone()),
            previous_valid_until: Some(*previous_valid_until),
            sealed_secret: super::sealed_text(secret),
            ..row
        }),
        Event::WebhookDeleted { .. } => row.map(|row| Model {
            deleted_at: Some(event.occurred_at),
            ..row
        }),
        _ => row,
    }
}
