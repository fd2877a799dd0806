//! Adding and dropping columns of an existing table, one statement per column (SQLite alters a
//! table one column at a time).

use sea_orm_migration::prelude::*;

pub async fn add(
    manager: &SchemaManager<'_>,
    table: impl Iden + Clone + 'static,
    columns: Vec<ColumnDef>,
) -> Result<(), DbErr> {
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

pub async fn drop(
    manager: &SchemaManager<'_>,
    table: impl Iden + Clone + 'static,
    columns: Vec<impl Iden + 'static>,
) -> Result<(), DbErr> {
    for column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}
