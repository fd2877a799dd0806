//! The channel aggregate: `decide(state, command, now) -> events | rejection` and
//! `evolve(state, event) -> state`, both pure (its [`Aggregate`] implementation).
//!
//! A channel owns its sessions because the rule that binds them — at most one open session per
//! channel, and an ended session never comes back — can only be kept by one writer that sees
//! both. Channel status is derived, never stored: `stopped` if the owner stopped it, `active`
//! while a session is open, `idle` otherwise.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::aggregate::Aggregate;
use crate::command::{ChannelCommand, IngestAction, OwnerAction, ToChannel};
use crate::event::{Event, EventEnvelope};
use crate::ids::{AccountId, ChannelId, SessionId};
use crate::rejection::Rejection;
use crate::secret::KeyFingerprint;
use crate::session::{EndReason, Input, OpenSession, Publisher, SessionStatus};
use crate::settings::{validate_name, ChannelSettings, InvalidSetting};

mod alerts;
mod artifacts;
mod inputs;
mod lifecycle;
#[cfg(test)]
mod tests;

/// What the channel looks like to its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    Idle,
    Active,
    Stopped,
}

impl ChannelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Active => "active",
            Self::Stopped => "stopped",
        }
    }
}

/// The aggregate's state: what `decide` needs to know, nothing more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ChannelState {
    #[default]
    Absent,
    Exists(Box<Channel>),
    /// Deleted channels keep refusing everything; their id is never reused.
    Deleted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub id: ChannelId,
    pub account_id: AccountId,
    pub name: String,
    /// The fingerprint of the channel's stream key: all the decider needs to check one.
    pub stream_key: KeyFingerprint,
    pub settings: ChannelSettings,
    pub stopped: bool,
    pub session: Option<OpenSession>,
    /// Every session that has ended, so none is ever reopened.
    pub ended_sessions: BTreeSet<SessionId>,
    /// Ended sessions whose media the owner deleted: nothing of them is recorded again.
    pub media_deleted: BTreeSet<SessionId>,
}

impl Channel {
    pub fn status(&self) -> ChannelStatus {
        if self.stopped {
            ChannelStatus::Stopped
        } else if self.session.is_some() {
            ChannelStatus::Active
        } else {
            ChannelStatus::Idle
        }
    }
}

impl Aggregate for ChannelState {
    type Command = ToChannel;

    fn decide(&self, to: &ToChannel, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
        decide(self, to.channel_id, &to.command, now)
    }

    /// Named by `Create` (and by the owner's commands, which are refused unless it is the
    /// owner), known from the state after that.
    fn owner(&self, to: &ToChannel) -> Option<AccountId> {
        match (self, &to.command) {
            (ChannelState::Exists(channel), _) => Some(channel.account_id),
            (
                _,
                ChannelCommand::Create { account_id, .. }
                | ChannelCommand::Owner { account_id, .. },
            ) => Some(*account_id),
            (_, ChannelCommand::Ingest { .. }) => None,
        }
    }

    fn evolve(self, event: &EventEnvelope) -> Self {
        match event.channel_id {
            Some(channel_id) => evolve(self, channel_id, event.account_id, &event.event),
            None => self,
        }
    }
}

/// Decides a command against the channel's state at instant `now` (the command's issue time).
fn decide(
    state: &ChannelState,
    channel_id: ChannelId,
    command: &ChannelCommand,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    match (state, command) {
        (
            ChannelState::Absent,
            ChannelCommand::Create {
                name,
                settings,
                stream_key,
                ..
            },
        ) => {
            validate_name(name).map_err(invalid)?;
            settings.validate().map_err(invalid)?;
            Ok(vec![Event::ChannelCreated {
                name: name.clone(),
                settings: settings.clone(),
                stream_key: stream_key.at_rest(),
            }])
        }
        (ChannelState::Exists(_) | ChannelState::Deleted, ChannelCommand::Create { .. }) => {
            Err(Rejection::AlreadyExists {
                what: format!("channel {channel_id}"),
            })
        }
        (ChannelState::Exists(channel), ChannelCommand::Owner { account_id, action })
            if channel.account_id == *account_id =>
        {
            decide_owner(channel, action)
        }
        (ChannelState::Exists(channel), ChannelCommand::Ingest { action }) => {
            decide_ingest(channel, action, now)
        }
        (_, ChannelCommand::Owner { .. } | ChannelCommand::Ingest { .. }) => {
            Err(Rejection::not_found("channel"))
        }
    }
}

fn decide_owner(channel: &Channel, action: &OwnerAction) -> Result<Vec<Event>, Rejection> {
    match action {
        OwnerAction::Update { name, patch } => {
            let name = name.clone().unwrap_or_else(|| channel.name.clone());
            validate_name(&name).map_err(invalid)?;
            let settings = channel.settings.patched(patch);
            settings.validate().map_err(invalid)?;
            Ok(vec![Event::ChannelUpdated { name, settings }])
        }
        OwnerAction::Delete => {
            let mut events = end_open_session(channel, EndReason::ChannelDeleted);
            events.push(Event::ChannelDeleted {});
            Ok(events)
        }
        OwnerAction::Stop => {
            if channel.stopped {
                return Err(Rejection::ChannelStopped);
            }
            let mut events = end_open_session(channel, EndReason::StoppedByOwner);
            events.push(Event::ChannelStopped {});
            Ok(events)
        }
        OwnerAction::Resume => {
            if !channel.stopped {
                return Err(Rejection::ChannelNotStopped);
            }
            Ok(vec![Event::ChannelResumed {}])
        }
        OwnerAction::DeleteSessionMedia { session_id } => {
            if channel
                .session
                .as_ref()
                .is_some_and(|open| open.id == *session_id)
            {
                return Err(Rejection::TooEarly {
                    message: "the session is still open: stop the channel or the broadcast first"
                        .into(),
                });
            }
            if !channel.ended_sessions.contains(session_id)
                || channel.media_deleted.contains(session_id)
            {
                return Err(Rejection::not_found("session media"));
            }
            Ok(vec![Event::SessionMediaDeleted {
                session_id: *session_id,
            }])
        }
        OwnerAction::RotateStreamKey { stream_key } => {
            if stream_key.fingerprint == channel.stream_key {
                return Err(Rejection::Invalid {
                    field: "stream_key".into(),
                    message: "the new key must differ from the current one".into(),
                });
            }
            Ok(vec![Event::StreamKeyRotated {
                stream_key: stream_key.at_rest(),
            }])
        }
    }
}

fn decide_ingest(
    channel: &Channel,
    action: &IngestAction,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    match action {
        IngestAction::ConnectPublisher {
            stream_key,
            new_session_id,
        } => inputs::connect_publisher(channel, stream_key, new_session_id, now),
        IngestAction::ConnectBackup { stream_key } => {
            inputs::connect_backup(channel, stream_key, now)
        }
        IngestAction::DisconnectBackup {
            session_id,
            media_end_ms,
        } => inputs::disconnect_backup(channel, session_id, media_end_ms, now),
        IngestAction::InputStalled {
            session_id,
            input,
            media_end_ms,
        } => inputs::input_stalled(channel, session_id, input, media_end_ms, now),
        IngestAction::InputRecovered { session_id, input } => {
            inputs::input_recovered(channel, session_id, input, now)
        }
        IngestAction::MediaFlowing { session_id } => lifecycle::media_flowing(channel, session_id),
        IngestAction::FirstSegment { session_id } => lifecycle::first_segment(channel, session_id),
        IngestAction::DisconnectPublisher {
            session_id,
            media_end_ms,
        } => inputs::disconnect_publisher(channel, session_id, media_end_ms, now),
        IngestAction::EndSession { session_id, reason } => {
            lifecycle::end_session(channel, session_id, reason, now)
        }
        IngestAction::FailSession {
            session_id,
            message,
        } => lifecycle::fail_session(channel, session_id, message),
        IngestAction::FinishRecording {
            session_id,
            path,
            duration_seconds,
            bytes,
        } => artifacts::finish_recording(channel, session_id, path, duration_seconds, bytes),
        IngestAction::ShowThumbnail { session_id, path } => {
            artifacts::show_thumbnail(channel, session_id, path)
        }
        IngestAction::ExpireMedia { session_id } => artifacts::expire_media(channel, session_id),
        IngestAction::FinishStoryboard {
            session_id,
            thumbnails,
        } => artifacts::finish_storyboard(channel, session_id, thumbnails),
        IngestAction::RaiseAlert {
            session_id,
            alert_id,
            code,
            message,
        } => alerts::raise_alert(channel, session_id, alert_id, code, message),
        IngestAction::ClearAlert { session_id, code } => {
            alerts::clear_alert(channel, session_id, code)
        }
    }
}

/// Applies one event (see [`Aggregate::evolve`]).
fn evolve(
    state: ChannelState,
    channel_id: ChannelId,
    account_id: AccountId,
    event: &Event,
) -> ChannelState {
    let mut channel = match (state, event) {
        (
            ChannelState::Absent,
            Event::ChannelCreated {
                name,
                settings,
                stream_key,
            },
        ) => {
            return ChannelState::Exists(Box::new(Channel {
                id: channel_id,
                account_id,
                name: name.clone(),
                stream_key: stream_key.fingerprint.clone(),
                settings: settings.clone(),
                stopped: false,
                session: None,
                ended_sessions: BTreeSet::new(),
                media_deleted: BTreeSet::new(),
            }))
        }
        (ChannelState::Exists(_), Event::ChannelDeleted {}) => return ChannelState::Deleted,
        (ChannelState::Exists(channel), _) => channel,
        (other, _) => return other,
    };
    match event {
        Event::ChannelUpdated { .. }
        | Event::ChannelStopped {}
        | Event::ChannelResumed {}
        | Event::StreamKeyRotated { .. } => evolve_owner_change(&mut channel, event),
        Event::SessionStarted { .. }
        | Event::SessionProcessing { .. }
        | Event::SessionLive { .. }
        | Event::SessionEnded { .. } => lifecycle::evolve(&mut channel, event),
        Event::PublisherDisconnected { .. }
        | Event::SessionRestreamed { .. }
        | Event::BackupConnected { .. }
        | Event::BackupDisconnected { .. }
        | Event::SessionFailedOver { .. } => inputs::evolve(&mut channel, event),
        Event::AlertRaised { .. } | Event::AlertCleared { .. } => {
            alerts::evolve(&mut channel, event)
        }
        Event::ThumbnailReady { .. } | Event::SessionMediaDeleted { .. } => {
            artifacts::evolve(&mut channel, event)
        }
        // `session.error` is always followed by `session.ended` in the same decision.
        Event::SessionErrored { .. }
        | Event::StoryboardReady { .. }
        | Event::SessionMediaExpired { .. }
        | Event::WebhookCreated { .. }
        | Event::WebhookSecretRotated { .. }
        | Event::WebhookDeleted { .. }
        | Event::RecordingReady { .. }
        | Event::AccountCreated { .. }
        | Event::PlaybackKeyCreated { .. }
        | Event::PlaybackKeyDeleted { .. }
        | Event::TokensRevoked { .. }
        | Event::ChannelCreated { .. }
        | Event::ChannelDeleted {} => {}
    }
    ChannelState::Exists(channel)
}

/// Applies what the owner changed: the settings, stopped or not, the stream key.
fn evolve_owner_change(channel: &mut Channel, event: &Event) {
    match event {
        Event::ChannelUpdated { name, settings } => {
            channel.name = name.clone();
            channel.settings = settings.clone();
        }
        Event::ChannelStopped {} => channel.stopped = true,
        Event::ChannelResumed {} => channel.stopped = false,
        Event::StreamKeyRotated { stream_key } => {
            channel.stream_key = stream_key.fingerprint.clone();
        }
        _ => {}
    }
}

/// The session has ended and its media were not deleted: what is made of it after its end
/// (recording, storyboard) may be recorded.
fn ended_with_media(channel: &Channel, session_id: &SessionId) -> Result<(), Rejection> {
    if !channel.ended_sessions.contains(session_id) {
        return Err(Rejection::NotFound {
            what: format!("ended session {session_id}"),
        });
    }
    if channel.media_deleted.contains(session_id) {
        return Err(Rejection::MediaDeleted {
            session: session_id.to_string(),
        });
    }
    Ok(())
}

/// The session's timed ends, each with the instant it is due: what the owner of the channel's
/// partition fires (the control plane's `decide::timers`). They follow from the state alone —
/// the session's start, its publisher's departure, the settings — so they survive any process.
pub fn timers(channel: &Channel) -> Vec<(DateTime<Utc>, IngestAction)> {
    let Some(open) = &channel.session else {
        return Vec::new();
    };
    [EndReason::PublisherGone, EndReason::MaxDuration]
        .into_iter()
        .filter_map(|reason| {
            let due = timed_end_due(channel, open, reason).ok()?;
            let end = IngestAction::EndSession {
                session_id: open.id,
                reason,
            };
            Some((due, end))
        })
        .collect()
}

/// When the open session may end for `reason`; refused if it may not end so at all now (its
/// publisher or its backup is on air, or `reason` is not a timed end).
fn timed_end_due(
    channel: &Channel,
    open: &OpenSession,
    reason: EndReason,
) -> Result<DateTime<Utc>, Rejection> {
    match reason {
        EndReason::PublisherGone if open.on_air == Input::Backup => Err(Rejection::TooEarly {
            message: "the backup publisher is on air".into(),
        }),
        EndReason::PublisherGone => match open.publisher {
            Publisher::Gone { since } => Ok(since + reconnect_window(channel)),
            Publisher::Connected => Err(Rejection::TooEarly {
                message: "the publisher is connected".into(),
            }),
        },
        EndReason::MaxDuration => {
            Ok(open.started_at + Duration::seconds(channel.settings.max_session_seconds.into()))
        }
        other => Err(Rejection::Invalid {
            field: "reason".into(),
            message: format!("{} is not a timed end", other.as_str()),
        }),
    }
}

fn invalid(error: InvalidSetting) -> Rejection {
    Rejection::Invalid {
        field: error.field.to_owned(),
        message: error.requirement,
    }
}

fn reconnect_window(channel: &Channel) -> Duration {
    Duration::seconds(channel.settings.reconnect_window_seconds.into())
}

fn open_session(channel: &Channel, session_id: SessionId) -> Result<&OpenSession, Rejection> {
    channel
        .session
        .as_ref()
        .filter(|open| open.id == session_id)
        .ok_or_else(|| Rejection::NoSuchOpenSession {
            session: session_id.to_string(),
        })
}

fn transition(open: &OpenSession, from: SessionStatus, to: SessionStatus) -> Result<(), Rejection> {
    if open.status == from {
        Ok(())
    } else {
        Err(Rejection::InvalidTransition {
            from: open.status,
            to,
        })
    }
}

fn end_open_session(channel: &Channel, reason: EndReason) -> Vec<Event> {
    channel
        .session
        .iter()
        .flat_map(|open| ending(open, reason))
        .collect()
}

/// How a session ends: its open alerts are cleared, then `session.ended`.
fn ending(open: &OpenSession, reason: EndReason) -> Vec<Event> {
    open.alerts
        .iter()
        .map(|(code, alert_id)| Event::AlertCleared {
            session_id: open.id,
            alert_id: *alert_id,
            code: code.clone(),
        })
        .chain([Event::SessionEnded {
            session_id: open.id,
            reason,
        }])
        .collect()
}

fn open_mut(channel: &mut Channel, session_id: SessionId) -> Option<&mut OpenSession> {
    channel
        .session
        .as_mut()
        .filter(|open| open.id == session_id)
}

fn connected(open: &OpenSession, input: Input) -> bool {
    match input {
        Input::Primary => open.publisher == Publisher::Connected,
        Input::Backup => open.backup_connected,
    }
}

/// Where the on-air input's timeline has got to: it streams in real time from where it took
/// over. An estimate, used when the other input takes over from one still streaming; it errs
/// late (the on-air input started at its first keyframe after taking over), which leaves a
/// gap at the discontinuity rather than an overlap.
fn on_air_position(open: &OpenSession, now: DateTime<Utc>) -> u64 {
    let elapsed = (now - open.on_air_since).num_milliseconds().max(0);
    open.media_end_ms + elapsed as u64
}

fn failover(open: &OpenSession, input: Input, now: DateTime<Utc>, resume_at_ms: u64) -> Event {
    Event::SessionFailedOver {
        session_id: open.id,
        input,
        at: now,
        resume_at_ms,
    }
}

fn set_status(channel: &mut Channel, session_id: SessionId, status: SessionStatus) {
    if let Some(open) = open_mut(channel, session_id) {
        open.status = status;
    }
}
