//! The decisions that move a session through its life — preview, live, and its end (timed, or
//! by a failed pipeline) — and the events that do.

use super::*;

pub(super) fn media_flowing(
    channel: &Channel,
    session_id: &SessionId,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    transition(open, SessionStatus::Init, SessionStatus::Processing)?;
    Ok(vec![Event::SessionProcessing {
        session_id: *session_id,
    }])
}

pub(super) fn first_segment(
    channel: &Channel,
    session_id: &SessionId,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    transition(open, SessionStatus::Processing, SessionStatus::Live)?;
    Ok(vec![Event::SessionLive {
        session_id: *session_id,
    }])
}

pub(super) fn end_session(
    channel: &Channel,
    session_id: &SessionId,
    reason: &EndReason,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    let due = timed_end_due(channel, open, *reason)?;
    if now < due {
        return Err(Rejection::TooEarly {
            message: format!("the session may end at {due}"),
        });
    }
    Ok(ending(open, *reason))
}

pub(super) fn fail_session(
    channel: &Channel,
    session_id: &SessionId,
    message: &str,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    let mut events = vec![Event::SessionErrored {
        session_id: *session_id,
        message: message.to_owned(),
    }];
    events.extend(ending(open, EndReason::PipelineError));
    Ok(events)
}

/// Applies a session's start, its progress to preview and live, and its end.
pub(super) fn evolve(channel: &mut Channel, event: &Event) {
    match event {
        Event::SessionStarted {
            session_id,
            started_at,
        } => {
            channel.session = Some(OpenSession {
                id: *session_id,
                status: SessionStatus::Init,
                started_at: *started_at,
                publisher: Publisher::Connected,
                backup_connected: false,
                on_air: Input::Primary,
                on_air_since: *started_at,
                media_end_ms: 0,
                thumbnail_ready: false,
                alerts: Default::default(),
            });
        }
        Event::SessionProcessing { session_id } => {
            set_status(channel, *session_id, SessionStatus::Processing)
        }
        Event::SessionLive { session_id } => set_status(channel, *session_id, SessionStatus::Live),
        Event::SessionEnded { session_id, .. }
            if channel
                .session
                .as_ref()
                .is_some_and(|open| open.id == *session_id) =>
        {
            channel.session = None;
            channel.ended_sessions.insert(*session_id);
        }
        _ => {}
    }
}
