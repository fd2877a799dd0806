//! What admission needs to know before it asks a channel's decider: which channel a presented
//! stream key opens (by the key's fingerprint), that channel's settings, and which sessions
//! each account has open (for its session quotas). A fold of the events from the start of the
//! log, kept current by the command bus before it tells a waiter its decision (so a publisher
//! admitted here is counted before the next one is), so an edge worker needs no database.
//!
//! A key admission does not know is given a moment ([`KEY_PATIENCE`]) for its channel's
//! creation to arrive (made a moment ago through another process, its event not here yet)
//! before it is refused.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::Duration;

use tokio::sync::watch;

use sigma_shared::event::{Event, EventEnvelope};
use sigma_shared::ids::{AccountId, ChannelId, SessionId};
use sigma_shared::secret::KeyFingerprint;
use sigma_shared::settings::{ChannelSettings, TranscodeProfile};

/// A channel as admission sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub account: AccountId,
    pub settings: ChannelSettings,
    fingerprint: KeyFingerprint,
}

/// The sessions an account has open on its other channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenSessions {
    pub all: u64,
    /// Of those, the sessions of `transcode: abr` channels (each runs a ladder).
    pub abr: u64,
}

/// How long an unknown key waits for its channel to appear: the log's delivery from the
/// process that created it (milliseconds), with room for a loaded machine. Wrong keys are
/// refused only after it, which slows a guesser down too (connections are capped, see
/// docs/SECURITY.md), and within the publish deadline (10 s).
pub const KEY_PATIENCE: Duration = Duration::from_secs(3);

/// The directory as a process shares it: folded by the command bus, read by admission.
pub struct Listing {
    directory: RwLock<Directory>,
    /// Bumped after each fold, for the keys waiting to be known.
    folded: watch::Sender<()>,
}

impl Default for Listing {
    fn default() -> Self {
        Self {
            directory: RwLock::default(),
            folded: watch::channel(()).0,
        }
    }
}

impl Listing {
    pub fn apply(&self, envelope: &EventEnvelope) {
        self.directory
            .write()
            .expect("directory lock")
            .apply(envelope);
        self.folded.send_replace(());
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Directory> {
        self.directory.read().expect("directory lock")
    }

    /// The channel `key` opens, waiting up to `patience` for one to appear.
    pub async fn find(
        &self,
        key: &KeyFingerprint,
        patience: Duration,
    ) -> Option<(ChannelId, Listed)> {
        let mut folded = self.folded.subscribe();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Some(found) = self.read().by_key(key) {
                return Some(found);
            }
            tokio::time::timeout_at(deadline, folded.changed())
                .await
                .ok()?
                .ok()?;
        }
    }
}

#[derive(Default)]
pub struct Directory {
    channels: HashMap<ChannelId, Listed>,
    by_key: HashMap<KeyFingerprint, ChannelId>,
    /// Sessions that have not ended, with their channel.
    open: HashMap<SessionId, ChannelId>,
}

impl Directory {
    /// The channel `key` opens, if one does.
    pub fn by_key(&self, key: &KeyFingerprint) -> Option<(ChannelId, Listed)> {
        let channel = self.by_key.get(key)?;
        Some((*channel, self.channels.get(channel)?.clone()))
    }

    /// The sessions `account` has open on its channels other than `except`.
    pub fn open_sessions(&self, account: AccountId, except: ChannelId) -> OpenSessions {
        let mut open = OpenSessions::default();
        for channel in self.open.values().filter(|channel| **channel != except) {
            let Some(listed) = self.channels.get(channel).filter(|c| c.account == account) else {
                continue;
            };
            open.all += 1;
            if listed.settings.transcode == TranscodeProfile::Abr {
                open.abr += 1;
            }
        }
        open
    }

    /// Folds one event in; each is applied once, in log order.
    pub fn apply(&mut self, envelope: &EventEnvelope) {
        let Some(channel) = envelope.channel_id else {
            return;
        };
        match &envelope.event {
            Event::ChannelCreated {
                settings,
                stream_key,
                ..
            } => {
                self.by_key.insert(stream_key.fingerprint.clone(), channel);
                self.channels.insert(
                    channel,
                    Listed {
                        account: envelope.account_id,
                        settings: settings.clone(),
                        fingerprint: stream_key.fingerprint.clone(),
                    },
                );
            }
            Event::ChannelUpdated { settings, .. } => {
                if let Some(listed) = self.channels.get_mut(&channel) {
                    listed.settings = settings.clone();
                }
            }
            Event::StreamKeyRotated { stream_key } => {
                if let Some(listed) = self.channels.get_mut(&channel) {
                    self.by_key.remove(&listed.fingerprint);
                    listed.fingerprint = stream_key.fingerprint.clone();
                    self.by_key.insert(stream_key.fingerprint.clone(), channel);
                }
            }
            Event::ChannelDeleted {} => {
                if let Some(listed) = self.channels.remove(&channel) {
                    self.by_key.remove(&listed.fingerprint);
                }
                self.open.retain(|_, of| *of != channel);
            }
            Event::SessionStarted { session_id, .. } if self.channels.contains_key(&channel) => {
                self.open.insert(*session_id, channel);
            }
            Event::SessionEnded { session_id, .. } => {
                self.open.remove(session_id);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sigma_shared::secret::{StoredSecret, StreamKeyAtRest};
    use sigma_shared::session::EndReason;

    use super::*;

    /// A key as the log keeps it; admission reads only its fingerprint.
    fn key(text: &str) -> StreamKeyAtRest {
        StreamKeyAtRest {
            fingerprint: KeyFingerprint::of(text),
            key: StoredSecret::Legacy(text.to_owned().try_into().unwrap()),
        }
    }

    fn created(transcode: TranscodeProfile, stream_key: &str) -> Event {
        Event::ChannelCreated {
            name: "stage".into(),
            settings: ChannelSettings {
                transcode,
                ..ChannelSettings::default()
            },
            stream_key: key(stream_key),
        }
    }

    #[test]
    fn a_key_opens_its_channel_until_it_is_rotated_or_the_channel_deleted() {
        let (account, channel) = (AccountId::generate(), ChannelId::generate());
        let history = [
            EventEnvelope::accepted_now(
                account,
                Some(channel),
                created(TranscodeProfile::Abr, "sk_old"),
            ),
            EventEnvelope::accepted_now(
                account,
                Some(channel),
                Event::StreamKeyRotated {
                    stream_key: key("sk_new"),
                },
            ),
        ];
        let mut directory = Directory::default();
        for event in &history {
            directory.apply(event);
        }
        assert!(directory.by_key(&KeyFingerprint::of("sk_old")).is_none());
        let (found, listed) = directory.by_key(&KeyFingerprint::of("sk_new")).unwrap();
        assert_eq!((found, listed.account), (channel, account));
        assert_eq!(listed.settings.transcode, TranscodeProfile::Abr);

        directory.apply(&EventEnvelope::accepted_now(
            account,
            Some(channel),
            Event::ChannelDeleted {},
        ));
        assert!(directory.by_key(&KeyFingerprint::of("sk_new")).is_none());
    }

    #[tokio::test]
    async fn a_key_not_known_yet_is_found_when_its_channel_arrives_within_the_patience() {
        let listing = std::sync::Arc::new(Listing::default());
        let (account, channel) = (AccountId::generate(), ChannelId::generate());
        let key = KeyFingerprint::of("sk_soon");
        let waiting = tokio::spawn({
            let (listing, key) = (listing.clone(), key.clone());
            async move { listing.find(&key, Duration::from_secs(30)).await }
        });
        // Another channel first: the wait goes on.
        listing.apply(&EventEnvelope::accepted_now(
            account,
            Some(ChannelId::generate()),
            created(TranscodeProfile::Passthrough, "sk_other"),
        ));
        listing.apply(&EventEnvelope::accepted_now(
            account,
            Some(channel),
            created(TranscodeProfile::Passthrough, "sk_soon"),
        ));
        let (found, _) = waiting.await.unwrap().expect("found once it arrived");
        assert_eq!(found, channel);

        let started = std::time::Instant::now();
        let never = listing
            .find(&KeyFingerprint::of("sk_never"), Duration::from_millis(50))
            .await;
        assert!(never.is_none());
        assert!(started.elapsed() >= Duration::from_millis(50), "it waited");
    }

    #[test]
    fn open_sessions_count_the_accounts_other_channels_until_they_end() {
        let (account, other_account) = (AccountId::generate(), AccountId::generate());
        let [abr, plain, connecting, strangers] = [(); 4].map(|()| ChannelId::generate());
        let mut directory = Directory::default();
        let mut sessions = Vec::new();
        for (owner, channel, transcode) in [
            (account, abr, TranscodeProfile::Abr),
            (account, plain, TranscodeProfile::Passthrough),
            (account, connecting, TranscodeProfile::Abr),
            (other_account, strangers, TranscodeProfile::Abr),
        ] {
            let session = SessionId::generate();
            for event in [
                created(transcode, &format!("sk_{channel}")),
                Event::SessionStarted {
                    session_id: session,
                    started_at: Utc::now(),
                },
            ] {
                directory.apply(&EventEnvelope::accepted_now(owner, Some(channel), event));
            }
            sessions.push((owner, channel, session));
        }
        assert_eq!(
            directory.open_sessions(account, connecting),
            OpenSessions { all: 2, abr: 1 },
            "its own channel's session is not counted, nor another account's"
        );
        let (owner, channel, session) = sessions[0];
        directory.apply(&EventEnvelope::accepted_now(
            owner,
            Some(channel),
            Event::SessionEnded {
                session_id: session,
                reason: EndReason::PublisherGone,
            },
        ));
        assert_eq!(
            directory.open_sessions(account, connecting),
            OpenSessions { all: 1, abr: 0 }
        );
    }
}
