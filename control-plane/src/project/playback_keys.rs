//! The playback keys read model: one row per key an account has now.

use sigma_shared::event::{Event, EventEnvelope};

use crate::db::playback_keys::Model;

pub fn key(event: &EventEnvelope) -> Option<String> {
    match &event.event {
        Event::PlaybackKeyCreated { key_id, .. } | Event::PlaybackKeyDeleted { key_id } => {
            Some(key_id.to_string())
        }
        _ => None,
    }
}

pub fn apply(row: Option<Model>, event: &EventEnvelope) -> Option<Model> {
    match &event.event {
        Event::PlaybackKeyCreated { key_id, public_key } => Some(Model {
            id: key_id.to_string(),
            account_id: event.account_id.to_string(),
            public_key: public_key.clone(),
            created_at: event.occurred_at,
        }),
        Event::PlaybackKeyDeleted { .. } => None,
        _ => row,
    }
}
