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
use sigma_shared::settings::{LatencyMode, PlaybackPolicy};

use super::tokens::AccountKey;

/// What playback needs of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelAccess {
    pub owner: AccountId,
    pub signed: bool,
    /// How a player should play it (the `ultra_low` mode wants a low-latency player).
    pub latency_mode: LatencyMode,
    /// Its newest session, while that session's media exist: what a player shows when the
    /// channel is not live (its last picture, its catch-up).
    pub newest: Option<Newest>,
}

/// A channel's newest session, as a player page needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Newest {
    pub session: SessionId,
    /// It has a thumbnail: its `latest.jpg` exists.
    pub pictured: bool,
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

    /// Whether `session` has not ended.
    pub fn is_running(&self, session: &SessionId) -> bool {
        self.running.contains_key(session)
    }

    /// When the earliest session that has not ended started, if one runs.
    pub fn earliest_running(&self) -> Option<DateTime<Utc>> {
        self.running.values().min().copied()
    }

    /// `session`, if it is its channel's newest.
    fn newest_of(&mut self, session: &SessionId) -> Option<&mut Newest> {
        let channel = self.sessions.get(session)?;
        self.channels
            .get_mut(channel)?
            .newest
            .as_mut()
            .filter(|newest| newest.session == *session)
    }

    /// A player has nothing of `session` to show any more.
    fn forget_newest(&mut self, session: &SessionId) {
        if let Some(channel) = self.sessions.get(session) {
            if let Some(access) = self.channels.get_mut(channel) {
                if access
                    .newest
                    .is_some_and(|newest| newest.session == *session)
                {
                    access.newest = None;
                }
            }
        }
    }

    /// Folds one event in; each is applied once, in log order.
    pub fn apply(&mut self, envelope: &EventEnvelope) -> Changed {
        let channel = envelope.channel_id;
        match (&envelope.event, channel) {
            (Event::ChannelCreated { settings, .. }, Some(channel)) => {
                let access = ChannelAccess {
                    owner: envelope.account_id,
                    signed: settings.playback_policy == PlaybackPolicy::Signed,
                    latency_mode: settings.latency_mode,
                    newest: None,
                };
                self.channels.insert(channel, access);
            }
            (Event::ChannelUpdated { settings, .. }, Some(channel)) => {
                if let Some(access) = self.channels.get_mut(&channel) {
                    access.signed = settings.playback_policy == PlaybackPolicy::Signed;
                    access.latency_mode = settings.latency_mode;
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
            ) => {
                if let Some(access) = self.channels.get_mut(&channel) {
                    access.newest = Some(Newest {
                        session: *session_id,
                        pictured: false,
                    });
                    self.sessions.insert(*session_id, channel);
                    self.running.insert(*session_id, *started_at);
                }
            }
            (Event::SessionEnded { session_id, .. }, _) => {
                self.running.remove(session_id);
            }
            (Event::ThumbnailReady { session_id, .. }, _) => {
                if let Some(newest) = self.newest_of(session_id) {
                    newest.pictured = true;
                }
            }
            // Its catch-up and pictures expired; its recording (if any) plays on.
            (Event::SessionMediaExpired { session_id }, _) => {
                self.forget_newest(session_id);
            }
            // Its recording and catch-up are gone: none of its routes opens again.
            (Event::SessionMediaDeleted { session_id }, _) => {
                self.forget_newest(session_id);
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

    fn created(settings: ChannelSettings) -> Event {
        Event::ChannelCreated {
            name: "stage".into(),
            settings,
            // Playback never reads the key: any will do.
            stream_key: StreamKeyAtRest {
                fingerprint: KeyFingerprint::of("sk_stage"),
                key: StoredSecret::Legacy("sk_stage".to_owned().try_into().unwrap()),
            },
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
                created(settings(PlaybackPolicy::Public)),
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
            latency_mode: LatencyMode::default(),
            newest: Some(Newest {
                session,
                pictured: false,
            }),
        };
        assert_eq!(access.channel(&channel), Some(expected));
        assert_eq!(access.session(&session), Some((channel, expected)));
        assert_eq!(access.key(&key).map(|key| key.account), Some(account));
        assert_eq!(access.earliest_running(), Some(started));
        assert!(access.is_running(&session));

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
        assert!(!access.is_running(&session));
        assert_eq!(
            access
                .channel(&channel)
                .unwrap()
                .newest
                .map(|newest| newest.session),
            Some(session),
            "a player shows the ended session's picture and catch-up"
        );
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
    #[test]
    fn a_channel_s_newest_session_is_shown_while_its_media_exist() {
        let (account, channel) = (AccountId::generate(), ChannelId::generate());
        let (older, newer) = (SessionId::generate(), SessionId::generate());
        let event = |event| EventEnvelope::accepted_now(account, Some(channel), event);
        let started = |session_id| Event::SessionStarted {
            session_id,
            started_at: Utc::now(),
        };
        let pictured = |session_id| Event::ThumbnailReady {
            session_id,
            path: format!("{session_id}/thumbs/1.jpg"),
        };
        let mut access = Access::default();
        access.apply(&event(created(ChannelSettings {
            latency_mode: LatencyMode::UltraLow,
            ..ChannelSettings::default()
        })));
        let newest = |access: &Access| access.channel(&channel).unwrap().newest;
        let shown = |session, pictured| Some(Newest { session, pictured });
        assert_eq!(newest(&access), None, "no session yet");
        assert_eq!(
            access.channel(&channel).unwrap().latency_mode,
            LatencyMode::UltraLow
        );

        access.apply(&event(started(older)));
        access.apply(&event(pictured(older)));
        assert_eq!(newest(&access), shown(older, true));
        access.apply(&event(started(newer)));
        assert_eq!(newest(&access), shown(newer, false), "no picture of it yet");
        access.apply(&event(pictured(older)));
        assert_eq!(
            newest(&access),
            shown(newer, false),
            "an older one's picture"
        );
        access.apply(&event(pictured(newer)));
        assert_eq!(newest(&access), shown(newer, true));

        access.apply(&event(Event::SessionMediaDeleted { session_id: older }));
        assert_eq!(
            newest(&access),
            shown(newer, true),
            "an older one's deletion"
        );
        access.apply(&event(Event::SessionMediaExpired { session_id: newer }));
        assert_eq!(newest(&access), None, "its catch-up and pictures expired");
        assert!(
            access.session(&newer).is_some(),
            "its recording plays on after expiry"
        );
    }
}
