//! The ports between RTMP ingest and the rest of the platform: who may publish, and where a
//! publication's packaged media go. The standalone process implements them with the command
//! log and the object store; tests implement them in memory.

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::cmaf::{Output, PackagerConfig};
use crate::health::HealthChange;

/// Why a publisher was turned away; the text goes back to the encoder.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("the channel is stopped")]
    ChannelStopped,
    #[error("the channel already has a publisher")]
    AlreadyPublishing,
    #[error("ingest is unavailable: {0}")]
    Unavailable(String),
}

impl Refusal {
    /// A stable label for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownKey => "unknown_key",
            Self::ChannelStopped => "channel_stopped",
            Self::AlreadyPublishing => "already_publishing",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("storing media failed: {0}")]
pub struct OutputError(pub String);

/// Decides whether a publisher may stream with a key.
#[async_trait]
pub trait Admission: Send + Sync + 'static {
    async fn admit(&self, stream_key: &str) -> Result<Box<dyn Publication>, Refusal>;

    /// A connection was dropped for `reason` (`handshake`, `protocol`, `idle`, `media`,
    /// `refused_<code>`, …): for metrics. Clean closes are not reported.
    fn dropped(&self, _reason: &str) {}
}

/// One admitted publisher's stream.
#[async_trait]
pub trait Publication: Send {
    /// How this stream is cut into parts and segments (the channel's latency mode).
    fn packaging(&self) -> PackagerConfig;

    /// Where this stream's media timeline starts (ms): 0 for a new session, where the session
    /// left off for a returning publisher.
    fn timeline_start_ms(&self) -> u64 {
        0
    }

    /// Resolves, with the reason, when the platform ends the session (the owner stopped the
    /// channel, the maximum duration passed): the publisher is then disconnected. Taken once.
    fn stop_signal(&mut self) -> BoxFuture<'static, String>;

    /// A stream-health rule was raised or cleared (see [`crate::health`]).
    fn health(&mut self, _change: HealthChange) {}

    /// Takes what the packager produced, in order.
    async fn output(&mut self, output: Output) -> Result<(), OutputError>;

    /// The publisher is gone (closed, timed out, or sent garbage).
    async fn ended(self: Box<Self>);
}
