//! The next log offset each projection will apply, per partition. Written in the same
//! transaction as the rows the projection changed, so a crash neither repeats nor skips.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projection_offsets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub projection: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub log_partition: i32,
    pub next_offset: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
