//! What one RTMP listener allows its clients: deadlines, connection caps, message sizes and
//! a bitrate ceiling. Every limit has a default here, a setting in the process's
//! configuration, and a line in docs/SECURITY.md; each refusal is reported with its reason.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtmpLimits {
    /// From accept to a finished handshake.
    pub handshake_timeout: Duration,
    /// From accept to an admitted publish: a client that connects and never publishes.
    pub publish_timeout: Duration,
    /// How long an admitted publisher may go without sending an audio or video frame. Other
    /// bytes (pings, metadata, a trickle) do not count.
    pub media_idle_timeout: Duration,
    /// Connections open at once, in this process.
    pub max_connections: usize,
    /// Connections open at once from one remote address.
    pub max_connections_per_address: usize,
    /// The longest message an admitted publisher may send (a keyframe is the largest).
    pub max_message_bytes: u32,
    /// The most a publisher may send, in bits per second, averaged over [`Self::bitrate_window`].
    pub max_bitrate: u64,
    /// How long a burst over [`Self::max_bitrate`] is tolerated.
    pub bitrate_window: Duration,
}

impl Default for RtmpLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(5),
            publish_timeout: Duration::from_secs(10),
            media_idle_timeout: Duration::from_secs(10),
            max_connections: 1000,
            max_connections_per_address: 32,
            max_message_bytes: 8 * 1024 * 1024,
            max_bitrate: 60_000_000,
            bitrate_window: Duration::from_secs(5),
        }
    }
}
