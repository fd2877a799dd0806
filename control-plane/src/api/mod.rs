//! The HTTP API (actix-web): routes, shared state, errors, authentication, OpenAPI and docs.
//!
//! Handlers are thin: they authenticate, turn the request into a command for the
//! [`CommandBus`] or a query on the read models, and shape the answer.

pub mod accounts;
pub mod alerts;
pub mod analytics;
pub mod auth;
pub mod body;
pub mod channels;
pub mod error;
pub mod openapi;
pub mod playback;
pub mod sessions;
pub mod system;
pub mod views;
pub mod webhooks;

use std::sync::Arc;

use actix_web::dev::Service;
use actix_web::{web, HttpResponse};
use sea_orm::DatabaseConnection;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use self::auth::Auth;
use self::system::SystemState;
use self::views::PublicUrls;
use sigma_edge_worker::bus::CommandBus;
use sigma_playback::Playback;

/// Largest JSON body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct AppState {
    pub bus: Arc<CommandBus>,
    pub db: DatabaseConnection,
    pub auth: Auth,
    pub urls: PublicUrls,
    pub webhooks: crate::webhooks::WebhookConfig,
    /// Signs the playback tokens `POST …/playback-tokens` mints.
    pub playback_tokens: sigma_playback::tokens::PlatformKeys,
    pub quotas: Arc<sigma_edge_worker::quotas::Quotas>,
    /// Seals new stream keys and webhook secrets, and opens a stream key for its owner.
    pub secrets: Arc<crate::sealing::SecretsKey>,
}

/// What a process serves over HTTP besides health and metrics.
#[derive(Clone)]
pub enum Surface {
    /// The API, its docs and the dashboard, and playback on the whole platform (not on a
    /// control plane).
    Platform {
        api: web::Data<AppState>,
        playback: Option<web::Data<Arc<Playback>>>,
    },
    /// An edge worker: health and metrics only.
    Worker,
    /// A playback node: playback, health and metrics.
    Playback { playback: web::Data<Arc<Playback>> },
}

/// Registers the API's routes on an actix app.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .service(accounts::create_account)
        .service(accounts::list_accounts)
        .service(accounts::create_token)
        .service(accounts::revoke_tokens)
        .service(channels::create)
        .service(channels::list)
        .service(channels::read)
        .service(channels::update)
        .service(channels::remove)
        .service(channels::stop)
        .service(channels::resume)
        .service(channels::rotate_stream_key)
        .service(sessions::list)
        .service(sessions::read)
        .service(sessions::delete_media)
        .service(sessions::events)
        .service(alerts::list)
        .service(analytics::channel)
        .service(analytics::session)
        .service(webhooks::create)
        .service(webhooks::list)
        .service(webhooks::read)
        .service(webhooks::remove)
        .service(webhooks::rotate_secret)
        .service(webhooks::deliveries)
        .service(webhooks::redeliver)
        .service(playback::create_key)
        .service(playback::list_keys)
        .service(playback::remove_key)
        .service(playback::channel_token)
        .service(playback::session_token)
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        )
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi::ApiDoc::openapi()));
}

/// Starts the HTTP server on a bound listener, and `/metrics` on its own; returns when either
/// stops.
pub async fn serve(
    system: web::Data<SystemState>,
    surface: Surface,
    listener: std::net::TcpListener,
    metrics: std::net::TcpListener,
) -> std::io::Result<()> {
    let scraped = system.clone();
    let metrics = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(scraped.clone())
            .configure(system::configure_metrics)
    })
    .workers(1)
    .listen(metrics)?
    .run();
    let public = actix_web::HttpServer::new(move || {
        let metrics = system.metrics.clone();
        let mut app = actix_web::App::new()
            .app_data(system.clone())
            .configure(system::configure)
            .wrap_fn(move |request, service| {
                let started = std::time::Instant::now();
                let route = request
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".into());
                let metrics = metrics.clone();
                let response = service.call(request);
                async move {
                    let response = response.await?;
                    metrics
                        .http_requests
                        .with_label_values(&[&route, response.status().as_str()])
                        .inc();
                    metrics
                        .http_duration
                        .with_label_values(&[&route])
                        .observe(started.elapsed().as_secs_f64());
                    Ok(response)
                }
            });
        let playback = match &surface {
            Surface::Platform { api, playback } => {
                let playback_url = api.urls.http.clone();
                app = app
                    .app_data(api.clone())
                    .configure(configure)
                    .configure(|config| {
                        sigma_dashboard::configure_dashboard(config, &playback_url)
                    });
                playback.as_ref()
            }
            Surface::Playback { playback } => Some(playback),
            Surface::Worker => None,
        };
        if let Some(playback) = playback {
            app = app
                .app_data(playback.clone())
                .configure(sigma_playback::configure)
                .configure(sigma_dashboard::configure_player);
        }
        if !matches!(surface, Surface::Worker) {
            app = app.configure(sigma_dashboard::configure_assets);
        }
        let api = matches!(surface, Surface::Platform { .. });
        app.default_service(web::to(move |request: actix_web::HttpRequest| async move {
            unrouted(api, &request)
        }))
    })
    .listen(listener)?
    .run();
    futures::future::try_join(public, metrics).await.map(|_| ())
}

/// The answer to a request no route took: 405 with `Allow` for a path of the API asked with a
/// method it does not take, else 404.
fn unrouted(api: bool, request: &actix_web::HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    let allowed = api
        .then(|| openapi::allowed_methods(request.path()))
        .flatten();
    match allowed {
        Some(methods) => {
            let error = error::ApiError::new(
                actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} takes {}", request.path(), methods.join(", ")),
            );
            let mut response = error.error_response();
            if let Ok(allow) = actix_web::http::header::HeaderValue::from_str(&methods.join(", ")) {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::ALLOW, allow);
            }
            response
        }
        None => error::ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            "no such route",
        )
        .error_response(),
    }
}
