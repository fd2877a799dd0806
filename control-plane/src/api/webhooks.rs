//! The webhook endpoints: subscribe, list, read, delete, rotate the secret, read the delivery
//! log, redeliver.
//!
//! Subscriptions are commands like any other write; the delivery log is read from the outbox
//! the dispatcher works through. Another account's subscription is a 404.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpResponse};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sigma_shared::command::{Command, WebhookCommand};
use sigma_shared::ids::{DeliveryId, WebhookId};

use super::auth::{Caller, Scope};
use super::body::JsonBody;
use super::error::{ApiError, ErrorBody};
use super::views::{
    AttemptView, DeliveryList, DeliveryQuery, DeliveryView, NewWebhookView, Page, RotateSecret,
    WebhookInput, WebhookList, WebhookView,
};
use super::AppState;
use crate::db;
use crate::sealing::Purpose;
use crate::secrets::random_text;
use crate::webhooks::{target, PENDING};

/// The overlap a rotation keeps the previous secret for when the caller does not say.
const DEFAULT_OVERLAP_SECONDS: u32 = 24 * 3600;

/// A new signing secret: `whsec_` and 32 letters and digits.
fn new_secret() -> String {
    format!("whsec_{}", random_text(32))
}

fn webhook_id(path: &str) -> Result<WebhookId, ApiError> {
    path.parse().map_err(|_| ApiError::not_found("webhook"))
}

/// The caller's subscription (deleted ones included when `deleted` is true), or 404.
async fn owned_webhook(
    state: &AppState,
    caller: &Caller,
    id: WebhookId,
    deleted: bool,
) -> Result<db::webhooks::Model, ApiError> {
    db::webhooks::Entity::find_by_id(id.to_string())
        .filter(db::webhooks::Column::AccountId.eq(caller.account_id.to_string()))
        .one(&state.db)
        .await?
        .filter(|row| deleted || row.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// Subscribe to channel events. The response is the only time the signing secret is shown.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    request_body = WebhookInput,
    responses(
        (status = 201, body = NewWebhookView),
        (status = 400, body = ErrorBody, description = "Malformed JSON"),
        (status = 409, body = ErrorBody, description = "The account has as many webhooks as its quota allows (`quota_exceeded`)"),
        (status = 422, body = ErrorBody, description = "Not an http(s) URL, a loopback or private target, an unknown event type"),
    )
)]
#[post("/v1/webhooks")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonBody<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let input = body.into_inner();
    let url = input
        .url
        .ok_or_else(|| ApiError::unprocessable("missing_field", "url is required"))?;
    // Reachability needs DNS, so it is checked here, on the normal form the decider keeps
    // (the decider judges the shape, with the same parser).
    if let Ok(normal) = sigma_shared::webhook::normalize_url(&url) {
        target::validate(&normal, state.webhooks.allow_private)
            .await
            .map_err(|error| ApiError::unprocessable("invalid_target", error.to_string()))?;
    }
    let _room =
        crate::quotas::room_for_a_webhook(&state.quotas, &state.db, caller.account_id).await?;
    let webhook_id = WebhookId::generate();
    let secret = new_secret();
    state
        .bus
        .submit(Command::webhook(
            webhook_id,
            caller.account_id,
            WebhookCommand::Create {
                url,
                event_types: input.event_types.unwrap_or_default(),
                secret: state
                    .secrets
                    .seal(&secret, Purpose::WebhookSecret(webhook_id)),
            },
        ))
        .await??;
    let row = owned_webhook(&state, &caller, webhook_id, false).await?;
    Ok(HttpResponse::Created().json(NewWebhookView {
        webhook: WebhookView::of(&row),
        secret,
    }))
}

/// List the caller's subscriptions, oldest first.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:read"])),
    params(Page),
    responses((status = 200, body = WebhookList))
)]
#[get("/v1/webhooks")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksRead)?;
    let live = db::webhooks::Entity::find()
        .filter(db::webhooks::Column::AccountId.eq(caller.account_id.to_string()))
        .filter(db::webhooks::Column::DeletedAt.is_null());
    let rows = page
        .of(live, db::webhooks::Column::Id)?
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        data: rows.iter().map(WebhookView::of).collect(),
    }))
}

/// Read a subscription (without its secret).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:read"])),
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody))
)]
#[get("/v1/webhooks/{id}")]
pub async fn read(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksRead)?;
    let row = owned_webhook(&state, &caller, webhook_id(&id)?, false).await?;
    Ok(HttpResponse::Ok().json(WebhookView::of(&row)))
}

/// Delete a subscription: nothing more is sent to it; its delivery log stays readable.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204), (status = 404, body = ErrorBody))
)]
#[delete("/v1/webhooks/{id}")]
pub async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    state
        .bus
        .submit(Command::webhook(
            webhook_id(&id)?,
            caller.account_id,
            WebhookCommand::Delete,
        ))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate the signing secret. Until `previous_secret_valid_until` every delivery carries a
/// signature by each secret, so receivers can switch without missing one.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(("id" = String, Path, description = "Webhook id")),
    request_body = RotateSecret,
    responses((status = 200, body = NewWebhookView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[post("/v1/webhooks/{id}/secret")]
pub async fn rotate_secret(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<RotateSecret>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let webhook_id = webhook_id(&id)?;
    let secret = new_secret();
    state
        .bus
        .submit(Command::webhook(
            webhook_id,
            caller.account_id,
            WebhookCommand::RotateSecret {
                secret: state
                    .secrets
                    .seal(&secret, Purpose::WebhookSecret(webhook_id)),
                overlap_seconds: body
                    .into_inner()
                    .overlap_seconds
                    .unwrap_or(DEFAULT_OVERLAP_SECONDS),
            },
        ))
        .await??;
    let row = owned_webhook(&state, &caller, webhook_id, false).await?;
    Ok(HttpResponse::Ok().json(NewWebhookView {
        webhook: WebhookView::of(&row),
        secret,
    }))
}

/// The delivery log, oldest first: each event sent to this subscription, its status, and
/// every attempt with the endpoint's response code or the error.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:read"])),
    params(("id" = String, Path, description = "Webhook id"), DeliveryQuery),
    responses((status = 200, body = DeliveryList), (status = 404, body = ErrorBody))
)]
#[get("/v1/webhooks/{id}/deliveries")]
pub async fn deliveries(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksRead)?;
    let webhook = owned_webhook(&state, &caller, webhook_id(&id)?, true).await?;
    let mut select = db::webhook_deliveries::Entity::find()
        .filter(db::webhook_deliveries::Column::WebhookId.eq(webhook.id.as_str()))
        .order_by_asc(db::webhook_deliveries::Column::Id)
        .limit(query.limit.unwrap_or(100).clamp(1, 1000));
    if let Some(status) = &query.status {
        select = select.filter(db::webhook_deliveries::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = &query.after {
        select = select.filter(db::webhook_deliveries::Column::Id.gt(after.as_str()));
    }
    let rows = select.all(&state.db).await?;
    let attempts = db::webhook_attempts::Entity::find()
        .filter(
            db::webhook_attempts::Column::DeliveryId.is_in(rows.iter().map(|row| row.id.clone())),
        )
        .order_by_asc(db::webhook_attempts::Column::Attempt)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryList {
        data: rows
            .iter()
            .map(|row| {
                let log = attempts
                    .iter()
                    .filter(|attempt| attempt.delivery_id == row.id)
                    .map(AttemptView::of)
                    .collect();
                DeliveryView::of(row, log)
            })
            .collect(),
    }))
}

/// Send a delivery again (whatever its status): it goes back into its lane, in sequence order,
/// with a fresh retry period.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(
        ("id" = String, Path, description = "Webhook id"),
        ("delivery_id" = String, Path, description = "Delivery id"),
    ),
    responses((status = 202, body = DeliveryView), (status = 404, body = ErrorBody))
)]
#[post("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let (id, delivery) = path.into_inner();
    let webhook = owned_webhook(&state, &caller, webhook_id(&id)?, false).await?;
    let delivery: DeliveryId = delivery
        .parse()
        .map_err(|_| ApiError::not_found("delivery"))?;
    let now = Utc::now();
    let retry_for = chrono::Duration::from_std(state.webhooks.retry_for).unwrap_or_default();
    let updated = db::webhook_deliveries::Entity::update_many()
        .col_expr(db::webhook_deliveries::Column::Status, PENDING.into())
        .col_expr(db::webhook_deliveries::Column::NextAttemptAt, now.into())
        .col_expr(
            db::webhook_deliveries::Column::GiveUpAt,
            (now + retry_for).into(),
        )
        .filter(db::webhook_deliveries::Column::Id.eq(delivery.to_string()))
        .filter(db::webhook_deliveries::Column::WebhookId.eq(webhook.id.as_str()))
        .exec(&state.db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(ApiError::not_found("delivery"));
    }
    let row = db::webhook_deliveries::Entity::find_by_id(delivery.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(DeliveryView::of(&row, Vec::new())))
}
