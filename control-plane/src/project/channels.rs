//! The channels read model: settings, current key, derived status, current session.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sigma_shared::channel::ChannelStatus;
use sigma_shared::event::{Event, EventEnvelope};
use sigma_shared::settings::ChannelSettings;

use crate::db::channels::Model;

pub fn key(event: &EventEnvelope) -> Option<String> {
    event.channel_id.map(|id| id.to_string())
}

pub fn apply(row: Option<Model>, event: &EventEnvelope) -> Option<Model> {
    let at = event.occurred_at;
    if let Event::ChannelCreated {
        name,
        settings,
        stream_key,
    } = &event.event
    {
        let mut row = Model {
            id: event.channel_id?.to_string(),
            account_id: event.account_id.to_string(),
            name: name.clone(),
            status: ChannelStatus::Idle.as_str().into(),
            stream_key_fingerprint: stream_key.fingerprint.as_str().to_owned(),
            sealed_stream_key: super::sealed_text(&stream_key.key),
            latency_mode: String::new(),
            transcode: String::new(),
            dvr_window_seconds: 0,
            record_source: false,
            thumbnail_interval_seconds: 0,
            reconnect_window_seconds: 0,
            max_session_seconds: 0,
            playback_policy: String::new(),
            current_session_id: None,
            created_at: at,
            updated_at: at,
        };
        write_settings(&mut row, settings);
        return Some(row);
    }
    let mut row = row?;
    match &event.event {
        Event::ChannelUpdated { name, settings } => {
            row.name = name.clone();
            write_settings(&mut row, settings);
        }
        Event::ChannelDeleted {} => return None,
        Event::ChannelStopped {} => row.status = ChannelStatus::Stopped.as_str().into(),
        Event::ChannelResumed {} => row.status = ChannelStatus::Idle.as_str().into(),
        Event::StreamKeyRotated { stream_key } => {
            row.stream_key_fingerprint = stream_key.fingerprint.as_str().to_owned();
            row.sealed_stream_key = super::sealed_text(&stream_key.key);
        }
        Event::SessionStarted { session_id, .. } => {
            row.status = ChannelStatus::Active.as_str().into();
            row.current_session_id = Some(session_id.to_string());
        }
        Event::SessionEnded { .. } => {
            row.status = ChannelStatus::Idle.as_str().into();
            row.current_session_id = None;
        }
        _ => return Some(row),
    }
    row.updated_at = at;
    Some(row)
}

fn write_settings(row: &mut Model, settings: &ChannelSettings) {
    row.latency_mode = enum_text(&settings.latency_mode);
    row.transcode = enum_text(&settings.transcode);
    row.dvr_window_seconds = settings.dvr_window_seconds.into();
    row.record_source = settings.record_source;
    row.thumbnail_interval_seconds = settings.thumbnail_interval_seconds.into();
    row.reconnect_window_seconds = settings.reconnect_window_seconds.into();
    row.max_session_seconds = settings.max_session_seconds.into();
    row.playback_policy = enum_text(&settings.playback_policy);
}

/// The settings a row holds. Rows are only ever written by [`apply`], so they always parse.
pub fn settings(row: &Model) -> ChannelSettings {
    ChannelSettings {
        latency_mode: text_enum(&row.latency_mode),
        transcode: text_enum(&row.transcode),
        dvr_window_seconds: row.dvr_window_seconds as u32,
        record_source: row.record_source,
        thumbnail_interval_seconds: row.thumbnail_interval_seconds as u32,
        reconnect_window_seconds: row.reconnect_window_seconds as u32,
        max_session_seconds: row.max_session_seconds as u32,
        playback_policy: text_enum(&row.playback_policy),
    }
}

/// A unit enum's serde name (`ultra_low`), the form the API and the table share.
pub fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => unreachable!("a unit enum serializes as a string, got {other:?}"),
    }
}

pub fn text_enum<T: DeserializeOwned>(text: &str) -> T {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or_else(|error| {
        panic!("read model holds `{text}`, which no longer parses: {error}")
    })
}
