//! Audience analytics of a channel or a session: CCU series, peak, views and watch time.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sigma_shared::audience::Window;
use sigma_shared::ids::SessionId;
use utoipa::ToSchema;

use super::auth::{Caller, Scope};
use super::channels::{channel_id, owned_channel};
use super::error::{ApiError, ErrorBody};
use super::sessions::owned_session;
use super::AppState;
use crate::analytics::report::{self, Audiences};

/// The smallest step of a CCU series.
const MIN_STEP_SECONDS: u32 = 5;
/// The most points a series may have.
const MAX_POINTS: i64 = 10_000;
/// A year: the coarsest step.
const MAX_STEP_SECONDS: u32 = 31_536_000;
/// Default steps, finest first; the first that keeps the series within 1,440 points is used.
const DEFAULT_STEPS: [u32; 4] = [60, 300, 3_600, 86_400];

/// The range and resolution of an analytics request.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// Start of the range (RFC 3339). Default: one hour ago for a channel, the start for a
    /// session.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (RFC 3339). Default: now (for an ended session, a minute after its
    /// end).
    pub to: Option<DateTime<Utc>>,
    /// Seconds per CCU point, at least 5. Default: 60, or coarser to stay within 1,440 points.
    #[param(minimum = 5, maximum = 31_536_000)]
    pub step: Option<u32>,
}

/// Audience figures over a range. A *playback session* starts with a request for the
/// multivariant playlist; its *watch time* runs from its first to its last playlist request,
/// pauses under 15 s included. *CCU* counts playback sessions watching at an instant; each point
/// of the series is the peak within its step. A *view* is a playback session that watched at
/// least 5 s in total, counted in the range where it started. Activity reaches these figures
/// within a few seconds (the playback nodes report every `SIGMA_VIEWER_REPORT_MS`).
#[derive(Serialize, ToSchema)]
pub struct AudienceView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub step_seconds: u32,
    pub ccu: Vec<CcuPointView>,
    pub peak_ccu: u32,
    /// When the peak was first reached; null without viewers.
    pub peak_at: Option<DateTime<Utc>>,
    pub views: u64,
    pub watch_time_seconds: f64,
}

#[derive(Serialize, ToSchema)]
pub struct CcuPointView {
    /// Start of the step.
    pub at: DateTime<Utc>,
    /// Peak concurrent viewers within the step.
    pub ccu: u32,
}

fn instant(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The window of a request, with defaults filled in; 422 for a range or step out of bounds.
fn window(
    query: &AnalyticsQuery,
    default_from: DateTime<Utc>,
    default_to: DateTime<Utc>,
) -> Result<(Window, u32), ApiError> {
    let from = query.from.unwrap_or(default_from);
    let to = query.to.unwrap_or(default_to);
    if to <= from {
        return Err(ApiError::unprocessable(
            "invalid_range",
            "`to` must be after `from`",
        ));
    }
    let span_seconds = (to - from).num_seconds().max(1);
    let step = match query.step {
        Some(step) if !(MIN_STEP_SECONDS..=MAX_STEP_SECONDS).contains(&step) => {
            return Err(ApiError::unprocessable(
                "invalid_field",
                format!("step must be {MIN_STEP_SECONDS} to {MAX_STEP_SECONDS} seconds"),
            ))
        }
        Some(step) => step,
        None => DEFAULT_STEPS
            .into_iter()
            .find(|step| span_seconds / i64::from(*step) <= 1_440)
            .unwrap_or(DEFAULT_STEPS[DEFAULT_STEPS.len() - 1]),
    };
    let window = Window {
        from_ms: from.timestamp_millis(),
        to_ms: to.timestamp_millis(),
        step_ms: i64::from(step) * 1_000,
    };
    if window.points() > MAX_POINTS {
        return Err(ApiError::unprocessable(
            "invalid_range",
            format!("the range holds more than {MAX_POINTS} steps; ask for a larger step"),
        ));
    }
    Ok((window, step))
}

async fn respond(
    state: &AppState,
    whose: Audiences,
    window: Window,
    step_seconds: u32,
) -> Result<HttpResponse, ApiError> {
    let audience = report::report(&state.db, whose, window).await?;
    Ok(HttpResponse::Ok().json(AudienceView {
        from: instant(window.from_ms),
        to: instant(window.to_ms),
        step_seconds,
        ccu: audience
            .series
            .iter()
            .map(|point| CcuPointView {
                at: instant(point.at_ms),
                ccu: point.ccu,
            })
            .collect(),
        peak_ccu: audience.peak_ccu,
        peak_at: audience.peak_at_ms.map(instant),
        views: audience.views,
        watch_time_seconds: audience.watch_time_ms as f64 / 1_000.0,
    }))
}

/// A channel's audience over a range, across its sessions.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["channels:read"])),
    params(("id" = String, Path, description = "Channel id"), AnalyticsQuery),
    responses(
        (status = 200, body = AudienceView),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
#[get("/v1/channels/{id}/analytics")]
pub async fn channel(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<AnalyticsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let id = channel_id(&id)?;
    owned_channel(&state, &caller, id).await?;
    let now = Utc::now();
    let (window, step) = window(&query, now - Duration::hours(1), now)?;
    respond(&state, Audiences::Channel(id), window, step).await
}

/// A session's audience, by default over the whole session.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["channels:read"])),
    params(("id" = String, Path, description = "Session id"), AnalyticsQuery),
    responses(
        (status = 200, body = AudienceView),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
#[get("/v1/sessions/{id}/analytics")]
pub async fn session(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<AnalyticsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ChannelsRead)?;
    let row = owned_session(&state, &caller, &id).await?;
    let session_id: SessionId = row.id.parse().map_err(ApiError::internal)?;
    let end = row
        .ended_at
        .map_or_else(Utc::now, |ended| ended + Duration::minutes(1));
    let (window, step) = window(&query, row.started_at, end)?;
    respond(&state, Audiences::Session(session_id), window, step).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: i64, to: i64, step: Option<u32>) -> AnalyticsQuery {
        AnalyticsQuery {
            from: Some(instant(from * 1_000)),
            to: Some(instant(to * 1_000)),
            step,
        }
    }

    #[test]
    fn the_default_step_keeps_the_series_short_and_bad_ranges_are_refused() {
        let never = instant(0);
        let (hour, step) = window(&query(0, 3_600, None), never, never).unwrap();
        assert_eq!((step, hour.points()), (60, 60));
        let (_, step) = window(&query(0, 7 * 86_400, None), never, never).unwrap();
        assert_eq!(step, 3_600);
        assert_eq!(window(&query(0, 60, Some(5)), never, never).unwrap().1, 5);
        for bad in [
            query(60, 0, None),
            query(0, 60, Some(4)),
            query(0, 86_400, Some(5)),
        ] {
            assert_eq!(
                window(&bad, never, never).unwrap_err().status,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
            );
        }
    }
}
