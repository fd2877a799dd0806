//! The command bus: how an API write becomes a decided, projected fact.
//!
//! `submit` appends the command keyed by its aggregate and waits for the decider's
//! [`Decision`], which this process learns by following the events topic; if the command was
//! accepted it then waits until the read models include it, so the caller reads its own write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use sigma_shared::command::{Command, CommandEnvelope};
use sigma_shared::event::{Decision, Event, EventEnvelope, Outcome};
use sigma_shared::ids::{CommandId, SessionId};
use sigma_shared::log::{EventLog, LogError, Offset, Partition, COMMANDS_TOPIC, EVENTS_TOPIC};
use sigma_shared::rejection::Rejection;
use sigma_shared::session::EndReason;
use tokio::sync::oneshot;

use crate::project::progress::Progress;

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
    Database(#[from] sea_orm::DbErr),
}

/// A decision, with where it lies in the events topic.
type Decided = (Decision, Partition, Offset);

pub struct CommandBus {
    log: Arc<dyn EventLog>,
    progress: Progress,
    waiting: Mutex<HashMap<CommandId, oneshot::Sender<Decided>>>,
    /// Ingest connections waiting to hear that their session ended (owner stop, max duration).
    session_ends: Mutex<HashMap<SessionId, oneshot::Sender<EndReason>>>,
}

impl CommandBus {
    /// Starts following the events topic from its current end.
    pub async fn start(log: Arc<dyn EventLog>, progress: Progress) -> Result<Arc<Self>, LogError> {
        let mut from = Vec::new();
        for partition in 0..log.partitions() {
            from.push((partition, log.end_offset(EVENTS_TOPIC, partition).await?));
        }
        let mut decisions = log.follow(EVENTS_TOPIC, &from).await?;
        let bus = Arc::new(Self {
            log,
            progress,
            waiting: Mutex::new(HashMap::new()),
            session_ends: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&bus);
        tokio::spawn(async move {
            while let Some(record) = decisions.next().await {
                let Some(bus) = weak.upgrade() else { return };
                let record = match record {
                    Ok(record) => record,
                    Err(error) => {
                        tracing::error!(%error, "following decisions failed");
                        continue;
                    }
                };
                let Ok(decision) = Decision::from_bytes(&record.payload) else {
                    continue;
                };
                for event in decision.events() {
                    if let Event::SessionEnded { session_id, reason } = &event.event {
                        let watcher = bus
                            .session_ends
                            .lock()
                            .expect("session watchers lock")
                            .remove(session_id);
                        if let Some(watcher) = watcher {
                            let _ = watcher.send(*reason);
                        }
                    }
                }
                let waiter = bus
                    .waiting
                    .lock()
                    .expect("waiters lock")
                    .remove(&decision.command_id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send((decision, record.partition, record.offset));
                }
            }
        });
        Ok(bus)
    }

    /// Resolves when a decision ends `session` (for whatever reason); one watcher per session.
    pub fn on_session_end(&self, session: SessionId) -> oneshot::Receiver<EndReason> {
        let (sender, receiver) = oneshot::channel();
        self.session_ends
            .lock()
            .expect("session watchers lock")
            .insert(session, sender);
        receiver
    }

    /// Submits a command; returns its events once the read models hold them, or the rejection.
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
                tokio::time::timeout(
                    DECISION_TIMEOUT,
                    self.progress.wait_applied(partition, offset),
                )
                .await
                .map_err(|_| SubmitError::Timeout(envelope.id))??;
                Ok(Ok(events))
            }
        }
    }
}
