//! The session state machine's vocabulary: one continuous broadcast of a channel.
//!
//! `init` (publisher connected) → `processing` (media flowing; the owner can preview) → `live`
//! (public) → `ended`; a pipeline failure passes through `error` on its way to `ended`. The
//! transitions themselves are decided by the channel aggregate ([`crate::channel`]), because the
//! rule "at most one open session per channel" belongs to the channel.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::SessionId;

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Init,
    Processing,
    Live,
    Error,
    Ended,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Processing => "processing",
            Self::Live => "live",
            Self::Error => "error",
            Self::Ended => "ended",
        }
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The publisher left and did not come back within the reconnect window.
    PublisherGone,
    /// The session reached the channel's `max_session_seconds`.
    MaxDuration,
    /// The owner stopped the channel.
    StoppedByOwner,
    /// The owner deleted the channel.
    ChannelDeleted,
    /// The media pipeline failed.
    PipelineError,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PublisherGone => "publisher_gone",
            Self::MaxDuration => "max_duration",
            Self::StoppedByOwner => "stopped_by_owner",
            Self::ChannelDeleted => "channel_deleted",
            Self::PipelineError => "pipeline_error",
        }
    }
}

/// One of a channel's two publisher inputs. The primary is preferred: the backup (a second
/// encoder publishing with `?backup=1`, possibly to another worker) waits on standby and is put
/// on air only while the primary is gone or stalled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    #[default]
    Primary,
    Backup,
}

impl Input {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Backup => "backup",
        }
    }

    /// The other input.
    pub fn other(self) -> Self {
        match self {
            Self::Primary => Self::Backup,
            Self::Backup => Self::Primary,
        }
    }
}

/// Whether the session's primary publisher is connected right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publisher {
    Connected,
    /// Gone since this instant; the reconnect window runs from here.
    Gone {
        since: DateTime<Utc>,
    },
}

/// The session a channel has open, as its aggregate needs it to decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSession {
    pub id: SessionId,
    /// `Init`, `Processing` or `Live`: an open session is never `Error` or `Ended`.
    pub status: SessionStatus,
    pub started_at: DateTime<Utc>,
    pub publisher: Publisher,
    /// Whether a backup publisher is connected (on standby or on air).
    pub backup_connected: bool,
    /// The input whose media players get. The primary while no backup is on air, even when it
    /// is gone (its return then continues the session).
    pub on_air: Input,
    /// When the on-air input took over, at `media_end_ms` of the timeline: the on-air input's
    /// position is estimated from these when the other one takes over from it while it still
    /// streams.
    pub on_air_since: DateTime<Utc>,
    /// Where the last connection's media timeline ended, or where the on-air input's timeline
    /// started (ms): a returning publisher's or a backup's timeline continues from here, so the
    /// session is one timeline across reconnects and failovers.
    pub media_end_ms: u64,
    /// Whether `thumbnail.ready` was said for this session (it is said once).
    pub thumbnail_ready: bool,
    /// The open alerts, by code: one at a time per code.
    pub alerts: std::collections::BTreeMap<String, crate::ids::AlertId>,
}
