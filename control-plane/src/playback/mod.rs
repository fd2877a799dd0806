//! The playback server: `/live/{channel_id}/…` for any stream, from any process:
//! `index.m3u8` (every rendition), `{rendition}.m3u8` (`source.m3u8`, `480p.m3u8`, …) and the
//! media under `{session}/{connection}/{rendition}/`. It follows the
//! media topic from the start to build each channel's live state ([`state`]), renders
//! playlists from it ([`playlist`]), and serves media bytes from the object store. Requests for
//! what does not exist yet — a blocking playlist reload, the part a preload hint names — wait
//! for the media event that makes it exist. Recent media bytes are cached in memory
//! ([`cache`]); the object store is the fallback.
//!
//! Each multivariant request opens a playback session: the rendition URLs it returns carry its
//! pass (`?pb=…`, signed by [`passes`]), so every reload names it, and [`viewers`] reports them
//! for analytics; an invented pass is served but not counted.

mod cache;
mod catchup;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod passes;
pub mod playlist;
mod range;
pub mod state;
mod storyboard;
mod viewers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse, ResponseError};
use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use serde::Deserialize;
use sigma_shared::event::{Decision, Event};
use sigma_shared::ids::{ChannelId, PlaybackId};
use sigma_shared::log::{EventLog, LogError, EVENTS_TOPIC, MEDIA_TOPIC};
use sigma_shared::media::MediaEvent;
use tokio::sync::watch;

use self::passes::{Pass, PlaybackPasses};
use self::state::{ChannelLive, LiveStream, Streams};
use crate::metrics::Metrics;

const PLAYLIST: &str = "application/vnd.apple.mpegurl";

pub struct Playback {
    streams: RwLock<Streams>,
    /// One per channel that has requests waiting on it, bumped after each media event of that
    /// channel: a held request re-checks only when its own channel changed.
    wakers: Mutex<HashMap<ChannelId, watch::Sender<()>>>,
    /// Requests held open now, across channels (at most [`MAX_HELD_REQUESTS`]).
    held: std::sync::atomic::AtomicUsize,
    store: Arc<dyn ObjectStore>,
    cache: cache::MediaCache,
    misses: cache::RecentMisses,
    /// Media playlists rendered once per version of their channel: (channel, rendition,
    /// delta update?) → (channel version, text). Serving a reload is then a lookup and a
    /// reference-counted copy, whatever the DVR window.
    rendered: Mutex<HashMap<RenderedKey, (u64, Bytes)>>,
    /// Every session's whole timeline, for `/vod/…`.
    catchup: RwLock<catchup::Sessions>,
    viewers: Arc<viewers::Viewers>,
    passes: passes::PlaybackPasses,
    metrics: Metrics,
}

/// Who this playback process is, for its viewer activity reports.
pub struct Reporting {
    pub node_id: String,
    /// How often viewer activity is published.
    pub every: Duration,
    /// Signs and checks the playback sessions that viewers are counted by.
    pub passes: passes::PlaybackPasses,
}

/// A rendered media playlist's key: channel, rendition, delta update or not.
type RenderedKey = (ChannelId, String, bool);

/// Bytes of recent media kept in memory per playback process.
const CACHE_BYTES: usize = 256 * 1024 * 1024;
/// How long a media object found missing is answered 404 without asking the store again, and
/// how many such keys are remembered.
const MISS_TTL: Duration = Duration::from_secs(1);
const MISSES_KEPT: usize = 10_000;
/// Blocking reloads and hinted-part requests one process holds open at once; past it a request
/// is answered at once (a reload with the playlist as it stands).
const MAX_HELD_REQUESTS: usize = 10_000;
/// The longest a request is held: three target durations of the longest mode's (4 s)
/// segments, whatever durations a publisher's stream has.
const MAX_HOLD: Duration = Duration::from_secs(12);

/// How a wait for a channel's media ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    Ready,
    TimedOut,
    /// Too many requests are held already: this one was not.
    Refused,
}

impl Playback {
    /// Starts following the media topic from its beginning.
    pub async fn start(
        log: Arc<dyn EventLog>,
        store: Arc<dyn ObjectStore>,
        reporting: Reporting,
        metrics: Metrics,
    ) -> Result<Arc<Self>, LogError> {
        let from: Vec<_> = (0..log.partitions())
            .map(|partition| (partition, 0))
            .collect();
        let mut records = log.follow(MEDIA_TOPIC, &from).await?;
        let playback = Arc::new(Self {
            streams: RwLock::default(),
            wakers: Mutex::default(),
            held: Default::default(),
            store,
            cache: cache::MediaCache::new(CACHE_BYTES),
            misses: cache::RecentMisses::new(MISS_TTL, MISSES_KEPT),
            rendered: Mutex::default(),
            catchup: RwLock::default(),
            viewers: Arc::new(viewers::Viewers::new(reporting.node_id)),
            passes: reporting.passes,
            metrics,
        });
        tokio::spawn(
            playback
                .viewers
                .clone()
                .publish(log.clone(), reporting.every),
        );
        let follower = playback.clone();
        tokio::spawn(async move {
            while let Some(record) = records.next().await {
                let Ok(record) = record else { continue };
                let Some(event) = MediaEvent::from_bytes(&record.payload) else {
                    continue;
                };
                follower
                    .catchup
                    .write()
                    .expect("catch-up lock")
                    .apply(&event);
                let changed = follower
                    .streams
                    .write()
                    .expect("streams lock")
                    .apply(&event);
                if let Some(channel) = changed {
                    follower.wake(&channel);
                }
            }
        });
        // Ended sessions turn their catch-up playlists into VOD; expired ones lose them.
        let mut decisions = log.follow(EVENTS_TOPIC, &from).await?;
        let follower = playback.clone();
        tokio::spawn(async move {
            while let Some(record) = decisions.next().await {
                let Ok(decision) = record.map(|r| Decision::from_bytes(&r.payload)) else {
                    continue;
                };
                for envelope in decision.iter().flat_map(Decision::events) {
                    let mut catchup = follower.catchup.write().expect("catch-up lock");
                    match envelope.event {
                        Event::SessionEnded { session_id, .. } => catchup.end(session_id),
                        Event::SessionMediaExpired { session_id } => catchup.expire(session_id),
                        _ => {}
                    }
                }
            }
        });
        Ok(playback)
    }

    /// Looks at the channel's live state (under the lock: nothing is copied).
    fn with_live<R>(&self, channel: &ChannelId, look: impl FnOnce(&ChannelLive) -> R) -> Option<R> {
        self.streams
            .read()
            .expect("streams lock")
            .get(channel)
            .map(look)
    }

    /// Looks at rendition `name` of the channel.
    fn with_rendition<R>(
        &self,
        channel: &ChannelId,
        name: &str,
        look: impl FnOnce(&LiveStream) -> R,
    ) -> Option<R> {
        self.with_live(channel, |live| live.rendition(name).map(look))
            .flatten()
    }

    /// Wakes the requests held on `channel`; forgets its waker once nobody waits on it.
    fn wake(&self, channel: &ChannelId) {
        let mut wakers = self.wakers.lock().expect("wakers lock");
        if let Some(waker) = wakers.get(channel) {
            if waker.receiver_count() == 0 {
                wakers.remove(channel);
            } else {
                waker.send_replace(());
            }
        }
    }

    /// Waits until `ready` holds for the channel's rendition `name`, for at most `limit` (and
    /// never past [`MAX_HOLD`]), unless [`MAX_HELD_REQUESTS`] are held already.
    async fn wait_for(
        &self,
        channel: &ChannelId,
        name: &str,
        limit: Duration,
        ready: impl Fn(&LiveStream) -> bool,
    ) -> Waited {
        let deadline = tokio::time::Instant::now() + limit.min(MAX_HOLD);
        // Subscribed before the first look, so a change between the two is not missed.
        let mut changes = self
            .wakers
            .lock()
            .expect("wakers lock")
            .entry(*channel)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        if self.with_rendition(channel, name, &ready) == Some(true) {
            return Waited::Ready;
        }
        // Counted while held; a client that hangs up drops the future, and the guard with it.
        let Some(_held) = Held::new(&self.held, &self.metrics) else {
            self.metrics
                .limits_hit
                .with_label_values(&["held_requests"])
                .inc();
            return Waited::Refused;
        };
        loop {
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return Waited::TimedOut;
            }
            if self.with_rendition(channel, name, &ready) == Some(true) {
                return Waited::Ready;
            }
        }
    }

    /// The media playlist of rendition `name` as it stands: rendered once per channel version.
    pub fn media_playlist(&self, channel: &ChannelId, name: &str, delta: bool) -> Option<Bytes> {
        let streams = self.streams.read().expect("streams lock");
        let live = streams.get(channel)?;
        let stream = live.rendition(name)?;
        let key = (*channel, name.to_owned(), delta);
        let mut rendered = self.rendered.lock().expect("rendered playlists");
        if let Some((version, text)) = rendered.get(&key) {
            if *version == live.version {
                return Some(text.clone());
            }
        }
        let text = Bytes::from(playlist::media(live, stream, delta));
        rendered.insert(key, (live.version, text.clone()));
        Some(text)
    }
}

/// One held request, counted against [`MAX_HELD_REQUESTS`] and in the `playback_waiting`
/// gauge for as long as it lives.
struct Held<'a> {
    count: &'a std::sync::atomic::AtomicUsize,
    gauge: &'a prometheus::IntGauge,
}

impl<'a> Held<'a> {
    /// `None` when as many requests are held as may be.
    fn new(count: &'a std::sync::atomic::AtomicUsize, metrics: &'a Metrics) -> Option<Self> {
        use std::sync::atomic::Ordering;
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < MAX_HELD_REQUESTS).then_some(held + 1)
            })
            .ok()?;
        metrics.playback_waiting.inc();
        Some(Self {
            count,
            gauge: &metrics.playback_waiting,
        })
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.gauge.dec();
    }
}

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/live/{channel_id}/index.m3u8", web::get().to(multivariant))
        .route(
            "/live/{channel_id}/{rendition}.m3u8",
            web::get().to(media_playlist),
        )
        .route("/live/{channel_id}/{file:.*}", web::get().to(media_file))
        .route("/recordings/{session_id}.mp4", web::get().to(recording))
        .route(
            "/vod/{session_id}/{rendition}.m3u8",
            web::get().to(catchup_playlist),
        )
        .route(
            "/thumbs/{session_id}/storyboard.vtt",
            web::get().to(storyboard_vtt),
        )
        .route("/thumbs/{session_id}/{file}", web::get().to(thumbnail));
}

/// A session's catch-up: `index.m3u8` (every rendition) or a rendition's playlist.
async fn catchup_playlist(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (session, name) = path.into_inner();
    let Ok(session) = session.parse::<sigma_shared::ids::SessionId>() else {
        return not_found();
    };
    let text = {
        let sessions = playback.catchup.read().expect("catch-up lock");
        if name == "index" {
            sessions.multivariant(&session)
        } else {
            sessions.media(&session, &name)
        }
    };
    match text {
        Some(text) => {
            let cache = if text.contains("#EXT-X-ENDLIST") {
                "public, max-age=60"
            } else {
                "no-cache"
            };
            playlist_response(text.into(), cache)
        }
        None => not_found(),
    }
}

/// The session's storyboard (while it is its channel's current session).
async fn storyboard_vtt(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<String>,
) -> HttpResponse {
    let Ok(session) = path.parse::<sigma_shared::ids::SessionId>() else {
        return not_found();
    };
    let text = {
        let streams = playback.streams.read().expect("streams lock");
        streams.session(&session).and_then(storyboard::vtt)
    };
    match text {
        Some(text) => HttpResponse::Ok()
            .content_type("text/vtt; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .body(text),
        None => not_found(),
    }
}

/// `latest.jpg`, a numbered thumbnail or a storyboard sheet, from the object store. The newest
/// picture and the sheets change while the session runs; numbered thumbnails never do.
async fn thumbnail(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (session, file) = path.into_inner();
    let Ok(session) = session.parse::<sigma_shared::ids::SessionId>() else {
        return not_found();
    };
    let Some(stem) = file.strip_suffix(".jpg") else {
        return not_found();
    };
    let immutable = stem.bytes().all(|byte| byte.is_ascii_digit());
    let valid = !stem.is_empty()
        && stem.len() <= 32
        && stem
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if !valid {
        return not_found();
    }
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    stored(
        &playback,
        &format!("thumbs/{session}/{file}"),
        "image/jpeg",
        cache,
    )
    .await
}

/// An object of the store, whole.
async fn stored(playback: &Playback, key: &str, content_type: &str, cache: &str) -> HttpResponse {
    match playback.store.get(&StorePath::from(key)).await {
        Ok(object) => match object.bytes().await {
            Ok(bytes) => HttpResponse::Ok()
                .content_type(content_type.to_owned())
                .insert_header((header::CACHE_CONTROL, cache.to_owned()))
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                .body(bytes),
            Err(error) => internal_error(error),
        },
        Err(object_store::Error::NotFound { .. }) => not_found(),
        Err(error) => internal_error(error),
    }
}

/// A failure of the store behind playback: logged with a reference, which is all the viewer
/// gets (the error names paths and buckets).
fn internal_error(error: impl std::fmt::Display) -> HttpResponse {
    let mut response = crate::api::error::ApiError::internal(error).error_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(serde_json::json!({ "error": { "code": "not_found", "message": "no live stream here" } }))
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(serde_json::json!({ "error": { "code": "bad_request", "message": message } }))
}

fn playlist_response(body: Bytes, cache: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(PLAYLIST)
        .insert_header((header::CACHE_CONTROL, cache.to_owned()))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body)
}

/// `?pb=…`: the playback session a request belongs to.
#[derive(Deserialize)]
struct Viewer {
    pb: Option<String>,
}

impl Viewer {
    /// The playback session the request names, with its pass: `None` when it names none or
    /// one the platform did not issue (served, not counted); a 400 answer for a value that is
    /// not shaped like a pass at all.
    fn playback(
        &self,
        passes: &PlaybackPasses,
    ) -> Result<Option<(PlaybackId, &str)>, Box<HttpResponse>> {
        let Some(pass) = self.pb.as_deref() else {
            return Ok(None);
        };
        match passes.check(pass) {
            Pass::Valid(id) => Ok(Some((id, pass))),
            Pass::Forged => Ok(None),
            Pass::Malformed => Err(Box::new(bad_request("pb is not a playback session id"))),
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Every rendition, with URLs that carry the playback session (a new one, unless the player
/// reloads this playlist with its own).
async fn multivariant(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<String>,
    viewer: web::Query<Viewer>,
) -> HttpResponse {
    let Ok(channel) = path.parse::<ChannelId>() else {
        return not_found();
    };
    let (player, pass) = match viewer.playback(&playback.passes) {
        Ok(Some((id, pass))) => (id, pass.to_owned()),
        Ok(None) => playback.passes.issue(),
        Err(response) => return *response,
    };
    let found = playback
        .with_live(&channel, |live| {
            (!live.renditions.is_empty())
                .then(|| (live.session_id, playlist::multivariant(live, Some(&pass))))
        })
        .flatten();
    match found {
        Some((session, text)) => {
            playback.viewers.note(channel, player, session, now_ms());
            playlist_response(text.into(), "no-cache")
        }
        None => not_found(),
    }
}

#[derive(Deserialize)]
struct Reload {
    #[serde(rename = "_HLS_msn")]
    msn: Option<u64>,
    #[serde(rename = "_HLS_part")]
    part: Option<usize>,
    #[serde(rename = "_HLS_skip")]
    skip: Option<String>,
    #[serde(flatten)]
    viewer: Viewer,
}

async fn media_playlist(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<(String, String)>,
    query: web::Query<Reload>,
) -> HttpResponse {
    let (channel, name) = path.into_inner();
    let Ok(channel) = channel.parse::<ChannelId>() else {
        return not_found();
    };
    let player = match query.viewer.playback(&playback.passes) {
        Ok(player) => player.map(|(id, _)| id),
        Err(response) => return *response,
    };
    let Some((next_msn, target, session)) = playback.with_rendition(&channel, &name, |stream| {
        (
            stream.next_msn(),
            stream.target_duration(),
            stream.session_id,
        )
    }) else {
        return not_found();
    };
    if let Some(player) = player {
        playback.viewers.note(channel, player, session, now_ms());
    }
    let (msn, part) = (query.msn, query.part);
    let delta = match query.skip.as_deref() {
        None => false,
        Some("YES") => true,
        Some(_) => return bad_request("_HLS_skip must be YES"),
    };
    if part.is_some() && msn.is_none() {
        return bad_request("_HLS_part needs _HLS_msn");
    }
    let current = |cache: &'static str| match playback.media_playlist(&channel, &name, delta) {
        Some(text) => playlist_response(text, cache),
        None => not_found(),
    };
    let Some(msn) = msn else {
        return current("no-cache");
    };
    // RFC 8216bis §6.2.5.2: a request more than two segments ahead is an error.
    if msn > next_msn + 1 {
        return bad_request("_HLS_msn is more than two segments beyond the playlist");
    }
    let ready = |stream: &LiveStream| match part {
        None => stream.next_msn() > msn,
        Some(part) => {
            stream.next_msn() > msn || (stream.next_msn() == msn && stream.partial.len() > part)
        }
    };
    let limit = Duration::from_secs_f64(3.0 * target as f64);
    match playback.wait_for(&channel, &name, limit, ready).await {
        // The URL names one playlist version: it may be cached briefly.
        Waited::Ready => current("public, max-age=6"),
        Waited::Refused => current("no-cache"),
        Waited::TimedOut => HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "1"))
            .finish(),
    }
}

/// `{session}/{connection}/{rendition}/{name}` with safe characters only.
fn valid_file(file: &str) -> bool {
    !file.is_empty()
        && file.split('/').count() == 4
        && file
            .split('/')
            .all(|piece| !piece.is_empty() && piece != "." && piece != "..")
        && file
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"_-./".contains(&byte))
        && (file.ends_with(".m4s") || file.ends_with(".mp4"))
}

/// A finalized source recording, whole or the byte range asked for (players seek with ranges).
/// Streamed from the store as the client reads it: a response holds a chunk or two in memory,
/// however large the recording and however many download it at once.
async fn recording(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<String>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let Ok(session) = path.parse::<sigma_shared::ids::SessionId>() else {
        return not_found();
    };
    let path = StorePath::from(format!("recordings/{session}.mp4"));
    let asked = request
        .headers()
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let size = match playback.store.head(&path).await {
        Ok(meta) => meta.size,
        Err(object_store::Error::NotFound { .. }) => return not_found(),
        Err(error) => return internal_error(error),
    };
    let (mut response, bytes) = match range::parse(asked) {
        range::Requested::Whole => (HttpResponse::Ok(), 0..size),
        requested => {
            let wanted = match requested {
                range::Requested::Part(wanted) => range::within(&wanted, size),
                _ => None,
            };
            let Some(bytes) = wanted else {
                return HttpResponse::RangeNotSatisfiable()
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                    .finish();
            };
            let mut partial = HttpResponse::PartialContent();
            partial.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", bytes.start, bytes.end - 1),
            ));
            (partial, bytes)
        }
    };
    response
        .content_type("video/mp4")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    if bytes.is_empty() {
        return response.finish();
    }
    let options = object_store::GetOptions {
        range: Some(object_store::GetRange::Bounded(bytes.clone())),
        ..Default::default()
    };
    match playback.store.get_opts(&path, options).await {
        Ok(object) => response
            .no_chunking(bytes.end - bytes.start)
            .streaming(object.into_stream()),
        Err(error) => internal_error(error),
    }
}

async fn media_file(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (channel, file) = path.into_inner();
    let Ok(channel) = channel.parse::<ChannelId>() else {
        return not_found();
    };
    if !valid_file(&file) {
        return not_found();
    }
    // The part a preload hint names is answered as soon as it exists.
    let rendition = file.split('/').nth(2).unwrap_or_default();
    let hinted = playback
        .with_rendition(&channel, rendition, |stream| {
            (stream.next_part_path() == file).then_some(stream.part_target)
        })
        .flatten();
    if let Some(part_target) = hinted {
        let limit = Duration::from_secs_f64((3.0 * part_target).max(1.0) * 2.0);
        let exists = |stream: &LiveStream| stream.next_part_path() != file;
        if playback.wait_for(&channel, rendition, limit, exists).await != Waited::Ready {
            return not_found();
        }
    }
    let key = format!("live/{channel}/{file}");
    let cached = playback.cache.get(&key);
    let result = if cached.is_some() { "hit" } else { "miss" };
    playback
        .metrics
        .playback_cache
        .with_label_values(&[result])
        .inc();
    // What the live connection stores next may be asked for a moment before it exists (a
    // preload hint another node gave): only misses elsewhere are remembered.
    let live = playback
        .with_rendition(&channel, rendition, |stream| {
            file.starts_with(&stream.prefix)
        })
        .unwrap_or(false);
    let now = std::time::Instant::now();
    if cached.is_none() && !live && playback.misses.contains(&key, now) {
        playback
            .metrics
            .limits_hit
            .with_label_values(&["recent_miss"])
            .inc();
        return not_found();
    }
    let bytes = match cached {
        Some(bytes) => bytes,
        None => match playback.store.get(&StorePath::from(key.as_str())).await {
            Ok(object) => match object.bytes().await {
                Ok(bytes) => {
                    playback.cache.insert(key, bytes.clone());
                    bytes
                }
                Err(error) => return internal_error(error),
            },
            Err(object_store::Error::NotFound { .. }) => {
                if !live {
                    playback.misses.insert(key, now);
                }
                return not_found();
            }
            Err(error) => return internal_error(error),
        },
    };
    HttpResponse::Ok()
        .content_type("video/mp4")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(bytes)
}
