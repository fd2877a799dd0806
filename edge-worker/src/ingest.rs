//! The ports between RTMP ingest and the rest of the platform: who may publish, whether their
//! media are on air, and where a publication's packaged media go. The standalone process
//! implements them with the command log and the object store; tests implement them in memory.

use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::sync::watch;

use sigma_media::cmaf::{Output, PackagerConfig};
use sigma_media::health::HealthChange;

/// Why a publisher was turned away; the text goes back to the encoder.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("the channel is stopped")]
    ChannelStopped,
    #[error("the channel already has a publisher")]
    AlreadyPublishing,
    #[error("the channel already has a backup publisher")]
    AlreadyBackedUp,
    #[error("the channel has no broadcast to back up; connect the primary first")]
    NoBroadcast,
    #[error("the server is low on storage; try again later or another ingest server")]
    StorageLow,
    /// The account has as many sessions open as its quota allows (the text says which).
    #[error("{0}")]
    QuotaExceeded(String),
    /// The platform could not decide; the reason is for the operator's log, never the
    /// encoder (it may name a database or a broker).
    #[error("ingest is unavailable, try again shortly")]
    Unavailable(String),
}

impl Refusal {
    /// A stable label for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownKey => "unknown_key",
            Self::ChannelStopped => "channel_stopped",
            Self::AlreadyPublishing => "already_publishing",
            Self::AlreadyBackedUp => "already_backed_up",
            Self::NoBroadcast => "no_broadcast",
            Self::StorageLow => "storage_low",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::Unavailable(_) => "unavailable",
        }
    }

    /// What the operator's log says of the refusal: the text the encoder gets, and for
    /// [`Refusal::Unavailable`] the reason behind it.
    pub fn detail(&self) -> String {
        match self {
            Self::Unavailable(reason) => format!("{self}: {reason}"),
            _ => self.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("storing media failed: {0}")]
pub struct OutputError(pub String);

/// What a publisher asked to publish: `{stream_key}` or `{stream_key}?backup=1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishName {
    pub stream_key: String,
    /// The channel's backup input: it stands by while the primary streams.
    pub backup: bool,
}

impl PublishName {
    /// Splits the RTMP publish name. The query is not part of the key; `backup` is its only
    /// parameter that means anything (`1` or `true`), others are ignored as encoders add their own.
    pub fn parse(name: &str) -> Self {
        let (stream_key, query) = name.split_once('?').unwrap_or((name, ""));
        let backup = query
            .split('&')
            .any(|pair| matches!(pair, "backup" | "backup=1" | "backup=true"));
        Self {
            stream_key: stream_key.to_owned(),
            backup,
        }
    }
}

/// Whether a publication's media reach viewers. A backup input stands by until the primary
/// fails; an input whose media stopped is taken off air while the other one has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tally {
    /// Packaged and delivered, on a timeline starting at `timeline_start_ms`: 0 for a new
    /// session, where the session's media got to for a returning or a taking-over input.
    OnAir { timeline_start_ms: u64 },
    /// Received and watched over, not packaged.
    Standby,
}

/// Decides whether a publisher may stream with a key.
#[async_trait]
pub trait Admission: Send + Sync + 'static {
    async fn admit(&self, name: &PublishName) -> Result<Box<dyn Publication>, Refusal>;

    /// A connection was dropped for `reason` (`handshake`, `protocol`, `idle`, `media`,
    /// `refused_<code>`, …): for metrics. Clean closes are not reported.
    fn dropped(&self, _reason: &str) {}
}

/// One admitted publisher's stream.
#[async_trait]
pub trait Publication: Send {
    /// How this stream is cut into parts and segments (the channel's latency mode).
    fn packaging(&self) -> PackagerConfig;

    /// Whether this stream is on air now, and every change the platform decides later.
    /// Publications that are always on air from 0 need not say.
    fn tally(&mut self) -> watch::Receiver<Tally> {
        watch::channel(Tally::OnAir {
            timeline_start_ms: 0,
        })
        .1
    }

    /// Resolves, with the reason, when the platform ends the session (the owner stopped the
    /// channel, the maximum duration passed): the publisher is then disconnected. Taken once.
    fn stop_signal(&mut self) -> BoxFuture<'static, String>;

    /// A stream-health rule was raised or cleared (see `sigma_media::health`).
    fn health(&mut self, _change: HealthChange) {}

    /// Takes what the packager produced, in order, while the stream is on air. Each time it
    /// goes on air the packager starts afresh: an init segment, then parts from a keyframe.
    async fn output(&mut self, output: Output) -> Result<(), OutputError>;

    /// The stream goes on air (the packager starts afresh at `timeline_start_ms`).
    async fn on_air(&mut self, _timeline_start_ms: u64) {}

    /// The stream went off air (the other input took over); the packager's last outputs of
    /// this time on air were given.
    async fn off_air(&mut self) {}

    /// The publisher is gone (closed, timed out, or sent garbage).
    async fn ended(self: Box<Self>);
}

#[cfg(test)]
mod tests {
    use super::PublishName;

    #[test]
    fn the_query_marks_a_backup_and_is_not_part_of_the_key() {
        let parse = |name| {
            let parsed = PublishName::parse(name);
            (parsed.stream_key, parsed.backup)
        };
        assert_eq!(parse("sk_abc"), ("sk_abc".into(), false));
        assert_eq!(parse("sk_abc?backup=1"), ("sk_abc".into(), true));
        assert_eq!(parse("sk_abc?x=2&backup=true"), ("sk_abc".into(), true));
        assert_eq!(parse("sk_abc?backup"), ("sk_abc".into(), true));
        assert_eq!(parse("sk_abc?backup=0"), ("sk_abc".into(), false));
        assert_eq!(parse("sk_abc?backups=1"), ("sk_abc".into(), false));
        assert_eq!(parse("?backup=1"), ("".into(), true));
    }
}
