//! Events: the facts the log keeps, each with a type and a schema version.
//!
//! The JSON form of an event is `{"type": "session.live", "schema_version": 1, "data": {…}, …}`.
//! Events are never edited: when a type's data changes shape, its version goes up and
//! [`upcast`] turns older versions into the current one as they are read, so a log written by an
//! older release still replays.
//!
//! A [`Decision`] is the record a decider appends for each command: the events it produced, or
//! why it refused. Keeping both in one record makes a command's events atomic without log
//! transactions, and lets the caller learn the outcome of its own command.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{
    AccountId, AlertId, ChannelId, CommandId, EventId, PlaybackKeyId, SessionId, WebhookId,
};
use crate::rejection::Rejection;
use crate::secret::{KeyFingerprint, StoredSecret, StreamKeyAtRest};
use crate::session::{EndReason, Input};
use crate::settings::ChannelSettings;

/// A fact about an account or a channel (and the channel's sessions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    #[serde(rename = "account.created")]
    AccountCreated { name: String },
    /// A playback signing key: its public half (not a secret; the private half was shown to
    /// the account once and is kept nowhere).
    #[serde(rename = "playback_key.created")]
    PlaybackKeyCreated {
        key_id: PlaybackKeyId,
        public_key: String,
    },
    #[serde(rename = "playback_key.deleted")]
    PlaybackKeyDeleted { key_id: PlaybackKeyId },
    /// Every API token of the account minted before is revoked: tokens carry the generation
    /// they were minted under, and this is the account's new one.
    #[serde(rename = "tokens.revoked")]
    TokensRevoked { generation: u32 },
    #[serde(rename = "channel.created")]
    ChannelCreated {
        name: String,
        settings: ChannelSettings,
        stream_key: StreamKeyAtRest,
    },
    #[serde(rename = "channel.updated")]
    ChannelUpdated {
        name: String,
        settings: ChannelSettings,
    },
    #[serde(rename = "channel.deleted")]
    ChannelDeleted {},
    #[serde(rename = "channel.stopped")]
    ChannelStopped {},
    #[serde(rename = "channel.resumed")]
    ChannelResumed {},
    #[serde(rename = "channel.stream_key_rotated")]
    StreamKeyRotated { stream_key: StreamKeyAtRest },
    #[serde(rename = "session.init")]
    SessionStarted {
        session_id: SessionId,
        started_at: DateTime<Utc>,
    },
    #[serde(rename = "session.preview")]
    SessionProcessing { session_id: SessionId },
    #[serde(rename = "session.live")]
    SessionLive { session_id: SessionId },
    #[serde(rename = "session.publisher_disconnected")]
    PublisherDisconnected {
        session_id: SessionId,
        at: DateTime<Utc>,
        /// Where the connection's media timeline ended (ms).
        #[serde(default)]
        media_end_ms: u64,
    },
    #[serde(rename = "session.restream")]
    SessionRestreamed {
        session_id: SessionId,
        /// Where the returning connection's media timeline starts (ms): the session's end so far.
        #[serde(default)]
        resume_at_ms: u64,
    },
    /// A backup publisher connected; it stands by while the primary streams.
    #[serde(rename = "session.backup_connected")]
    BackupConnected { session_id: SessionId },
    /// The backup publisher is gone.
    #[serde(rename = "session.backup_disconnected")]
    BackupDisconnected {
        session_id: SessionId,
        at: DateTime<Utc>,
        #[serde(default)]
        media_end_ms: u64,
    },
    /// Playback switched to `input` (the other input is gone or stalled, or the primary is
    /// back): a discontinuity in the same session, whose timeline continues at `resume_at_ms`.
    #[serde(rename = "session.failover")]
    SessionFailedOver {
        session_id: SessionId,
        input: Input,
        at: DateTime<Utc>,
        resume_at_ms: u64,
    },
    #[serde(rename = "session.error")]
    SessionErrored {
        session_id: SessionId,
        message: String,
    },
    #[serde(rename = "session.ended")]
    SessionEnded {
        session_id: SessionId,
        reason: EndReason,
    },
    /// Something needs the broadcaster's or the operator's attention while the session goes
    /// on (the transcoder crashed or fell behind, …). `code` is stable; `message` says more.
    #[serde(rename = "alert.raised")]
    AlertRaised {
        session_id: SessionId,
        /// Absent in alerts raised before alerts could be cleared.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alert_id: Option<AlertId>,
        code: String,
        message: String,
    },
    /// The trouble `alert.raised` said is over (or its session ended).
    #[serde(rename = "alert.cleared")]
    AlertCleared {
        session_id: SessionId,
        alert_id: AlertId,
        code: String,
    },
    /// The session's source recording is finalized: one MP4 across its reconnects, stored at
    /// `path` in the object store.
    #[serde(rename = "recording.ready")]
    RecordingReady {
        session_id: SessionId,
        path: String,
        duration_seconds: f64,
        bytes: u64,
    },
    /// The session's first thumbnail is stored; `/thumbs/{session}/latest.jpg` serves the newest.
    #[serde(rename = "thumbnail.ready")]
    ThumbnailReady { session_id: SessionId, path: String },
    /// The ended session's storyboard is complete: `thumbnails` tiles over its whole duration.
    #[serde(rename = "storyboard.ready")]
    StoryboardReady {
        session_id: SessionId,
        thumbnails: u32,
    },
    /// The ended session's catch-up media were deleted: its retention period is over.
    #[serde(rename = "session.media_expired")]
    SessionMediaExpired { session_id: SessionId },
    /// The owner deleted the ended session's recording and catch-up media: playback stops
    /// serving them at once, the objects are deleted from the store right after, and nothing of
    /// the session is stored again.
    #[serde(rename = "session.media_deleted")]
    SessionMediaDeleted { session_id: SessionId },
    /// A subscription to the owner's channel events (the webhook aggregate; see
    /// [`crate::webhook`]).
    #[serde(rename = "webhook.created")]
    WebhookCreated {
        webhook_id: WebhookId,
        url: String,
        event_types: Vec<String>,
        secret: StoredSecret,
    },
    /// A new signing secret; the previous one also signs until `previous_valid_until`.
    #[serde(rename = "webhook.secret_rotated")]
    WebhookSecretRotated {
        webhook_id: WebhookId,
        secret: StoredSecret,
        previous_valid_until: DateTime<Utc>,
    },
    #[serde(rename = "webhook.deleted")]
    WebhookDeleted { webhook_id: WebhookId },
}

/// Fields of event data that hold a secret: a stream key is the right to publish on a channel,
/// a webhook secret the right to sign as the platform.
const SECRET_FIELDS: [&str; 2] = ["stream_key", "secret"];

impl Event {
    /// The event's data as the history and webhook bodies show it: a secret's change is told
    /// (the event's type says a key was rotated), never the secret.
    pub fn public_data(&self) -> Value {
        let mut tagged = serde_json::to_value(self).expect("an event serializes");
        let mut data = tagged["data"].take();
        if let Some(fields) = data.as_object_mut() {
            for secret in SECRET_FIELDS {
                fields.remove(secret);
            }
        }
        data
    }

    /// The type name as it appears in JSON, history and webhooks.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::AccountCreated { .. } => "account.created",
            Self::PlaybackKeyCreated { .. } => "playback_key.created",
            Self::PlaybackKeyDeleted { .. } => "playback_key.deleted",
            Self::TokensRevoked { .. } => "tokens.revoked",
            Self::ChannelCreated { .. } => "channel.created",
            Self::ChannelUpdated { .. } => "channel.updated",
            Self::ChannelDeleted {} => "channel.deleted",
            Self::ChannelStopped {} => "channel.stopped",
            Self::ChannelResumed {} => "channel.resumed",
            Self::StreamKeyRotated { .. } => "channel.stream_key_rotated",
            Self::SessionStarted { .. } => "session.init",
            Self::SessionProcessing { .. } => "session.preview",
            Self::SessionLive { .. } => "session.live",
            Self::PublisherDisconnected { .. } => "session.publisher_disconnected",
            Self::SessionRestreamed { .. } => "session.restream",
            Self::BackupConnected { .. } => "session.backup_connected",
            Self::BackupDisconnected { .. } => "session.backup_disconnected",
            Self::SessionFailedOver { .. } => "session.failover",
            Self::SessionErrored { .. } => "session.error",
            Self::SessionEnded { .. } => "session.ended",
            Self::AlertRaised { .. } => "alert.raised",
            Self::AlertCleared { .. } => "alert.cleared",
            Self::RecordingReady { .. } => "recording.ready",
            Self::SessionMediaExpired { .. } => "session.media_expired",
            Self::SessionMediaDeleted { .. } => "session.media_deleted",
            Self::ThumbnailReady { .. } => "thumbnail.ready",
            Self::StoryboardReady { .. } => "storyboard.ready",
            Self::WebhookCreated { .. } => "webhook.created",
            Self::WebhookSecretRotated { .. } => "webhook.secret_rotated",
            Self::WebhookDeleted { .. } => "webhook.deleted",
        }
    }

    /// The session this event is about, if any.
    /// The subscription a webhook aggregate's event is about (such events have no channel).
    pub fn webhook_id(&self) -> Option<WebhookId> {
        match self {
            Self::WebhookCreated { webhook_id, .. }
            | Self::WebhookSecretRotated { webhook_id, .. }
            | Self::WebhookDeleted { webhook_id } => Some(*webhook_id),
            _ => None,
        }
    }

    pub fn session_id(&self) -> Option<SessionId> {
        match self {
            Self::SessionStarted { session_id, .. }
            | Self::SessionProcessing { session_id }
            | Self::SessionLive { session_id }
            | Self::PublisherDisconnected { session_id, .. }
            | Self::SessionRestreamed { session_id, .. }
            | Self::BackupConnected { session_id }
            | Self::BackupDisconnected { session_id, .. }
            | Self::SessionFailedOver { session_id, .. }
            | Self::SessionErrored { session_id, .. }
            | Self::SessionEnded { session_id, .. }
            | Self::AlertRaised { session_id, .. }
            | Self::AlertCleared { session_id, .. }
            | Self::RecordingReady { session_id, .. }
            | Self::SessionMediaExpired { session_id }
            | Self::SessionMediaDeleted { session_id }
            | Self::ThumbnailReady { session_id, .. }
            | Self::StoryboardReady { session_id, .. } => Some(*session_id),
            _ => None,
        }
    }
}

/// The event types whose data holds a secret. At schema version 1 they held it in clear; since
/// version 2 they hold it sealed (see [`crate::secret`]).
const SECRET_BEARING_TYPES: [&str; 4] = [
    "channel.created",
    "channel.stream_key_rotated",
    "webhook.created",
    "webhook.secret_rotated",
];

/// The schema version this build writes for an event type. Raise it (and teach [`upcast`] the
/// old shape) whenever a type's data changes.
pub fn current_schema_version(event_type: &str) -> u16 {
    if SECRET_BEARING_TYPES.contains(&event_type) {
        2
    } else {
        1
    }
}

/// Why a stored event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("event type {event_type} has schema version {version}, newer than this build knows ({known}); upgrade this process")]
    FutureVersion {
        event_type: String,
        version: u16,
        known: u16,
    },
    #[error("malformed log record: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Turns an event's data of an older schema version into the current shape; versions newer
/// than this build are refused rather than misread.
///
/// Version 1 → 2 of the secret-bearing types: a stream key in clear becomes its fingerprint
/// beside the key marked legacy, and a webhook secret in clear is marked legacy — the control
/// plane seals legacy secrets as it projects them, and nothing writes them again.
pub fn upcast(event_type: &str, version: u16, mut data: Value) -> Result<Value, DecodeError> {
    let known = current_schema_version(event_type);
    if version > known {
        return Err(DecodeError::FutureVersion {
            event_type: event_type.to_owned(),
            version,
            known,
        });
    }
    if version < 2 {
        match event_type {
            "channel.created" | "channel.stream_key_rotated" => {
                mark_legacy(&mut data, "stream_key", |clear, marked| {
                    let fingerprint = KeyFingerprint::of(clear);
                    marked.insert("fingerprint".into(), fingerprint.as_str().into());
                });
            }
            "webhook.created" | "webhook.secret_rotated" => {
                mark_legacy(&mut data, "secret", |_, _| {});
            }
            _ => {}
        }
    }
    Ok(data)
}

/// Replaces `data[field]`, a secret in clear, by `{"legacy": clear}` plus what `describe` adds.
/// A field of another shape is left for deserialization to refuse.
fn mark_legacy(
    data: &mut Value,
    field: &str,
    describe: impl FnOnce(&str, &mut serde_json::Map<String, Value>),
) {
    let Some(Value::String(clear)) = data.get(field) else {
        return;
    };
    let clear = clear.clone();
    let mut marked = serde_json::Map::new();
    describe(&clear, &mut marked);
    marked.insert("legacy".into(), Value::String(clear));
    data[field] = Value::Object(marked);
}

/// An event with its identity and place in its stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventEnvelope {
    pub id: EventId,
    /// The owning account: the account itself for account events, the channel's owner otherwise.
    pub account_id: AccountId,
    pub channel_id: Option<ChannelId>,
    pub session_id: Option<SessionId>,
    /// Position in the aggregate's own stream, from 1, without gaps.
    pub sequence: u64,
    pub occurred_at: DateTime<Utc>,
    pub command_id: CommandId,
    pub schema_version: u16,
    #[serde(flatten)]
    pub event: Event,
}

#[cfg(any(test, feature = "testing"))]
impl EventEnvelope {
    /// `event` as a decider accepts it now, first in its stream: what a fold's tests feed it.
    pub fn accepted_now(
        account_id: AccountId,
        channel_id: Option<ChannelId>,
        event: Event,
    ) -> Self {
        Self {
            id: EventId::generate(),
            account_id,
            channel_id,
            session_id: event.session_id(),
            sequence: 1,
            occurred_at: Utc::now(),
            command_id: CommandId::generate(),
            schema_version: current_schema_version(event.type_name()),
            event,
        }
    }
}

/// The stored shape, read before the data is upcast.
#[derive(Deserialize)]
struct StoredEnvelope {
    id: EventId,
    account_id: AccountId,
    channel_id: Option<ChannelId>,
    session_id: Option<SessionId>,
    sequence: u64,
    occurred_at: DateTime<Utc>,
    command_id: CommandId,
    schema_version: u16,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    data: Value,
}

impl<'de> Deserialize<'de> for EventEnvelope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let stored = StoredEnvelope::deserialize(deserializer)?;
        let data = upcast(&stored.event_type, stored.schema_version, stored.data)
            .map_err(D::Error::custom)?;
        let event = serde_json::from_value(serde_json::json!({
            "type": stored.event_type,
            "data": data,
        }))
        .map_err(D::Error::custom)?;
        Ok(Self {
            id: stored.id,
            account_id: stored.account_id,
            channel_id: stored.channel_id,
            session_id: stored.session_id,
            sequence: stored.sequence,
            occurred_at: stored.occurred_at,
            command_id: stored.command_id,
            schema_version: current_schema_version(&stored.event_type),
            event,
        })
    }
}

/// What a decider concluded about one command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Accepted { events: Vec<EventEnvelope> },
    Rejected { rejection: Rejection },
}

/// The record a decider appends to the events topic for each command it decides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub command_id: CommandId,
    /// The aggregate (log key) the command was for.
    pub stream: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Decision {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a decision always serializes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    pub fn events(&self) -> &[EventEnvelope] {
        match &self.outcome {
            Outcome::Accepted { events } => events,
            Outcome::Rejected { .. } => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(event: Event) -> EventEnvelope {
        EventEnvelope {
            id: EventId::generate(),
            account_id: AccountId::generate(),
            channel_id: Some(ChannelId::generate()),
            session_id: event.session_id(),
            sequence: 3,
            occurred_at: Utc::now(),
            command_id: CommandId::generate(),
            schema_version: 1,
            event,
        }
    }

    fn sealed(text: &str) -> StoredSecret {
        StoredSecret::Sealed(crate::secret::Sealed::try_from(text.to_owned()).unwrap())
    }

    fn stream_key(clear: &str) -> StreamKeyAtRest {
        StreamKeyAtRest {
            fingerprint: KeyFingerprint::of(clear),
            key: sealed("v1.k1.sealed-key"),
        }
    }

    #[test]
    fn public_data_tells_of_a_secret_never_what_it_is() {
        let created = Event::ChannelCreated {
            name: "studio".into(),
            settings: ChannelSettings::default(),
            stream_key: stream_key("sk_the_key_itself_0123456789"),
        };
        let shown = created.public_data();
        assert_eq!(shown["name"], "studio");
        assert!(shown.get("settings").is_some());
        assert!(shown.get("stream_key").is_none(), "{shown}");
        let rotated = Event::StreamKeyRotated {
            stream_key: stream_key("sk_the_next_key_0123456789"),
        };
        assert_eq!(rotated.public_data(), serde_json::json!({}));
        let secret = Event::WebhookSecretRotated {
            webhook_id: WebhookId::generate(),
            secret: sealed("v1.k1.sealed-secret"),
            previous_valid_until: Utc::now(),
        };
        assert!(secret.public_data().get("secret").is_none());
    }

    #[test]
    fn secret_bearing_events_are_written_at_version_2_and_version_1_is_upcast() {
        let mut json = serde_json::to_value(envelope(Event::ChannelCreated {
            name: "studio".into(),
            settings: ChannelSettings::default(),
            stream_key: stream_key("sk_x"),
        }))
        .unwrap();
        json["schema_version"] = current_schema_version("channel.created").into();
        assert_eq!(json["schema_version"], 2);
        assert_eq!(json["data"]["stream_key"]["sealed"], "v1.k1.sealed-key");

        // What release 1 wrote: the key in clear.
        json["schema_version"] = 1.into();
        json["data"]["stream_key"] = "sk_written_in_clear_0123".into();
        let read: EventEnvelope = serde_json::from_value(json).unwrap();
        assert_eq!(read.schema_version, 2);
        assert_eq!(
            read.event,
            Event::ChannelCreated {
                name: "studio".into(),
                settings: ChannelSettings::default(),
                stream_key: StreamKeyAtRest {
                    fingerprint: KeyFingerprint::of("sk_written_in_clear_0123"),
                    key: StoredSecret::Legacy(
                        "sk_written_in_clear_0123".to_owned().try_into().unwrap()
                    ),
                },
            }
        );

        let webhook_id = WebhookId::generate();
        let mut json = serde_json::to_value(envelope(Event::WebhookCreated {
            webhook_id,
            url: "https://example.com/hook".into(),
            event_types: vec![],
            secret: sealed("v1.k1.s"),
        }))
        .unwrap();
        json["schema_version"] = 1.into();
        json["data"]["secret"] = "whsec_in_clear".into();
        let read: EventEnvelope = serde_json::from_value(json).unwrap();
        let Event::WebhookCreated { secret, .. } = read.event else {
            panic!("{read:?}")
        };
        assert_eq!(
            secret,
            StoredSecret::Legacy("whsec_in_clear".to_owned().try_into().unwrap())
        );
    }

    #[test]
    fn a_version_2_record_with_a_secret_in_clear_is_malformed() {
        let mut json = serde_json::to_value(envelope(Event::StreamKeyRotated {
            stream_key: stream_key("sk_x"),
        }))
        .unwrap();
        json["schema_version"] = 2.into();
        json["data"]["stream_key"] = "sk_in_clear_at_version_2".into();
        assert!(serde_json::from_value::<EventEnvelope>(json.clone()).is_err());
        // A version-1 secret longer than any release drew: malformed, not sealed.
        json["schema_version"] = 1.into();
        json["data"]["stream_key"] = "k".repeat(crate::secret::MAX_SECRET_LEN + 1).into();
        assert!(serde_json::from_value::<EventEnvelope>(json).is_err());
    }

    #[test]
    fn an_envelope_round_trips_with_type_version_and_data() {
        let original = envelope(Event::SessionEnded {
            session_id: SessionId::generate(),
            reason: EndReason::PublisherGone,
        });
        let json = serde_json::to_value(&original).unwrap();
        assert_eq!(json["type"], "session.ended");
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["data"]["reason"], "publisher_gone");
        let back: EventEnvelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn a_future_schema_version_is_refused_with_advice() {
        let mut json = serde_json::to_value(envelope(Event::ChannelStopped {})).unwrap();
        json["schema_version"] = 9.into();
        let error = serde_json::from_value::<EventEnvelope>(json)
            .unwrap_err()
            .to_string();
        assert!(error.contains("upgrade"), "{error}");
    }

    #[test]
    fn a_decision_round_trips() {
        let decision = Decision {
            command_id: CommandId::generate(),
            stream: "ch_x".into(),
            outcome: Outcome::Rejected {
                rejection: Rejection::ChannelStopped,
            },
        };
        assert_eq!(
            Decision::from_bytes(&decision.to_bytes()).unwrap(),
            decision
        );
        assert!(Decision::from_bytes(b"{not json").is_err());
    }
}
