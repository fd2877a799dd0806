//! Ingest wired into the standalone process: the edge worker's [`Admission`] port answered by
//! the command log (a publisher is a `ConnectPublisher` command its channel's decider accepts
//! or rejects) and its [`Publication`] port storing media in the object store and driving the
//! session through `init → processing → live`, then `DisconnectPublisher` and, once the
//! reconnect window has passed without a return, `EndSession`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sigma_edge_worker::cmaf::Output;
use sigma_edge_worker::ingest::{Admission, OutputError, Publication, Refusal};
use sigma_shared::command::{ChannelCommand, Command, IngestAction};
use sigma_shared::event::Event;
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::rejection::Rejection;
use sigma_shared::session::EndReason;

use crate::commands::CommandBus;
use crate::db;

pub struct LogAdmission {
    pub bus: Arc<CommandBus>,
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
        Ok(Box::new(StoredPublication {
            bus: self.bus.clone(),
            store: self.store.clone(),
            channel_id,
            session_id,
            reconnect_window: Duration::from_secs(channel.reconnect_window_seconds.max(0) as u64),
            connection: uuid::Uuid::new_v4().simple().to_string(),
            segment_parts: Vec::new(),
            media_flowing: restream,
            live: restream,
        }))
    }
}

/// One publisher's media, stored under `live/{channel}/{session}/`.
struct StoredPublication {
    bus: Arc<CommandBus>,
    store: Arc<dyn ObjectStore>,
    channel_id: ChannelId,
    session_id: SessionId,
    reconnect_window: Duration,
    /// Distinguishes this connection's objects from a reconnected publisher's.
    connection: String,
    /// The current segment's parts, concatenated into the segment when it ends.
    segment_parts: Vec<Bytes>,
    media_flowing: bool,
    live: bool,
}

impl StoredPublication {
    fn path(&self, name: &str) -> StorePath {
        StorePath::from(format!(
            "live/{}/{}/{}/{name}",
            self.channel_id, self.session_id, self.connection
        ))
    }

    async fn put(&self, name: &str, bytes: Bytes) -> Result<(), OutputError> {
        self.store
            .put(&self.path(name), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|error| OutputError(error.to_string()))
    }

    async fn advance(&self, action: IngestAction) -> Result<(), OutputError> {
        LogAdmission::ingest(&self.bus, self.channel_id, action)
            .await
            .map(|_| ())
            .map_err(|refusal| OutputError(refusal.to_string()))
    }
}

#[async_trait]
impl Publication for StoredPublication {
    async fn output(&mut self, output: Output) -> Result<(), OutputError> {
        match output {
            Output::Init(bytes) => self.put("init.mp4", bytes).await?,
            Output::Part(part) => {
                // Media are stored before anything says they exist.
                self.put(
                    &format!("{}.{}.m4s", part.segment, part.index),
                    part.bytes.clone(),
                )
                .await?;
                self.segment_parts.push(part.bytes);
                if !self.media_flowing {
                    self.media_flowing = true;
                    self.advance(IngestAction::MediaFlowing {
                        session_id: self.session_id,
                    })
                    .await?;
                }
            }
            Output::SegmentEnd { segment, .. } => {
                let bytes: Vec<u8> = self
                    .segment_parts
                    .drain(..)
                    .flat_map(|part| part.to_vec())
                    .collect();
                self.put(&format!("{segment}.m4s"), bytes.into()).await?;
                if !self.live {
                    self.live = true;
                    self.advance(IngestAction::FirstSegment {
                        session_id: self.session_id,
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn ended(self: Box<Self>) {
        let (bus, channel_id, session_id) = (self.bus.clone(), self.channel_id, self.session_id);
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
        // the decider refuses the end as too early or the session as reconnected).
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
