//! Who may watch what, as playback needs it for every request: each channel's owner and
//! playback policy, each session's channel, each account's playback keys. A fold of the
//! events, started from the read models (with the offsets they were projected up to) and kept
//! current by following the events from there, so a request is checked against memory only.
//!
//! A channel playback does not know is not served: a deleted one (its sessions with it), or
//! one created a moment ago whose event has not arrived yet.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};
use sigma_shared::event::{Event, EventEnvelope};
use sigma_shared::ids::{AccountId, ChannelId, PlaybackKeyId, SessionId};
use sigma_shared::log::{Offset, Partition};
use sigma_shared::settings::PlaybackPolicy;

use super::tokens::AccountKey;
use crate::db;

/// What playback needs of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelAccess {
    pub owner: AccountId,
    pub signed: bool,
}

#[derive(Default)]
pub struct Access {
    channels: HashMap<ChannelId, ChannelAccess>,
    sessions: HashMap<SessionId, ChannelId>,
    keys: HashMap<PlaybackKeyId, AccountKey>,
}

/// What an event changed that others must hear of.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    Nothing,
    /// A playback key was removed: tokens it signed must be verified again.
    KeyRemoved(PlaybackKeyId),
}

impl Access {
    /// The channel, if it exists.
    pub fn channel(&self, channel: &ChannelId) -> Option<ChannelAccess> {
        self.channels.get(channel).copied()
    }

    /// The session's channel, if both exist.
    pub fn session(&self, session: &SessionId) -> Option<(ChannelId, ChannelAccess)> {
        let channel = self.sessions.get(session)?;
        Some((*channel, self.channel(channel)?))
    }

    pub fn key(&self, key: &PlaybackKeyId) -> Option<AccountKey> {
        self.keys.get(key).cloned()
    }

    /// Folds one event in. Applying an event again (the fold starts from rows that may be
    /// newer than their offsets) leaves the same state.
    pub fn apply(&mut self, envelope: &EventEnvelope) -> Changed {
        let channel = envelope.channel_id;
        match (&envelope.event, channel) {
            // A channel loaded from a newer row keeps that row's policy: the updates that
            // follow its creation come next anyway.
            (Event::ChannelCreated { settings, .. }, Some(channel)) => {
                self.channels.entry(channel).or_insert(ChannelAccess {
                    owner: envelope.account_id,
                    signed: settings.playback_policy == PlaybackPolicy::Signed,
                });
            }
            (Event::ChannelUpdated { settings, .. }, Some(channel)) => {
                if let Some(access) = self.channels.get_mut(&channel) {
                    access.signed = settings.playback_policy == PlaybackPolicy::Signed;
                }
            }
            (Event::ChannelDeleted {}, Some(channel)) => {
                self.channels.remove(&channel);
                self.sessions.retain(|_, of| *of != channel);
            }
            (Event::SessionStarted { session_id, .. }, Some(channel))
                if self.channels.contains_key(&channel) =>
            {
                self.sessions.insert(*session_id, channel);
            }
            // Its recording and catch-up are gone: none of its routes opens again.
            (Event::SessionMediaDeleted { session_id }, _) => {
                self.sessions.remove(session_id);
            }
            (Event::PlaybackKeyCreated { key_id, public_key }, _) => {
                if let Some(key) = AccountKey::from_hex(envelope.account_id, public_key) {
                    self.keys.insert(*key_id, key);
                }
            }
            (Event::PlaybackKeyDeleted { key_id }, _) => {
                self.keys.remove(key_id);
                return Changed::KeyRemoved(*key_id);
            }
            _ => {}
        }
        Changed::Nothing
    }

    /// The state the read models hold, and the events offsets (per partition) it was projected
    /// up to: the fold goes on from there.
    pub async fn load(db: &DatabaseConnection) -> Result<(Self, Vec<(Partition, Offset)>), DbErr> {
        let offsets = crate::follow::projected_offsets(db).await?;
        let mut access = Self::default();
        for row in db::channels::Entity::find().all(db).await? {
            let (Ok(channel), Ok(owner)) = (row.id.parse(), row.account_id.parse()) else {
                continue;
            };
            let policy: PlaybackPolicy = crate::project::channels::text_enum(&row.playback_policy);
            let signed = policy == PlaybackPolicy::Signed;
            access
                .channels
                .insert(channel, ChannelAccess { owner, signed });
        }
        let sessions: Vec<(String, String)> = db::sessions::Entity::find()
            .filter(db::sessions::Column::MediaDeletedAt.is_null())
            .select_only()
            .column(db::sessions::Column::Id)
            .column(db::sessions::Column::ChannelId)
            .into_tuple()
            .all(db)
            .await?;
        for (session, channel) in sessions {
            if let (Ok(session), Ok(channel)) = (session.parse(), channel.parse()) {
                if access.channels.contains_key(&channel) {
                    access.sessions.insert(session, channel);
                }
            }
        }
        for row in db::playback_keys::Entity::find().all(db).await? {
            let (Ok(key_id), Ok(account)) = (row.id.parse(), row.account_id.parse()) else {
                continue;
            };
            if let Some(key) = AccountKey::from_hex(account, &row.public_key) {
                access.keys.insert(key_id, key);
            }
        }
        Ok((access, offsets))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sigma_shared::event::current_schema_version;
    use sigma_shared::ids::{CommandId, EventId};
    use sigma_shared::settings::ChannelSettings;

    use super::*;

    fn envelope(account: AccountId, channel: Option<ChannelId>, event: Event) -> EventEnvelope {
        EventEnvelope {
            id: EventId::generate(),
            account_id: account,
            channel_id: channel,
            session_id: event.session_id(),
            sequence: 1,
            occurred_at: Utc::now(),
            command_id: CommandId::generate(),
            schema_version: current_schema_version(event.type_name()),
            event,
        }
    }

    fn settings(policy: PlaybackPolicy) -> ChannelSettings {
        ChannelSettings {
            playback_policy: policy,
            ..ChannelSettings::default()
        }
    }

    #[test]
    fn channels_sessions_and_keys_follow_their_events_and_replays_change_nothing() {
        let (account, channel, session) = (
            AccountId::generate(),
            ChannelId::generate(),
            SessionId::generate(),
        );
        let key = PlaybackKeyId::generate();
        let history = [
            envelope(
                account,
                Some(channel),
                Event::ChannelCreated {
                    name: "stage".into(),
                    settings: settings(PlaybackPolicy::Public),
                    stream_key: crate::sealing::SecretsKey::generate()
                        .seal_stream_key("sk_stage", channel)
                        .at_rest(),
                },
            ),
            envelope(
                account,
                Some(channel),
                Event::SessionStarted {
                    session_id: session,
                    started_at: Utc::now(),
                },
            ),
            envelope(
                account,
                Some(channel),
                Event::ChannelUpdated {
                    name: "stage".into(),
                    settings: settings(PlaybackPolicy::Signed),
                },
            ),
            envelope(
                account,
                None,
                Event::PlaybackKeyCreated {
                    key_id: key,
                    public_key: "11".repeat(32),
                },
            ),
        ];
        let mut access = Access::default();
        for event in history.iter().chain(history.iter()) {
            assert_eq!(access.apply(event), Changed::Nothing);
        }
        let expected = ChannelAccess {
            owner: account,
            signed: true,
        };
        assert_eq!(access.channel(&channel), Some(expected));
        assert_eq!(access.session(&session), Some((channel, expected)));
        assert_eq!(access.key(&key).map(|key| key.account), Some(account));

        assert_eq!(
            access.apply(&envelope(
                account,
                None,
                Event::PlaybackKeyDeleted { key_id: key }
            )),
            Changed::KeyRemoved(key)
        );
        assert!(access.key(&key).is_none());
        access.apply(&envelope(account, Some(channel), Event::ChannelDeleted {}));
        assert_eq!(access.channel(&channel), None);
        assert_eq!(
            access.session(&session),
            None,
            "a deleted channel's sessions go too"
        );
    }
}
