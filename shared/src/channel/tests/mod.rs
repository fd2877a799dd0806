//! Given these past events, when this command, then these events (or this rejection).

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;

mod backup;
mod properties;
use crate::aggregate::testing::Given;
use crate::command::ToChannel;
use crate::ids::AlertId;
use crate::secret::{Sealed, SealedStreamKey};
use crate::settings::SettingsPatch;

const KEY: &str = "key_aaaaaaaaaaaaaaaa";
const NEW_KEY: &str = "key_bbbbbbbbbbbbbbbb";

/// A key as the API hands it to the decider (the sealing itself is the control plane's).
fn sealed(key: &str) -> SealedStreamKey {
    SealedStreamKey {
        fingerprint: KeyFingerprint::of(key),
        sealed: Sealed::try_from(format!("sealed.{key}")).unwrap(),
    }
}

struct Scenario {
    channel_id: ChannelId,
    owner: AccountId,
    session: SessionId,
    t0: DateTime<Utc>,
}

impl Scenario {
    fn new() -> Self {
        Self {
            channel_id: ChannelId::generate(),
            owner: AccountId::generate(),
            session: SessionId::generate(),
            t0: Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(),
        }
    }

    fn at(&self, seconds: i64) -> DateTime<Utc> {
        self.t0 + Duration::seconds(seconds)
    }

    fn given(&self, events: &[Event]) -> ChannelState {
        self.channel(events).state
    }

    fn channel(&self, events: &[Event]) -> Given<ChannelState> {
        Given::absent(self.owner, Some(self.channel_id)).given(events)
    }

    fn when(
        &self,
        past: &[Event],
        command: ChannelCommand,
        seconds: i64,
    ) -> Result<Vec<Event>, Rejection> {
        let command = ToChannel {
            channel_id: self.channel_id,
            command,
        };
        self.channel(past).when(&command, self.at(seconds))
    }

    fn created(&self) -> Event {
        Event::ChannelCreated {
            name: "studio".into(),
            settings: ChannelSettings::default(),
            stream_key: sealed(KEY).at_rest(),
        }
    }

    fn started(&self) -> Event {
        Event::SessionStarted {
            session_id: self.session,
            started_at: self.t0,
        }
    }

    /// The session ended: its publisher left and did not return.
    fn ended(&self) -> Event {
        Event::SessionEnded {
            session_id: self.session,
            reason: EndReason::PublisherGone,
        }
    }

    fn finish_recording(&self) -> ChannelCommand {
        self.ingest(IngestAction::FinishRecording {
            session_id: self.session,
            path: "recordings/x.mp4".into(),
            duration_seconds: 7.0,
            bytes: 1000,
        })
    }

    fn owner(&self, action: OwnerAction) -> ChannelCommand {
        ChannelCommand::Owner {
            account_id: self.owner,
            action,
        }
    }

    fn ingest(&self, action: IngestAction) -> ChannelCommand {
        ChannelCommand::Ingest { action }
    }

    fn connect(&self, key: &str) -> ChannelCommand {
        self.ingest(IngestAction::ConnectPublisher {
            stream_key: KeyFingerprint::of(key),
            new_session_id: self.session,
        })
    }

    fn status_after(&self, events: &[Event]) -> ChannelStatus {
        match self.given(events) {
            ChannelState::Exists(channel) => channel.status(),
            other => panic!("expected a channel, got {other:?}"),
        }
    }
}

// --- creation -------------------------------------------------------------------------------

#[test]
fn create_makes_an_idle_channel() {
    let s = Scenario::new();
    let command = ChannelCommand::Create {
        account_id: s.owner,
        name: "studio".into(),
        settings: ChannelSettings::default(),
        stream_key: sealed(KEY),
    };
    let events = s.when(&[], command, 0).unwrap();
    assert_eq!(events, vec![s.created()]);
    assert_eq!(s.status_after(&events), ChannelStatus::Idle);
}

#[test]
fn create_twice_is_refused() {
    let s = Scenario::new();
    let command = ChannelCommand::Create {
        account_id: s.owner,
        name: "again".into(),
        settings: ChannelSettings::default(),
        stream_key: sealed(KEY),
    };
    assert!(matches!(
        s.when(&[s.created()], command, 0),
        Err(Rejection::AlreadyExists { .. })
    ));
}

#[test]
fn create_with_invalid_settings_is_refused() {
    let s = Scenario::new();
    let command = ChannelCommand::Create {
        account_id: s.owner,
        name: "studio".into(),
        settings: ChannelSettings {
            dvr_window_seconds: 10_000_000,
            ..Default::default()
        },
        stream_key: sealed(KEY),
    };
    let rejection = s.when(&[], command, 0).unwrap_err();
    assert_eq!(
        rejection,
        Rejection::Invalid {
            field: "dvr_window_seconds".into(),
            message: "must be at most 86400".into()
        }
    );
}

#[test]
fn another_account_sees_no_channel() {
    let s = Scenario::new();
    let stranger = ChannelCommand::Owner {
        account_id: AccountId::generate(),
        action: OwnerAction::Stop,
    };
    assert_eq!(
        s.when(&[s.created()], stranger, 0),
        Err(Rejection::NotFound {
            what: "channel".into()
        })
    );
}

#[test]
fn commands_for_a_missing_channel_are_not_found() {
    let s = Scenario::new();
    assert!(matches!(
        s.when(&[], s.owner(OwnerAction::Stop), 0),
        Err(Rejection::NotFound { .. })
    ));
    assert!(matches!(
        s.when(&[], s.connect(KEY), 0),
        Err(Rejection::NotFound { .. })
    ));
}

#[test]
fn update_patches_settings_and_name() {
    let s = Scenario::new();
    let patch = SettingsPatch {
        latency_mode: Some(crate::settings::LatencyMode::UltraLow),
        ..Default::default()
    };
    let events = s
        .when(
            &[s.created()],
            s.owner(OwnerAction::Update {
                name: Some("new".into()),
                patch,
            }),
            0,
        )
        .unwrap();
    let Event::ChannelUpdated { name, settings } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(name, "new");
    assert_eq!(
        settings.latency_mode,
        crate::settings::LatencyMode::UltraLow
    );
}

#[test]
fn update_with_an_invalid_value_is_refused() {
    let s = Scenario::new();
    let patch = SettingsPatch {
        max_session_seconds: Some(1),
        ..Default::default()
    };
    let result = s.when(
        &[s.created()],
        s.owner(OwnerAction::Update { name: None, patch }),
        0,
    );
    assert!(
        matches!(result, Err(Rejection::Invalid { field, .. }) if field == "max_session_seconds")
    );
}

#[test]
fn stop_makes_the_channel_stopped_and_resume_makes_it_idle() {
    let s = Scenario::new();
    let stopped = s
        .when(&[s.created()], s.owner(OwnerAction::Stop), 0)
        .unwrap();
    assert_eq!(stopped, vec![Event::ChannelStopped {}]);
    let history = [s.created(), Event::ChannelStopped {}];
    assert_eq!(s.status_after(&history), ChannelStatus::Stopped);
    let resumed = s.when(&history, s.owner(OwnerAction::Resume), 0).unwrap();
    assert_eq!(resumed, vec![Event::ChannelResumed {}]);
    assert_eq!(
        s.status_after(&[
            s.created(),
            Event::ChannelStopped {},
            Event::ChannelResumed {}
        ]),
        ChannelStatus::Idle
    );
}

#[test]
fn stop_twice_and_resume_when_running_are_refused() {
    let s = Scenario::new();
    let stopped = [s.created(), Event::ChannelStopped {}];
    assert_eq!(
        s.when(&stopped, s.owner(OwnerAction::Stop), 0),
        Err(Rejection::ChannelStopped)
    );
    assert_eq!(
        s.when(&[s.created()], s.owner(OwnerAction::Resume), 0),
        Err(Rejection::ChannelNotStopped)
    );
}

#[test]
fn stop_ends_the_open_session_first() {
    let s = Scenario::new();
    let events = s
        .when(&[s.created(), s.started()], s.owner(OwnerAction::Stop), 5)
        .unwrap();
    assert_eq!(
        events,
        vec![
            Event::SessionEnded {
                session_id: s.session,
                reason: EndReason::StoppedByOwner
            },
            Event::ChannelStopped {},
        ]
    );
}

#[test]
fn delete_ends_the_session_and_refuses_everything_after() {
    let s = Scenario::new();
    let events = s
        .when(&[s.created(), s.started()], s.owner(OwnerAction::Delete), 5)
        .unwrap();
    assert_eq!(
        events,
        vec![
            Event::SessionEnded {
                session_id: s.session,
                reason: EndReason::ChannelDeleted
            },
            Event::ChannelDeleted {},
        ]
    );
    let deleted = [s.created(), Event::ChannelDeleted {}];
    assert_eq!(s.given(&deleted), ChannelState::Deleted);
    assert!(matches!(
        s.when(&deleted, s.owner(OwnerAction::Resume), 0),
        Err(Rejection::NotFound { .. })
    ));
    assert!(matches!(
        s.when(&deleted, s.connect(KEY), 0),
        Err(Rejection::NotFound { .. })
    ));
}

#[test]
fn rotating_the_key_refuses_the_old_one() {
    let s = Scenario::new();
    let rotated = s
        .when(
            &[s.created()],
            s.owner(OwnerAction::RotateStreamKey {
                stream_key: sealed(NEW_KEY),
            }),
            0,
        )
        .unwrap();
    assert_eq!(
        rotated,
        vec![Event::StreamKeyRotated {
            stream_key: sealed(NEW_KEY).at_rest()
        }]
    );
    let history = [s.created(), rotated[0].clone()];
    assert_eq!(
        s.when(&history, s.connect(KEY), 0),
        Err(Rejection::WrongStreamKey)
    );
    assert!(s.when(&history, s.connect(NEW_KEY), 0).is_ok());
}

#[test]
fn rotating_to_the_same_key_is_refused() {
    let s = Scenario::new();
    let same = s.owner(OwnerAction::RotateStreamKey {
        stream_key: sealed(KEY),
    });
    assert!(matches!(
        s.when(&[s.created()], same, 0),
        Err(Rejection::Invalid { .. })
    ));
}

// --- the session lifecycle --------------------------------------------------------------------

#[test]
fn a_publisher_starts_a_session_and_the_channel_becomes_active() {
    let s = Scenario::new();
    let events = s.when(&[s.created()], s.connect(KEY), 0).unwrap();
    assert_eq!(events, vec![s.started()]);
    assert_eq!(
        s.status_after(&[s.created(), s.started()]),
        ChannelStatus::Active
    );
}

#[test]
fn a_wrong_key_or_a_stopped_channel_refuses_the_publisher() {
    let s = Scenario::new();
    assert_eq!(
        s.when(&[s.created()], s.connect(NEW_KEY), 0),
        Err(Rejection::WrongStreamKey)
    );
    let stopped = [s.created(), Event::ChannelStopped {}];
    assert_eq!(
        s.when(&stopped, s.connect(KEY), 0),
        Err(Rejection::ChannelStopped)
    );
}

#[test]
fn a_second_publisher_is_refused_while_the_first_is_connected() {
    let s = Scenario::new();
    let result = s.when(&[s.created(), s.started()], s.connect(KEY), 1);
    assert_eq!(result, Err(Rejection::PublisherAlreadyConnected));
}

#[test]
fn init_then_processing_then_live() {
    let s = Scenario::new();
    let history = [s.created(), s.started()];
    let processing = s
        .when(
            &history,
            s.ingest(IngestAction::MediaFlowing {
                session_id: s.session,
            }),
            1,
        )
        .unwrap();
    assert_eq!(
        processing,
        vec![Event::SessionProcessing {
            session_id: s.session
        }]
    );
    let history = [s.created(), s.started(), processing[0].clone()];
    let live = s
        .when(
            &history,
            s.ingest(IngestAction::FirstSegment {
                session_id: s.session,
            }),
            2,
        )
        .unwrap();
    assert_eq!(
        live,
        vec![Event::SessionLive {
            session_id: s.session
        }]
    );
}

#[test]
fn live_before_processing_is_an_invalid_transition() {
    let s = Scenario::new();
    let result = s.when(
        &[s.created(), s.started()],
        s.ingest(IngestAction::FirstSegment {
            session_id: s.session,
        }),
        1,
    );
    assert_eq!(
        result,
        Err(Rejection::InvalidTransition {
            from: SessionStatus::Init,
            to: SessionStatus::Live
        })
    );
    let twice = [
        s.created(),
        s.started(),
        Event::SessionProcessing {
            session_id: s.session,
        },
    ];
    let again = s.when(
        &twice,
        s.ingest(IngestAction::MediaFlowing {
            session_id: s.session,
        }),
        1,
    );
    assert!(matches!(again, Err(Rejection::InvalidTransition { .. })));
}

#[test]
fn commands_for_another_session_are_refused() {
    let s = Scenario::new();
    let other = SessionId::generate();
    let result = s.when(
        &[s.created(), s.started()],
        s.ingest(IngestAction::MediaFlowing { session_id: other }),
        1,
    );
    assert!(matches!(result, Err(Rejection::NoSuchOpenSession { .. })));
}

#[test]
fn a_publisher_returning_within_the_window_restreams_the_same_session() {
    let s = Scenario::new();
    let gone = Event::PublisherDisconnected {
        session_id: s.session,
        at: s.at(10),
        media_end_ms: 9_967,
    };
    let history = [s.created(), s.started(), gone];
    let mut other_worker = s.connect(KEY);
    if let ChannelCommand::Ingest {
        action: IngestAction::ConnectPublisher { new_session_id, .. },
    } = &mut other_worker
    {
        *new_session_id = SessionId::generate();
    }
    let events = s.when(&history, other_worker, 10 + 60).unwrap();
    assert_eq!(
        events,
        vec![Event::SessionRestreamed {
            session_id: s.session,
            resume_at_ms: 9_967,
        }],
        "the returning publisher continues the session's timeline"
    );
}

#[test]
fn a_publisher_returning_after_the_window_gets_a_new_session() {
    let s = Scenario::new();
    let gone = Event::PublisherDisconnected {
        session_id: s.session,
        at: s.at(10),
        media_end_ms: 0,
    };
    let history = [s.created(), s.started(), gone];
    let fresh = SessionId::generate();
    let command = s.ingest(IngestAction::ConnectPublisher {
        stream_key: KeyFingerprint::of(KEY),
        new_session_id: fresh,
    });
    let events = s.when(&history, command, 10 + 61).unwrap();
    assert_eq!(
        events,
        vec![
            Event::SessionEnded {
                session_id: s.session,
                reason: EndReason::PublisherGone
            },
            Event::SessionStarted {
                session_id: fresh,
                started_at: s.at(71)
            },
        ]
    );
}

#[test]
fn a_returning_publisher_cannot_reuse_the_id_of_the_session_it_ends() {
    let s = Scenario::new();
    let gone = Event::PublisherDisconnected {
        session_id: s.session,
        at: s.at(10),
        media_end_ms: 0,
    };
    let history = [s.created(), s.started(), gone];
    let command = s.ingest(IngestAction::ConnectPublisher {
        stream_key: KeyFingerprint::of(KEY),
        new_session_id: s.session,
    });
    assert!(matches!(
        s.when(&history, command, 10 + 61),
        Err(Rejection::AlreadyExists { .. })
    ));
}

#[test]
fn the_reconnect_timer_ends_the_session_only_when_due() {
    let s = Scenario::new();
    let gone = Event::PublisherDisconnected {
        session_id: s.session,
        at: s.at(10),
        media_end_ms: 0,
    };
    let history = [s.created(), s.started(), gone];
    let end = s.ingest(IngestAction::EndSession {
        session_id: s.session,
        reason: EndReason::PublisherGone,
    });
    assert!(matches!(
        s.when(&history, end.clone(), 30),
        Err(Rejection::TooEarly { .. })
    ));
    let events = s.when(&history, end.clone(), 70).unwrap();
    assert_eq!(
        events,
        vec![Event::SessionEnded {
            session_id: s.session,
            reason: EndReason::PublisherGone
        }]
    );
    let connected = [s.created(), s.started()];
    assert!(matches!(
        s.when(&connected, end, 500),
        Err(Rejection::TooEarly { .. })
    ));
}

#[test]
fn max_duration_ends_the_session_only_when_reached() {
    let s = Scenario::new();
    let history = [s.created(), s.started()];
    let end = s.ingest(IngestAction::EndSession {
        session_id: s.session,
        reason: EndReason::MaxDuration,
    });
    let max = i64::from(ChannelSettings::default().max_session_seconds);
    assert!(matches!(
        s.when(&history, end.clone(), max - 1),
        Err(Rejection::TooEarly { .. })
    ));
    assert_eq!(
        s.when(&history, end, max).unwrap(),
        vec![Event::SessionEnded {
            session_id: s.session,
            reason: EndReason::MaxDuration
        }]
    );
}

#[test]
fn only_timed_reasons_may_be_claimed_by_a_timer() {
    let s = Scenario::new();
    let end = s.ingest(IngestAction::EndSession {
        session_id: s.session,
        reason: EndReason::StoppedByOwner,
    });
    assert!(matches!(
        s.when(&[s.created(), s.started()], end, 1),
        Err(Rejection::Invalid { .. })
    ));
}

#[test]
fn a_disconnect_twice_is_refused() {
    let s = Scenario::new();
    let gone = Event::PublisherDisconnected {
        session_id: s.session,
        at: s.at(1),
        media_end_ms: 0,
    };
    let disconnect = s.ingest(IngestAction::DisconnectPublisher {
        session_id: s.session,
        media_end_ms: 0,
    });
    assert!(s
        .when(&[s.created(), s.started()], disconnect.clone(), 1)
        .is_ok());
    assert!(matches!(
        s.when(&[s.created(), s.started(), gone], disconnect, 2),
        Err(Rejection::TooEarly { .. })
    ));
}

#[test]
fn a_pipeline_failure_goes_through_error_to_ended() {
    let s = Scenario::new();
    let fail = s.ingest(IngestAction::FailSession {
        session_id: s.session,
        message: "decoder died".into(),
    });
    let events = s.when(&[s.created(), s.started()], fail, 3).unwrap();
    assert_eq!(
        events,
        vec![
            Event::SessionErrored {
                session_id: s.session,
                message: "decoder died".into()
            },
            Event::SessionEnded {
                session_id: s.session,
                reason: EndReason::PipelineError
            },
        ]
    );
    let mut history = vec![s.created(), s.started()];
    history.extend(events);
    assert_eq!(s.status_after(&history), ChannelStatus::Idle);
}

#[test]
fn an_ended_session_is_never_reused() {
    let s = Scenario::new();
    let history = [
        s.created(),
        s.started(),
        Event::SessionEnded {
            session_id: s.session,
            reason: EndReason::StoppedByOwner,
        },
    ];
    // The same id offered again by a confused worker is refused.
    assert!(matches!(
        s.when(&history, s.connect(KEY), 10),
        Err(Rejection::AlreadyExists { .. })
    ));
    let media = s.ingest(IngestAction::MediaFlowing {
        session_id: s.session,
    });
    assert!(matches!(
        s.when(&history, media, 10),
        Err(Rejection::NoSuchOpenSession { .. })
    ));
}

#[test]
fn an_alert_is_recorded_for_an_open_session_and_changes_nothing() {
    let s = Scenario::new();
    let alert_id = AlertId::generate();
    let alert = s.ingest(IngestAction::RaiseAlert {
        session_id: s.session,
        alert_id,
        code: "transcoder_failed".into(),
        message: "ffmpeg exited".into(),
    });
    let history = vec![s.created(), s.started()];
    let events = s.when(&history, alert.clone(), 3).unwrap();
    assert_eq!(
        events,
        vec![Event::AlertRaised {
            session_id: s.session,
            alert_id: Some(alert_id),
            code: "transcoder_failed".into(),
            message: "ffmpeg exited".into(),
        }]
    );
    let mut after = history.clone();
    after.extend(events);
    assert_eq!(s.status_after(&after), s.status_after(&history));
    assert!(matches!(
        s.when(&[s.created()], alert, 3),
        Err(Rejection::NoSuchOpenSession { .. })
    ));
}

#[test]
fn an_ended_session_s_media_are_deleted_once_and_nothing_of_it_is_recorded_after() {
    let s = Scenario::new();
    let delete = s.owner(OwnerAction::DeleteSessionMedia {
        session_id: s.session,
    });
    assert!(matches!(
        s.when(&[s.created(), s.started()], delete.clone(), 3),
        Err(Rejection::TooEarly { .. })
    ));
    let history = [s.created(), s.started(), s.ended()];
    let events = s.when(&history, delete.clone(), 3).unwrap();
    assert_eq!(
        events,
        vec![Event::SessionMediaDeleted {
            session_id: s.session
        }]
    );
    let after: Vec<Event> = history.into_iter().chain(events).collect();
    assert!(matches!(
        s.when(&after, delete, 4),
        Err(Rejection::NotFound { .. })
    ));
    assert!(matches!(
        s.when(&after, s.finish_recording(), 5),
        Err(Rejection::MediaDeleted { .. })
    ));
    let storyboard = s.ingest(IngestAction::FinishStoryboard {
        session_id: s.session,
        thumbnails: 3,
    });
    assert!(matches!(
        s.when(&after, storyboard, 5),
        Err(Rejection::MediaDeleted { .. })
    ));
}

#[test]
fn a_recording_is_finished_only_for_an_ended_session() {
    let s = Scenario::new();
    let finish = s.finish_recording();
    assert!(matches!(
        s.when(&[s.created(), s.started()], finish.clone(), 3),
        Err(Rejection::NotFound { .. })
    ));
    let events = s
        .when(&[s.created(), s.started(), s.ended()], finish, 3)
        .unwrap();
    assert!(matches!(
        events.as_slice(),
        [Event::RecordingReady { bytes: 1000, .. }]
    ));
}

#[test]
fn an_alert_is_open_once_cleared_once_and_cleared_by_the_end_of_its_session() {
    let s = Scenario::new();
    let raise = |alert_id| {
        s.ingest(IngestAction::RaiseAlert {
            session_id: s.session,
            alert_id,
            code: "no_media".into(),
            message: "connected but no media for 3 s".into(),
        })
    };
    let clear = s.ingest(IngestAction::ClearAlert {
        session_id: s.session,
        code: "no_media".into(),
    });
    let first = AlertId::generate();
    let mut history = vec![s.created(), s.started()];
    assert!(matches!(
        s.when(&history, clear.clone(), 1),
        Err(Rejection::NotFound { .. })
    ));
    history.extend(s.when(&history, raise(first), 2).unwrap());
    assert!(
        matches!(
            s.when(&history, raise(AlertId::generate()), 3),
            Err(Rejection::AlreadyExists { .. })
        ),
        "one open alert per code"
    );
    let cleared = s.when(&history, clear.clone(), 3).unwrap();
    assert_eq!(
        cleared,
        vec![Event::AlertCleared {
            session_id: s.session,
            alert_id: first,
            code: "no_media".into(),
        }]
    );
    history.extend(cleared);
    let second = AlertId::generate();
    history.extend(s.when(&history, raise(second), 4).unwrap());
    // The owner stops the channel: the open alert is cleared before the session ends.
    let stopped = s.when(&history, s.owner(OwnerAction::Stop), 5).unwrap();
    assert_eq!(
        stopped[..2],
        [
            Event::AlertCleared {
                session_id: s.session,
                alert_id: second,
                code: "no_media".into(),
            },
            Event::SessionEnded {
                session_id: s.session,
                reason: EndReason::StoppedByOwner,
            },
        ]
    );
}

// --- timers ---------------------------------------------------------------------------------

#[test]
fn an_open_session_s_timers_are_the_ends_the_decider_accepts_once_due() {
    let s = Scenario::new();
    let gone = Event::PublisherDisconnected {
        session_id: s.session,
        at: s.at(10),
        media_end_ms: 0,
    };
    let history = [s.created(), s.started(), gone];
    let ChannelState::Exists(channel) = s.given(&history) else {
        panic!("a channel")
    };
    let due = timers(&channel);
    assert_eq!(
        due.len(),
        2,
        "the reconnect window and the maximum duration: {due:?}"
    );
    for (at, action) in due {
        let seconds = (at - s.t0).num_seconds();
        assert!(matches!(
            s.when(&history, s.ingest(action.clone()), seconds - 1),
            Err(Rejection::TooEarly { .. })
        ));
        assert!(s.when(&history, s.ingest(action), seconds).is_ok());
    }
    let ChannelState::Exists(streaming) = s.given(&[s.created(), s.started()]) else {
        panic!("a channel")
    };
    assert_eq!(
        timers(&streaming).len(),
        1,
        "only the maximum duration while the publisher streams"
    );
    let ChannelState::Exists(idle) = s.given(&[s.created()]) else {
        panic!("a channel")
    };
    assert!(timers(&idle).is_empty());
}
