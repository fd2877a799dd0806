//! API token revocation: each account's token generation (`tokens.revoked` moves it on; a
//! token minted under an older one is refused).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Accounts {
    Table,
    TokenGeneration,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::add(
            manager,
            Accounts::Table,
            vec![big_integer(Accounts::TokenGeneration).default(0).to_owned()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop(manager, Accounts::Table, vec![Accounts::TokenGeneration]).await
    }
}
