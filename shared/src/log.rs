//! The event-log port: the one abstraction over Kafka and the embedded log.
//!
//! It offers what the control plane and the edge workers need and nothing Kafka-specific:
//! keyed appends (same key → same partition → total order), bounded and unbounded reads of
//! partitions, and consumer groups with committed offsets and rebalances. Adapters live in
//! `sigma-event-log`; one conformance suite holds both to this contract.

use std::collections::HashMap;

use async_trait::async_trait;
use futures::stream::BoxStream;

pub type Partition = u32;
pub type Offset = u64;

/// The topic of commands, keyed by aggregate id.
pub const COMMANDS_TOPIC: &str = "sigma.commands";
/// The topic of decisions (and so of domain events), keyed by aggregate id.
pub const EVENTS_TOPIC: &str = "sigma.events";
/// Media events (stored parts and segments), keyed by channel id.
pub const MEDIA_TOPIC: &str = "sigma.media";
/// Heartbeats of every process, keyed by node id.
pub const HEARTBEATS_TOPIC: &str = "sigma.heartbeats";
/// Viewer activity batches of the playback processes, keyed by channel id.
pub const VIEWERS_TOPIC: &str = "sigma.viewers";

/// The partition of a key. Both adapters use this function (not Kafka's default partitioner),
/// so a channel's commands and its events land in partitions of the same number, which is what
/// lets one decider own both.
pub fn partition_for(key: &str, partitions: u32) -> Partition {
    assert!(partitions > 0, "a topic has at least one partition");
    crc32fast::hash(key.as_bytes()) % partitions
}

/// One stored record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub partition: Partition,
    pub offset: Offset,
    pub key: String,
    pub payload: Vec<u8>,
    /// Milliseconds since the Unix epoch, as the log stamped it.
    pub timestamp_ms: i64,
}

/// What a group member learns from [`GroupConsumer::next`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupEvent {
    /// These partitions are now this member's; records follow from the committed offsets.
    Assigned(Vec<Partition>),
    /// These partitions are no longer this member's; stop working on them.
    Revoked(Vec<Partition>),
    Record(Record),
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("event log i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("kafka: {0}")]
    Kafka(String),
    #[error("the log is corrupt at {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("topic `{0}` does not exist; it is created at start-up")]
    UnknownTopic(String),
    #[error("partition {partition} is out of range (the topic has {partitions})")]
    NoSuchPartition {
        partition: Partition,
        partitions: u32,
    },
    #[error("partition {0} is not assigned to this group member (a rebalance moved it)")]
    NotAssigned(Partition),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("the log is shut down")]
    Closed,
}

/// A member of a consumer group: partitions are shared out among the members, and move to the
/// survivors when a member leaves or dies.
#[async_trait]
pub trait GroupConsumer: Send {
    async fn next(&mut self) -> Result<GroupEvent, LogError>;

    /// Records that everything before `next_offset` in `partition` is done; a member that takes
    /// the partition over starts there.
    async fn commit(&mut self, partition: Partition, next_offset: Offset) -> Result<(), LogError>;
}

/// When a group member commits: after every `every`-th record of a partition, not after each.
/// For members that may see a record again at no cost (a decider remembers the commands it
/// decided; a projection stores its own offsets with its rows): a member that takes a
/// partition over reads at most `every - 1` records again, and the broker takes one commit per
/// `every` records rather than one per record, each a write on its side.
pub struct Checkpoints {
    every: u32,
    since: HashMap<Partition, u32>,
}

impl Checkpoints {
    pub fn every(every: u32) -> Self {
        Self {
            every: every.max(1),
            since: HashMap::new(),
        }
    }

    /// Whether to commit now, one more record of `partition` being done.
    pub fn due(&mut self, partition: Partition) -> bool {
        let since = self.since.entry(partition).or_default();
        *since += 1;
        if *since < self.every {
            return false;
        }
        *since = 0;
        true
    }
}

/// How soon a group member must see a record once it is appended. A log that wakes its readers
/// on an append (the embedded log; Apache Kafka, which answers a waiting fetch as soon as data
/// arrives) delivers at once either way. A broker that holds every fetch for its full wait
/// (tansu 0.6) is asked to hold a prompt member's fetches briefly and a relaxed member's long:
/// every idle fetch costs it work, and the prompt members' records queue behind that work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// Someone is waiting for what this member does with a record: a command's decision, the
    /// read model a write's answer is read from.
    Prompt,
    /// Nobody waits on it within a fraction of a second: webhook deliveries, retention,
    /// recordings, node heartbeats, analytics.
    Relaxed,
}

#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Partitions per topic (the same for every topic).
    fn partitions(&self) -> u32;

    /// Whether the log answers right now; cheap enough for every readiness probe.
    async fn check(&self) -> Result<(), LogError>;

    /// Creates the topic if it does not exist.
    async fn ensure_topic(&self, topic: &str) -> Result<(), LogError>;

    /// Appends durably; returns where the record went. Records with the same key keep their
    /// order.
    async fn append(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<(Partition, Offset), LogError>;

    /// The offset the next record appended to the partition will get: every record below it is
    /// readable now.
    async fn end_offset(&self, topic: &str, partition: Partition) -> Result<Offset, LogError>;

    /// The first offset of the partition whose record was stamped at or after `timestamp_ms`
    /// (the end offset if none was), so a reader that needs only recent records need not read
    /// the whole history. Stamps follow the log's clock: a reader leaves a margin for skew.
    async fn offset_at(
        &self,
        topic: &str,
        partition: Partition,
        timestamp_ms: i64,
    ) -> Result<Offset, LogError>;

    /// The records of one partition from `from` up to `until` (exclusive), where `until` came
    /// from [`EventLog::end_offset`]. The stream ends after the last one.
    async fn read(
        &self,
        topic: &str,
        partition: Partition,
        from: Offset,
        until: Offset,
    ) -> Result<BoxStream<'static, Result<Record, LogError>>, LogError>;

    /// Every record of the given partitions from the given offsets on, as they arrive, forever.
    async fn follow(
        &self,
        topic: &str,
        from: &[(Partition, Offset)],
    ) -> Result<BoxStream<'static, Result<Record, LogError>>, LogError>;

    /// Joins a consumer group on a topic, as a member that must see records at `pace`.
    async fn join(
        &self,
        topic: &str,
        group: &str,
        pace: Pace,
    ) -> Result<Box<dyn GroupConsumer>, LogError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_maps_to_the_same_partition_in_range() {
        for key in ["ch_1", "ch_2", "", "ac_zzz"] {
            let partition = partition_for(key, 8);
            assert!(partition < 8);
            assert_eq!(partition, partition_for(key, 8));
        }
    }

    #[test]
    fn a_checkpoint_falls_due_every_so_many_records_of_each_partition() {
        let mut checkpoints = Checkpoints::every(3);
        let due: Vec<bool> = [0, 0, 1, 0, 1, 1, 0, 0]
            .into_iter()
            .map(|partition| checkpoints.due(partition))
            .collect();
        assert_eq!(
            due,
            [false, false, false, true, false, true, false, false],
            "the third record of partition 0, the third of partition 1, counted apart"
        );
        assert!(Checkpoints::every(0).due(5), "every record at the least");
    }
}
