//! The command bus: how an API write becomes a decided, projected fact.
//!
//! `submit` appends the command keyed by its aggregate and waits for the decider's
//! [`Decision`], which this process learns by following the events topic; if the command was
//! accepted it then waits, where the process has read models, until they include it, so the
//! caller reads its own write. An edge worker has none: its commands wait for their decision
//! alone.
//!
//! The bus hears the decisions from the process's [`EventsFeed`], after every other fold of
//! the process (admission's directory, playback's access, token revocations), so they are
//! current when a waiter hears of its decision. Ingest connections also learn
//! from the decisions what concerns them: that their session ended, and whether their input is
//! on air ([`Tally`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::ingest::Tally;
use chrono::Utc;
use sigma_event_log::EventsFeed;
use sigma_shared::command::{Command, CommandEnvelope};
use sigma_shared::event::{Decision, Event, EventEnvelope, Outcome};
use sigma_shared::ids::{ChannelId, CommandId, SessionId};
use sigma_shared::log::{EventLog, LogError, Offset, Partition, COMMANDS_TOPIC};
use sigma_shared::rejection::Rejection;
use sigma_shared::session::{EndReason, Input};
use tokio::sync::{oneshot, watch};

/// How long a caller waits for its command to be decided and projected before it is told to
/// look again later: long enough to ride out a control-plane takeover (about 10 s after a
/// SIGKILL, plus the backlog it leaves), short of the usual 60 s client timeouts.
const DECISION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("command {0} was not decided within {DECISION_TIMEOUT:?}; it may still take effect")]
    Timeout(CommandId),
    #[error("read models: {0}")]
    ReadModels(String),
}

/// How far a process's read models have got, where it has them (the platform's, in the control
/// plane): an accepted command's caller is answered once they hold it, so it reads its own
/// write.
#[async_trait::async_trait]
pub trait ReadModels: Send + Sync {
    /// Waits until the read models include the record at `offset` of `partition`.
    async fn wait_applied(&self, partition: Partition, offset: Offset) -> Result<(), String>;
}

/// A decision, with where it lies in the events topic.
type Decided = (Decision, Partition, Offset);

pub struct CommandBus {
    log: Arc<dyn EventLog>,
    /// Where the read models stand, for the processes that have them.
    progress: Option<Arc<dyn ReadModels>>,
    waiting: Mutex<HashMap<CommandId, oneshot::Sender<Decided>>>,
    /// Ingest connections waiting to hear that their session ended (owner stop, max duration):
    /// the primary's and the backup's.
    session_ends: Mutex<HashMap<SessionId, Vec<oneshot::Sender<EndReason>>>>,
    /// Ingest connections following whether their input is on air, by channel and input (a
    /// connection registers before its own connect command is decided, so it misses nothing).
    tallies: Mutex<HashMap<(ChannelId, Input), Vec<TallySender>>>,
    next_tally: AtomicU64,
}

/// A registered connection's tally, with its registration number.
type TallySender = (u64, watch::Sender<Tally>);

/// What an event says about which input of its channel is on air.
fn tally_changes(event: &Event) -> Vec<(Input, Tally)> {
    match event {
        Event::SessionStarted { .. } => vec![(
            Input::Primary,
            Tally::OnAir {
                timeline_start_ms: 0,
            },
        )],
        Event::SessionRestreamed { resume_at_ms, .. } => vec![(
            Input::Primary,
            Tally::OnAir {
                timeline_start_ms: *resume_at_ms,
            },
        )],
        Event::SessionFailedOver {
            input,
            resume_at_ms,
            ..
        } => vec![
            (
                *input,
                Tally::OnAir {
                    timeline_start_ms: *resume_at_ms,
                },
            ),
            (input.other(), Tally::Standby),
        ],
        _ => Vec::new(),
    }
}

/// One ingest connection's view of whether its input is on air; it stops following when dropped.
pub struct TallyWatch {
    bus: Weak<CommandBus>,
    key: (ChannelId, Input),
    id: u64,
    pub receiver: watch::Receiver<Tally>,
}

impl Drop for TallyWatch {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.upgrade() {
            let mut tallies = bus.tallies.lock().expect("tallies lock");
            if let Some(watchers) = tallies.get_mut(&self.key) {
                watchers.retain(|(id, _)| *id != self.id);
                if watchers.is_empty() {
                    tallies.remove(&self.key);
                }
            }
        }
    }
}

impl CommandBus {
    /// A bus that hears nothing until it [listens](CommandBus::listen) to the process's feed.
    pub fn new(log: Arc<dyn EventLog>, progress: Option<Arc<dyn ReadModels>>) -> Arc<Self> {
        Arc::new(Self {
            log,
            progress,
            waiting: Mutex::new(HashMap::new()),
            session_ends: Mutex::new(HashMap::new()),
            tallies: Mutex::new(HashMap::new()),
            next_tally: AtomicU64::new(0),
        })
    }

    /// Hears the decisions from `feed`. Add it after every other fold of the process, so they
    /// are all current when a waiter hears of its decision (a caller told its playback key is
    /// deleted finds playback refusing it).
    pub fn listen(self: &Arc<Self>, feed: &mut EventsFeed) {
        let weak = Arc::downgrade(self);
        feed.fold_decisions("command bus", move |decision, partition, offset| {
            if let Some(bus) = weak.upgrade() {
                bus.hear(decision, partition, offset);
            }
        });
    }

    /// Tells whoever waits on `decision` (found at `offset` of `partition`).
    fn hear(&self, decision: &Decision, partition: Partition, offset: Offset) {
        for event in decision.events() {
            if let Event::SessionEnded { session_id, reason } = &event.event {
                let watchers = self
                    .session_ends
                    .lock()
                    .expect("session watchers lock")
                    .remove(session_id);
                for watcher in watchers.into_iter().flatten() {
                    let _ = watcher.send(*reason);
                }
            }
            if let Some(channel_id) = event.channel_id {
                for (input, tally) in tally_changes(&event.event) {
                    self.set_tally(channel_id, input, tally);
                }
            }
        }
        let waiter = self
            .waiting
            .lock()
            .expect("waiters lock")
            .remove(&decision.command_id);
        if let Some(waiter) = waiter {
            let _ = waiter.send((decision.clone(), partition, offset));
        }
    }

    /// Resolves when a decision ends `session` (for whatever reason).
    pub fn on_session_end(&self, session: SessionId) -> oneshot::Receiver<EndReason> {
        let (sender, receiver) = oneshot::channel();
        self.session_ends
            .lock()
            .expect("session watchers lock")
            .entry(session)
            .or_default()
            .push(sender);
        receiver
    }

    /// Follows whether `input` of `channel` is on air, from standby; register before the
    /// connect command is submitted.
    pub fn tally(self: &Arc<Self>, channel_id: ChannelId, input: Input) -> TallyWatch {
        let (sender, receiver) = watch::channel(Tally::Standby);
        let id = self.next_tally.fetch_add(1, Ordering::Relaxed);
        self.tallies
            .lock()
            .expect("tallies lock")
            .entry((channel_id, input))
            .or_default()
            .push((id, sender));
        TallyWatch {
            bus: Arc::downgrade(self),
            key: (channel_id, input),
            id,
            receiver,
        }
    }

    fn set_tally(&self, channel_id: ChannelId, input: Input, tally: Tally) {
        if let Some(watchers) = self
            .tallies
            .lock()
            .expect("tallies lock")
            .get(&(channel_id, input))
        {
            for (_, sender) in watchers {
                sender.send_if_modified(|current| std::mem::replace(current, tally) != tally);
            }
        }
    }

    /// Submits a command; returns its events once the read models (where the process has them)
    /// hold them, or the rejection.
    pub async fn submit(
        &self,
        command: Command,
    ) -> Result<Result<Vec<EventEnvelope>, Rejection>, SubmitError> {
        let envelope = CommandEnvelope::new(command, Utc::now());
        let (sender, receiver) = oneshot::channel();
        self.waiting
            .lock()
            .expect("waiters lock")
            .insert(envelope.id, sender);
        let payload = serde_json::to_vec(&envelope).expect("a command serializes");
        if let Err(error) = self
            .log
            .append(COMMANDS_TOPIC, &envelope.stream(), &payload)
            .await
        {
            self.waiting
                .lock()
                .expect("waiters lock")
                .remove(&envelope.id);
            return Err(error.into());
        }
        let decided = tokio::time::timeout(DECISION_TIMEOUT, receiver).await;
        let Ok(Ok((decision, partition, offset))) = decided else {
            self.waiting
                .lock()
                .expect("waiters lock")
                .remove(&envelope.id);
            return Err(SubmitError::Timeout(envelope.id));
        };
        match decision.outcome {
            Outcome::Rejected { rejection } => Ok(Err(rejection)),
            Outcome::Accepted { events } => {
                if let Some(progress) = &self.progress {
                    tokio::time::timeout(
                        DECISION_TIMEOUT,
                        progress.wait_applied(partition, offset),
                    )
                    .await
                    .map_err(|_| SubmitError::Timeout(envelope.id))?
                    .map_err(SubmitError::ReadModels)?;
                }
                Ok(Ok(events))
            }
        }
    }
}
