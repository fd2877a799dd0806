//! Property tests: random sequences of commands (valid, invalid and hostile) never break the
//! channel's invariants.

use std::collections::{BTreeSet, HashMap};

use crate::aggregate::testing::Given;
use crate::aggregate::Aggregate;
use crate::channel::{ChannelState, ChannelStatus};
use crate::command::{ChannelCommand, IngestAction, OwnerAction, ToChannel};
use crate::event::Event;
use crate::ids::{AccountId, ChannelId, SessionId};
use crate::secret::{KeyFingerprint, Sealed, SealedStreamKey};
use crate::session::{EndReason, Input, SessionStatus};
use crate::settings::{ChannelSettings, SettingsPatch};
use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

const KEYS: [&str; 3] = [
    "key_aaaaaaaaaaaaaaaa",
    "key_bbbbbbbbbbbbbbbb",
    "key_cccccccccccccccc",
];

/// A key as the API hands it to the decider.
fn sealed(key: &str) -> SealedStreamKey {
    SealedStreamKey {
        fingerprint: KeyFingerprint::of(key),
        sealed: Sealed::try_from(format!("sealed.{key}")).unwrap(),
    }
}

#[derive(Clone, Debug)]
enum Step {
    Create { key: usize },
    Update { reconnect: u32, max_session: u32 },
    Delete,
    Stop,
    Resume,
    Rotate { key: usize },
    Connect { key: usize, session: u8 },
    MediaFlowing { session: u8 },
    FirstSegment { session: u8 },
    Disconnect { session: u8 },
    End { session: u8, reason: EndReason },
    Fail { session: u8 },
    Backup { key: usize },
    BackupGone { session: u8 },
    Stall { session: u8, backup: bool },
    Recover { session: u8, backup: bool },
    Stranger,
}

fn session(n: u8) -> SessionId {
    SessionId::from_uuid(Uuid::from_u128(u128::from(n) + 1))
}

fn step() -> impl Strategy<Value = Step> {
    let reason = prop_oneof![
        Just(EndReason::PublisherGone),
        Just(EndReason::MaxDuration),
        Just(EndReason::StoppedByOwner),
        Just(EndReason::PipelineError),
    ];
    prop_oneof![
        (0..3usize).prop_map(|key| Step::Create { key }),
        (0..120u32, 30..200u32).prop_map(|(reconnect, max_session)| Step::Update {
            reconnect,
            max_session
        }),
        Just(Step::Delete),
        Just(Step::Stop),
        Just(Step::Resume),
        (0..3usize).prop_map(|key| Step::Rotate { key }),
        (0..3usize, 0..6u8).prop_map(|(key, session)| Step::Connect { key, session }),
        (0..6u8).prop_map(|session| Step::MediaFlowing { session }),
        (0..6u8).prop_map(|session| Step::FirstSegment { session }),
        (0..6u8).prop_map(|session| Step::Disconnect { session }),
        (0..6u8, reason).prop_map(|(session, reason)| Step::End { session, reason }),
        (0..6u8).prop_map(|session| Step::Fail { session }),
        (0..3usize).prop_map(|key| Step::Backup { key }),
        (0..6u8).prop_map(|session| Step::BackupGone { session }),
        (0..6u8, any::<bool>()).prop_map(|(session, backup)| Step::Stall { session, backup }),
        (0..6u8, any::<bool>()).prop_map(|(session, backup)| Step::Recover { session, backup }),
        Just(Step::Stranger),
    ]
}

fn command(step: &Step, owner: AccountId) -> ChannelCommand {
    let owned = |action| ChannelCommand::Owner {
        account_id: owner,
        action,
    };
    let ingest = |action| ChannelCommand::Ingest { action };
    match step.clone() {
        Step::Create { key } => ChannelCommand::Create {
            account_id: owner,
            name: "studio".into(),
            settings: ChannelSettings::default(),
            stream_key: sealed(KEYS[key]),
        },
        Step::Update {
            reconnect,
            max_session,
        } => owned(OwnerAction::Update {
            name: None,
            patch: SettingsPatch {
                reconnect_window_seconds: Some(reconnect),
                max_session_seconds: Some(max_session),
                ..Default::default()
            },
        }),
        Step::Delete => owned(OwnerAction::Delete),
        Step::Stop => owned(OwnerAction::Stop),
        Step::Resume => owned(OwnerAction::Resume),
        Step::Rotate { key } => owned(OwnerAction::RotateStreamKey {
            stream_key: sealed(KEYS[key]),
        }),
        Step::Connect { key, session: n } => ingest(IngestAction::ConnectPublisher {
            stream_key: KeyFingerprint::of(KEYS[key]),
            new_session_id: session(n),
        }),
        Step::MediaFlowing { session: n } => ingest(IngestAction::MediaFlowing {
            session_id: session(n),
        }),
        Step::FirstSegment { session: n } => ingest(IngestAction::FirstSegment {
            session_id: session(n),
        }),
        Step::Disconnect { session: n } => ingest(IngestAction::DisconnectPublisher {
            session_id: session(n),
            media_end_ms: 1_000 * n as u64,
        }),
        Step::End { session: n, reason } => ingest(IngestAction::EndSession {
            session_id: session(n),
            reason,
        }),
        Step::Fail { session: n } => ingest(IngestAction::FailSession {
            session_id: session(n),
            message: "x".into(),
        }),
        Step::Backup { key } => ingest(IngestAction::ConnectBackup {
            stream_key: KeyFingerprint::of(KEYS[key]),
        }),
        Step::BackupGone { session: n } => ingest(IngestAction::DisconnectBackup {
            session_id: session(n),
            media_end_ms: 1_500 * n as u64,
        }),
        Step::Stall { session: n, backup } => ingest(IngestAction::InputStalled {
            session_id: session(n),
            input: input(backup),
            media_end_ms: 700 * n as u64,
        }),
        Step::Recover { session: n, backup } => ingest(IngestAction::InputRecovered {
            session_id: session(n),
            input: input(backup),
        }),
        Step::Stranger => ChannelCommand::Owner {
            account_id: AccountId::generate(),
            action: OwnerAction::Stop,
        },
    }
}

fn input(backup: bool) -> Input {
    if backup {
        Input::Backup
    } else {
        Input::Primary
    }
}

fn rank(status: SessionStatus) -> u8 {
    match status {
        SessionStatus::Init => 0,
        SessionStatus::Processing => 1,
        SessionStatus::Live => 2,
        SessionStatus::Error => 3,
        SessionStatus::Ended => 4,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn invariants_hold_for_any_command_sequence(
        steps in prop::collection::vec((step(), 0..150i64), 1..60)
    ) {
        let channel_id = ChannelId::generate();
        let owner = AccountId::generate();
        let mut now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut channel = Given::<ChannelState>::absent(owner, Some(channel_id));
        let mut open: BTreeSet<SessionId> = BTreeSet::new();
        let mut ended: BTreeSet<SessionId> = BTreeSet::new();
        let mut statuses: HashMap<SessionId, SessionStatus> = HashMap::new();
        // Per open session: whether each input is connected, and where its timeline resumed last.
        let mut primary = false;
        let mut backup = false;
        let mut resumed: HashMap<SessionId, u64> = HashMap::new();

        for (step, advance) in steps {
            now += Duration::seconds(advance);
            let command = ToChannel { channel_id, command: command(&step, owner) };
            let decided = channel.when(&command, now);
            // Deciding is a pure function of state, command and time.
            prop_assert_eq!(&decided, &channel.state.decide(&command, now));
            let Ok(events) = decided else { continue };
            prop_assert!(!events.is_empty(), "an accepted command always says what happened");

            for event in &events {
                if let Some(session) = event.session_id() {
                    // An ended session never comes back, whatever the event.
                    prop_assert!(!ended.contains(&session), "{:?} after {} ended", event, session);
                }
                match event {
                    Event::SessionStarted { session_id, .. } => {
                        prop_assert!(open.is_empty(), "a second open session: {:?}", open);
                        open.insert(*session_id);
                        statuses.insert(*session_id, SessionStatus::Init);
                        (primary, backup) = (true, false);
                    }
                    Event::SessionEnded { session_id, .. } => {
                        prop_assert!(open.remove(session_id));
                        ended.insert(*session_id);
                        (primary, backup) = (false, false);
                    }
                    Event::SessionProcessing { session_id } | Event::SessionLive { session_id } => {
                        prop_assert!(open.contains(session_id));
                        let next = if matches!(event, Event::SessionLive { .. }) { SessionStatus::Live } else { SessionStatus::Processing };
                        let previous = statuses.insert(*session_id, next).unwrap();
                        prop_assert_eq!(rank(previous) + 1, rank(next), "sessions only move forward one step");
                    }
                    Event::SessionErrored { session_id, .. } => prop_assert!(open.contains(session_id)),
                    Event::PublisherDisconnected { session_id, .. } => {
                        prop_assert!(open.contains(session_id) && primary, "only a connected primary leaves");
                        primary = false;
                    }
                    Event::SessionRestreamed { session_id, resume_at_ms } => {
                        prop_assert!(open.contains(session_id) && !primary && !backup);
                        let last = resumed.insert(*session_id, *resume_at_ms).unwrap_or(0);
                        prop_assert!(*resume_at_ms >= last, "the timeline never goes back");
                        primary = true;
                    }
                    Event::BackupConnected { session_id } => {
                        prop_assert!(open.contains(session_id) && !backup, "one backup at a time");
                        backup = true;
                    }
                    Event::BackupDisconnected { session_id, .. } => {
                        prop_assert!(open.contains(session_id) && backup);
                        backup = false;
                    }
                    Event::SessionFailedOver { session_id, input, resume_at_ms, .. } => {
                        prop_assert!(open.contains(session_id));
                        // The primary may be the one connecting in this very decision.
                        if *input == Input::Backup {
                            prop_assert!(backup, "the air goes only to a connected backup");
                        } else {
                            primary = true;
                        }
                        let last = resumed.insert(*session_id, *resume_at_ms).unwrap_or(0);
                        prop_assert!(*resume_at_ms >= last, "the timeline never goes back");
                    }
                    _ => {}
                }
                channel = channel.given([event]);
            }

            match &channel.state {
                ChannelState::Exists(channel) => {
                    prop_assert_eq!(channel.session.as_ref().map(|s| s.id), open.iter().next().copied());
                    match channel.status() {
                        ChannelStatus::Stopped => prop_assert!(channel.session.is_none(), "a stopped channel has no session"),
                        ChannelStatus::Active => prop_assert!(channel.session.is_some()),
                        ChannelStatus::Idle => prop_assert!(channel.session.is_none()),
                    }
                }
                ChannelState::Deleted | ChannelState::Absent => prop_assert!(open.is_empty()),
            }
        }
    }
}
