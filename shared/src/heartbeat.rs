//! What a node's heartbeat says: that it is alive, and which sessions' publishers it ingests
//! (the node monitor hands them back to the timers when the heartbeats stop).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, SessionId};
use crate::session::Input;

/// What a heartbeat says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub node_id: String,
    /// `platform`, `worker` or `playback`.
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
