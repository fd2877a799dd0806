//! Where a fold of the events that starts from the read models (which API tokens are revoked)
//! goes on from: [`sigma_event_log::follow_events`] from the offsets they were projected up to.

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use sigma_shared::log::{Offset, Partition};

use crate::db;

/// Where the read models stand in the events, per partition. Read before the rows a fold
/// starts from: rows read after can only be newer, so a fold's `apply` must leave a row that
/// already holds an event unchanged when it sees that event again.
pub async fn projected_offsets(db: &DatabaseConnection) -> Result<Vec<(Partition, Offset)>, DbErr> {
    Ok(db::projection_offsets::Entity::find()
        .filter(db::projection_offsets::Column::Projection.eq(crate::project::PROJECTION))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.log_partition as Partition, row.next_offset as Offset))
        .collect())
}
