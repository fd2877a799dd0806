//! The Kafka adapter, through rdkafka (librdkafka built from source).
//!
//! - Appends go through one idempotent producer (`enable.idempotence`, `acks=all`) to the
//!   partition [`partition_for`] picks, so both adapters place keys alike.
//! - "Read to the end" needs an end offset that is exact. Rather than trust a broker's high
//!   watermark, [`KafkaLog::end_offset`] appends a *barrier* record to the partition and takes
//!   its offset: everything before it is readable. Barriers are filtered out of every read, so
//!   callers never see them.
//! - Group members are subscribed `StreamConsumer`s whose rebalance callbacks are turned into
//!   `Assigned`/`Revoked` events, delivered before any record fetched afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientContext, Offset as KafkaOffset, TopicPartitionList};
use sigma_shared::log::{
    partition_for, EventLog, GroupConsumer, GroupEvent, LogError, Offset, Pace, Partition, Record,
    COMMANDS_TOPIC, EVENTS_TOPIC,
};
use tokio::sync::mpsc;

use crate::FetchWaits;

/// The key of barrier records. It starts with a NUL byte, which no aggregate id contains.
const BARRIER_KEY: &str = "\0sigma.barrier";

/// How long a readiness check waits for the brokers' metadata.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub struct KafkaLog {
    brokers: String,
    partitions: u32,
    fetch_waits: FetchWaits,
    producer: FutureProducer,
}

/// Errors librdkafka reports while it reconnects by itself (a broker restarting, a network
/// blip). Readers wait them out instead of failing: readiness reports the outage meanwhile.
fn is_transient(error: &KafkaError) -> bool {
    matches!(
        error,
        KafkaError::MessageConsumption(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::BrokerNotAvailable
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
        )
    )
}

/// How long a reader pauses after a transient error before polling again.
const TRANSIENT_PAUSE: Duration = Duration::from_millis(200);

/// Logs a transient error and pauses; `false` for an error the caller must see.
async fn waited_out(error: &KafkaError) -> bool {
    if !is_transient(error) {
        return false;
    }
    tracing::warn!(%error, "kafka unavailable; waiting for librdkafka to reconnect");
    tokio::time::sleep(TRANSIENT_PAUSE).await;
    true
}

fn kafka_error(error: KafkaError) -> LogError {
    LogError::Kafka(error.to_string())
}

impl KafkaLog {
    pub fn connect(
        brokers: &str,
        partitions: u32,
        fetch_waits: FetchWaits,
    ) -> Result<Self, LogError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(kafka_error)?;
        Ok(Self {
            brokers: brokers.to_owned(),
            partitions,
            fetch_waits,
            producer,
        })
    }

    fn consumer_config(&self, group: &str, pace: Pace) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // No transactions are ever written, so reading committed records only would add
            // nothing but a dependency on the broker's last-stable-offset bookkeeping.
            .set("isolation.level", "read_uncommitted")
            .set("fetch.wait.max.ms", self.fetch_waits.of(pace).to_string())
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000");
        config
    }

    /// A consumer outside any group: a name of its own, never committed, and prompt (the
    /// events feed, playback's media and the catch-up reads are waited on).
    fn reader_config(&self) -> ClientConfig {
        self.consumer_config(
            &format!("sigma-reader-{}", uuid::Uuid::new_v4()),
            Pace::Prompt,
        )
    }

    /// A consumer outside any group, reading the given partitions from the given offsets.
    fn assigned_consumer(
        &self,
        topic: &str,
        from: &[(Partition, Offset)],
    ) -> Result<StreamConsumer, LogError> {
        let consumer: StreamConsumer = self.reader_config().create().map_err(kafka_error)?;
        let mut assignment = TopicPartitionList::new();
        for (partition, offset) in from {
            assignment
                .add_partition_offset(
                    topic,
                    *partition as i32,
                    KafkaOffset::Offset(*offset as i64),
                )
                .map_err(kafka_error)?;
        }
        consumer.assign(&assignment).map_err(kafka_error)?;
        Ok(consumer)
    }

    async fn append_to(
        &self,
        topic: &str,
        partition: Partition,
        key: &str,
        payload: &[u8],
    ) -> Result<Offset, LogError> {
        let record = FutureRecord::to(topic)
            .key(key)
            .payload(payload)
            .partition(partition as i32);
        let delivery = self
            .producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(error, _)| kafka_error(error))?;
        Ok(delivery.offset as Offset)
    }

    fn check_partition(&self, partition: Partition) -> Result<(), LogError> {
        if partition < self.partitions {
            Ok(())
        } else {
            Err(LogError::NoSuchPartition {
                partition,
                partitions: self.partitions,
            })
        }
    }
}

fn to_record(message: &BorrowedMessage<'_>) -> Option<Record> {
    let key = message
        .key()
        .map(|key| String::from_utf8_lossy(key).into_owned())
        .unwrap_or_default();
    if key == BARRIER_KEY {
        return None;
    }
    Some(Record {
        partition: message.partition() as Partition,
        offset: message.offset() as Offset,
        key,
        payload: message.payload().unwrap_or_default().to_vec(),
        timestamp_ms: message.timestamp().to_millis().unwrap_or_default(),
    })
}

#[async_trait]
impl EventLog for KafkaLog {
    fn partitions(&self) -> u32 {
        self.partitions
    }

    async fn check(&self) -> Result<(), LogError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, CHECK_TIMEOUT)
                .map(|_| ())
        })
        .await
        .map_err(|error| LogError::Kafka(error.to_string()))?
        .map_err(kafka_error)
    }

    async fn ensure_topic(&self, topic: &str) -> Result<(), LogError> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .map_err(kafka_error)?;
        let mut new_topic =
            NewTopic::new(topic, self.partitions as i32, TopicReplication::Fixed(1));
        // The commands and the events are the source of truth (replay, and every playback node
        // folds the events from the start): a broker's default retention (a week on Kafka)
        // would lose them.
        if [COMMANDS_TOPIC, EVENTS_TOPIC].contains(&topic) {
            new_topic = new_topic.set("retention.ms", "-1");
        }
        let results = admin
            .create_topics([&new_topic], &AdminOptions::new())
            .await
            .map_err(kafka_error)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(LogError::Kafka(format!("creating topic {name}: {code}")))
                }
            }
        }
        Ok(())
    }

    async fn append(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<(Partition, Offset), LogError> {
        let partition = partition_for(key, self.partitions);
        Ok((
            partition,
            self.append_to(topic, partition, key, payload).await?,
        ))
    }

    async fn end_offset(&self, topic: &str, partition: Partition) -> Result<Offset, LogError> {
        self.check_partition(partition)?;
        self.append_to(topic, partition, BARRIER_KEY, &[]).await
    }

    /// ListOffsets by time. Kafka answers "none" when no record is that recent (then the end
    /// offset is the answer); tansu 0.6 answers 0, which costs a longer read, not a wrong one.
    async fn offset_at(
        &self,
        topic: &str,
        partition: Partition,
        timestamp_ms: i64,
    ) -> Result<Offset, LogError> {
        self.check_partition(partition)?;
        let consumer: BaseConsumer = self.reader_config().create().map_err(kafka_error)?;
        let mut wanted = TopicPartitionList::new();
        wanted
            .add_partition_offset(topic, partition as i32, KafkaOffset::Offset(timestamp_ms))
            .map_err(kafka_error)?;
        let found = tokio::task::spawn_blocking(move || {
            consumer.offsets_for_times(wanted, Duration::from_secs(10))
        })
        .await
        .map_err(|join| LogError::Kafka(join.to_string()))?
        .map_err(kafka_error)?;
        match found
            .find_partition(topic, partition as i32)
            .map(|element| element.offset())
        {
            Some(KafkaOffset::Offset(offset)) if offset >= 0 => Ok(offset as Offset),
            _ => self.end_offset(topic, partition).await,
        }
    }

    async fn read(
        &self,
        topic: &str,
        partition: Partition,
        from: Offset,
        until: Offset,
    ) -> Result<BoxStream<'static, Result<Record, LogError>>, LogError> {
        self.check_partition(partition)?;
        if from >= until {
            return Ok(stream::empty().boxed());
        }
        let consumer = Arc::new(self.assigned_consumer(topic, &[(partition, from)])?);
        // `until` is a barrier's offset (or an exact end), so a record at or past it exists and
        // the read always reaches it.
        Ok(stream::unfold(Some(consumer), move |consumer| async move {
            let consumer = consumer?;
            loop {
                match consumer.recv().await {
                    Err(error) if waited_out(&error).await => continue,
                    Err(error) => return Some((Err(kafka_error(error)), None)),
                    Ok(message) => {
                        let offset = message.offset() as Offset;
                        if offset >= until {
                            return None;
                        }
                        let last = offset + 1 >= until;
                        let next_state = if last { None } else { Some(consumer.clone()) };
                        if let Some(record) = to_record(&message) {
                            return Some((Ok(record), next_state));
                        }
                        if last {
                            return None;
                        }
                    }
                }
            }
        })
        .boxed())
    }

    async fn follow(
        &self,
        topic: &str,
        from: &[(Partition, Offset)],
    ) -> Result<BoxStream<'static, Result<Record, LogError>>, LogError> {
        for (partition, _) in from {
            self.check_partition(*partition)?;
        }
        let consumer = Arc::new(self.assigned_consumer(topic, from)?);
        Ok(stream::unfold(consumer, |consumer| async move {
            loop {
                match consumer.recv().await {
                    Err(error) if waited_out(&error).await => continue,
                    Err(error) => return Some((Err(kafka_error(error)), consumer.clone())),
                    Ok(message) => {
                        if let Some(record) = to_record(&message) {
                            return Some((Ok(record), consumer.clone()));
                        }
                    }
                }
            }
        })
        .boxed())
    }

    async fn join(
        &self,
        topic: &str,
        group: &str,
        pace: Pace,
    ) -> Result<Box<dyn GroupConsumer>, LogError> {
        let mut config = self.consumer_config(group, pace);
        config.set("partition.assignment.strategy", "roundrobin");
        let (consumer, rebalances) = subscribe(&config, topic)?;
        Ok(Box::new(KafkaMember {
            topic: topic.to_owned(),
            config,
            consumer,
            rebalances,
            stash: None,
            taken_back: None,
            last_rejoin: None,
        }))
    }
}

type GroupMember = Arc<StreamConsumer<RebalanceContext>>;

/// A new group member subscribed to `topic`, with the channel its rebalances arrive on.
fn subscribe(
    config: &ClientConfig,
    topic: &str,
) -> Result<(GroupMember, mpsc::UnboundedReceiver<GroupEvent>), LogError> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let consumer: StreamConsumer<RebalanceContext> = config
        .create_with_context(RebalanceContext { rebalances: sender })
        .map_err(kafka_error)?;
    consumer.subscribe(&[topic]).map_err(kafka_error)?;
    Ok((Arc::new(consumer), receiver))
}

/// Forwards the consumer's rebalances to its member.
struct RebalanceContext {
    rebalances: mpsc::UnboundedSender<GroupEvent>,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let revoked = partition_numbers(partitions);
            if !revoked.is_empty() {
                let _ = self.rebalances.send(GroupEvent::Revoked(revoked));
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            let assigned = partition_numbers(partitions);
            if !assigned.is_empty() {
                let _ = self.rebalances.send(GroupEvent::Assigned(assigned));
            }
        }
    }
}

fn partition_numbers(list: &TopicPartitionList) -> Vec<Partition> {
    let mut partitions: Vec<Partition> = list
        .elements()
        .iter()
        .map(|e| e.partition() as Partition)
        .collect();
    partitions.sort_unstable();
    partitions
}

struct KafkaMember {
    topic: String,
    config: ClientConfig,
    consumer: GroupMember,
    rebalances: mpsc::UnboundedReceiver<GroupEvent>,
    /// A record that arrived in the same poll as a rebalance, held back until the rebalance
    /// has been reported.
    stash: Option<Record>,
    /// The partitions the last rebalance revoked, until the assignment that follows it.
    taken_back: Option<Vec<Partition>>,
    last_rejoin: Option<Instant>,
}

/// The least time between two rejoins of one member (see [`KafkaMember::stuck_rebalance`]).
const REJOIN_COOL_DOWN: Duration = Duration::from_secs(30);

impl KafkaMember {
    /// A rebalance that hands back exactly the partitions it took away, when the group is
    /// rebalancing because a member died, means the coordinator kept the dead member as the
    /// group's leader and replayed the old assignment: the dead member's partitions would
    /// stay unowned forever. Seen with tansu 0.6 after a SIGKILL. Rejoining as a new member
    /// makes the coordinator elect a live leader. On a healthy broker this costs at most one
    /// extra rebalance per cool-down.
    fn stuck_rebalance(&mut self, event: &GroupEvent) -> bool {
        match event {
            GroupEvent::Revoked(partitions) => {
                self.taken_back = Some(partitions.clone());
                false
            }
            GroupEvent::Assigned(partitions) => {
                let same = self
                    .taken_back
                    .take()
                    .is_some_and(|revoked| &revoked == partitions);
                same && self
                    .last_rejoin
                    .is_none_or(|at| at.elapsed() > REJOIN_COOL_DOWN)
            }
            GroupEvent::Record(_) => false,
        }
    }

    /// Leaves the group and joins it again as a new member. The old member's farewell
    /// rebalance goes to a channel nobody reads, so the caller only sees the new assignment.
    async fn rejoin(&mut self) -> Result<(), LogError> {
        tracing::warn!(topic = %self.topic, "the group handed back the same partitions after a rebalance; rejoining");
        let (consumer, rebalances) = subscribe(&self.config, &self.topic)?;
        let old = std::mem::replace(&mut self.consumer, consumer);
        self.rebalances = rebalances;
        self.stash = None;
        self.last_rejoin = Some(Instant::now());
        // Closing sends LeaveGroup and blocks until the broker answers.
        tokio::task::spawn_blocking(move || drop(old))
            .await
            .map_err(|join| LogError::Kafka(join.to_string()))
    }

    async fn next_event(&mut self) -> Result<GroupEvent, LogError> {
        loop {
            if let Ok(event) = self.rebalances.try_recv() {
                return Ok(event);
            }
            if let Some(record) = self.stash.take() {
                return Ok(GroupEvent::Record(record));
            }
            let record = tokio::select! {
                biased;
                event = self.rebalances.recv() => return event.ok_or(LogError::Closed),
                message = self.consumer.recv() => match message {
                    Ok(message) => to_record(&message),
                    Err(error) if waited_out(&error).await => continue,
                    Err(error) => return Err(kafka_error(error)),
                },
            };
            if let Some(record) = record {
                self.stash = Some(record);
            }
        }
    }
}

#[async_trait]
impl GroupConsumer for KafkaMember {
    async fn next(&mut self) -> Result<GroupEvent, LogError> {
        loop {
            let event = self.next_event().await?;
            if self.stuck_rebalance(&event) {
                self.rejoin().await?;
                continue;
            }
            return Ok(event);
        }
    }

    async fn commit(&mut self, partition: Partition, next_offset: Offset) -> Result<(), LogError> {
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(
                &self.topic,
                partition as i32,
                KafkaOffset::Offset(next_offset as i64),
            )
            .map_err(kafka_error)?;
        // A synchronous commit, off the async threads: when it returns, a member that takes
        // the partition over starts after this record, as with the embedded log.
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync))
            .await
            .map_err(|join| LogError::Kafka(join.to_string()))?
            .map_err(kafka_error)
    }
}
