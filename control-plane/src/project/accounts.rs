//! The accounts read model.

use sigma_shared::event::{Event, EventEnvelope};

use crate::db::accounts::Model;

pub fn key(event: &EventEnvelope) -> Option<String> {
    matches!(
        event.event,
        Event::AccountCreated { .. } | Event::TokensRevoked { .. }
    )
    .then(|| event.account_id.to_string())
}

pub fn apply(row: Option<Model>, event: &EventEnvelope) -> Option<Model> {
    match &event.event {
        Event::AccountCreated { name } => Some(Model {
            id: event.account_id.to_string(),
            name: name.clone(),
            created_at: event.occurred_at,
            token_generation: 0,
        }),
        Event::TokensRevoked { generation } => row.map(|row| Model {
            token_generation: row.token_generation.max(i64::from(*generation)),
            ..row
        }),
        _ => row,
    }
}
