//! The channel event history: every channel event, appended in order, never changed.

use sigma_shared::event::EventEnvelope;
use sigma_shared::log::{Offset, Partition};

use crate::db::channel_events::Model;

pub fn row(event: &EventEnvelope, partition: Partition, offset: Offset) -> Option<Model> {
    // The event alone (`{"type", "data"}`), not the whole envelope: only its data is kept.
    let json = serde_json::to_value(&event.event).expect("an event serializes");
    Some(Model {
        event_id: event.id.to_string(),
        account_id: event.account_id.to_string(),
        channel_id: event.channel_id?.to_string(),
        session_id: event.session_id.map(|id| id.to_string()),
        sequence: event.sequence as i64,
        event_type: event.event.type_name().into(),
        schema_version: event.schema_version.into(),
        occurred_at: event.occurred_at,
        data: json["data"].to_string(),
        log_partition: partition as i32,
        log_offset: offset as i64,
    })
}
