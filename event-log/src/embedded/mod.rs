//! The embedded log: one directory per topic, one append-only file per partition, read from the
//! file (memory holds each record's position, not the record).
//!
//! Appends to a partition are serialized by its lock and fsynced before they are acknowledged.
//! Readers and group members wait on a per-topic watch channel that every append bumps, so a
//! follower wakes as soon as the append returns — no polling. Consumer groups live in this
//! process ([`group`]); their committed offsets are files beside the topics.

pub mod file;
mod group;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use sigma_shared::log::{
    partition_for, EventLog, GroupConsumer, LogError, Offset, Pace, Partition, Record,
};
use tokio::sync::watch;

use self::file::PartitionFile;
use self::group::{Group, Member};

/// How long a follower waits before reading a partition again after a read failed.
const READ_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

pub struct EmbeddedLog {
    dir: PathBuf,
    partitions: u32,
    topics: Mutex<HashMap<String, Arc<Topic>>>,
    groups: Mutex<HashMap<(String, String), Arc<Group>>>,
}

struct Topic {
    partitions: Vec<Mutex<PartitionFile>>,
    /// Bumped after every append; followers wait on it.
    appended: watch::Sender<u64>,
}

impl Topic {
    fn partition(&self, partition: Partition) -> Result<&Mutex<PartitionFile>, LogError> {
        self.partitions
            .get(partition as usize)
            .ok_or(LogError::NoSuchPartition {
                partition,
                partitions: self.partitions.len() as u32,
            })
    }

    fn len(&self, partition: Partition) -> Result<Offset, LogError> {
        Ok(self
            .partition(partition)?
            .lock()
            .expect("partition lock")
            .records() as Offset)
    }

    /// Records `[from, until)` of a partition, at most `max` of them.
    fn slice(
        &self,
        partition: Partition,
        from: Offset,
        until: Offset,
        max: usize,
    ) -> Result<Vec<Record>, LogError> {
        self.partition(partition)?
            .lock()
            .expect("partition lock")
            .read(from, until, max)
    }
}

impl EmbeddedLog {
    /// Opens the log in `dir`, loading every topic already there.
    pub fn open(dir: &Path, partitions: u32) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir.join("topics"))?;
        std::fs::create_dir_all(dir.join("groups"))?;
        let log = Self {
            dir: dir.to_owned(),
            partitions,
            topics: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
        };
        for entry in std::fs::read_dir(dir.join("topics"))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            log.load_topic(&name)?;
        }
        Ok(log)
    }

    fn load_topic(&self, name: &str) -> Result<Arc<Topic>, LogError> {
        let topic_dir = self.dir.join("topics").join(name);
        std::fs::create_dir_all(&topic_dir)?;
        let partitions = (0..self.partitions)
            .map(|partition| {
                let file =
                    PartitionFile::open(&topic_dir.join(format!("{partition}.log")), partition)?;
                Ok(Mutex::new(file))
            })
            .collect::<Result<Vec<_>, LogError>>()?;
        let topic = Arc::new(Topic {
            partitions,
            appended: watch::channel(0).0,
        });
        self.topics
            .lock()
            .expect("topics lock")
            .insert(name.to_owned(), topic.clone());
        Ok(topic)
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>, LogError> {
        self.topics
            .lock()
            .expect("topics lock")
            .get(name)
            .cloned()
            .ok_or_else(|| LogError::UnknownTopic(name.to_owned()))
    }
}

fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[async_trait]
impl EventLog for EmbeddedLog {
    fn partitions(&self) -> u32 {
        self.partitions
    }

    /// In-process and file-backed: it answers whenever this process does.
    async fn check(&self) -> Result<(), LogError> {
        Ok(())
    }

    async fn ensure_topic(&self, topic: &str) -> Result<(), LogError> {
        if !valid_topic_name(topic) {
            return Err(LogError::UnknownTopic(topic.to_owned()));
        }
        if self.topic(topic).is_err() {
            self.load_topic(topic)?;
        }
        Ok(())
    }

    async fn append(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<(Partition, Offset), LogError> {
        let topic = self.topic(topic)?;
        let partition = partition_for(key, self.partitions);
        let (key, payload) = (key.to_owned(), payload.to_vec());
        let writer = topic.clone();
        let offset = tokio::task::spawn_blocking(move || -> Result<Offset, LogError> {
            let mut file = writer.partition(partition)?.lock().expect("partition lock");
            Ok(file.append(now_ms(), &key, &payload)? as Offset)
        })
        .await
        .map_err(|join| LogError::Io(std::io::Error::other(join)))??;
        topic.appended.send_modify(|count| *count += 1);
        Ok((partition, offset))
    }

    async fn end_offset(&self, topic: &str, partition: Partition) -> Result<Offset, LogError> {
        self.topic(topic)?.len(partition)
    }

    async fn offset_at(
        &self,
        topic: &str,
        partition: Partition,
        timestamp_ms: i64,
    ) -> Result<Offset, LogError> {
        self.topic(topic)?
            .partition(partition)?
            .lock()
            .expect("partition lock")
            .offset_at(timestamp_ms)
    }

    async fn read(
        &self,
        topic: &str,
        partition: Partition,
        from: Offset,
        until: Offset,
    ) -> Result<BoxStream<'static, Result<Record, LogError>>, LogError> {
        let topic = self.topic(topic)?;
        topic.partition(partition)?;
        const BATCH: usize = 1024;
        Ok(stream::unfold(from, move |position| {
            let topic = topic.clone();
            async move {
                if position >= until {
                    return None;
                }
                let batch = match topic.slice(partition, position, until, BATCH) {
                    Ok(batch) if batch.is_empty() => return None,
                    Ok(batch) => batch,
                    Err(error) => return Some((vec![Err(error)], until)),
                };
                let next = position + batch.len() as Offset;
                Some((batch.into_iter().map(Ok).collect::<Vec<_>>(), next))
            }
        })
        .flat_map(stream::iter)
        .boxed())
    }

    async fn follow(
        &self,
        topic: &str,
        from: &[(Partition, Offset)],
    ) -> Result<BoxStream<'static, Result<Record, LogError>>, LogError> {
        let topic = self.topic(topic)?;
        for (partition, _) in from {
            topic.partition(*partition)?;
        }
        let positions: Vec<(Partition, Offset)> = from.to_vec();
        let appended = topic.appended.subscribe();
        Ok(stream::unfold(
            (topic, positions, appended),
            |(topic, mut positions, mut appended)| async move {
                loop {
                    // Mark the current count seen before scanning, so an append racing the scan
                    // still wakes the wait below.
                    appended.borrow_and_update();
                    let mut batch = Vec::new();
                    for (partition, position) in positions.iter_mut() {
                        match topic.slice(*partition, *position, Offset::MAX, 256) {
                            Ok(records) => {
                                *position += records.len() as Offset;
                                batch.extend(records.into_iter().map(Ok));
                            }
                            Err(error) => batch.push(Err(error)),
                        }
                    }
                    if batch.iter().any(Result::is_err) {
                        // A partition that cannot be read now is tried again after a pause,
                        // not in a loop that never yields.
                        tokio::time::sleep(READ_RETRY_PAUSE).await;
                    }
                    if !batch.is_empty() {
                        return Some((batch, (topic, positions, appended)));
                    }
                    if appended.changed().await.is_err() {
                        return None;
                    }
                }
            },
        )
        .flat_map(stream::iter)
        .boxed())
    }

    async fn join(
        &self,
        topic_name: &str,
        group_name: &str,
        // Every member is woken by an append, so each is prompt.
        _pace: Pace,
    ) -> Result<Box<dyn GroupConsumer>, LogError> {
        let topic = self.topic(topic_name)?;
        let group = {
            let mut groups = self.groups.lock().expect("groups lock");
            groups
                .entry((topic_name.to_owned(), group_name.to_owned()))
                .or_insert_with(|| {
                    let path = self
                        .dir
                        .join("groups")
                        .join(format!("{group_name}@{topic_name}.json"));
                    Arc::new(Group::load(path, self.partitions))
                })
                .clone()
        };
        let topic_for_member = topic.clone();
        Ok(Box::new(Member::join(
            group,
            topic.appended.subscribe(),
            move |partition, from| topic_for_member.slice(partition, from, Offset::MAX, 256),
        )))
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
