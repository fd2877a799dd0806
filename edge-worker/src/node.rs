//! This process as a node of the deployment: what it ingests now ([`Publishing`]), and the
//! heartbeat that says so every interval, keyed by its node id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sigma_shared::heartbeat::{Heartbeat, Ingesting};
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::log::{EventLog, HEARTBEATS_TOPIC};
use sigma_shared::session::Input;

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

/// Sends the heartbeat for the life of the process. A failed append is logged and tried at the
/// next beat: a node that cannot reach the log is, for everyone else, a lost node.
pub async fn heartbeat(
    log: Arc<dyn EventLog>,
    node_id: String,
    role: &'static str,
    publishing: Publishing,
    every: Duration,
) {
    let mut beats = tokio::time::interval(every);
    loop {
        beats.tick().await;
        let heartbeat = Heartbeat {
            node_id: node_id.clone(),
            role: role.to_owned(),
            sent_at: Utc::now(),
            ingesting: publishing.snapshot(),
        };
        let payload = serde_json::to_vec(&heartbeat).expect("a heartbeat serializes");
        if let Err(error) = log.append(HEARTBEATS_TOPIC, &node_id, &payload).await {
            tracing::warn!(%error, "heartbeat not sent");
        }
    }
}
