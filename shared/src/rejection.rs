//! Why a command was refused. Each reason maps to one HTTP status class, so the API can say
//! "conflict" (the command is fine but the state forbids it now) apart from "invalid" (the
//! command itself is wrong) and "not found".

use serde::{Deserialize, Serialize};

use crate::session::SessionStatus;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Rejection {
    #[error("no such {what}")]
    NotFound { what: String },
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    #[error("the channel is stopped; resume it first")]
    ChannelStopped,
    #[error("the channel is not stopped")]
    ChannelNotStopped,
    #[error("the stream key is not this channel's current key")]
    WrongStreamKey,
    #[error("a publisher is already connected to this channel's session")]
    PublisherAlreadyConnected,
    #[error("a backup publisher is already connected to this channel's session")]
    BackupAlreadyConnected,
    #[error("the channel has no broadcast to back up; connect the primary publisher first")]
    NoBroadcast,
    #[error("the channel has no open session {session}")]
    NoSuchOpenSession { session: String },
    #[error("a session cannot go from {from:?} to {to:?}")]
    InvalidTransition {
        from: SessionStatus,
        to: SessionStatus,
    },
    #[error("too early: {message}")]
    TooEarly { message: String },
    #[error("an account may have at most {limit} {what}")]
    QuotaExceeded { what: String, limit: u32 },
    /// The session's media were deleted by its owner: nothing of it is stored again.
    #[error("the media of session {session} were deleted")]
    MediaDeleted { session: String },
}

/// How the API should classify a rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionKind {
    NotFound,
    Invalid,
    Conflict,
    Forbidden,
}

impl Rejection {
    pub fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound { .. } => RejectionKind::NotFound,
            Self::Invalid { .. } => RejectionKind::Invalid,
            Self::WrongStreamKey => RejectionKind::Forbidden,
            Self::AlreadyExists { .. }
            | Self::ChannelStopped
            | Self::ChannelNotStopped
            | Self::PublisherAlreadyConnected
            | Self::BackupAlreadyConnected
            | Self::NoBroadcast
            | Self::NoSuchOpenSession { .. }
            | Self::InvalidTransition { .. }
            | Self::TooEarly { .. }
            | Self::QuotaExceeded { .. }
            | Self::MediaDeleted { .. } => RejectionKind::Conflict,
        }
    }

    /// A stable, machine-readable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::AlreadyExists { .. } => "already_exists",
            Self::Invalid { .. } => "invalid_field",
            Self::ChannelStopped => "channel_stopped",
            Self::ChannelNotStopped => "channel_not_stopped",
            Self::WrongStreamKey => "wrong_stream_key",
            Self::PublisherAlreadyConnected => "publisher_already_connected",
            Self::BackupAlreadyConnected => "backup_already_connected",
            Self::NoBroadcast => "no_broadcast",
            Self::NoSuchOpenSession { .. } => "no_such_open_session",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::TooEarly { .. } => "too_early",
            Self::QuotaExceeded { .. } => "quota_exceeded",
            Self::MediaDeleted { .. } => "media_deleted",
        }
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::NotFound {
            what: what.to_owned(),
        }
    }
}
