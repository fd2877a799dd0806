//! The contract every event-log adapter must keep, as tests that take a [`Backend`].
//!
//! Each check uses a topic of its own, so checks can share a broker. Every wait has a generous
//! timeout as a backstop; nothing sleeps to synchronize.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use sigma_shared::log::{EventLog, GroupConsumer, GroupEvent, Offset, Pace, Partition, Record};
use tokio::sync::mpsc;

/// Partitions of every topic the suite creates.
pub const PARTITIONS: u32 = 4;
const BACKSTOP: Duration = Duration::from_secs(60);

/// One adapter under test.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Opens a client of the log (a new one each call, as a restarted process would).
    async fn open(&self) -> Arc<dyn EventLog>;
    /// Restarts what stores the records: the broker for Kafka; for the embedded log reopening
    /// its files (which [`Backend::open`] does) is the restart.
    async fn restart_storage(&self);
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BACKSTOP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn new_topic() -> String {
    format!("conformance-{}", uuid::Uuid::new_v4().simple())
}

async fn read_all(log: &dyn EventLog, topic: &str, partition: Partition) -> Vec<Record> {
    let end = log.end_offset(topic, partition).await.expect("end offset");
    let stream = log.read(topic, partition, 0, end).await.expect("read");
    within(
        "reading a partition",
        stream.map(|record| record.expect("a record")).collect(),
    )
    .await
}

/// Makes every payload the suite appends unique, across calls and checks.
static PAYLOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn append_many(
    log: &dyn EventLog,
    topic: &str,
    keys: &[&str],
    per_key: usize,
) -> Vec<(String, Vec<u8>, Partition, Offset)> {
    let mut appended = Vec::new();
    for index in 0..per_key {
        for key in keys {
            let unique = PAYLOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let payload = format!("{key}#{index}#{unique}").into_bytes();
            let (partition, offset) = log.append(topic, key, &payload).await.expect("append");
            appended.push((key.to_string(), payload, partition, offset));
        }
    }
    appended
}

/// Records with one key come back in the order they were appended, at the offsets `append`
/// returned, in the partition the key maps to.
pub async fn per_key_order(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic();
    log.ensure_topic(&topic).await.unwrap();
    let keys = ["ch_a", "ch_b", "ch_c", "ch_d", "ch_e", "ch_f"];
    let appended = append_many(log.as_ref(), &topic, &keys, 20).await;

    let mut read = Vec::new();
    for partition in 0..PARTITIONS {
        let records = read_all(log.as_ref(), &topic, partition).await;
        let offsets: Vec<Offset> = records.iter().map(|r| r.offset).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "offsets increase within a partition: {offsets:?}"
        );
        read.extend(records);
    }
    assert_eq!(read.len(), appended.len());
    let by_place: HashMap<(Partition, Offset), &Record> =
        read.iter().map(|r| ((r.partition, r.offset), r)).collect();
    for (key, payload, partition, offset) in &appended {
        let record = by_place[&(*partition, *offset)];
        assert_eq!((&record.key, &record.payload), (key, payload));
        assert_eq!(
            *partition,
            sigma_shared::log::partition_for(key, PARTITIONS)
        );
    }
    for key in keys {
        let order: Vec<&[u8]> = read
            .iter()
            .filter(|r| r.key == key)
            .map(|r| r.payload.as_slice())
            .collect();
        let expected: Vec<&[u8]> = appended
            .iter()
            .filter(|a| a.0 == key)
            .map(|a| a.1.as_slice())
            .collect();
        assert_eq!(order, expected, "order of {key}");
    }
}

/// `end_offset` bounds a read exactly: the records appended between two end offsets, no more.
pub async fn bounded_reads_stop_at_the_end_offset(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic();
    log.ensure_topic(&topic).await.unwrap();
    let key = "ch_bounded";
    let partition = sigma_shared::log::partition_for(key, PARTITIONS);
    append_many(log.as_ref(), &topic, &[key], 3).await;
    let before = log.end_offset(&topic, partition).await.unwrap();
    let middle = append_many(log.as_ref(), &topic, &[key], 5).await;
    let after = log.end_offset(&topic, partition).await.unwrap();
    append_many(log.as_ref(), &topic, &[key], 2).await;

    let stream = log.read(&topic, partition, before, after).await.unwrap();
    let records: Vec<Record> = within("bounded read", stream.map(Result::unwrap).collect()).await;
    let payloads: Vec<Vec<u8>> = records.into_iter().map(|r| r.payload).collect();
    assert_eq!(
        payloads,
        middle.into_iter().map(|m| m.1).collect::<Vec<_>>()
    );
    let empty = log.read(&topic, partition, after, after).await.unwrap();
    assert_eq!(empty.count().await, 0);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// `offset_at` finds where the records stamped at or after a time begin, so a reader can skip
/// the older ones.
pub async fn offsets_are_found_by_time(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic();
    log.ensure_topic(&topic).await.unwrap();
    let key = "ch_timed";
    let partition = sigma_shared::log::partition_for(key, PARTITIONS);
    append_many(log.as_ref(), &topic, &[key], 5).await;
    let older = read_all(log.as_ref(), &topic, partition).await;
    let newest_older = older.iter().map(|r| r.timestamp_ms).max().unwrap();
    // The next records must be stamped later than every older one: wait for the clock to move.
    within("the clock passing the older records' stamps", async {
        while now_ms() <= newest_older {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let newer = append_many(log.as_ref(), &topic, &[key], 3).await;
    let first_newer = newer[0].3;
    let stamp = read_all(log.as_ref(), &topic, partition)
        .await
        .into_iter()
        .find(|r| r.offset == first_newer)
        .unwrap()
        .timestamp_ms;
    assert!(stamp > newest_older);
    assert_eq!(
        log.offset_at(&topic, partition, stamp).await.unwrap(),
        first_newer,
        "the first record stamped at or after the time"
    );
    assert_eq!(
        log.offset_at(&topic, partition, newest_older)
            .await
            .unwrap(),
        older
            .iter()
            .find(|r| r.timestamp_ms == newest_older)
            .unwrap()
            .offset,
    );
    assert_eq!(
        log.offset_at(&topic, partition, 0).await.unwrap(),
        older[0].offset
    );
}

/// A follower sees records appended after it started, from every partition it follows.
pub async fn followers_see_new_records(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic();
    log.ensure_topic(&topic).await.unwrap();
    append_many(log.as_ref(), &topic, &["ch_old"], 2).await;
    let mut from = Vec::new();
    for partition in 0..PARTITIONS {
        from.push((partition, log.end_offset(&topic, partition).await.unwrap()));
    }
    let mut follower = log.follow(&topic, &from).await.unwrap();
    let keys = [
        "ch_1", "ch_2", "ch_3", "ch_4", "ch_5", "ch_6", "ch_7", "ch_8",
    ];
    let appended = append_many(log.as_ref(), &topic, &keys, 2).await;
    let mut seen = BTreeSet::new();
    while seen.len() < appended.len() {
        let record = within("a followed record", follower.next())
            .await
            .expect("stream open")
            .unwrap();
        assert!(
            !record.key.starts_with("ch_old"),
            "a follower starts where it was told"
        );
        seen.insert(record.payload);
    }
    assert_eq!(seen, appended.into_iter().map(|a| a.1).collect());
}

/// Everything acknowledged survives a restart of the log's storage and of its clients.
pub async fn records_survive_a_restart(backend: &dyn Backend) {
    let topic = new_topic();
    let appended = {
        let log = backend.open().await;
        log.ensure_topic(&topic).await.unwrap();
        append_many(log.as_ref(), &topic, &["ch_x", "ch_y", "ch_z"], 10).await
    };
    backend.restart_storage().await;
    let log = backend.open().await;
    let mut read = Vec::new();
    for partition in 0..PARTITIONS {
        read.extend(
            read_all(log.as_ref(), &topic, partition)
                .await
                .into_iter()
                .map(|r| r.payload),
        );
    }
    read.sort();
    let mut expected: Vec<Vec<u8>> = appended.into_iter().map(|a| a.1).collect();
    expected.sort();
    assert_eq!(read, expected);
}

/// Drives a group member in a task: reports its events, committing each record as processed.
fn spawn_member(
    mut member: Box<dyn GroupConsumer>,
    name: &'static str,
    events: mpsc::UnboundedSender<(&'static str, GroupEvent)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let event = member.next().await.expect("group event");
            if let GroupEvent::Record(record) = &event {
                member
                    .commit(record.partition, record.offset + 1)
                    .await
                    .expect("commit");
            }
            if events.send((name, event)).is_err() {
                return;
            }
        }
    })
}

/// Tracks what each member holds and what it received.
#[derive(Default)]
struct GroupView {
    owned: HashMap<&'static str, BTreeSet<Partition>>,
    received: Vec<(&'static str, Record)>,
}

impl GroupView {
    fn apply(&mut self, (member, event): (&'static str, GroupEvent)) {
        let owned = self.owned.entry(member).or_default();
        match event {
            GroupEvent::Assigned(partitions) => owned.extend(partitions),
            GroupEvent::Revoked(partitions) => partitions.iter().for_each(|p| {
                owned.remove(p);
            }),
            GroupEvent::Record(record) => {
                assert!(
                    owned.contains(&record.partition),
                    "{member} got a record of partition {} it does not own",
                    record.partition
                );
                self.received.push((member, record));
            }
        }
    }

    async fn until(
        &mut self,
        what: &str,
        events: &mut mpsc::UnboundedReceiver<(&'static str, GroupEvent)>,
        done: impl Fn(&Self) -> bool,
    ) {
        within(what, async {
            while !done(self) {
                self.apply(events.recv().await.expect("members running"));
            }
        })
        .await;
    }

    fn owns(&self, member: &str) -> BTreeSet<Partition> {
        self.owned.get(member).cloned().unwrap_or_default()
    }
}

/// A member that joins a group resumes each partition at the offset committed before the whole
/// log (clients and storage) restarted.
pub async fn groups_resume_from_committed_offsets(backend: &dyn Backend) {
    let topic = new_topic();
    let group = format!("group-{}", uuid::Uuid::new_v4().simple());
    let keys = ["ch_1", "ch_2", "ch_3", "ch_4", "ch_5", "ch_6"];
    let first_half = {
        let log = backend.open().await;
        log.ensure_topic(&topic).await.unwrap();
        let first = append_many(log.as_ref(), &topic, &keys, 5).await;
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let member = spawn_member(
            log.join(&topic, &group, Pace::Prompt).await.unwrap(),
            "first",
            events_tx,
        );
        let mut view = GroupView::default();
        view.until("first member reads the first half", &mut events, |v| {
            v.received.len() == first.len()
        })
        .await;
        member.abort();
        let _ = member.await;
        first
    };
    backend.restart_storage().await;
    let log = backend.open().await;
    let second = append_many(log.as_ref(), &topic, &keys, 5).await;
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let _member = spawn_member(
        log.join(&topic, &group, Pace::Prompt).await.unwrap(),
        "second",
        events_tx,
    );
    let mut view = GroupView::default();
    view.until("second member reads the second half", &mut events, |v| {
        v.received.len() >= second.len()
    })
    .await;
    let got: BTreeSet<Vec<u8>> = view
        .received
        .iter()
        .map(|(_, r)| r.payload.clone())
        .collect();
    let expected: BTreeSet<Vec<u8>> = second.iter().map(|a| a.1.clone()).collect();
    assert_eq!(
        got, expected,
        "resumes after the committed offsets: nothing again, nothing skipped"
    );
    let old: BTreeSet<Vec<u8>> = first_half.into_iter().map(|a| a.1).collect();
    assert!(got.is_disjoint(&old));
}

/// Two members share the partitions; when one leaves, the other takes its partitions over from
/// the committed offsets: every record is processed exactly once across the takeover.
pub async fn a_surviving_member_takes_over(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic();
    let group = format!("group-{}", uuid::Uuid::new_v4().simple());
    log.ensure_topic(&topic).await.unwrap();
    let all: BTreeSet<Partition> = (0..PARTITIONS).collect();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut view = GroupView::default();

    let first = spawn_member(
        log.join(&topic, &group, Pace::Prompt).await.unwrap(),
        "a",
        events_tx.clone(),
    );
    view.until("a owns every partition", &mut events, |v| {
        v.owns("a") == all
    })
    .await;
    // The survivor is relaxed: a pace changes how long a broker may hold its fetches, never
    // what it is given.
    let _second = spawn_member(
        log.join(&topic, &group, Pace::Relaxed).await.unwrap(),
        "b",
        events_tx,
    );
    view.until("a and b share the partitions", &mut events, |v| {
        let (a, b) = (v.owns("a"), v.owns("b"));
        !a.is_empty()
            && !b.is_empty()
            && a.is_disjoint(&b)
            && a.union(&b).copied().collect::<BTreeSet<_>>() == all
    })
    .await;
    let a_partitions = view.owns("a");

    let keys: Vec<String> = (0..16).map(|i| format!("ch_{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let before = append_many(log.as_ref(), &topic, &key_refs, 3).await;
    view.until("both members read their share", &mut events, |v| {
        v.received.len() == before.len()
    })
    .await;
    for (member, record) in &view.received {
        assert_eq!(*member == "a", a_partitions.contains(&record.partition));
    }

    first.abort();
    let _ = first.await;
    view.owned.remove("a");
    view.until("b takes every partition over", &mut events, |v| {
        v.owns("b") == all
    })
    .await;
    let after = append_many(log.as_ref(), &topic, &key_refs, 3).await;
    view.until("b reads everything new", &mut events, |v| {
        v.received.len() >= before.len() + after.len()
    })
    .await;

    let mut counts: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for (_, record) in &view.received {
        *counts.entry(record.payload.clone()).or_default() += 1;
    }
    assert_eq!(counts.len(), before.len() + after.len(), "no record lost");
    assert!(
        counts.values().all(|count| *count == 1),
        "no record processed twice: {counts:?}"
    );
    assert!(view.received[before.len()..]
        .iter()
        .all(|(member, _)| *member == "b"));
}
