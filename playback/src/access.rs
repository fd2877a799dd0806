//! Who may watch what, as playback needs it for every request: each channel's owner and
//! playback policy, each session's channel, each account's playback keys; and which sessions
//! run now (playback reads the media topic from the earliest one's start). A fold of the
//! events from the start of the log, kept current by following them, so a request is checked
//! against memory only and a playback node needs no database.
//!
//! A channel playback does not know is not served: a deleted one (its sessions with it), or
//! one created a moment ago whose event has not arrived yet.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sigma_shared::event::{Event, EventEnvelope};
use sigma_shared::ids::{AccountId, ChannelId, PlaybackKeyId, SessionId};
use sigma_shared::settings::PlaybackPolicy;

use super::tokens::AccountKey;

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
    /// When each session that has not ended started.
    running: HashMap<SessionId, DateTime<Utc>>,
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

    /// When the earliest session that has not ended started, if one runs.
    pub fn earliest_running(&self) -> Option<DateTime<Utc>> {
        self.running.values().min().copied()
    }

    /// Folds one event in; each is applied once, in log order.
    pub fn apply(&mut self, envelope: &EventEnvelope) -> Changed {
        let channel = envelope.channel_id;
        match (&envelope.event, channel) {
            (Event::ChannelCreated { settings, .. }, Some(channel)) => {
                let signed = settings.playback_policy == PlaybackPolicy::Signed;
                let owner = envelope.account_id;
                self.channels
                    .insert(channel, ChannelAccess { owner, signed });
            }
            (Event::ChannelUpdated { settings, .. }, Some(channel)) => {
                if let Some(access) = self.channels.get_mut(&channel) {
                    access.signed = settings.playback_policy == PlaybackPolicy::Signed;
                }
            }
            (Event::ChannelDeleted {}, Some(channel)) => {
                self.channels.remove(&channel);
                let sessions = &self.sessions;
                self.running
                    .retain(|session, _| sessions.get(session) != Some(&channel));
                self.sessions.retain(|_, of| *of != channel);
            }
            (
                Event::SessionStarted {
                    session_id,
                    started_at,
                },
                Some(channel),
            ) if self.channels.contains_key(&channel) => {
                self.sessions.insert(*session_id, channel);
                self.running.insert(*session_id, *started_at);
            }
            (Event::SessionEnded { session_id, .. }, _) => {
                self.running.remove(session_id);
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
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sigma_shared::secret::{KeyFingerprint, StoredSecret, StreamKeyAtRest};
    use sigma_shared::session::EndReason;
    use sigma_shared::settings::ChannelSettings;

    use super::*;

    fn settings(policy: PlaybackPolicy) -> ChannelSettings {
        ChannelSettings {
            playback_policy: policy,
            ..ChannelSettings::default()
        }
    }

    #[test]
    fn channels_sessions_and_keys_follow_their_events() {
        let (account, channel, session) = (
            AccountId::generate(),
            ChannelId::generate(),
            SessionId::generate(),
        );
        let key = PlaybackKeyId::generate();
        let started = Utc::now();
        let history = [
            EventEnvelope::accepted_now(
                account,
                Some(channel),
                Event::ChannelCreated {
                    name: "stage".into(),
                    settings: settings(PlaybackPolicy::Public),
                    // Playback never reads the key: any will do.
                    stream_key: StreamKeyAtRest {
                        fingerprint: KeyFingerprint::of("sk_stage"),
                        key: StoredSecret::Legacy("sk_stage".to_owned().try_into().unwrap()),
                    },
                },
            ),
            EventEnvelope::accepted_now(
                account,
                Some(channel),
                Event::SessionStarted {
                    session_id: session,
                    started_at: started,
                },
            ),
            EventEnvelope::accepted_now(
                account,
                Some(channel),
                Event::ChannelUpdated {
                    name: "stage".into(),
                    settings: settings(PlaybackPolicy::Signed),
                },
            ),
            EventEnvelope::accepted_now(
                account,
                None,
                Event::PlaybackKeyCreated {
                    key_id: key,
                    public_key: "11".repeat(32),
                },
            ),
        ];
        let mut access = Access::default();
        for event in &history {
            assert_eq!(access.apply(event), Changed::Nothing);
        }
        let expected = ChannelAccess {
            owner: account,
            signed: true,
        };
        assert_eq!(access.channel(&channel), Some(expected));
        assert_eq!(access.session(&session), Some((channel, expected)));
        assert_eq!(access.key(&key).map(|key| key.account), Some(account));
        assert_eq!(access.earliest_running(), Some(started));

        assert_eq!(
            access.apply(&EventEnvelope::accepted_now(
                account,
                None,
                Event::PlaybackKeyDeleted { key_id: key }
            )),
            Changed::KeyRemoved(key)
        );
        assert!(access.key(&key).is_none());
        access.apply(&EventEnvelope::accepted_now(
            account,
            Some(channel),
            Event::SessionEnded {
                session_id: session,
                reason: EndReason::PublisherGone,
            },
        ));
        assert_eq!(
            access.earliest_running(),
            None,
            "an ended session runs no more"
        );
        assert!(access.session(&session).is_some(), "its catch-up plays on");
        access.apply(&EventEnvelope::accepted_now(
            account,
            Some(channel),
            Event::ChannelDeleted {},
        ));
        assert_eq!(access.channel(&channel), None);
        assert_eq!(
            access.session(&session),
            None,
            "a deleted channel's sessions go too"
        );
    }
}
