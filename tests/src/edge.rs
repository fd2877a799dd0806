//! Plays an edge worker on the real log: submits ingest commands for a channel and awaits the
//! decider's answer, exactly as a worker will. Until ingest exists this is how the tests open,
//! advance and end sessions.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use sigma_shared::command::{ChannelCommand, Command, CommandEnvelope, IngestAction};
use sigma_shared::event::{Decision, Outcome};
use sigma_shared::ids::ChannelId;
use sigma_shared::log::{partition_for, EventLog, COMMANDS_TOPIC, EVENTS_TOPIC};

/// A backstop: a decision may wait for a dead decider's partitions to be taken over.
const DECISION_TIMEOUT: Duration = Duration::from_secs(90);

pub struct EdgeStandIn {
    log: Arc<dyn EventLog>,
}

impl EdgeStandIn {
    pub async fn connect(brokers: &str, partitions: u32) -> Self {
        let config = sigma_event_log::LogConfig::Kafka {
            brokers: brokers.to_owned(),
            partitions,
            fetch_waits: sigma_event_log::FetchWaits::default(),
        };
        Self {
            log: sigma_event_log::open(&config)
                .await
                .expect("connecting to the broker"),
        }
    }

    pub fn log(&self) -> &dyn EventLog {
        self.log.as_ref()
    }

    /// Submits one ingest action and returns the decision's outcome.
    pub async fn submit(&self, channel_id: &str, action: IngestAction) -> Outcome {
        let channel_id: ChannelId = channel_id.parse().expect("a channel id");
        let envelope = CommandEnvelope::new(
            Command::channel(channel_id, ChannelCommand::Ingest { action }),
            Utc::now(),
        );
        let key = envelope.stream();
        let partition = partition_for(&key, self.log.partitions());
        // Follow the events from before the append, so the decision cannot be missed.
        let from = self
            .log
            .end_offset(EVENTS_TOPIC, partition)
            .await
            .expect("the events' end");
        let mut events = self
            .log
            .follow(EVENTS_TOPIC, &[(partition, from)])
            .await
            .expect("following events");
        self.log
            .append(
                COMMANDS_TOPIC,
                &key,
                &serde_json::to_vec(&envelope).expect("a command serializes"),
            )
            .await
            .expect("appending a command");
        let mut seen = 0u64;
        let waited = tokio::time::timeout(DECISION_TIMEOUT, async {
            while let Some(record) = events.next().await {
                let record = record.expect("reading events");
                seen = record.offset + 1;
                if let Ok(decision) = Decision::from_bytes(&record.payload) {
                    if decision.command_id == envelope.id {
                        return decision.outcome;
                    }
                }
            }
            panic!("the events stream ended");
        })
        .await;
        match waited {
            Ok(outcome) => outcome,
            Err(_) => panic!("{}", self.missing(&envelope, partition, from, seen).await),
        }
    }

    /// Why a decision was not seen: whether the log holds it (then the follower missed it) or
    /// not (then no decider decided the command), and where.
    async fn missing(
        &self,
        envelope: &CommandEnvelope,
        partition: u32,
        from: u64,
        seen: u64,
    ) -> String {
        let end = self.log.end_offset(EVENTS_TOPIC, partition).await;
        let held = match end {
            Ok(end) => {
                let mut records = self
                    .log
                    .read(EVENTS_TOPIC, partition, from, end)
                    .await
                    .expect("reading events");
                let mut at = None;
                while let Some(Ok(record)) = records.next().await {
                    if Decision::from_bytes(&record.payload)
                        .is_ok_and(|decision| decision.command_id == envelope.id)
                    {
                        at = Some(record.offset);
                    }
                }
                format!("the log holds it at {at:?} (events end {end})")
            }
            Err(error) => format!("the events' end is unknown: {error}"),
        };
        let command = self.command_offset(envelope, partition).await;
        format!(
            "no decision in {DECISION_TIMEOUT:?} for command {} on events partition {partition}: \
             followed from {from}, saw up to {seen}; {held}; the commands topic holds the \
             command at {command}",
            envelope.id
        )
    }

    /// Where the commands topic holds `envelope` (the same partition number as its events).
    async fn command_offset(&self, envelope: &CommandEnvelope, partition: u32) -> String {
        let end = match self.log.end_offset(COMMANDS_TOPIC, partition).await {
            Ok(end) => end,
            Err(error) => return format!("an unknown place ({error})"),
        };
        let mut records = self
            .log
            .read(COMMANDS_TOPIC, partition, 0, end)
            .await
            .expect("reading commands");
        let mut at = None;
        while let Some(Ok(record)) = records.next().await {
            if serde_json::from_slice::<CommandEnvelope>(&record.payload)
                .is_ok_and(|command| command.id == envelope.id)
            {
                at = Some(record.offset);
            }
        }
        format!("{at:?} (commands end {end})")
    }

    /// Every decision in the events topic, oldest first per partition.
    pub async fn all_decisions(&self) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for partition in 0..self.log.partitions() {
            let end = self
                .log
                .end_offset(EVENTS_TOPIC, partition)
                .await
                .expect("the events' end");
            let mut records = self
                .log
                .read(EVENTS_TOPIC, partition, 0, end)
                .await
                .expect("reading events");
            while let Some(record) = records.next().await {
                if let Ok(decision) = Decision::from_bytes(&record.expect("a record").payload) {
                    decisions.push(decision);
                }
            }
        }
        decisions
    }
}
