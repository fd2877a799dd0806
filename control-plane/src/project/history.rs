//! The channel event history: every channel event, appended in order, never changed.

use sigma_shared::event::EventEnvelope;
use sigma_shared::log::{Offset, Partition};

use crate::db::channel_events::Model;

pub fn row(event: &EventEnvelope, partition: Partition, offset: Offset) -> Option<Model> {
    // Only the event's data is kept, and of it only what may be shown (no secrets).
    Some(Model {
        event_id: event.id.to_string(),
        account_id: event.account_id.to_string(),
        channel_id: event.channel_id?.to_string(),
        session_id: event.session_id.map(|id| id.to_string()),
        sequence: event.sequence as i64,
        event_type: event.event.type_name().into(),
        schema_version: event.schema_version.into(),
        occurred_at: event.occurred_at,
        data: event.event.public_data().to_string(),
        log_partition: partition as i32,
        log_offset: offset as i64,
    })
}
