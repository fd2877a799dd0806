//! The decisions about a channel's inputs — publishers and backups connecting and leaving, and
//! the air passing between them when one stalls or recovers — and the events that record them.

use super::*;

/// An input connects with the channel's key, and not while its owner has it stopped.
fn check_admission(channel: &Channel, stream_key: &KeyFingerprint) -> Result<(), Rejection> {
    if *stream_key != channel.stream_key {
        return Err(Rejection::WrongStreamKey);
    }
    if channel.stopped {
        return Err(Rejection::ChannelStopped);
    }
    Ok(())
}

pub(super) fn connect_publisher(
    channel: &Channel,
    stream_key: &KeyFingerprint,
    new_session_id: &SessionId,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    check_admission(channel, stream_key)?;
    let start_new = |mut events: Vec<Event>| {
        // Never reuse an id: not an ended session's, nor the open one's (which this
        // very decision may be ending).
        let open_id = channel.session.as_ref().map(|open| open.id);
        if channel.ended_sessions.contains(new_session_id) || open_id == Some(*new_session_id) {
            return Err(Rejection::AlreadyExists {
                what: format!("session {new_session_id}"),
            });
        }
        events.push(Event::SessionStarted {
            session_id: *new_session_id,
            started_at: now,
        });
        Ok(events)
    };
    match &channel.session {
        None => start_new(Vec::new()),
        Some(open) => match open.publisher {
            Publisher::Connected => Err(Rejection::PublisherAlreadyConnected),
            // The backup kept the session going: the primary takes over again.
            Publisher::Gone { .. } if open.on_air == Input::Backup => Ok(vec![failover(
                open,
                Input::Primary,
                now,
                on_air_position(open, now),
            )]),
            Publisher::Gone { since } if now - since <= reconnect_window(channel) => {
                Ok(vec![Event::SessionRestreamed {
                    session_id: open.id,
                    resume_at_ms: open.media_end_ms,
                }])
            }
            // The window passed but its timer has not fired yet: end the old session
            // here, so the new broadcast is a new session.
            Publisher::Gone { .. } => {
                start_new(end_open_session(channel, EndReason::PublisherGone))
            }
        },
    }
}

pub(super) fn connect_backup(
    channel: &Channel,
    stream_key: &KeyFingerprint,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    check_admission(channel, stream_key)?;
    let open = channel.session.as_ref().ok_or(Rejection::NoBroadcast)?;
    if open.backup_connected {
        return Err(Rejection::BackupAlreadyConnected);
    }
    let mut events = vec![Event::BackupConnected {
        session_id: open.id,
    }];
    match open.publisher {
        Publisher::Connected => {}
        // The primary is away: the backup goes on air where it left off.
        Publisher::Gone { since } if now - since <= reconnect_window(channel) => {
            events.push(failover(open, Input::Backup, now, open.media_end_ms))
        }
        Publisher::Gone { .. } => return Err(Rejection::NoBroadcast),
    }
    Ok(events)
}

pub(super) fn disconnect_backup(
    channel: &Channel,
    session_id: &SessionId,
    media_end_ms: &u64,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    if !open.backup_connected {
        return Err(Rejection::TooEarly {
            message: "no backup publisher is connected".into(),
        });
    }
    let mut events = vec![Event::BackupDisconnected {
        session_id: *session_id,
        at: now,
        media_end_ms: *media_end_ms,
    }];
    // A primary that is connected but stalled takes over again, stalled or not: it is
    // all there is.
    if open.on_air == Input::Backup && open.publisher == Publisher::Connected {
        events.push(failover(
            open,
            Input::Primary,
            now,
            open.media_end_ms.max(*media_end_ms),
        ));
    }
    Ok(events)
}

pub(super) fn input_stalled(
    channel: &Channel,
    session_id: &SessionId,
    input: &Input,
    media_end_ms: &u64,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    if open.on_air != *input || !connected(open, input.other()) {
        return Err(Rejection::TooEarly {
            message: format!(
                "the {} input is not on air with the other one standing by",
                input.as_str()
            ),
        });
    }
    Ok(vec![failover(
        open,
        input.other(),
        now,
        open.media_end_ms.max(*media_end_ms),
    )])
}

pub(super) fn input_recovered(
    channel: &Channel,
    session_id: &SessionId,
    input: &Input,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    if *input != Input::Primary
        || open.on_air != Input::Backup
        || open.publisher != Publisher::Connected
    {
        return Err(Rejection::TooEarly {
            message: "only a connected primary takes over from the backup".into(),
        });
    }
    Ok(vec![failover(
        open,
        Input::Primary,
        now,
        on_air_position(open, now),
    )])
}

pub(super) fn disconnect_publisher(
    channel: &Channel,
    session_id: &SessionId,
    media_end_ms: &u64,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    match open.publisher {
        Publisher::Connected => {
            let mut events = vec![Event::PublisherDisconnected {
                session_id: *session_id,
                at: now,
                media_end_ms: *media_end_ms,
            }];
            if open.on_air == Input::Primary && open.backup_connected {
                events.push(failover(
                    open,
                    Input::Backup,
                    now,
                    open.media_end_ms.max(*media_end_ms),
                ));
            }
            Ok(events)
        }
        Publisher::Gone { .. } => Err(Rejection::TooEarly {
            message: "the publisher is already disconnected".into(),
        }),
    }
}

/// Applies an input's departure or return, and the air passing between the inputs.
pub(super) fn evolve(channel: &mut Channel, event: &Event) {
    match event {
        Event::PublisherDisconnected {
            session_id,
            at,
            media_end_ms,
        } => {
            if let Some(open) = open_mut(channel, *session_id) {
                open.publisher = Publisher::Gone { since: *at };
                open.media_end_ms = open.media_end_ms.max(*media_end_ms);
            }
        }
        Event::SessionRestreamed { session_id, .. } => {
            if let Some(open) = open_mut(channel, *session_id) {
                open.publisher = Publisher::Connected;
            }
        }
        Event::BackupConnected { session_id } => {
            if let Some(open) = open_mut(channel, *session_id) {
                open.backup_connected = true;
            }
        }
        Event::BackupDisconnected {
            session_id,
            at,
            media_end_ms,
        } => {
            if let Some(open) = open_mut(channel, *session_id) {
                backup_gone(open, *at, *media_end_ms);
            }
        }
        Event::SessionFailedOver {
            session_id,
            input,
            at,
            resume_at_ms,
        } => {
            if let Some(open) = open_mut(channel, *session_id) {
                open.on_air = *input;
                open.on_air_since = *at;
                open.media_end_ms = open.media_end_ms.max(*resume_at_ms);
                // The air passes to the primary only when it is connected: when it has just
                // come back from a departure, it is no longer gone (or its reconnect window
                // would end the session it carries).
                if *input == Input::Primary {
                    open.publisher = Publisher::Connected;
                }
            }
        }
        _ => {}
    }
}

/// The backup left at `at`: if it had the air, the air goes back to the primary, and when no
/// input is left the reconnect window runs from now.
fn backup_gone(open: &mut OpenSession, at: DateTime<Utc>, media_end_ms: u64) {
    open.backup_connected = false;
    if open.on_air == Input::Backup {
        open.media_end_ms = open.media_end_ms.max(media_end_ms);
        open.on_air = Input::Primary;
        open.on_air_since = at;
        if let Publisher::Gone { since } = &mut open.publisher {
            *since = at;
        }
    }
}
