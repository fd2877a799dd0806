//! The decisions about a session's alerts — one open alert per code, cleared by code — and the
//! events that record them.

use super::*;
use crate::ids::AlertId;

pub(super) fn raise_alert(
    channel: &Channel,
    session_id: &SessionId,
    alert_id: &AlertId,
    code: &str,
    message: &str,
) -> Result<Vec<Event>, Rejection> {
    if open_session(channel, *session_id)?
        .alerts
        .contains_key(code)
    {
        return Err(Rejection::AlreadyExists {
            what: format!("open {code} alert"),
        });
    }
    Ok(vec![Event::AlertRaised {
        session_id: *session_id,
        alert_id: Some(*alert_id),
        code: code.to_owned(),
        message: message.to_owned(),
    }])
}

pub(super) fn clear_alert(
    channel: &Channel,
    session_id: &SessionId,
    code: &str,
) -> Result<Vec<Event>, Rejection> {
    let open = open_session(channel, *session_id)?;
    let alert_id = open.alerts.get(code).ok_or_else(|| Rejection::NotFound {
        what: format!("open {code} alert"),
    })?;
    Ok(vec![Event::AlertCleared {
        session_id: *session_id,
        alert_id: *alert_id,
        code: code.to_owned(),
    }])
}

/// Applies an alert raised (with its id) or cleared.
pub(super) fn evolve(channel: &mut Channel, event: &Event) {
    match event {
        Event::AlertRaised {
            session_id,
            alert_id: Some(alert_id),
            code,
            ..
        } => {
            if let Some(open) = open_mut(channel, *session_id) {
                open.alerts.insert(code.clone(), *alert_id);
            }
        }
        Event::AlertCleared {
            session_id, code, ..
        } => {
            if let Some(open) = open_mut(channel, *session_id) {
                open.alerts.remove(code);
            }
        }
        _ => {}
    }
}
