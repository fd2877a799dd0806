//! The playback server: `/live/{channel_id}/…` for any stream, from any process:
//! `index.m3u8` (every rendition), `{rendition}.m3u8` (`source.m3u8`, `480p.m3u8`, …) and the
//! media under `{session}/{connection}/{rendition}/`. It follows the media topic from a little
//! before the earliest running session started to build each channel's live state
//! ([`state`]) and each running session's catch-up ([`catchup`]; an ended session's is served
//! from the store once the recorder has put it there), renders
//! playlists from it ([`playlist`]), and serves media bytes from the object store. Requests for
//! what does not exist yet — a blocking playlist reload, the part a preload hint names — wait
//! for the media event that makes it exist. Recent media bytes are cached in memory
//! ([`cache`]); the object store is the fallback.
//!
//! A `signed` channel's routes need a playback token (`?token=`, see [`tokens`]), checked
//! against what [`access`] folds from the events; the playlists carry it into every URL they
//! list, so a player needs only the first URL. A channel playback does not know (deleted, or
//! not created) is a 404 on every route.
//!
//! Each multivariant request opens a playback session: the rendition URLs it returns carry its
//! pass (`?pb=…`, signed by [`passes`]), so every reload names it, and [`viewers`] reports them
//! for analytics; an invented pass is served but not counted.

pub mod access;
mod cache;
pub mod catchup;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
mod metrics;
pub mod passes;
pub mod playlist;
pub mod state;
mod storyboard;
pub mod tokens;
mod viewers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use sigma_event_log::EventsFeed;
use sigma_shared::event::{Decision, Event, EventEnvelope};
use sigma_shared::ids::{ChannelId, PlaybackId, SessionId};
use sigma_shared::log::{EventLog, LogError, Offset, Partition, EVENTS_TOPIC, MEDIA_TOPIC};
use sigma_shared::media::MediaEvent;
use sigma_shared::request::playlist::{BlockingReload, PlaylistQuery};
use sigma_shared::request::range;
use tokio::sync::watch;

use self::access::{Access, Changed};
use self::passes::{Pass, PlaybackPasses};
use self::state::{ChannelLive, LiveStream, Streams};
use self::tokens::{Audience, PlatformKeys, Target, Tokens};
pub use crate::metrics::PlaybackMetrics;

const PLAYLIST: &str = "application/vnd.apple.mpegurl";

pub struct Playback {
    streams: RwLock<Streams>,
    /// One per channel that has requests waiting on it, bumped after each media event of that
    /// channel: a held request re-checks only when its own channel changed.
    wakers: Mutex<HashMap<ChannelId, watch::Sender<()>>>,
    /// Requests held open now, across channels (at most [`MAX_HELD_REQUESTS`]).
    held: std::sync::atomic::AtomicUsize,
    store: Arc<dyn ObjectStore>,
    /// This process's ingest, whose live media may be held in memory while the store fails.
    unstored: Option<Arc<dyn Unstored>>,
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
    /// Channels, sessions and playback keys, for signed playback and takedown.
    access: RwLock<Access>,
    tokens: Tokens,
    metrics: PlaybackMetrics,
}

/// Live media an ingest in this process holds in memory while the object store fails: served
/// from there until stored.
pub trait Unstored: Send + Sync {
    /// The media object at `key`, if it is held.
    fn held(&self, key: &str) -> Option<Bytes>;
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

/// How long a multivariant request waits for the channel's first segment before it is answered
/// `not_ready` (and a media playlist request for its rendition's): long enough to ride out one playback node being a moment behind another (a
/// balancer without sticky sessions sends a player's next request to the other), short of a
/// whole first segment, so a player at go-live is told to retry rather than left hanging.
const FIRST_SEGMENT_HOLD: Duration = Duration::from_secs(1);

/// The offset of every partition of `topic` at `since_ms`.
async fn offsets_at(
    log: &dyn EventLog,
    topic: &str,
    since_ms: i64,
) -> Result<Vec<(Partition, Offset)>, LogError> {
    let mut offsets = Vec::new();
    for partition in 0..log.partitions() {
        offsets.push((partition, log.offset_at(topic, partition, since_ms).await?));
    }
    Ok(offsets)
}

/// How a wait for a channel's media ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    Ready,
    TimedOut,
    /// Too many requests are held already: this one was not.
    Refused,
    /// The stream went away meanwhile.
    Gone,
}

impl Playback {
    /// Playback from the log alone: [`Access`] is folded by `feed` (from the start of the
    /// events), and what ends a session reacts to it; once the feed has caught up,
    /// [`Playback::start`] reads the media.
    pub fn new(
        log: &Arc<dyn EventLog>,
        store: Arc<dyn ObjectStore>,
        unstored: Option<Arc<dyn Unstored>>,
        reporting: Reporting,
        platform: PlatformKeys,
        metrics: PlaybackMetrics,
        feed: &mut EventsFeed,
    ) -> Arc<Self> {
        let playback = Arc::new(Self {
            streams: RwLock::default(),
            wakers: Mutex::default(),
            held: Default::default(),
            store,
            unstored,
            cache: cache::MediaCache::new(CACHE_BYTES),
            misses: cache::RecentMisses::new(MISS_TTL, MISSES_KEPT),
            rendered: Mutex::default(),
            catchup: RwLock::default(),
            viewers: Arc::new(viewers::Viewers::new(reporting.node_id)),
            passes: reporting.passes,
            access: RwLock::default(),
            tokens: Tokens::new(
                platform,
                metrics
                    .limits_hit
                    .with_label_values(&["playback_tokens_kept"]),
            ),
            metrics,
        });
        tokio::spawn(
            playback
                .viewers
                .clone()
                .publish(log.clone(), reporting.every),
        );
        let follower = Arc::downgrade(&playback);
        feed.fold_events("playback access", move |envelope| {
            if let Some(playback) = follower.upgrade() {
                playback.apply_access(envelope);
            }
        });
        let follower = Arc::downgrade(&playback);
        feed.react_to_events("playback ends", move |envelope| {
            if let Some(playback) = follower.upgrade() {
                playback.apply_end(envelope);
            }
        });
        playback
    }

    /// Starts serving from the media, once the feed has folded [`Access`] up to `caught_up`
    /// (each partition's next offset) and before it follows the events: the media are read from
    /// a little before the earliest running session started (older sessions have ended, and
    /// their catch-up playlists are in the store), then the events since then up to
    /// `caught_up`, which end what they end; the feed's reaction goes on from there. So every
    /// session a `session.ended` names is whole in memory when it comes (and is let go once
    /// stored, not kept for good).
    pub async fn start(
        self: &Arc<Self>,
        log: &Arc<dyn EventLog>,
        caught_up: &[(Partition, Offset)],
    ) -> Result<(), LogError> {
        let since_ms = self.media_since();
        let mut media_caught_up = Vec::new();
        for (partition, from) in offsets_at(log.as_ref(), MEDIA_TOPIC, since_ms).await? {
            let end = log.end_offset(MEDIA_TOPIC, partition).await?;
            let mut records = log.read(MEDIA_TOPIC, partition, from, end).await?;
            while let Some(record) = records.next().await {
                self.apply_media(&record?.payload);
            }
            media_caught_up.push((partition, end));
        }
        let mut records = log.follow(MEDIA_TOPIC, &media_caught_up).await?;
        let follower = self.clone();
        tokio::spawn(async move {
            while let Some(record) = records.next().await {
                if let Ok(record) = record {
                    follower.apply_media(&record.payload);
                }
            }
        });
        for (partition, from) in offsets_at(log.as_ref(), EVENTS_TOPIC, since_ms).await? {
            let until = caught_up
                .iter()
                .find(|(of, _)| *of == partition)
                .map_or(from, |(_, end)| *end);
            let mut records = log.read(EVENTS_TOPIC, partition, from, until).await?;
            while let Some(record) = records.next().await {
                let Ok(decision) = Decision::from_bytes(&record?.payload) else {
                    continue;
                };
                decision
                    .events()
                    .iter()
                    .for_each(|event| self.apply_end(event));
            }
        }
        Ok(())
    }

    /// Folds one event into [`Access`]; a playback key deleted takes its tokens with it.
    fn apply_access(&self, envelope: &EventEnvelope) {
        let changed = self.access.write().expect("access lock").apply(envelope);
        if let Changed::KeyRemoved(key) = changed {
            self.tokens.forget_key(&key);
        }
    }

    /// What an event ends: a session's live playlists (its catch-up becomes VOD), a deleted
    /// channel's live state, an expired or deleted session's catch-up.
    fn apply_end(self: &Arc<Self>, envelope: &EventEnvelope) {
        match envelope.event {
            Event::SessionEnded { session_id, .. } => {
                self.end_live(&session_id);
                self.with_catchup(|catchup| catchup.end(session_id));
                tokio::spawn(self.clone().let_go_once_stored(session_id));
            }
            Event::ChannelDeleted {} => {
                if let Some(channel) = envelope.channel_id {
                    self.forget_channel(&channel);
                }
            }
            Event::SessionMediaExpired { session_id }
            | Event::SessionMediaDeleted { session_id } => {
                self.with_catchup(|catchup| catchup.forget(session_id));
            }
            _ => {}
        }
    }

    /// Where the media topic is read from (milliseconds, log time): a margin before the
    /// earliest running session started, or before now if none runs.
    fn media_since(&self) -> i64 {
        let earliest = self.access.read().expect("access lock").earliest_running();
        earliest.unwrap_or_else(chrono::Utc::now).timestamp_millis() - catchup::LOG_CLOCK_MARGIN_MS
    }

    /// Whether the request may open `audience` of the channel (of its session `session`, for
    /// a session's routes and media): `Ok(None)` for a public channel, `Ok(Some(token))` for a
    /// signed one the request's token opens (the token goes into the URLs the answer lists);
    /// otherwise the answer: 404 for a channel playback does not know, 401 or 403.
    fn authorize(
        &self,
        request: &actix_web::HttpRequest,
        channel: &ChannelId,
        session: Option<SessionId>,
        audience: Audience,
    ) -> Result<Option<String>, Box<HttpResponse>> {
        let access = self.access.read().expect("access lock");
        let found = access
            .channel(channel)
            .ok_or_else(|| Box::new(not_found()))?;
        // A session's media are only under its own channel.
        if let Some(session) = session {
            if access.session(&session).map(|(of, _)| of) != Some(*channel) {
                return Err(Box::new(not_found()));
            }
        }
        self.check_token(request, &access, *channel, found, session, audience)
    }

    /// [`Playback::authorize`] for a session's routes: the session names its channel.
    fn authorize_session(
        &self,
        request: &actix_web::HttpRequest,
        session: SessionId,
        audience: Audience,
    ) -> Result<Option<String>, Box<HttpResponse>> {
        let access = self.access.read().expect("access lock");
        let (channel, found) = access
            .session(&session)
            .ok_or_else(|| Box::new(not_found()))?;
        self.check_token(request, &access, channel, found, Some(session), audience)
    }

    fn check_token(
        &self,
        request: &actix_web::HttpRequest,
        access: &Access,
        channel: ChannelId,
        found: access::ChannelAccess,
        session: Option<SessionId>,
        audience: Audience,
    ) -> Result<Option<String>, Box<HttpResponse>> {
        let target = Target {
            channel,
            owner: found.owner,
            session,
            audience,
        };
        match self.verify(request, access, found.signed, &target) {
            Ok(token) => Ok(token.map(str::to_owned)),
            Err(refusal) => {
                self.metrics
                    .refused
                    .with_label_values(&[refusal.code()])
                    .inc();
                let mut answer = HttpResponse::build(refusal.status());
                answer.insert_header((header::CACHE_CONTROL, "no-store"));
                Err(Box::new(error_answer(
                    answer,
                    refusal.code(),
                    refusal.message(),
                )))
            }
        }
    }

    /// Whether the request opens `target`: anyone does on a public channel; on a signed one,
    /// its token must. The token it opens with, if any.
    fn verify<'r>(
        &self,
        request: &'r actix_web::HttpRequest,
        access: &Access,
        signed: bool,
        target: &Target,
    ) -> Result<Option<&'r str>, tokens::Refusal> {
        if !signed {
            return Ok(None);
        }
        let token = tokens::token_in(request.query_string());
        let now = chrono::Utc::now().timestamp();
        self.tokens
            .check(token, target, now, |key| access.key(key))
            .map(|()| token)
    }

    /// Folds a media record into the live state and the catch-up, and wakes the requests
    /// held on its channel.
    fn apply_media(&self, payload: &[u8]) {
        let Some(event) = MediaEvent::from_bytes(payload) else {
            return;
        };
        self.with_catchup(|catchup| catchup.apply(&event));
        let changed = self.streams.write().expect("streams lock").apply(&event);
        if let Some(channel) = changed {
            self.wake(&channel);
        }
    }

    /// Ends the session's live playlists and answers the requests held on them.
    fn end_live(&self, session: &SessionId) {
        let ended = self.streams.write().expect("streams lock").end(session);
        if let Some(channel) = ended {
            self.wake(&channel);
        }
    }

    /// Drops a deleted channel's live state and answers the requests held on it (404: its
    /// access went with the same event).
    fn forget_channel(&self, channel: &ChannelId) {
        self.streams
            .write()
            .expect("streams lock")
            .forget_channel(channel);
        self.wake(channel);
    }

    /// Changes the catch-up state, keeping its gauge true.
    fn with_catchup(&self, change: impl FnOnce(&mut catchup::Sessions)) {
        let mut catchup = self.catchup.write().expect("catch-up lock");
        change(&mut catchup);
        self.metrics.catchup_sessions.set(catchup.held() as i64);
    }

    /// Lets an ended session's catch-up go once the recorder has stored its playlists
    /// (`vod/{session}/index.m3u8`, written last), looking with a pause that grows from a second
    /// to a minute; `/vod/{session}/…` is then served from the store.
    async fn let_go_once_stored(self: Arc<Self>, session: SessionId) {
        let index = StorePath::from(format!("vod/{session}/index.m3u8"));
        let mut pause = Duration::from_secs(1);
        loop {
            if !self.catchup.read().expect("catch-up lock").holds(&session) {
                return;
            }
            if self.store.head(&index).await.is_ok() {
                self.with_catchup(|catchup| catchup.forget(session));
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(60));
        }
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
        self.wait_for_live(channel, limit, |live| live.rendition(name).map(&ready))
            .await
    }

    /// Waits until `ready` holds for the channel's live state, as [`Self::wait_for`] does;
    /// `ready` answers `None` when what the request waits on is gone.
    async fn wait_for_live(
        &self,
        channel: &ChannelId,
        limit: Duration,
        ready: impl Fn(&ChannelLive) -> Option<bool>,
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
        let look = || self.with_live(channel, &ready).flatten();
        if look() == Some(true) {
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
            match look() {
                Some(true) => return Waited::Ready,
                Some(false) => {}
                // The channel (or the rendition) was deleted while the request waited.
                None => return Waited::Gone,
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
    fn new(
        count: &'a std::sync::atomic::AtomicUsize,
        metrics: &'a PlaybackMetrics,
    ) -> Option<Self> {
        use std::sync::atomic::Ordering;
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < MAX_HELD_REQUESTS).then_some(held + 1)
            })
            .ok()?;
        metrics.waiting.inc();
        Some(Self {
            count,
            gauge: &metrics.waiting,
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
            "/live/{channel_id}/status.json",
            web::get().to(channel_status),
        )
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
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let (session, name) = path.into_inner();
    let Ok(session) = session.parse::<sigma_shared::ids::SessionId>() else {
        return not_found();
    };
    let token = match playback.authorize_session(&request, session, Audience::Video) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let held = {
        let sessions = playback.catchup.read().expect("catch-up lock");
        if !sessions.holds(&session) {
            None
        } else if name == "index" {
            Some(sessions.multivariant(&session))
        } else {
            Some(sessions.media(&session, &name))
        }
    };
    let text = match held {
        Some(Some(text)) => text,
        Some(None) => return not_found(),
        // An ended session let go of: the recorder stored its final playlists.
        None if valid_rendition_name(&name) => {
            match fetch_stored(&playback, &format!("vod/{session}/{name}.m3u8")).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(response) => return response,
            }
        }
        None => return not_found(),
    };
    let cache = if text.contains("#EXT-X-ENDLIST") {
        ENDED_PLAYLIST_CACHE
    } else {
        "no-cache"
    };
    let signed = token.is_some();
    playlist_response(
        signed_text(text, token.as_deref()).into(),
        &cache_for(cache, signed),
    )
}

/// How long a player or CDN may keep an ended session's playlist: it never changes, but it
/// goes when the session's media expire.
const ENDED_PLAYLIST_CACHE: &str = "public, max-age=60";

/// `index` or a rendition's name (`source`, `480p`): what a stored playlist can be called.
fn valid_rendition_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// The session's storyboard (while it is its channel's current session).
async fn storyboard_vtt(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<String>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let Ok(session) = path.parse::<sigma_shared::ids::SessionId>() else {
        return not_found();
    };
    let token = match playback.authorize_session(&request, session, Audience::Thumbnails) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let text = {
        let streams = playback.streams.read().expect("streams lock");
        streams
            .session(&session)
            .and_then(|live| storyboard::vtt(live, token.as_deref()))
    };
    match text {
        Some(text) => HttpResponse::Ok()
            .content_type("text/vtt; charset=utf-8")
            .insert_header((
                header::CACHE_CONTROL,
                cache_for("no-cache", token.is_some()),
            ))
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
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let (session, file) = path.into_inner();
    let Ok(session) = session.parse::<sigma_shared::ids::SessionId>() else {
        return not_found();
    };
    let signed = match playback.authorize_session(&request, session, Audience::Thumbnails) {
        Ok(token) => token.is_some(),
        Err(response) => return *response,
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
    match fetch_stored(&playback, &format!("thumbs/{session}/{file}")).await {
        Ok(bytes) => HttpResponse::Ok()
            .content_type("image/jpeg")
            .insert_header((header::CACHE_CONTROL, cache_for(cache, signed)))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .body(bytes),
        Err(response) => response,
    }
}

/// An object of the store, whole; the answer to give instead if it cannot be had.
async fn fetch_stored(playback: &Playback, key: &str) -> Result<Bytes, HttpResponse> {
    match playback.store.get(&StorePath::from(key)).await {
        Ok(object) => object.bytes().await.map_err(internal_error),
        Err(object_store::Error::NotFound { .. }) => Err(not_found()),
        Err(error) => Err(internal_error(error)),
    }
}

/// A signed answer is for its token's holder only: shared caches must not keep it for the
/// next viewer, who may have none.
fn cache_for(cache: &str, signed: bool) -> String {
    match (signed, cache.contains("public")) {
        (false, _) => cache.to_owned(),
        (true, true) => cache.replace("public", "private"),
        (true, false) => format!("private, {cache}"),
    }
}

/// A playlist as the viewer gets it: with the token in every URI, for a signed channel.
fn signed_text(text: String, token: Option<&str>) -> String {
    match token {
        Some(token) => playlist::with_token(&text, token),
        None => text,
    }
}

/// An error answer as every Sigma route gives one (`{"error": {"code", "message"}}`), which a
/// player on another origin may read.
fn error_answer(mut answer: HttpResponseBuilder, code: &str, message: &str) -> HttpResponse {
    answer
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(serde_json::json!({ "error": { "code": code, "message": message } }))
}

/// A failure of the store behind playback: logged with a reference, which is all the viewer
/// gets (the error names paths and buckets).
fn internal_error(error: impl std::fmt::Display) -> HttpResponse {
    let reference = uuid::Uuid::new_v4().simple().to_string();
    tracing::error!(%error, %reference, "internal error");
    error_answer(
        HttpResponse::InternalServerError(),
        "internal",
        &format!("an internal error occurred; it was logged under reference {reference}"),
    )
}

fn not_found() -> HttpResponse {
    error_answer(HttpResponse::NotFound(), "not_found", "no live stream here")
}

/// The channel is live but none of its renditions has a segment yet (it went live a moment
/// ago): a player retries, where an empty stream list would make it give up.
fn not_ready() -> HttpResponse {
    let mut answer = HttpResponse::NotFound();
    answer.insert_header((header::RETRY_AFTER, "1"));
    error_answer(
        answer,
        "not_ready",
        "the stream is starting: no segment is ready yet; retry in a second",
    )
}

fn bad_request(message: &str) -> HttpResponse {
    error_answer(HttpResponse::BadRequest(), "bad_request", message)
}

fn playlist_response(body: Bytes, cache: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(PLAYLIST)
        .insert_header((header::CACHE_CONTROL, cache.to_owned()))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body)
}

/// A playlist request's query, read by [`PlaylistQuery::parse`]; a 400 answer if it does not
/// read.
fn playlist_query(request: &actix_web::HttpRequest) -> Result<PlaylistQuery, Box<HttpResponse>> {
    PlaylistQuery::parse(request.query_string())
        .map_err(|error| Box::new(bad_request(&error.to_string())))
}

/// The playback session a request names with `pb`, with its pass: `None` when it names none
/// or one the platform did not issue (served, not counted); a 400 answer for a value that is
/// not shaped like a pass at all.
fn player<'a>(
    pb: Option<&'a str>,
    passes: &PlaybackPasses,
) -> Result<Option<(PlaybackId, &'a str)>, Box<HttpResponse>> {
    let Some(pass) = pb else {
        return Ok(None);
    };
    match passes.check(pass) {
        Pass::Valid(id) => Ok(Some((id, pass))),
        Pass::Forged => Ok(None),
        Pass::Malformed => Err(Box::new(bad_request("pb is not a playback session id"))),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What a player page needs before it plays (the embed page reads it): whether the channel is
/// live, how to play it, and what to show when it is not.
#[derive(serde::Serialize)]
struct ChannelStatus {
    /// A session runs and has media to play: `index.m3u8` plays.
    live: bool,
    latency_mode: sigma_shared::settings::LatencyMode,
    /// The newest session, while its media exist.
    session_id: Option<SessionId>,
    /// The newest session's latest thumbnail, once it has one, if the request may see it (a
    /// signed channel's needs a token that opens thumbnails too).
    poster: Option<String>,
    /// The newest session's catch-up, once it ended.
    catchup: Option<String>,
}

/// `status.json`: under the channel's own rule, so a signed channel's status needs a token
/// that plays it; a player polls it, so it is never cached.
async fn channel_status(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<String>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let Ok(channel) = path.parse::<ChannelId>() else {
        return not_found();
    };
    let token = match playback.authorize(&request, &channel, None, Audience::Video) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let live = playback
        .with_live(&channel, |live| {
            !live.ended() && playlist::is_playable(live)
        })
        .unwrap_or(false);
    let status = {
        let access = playback.access.read().expect("access lock");
        let Some(found) = access.channel(&channel) else {
            return not_found();
        };
        let newest = found.newest;
        let pictures = |session| Target {
            channel,
            owner: found.owner,
            session: Some(session),
            audience: Audience::Thumbnails,
        };
        let poster = newest
            .filter(|newest| newest.pictured)
            .map(|newest| newest.session)
            .filter(|session| {
                let opened = playback.verify(&request, &access, found.signed, &pictures(*session));
                opened.is_ok()
            });
        let session = newest.map(|newest| newest.session);
        ChannelStatus {
            live,
            latency_mode: found.latency_mode,
            session_id: session,
            poster: poster.map(|session| format!("/thumbs/{session}/latest.jpg")),
            catchup: session
                .filter(|session| !access.is_running(session))
                .map(|session| format!("/vod/{session}/index.m3u8")),
        }
    };
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            cache_for("no-cache", token.is_some()),
        ))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(status)
}

/// Every rendition, with URLs that carry the playback session (a new one, unless the player
/// reloads this playlist with its own).
async fn multivariant(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<String>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let Ok(channel) = path.parse::<ChannelId>() else {
        return not_found();
    };
    // A query that does not read (its `pb` included) is a 400 whoever asks: it needs no
    // access to judge.
    let query = match playlist_query(&request) {
        Ok(query) => query,
        Err(response) => return *response,
    };
    let (player, pass) = match player(query.pb.as_deref(), &playback.passes) {
        Ok(Some((id, pass))) => (id, pass.to_owned()),
        Ok(None) => playback.passes.issue(),
        Err(response) => return *response,
    };
    let token = match playback.authorize(&request, &channel, None, Audience::Video) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let render = |live: &ChannelLive| {
        playlist::multivariant(live, Some(&pass)).map(|text| (live.session_id, text))
    };
    let found = match playback.with_live(&channel, render) {
        // A session that ended before its first segment will never have one.
        Some(None) if playback.with_live(&channel, ChannelLive::ended) == Some(true) => None,
        Some(None) => {
            let playable = |live: &ChannelLive| Some(playlist::is_playable(live));
            match playback
                .wait_for_live(&channel, FIRST_SEGMENT_HOLD, playable)
                .await
            {
                Waited::Ready => playback.with_live(&channel, render),
                Waited::Gone => None,
                Waited::TimedOut | Waited::Refused => Some(None),
            }
        }
        found => found,
    };
    match found {
        Some(Some((session, text))) => {
            playback.viewers.note(channel, player, session, now_ms());
            let cache = cache_for("no-cache", token.is_some());
            playlist_response(signed_text(text, token.as_deref()).into(), &cache)
        }
        Some(None) => not_ready(),
        None => not_found(),
    }
}

async fn media_playlist(
    playback: web::Data<Arc<Playback>>,
    path: web::Path<(String, String)>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let (channel, name) = path.into_inner();
    let Ok(channel) = channel.parse::<ChannelId>() else {
        return not_found();
    };
    // A query that does not read (its `pb` included) is a 400 whoever asks: it needs no
    // access to judge.
    let query = match playlist_query(&request) {
        Ok(query) => query,
        Err(response) => return *response,
    };
    let player = match player(query.pb.as_deref(), &playback.passes) {
        Ok(player) => player.map(|(id, _)| id),
        Err(response) => return *response,
    };
    let token = match playback.authorize(&request, &channel, None, Audience::Video) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    // As for the multivariant playlist: a node a moment behind the one that listed this
    // rendition waits for the rendition's first segment (a playlist with none, or a 404, would
    // make a player give up).
    let listed = |live: &ChannelLive| live.is_listed(&name);
    if playback.with_live(&channel, |live| !listed(live) && !live.ended()) == Some(true) {
        playback
            .wait_for_live(&channel, FIRST_SEGMENT_HOLD, |live| Some(listed(live)))
            .await;
    }
    let Some((next_msn, target, session, ended)) =
        playback.with_rendition(&channel, &name, |stream| {
            (
                stream.next_msn(),
                stream.target_duration(),
                stream.session_id,
                stream.ended,
            )
        })
    else {
        return not_found();
    };
    if let Some(player) = player {
        playback.viewers.note(channel, player, session, now_ms());
    }
    let current = |cache: &'static str| match playback.media_playlist(&channel, &name, query.delta)
    {
        Some(text) => match &token {
            None => playlist_response(text, cache),
            Some(token) => playlist_response(
                playlist::with_token(&String::from_utf8_lossy(&text), token).into(),
                &cache_for(cache, true),
            ),
        },
        None => not_found(),
    };
    // An ended playlist never changes: a reload is answered with it at once.
    let Some(BlockingReload { msn, part }) = query.reload.filter(|_| !ended) else {
        return current("no-cache");
    };
    // RFC 8216bis §6.2.5.2: a request more than two segments ahead is an error.
    if msn > next_msn + 1 {
        return bad_request("_HLS_msn is more than two segments beyond the playlist");
    }
    let ready = |stream: &LiveStream| match part {
        _ if stream.ended => true,
        None => stream.next_msn() > msn,
        Some(part) => {
            stream.next_msn() > msn
                || (stream.next_msn() == msn && stream.partial.len() as u64 > part)
        }
    };
    let limit = Duration::from_secs_f64(3.0 * target as f64);
    match playback.wait_for(&channel, &name, limit, ready).await {
        // The URL names one playlist version: it may be cached briefly.
        Waited::Ready => current("public, max-age=6"),
        Waited::Refused => current("no-cache"),
        Waited::Gone => not_found(),
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
    let signed = match playback.authorize_session(&request, session, Audience::Recordings) {
        Ok(token) => token.is_some(),
        Err(response) => return *response,
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
    let (mut response, bytes) = match range::answer(asked, size) {
        range::Answer::Whole => (HttpResponse::Ok(), 0..size),
        range::Answer::Part(bytes) => {
            let mut partial = HttpResponse::PartialContent();
            partial.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", bytes.start, bytes.end - 1),
            ));
            (partial, bytes)
        }
        range::Answer::Unsatisfiable => {
            return HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish()
        }
    };
    response
        .content_type("video/mp4")
        .insert_header((
            header::CACHE_CONTROL,
            cache_for("public, max-age=3600", signed),
        ))
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
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let (channel, file) = path.into_inner();
    let Ok(channel) = channel.parse::<ChannelId>() else {
        return not_found();
    };
    if !valid_file(&file) {
        return not_found();
    }
    // `{session}/…`: a session's token opens its own media, live or caught up.
    let Some(Ok(session)) = file.split('/').next().map(str::parse::<SessionId>) else {
        return not_found();
    };
    let signed = match playback.authorize(&request, &channel, Some(session), Audience::Video) {
        Ok(token) => token.is_some(),
        Err(response) => return *response,
    };
    // The part a preload hint names is answered as soon as it exists.
    let rendition = file.split('/').nth(2).unwrap_or_default();
    let hinted = playback
        .with_rendition(&channel, rendition, |stream| {
            (stream.next_part_path() == file).then_some(stream.part_target)
        })
        .flatten();
    if let Some(part_target) = hinted {
        let limit = Duration::from_secs_f64((3.0 * part_target).max(1.0) * 2.0);
        let exists = |stream: &LiveStream| stream.ended || stream.next_part_path() != file;
        if playback.wait_for(&channel, rendition, limit, exists).await != Waited::Ready {
            return not_found();
        }
    }
    let key = format!("live/{channel}/{file}");
    let held = playback.unstored.as_ref().and_then(|live| live.held(&key));
    let cached = held.clone().or_else(|| playback.cache.get(&key));
    let result = match (&held, &cached) {
        (Some(_), _) => "held",
        (None, Some(_)) => "hit",
        (None, None) => "miss",
    };
    playback.metrics.cache.with_label_values(&[result]).inc();
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
        .insert_header((
            header::CACHE_CONTROL,
            cache_for("public, max-age=31536000, immutable", signed),
        ))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(bytes)
}
