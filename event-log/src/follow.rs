//! The events topic, folded into a process's memory (who may watch a channel, which API tokens
//! are revoked, which channel a stream key opens, which command was decided how) by one
//! follower per process: every fold is brought up to the end of the log before the process
//! serves, then kept current.
//!
//! One follower, not one per fold: on Kafka each follower is a consumer whose idle fetches the
//! broker answers again and again, and on either log every append wakes every follower to read
//! and decode the same record. A process pays for the topic once, however many folds it keeps.

use std::sync::Arc;

use futures::StreamExt;
use sigma_shared::event::{Decision, EventEnvelope};
use sigma_shared::log::{EventLog, LogError, Offset, Partition, EVENTS_TOPIC};

/// A fold of the decisions, each given with where it lies in the events topic.
type Fold = Box<dyn Fn(&Decision, Partition, Offset) + Send + Sync>;

/// The folds a process keeps of the events topic, registered before [`EventsFeed::catch_up`].
#[derive(Default)]
pub struct EventsFeed {
    /// What sees every decision, from the start of the log.
    folds: Vec<(&'static str, Fold)>,
    /// What sees only the decisions appended after the catch-up.
    reactions: Vec<(&'static str, Fold)>,
}

impl EventsFeed {
    /// Adds a fold of every decision. Folds see each decision in the order they were added, so a
    /// fold added before another is current when the later one hears of a decision. `what`
    /// names the fold in the logs.
    pub fn fold_decisions(
        &mut self,
        what: &'static str,
        fold: impl Fn(&Decision, Partition, Offset) + Send + Sync + 'static,
    ) {
        self.folds.push((what, Box::new(fold)));
    }

    /// Adds a fold of the accepted events alone.
    pub fn fold_events(
        &mut self,
        what: &'static str,
        fold: impl Fn(&EventEnvelope) + Send + Sync + 'static,
    ) {
        self.fold_decisions(what, move |decision, _, _| {
            decision.events().iter().for_each(&fold)
        });
    }

    /// Adds a reaction to the accepted events appended after the catch-up (what came before is
    /// the caller's to read, from [`CaughtUp::positions`] back as far as it needs). Reactions
    /// hear of a decision after every fold.
    pub fn react_to_events(
        &mut self,
        what: &'static str,
        react: impl Fn(&EventEnvelope) + Send + Sync + 'static,
    ) {
        self.reactions.push((
            what,
            Box::new(move |decision, _, _| decision.events().iter().for_each(&react)),
        ));
    }

    /// Hands every fold every decision from the start of the log up to its end; then
    /// [`CaughtUp::follow`] goes on.
    pub async fn catch_up(self, log: &Arc<dyn EventLog>) -> Result<CaughtUp, LogError> {
        let mut positions = Vec::new();
        for partition in 0..log.partitions() {
            let end = log.end_offset(EVENTS_TOPIC, partition).await?;
            let mut records = log.read(EVENTS_TOPIC, partition, 0, end).await?;
            while let Some(record) = records.next().await {
                let record = record?;
                apply(
                    &self.folds,
                    &record.payload,
                    record.partition,
                    record.offset,
                );
            }
            positions.push((partition, end));
        }
        Ok(CaughtUp {
            feed: self,
            positions,
        })
    }
}

/// A feed whose folds hold the events up to [`CaughtUp::positions`].
pub struct CaughtUp {
    feed: EventsFeed,
    positions: Vec<(Partition, Offset)>,
}

impl CaughtUp {
    /// Where the folds stand: the next offset of each partition.
    pub fn positions(&self) -> &[(Partition, Offset)] {
        &self.positions
    }

    /// Hands the folds, then the reactions, every decision as it is appended, for as long as
    /// the process runs; returns the task that does, which ends only if the log's stream does
    /// (the caller watches it: the folds would go stale).
    pub async fn follow(
        self,
        log: &Arc<dyn EventLog>,
    ) -> Result<tokio::task::JoinHandle<()>, LogError> {
        let Self { feed, positions } = self;
        let mut everyone = feed.folds;
        everyone.extend(feed.reactions);
        let names: Vec<&'static str> = everyone.iter().map(|(what, _)| *what).collect();
        tracing::debug!(folds = ?names, "following the events");
        let mut records = log.follow(EVENTS_TOPIC, &positions).await?;
        Ok(tokio::spawn(async move {
            while let Some(record) = records.next().await {
                match record {
                    Ok(record) => {
                        apply(&everyone, &record.payload, record.partition, record.offset)
                    }
                    Err(error) => tracing::error!(%error, "following the events"),
                }
            }
            tracing::error!(folds = ?names, "the events stream ended");
        }))
    }
}

/// Hands the decision in `payload` to each of `folds`. A fold that panics is told the next
/// decision all the same, and the others go on: one task carries every fold of the process, and
/// a bug in one must not silence the command bus and the rest.
fn apply(folds: &[(&'static str, Fold)], payload: &[u8], partition: Partition, offset: Offset) {
    match Decision::from_bytes(payload) {
        Ok(decision) => {
            for (what, fold) in folds {
                let folded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    fold(&decision, partition, offset)
                }));
                if folded.is_err() {
                    tracing::error!(
                        what,
                        partition,
                        offset,
                        "a fold of the events panicked on this decision"
                    );
                }
            }
        }
        Err(error) => {
            tracing::error!(%error, partition, offset, "a decision this build cannot read")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use sigma_shared::event::{Event, Outcome};
    use sigma_shared::ids::{AccountId, CommandId};
    use sigma_shared::rejection::Rejection;
    use tokio::sync::mpsc;

    use super::*;
    use crate::embedded::EmbeddedLog;

    /// Appends a decision of `outcome`; returns its command id.
    async fn decide(log: &Arc<dyn EventLog>, outcome: Outcome) -> CommandId {
        let decision = Decision {
            command_id: CommandId::generate(),
            stream: "acc".to_owned(),
            outcome,
        };
        log.append(EVENTS_TOPIC, "acc", &decision.to_bytes())
            .await
            .unwrap();
        decision.command_id
    }

    fn rejected() -> Outcome {
        Outcome::Rejected {
            rejection: Rejection::ChannelStopped,
        }
    }

    #[tokio::test]
    async fn folds_have_the_log_up_to_its_end_once_caught_up_reactions_only_what_follows() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> = Arc::new(EmbeddedLog::open(dir.path(), 4).unwrap());
        log.ensure_topic(EVENTS_TOPIC).await.unwrap();
        let before = [
            decide(&log, rejected()).await,
            decide(&log, rejected()).await,
        ];

        let seen = Arc::new(Mutex::new(Vec::new()));
        let (told, mut heard) = mpsc::unbounded_channel();
        let mut feed = EventsFeed::default();
        let reacted = (seen.clone(), told.clone());
        feed.react_to_events("reaction", move |event| {
            reacted
                .0
                .lock()
                .unwrap()
                .push(("reaction", event.command_id));
            let _ = reacted.1.send(());
        });
        for name in ["first", "second"] {
            let (seen, told) = (seen.clone(), told.clone());
            feed.fold_decisions(name, move |decision, _, _| {
                seen.lock().unwrap().push((name, decision.command_id));
                let _ = told.send(());
            });
        }
        let caught_up = feed.catch_up(&log).await.unwrap();
        let total: Offset = caught_up.positions().iter().map(|(_, end)| end).sum();
        assert_eq!(total, 2);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                ("first", before[0]),
                ("second", before[0]),
                ("first", before[1]),
                ("second", before[1])
            ],
            "the log up to its end, to each fold in the order added, and no reaction"
        );

        let event = EventEnvelope::accepted_now(
            AccountId::generate(),
            None,
            Event::AccountCreated { name: "a".into() },
        );
        let after = decide(
            &log,
            Outcome::Accepted {
                events: vec![event.clone()],
            },
        )
        .await;
        caught_up.follow(&log).await.unwrap();
        for _ in 0..7 {
            tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv())
                .await
                .expect("the new decision reaches the folds and the reaction");
        }
        assert_eq!(
            seen.lock().unwrap()[4..],
            [
                ("first", after),
                ("second", after),
                ("reaction", event.command_id)
            ],
            "a decision appended after the catch-up, to the folds, then the reaction"
        );
    }

    #[tokio::test]
    async fn a_fold_that_panics_leaves_the_others_their_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> = Arc::new(EmbeddedLog::open(dir.path(), 4).unwrap());
        log.ensure_topic(EVENTS_TOPIC).await.unwrap();
        let first = decide(&log, rejected()).await;
        let (told, mut heard) = mpsc::unbounded_channel();
        let mut feed = EventsFeed::default();
        feed.fold_decisions("broken", |_, _, _| panic!("a bug in one fold"));
        feed.fold_decisions("sound", move |decision, _, _| {
            let _ = told.send(decision.command_id);
        });
        feed.catch_up(&log)
            .await
            .unwrap()
            .follow(&log)
            .await
            .unwrap();
        let second = decide(&log, rejected()).await;
        for expected in [first, second] {
            let got = tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv())
                .await
                .expect("the sound fold goes on hearing");
            assert_eq!(got, Some(expected));
        }
    }
}
