//! Which events-topic partitions this process owns in a projection's consumer group, for the
//! jobs that act on what that projection queued (webhook deliveries, media expiry): a
//! partition's work is done by its owner only and moves with it when processes come and go.
//! The projection side holds an [`Ownership`], the job an [`Owned`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use sigma_shared::log::{Offset, Partition};
use tokio::sync::{watch, Notify};

pub struct Ownership {
    owned: watch::Sender<BTreeSet<Partition>>,
    wake: Arc<Notify>,
}

pub struct Owned {
    owned: watch::Receiver<BTreeSet<Partition>>,
    wake: Arc<Notify>,
}

impl Ownership {
    pub fn new() -> (Self, Owned) {
        let (owned, receiver) = watch::channel(BTreeSet::new());
        let wake = Arc::new(Notify::new());
        (
            Self {
                owned,
                wake: wake.clone(),
            },
            Owned {
                owned: receiver,
                wake,
            },
        )
    }

    /// The group's assignment changed (a projection's `owned`).
    pub fn set(&self, partitions: &HashMap<Partition, Offset>) {
        self.owned
            .send_replace(partitions.keys().copied().collect());
        self.wake.notify_one();
    }

    /// New work was committed: the job should look now rather than at its next poll.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }
}

impl Owned {
    /// The partitions owned now.
    pub fn partitions(&mut self) -> BTreeSet<Partition> {
        self.owned.borrow_and_update().clone()
    }

    /// Returns when nudged, when the assignment changes, or after `at_most`.
    pub async fn next_change(&mut self, at_most: Duration) {
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = self.owned.changed() => {}
            _ = tokio::time::sleep(at_most) => {}
        }
    }
}
