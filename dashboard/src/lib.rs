//! The dashboard: a single-page app, built from `web/` by
//! `make run` / `make test` (`scripts/dashboard.sh`) into `web/dist`, embedded in a release
//! binary (a debug build reads `web/dist` from disk, so a rebuilt page needs no recompile).
//!
//! Every page the app routes to answers its `index.html`, so a deep link survives a reload;
//! the app reads the path and asks the public API for the rest. The assets carry their content
//! hash in their names and are cached for good; `index.html` is revalidated each time.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{web, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/dist"]
#[allow_missing = true]
struct Built;

/// The app's own paths: each answers the app, which routes on the path in the browser.
const PAGES: [&str; 2] = ["/", "/channels/{channel_id}"];

/// Where the page may load from: this origin and the playback URL (thumbnails, playlists and
/// media; on a scaled-out deployment playback nodes answer there, not the control plane), no
/// inline script, and media or workers from `blob:` (hls.js feeds the video element through
/// Media Source Extensions).
fn content_security_policy(playback_url: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob: {playback_url}; media-src 'self' blob: {playback_url}; \
         worker-src 'self' blob:; connect-src 'self' {playback_url}; object-src 'none'; \
         base-uri 'none'; form-action 'self'"
    )
}

/// The policy every page is served with.
#[derive(Clone)]
struct Policy(String);

/// Registers the app's pages and assets on an actix app; `playback_url` is where viewers reach
/// playback (`SIGMA_PUBLIC_HTTP_URL`).
pub fn configure(config: &mut web::ServiceConfig, playback_url: &str) {
    config.app_data(web::Data::new(Policy(content_security_policy(
        playback_url,
    ))));
    for page in PAGES {
        config.service(
            web::resource(page)
                .wrap(Compress::default())
                .route(web::get().to(app_page)),
        );
    }
    config.service(
        web::resource("/assets/{file}")
            .wrap(Compress::default())
            .route(web::get().to(asset)),
    );
}

/// The app's `index.html`, for every page it routes. No other site may frame it
/// (clickjacking of the owner's buttons).
async fn app_page(policy: web::Data<Policy>) -> HttpResponse {
    let Some(index) = Built::get("index.html") else {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(
                "The dashboard is not built: run `make run` (or scripts/dashboard.sh), which builds \
                 it into dashboard/web/dist before the binary.",
            );
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!("{}; frame-ancestors 'none'", policy.0),
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(index.data.into_owned())
}

/// A built asset: its name holds a hash of its contents, so it never changes.
async fn asset(file: web::Path<String>) -> HttpResponse {
    match Built::get(&format!("assets/{file}")) {
        Some(found) => HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_str(found.metadata.mimetype())
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(found.data.into_owned()),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset"),
    }
}
