//! The decisions that move a session through its life: preview, live, and its end (timed, or
//! by a failed pipeline).

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
