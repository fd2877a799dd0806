//! The accounts read model.

use sigma_shared::event::{Event, EventEnvelope};

use crate::db::accounts::Model;

pub fn key(event: &EventEnvelope) -> Option<String> {
    matches!(event.event, Event::AccountCreated { .. }).then(|| event.account_id.to_string())
}

pub fn apply(row: Option<Model>, event: &EventEnvelope) -> Option<Model> {
    match &event.event {
        Event::AccountCreated { name } => Some(Model {
            id: event.account_id.to_string(),
            name: name.clone(),
            created_at: event.occurred_at,
        }),
        _ => row,
    }
}
