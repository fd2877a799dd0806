//! Consumer groups inside one process.
//!
//! Partitions are shared out round-robin over the members in join order; every join or leave
//! bumps the group's generation, and each member turns a generation change into `Revoked` and
//! `Assigned` events before any further record, so two members never hold one partition at once
//! from their own point of view. Committed offsets are written to a small JSON file (replaced
//! atomically), so a restarted process resumes where its group left off.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sigma_shared::log::{GroupConsumer, GroupEvent, LogError, Offset, Partition, Record};
use tokio::sync::watch;

pub struct Group {
    path: PathBuf,
    partitions: u32,
    state: Mutex<GroupState>,
    generation: watch::Sender<u64>,
}

struct GroupState {
    next_member: u64,
    members: BTreeSet<u64>,
    committed: BTreeMap<Partition, Offset>,
}

impl Group {
    pub fn load(path: PathBuf, partitions: u32) -> Self {
        let committed = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            path,
            partitions,
            state: Mutex::new(GroupState {
                next_member: 0,
                members: BTreeSet::new(),
                committed,
            }),
            generation: watch::channel(0).0,
        }
    }

    fn add_member(&self) -> u64 {
        let mut state = self.state.lock().expect("group lock");
        let member = state.next_member;
        state.next_member += 1;
        state.members.insert(member);
        drop(state);
        self.generation.send_modify(|generation| *generation += 1);
        member
    }

    fn remove_member(&self, member: u64) {
        self.state
            .lock()
            .expect("group lock")
            .members
            .remove(&member);
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// The member's partitions and where each starts, as of now.
    fn assignment(&self, member: u64) -> BTreeMap<Partition, Offset> {
        let state = self.state.lock().expect("group lock");
        let Some(index) = state.members.iter().position(|m| *m == member) else {
            return BTreeMap::new();
        };
        let count = state.members.len() as u32;
        (0..self.partitions)
            .filter(|partition| partition % count == index as u32)
            .map(|partition| {
                (
                    partition,
                    state.committed.get(&partition).copied().unwrap_or(0),
                )
            })
            .collect()
    }

    fn commit(&self, partition: Partition, next_offset: Offset) -> Result<(), LogError> {
        let mut state = self.state.lock().expect("group lock");
        state.committed.insert(partition, next_offset);
        let bytes = serde_json::to_vec(&state.committed).expect("offsets serialize");
        let temporary = self.path.with_extension("json.tmp");
        std::fs::write(&temporary, bytes)?;
        std::fs::rename(&temporary, &self.path)?;
        Ok(())
    }
}

type Fetch = Box<dyn Fn(Partition, Offset) -> Result<Vec<Record>, LogError> + Send + Sync>;

pub struct Member {
    group: Arc<Group>,
    id: u64,
    generation: watch::Receiver<u64>,
    appended: watch::Receiver<u64>,
    positions: HashMap<Partition, Offset>,
    pending: VecDeque<GroupEvent>,
    fetch: Fetch,
}

impl Member {
    pub fn join(
        group: Arc<Group>,
        appended: watch::Receiver<u64>,
        fetch: impl Fn(Partition, Offset) -> Result<Vec<Record>, LogError> + Send + Sync + 'static,
    ) -> Self {
        let id = group.add_member();
        let mut generation = group.generation.subscribe();
        generation.mark_changed();
        Self {
            group,
            id,
            generation,
            appended,
            positions: HashMap::new(),
            pending: VecDeque::new(),
            fetch: Box::new(fetch),
        }
    }

    fn rebalance(&mut self) {
        let assignment = self.group.assignment(self.id);
        let revoked: Vec<Partition> = self
            .positions
            .keys()
            .copied()
            .filter(|p| !assignment.contains_key(p))
            .collect();
        let mut assigned: Vec<Partition> = assignment
            .keys()
            .copied()
            .filter(|p| !self.positions.contains_key(p))
            .collect();
        assigned.sort_unstable();
        for partition in &revoked {
            self.positions.remove(partition);
        }
        for partition in &assigned {
            self.positions.insert(*partition, assignment[partition]);
        }
        if !revoked.is_empty() {
            let mut revoked = revoked;
            revoked.sort_unstable();
            self.pending.push_back(GroupEvent::Revoked(revoked));
        }
        if !assigned.is_empty() {
            self.pending.push_back(GroupEvent::Assigned(assigned));
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.group.remove_member(self.id);
    }
}

#[async_trait]
impl GroupConsumer for Member {
    async fn next(&mut self) -> Result<GroupEvent, LogError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            if self.generation.has_changed().unwrap_or(false) {
                self.generation.borrow_and_update();
                self.rebalance();
                continue;
            }
            self.appended.borrow_and_update();
            let mut partitions: Vec<Partition> = self.positions.keys().copied().collect();
            partitions.sort_unstable();
            for partition in partitions {
                let position = self.positions[&partition];
                let records = (self.fetch)(partition, position)?;
                if !records.is_empty() {
                    self.positions
                        .insert(partition, position + records.len() as Offset);
                    self.pending
                        .extend(records.into_iter().map(GroupEvent::Record));
                }
            }
            if !self.pending.is_empty() {
                continue;
            }
            tokio::select! {
                changed = self.generation.changed() => {
                    changed.map_err(|_| LogError::Closed)?;
                    // `changed` marked the new generation seen; flag it again for the check above.
                    self.generation.mark_changed();
                }
                changed = self.appended.changed() => changed.map_err(|_| LogError::Closed)?,
            }
        }
    }

    async fn commit(&mut self, partition: Partition, next_offset: Offset) -> Result<(), LogError> {
        if !self.positions.contains_key(&partition) {
            return Err(LogError::NotAssigned(partition));
        }
        self.group.commit(partition, next_offset)
    }
}
