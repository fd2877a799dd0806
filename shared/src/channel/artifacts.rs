//! The decisions about what a session leaves behind — its recording, thumbnail, storyboard, and
//! its catch-up media's expiry — and the events the channel keeps of them.

use super::*;

pub(super) fn finish_recording(
    channel: &Channel,
    session_id: &SessionId,
    path: &str,
    duration_seconds: &f64,
    bytes: &u64,
) -> Result<Vec<Event>, Rejection> {
    ended_with_media(channel, session_id)?;
    Ok(vec![Event::RecordingReady {
        session_id: *session_id,
        path: path.to_owned(),
        duration_seconds: *duration_seconds,
        bytes: *bytes,
    }])
}

pub(super) fn show_thumbnail(
    channel: &Channel,
    session_id: &SessionId,
    path: &str,
) -> Result<Vec<Event>, Rejection> {
    if open_session(channel, *session_id)?.thumbnail_ready {
        return Err(Rejection::AlreadyExists {
            what: format!("thumbnail of session {session_id}"),
        });
    }
    Ok(vec![Event::ThumbnailReady {
        session_id: *session_id,
        path: path.to_owned(),
    }])
}

pub(super) fn expire_media(
    channel: &Channel,
    session_id: &SessionId,
) -> Result<Vec<Event>, Rejection> {
    if !channel.ended_sessions.contains(session_id) {
        return Err(Rejection::NotFound {
            what: format!("ended session {session_id}"),
        });
    }
    Ok(vec![Event::SessionMediaExpired {
        session_id: *session_id,
    }])
}

pub(super) fn finish_storyboard(
    channel: &Channel,
    session_id: &SessionId,
    thumbnails: &u32,
) -> Result<Vec<Event>, Rejection> {
    ended_with_media(channel, session_id)?;
    Ok(vec![Event::StoryboardReady {
        session_id: *session_id,
        thumbnails: *thumbnails,
    }])
}

/// Applies a session's first thumbnail, and its media's deletion.
pub(super) fn evolve(channel: &mut Channel, event: &Event) {
    match event {
        Event::ThumbnailReady { session_id, .. } => {
            if let Some(open) = open_mut(channel, *session_id) {
                open.thumbnail_ready = true;
            }
        }
        Event::SessionMediaDeleted { session_id } => {
            channel.media_deleted.insert(*session_id);
        }
        _ => {}
    }
}
