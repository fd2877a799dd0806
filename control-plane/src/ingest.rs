//! Ingest wired into the standalone process: the edge worker's [`Admission`] port answered by
//! the command log (a publisher is a `ConnectPublisher` command its channel's decider accepts
//! or rejects) and its [`Publication`] port storing media in the object store and driving the
//! session through `init → processing → live`, then `DisconnectPublisher` and, once the
//! reconnect window has passed without a return, `EndSession`. Every stored piece is announced
//! on the media topic after it is stored, for the playback servers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sigma_edge_worker::cmaf::{Output, PackagerConfig};
use sigma_edge_worker::ingest::{Admission, OutputError, Publication, Refusal};
use sigma_shared::command::{ChannelCommand, Command, IngestAction};
use sigma_shared::event::Event;
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::log::{EventLog, MEDIA_TOPIC};
use sigma_shared::media::{MediaEvent, StreamRef};
use sigma_shared::rejection::Rejection;
use sigma_shared::session::EndReason;
use sigma_shared::settings::LatencyMode;

use crate::commands::CommandBus;
use crate::db;

pub struct LogAdmission {
    pub bus: Arc<CommandBus>,
    pub metrics: crate::metrics::Metrics,
    pub log: Arc<dyn EventLog>,
    pub db: DatabaseConnection,
    pub store: Arc<dyn ObjectStore>,
}

impl LogAdmission {
    async fn ingest(
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
        let (session_id, restream) = events
            .iter()
            .find_map(|event| match event {
                Event::SessionRestreamed { session_id } => Some((*session_id, true)),
                _ => None,
            })
            .unwrap_or((new_session_id, false));
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
        };
        self.metrics.ingest_publishers.inc();
        Ok(Box::new(StoredPublication {
            publishers: self.metrics.ingest_publishers.clone(),
            bus: self.bus.clone(),
            log: self.log.clone(),
            store: self.store.clone(),
            stream,
            session_end: Some(session_end),
            latency_mode,
            reconnect_window: Duration::from_secs(channel.reconnect_window_seconds.max(0) as u64),
            segment_parts: Vec::new(),
            segment_started: None,
            media_flowing: restream,
            live: restream,
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

/// One publisher connection's media, stored under `live/{channel}/{session}/{connection}/`.
struct StoredPublication {
    /// The gauge of streaming publishers, decremented when this one ends.
    publishers: prometheus::IntGauge,
    bus: Arc<CommandBus>,
    log: Arc<dyn EventLog>,
    store: Arc<dyn ObjectStore>,
    stream: StreamRef,
    /// Fires when a decision ends the session (owner stop, maximum duration).
    session_end: Option<tokio::sync::oneshot::Receiver<EndReason>>,
    latency_mode: LatencyMode,
    reconnect_window: Duration,
    /// The current segment's parts, concatenated into the segment when it ends.
    segment_parts: Vec<Bytes>,
    /// Ingest wall clock at the current segment's first part.
    segment_started: Option<chrono::DateTime<chrono::Utc>>,
    media_flowing: bool,
    live: bool,
}

impl StoredPublication {
    /// The object path of `name`, relative to the channel's `live/{channel}/` prefix.
    fn relative(&self, name: &str) -> String {
        format!(
            "{}/{}/{name}",
            self.stream.session_id, self.stream.connection
        )
    }

    /// Stores `bytes` and returns the path relative to the channel.
    async fn put(&self, name: &str, bytes: Bytes) -> Result<String, OutputError> {
        let relative = self.relative(name);
        let path = StorePath::from(format!("live/{}/{relative}", self.stream.channel_id));
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|error| OutputError(error.to_string()))?;
        Ok(relative)
    }

    async fn announce(&self, event: MediaEvent) -> Result<(), OutputError> {
        let key = self.stream.channel_id.to_string();
        self.log
            .append(MEDIA_TOPIC, &key, &event.to_bytes())
            .await
            .map(|_| ())
            .map_err(|error| OutputError(error.to_string()))
    }

    async fn advance(&self, action: IngestAction) -> Result<(), OutputError> {
        LogAdmission::ingest(&self.bus, self.stream.channel_id, action)
            .await
            .map(|_| ())
            .map_err(|refusal| OutputError(refusal.to_string()))
    }
}

#[async_trait]
impl Publication for StoredPublication {
    fn packaging(&self) -> PackagerConfig {
        packaging_for(self.latency_mode)
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
        let stream = self.stream.clone();
        let session_id = stream.session_id;
        // Media are stored before anything says they exist.
        match output {
            Output::Init(init) => {
                let path = self.put("init.mp4", init.bytes).await?;
                let packaging = self.packaging();
                self.announce(MediaEvent::InitReady {
                    stream,
                    path,
                    codecs: init.codecs,
                    resolution: init.resolution,
                    latency_mode: self.latency_mode,
                    part_target_ms: packaging.part_target_ms,
                    segment_target_ms: packaging.segment_target_ms,
                })
                .await?;
            }
            Output::Part(part) => {
                let path = self
                    .put(
                        &format!("{}.{}.m4s", part.segment, part.index),
                        part.bytes.clone(),
                    )
                    .await?;
                self.segment_started.get_or_insert_with(chrono::Utc::now);
                self.segment_parts.push(part.bytes);
                let (segment, index, independent, duration) =
                    (part.segment, part.index, part.independent, part.duration);
                self.announce(MediaEvent::PartReady {
                    stream,
                    segment,
                    index,
                    independent,
                    duration,
                    path,
                })
                .await?;
                if !self.media_flowing {
                    self.media_flowing = true;
                    self.advance(IngestAction::MediaFlowing { session_id })
                        .await?;
                }
            }
            Output::SegmentEnd {
                segment, duration, ..
            } => {
                // The segment is its parts back to back: one copy, into a buffer of the right size.
                let mut bytes = Vec::with_capacity(self.segment_parts.iter().map(Bytes::len).sum());
                for part in self.segment_parts.drain(..) {
                    bytes.extend_from_slice(&part);
                }
                let size = bytes.len() as u64;
                let path = self.put(&format!("{segment}.m4s"), bytes.into()).await?;
                let program_date_time =
                    self.segment_started.take().unwrap_or_else(chrono::Utc::now);
                self.announce(MediaEvent::SegmentReady {
                    stream,
                    segment,
                    duration,
                    bytes: size,
                    path,
                    program_date_time,
                })
                .await?;
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
        let _ = self
            .announce(MediaEvent::StreamEnded {
                stream: self.stream.clone(),
            })
            .await;
        let (bus, channel_id, session_id) = (
            self.bus.clone(),
            self.stream.channel_id,
            self.stream.session_id,
        );
        if let Err(refusal) = LogAdmission::ingest(
            &bus,
            channel_id,
            IngestAction::DisconnectPublisher { session_id },
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
