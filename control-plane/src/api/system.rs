//! Liveness, readiness and metrics: served by every process kind (platform and edge worker).

use std::sync::Arc;

use actix_web::{get, web, HttpResponse};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde::Serialize;
use sigma_shared::log::EventLog;
use utoipa::ToSchema;

use crate::health::Readiness;
use crate::metrics::Metrics;

/// What the health and metrics routes look at.
pub struct SystemState {
    /// The read models, where the process uses them (a playback node does not): readiness
    /// checks them.
    pub db: Option<DatabaseConnection>,
    pub log: Arc<dyn EventLog>,
    pub readiness: Arc<Readiness>,
    /// The process's registry, which `/metrics` renders.
    pub metrics: sigma_metrics::Process,
    /// The control plane's metrics where the process runs it: `/metrics` then refreshes the
    /// gauges read from the read models — the live audience, webhook deliveries by status (the
    /// figures are deployment-wide).
    pub read_model_gauges: Option<Metrics>,
}

/// Registers the health routes (on the public port).
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(healthz).service(readyz);
}

/// Registers `/metrics` (on the metrics address: its series name channels and nodes).
pub fn configure_metrics(config: &mut web::ServiceConfig) {
    config.service(metrics);
}

#[derive(Serialize, ToSchema)]
pub struct HealthView {
    /// `ok`, or `unavailable` with a reason.
    pub status: String,
    pub reason: Option<String>,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "system", responses((status = 200, body = HealthView)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthView {
        status: "ok".into(),
        reason: None,
    })
}

/// Readiness: the database (where the process uses one), the log and the process's components (deciders, projector, ingest,
/// as its role runs them) are all working.
#[utoipa::path(tag = "system", responses((status = 200, body = HealthView), (status = 503, body = HealthView)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<SystemState>) -> HttpResponse {
    let database = match &state.db {
        Some(db) => db
            .execute_unprepared("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|error| unready("database", error)),
        None => Ok(()),
    };
    let log = state
        .log
        .check()
        .await
        .map_err(|error| unready("event log", error));
    match database.and(log).and_then(|()| state.readiness.check()) {
        Ok(()) => HttpResponse::Ok().json(HealthView {
            status: "ok".into(),
            reason: None,
        }),
        Err(reason) => HttpResponse::ServiceUnavailable().json(HealthView {
            status: "unavailable".into(),
            reason: Some(reason),
        }),
    }
}

/// Names the part that is not ready; what went wrong is for the log, not for whoever asks.
fn unready(part: &str, error: impl std::fmt::Display) -> String {
    tracing::warn!(%error, part, "not ready");
    format!("{part} unavailable")
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(tag = "system", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<SystemState>) -> HttpResponse {
    if let (Some(figures), Some(db)) = (&state.read_model_gauges, &state.db) {
        if let Err(error) = read_model_gauges(figures, db).await {
            tracing::warn!(%error, "read-model gauges not refreshed for /metrics");
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// Refreshes the gauges whose figures live in the read models.
async fn read_model_gauges(
    figures: &Metrics,
    db: &DatabaseConnection,
) -> Result<(), sea_orm::DbErr> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let watching = crate::analytics::report::watching_now(db, now_ms).await?;
    figures.viewers.reset();
    for (channel, viewers) in watching {
        figures.viewers.with_label_values(&[&channel]).set(viewers);
    }
    for status in [crate::webhooks::PENDING, crate::webhooks::FAILED] {
        let count = crate::db::webhook_deliveries::Entity::find()
            .filter(crate::db::webhook_deliveries::Column::Status.eq(status))
            .count(db)
            .await?;
        figures
            .webhook_deliveries
            .with_label_values(&[status])
            .set(count as i64);
    }
    Ok(())
}
