//! Durable session timers: a session ends when its publisher has been gone for the channel's
//! reconnect window, or when it reaches its maximum duration.
//!
//! The deadlines are kept nowhere but in the channels' state: they follow from the log (the
//! session's start, its publisher's departure, the channel's settings — see
//! `sigma_shared::channel::timers`), so whoever owns a channel's partition knows them, a
//! decider that has just taken the partition over from a dead process included. The deciding
//! loop tells [`Timers`] each owned channel's deadlines whenever they may have changed; a task
//! sleeps until the earliest and submits the due end as a command, which the owner's decider
//! judges like any other (refused, harmlessly, if the session changed or ended meanwhile).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sigma_shared::command::{ChannelCommand, Command, CommandEnvelope, IngestAction};
use sigma_shared::ids::ChannelId;
use sigma_shared::log::{EventLog, Partition, COMMANDS_TOPIC};
use tokio::sync::Notify;

/// How long a failed submission waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// The deadlines of the channels whose partitions this process's decider owns.
#[derive(Default)]
pub struct Timers {
    channels: Mutex<HashMap<ChannelId, Owned>>,
    changed: Notify,
}

struct Owned {
    partition: Partition,
    due: Vec<(DateTime<Utc>, IngestAction)>,
}

impl Timers {
    /// The deadlines of `channel` (in `partition`) are now `due` (none: the channel has none).
    pub fn set(
        &self,
        channel: ChannelId,
        partition: Partition,
        due: Vec<(DateTime<Utc>, IngestAction)>,
    ) {
        let mut channels = self.channels.lock().expect("timers lock");
        if due.is_empty() {
            channels.remove(&channel);
        } else {
            channels.insert(channel, Owned { partition, due });
        }
        drop(channels);
        self.changed.notify_one();
    }

    /// The partition is another process's now: its deadlines are that process's to fire.
    pub fn forget(&self, partition: Partition) {
        self.channels
            .lock()
            .expect("timers lock")
            .retain(|_, owned| owned.partition != partition);
    }

    /// Forgets every deadline (the deciding loop starts again, owning nothing yet).
    pub fn clear(&self) {
        self.channels.lock().expect("timers lock").clear();
    }

    /// Fires every deadline as it comes due, for as long as the process runs.
    pub async fn run(self: Arc<Self>, log: Arc<dyn EventLog>) {
        loop {
            let now = Utc::now();
            let due = self.take_due(now);
            let mut failed = false;
            for (channel, partition, action) in due {
                if let Err(error) = submit(log.as_ref(), channel, action.clone(), now).await {
                    tracing::warn!(%channel, %error, "a session timer could not be submitted; retrying");
                    self.put_back(channel, partition, now, action);
                    failed = true;
                }
            }
            let wait = if failed {
                RETRY
            } else {
                self.until_next(Utc::now())
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.changed.notified() => {}
            }
        }
    }

    /// Removes and returns the deadlines due at `now`.
    fn take_due(&self, now: DateTime<Utc>) -> Vec<(ChannelId, Partition, IngestAction)> {
        let mut channels = self.channels.lock().expect("timers lock");
        let mut fired = Vec::new();
        for (channel, owned) in channels.iter_mut() {
            let partition = owned.partition;
            owned.due.retain(|(at, action)| {
                let due = *at <= now;
                if due {
                    fired.push((*channel, partition, action.clone()));
                }
                !due
            });
        }
        channels.retain(|_, owned| !owned.due.is_empty());
        fired
    }

    /// A deadline whose command could not be submitted, to be fired again.
    fn put_back(
        &self,
        channel: ChannelId,
        partition: Partition,
        at: DateTime<Utc>,
        action: IngestAction,
    ) {
        self.channels
            .lock()
            .expect("timers lock")
            .entry(channel)
            .or_insert(Owned {
                partition,
                due: Vec::new(),
            })
            .due
            .push((at, action));
    }

    /// How long until the earliest deadline (an hour when there is none: a change wakes the
    /// task anyway).
    fn until_next(&self, now: DateTime<Utc>) -> Duration {
        let channels = self.channels.lock().expect("timers lock");
        channels
            .values()
            .flat_map(|owned| owned.due.iter().map(|(at, _)| *at))
            .min()
            .map_or(Duration::from_secs(3600), |next| {
                (next - now).to_std().unwrap_or(Duration::ZERO)
            })
    }
}

/// Appends the due end to the commands topic, issued no earlier than it is due.
async fn submit(
    log: &dyn EventLog,
    channel_id: ChannelId,
    action: IngestAction,
    now: DateTime<Utc>,
) -> Result<(), sigma_shared::log::LogError> {
    let envelope = CommandEnvelope::new(
        Command::channel(channel_id, ChannelCommand::Ingest { action }),
        now,
    );
    let payload = serde_json::to_vec(&envelope).expect("a command serializes");
    log.append(COMMANDS_TOPIC, &envelope.stream(), &payload)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Duration as Span;
    use sigma_shared::ids::SessionId;
    use sigma_shared::session::EndReason;

    use super::*;

    fn end(session_id: SessionId) -> IngestAction {
        IngestAction::EndSession {
            session_id,
            reason: EndReason::PublisherGone,
        }
    }

    #[test]
    fn a_deadline_fires_once_when_due_and_a_forgotten_partition_s_never() {
        let timers = Timers::default();
        let now = Utc::now();
        let (soon, later) = (ChannelId::generate(), ChannelId::generate());
        let (a, b) = (SessionId::generate(), SessionId::generate());
        timers.set(soon, 1, vec![(now + Span::seconds(1), end(a))]);
        timers.set(later, 2, vec![(now + Span::seconds(5), end(b))]);
        assert!(timers.take_due(now).is_empty());
        assert_eq!(timers.until_next(now), Duration::from_secs(1));
        assert_eq!(
            timers.take_due(now + Span::seconds(1)),
            vec![(soon, 1, end(a))]
        );
        // Its command could not be submitted: put back, it fires again.
        timers.put_back(soon, 1, now + Span::seconds(1), end(a));
        assert_eq!(
            timers.take_due(now + Span::seconds(1)),
            vec![(soon, 1, end(a))]
        );
        assert!(timers.take_due(now + Span::seconds(2)).is_empty(), "once");
        timers.forget(2);
        assert!(timers.take_due(now + Span::seconds(9)).is_empty());
        assert_eq!(timers.until_next(now), Duration::from_secs(3600));
    }

    #[test]
    fn a_channel_s_deadlines_are_replaced_and_cleared_whole() {
        let timers = Timers::default();
        let now = Utc::now();
        let channel = ChannelId::generate();
        let session = SessionId::generate();
        timers.set(channel, 0, vec![(now, end(session))]);
        timers.set(channel, 0, vec![]);
        assert!(timers.take_due(now).is_empty());
        timers.set(channel, 0, vec![(now - Span::seconds(3), end(session))]);
        assert_eq!(timers.until_next(now), Duration::ZERO);
        timers.clear();
        assert!(timers.take_due(now).is_empty());
    }
}
