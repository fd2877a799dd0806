//! Secrets out of what is shown: the channel event history and the webhook delivery log kept
//! each channel's stream key (in `channel.created` and `channel.stream_key_rotated`) as the
//! events carried it; they now keep only what the events' public data says (the key changed,
//! never what it is). This takes them out of the rows already written.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum ChannelEvents {
    Table,
    EventId,
    EventType,
    Data,
}

#[derive(Clone, Copy, DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EventType,
    Body,
}

/// The event types whose data held a stream key.
const WITH_KEYS: [&str; 2] = ["channel.created", "channel.stream_key_rotated"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        scrub(
            manager,
            ChannelEvents::Table,
            ChannelEvents::EventId,
            ChannelEvents::EventType,
            ChannelEvents::Data,
            |row| row.as_object_mut(),
        )
        .await?;
        scrub(
            manager,
            WebhookDeliveries::Table,
            WebhookDeliveries::Id,
            WebhookDeliveries::EventType,
            WebhookDeliveries::Body,
            |body| body.get_mut("data").and_then(|data| data.as_object_mut()),
        )
        .await
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        // What was taken out is not put back.
        Ok(())
    }
}

/// Removes `stream_key` from the JSON of `column` (the object `data_of` finds in it) in the
/// rows of `table` whose type held one.
async fn scrub(
    manager: &SchemaManager<'_>,
    table: impl Iden + Copy + 'static,
    id: impl Iden + Copy + 'static,
    event_type: impl Iden + Copy + 'static,
    column: impl Iden + Copy + 'static,
    data_of: fn(&mut serde_json::Value) -> Option<&mut serde_json::Map<String, serde_json::Value>>,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .column(id)
        .column(column)
        .from(table)
        .and_where(Expr::col(event_type).is_in(WITH_KEYS))
        .to_owned();
    for row in db.query_all(backend.build(&select)).await? {
        let key: String = row.try_get_by_index(0)?;
        let text: String = row.try_get_by_index(1)?;
        let Ok(mut json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(data) = data_of(&mut json) else {
            continue;
        };
        if data.remove("stream_key").is_none() {
            continue;
        }
        let update = Query::update()
            .table(table)
            .value(column, json.to_string())
            .and_where(Expr::col(id).eq(key))
            .to_owned();
        db.execute(backend.build(&update)).await?;
    }
    Ok(())
}
