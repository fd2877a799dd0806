//! The ingest ports answered by the log and the object store: the [`Admission`] port
//! answered by the command log (a publisher is a `ConnectPublisher` command its channel's
//! decider accepts or rejects) and its [`Publication`] port storing media in the object store
//! and driving the session through `init → processing → live`, then `DisconnectPublisher` and,
//! once the reconnect window has passed without a return, `EndSession`.
//!
//! - [`directory`]: which channel a stream key opens, folded from the events.
//! - [`writer`]: one rendition's pieces, stored then announced on the media topic.
//! - [`transcode`]: the ABR ladder (one ffmpeg per session) fed from the source.

pub mod directory;
pub mod thumbnails;
mod transcode;
mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use sigma_media::cmaf::{Output, PackagerConfig};
use sigma_media::health::HealthChange;
use sigma_media::health::NO_MEDIA;
use sigma_media::ladder::Rung;
use sigma_shared::command::{ChannelCommand, Command, IngestAction};
use sigma_shared::event::Event;
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::log::EventLog;
use sigma_shared::media::{StreamRef, SOURCE_RENDITION};
use sigma_shared::rejection::Rejection;
use sigma_shared::secret::KeyFingerprint;
use sigma_shared::session::{EndReason, Input};
use sigma_shared::settings::{LatencyMode, TranscodeProfile};
use tokio::sync::watch;

use self::directory::{Listed, Listing, KEY_PATIENCE};
use self::thumbnails::Thumbnails;
use self::transcode::{Alerts, Transcoding};
use self::writer::{RenditionWriter, SegmentClock, Stored};
use crate::bus::{CommandBus, TallyWatch};
use crate::ingest::{Admission, OutputError, Publication, PublishName, Refusal, Tally};
use crate::metrics::IngestMetrics;
use crate::node::Publishing;
use crate::quotas::Quotas;
use crate::storage::disk::Level;
use crate::storage::LiveStore;

pub struct LogAdmission {
    pub bus: Arc<CommandBus>,
    pub metrics: IngestMetrics,
    pub log: Arc<dyn EventLog>,
    /// Kept current by the command bus.
    pub directory: Arc<Listing>,
    /// Where live media go.
    pub store: Arc<LiveStore>,
    /// The ABR ladder's rungs; `None` when this process has no ffmpeg (ABR channels then play
    /// their source only, with an alert).
    pub ladder: Option<Arc<Vec<Rung>>>,
    /// Thumbnail width in pixels; `None` when this process has no ffmpeg.
    pub thumbnail_width: Option<u32>,
    /// What this process ingests, for its heartbeats.
    pub publishing: Publishing,
    pub quotas: Arc<Quotas>,
}

impl LogAdmission {
    /// Whether the channel's account may open another session (one more ABR session, for an
    /// ABR channel): the guard is held until the connect is decided.
    async fn room_for_a_session(
        &self,
        channel: &Listed,
        channel_id: ChannelId,
    ) -> Result<tokio::sync::MutexGuard<'_, ()>, Refusal> {
        let abr = channel.settings.transcode == TranscodeProfile::Abr;
        self.quotas
            .session(channel.account, abr, || {
                self.directory
                    .read()
                    .open_sessions(channel.account, channel_id)
            })
            .await
            .map_err(|rejection| Refusal::QuotaExceeded(rejection.to_string()))
    }

    pub async fn ingest(
        bus: &CommandBus,
        channel_id: ChannelId,
        action: IngestAction,
    ) -> Result<Vec<Event>, Refusal> {
        let command = Command::channel(channel_id, ChannelCommand::Ingest { action });
        match bus.submit(command).await {
            Ok(Ok(events)) => Ok(events.into_iter().map(|envelope| envelope.event).collect()),
            Ok(Err(rejection)) => Err(match rejection {
                Rejection::WrongStreamKey | Rejection::NotFound { .. } => Refusal::UnknownKey,
                Rejection::ChannelStopped => Refusal::ChannelStopped,
                Rejection::PublisherAlreadyConnected => Refusal::AlreadyPublishing,
                Rejection::BackupAlreadyConnected => Refusal::AlreadyBackedUp,
                Rejection::NoBroadcast => Refusal::NoBroadcast,
                other => Refusal::Unavailable(other.to_string()),
            }),
            Err(error) => Err(Refusal::Unavailable(error.to_string())),
        }
    }
}

#[async_trait]
impl Admission for LogAdmission {
    async fn admit(&self, name: &PublishName) -> Result<Box<dyn Publication>, Refusal> {
        // Before the disk is full, not when it is: what runs has the room left to go on.
        if self.store.disk_level() >= Level::Low {
            return Err(Refusal::StorageLow);
        }
        // Keys are kept only as fingerprints (and sealed): the presented key is looked up by its
        // fingerprint.
        let stream_key = KeyFingerprint::of(&name.stream_key);
        let (channel_id, channel) = self
            .directory
            .find(&stream_key, KEY_PATIENCE)
            .await
            .ok_or(Refusal::UnknownKey)?;
        let input = if name.backup {
            Input::Backup
        } else {
            Input::Primary
        };
        // Followed from before the connect is decided: a failover right after it is not missed.
        let tally = self.bus.tally(channel_id, input);
        let new_session_id = SessionId::generate();
        let settings = &channel.settings;
        // A backup joins the primary's session: it opens none.
        let _room = match input {
            Input::Primary => Some(self.room_for_a_session(&channel, channel_id).await?),
            Input::Backup => None,
        };
        let action = match input {
            Input::Primary => IngestAction::ConnectPublisher {
                stream_key,
                new_session_id,
            },
            Input::Backup => IngestAction::ConnectBackup { stream_key },
        };
        let events = Self::ingest(&self.bus, channel_id, action).await?;
        let (session_id, started) = admitted_session(&events)
            .ok_or_else(|| Refusal::Unavailable("the connect decided no session".into()))?;
        tracing::info!(%channel_id, %session_id, input = input.as_str(), started, "publisher admitted");
        // The session's maximum duration and reconnect window are the deciders' timers
        // (`decide::timers`): they outlive this process.
        let session_end = self.bus.on_session_end(session_id);
        let alerts = Alerts::new(
            self.bus.clone(),
            channel_id,
            session_id,
            self.metrics.alerts.clone(),
        );
        let rungs = match (settings.transcode, &self.ladder) {
            (TranscodeProfile::Passthrough, _) => None,
            (TranscodeProfile::Abr, Some(rungs)) => Some(rungs.clone()),
            (TranscodeProfile::Abr, None) => {
                alerts.raise(
                    "transcoder_unavailable",
                    "ffmpeg is not installed where this stream is ingested; viewers get the source only"
                        .into(),
                );
                None
            }
        };
        let interval = settings.thumbnail_interval_seconds;
        let stream = StreamPlan {
            log: self.log.clone(),
            store: self.store.clone(),
            channel_id,
            session_id,
            latency_mode: settings.latency_mode,
            dvr_window_seconds: settings.dvr_window_seconds,
            thumbnails: self
                .thumbnail_width
                .filter(|_| interval > 0)
                .map(|width| (width, interval)),
            rungs,
            metrics: self.metrics.clone(),
        };
        self.metrics.ingest_publishers.inc();
        let position = self.publishing.register(channel_id, session_id, input, 0);
        Ok(Box::new(StoredPublication {
            input,
            plan: stream,
            tally,
            on_air: None,
            media_end_ms: 0,
            publishing: self.publishing.clone(),
            position,
            publishers: self.metrics.ingest_publishers.clone(),
            received: self.metrics.ingest_bytes.clone(),
            bus: self.bus.clone(),
            alerts,
            raised: Default::default(),
            storage: StorageAlarms::default(),
            session_end: Some(session_end),
            // A backup may go on air before the session got that far (the decider refuses
            // what is already so).
            media_flowing: !started && input == Input::Primary,
            live: !started && input == Input::Primary,
        }))
    }

    fn dropped(&self, reason: &str) {
        self.metrics
            .ingest_dropped
            .with_label_values(&[reason])
            .inc();
    }
}

/// The session a connect decision admitted the publisher to, and whether it started there.
fn admitted_session(events: &[Event]) -> Option<(SessionId, bool)> {
    events.iter().find_map(|event| match event {
        Event::SessionStarted { session_id, .. } => Some((*session_id, true)),
        Event::SessionRestreamed { session_id, .. }
        | Event::SessionFailedOver { session_id, .. }
        | Event::BackupConnected { session_id } => Some((*session_id, false)),
        _ => None,
    })
}

/// How each latency mode cuts a stream (segments still start on the encoder's keyframes, so
/// a segment lasts at least one GOP).
pub fn packaging_for(mode: LatencyMode) -> PackagerConfig {
    match mode {
        LatencyMode::Normal => PackagerConfig {
            part_target_ms: 1_000,
            segment_target_ms: 4_000,
        },
        LatencyMode::Low => PackagerConfig {
            part_target_ms: 1_000,
            segment_target_ms: 1_000,
        },
        LatencyMode::UltraLow => PackagerConfig {
            part_target_ms: 200,
            segment_target_ms: 1_000,
        },
    }
}

/// The storage alerts a session's on-air input raised, kept in step with the store: raised
/// when the disk goes below its low watermark or live media start being held in memory,
/// cleared when that is over.
#[derive(Default)]
struct StorageAlarms {
    low: bool,
    failing: bool,
}

impl StorageAlarms {
    fn observe(&mut self, store: &LiveStore, alerts: &Alerts) {
        let follow = |raised: &mut bool, holds: bool, code: &str, message: &str| {
            if holds != *raised {
                *raised = holds;
                if holds {
                    alerts.raise(code, message.into());
                } else {
                    alerts.clear(code);
                }
            }
        };
        follow(
            &mut self.low,
            store.disk_level() >= Level::Low,
            "storage_low",
            "the server's disk is below its low watermark: publishers that connect (or reconnect) are refused until space is freed",
        );
        follow(
            &mut self.failing,
            store.failing(),
            "storage_failing",
            "the object store is not taking live media: they are held in the ingesting server's memory (its viewers keep playing) until it does, or until the memory set aside is full",
        );
    }

    fn clear(&mut self, alerts: &Alerts) {
        for (raised, code) in [
            (&mut self.low, "storage_low"),
            (&mut self.failing, "storage_failing"),
        ] {
            if std::mem::take(raised) {
                alerts.clear(code);
            }
        }
    }
}

/// The transcoding ladder of a time on air.
enum LadderState {
    /// Passthrough, or no rung below the source.
    Off,
    /// Starts when the source's init segment tells its picture size.
    Wanted(Arc<Vec<Rung>>),
    Running(Transcoding),
}

/// What every time on air of a publication is made of: where its media go and how.
struct StreamPlan {
    log: Arc<dyn EventLog>,
    store: Arc<LiveStore>,
    channel_id: ChannelId,
    session_id: SessionId,
    latency_mode: LatencyMode,
    dvr_window_seconds: u32,
    /// Thumbnail width and interval; `None` when the channel takes none (or there is no ffmpeg).
    thumbnails: Option<(u32, u32)>,
    /// The ABR ladder's rungs; `None` for passthrough.
    rungs: Option<Arc<Vec<Rung>>>,
    metrics: IngestMetrics,
}

/// One time on air of a publisher connection: a stream of the session of its own (a new
/// connection id: players see a discontinuity), with its ladder and thumbnails.
struct OnAir {
    source: RenditionWriter,
    ladder: LadderState,
    thumbnails: Option<Thumbnails>,
    /// Where this time on air started on the session's timeline (ms), and the seconds of
    /// media it has packaged.
    timeline_start_ms: u64,
    media_seconds: f64,
}

impl OnAir {
    async fn start(plan: &StreamPlan, timeline_start_ms: u64, alerts: &Alerts) -> Self {
        let stream = StreamRef {
            channel_id: plan.channel_id,
            session_id: plan.session_id,
            connection: uuid::Uuid::new_v4().simple().to_string(),
            rendition: SOURCE_RENDITION.into(),
        };
        let mut source = RenditionWriter::new(
            plan.log.clone(),
            plan.store.clone(),
            stream,
            plan.latency_mode,
            packaging_for(plan.latency_mode),
            SegmentClock::default(),
        );
        source.dvr_window_seconds = plan.dvr_window_seconds;
        source.metrics = Some(plan.metrics.clone());
        let thumbnails = match plan.thumbnails {
            Some((width, interval)) => {
                Some(Thumbnails::start(width, interval, &source, alerts.clone()).await)
            }
            None => None,
        };
        Self {
            source,
            ladder: plan
                .rungs
                .clone()
                .map_or(LadderState::Off, LadderState::Wanted),
            thumbnails,
            timeline_start_ms,
            media_seconds: 0.0,
        }
    }

    fn media_end_ms(&self) -> u64 {
        self.timeline_start_ms + (self.media_seconds * 1000.0).round() as u64
    }

    /// Feeds the ladder and thumbnails, stores the source's piece.
    async fn write(&mut self, output: Output, alerts: &Alerts) -> Result<Stored, OutputError> {
        if let (Output::Init(init), LadderState::Wanted(rungs)) = (&output, &self.ladder) {
            self.ladder = match Transcoding::start(rungs, init, &self.source, alerts.clone()) {
                Some(transcoding) => LadderState::Running(transcoding),
                None => LadderState::Off,
            };
        }
        if let LadderState::Running(transcoding) = &mut self.ladder {
            transcoding.feed(&output);
        }
        if let Some(thumbnails) = &mut self.thumbnails {
            thumbnails.feed(&output);
        }
        if let Output::Part(part) = &output {
            self.media_seconds += part.duration;
        }
        self.source.write(output).await
    }

    /// The last segment is stored: says the stream ended, lets the ladder and thumbnails finish.
    async fn finish(self) {
        self.source.ended().await;
        if let LadderState::Running(transcoding) = self.ladder {
            transcoding.finish().await;
        }
        if let Some(thumbnails) = self.thumbnails {
            thumbnails.finish().await;
        }
    }
}

/// One publisher connection (the primary or the backup input): each time on air stored and
/// announced as it comes, the session driven through its lifecycle, the input's stalls and
/// its leaving reported so the other input can take over.
struct StoredPublication {
    input: Input,
    plan: StreamPlan,
    tally: TallyWatch,
    on_air: Option<OnAir>,
    /// Where the last time on air ended on the session's timeline (ms).
    media_end_ms: u64,
    /// The gauge of streaming publishers, decremented when this one ends.
    publishers: prometheus::IntGauge,
    /// Bytes of the publisher's media, packaged (its bitrate, as a rate).
    received: prometheus::IntCounter,
    bus: Arc<CommandBus>,
    alerts: Alerts,
    /// The stream-health alerts this input raised and has not cleared.
    raised: std::collections::HashSet<&'static str>,
    storage: StorageAlarms,
    /// Fires when a decision ends the session (owner stop, maximum duration).
    session_end: Option<tokio::sync::oneshot::Receiver<EndReason>>,
    /// Whether the session is known to be past `init`, and past `processing`.
    media_flowing: bool,
    live: bool,
    /// This process's publications (for heartbeats), and where this one's media got to (ms).
    publishing: Publishing,
    position: Arc<std::sync::atomic::AtomicU64>,
}

impl StoredPublication {
    /// Moves the session on; a refusal (another input moved it already) is only logged.
    async fn advance(&self, action: IngestAction) {
        if let Err(refusal) = LogAdmission::ingest(&self.bus, self.plan.channel_id, action).await {
            tracing::info!(session_id = %self.plan.session_id, %refusal, "session not advanced");
        }
    }

    fn media_end_ms(&self) -> u64 {
        self.on_air
            .as_ref()
            .map_or(self.media_end_ms, OnAir::media_end_ms)
    }
}

#[async_trait]
impl Publication for StoredPublication {
    fn packaging(&self) -> PackagerConfig {
        packaging_for(self.plan.latency_mode)
    }

    fn tally(&mut self) -> watch::Receiver<Tally> {
        self.tally.receiver.clone()
    }

    fn health(&mut self, change: HealthChange) {
        let session_id = self.plan.session_id;
        // Silence is what makes the other input take over (or give the air back).
        if change.code == NO_MEDIA {
            self.alerts.record(if change.raised {
                IngestAction::InputStalled {
                    session_id,
                    input: self.input,
                    media_end_ms: self.media_end_ms().max(change.media_end_ms.unwrap_or(0)),
                }
            } else {
                IngestAction::InputRecovered {
                    session_id,
                    input: self.input,
                }
            });
        }
        // A standby input's trouble is not the session's, until it is on air; an input clears
        // only what it raised (the other input's alert of the same code stays).
        if change.raised && self.on_air.is_some() {
            self.raised.insert(change.code);
            self.alerts.raise(change.code, change.message);
        } else if !change.raised && self.raised.remove(change.code) {
            self.alerts.clear(change.code);
        }
    }

    fn stop_signal(&mut self) -> BoxFuture<'static, String> {
        let end = self.session_end.take();
        Box::pin(async move {
            match end {
                Some(end) => match end.await {
                    Ok(reason) => format!("the session ended ({})", reason.as_str()),
                    Err(_) => std::future::pending().await,
                },
                None => std::future::pending().await,
            }
        })
    }

    async fn on_air(&mut self, timeline_start_ms: u64) {
        tracing::info!(session_id = %self.plan.session_id, input = self.input.as_str(), timeline_start_ms, "on air");
        self.position
            .store(timeline_start_ms, std::sync::atomic::Ordering::Relaxed);
        self.on_air = Some(OnAir::start(&self.plan, timeline_start_ms, &self.alerts).await);
    }

    async fn output(&mut self, output: Output) -> Result<(), OutputError> {
        let on_air = self
            .on_air
            .as_mut()
            .ok_or_else(|| OutputError("media while off air".into()))?;
        if let Output::Part(part) = &output {
            self.received.inc_by(part.bytes.len() as u64);
        }
        let stored = on_air.write(output, &self.alerts).await;
        self.storage.observe(&self.plan.store, &self.alerts);
        let stored = stored?;
        self.position
            .store(on_air.media_end_ms(), std::sync::atomic::Ordering::Relaxed);
        let session_id = self.plan.session_id;
        match stored {
            Stored::Init => {}
            Stored::Part if !self.media_flowing => {
                self.media_flowing = true;
                self.advance(IngestAction::MediaFlowing { session_id })
                    .await;
            }
            Stored::Segment if !self.live => {
                self.live = true;
                self.advance(IngestAction::FirstSegment { session_id })
                    .await;
            }
            Stored::Part | Stored::Segment => {}
        }
        Ok(())
    }

    async fn off_air(&mut self) {
        // What this input raised about storage is its own to clear; the next input on air
        // raises it again if it still holds.
        self.storage.clear(&self.alerts);
        if let Some(on_air) = self.on_air.take() {
            tracing::info!(session_id = %self.plan.session_id, input = self.input.as_str(), "off air");
            self.media_end_ms = on_air.media_end_ms();
            on_air.finish().await;
        }
    }

    async fn ended(mut self: Box<Self>) {
        self.off_air().await;
        self.publishers.dec();
        let (bus, channel_id, session_id) =
            (self.bus.clone(), self.plan.channel_id, self.plan.session_id);
        self.publishing.remove(session_id, self.input);
        let media_end_ms = self.media_end_ms;
        let disconnect = IngestAction::disconnect(self.input, session_id, media_end_ms);
        // After the reconnect window the session ends (the deciders' timer), unless a
        // publisher comes back or the other input carries it.
        if let Err(refusal) = LogAdmission::ingest(&bus, channel_id, disconnect).await {
            tracing::info!(%channel_id, %session_id, %refusal, "disconnect not recorded (the session already ended?)");
        }
    }
}
