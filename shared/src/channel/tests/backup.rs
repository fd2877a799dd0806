//! The backup input: standby while the primary streams, on air while it is gone or stalled,
//! off air again when the primary is back — all within one session.

use super::*;

impl Scenario {
    fn backup(&self, key: &str) -> ChannelCommand {
        self.ingest(IngestAction::ConnectBackup {
            stream_key: KeyFingerprint::of(key),
        })
    }

    fn backup_connected(&self) -> Event {
        Event::BackupConnected {
            session_id: self.session,
        }
    }

    fn failover(&self, input: Input, seconds: i64, resume_at_ms: u64) -> Event {
        Event::SessionFailedOver {
            session_id: self.session,
            input,
            at: self.at(seconds),
            resume_at_ms,
        }
    }

    fn primary_gone(&self, seconds: i64, media_end_ms: u64) -> Event {
        Event::PublisherDisconnected {
            session_id: self.session,
            at: self.at(seconds),
            media_end_ms,
        }
    }

    fn open(&self, events: &[Event]) -> OpenSession {
        match self.given(events) {
            ChannelState::Exists(channel) => channel.session.expect("an open session"),
            other => panic!("expected a channel, got {other:?}"),
        }
    }
}

#[test]
fn a_backup_stands_by_while_the_primary_streams() {
    let s = Scenario::new();
    let history = [s.created(), s.started()];
    let events = s.when(&history, s.backup(KEY), 5).unwrap();
    assert_eq!(events, vec![s.backup_connected()]);
    let open = s.open(&[s.created(), s.started(), s.backup_connected()]);
    assert!(open.backup_connected);
    assert_eq!(open.on_air, Input::Primary);
}

#[test]
fn a_backup_needs_the_key_an_open_session_and_no_other_backup() {
    let s = Scenario::new();
    let live = [s.created(), s.started()];
    assert_eq!(
        s.when(&live, s.backup(NEW_KEY), 5),
        Err(Rejection::WrongStreamKey)
    );
    assert_eq!(
        s.when(&[s.created()], s.backup(KEY), 5),
        Err(Rejection::NoBroadcast)
    );
    let backed = [s.created(), s.started(), s.backup_connected()];
    assert_eq!(
        s.when(&backed, s.backup(KEY), 6),
        Err(Rejection::BackupAlreadyConnected)
    );
    let stopped = [s.created(), Event::ChannelStopped {}];
    assert_eq!(
        s.when(&stopped, s.backup(KEY), 5),
        Err(Rejection::ChannelStopped)
    );
}

#[test]
fn the_primary_leaving_puts_the_backup_on_air_where_the_primary_ended() {
    let s = Scenario::new();
    let history = [s.created(), s.started(), s.backup_connected()];
    let leave = s.ingest(IngestAction::DisconnectPublisher {
        session_id: s.session,
        media_end_ms: 12_345,
    });
    let events = s.when(&history, leave, 20).unwrap();
    assert_eq!(
        events,
        vec![
            s.primary_gone(20, 12_345),
            s.failover(Input::Backup, 20, 12_345)
        ]
    );
    let mut after = history.to_vec();
    after.extend(events);
    let open = s.open(&after);
    assert_eq!(open.on_air, Input::Backup);
    assert_eq!(open.media_end_ms, 12_345);
    // The reconnect timer does not end a session the backup carries.
    let end = s.ingest(IngestAction::EndSession {
        session_id: s.session,
        reason: EndReason::PublisherGone,
    });
    assert!(matches!(
        s.when(&after, end, 20 + 3_600),
        Err(Rejection::TooEarly { .. })
    ));
}

#[test]
fn without_a_backup_the_primary_leaving_is_only_a_disconnect() {
    let s = Scenario::new();
    let leave = s.ingest(IngestAction::DisconnectPublisher {
        session_id: s.session,
        media_end_ms: 4_000,
    });
    let events = s.when(&[s.created(), s.started()], leave, 4).unwrap();
    assert_eq!(events, vec![s.primary_gone(4, 4_000)]);
}

#[test]
fn a_backup_arriving_while_the_primary_is_away_goes_on_air_at_once() {
    let s = Scenario::new();
    let history = [s.created(), s.started(), s.primary_gone(10, 9_900)];
    let events = s.when(&history, s.backup(KEY), 12).unwrap();
    assert_eq!(
        events,
        vec![s.backup_connected(), s.failover(Input::Backup, 12, 9_900)]
    );
    // After the reconnect window there is nothing left to back up.
    assert_eq!(
        s.when(&history, s.backup(KEY), 10 + 61),
        Err(Rejection::NoBroadcast)
    );
}

#[test]
fn the_returning_primary_takes_over_after_the_backup_s_estimated_position() {
    let s = Scenario::new();
    let history = [
        s.created(),
        s.started(),
        s.backup_connected(),
        s.primary_gone(20, 20_000),
        s.failover(Input::Backup, 20, 20_000),
    ];
    let events = s.when(&history, s.connect(KEY), 35).unwrap();
    assert_eq!(
        events,
        vec![s.failover(Input::Primary, 35, 35_000)],
        "the backup streamed 15 s in real time since it took over"
    );
    let mut after = history.to_vec();
    after.extend(events);
    let open = s.open(&after);
    assert_eq!(open.on_air, Input::Primary);
    assert!(open.backup_connected, "the backup goes back to standby");
    // The primary is connected again: no reconnect window runs, and a second one is refused.
    assert_eq!(open.publisher, Publisher::Connected);
    let ChannelState::Exists(channel) = s.given(&after) else {
        panic!("a channel")
    };
    assert!(
        timers(&channel).iter().all(|(_, end)| !matches!(
            end,
            IngestAction::EndSession {
                reason: EndReason::PublisherGone,
                ..
            }
        )),
        "{:?}",
        timers(&channel)
    );
    assert_eq!(
        s.when(&after, s.connect(KEY), 40),
        Err(Rejection::PublisherAlreadyConnected)
    );
}

#[test]
fn a_stalled_primary_hands_over_and_takes_back_when_it_recovers() {
    let s = Scenario::new();
    let history = [s.created(), s.started(), s.backup_connected()];
    let stalled = s.ingest(IngestAction::InputStalled {
        session_id: s.session,
        input: Input::Primary,
        media_end_ms: 30_000,
    });
    let events = s.when(&history, stalled.clone(), 33).unwrap();
    assert_eq!(events, vec![s.failover(Input::Backup, 33, 30_000)]);
    let mut after = history.to_vec();
    after.extend(events);
    // Said twice (by a retry): the backup already has the air.
    assert!(matches!(
        s.when(&after, stalled, 34),
        Err(Rejection::TooEarly { .. })
    ));
    let recovered = s.ingest(IngestAction::InputRecovered {
        session_id: s.session,
        input: Input::Primary,
    });
    let events = s.when(&after, recovered.clone(), 40).unwrap();
    assert_eq!(events, vec![s.failover(Input::Primary, 40, 37_000)]);
    // A backup that recovers never takes the air from a healthy primary.
    let backup_recovered = s.ingest(IngestAction::InputRecovered {
        session_id: s.session,
        input: Input::Backup,
    });
    assert!(matches!(
        s.when(&after, backup_recovered, 40),
        Err(Rejection::TooEarly { .. })
    ));
}

#[test]
fn a_stall_without_a_backup_changes_nothing() {
    let s = Scenario::new();
    let stalled = s.ingest(IngestAction::InputStalled {
        session_id: s.session,
        input: Input::Primary,
        media_end_ms: 3_000,
    });
    assert!(matches!(
        s.when(&[s.created(), s.started()], stalled, 6),
        Err(Rejection::TooEarly { .. })
    ));
}

#[test]
fn the_backup_leaving_the_air_returns_it_to_a_connected_primary() {
    let s = Scenario::new();
    let history = [
        s.created(),
        s.started(),
        s.backup_connected(),
        s.failover(Input::Backup, 33, 30_000),
    ];
    let leave = s.ingest(IngestAction::DisconnectBackup {
        session_id: s.session,
        media_end_ms: 41_000,
    });
    let events = s.when(&history, leave, 44).unwrap();
    assert_eq!(
        events,
        vec![
            Event::BackupDisconnected {
                session_id: s.session,
                at: s.at(44),
                media_end_ms: 41_000,
            },
            s.failover(Input::Primary, 44, 41_000),
        ]
    );
}

#[test]
fn when_the_last_input_leaves_the_reconnect_window_runs_from_then() {
    let s = Scenario::new();
    let history = [
        s.created(),
        s.started(),
        s.backup_connected(),
        s.primary_gone(20, 20_000),
        s.failover(Input::Backup, 20, 20_000),
        Event::BackupDisconnected {
            session_id: s.session,
            at: s.at(50),
            media_end_ms: 50_000,
        },
    ];
    let open = s.open(&history);
    assert!(!open.backup_connected);
    assert_eq!(open.on_air, Input::Primary);
    assert_eq!(open.media_end_ms, 50_000);
    let end = s.ingest(IngestAction::EndSession {
        session_id: s.session,
        reason: EndReason::PublisherGone,
    });
    assert!(matches!(
        s.when(&history, end.clone(), 20 + 61),
        Err(Rejection::TooEarly { .. })
    ));
    assert!(s.when(&history, end, 50 + 61).is_ok());
    // A primary returning in the window restreams from where the backup ended.
    assert_eq!(
        s.when(&history, s.connect(KEY), 60).unwrap(),
        vec![Event::SessionRestreamed {
            session_id: s.session,
            resume_at_ms: 50_000,
        }]
    );
}

#[test]
fn a_backup_disconnect_twice_is_refused() {
    let s = Scenario::new();
    let leave = s.ingest(IngestAction::DisconnectBackup {
        session_id: s.session,
        media_end_ms: 0,
    });
    assert!(matches!(
        s.when(&[s.created(), s.started()], leave, 5),
        Err(Rejection::TooEarly { .. })
    ));
}
