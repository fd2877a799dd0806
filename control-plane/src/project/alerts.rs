//! The alerts read model: one row per alert, open until `alert.cleared`.

use sigma_shared::event::{Event, EventEnvelope};

use crate::db::alerts::Model;

pub fn key(event: &EventEnvelope) -> Option<String> {
    match &event.event {
        // Alerts from before alert ids are known by their event's id.
        Event::AlertRaised { alert_id, .. } => Some(
            alert_id
                .map(|id| id.to_string())
                .unwrap_or_else(|| event.id.to_string()),
        ),
        Event::AlertCleared { alert_id, .. } => Some(alert_id.to_string()),
        _ => None,
    }
}

pub fn apply(row: Option<Model>, event: &EventEnvelope) -> Option<Model> {
    match &event.event {
        Event::AlertRaised {
            session_id,
            code,
            message,
            ..
        } => Some(Model {
            id: key(event)?,
            account_id: event.account_id.to_string(),
            channel_id: event.channel_id?.to_string(),
            session_id: session_id.to_string(),
            code: code.clone(),
            message: message.clone(),
            raised_at: event.occurred_at,
            cleared_at: None,
        }),
        Event::AlertCleared { .. } => row.map(|row| Model {
            cleared_at: Some(event.occurred_at),
            ..row
        }),
        _ => row,
    }
}
