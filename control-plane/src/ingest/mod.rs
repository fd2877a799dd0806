//! Ingest wired into a platform or worker process: the edge worker's [`Admission`] port
//! answered by the command log (a publisher is a `ConnectPublisher` command its channel's
//! decider accepts or rejects) and its [`Publication`] port storing media in the object store
//! and driving the session through `init → processing → live`, then `DisconnectPublisher` and,
//! once the reconnect window has passed without a return, `EndSession`.
//!
//! - [`writer`]: one rendition's pieces, stored then announced on the media topic.
//! - [`transcode`]: the ABR ladder (one ffmpeg per session) fed from the source.

pub mod thumbnails;
mod transcode;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sigma_edge_worker::cmaf::{Output, PackagerConfig};
use sigma_edge_worker::health::HealthChange;
use sigma_edge_worker::ingest::{Admission, OutputError, Publication, Refusal};
use sigma_edge_worker::ladder::Rung;
use sigma_shared::command::{ChannelCommand, Command, IngestAction};
use sigma_shared::event::Event;
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::log::EventLog;
use sigma_shared::media::{StreamRef, SOURCE_RENDITION};
use sigma_shared::rejection::Rejection;
use sigma_shared::session::EndReason;
use sigma_shared::settings::{LatencyMode, TranscodeProfile};

use self::thumbnails::Thumbnails;
use self::transcode::{Alerts, Transcoding};
use self::writer::{RenditionWriter, SegmentClock, Stored};
use crate::commands::CommandBus;
use crate::db;

pub struct LogAdmission {
    pub bus: Arc<CommandBus>,
    pub metrics: crate::metrics::Metrics,
    pub log: Arc<dyn EventLog>,
    pub db: DatabaseConnection,
    pub store: Arc<dyn ObjectStore>,
    /// The ABR ladder's rungs; `None` when this process has no ffmpeg (ABR channels then play
    /// their source only, with an alert).
    pub ladder: Option<Arc<Vec<Rung>>>,
    /// Thumbnail width in pixels; `None` when this process has no ffmpeg.
    pub thumbnail_width: Option<u32>,
    /// What this process ingests, for its heartbeats.
    pub publishing: crate::nodes::Publishing,
}

impl LogAdmission {
    pub(crate) async fn ingest(
        bus: &CommandBus,
        channel_id: ChannelId,
        action: IngestAction,
    ) -> Result<Vec<Event>, Refusal> {
        let command = Command::Channel {
            channel_id,
            command: ChannelCommand::Ingest { action },
        };
        match bus.submit(command).await {
            Ok(Ok(events)) => Ok(events.into_iter().map(|envelope| envelope.event).collect()),
            Ok(Err(rejection)) => Err(match rejection {
                Rejection::WrongStreamKey | Rejection::NotFound { .. } => Refusal::UnknownKey,
                Rejection::ChannelStopped => Refusal::ChannelStopped,
                Rejection::PublisherAlreadyConnected => Refusal::AlreadyPublishing,
                other => Refusal::Unavailable(other.to_string()),
            }),
            Err(error) => Err(Refusal::Unavailable(error.to_string())),
        }
    }
}

#[async_trait]
impl Admission for LogAdmission {
    async fn admit(&self, stream_key: &str) -> Result<Box<dyn Publication>, Refusal> {
        let channel = db::channels::Entity::find()
            .filter(db::channels::Column::StreamKey.eq(stream_key))
            .one(&self.db)
            .await
            .map_err(|error| Refusal::Unavailable(error.to_string()))?
            .ok_or(Refusal::UnknownKey)?;
        let channel_id: ChannelId = channel.id.parse().map_err(|_| Refusal::UnknownKey)?;
        let new_session_id = SessionId::generate();
        let action = IngestAction::ConnectPublisher {
            stream_key: stream_key.to_owned(),
            new_session_id,
        };
        let events = Self::ingest(&self.bus, channel_id, action).await?;
        // A return within the reconnect window continues the open session.
        let (session_id, restream, resume_at_ms) = events
            .iter()
            .find_map(|event| match event {
                Event::SessionRestreamed {
                    session_id,
                    resume_at_ms,
                } => Some((*session_id, true, *resume_at_ms)),
                _ => None,
            })
            .unwrap_or((new_session_id, false, 0));
        tracing::info!(%channel_id, %session_id, restream, "publisher admitted");
        let latency_mode: LatencyMode = crate::project::channels::text_enum(&channel.latency_mode);
        let session_end = self.bus.on_session_end(session_id);
        if !restream {
            // The maximum duration, counted from the session's start (this admission).
            let (bus, limit) = (
                self.bus.clone(),
                Duration::from_secs(channel.max_session_seconds.max(0) as u64),
            );
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                let end = IngestAction::EndSession {
                    session_id,
                    reason: EndReason::MaxDuration,
                };
                if LogAdmission::ingest(&bus, channel_id, end).await.is_ok() {
                    tracing::info!(%channel_id, %session_id, "session ended: maximum duration reached");
                }
            });
        }
        let stream = StreamRef {
            channel_id,
            session_id,
            connection: uuid::Uuid::new_v4().simple().to_string(),
            rendition: SOURCE_RENDITION.into(),
        };
        let alerts = Alerts {
            bus: self.bus.clone(),
            channel_id,
            session_id,
            counted: self.metrics.alerts.clone(),
        };
        let transcode: TranscodeProfile = crate::project::channels::text_enum(&channel.transcode);
        let ladder = match (transcode, &self.ladder) {
            (TranscodeProfile::Passthrough, _) => LadderState::Off,
            (TranscodeProfile::Abr, Some(rungs)) => LadderState::Wanted(rungs.clone()),
            (TranscodeProfile::Abr, None) => {
                alerts.raise(
                    "transcoder_unavailable",
                    "ffmpeg is not installed where this stream is ingested; viewers get the source only"
                        .into(),
                );
                LadderState::Off
            }
        };
        let mut source = RenditionWriter::new(
            self.log.clone(),
            self.store.clone(),
            stream,
            latency_mode,
            packaging_for(latency_mode),
            SegmentClock::default(),
        );
        source.dvr_window_seconds = u32::try_from(channel.dvr_window_seconds).unwrap_or(0);
        source.metrics = Some(self.metrics.clone());
        let interval = u32::try_from(channel.thumbnail_interval_seconds).unwrap_or(0);
        let thumbnails = match self.thumbnail_width {
            Some(width) if interval > 0 => {
                Some(Thumbnails::start(width, interval, &source, alerts.clone()).await)
            }
            _ => None,
        };
        self.metrics.ingest_publishers.inc();
        let position = self
            .publishing
            .register(channel_id, session_id, resume_at_ms);
        Ok(Box::new(StoredPublication {
            publishing: self.publishing.clone(),
            position,
            publishers: self.metrics.ingest_publishers.clone(),
            received: self.metrics.ingest_bytes.clone(),
            bus: self.bus.clone(),
            source,
            ladder,
            thumbnails,
            alerts,
            session_end: Some(session_end),
            reconnect_window: Duration::from_secs(channel.reconnect_window_seconds.max(0) as u64),
            media_flowing: restream,
            live: restream,
            timeline_start_ms: resume_at_ms,
            media_seconds: 0.0,
        }))
    }

    fn dropped(&self, reason: &str) {
        self.metrics
            .ingest_dropped
            .with_label_values(&[reason])
            .inc();
    }
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

/// The transcoding ladder of a publication.
enum LadderState {
    /// Passthrough, or no rung below the source.
    Off,
    /// Starts when the source's init segment tells its picture size.
    Wanted(Arc<Vec<Rung>>),
    Running(Transcoding),
}

/// One publisher connection: the source rendition stored and announced as it comes, the
/// ladder fed from it, the session driven through its lifecycle.
struct StoredPublication {
    /// The gauge of streaming publishers, decremented when this one ends.
    publishers: prometheus::IntGauge,
    /// Bytes of the publisher's media, packaged (its bitrate, as a rate).
    received: prometheus::IntCounter,
    bus: Arc<CommandBus>,
    source: RenditionWriter,
    ladder: LadderState,
    /// `None` when the channel takes no thumbnails (or there is no ffmpeg).
    thumbnails: Option<Thumbnails>,
    alerts: Alerts,
    /// Fires when a decision ends the session (owner stop, maximum duration).
    session_end: Option<tokio::sync::oneshot::Receiver<EndReason>>,
    reconnect_window: Duration,
    media_flowing: bool,
    live: bool,
    /// Where this connection's timeline started (ms), and the seconds of media it has sent.
    timeline_start_ms: u64,
    media_seconds: f64,
    /// This process's publications (for heartbeats), and where this one's media got to (ms).
    publishing: crate::nodes::Publishing,
    position: Arc<std::sync::atomic::AtomicU64>,
}

impl StoredPublication {
    async fn advance(&self, action: IngestAction) -> Result<(), OutputError> {
        LogAdmission::ingest(&self.bus, self.source.stream.channel_id, action)
            .await
            .map(|_| ())
            .map_err(|refusal| OutputError(refusal.to_string()))
    }
}

#[async_trait]
impl Publication for StoredPublication {
    fn packaging(&self) -> PackagerConfig {
        self.source.packaging
    }

    fn health(&mut self, change: HealthChange) {
        if change.raised {
            self.alerts.raise(change.code, change.message);
        } else {
            self.alerts.clear(change.code);
        }
    }

    fn timeline_start_ms(&self) -> u64 {
        self.timeline_start_ms
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

    async fn output(&mut self, output: Output) -> Result<(), OutputError> {
        if let (Output::Init(init), LadderState::Wanted(rungs)) = (&output, &self.ladder) {
            self.ladder = match Transcoding::start(rungs, init, &self.source, self.alerts.clone()) {
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
        let session_id = self.source.stream.session_id;
        if let Output::Part(part) = &output {
            self.received.inc_by(part.bytes.len() as u64);
            self.media_seconds += part.duration;
            self.position.store(
                self.timeline_start_ms + (self.media_seconds * 1000.0).round() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        match self.source.write(output).await? {
            Stored::Init => {}
            Stored::Part => {
                if !self.media_flowing {
                    self.media_flowing = true;
                    self.advance(IngestAction::MediaFlowing { session_id })
                        .await?;
                }
            }
            Stored::Segment => {
                if !self.live {
                    self.live = true;
                    self.advance(IngestAction::FirstSegment { session_id })
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn ended(self: Box<Self>) {
        self.publishers.dec();
        self.publishing.remove(self.source.stream.session_id);
        self.source.ended().await;
        if let LadderState::Running(transcoding) = self.ladder {
            transcoding.finish().await;
        }
        if let Some(thumbnails) = self.thumbnails {
            thumbnails.finish().await;
        }
        let (bus, channel_id, session_id) = (
            self.bus.clone(),
            self.source.stream.channel_id,
            self.source.stream.session_id,
        );
        if let Err(refusal) = LogAdmission::ingest(
            &bus,
            channel_id,
            IngestAction::DisconnectPublisher {
                session_id,
                media_end_ms: self.timeline_start_ms + (self.media_seconds * 1000.0).round() as u64,
            },
        )
        .await
        {
            tracing::info!(%channel_id, %session_id, %refusal, "disconnect not recorded (the session already ended?)");
            return;
        }
        // After the reconnect window the session ends, unless the publisher came back (then
        // the decider refuses the end as too early).
        let window = self.reconnect_window;
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            let end = IngestAction::EndSession {
                session_id,
                reason: EndReason::PublisherGone,
            };
            match LogAdmission::ingest(&bus, channel_id, end).await {
                Ok(_) => {
                    tracing::info!(%channel_id, %session_id, "session ended: the publisher did not return")
                }
                Err(refusal) => {
                    tracing::debug!(%channel_id, %session_id, %refusal, "session continues")
                }
            }
        });
    }
}
