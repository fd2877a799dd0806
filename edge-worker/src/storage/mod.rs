//! Where live media go, and what happens when that fills up or fails.
//!
//! - [`disk`]: free space on the data dir's file system against two watermarks (low: refuse
//!   new publishers, alert; reserve: stop writing media there).
//! - [`spool`]: live media the store did not take, held in memory within a budget.
//!
//! [`LiveStore`] puts them together for the ingest path: a piece goes to the object store,
//! or — when the store fails, times out, or the local disk is down to its reserve — into the
//! spool, from which this process's players are served and a background task writes it to
//! the store once it takes writes again. The log and the read models never share the media's
//! fate: the reserve keeps room for them, and nothing is announced that is neither stored nor
//! held.

pub mod disk;
pub mod spool;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use tokio::sync::Notify;

use self::disk::{DiskWatch, Level};
use self::spool::{MediaSpool, SpoolFull};
use crate::metrics::StorageMetrics;

/// A put that takes longer than this, plus [`PUT_TIME_PER_MIB`] for each MiB, is taken as a
/// failure (the piece is held instead): a live part must not wait on a store that hangs, and a
/// large segment on a slow link must not be taken for one.
const PUT_TIMEOUT: Duration = Duration::from_secs(5);
const PUT_TIME_PER_MIB: Duration = Duration::from_millis(250);
/// How often the spool is offered to the store again while it fails.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Where a piece ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placed {
    Stored,
    Held,
}

pub struct LiveStore {
    store: Arc<dyn ObjectStore>,
    spool: MediaSpool,
    disk: Arc<DiskWatch>,
    /// Whether media go to the watched file system (so its reserve is kept from them).
    local: bool,
    flush: Notify,
    metrics: StorageMetrics,
}

impl LiveStore {
    /// The bytes of `path` if they are held here, not yet stored (playback on this process
    /// serves them from here).
    pub fn held(&self, path: &str) -> Option<Bytes> {
        self.spool.get(path)
    }

    /// A live store over `store`, holding up to `spool_bytes` in memory; starts the task that
    /// writes held media to the store.
    pub fn start(
        store: Arc<dyn ObjectStore>,
        disk: Arc<DiskWatch>,
        local: bool,
        spool_bytes: usize,
        metrics: StorageMetrics,
    ) -> Arc<Self> {
        let live = Arc::new(Self {
            store,
            spool: MediaSpool::new(spool_bytes),
            disk,
            local,
            flush: Notify::new(),
            metrics,
        });
        tokio::spawn(live.clone().flush_held());
        live
    }

    /// The object store itself, for what is not live media (thumbnails, recordings).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The disk's level now.
    pub fn disk_level(&self) -> Level {
        self.disk.level()
    }

    /// Whether live media are being held because the store fails (or the disk is at its
    /// reserve).
    pub fn failing(&self) -> bool {
        !self.spool.is_empty()
    }

    fn at_reserve(&self) -> bool {
        self.local && self.disk.level() == Level::Reserve
    }

    /// Stores `bytes` at `path`, or holds them while the store cannot take them. Once
    /// something is held, new pieces queue behind it: the flusher finds out when the store
    /// works again, and a failing store is not made to fail each piece first.
    pub async fn put(&self, path: &StorePath, bytes: Bytes) -> Result<Placed, SpoolFull> {
        if self.spool.is_empty() && !self.at_reserve() {
            match self.try_put(path, bytes.clone()).await {
                Ok(()) => return Ok(Placed::Stored),
                Err(error) => {
                    tracing::warn!(%path, %error, "the object store refused live media: holding them in memory")
                }
            }
        }
        let held = self.spool.hold(path.to_string(), bytes);
        self.metrics
            .storage_held_bytes
            .set(self.spool.held_bytes() as i64);
        if held.is_err() {
            self.metrics
                .limits_hit
                .with_label_values(&["storage_spool"])
                .inc();
        }
        held?;
        self.flush.notify_one();
        Ok(Placed::Held)
    }

    async fn try_put(&self, path: &StorePath, bytes: Bytes) -> Result<(), String> {
        let limit = PUT_TIMEOUT + PUT_TIME_PER_MIB * (bytes.len() >> 20) as u32;
        match tokio::time::timeout(limit, self.store.put(path, PutPayload::from(bytes))).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {limit:?}")),
        }
    }

    /// Writes held media to the store, oldest first, whenever it may: woken by each hold and
    /// every [`RETRY_EVERY`] while something is held.
    async fn flush_held(self: Arc<Self>) {
        loop {
            if self.spool.is_empty() {
                self.flush.notified().await;
            }
            tokio::time::sleep(RETRY_EVERY).await;
            while let Some((path, bytes)) = self.spool.oldest() {
                if self.at_reserve() {
                    break;
                }
                let store_path = StorePath::from(path.as_str());
                if let Err(error) = self.try_put(&store_path, bytes.clone()).await {
                    tracing::debug!(%path, %error, "the object store still fails");
                    break;
                }
                self.spool.stored(&path, &bytes);
                self.metrics
                    .storage_held_bytes
                    .set(self.spool.held_bytes() as i64);
                if self.spool.is_empty() {
                    tracing::info!("the object store took every held piece of live media");
                }
            }
        }
    }
}
