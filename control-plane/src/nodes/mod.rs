//! Node health: every process says it is alive on the heartbeats topic, with the sessions it
//! ingests; the node monitor declares a node lost when its heartbeats stop, and hands its
//! sessions back to the log's timers — their publishers are marked gone (so they may reconnect
//! to any other worker within the reconnect window) and a `node_lost` alert is raised.
//!
//! [`heartbeat`] sends, [`liveness`] judges (pure), [`monitor`] acts.

pub mod heartbeat;
pub mod liveness;
pub mod monitor;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::session::Input;

/// What a heartbeat says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub node_id: String,
    /// `platform` or `worker`.
    pub role: String,
    pub sent_at: DateTime<Utc>,
    pub ingesting: Vec<Ingesting>,
}

/// A session whose publisher (primary or backup) is connected to the node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ingesting {
    pub channel_id: ChannelId,
    pub session_id: SessionId,
    /// Absent in heartbeats of releases before backup inputs: the primary.
    #[serde(default)]
    pub input: Input,
    /// Where the connection's media timeline had got to (ms).
    pub media_end_ms: u64,
}

/// The publications this process ingests now, each with its media position; shared by ingest
/// (which registers and updates them) and the heartbeat (which reports them).
#[derive(Clone, Default)]
pub struct Publishing {
    sessions: Arc<Mutex<HashMap<(SessionId, Input), Registered>>>,
}

/// A publication's media end (ms), shared between its ingest and the heartbeat.
type Position = Arc<AtomicU64>;
/// A registered publication's channel and position.
type Registered = (ChannelId, Position);

impl Publishing {
    /// Registers a publication; the returned position is its media end (ms), kept up to date
    /// by the caller.
    pub fn register(
        &self,
        channel_id: ChannelId,
        session_id: SessionId,
        input: Input,
        start_ms: u64,
    ) -> Arc<AtomicU64> {
        let position = Arc::new(AtomicU64::new(start_ms));
        self.sessions
            .lock()
            .expect("publishing lock")
            .insert((session_id, input), (channel_id, position.clone()));
        position
    }

    pub fn remove(&self, session_id: SessionId, input: Input) {
        self.sessions
            .lock()
            .expect("publishing lock")
            .remove(&(session_id, input));
    }

    pub fn snapshot(&self) -> Vec<Ingesting> {
        self.sessions
            .lock()
            .expect("publishing lock")
            .iter()
            .map(|((session_id, input), (channel_id, position))| Ingesting {
                channel_id: *channel_id,
                session_id: *session_id,
                input: *input,
                media_end_ms: position.load(Ordering::Relaxed),
            })
            .collect()
    }
}
