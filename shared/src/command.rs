//! Commands: what a client (through the API) or an edge worker (through ingest) asks of an
//! aggregate. A command is appended to the log keyed by its aggregate; the decider that owns that
//! key decides it exactly once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, AlertId, ChannelId, CommandId, PlaybackKeyId, SessionId, WebhookId};
use crate::secret::{KeyFingerprint, Sealed, SealedStreamKey};
use crate::session::{EndReason, Input};
use crate::settings::{ChannelSettings, SettingsPatch};

/// A command with what every command carries: an id (for exactly-once) and the instant it was
/// issued (the only clock `decide` ever sees).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandEnvelope {
    pub id: CommandId,
    pub issued_at: DateTime<Utc>,
    pub command: Command,
}

impl CommandEnvelope {
    pub fn new(command: Command, issued_at: DateTime<Utc>) -> Self {
        Self {
            id: CommandId::generate(),
            issued_at,
            command,
        }
    }

    /// The log key: the aggregate this command is for.
    pub fn stream(&self) -> String {
        self.command.stream()
    }
}

/// A command for one aggregate. Each variant's fields sit beside the tag in the log (the
/// newtype variants serialize as their structs' fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "aggregate", rename_all = "snake_case")]
pub enum Command {
    Account(ToAccount),
    Channel(ToChannel),
    Webhook(ToWebhook),
}

impl Command {
    pub fn stream(&self) -> String {
        match self {
            Self::Account(to) => to.account_id.to_string(),
            Self::Channel(to) => to.channel_id.to_string(),
            Self::Webhook(to) => to.webhook_id.to_string(),
        }
    }

    pub fn account(account_id: AccountId, command: AccountCommand) -> Self {
        Self::Account(ToAccount {
            account_id,
            command,
        })
    }

    pub fn channel(channel_id: ChannelId, command: ChannelCommand) -> Self {
        Self::Channel(ToChannel {
            channel_id,
            command,
        })
    }

    /// `account_id` is the caller, who must own the subscription.
    pub fn webhook(webhook_id: WebhookId, account_id: AccountId, command: WebhookCommand) -> Self {
        Self::Webhook(ToWebhook {
            webhook_id,
            account_id,
            command,
        })
    }
}

/// A command to one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToAccount {
    pub account_id: AccountId,
    pub command: AccountCommand,
}

/// A command to one channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToChannel {
    pub channel_id: ChannelId,
    pub command: ChannelCommand,
}

/// A command to one webhook subscription; `account_id` is the caller, who must own it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToWebhook {
    pub webhook_id: WebhookId,
    pub account_id: AccountId,
    pub command: WebhookCommand,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountCommand {
    Create {
        name: String,
    },
    /// Adds a playback signing key. The key pair is drawn by the caller, who shows the private
    /// half once and keeps only the public one in the command.
    AddPlaybackKey {
        key_id: PlaybackKeyId,
        /// The Ed25519 public key, 32 bytes in unpadded base64url.
        public_key: String,
    },
    /// Removes a playback key: tokens it signed stop opening anything.
    RemovePlaybackKey {
        key_id: PlaybackKeyId,
    },
    /// Revokes every API token of the account minted so far.
    RevokeTokens,
}

/// What an account asks of one of its webhook subscriptions. Secrets are drawn by the caller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WebhookCommand {
    Create {
        url: String,
        event_types: Vec<String>,
        secret: Sealed,
    },
    RotateSecret {
        secret: Sealed,
        overlap_seconds: u32,
    },
    Delete,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChannelCommand {
    /// The stream key is drawn by the caller so `decide` stays free of randomness.
    Create {
        account_id: AccountId,
        name: String,
        settings: ChannelSettings,
        stream_key: SealedStreamKey,
    },
    /// Something the channel's owner asks; refused as "not found" for any other account.
    Owner {
        account_id: AccountId,
        action: OwnerAction,
    },
    /// Something an edge worker reports about the media it ingests.
    Ingest { action: IngestAction },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OwnerAction {
    Update {
        name: Option<String>,
        patch: SettingsPatch,
    },
    Delete,
    Stop,
    Resume,
    RotateStreamKey {
        stream_key: SealedStreamKey,
    },
    /// Deletes an ended session's recording and catch-up media.
    DeleteSessionMedia {
        session_id: SessionId,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IngestAction {
    /// A publisher presented a stream key (known by its fingerprint). `new_session_id` is used only if this starts a new
    /// session; a publisher returning within the reconnect window continues the open one.
    ConnectPublisher {
        stream_key: KeyFingerprint,
        new_session_id: SessionId,
    },
    /// A backup publisher presented the stream key (`?backup=1`). It backs up the open
    /// session: on standby while the primary streams, on air at once if the primary is gone.
    ConnectBackup { stream_key: KeyFingerprint },
    /// The backup publisher is gone.
    DisconnectBackup {
        session_id: SessionId,
        /// Where its media timeline ended (ms), if it was on air.
        media_end_ms: u64,
    },
    /// An input stopped sending media while connected (its `no_media` rule): if it is on air
    /// and the other input is connected, the other takes over.
    InputStalled {
        session_id: SessionId,
        input: Input,
        /// Where its media timeline ended (ms).
        media_end_ms: u64,
    },
    /// A stalled input's media flowed again for the recovery hold: the primary goes back on air
    /// if the backup has it.
    InputRecovered { session_id: SessionId, input: Input },
    /// Media is flowing: `init` → `processing`.
    MediaFlowing { session_id: SessionId },
    /// The first complete segment exists: `processing` → `live`.
    FirstSegment { session_id: SessionId },
    DisconnectPublisher {
        session_id: SessionId,
        /// Where the connection's media timeline ended (ms).
        #[serde(default)]
        media_end_ms: u64,
    },
    /// A timer fired: the reconnect window elapsed (`PublisherGone`) or the session reached its
    /// maximum duration (`MaxDuration`). `decide` checks the claim against the issue time.
    EndSession {
        session_id: SessionId,
        reason: EndReason,
    },
    /// The media pipeline failed for good.
    FailSession {
        session_id: SessionId,
        message: String,
    },
    /// The ended session's source recording is stored (`recording.ready`).
    FinishRecording {
        session_id: SessionId,
        path: String,
        duration_seconds: f64,
        bytes: u64,
    },
    /// The ended session's catch-up media are deleted (`session.media_expired`).
    ExpireMedia { session_id: SessionId },
    /// The session's first thumbnail is stored (`thumbnail.ready`, once per session).
    ShowThumbnail { session_id: SessionId, path: String },
    /// The ended session's storyboard is complete (`storyboard.ready`).
    FinishStoryboard {
        session_id: SessionId,
        thumbnails: u32,
    },
    /// Part of the pipeline is in trouble while the session goes on (`alert.raised`).
    RaiseAlert {
        session_id: SessionId,
        /// Drawn by the caller; refused if an alert of this code is already open.
        alert_id: AlertId,
        code: String,
        message: String,
    },
    /// The trouble is over (`alert.cleared`).
    ClearAlert { session_id: SessionId, code: String },
}

impl IngestAction {
    /// `input`'s publisher is gone, its media having got to `media_end_ms`.
    pub fn disconnect(input: Input, session_id: SessionId, media_end_ms: u64) -> Self {
        match input {
            Input::Primary => Self::DisconnectPublisher {
                session_id,
                media_end_ms,
            },
            Input::Backup => Self::DisconnectBackup {
                session_id,
                media_end_ms,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commands stay in the log: each aggregate's shape is the tag beside the target's fields,
    /// as it has been since the first release, and it reads back to the same command.
    #[test]
    fn the_logged_shape_of_every_command_is_kept() {
        let account_id = AccountId::from_uuid(uuid::Uuid::from_u128(1));
        let channel_id = ChannelId::from_uuid(uuid::Uuid::from_u128(2));
        let webhook_id = WebhookId::from_uuid(uuid::Uuid::from_u128(3));
        let logged = [
            (
                Command::account(account_id, AccountCommand::RevokeTokens),
                format!(
                    r#"{{"aggregate":"account","account_id":"{account_id}","command":{{"type":"revoke_tokens"}}}}"#
                ),
            ),
            (
                Command::channel(
                    channel_id,
                    ChannelCommand::Owner {
                        account_id,
                        action: OwnerAction::Stop,
                    },
                ),
                format!(
                    r#"{{"aggregate":"channel","channel_id":"{channel_id}","command":{{"type":"owner","account_id":"{account_id}","action":{{"type":"stop"}}}}}}"#
                ),
            ),
            (
                Command::webhook(webhook_id, account_id, WebhookCommand::Delete),
                format!(
                    r#"{{"aggregate":"webhook","webhook_id":"{webhook_id}","account_id":"{account_id}","command":{{"type":"delete"}}}}"#
                ),
            ),
        ];
        for (command, json) in logged {
            assert_eq!(serde_json::to_string(&command).unwrap(), json);
            assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), command);
        }
    }
}
