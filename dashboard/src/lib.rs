//! The dashboard: a single-page app, built from `web/` by
//! `make run` / `make test` (`scripts/dashboard.sh`) into `web/dist`, embedded in a release
//! binary (a debug build reads `web/dist` from disk, so a rebuilt page needs no recompile).
//!
//! Every page the app routes to answers its `index.html`, so a deep link survives a reload;
//! the app reads the path and asks the public API for the rest. The player page
//! (`embed.html`, at `/embed/{channel_id}`) is served by playback and asks it alone. The
//! assets carry their content hash in their names and are cached for good; the pages are
//! revalidated each time.

use std::borrow::Cow;

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/dist"]
#[allow_missing = true]
struct Built;

/// The app's own paths: each answers the app, which routes on the path in the browser.
const PAGES: [&str; 5] = [
    "/",
    "/channels/{channel_id}",
    "/webhooks",
    "/webhooks/{webhook_id}",
    "/tokens",
];

/// What every page may do, whoever serves it: no inline script, nothing from other origins
/// unless named, and media or workers from `blob:` (hls.js feeds the video element through
/// Media Source Extensions).
fn content_security_policy(playback: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob: {playback}; media-src 'self' blob: {playback}; \
         worker-src 'self' blob:; connect-src 'self' {playback}; object-src 'none'; \
         base-uri 'none'; form-action 'self'"
    )
}

/// The `scheme://host[:port]` of an http(s) URL, if that is all it can be: nothing that could
/// end the policy's source list (a space, a `;`, a quote) or the header.
fn origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    let clean = !host.is_empty()
        && host
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(&byte));
    clean.then(|| &url[..url.len() - rest.len() + host.len()])
}

/// The built page a route answers, and the headers that protect it.
#[derive(Clone)]
struct Page {
    file: &'static str,
    policy: String,
    /// `DENY` for the dashboard; none for the player, which is made to be framed.
    frame_options: Option<&'static str>,
}

/// Registers the dashboard's pages on an actix app; `playback_url` is where viewers reach
/// playback (`SIGMA_PUBLIC_HTTP_URL`): the dashboard loads thumbnails, playlists and media
/// from there (on a scaled-out deployment playback nodes answer there, not the control plane).
/// No other site may frame the dashboard (clickjacking of the owner's buttons).
pub fn configure_dashboard(config: &mut web::ServiceConfig, playback_url: &str) {
    let playback = origin(playback_url).unwrap_or_default();
    let page = Page {
        file: "index.html",
        policy: format!(
            "{}; frame-ancestors 'none'",
            content_security_policy(playback)
        ),
        frame_options: Some("DENY"),
    };
    for path in PAGES {
        serve_page(config, path, page.clone());
    }
}

/// Registers the player page, `/embed/{channel_id}`, on a process that serves playback: it
/// plays from its own origin, and any site may frame it.
pub fn configure_player(config: &mut web::ServiceConfig) {
    let page = Page {
        file: "embed.html",
        policy: format!("{}; frame-ancestors *", content_security_policy("")),
        frame_options: None,
    };
    serve_page(config, "/embed/{channel_id}", page);
}

/// Registers the pages' assets, which every process that serves a page serves.
pub fn configure_assets(config: &mut web::ServiceConfig) {
    config.service(
        web::resource("/assets/{file}")
            .wrap(Compress::default())
            .route(web::get().to(asset)),
    );
}

fn serve_page(config: &mut web::ServiceConfig, path: &str, page: Page) {
    config.service(
        web::resource(path)
            .app_data(web::Data::new(page))
            .wrap(Compress::default())
            .route(web::get().to(app_page)),
    );
}

/// A page's HTML: the app routes on the path in the browser.
async fn app_page(page: web::Data<Page>) -> HttpResponse {
    let Some(html) = Built::get(page.file) else {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(
                "The dashboard is not built: run `make run` (or scripts/dashboard.sh), which builds \
                 it into dashboard/web/dist before the binary.",
            );
    };
    let mut answer = HttpResponse::Ok();
    answer
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, page.policy.clone()))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if let Some(frame_options) = page.frame_options {
        answer.insert_header((header::X_FRAME_OPTIONS, frame_options));
    }
    answer.body(body(html.data))
}

/// Whether `file` can name a built asset: one plain file name (a request's `%2F` reaches the
/// handler decoded, and a debug build reads the name from disk).
fn is_asset_name(file: &str) -> bool {
    let mut bytes = file.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric() || first == b'_' || first == b'-')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte))
}

/// A file's bytes as a response body: a release build's are embedded (`'static`, served
/// without a copy), a debug build's were read from disk.
fn body(data: Cow<'static, [u8]>) -> Bytes {
    match data {
        Cow::Borrowed(embedded) => Bytes::from_static(embedded),
        Cow::Owned(read) => Bytes::from(read),
    }
}

/// A built asset: its name holds a hash of its contents, so it never changes.
async fn asset(file: web::Path<String>) -> HttpResponse {
    let found = is_asset_name(&file)
        .then(|| Built::get(&format!("assets/{file}")))
        .flatten();
    match found {
        Some(found) => HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_str(found.metadata.mimetype())
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(body(found.data)),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_http_origin_enters_the_policy() {
        assert_eq!(
            origin("https://cdn.example:8443/live"),
            Some("https://cdn.example:8443")
        );
        assert_eq!(origin("http://[::1]:8080"), Some("http://[::1]:8080"));
        for hostile in [
            "https://a.example; script-src *",
            "https://a.example\r\nSet-Cookie: x",
            "javascript:alert(1)",
            "https://'unsafe-inline'",
            "https://",
        ] {
            assert_eq!(origin(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn an_asset_name_is_one_plain_file_name() {
        assert!(is_asset_name("index-D5XLY8AI.js"));
        for hostile in ["..", "../x", "..%2Fx", "a/b", ".hidden", "", "a\\b", "x\0"] {
            assert!(!is_asset_name(hostile), "{hostile:?}");
        }
    }
}
