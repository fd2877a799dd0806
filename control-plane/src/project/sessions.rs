//! The sessions read model: one row per broadcast.

use sigma_shared::event::{Event, EventEnvelope};
use sigma_shared::session::{Input, SessionStatus};

use crate::db::sessions::Model;

pub fn key(event: &EventEnvelope) -> Option<String> {
    event.event.session_id().map(|id| id.to_string())
}

pub fn apply(row: Option<Model>, event: &EventEnvelope) -> Option<Model> {
    let at = event.occurred_at;
    if let Event::SessionStarted {
        session_id,
        started_at,
    } = &event.event
    {
        return Some(Model {
            id: session_id.to_string(),
            channel_id: event.channel_id?.to_string(),
            account_id: event.account_id.to_string(),
            status: SessionStatus::Init.as_str().into(),
            publisher_connected: true,
            restream_count: 0,
            started_at: *started_at,
            live_at: None,
            ended_at: None,
            end_reason: None,
            error_message: None,
            recording_path: None,
            recording_bytes: None,
            recording_milliseconds: None,
            media_expired_at: None,
            media_deleted_at: None,
            backup_connected: false,
            on_air_input: Input::Primary.as_str().into(),
            failover_count: 0,
        });
    }
    let mut row = row?;
    match &event.event {
        Event::SessionProcessing { .. } => row.status = SessionStatus::Processing.as_str().into(),
        Event::SessionLive { .. } => {
            row.status = SessionStatus::Live.as_str().into();
            row.live_at = Some(at);
        }
        Event::PublisherDisconnected { .. } => row.publisher_connected = false,
        Event::SessionRestreamed { .. } => {
            row.publisher_connected = true;
            row.restream_count += 1;
        }
        Event::BackupConnected { .. } => row.backup_connected = true,
        Event::BackupDisconnected { .. } => {
            row.backup_connected = false;
            row.on_air_input = Input::Primary.as_str().into();
        }
        Event::SessionFailedOver { input, .. } => {
            row.on_air_input = input.as_str().into();
            row.failover_count += 1;
        }
        Event::SessionErrored { message, .. } => {
            row.status = SessionStatus::Error.as_str().into();
            row.error_message = Some(message.clone());
        }
        Event::SessionMediaExpired { .. } => row.media_expired_at = Some(at),
        Event::SessionMediaDeleted { .. } => {
            row.media_expired_at = Some(at);
            row.media_deleted_at = Some(at);
            row.recording_path = None;
            row.recording_bytes = None;
            row.recording_milliseconds = None;
        }
        Event::RecordingReady {
            path,
            duration_seconds,
            bytes,
            ..
        } => {
            row.recording_path = Some(path.clone());
            row.recording_bytes = Some(*bytes as i64);
            row.recording_milliseconds = Some((duration_seconds * 1000.0).round() as i64);
        }
        Event::SessionEnded { reason, .. } => {
            row.status = SessionStatus::Ended.as_str().into();
            row.publisher_connected = false;
            row.backup_connected = false;
            row.ended_at = Some(at);
            row.end_reason = Some(reason.as_str().into());
        }
        _ => {}
    }
    Some(row)
}
