//! The I/O around the pure projection functions: load a row, apply, write back what changed.

use sea_orm::{
    ActiveModelTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, PrimaryKeyTrait,
};

/// Loads the row with primary key `key` (if the event touches one), applies `change`, and
/// inserts, updates or deletes so the table matches the result.
pub async fn apply_row<E>(
    txn: &DatabaseTransaction,
    key: Option<String>,
    change: impl FnOnce(Option<E::Model>) -> Option<E::Model>,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel> + PartialEq + Clone,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<String>,
{
    let Some(key) = key else { return Ok(()) };
    let before = E::find_by_id(key).one(txn).await?;
    let after = change(before.clone());
    match (before, after) {
        (None, Some(new)) => {
            E::insert(new.into_active_model())
                .exec_without_returning(txn)
                .await?;
        }
        (Some(old), Some(new)) if old != new => {
            E::update(new.into_active_model().reset_all())
                .exec(txn)
                .await?;
        }
        (Some(old), None) => {
            E::delete(old.into_active_model()).exec(txn).await?;
        }
        _ => {}
    }
    Ok(())
}
