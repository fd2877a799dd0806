//! How far the read models have got, per partition — what read-your-writes waits on (the
//! command bus's [`ReadModels`]).
//!
//! The local projector reports each applied offset here, which wakes waiters at once. In
//! scale-out another process may own the partition, so a waiter also looks at the offsets table
//! now and then.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use sigma_edge_worker::bus::ReadModels;
use sigma_shared::log::{Offset, Partition};
use tokio::sync::watch;

use super::PROJECTION;
use crate::db::projection_offsets;

/// How often a waiter checks the database for another process's progress.
const DATABASE_CHECK: Duration = Duration::from_millis(5);

#[derive(Clone)]
pub struct Progress {
    applied: Arc<watch::Sender<HashMap<Partition, Offset>>>,
    db: DatabaseConnection,
}

impl Progress {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            applied: Arc::new(watch::channel(HashMap::new()).0),
            db,
        }
    }

    /// The local projector has applied everything in `partition` below `next_offset`.
    pub fn record(&self, partition: Partition, next_offset: Offset) {
        self.applied.send_modify(|applied| {
            let entry = applied.entry(partition).or_default();
            *entry = (*entry).max(next_offset);
        });
    }

    /// Waits until the read models include the record at `offset` of `partition`.
    pub async fn wait_applied(&self, partition: Partition, offset: Offset) -> Result<(), DbErr> {
        let mut applied = self.applied.subscribe();
        loop {
            if applied
                .borrow_and_update()
                .get(&partition)
                .is_some_and(|next| *next > offset)
            {
                return Ok(());
            }
            tokio::select! {
                _ = applied.changed() => {}
                _ = tokio::time::sleep(DATABASE_CHECK) => {
                    if self.stored(partition).await? > offset {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn stored(&self, partition: Partition) -> Result<Offset, DbErr> {
        let row = projection_offsets::Entity::find_by_id((PROJECTION.to_owned(), partition as i32))
            .one(&self.db)
            .await?;
        Ok(row.map_or(0, |row| row.next_offset as Offset))
    }
}

#[async_trait::async_trait]
impl ReadModels for Progress {
    async fn wait_applied(&self, partition: Partition, offset: Offset) -> Result<(), String> {
        Progress::wait_applied(self, partition, offset)
            .await
            .map_err(|error| error.to_string())
    }
}
