//! A connection's thumbnails wired to storage and the log: every `interval` seconds of source
//! media, the next part that starts with a keyframe goes to the edge worker's [`Thumbnailer`];
//! each picture it returns is stored as `thumbs/{session}/{index:06}.jpg` and `latest.jpg`,
//! drawn into its storyboard sheet (`sprite-{sheet}.jpg`, re-stored), and announced as
//! `ThumbnailReady`. Numbering continues across the session's reconnects. The session's first
//! picture is also a domain event (`thumbnail.ready`) for its history and webhooks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use sigma_media::cmaf::Output;
use sigma_media::thumbs::sprite::{self, Sheet};
use sigma_shared::command::IngestAction;
use sigma_shared::ids::SessionId;
use sigma_shared::log::EventLog;
use sigma_shared::media::{MediaEvent, StreamRef};
use tokio::sync::mpsc;

use super::transcode::Alerts;
use super::writer::{announce, RenditionWriter};
use crate::thumbs::{ThumbnailEvent, Thumbnailer};

pub struct Thumbnails {
    thumbnailer: Thumbnailer,
    forwarder: tokio::task::JoinHandle<()>,
    interval: f64,
    /// Source media seconds seen on this connection, and when the next thumbnail is due.
    elapsed: f64,
    due: f64,
    next_index: u64,
    /// Where each requested thumbnail's keyframe is: (segment, part), by index.
    places: Arc<Mutex<HashMap<u64, (u64, u32)>>>,
}

impl Thumbnails {
    /// Starts thumbnails `width` pixels wide every `interval_seconds` for the source `source`
    /// writes, numbered after those the session already has.
    pub async fn start(
        width: u32,
        interval_seconds: u32,
        source: &RenditionWriter,
        alerts: Alerts,
    ) -> Self {
        let store = source.store.store().clone();
        let stream = source.stream.clone();
        let next_index = stored_count(store.as_ref(), stream.session_id).await;
        let places: Arc<Mutex<HashMap<u64, (u64, u32)>>> = Arc::default();
        let (events, reports) = mpsc::unbounded_channel();
        let forwarder = tokio::spawn(forward(
            reports,
            Storage {
                store,
                log: source.log.clone(),
                stream,
            },
            places.clone(),
            alerts,
        ));
        Self {
            thumbnailer: Thumbnailer::start(width, events),
            forwarder,
            interval: f64::from(interval_seconds.max(1)),
            elapsed: 0.0,
            due: 0.0,
            next_index,
            places,
        }
    }

    /// Looks at what the source packager produced.
    pub fn feed(&mut self, output: &Output) {
        match output {
            Output::Init(init) => self.thumbnailer.init(init.bytes.clone()),
            Output::Part(part) => {
                if part.independent && self.elapsed >= self.due {
                    let index = self.next_index;
                    self.places
                        .lock()
                        .expect("places")
                        .insert(index, (part.segment, part.index));
                    if self.thumbnailer.keyframe(index, part.bytes.clone()) {
                        self.next_index += 1;
                        while self.due <= self.elapsed {
                            self.due += self.interval;
                        }
                    }
                }
                self.elapsed += part.duration;
            }
            Output::SegmentEnd { .. } => {}
        }
    }

    /// The connection ended: the last pictures are stored, then this returns.
    pub async fn finish(self) {
        self.thumbnailer.finish().await;
        let _ = self.forwarder.await;
    }
}

/// Where the pictures go.
struct Storage {
    store: Arc<dyn ObjectStore>,
    log: Arc<dyn EventLog>,
    stream: StreamRef,
}

impl Storage {
    fn key(&self, file: &str) -> StorePath {
        StorePath::from(format!("thumbs/{}/{file}", self.stream.session_id))
    }

    async fn put(&self, file: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.store
            .put(&self.key(file), PutPayload::from(bytes))
            .await
            .map(|_| ())
    }

    /// Thumbnail `index`, stored earlier in the session (to redraw a sheet after a reconnect).
    async fn numbered(&self, index: u64) -> Option<Bytes> {
        let object = self.store.get(&self.key(&numbered(index))).await.ok()?;
        object.bytes().await.ok()
    }
}

fn numbered(index: u64) -> String {
    format!("{index:06}.jpg")
}

/// How many numbered thumbnails a session has: a reconnect continues after them, and the
/// ended session's storyboard holds them all.
pub async fn stored_count(store: &dyn ObjectStore, session_id: SessionId) -> u64 {
    let prefix = StorePath::from(format!("thumbs/{session_id}"));
    let listed: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .unwrap_or_default();
    listed
        .iter()
        .filter_map(|object| {
            object
                .location
                .filename()?
                .strip_suffix(".jpg")?
                .parse::<u64>()
                .ok()
        })
        .map(|index| index + 1)
        .max()
        .unwrap_or(0)
}

async fn forward(
    mut reports: mpsc::UnboundedReceiver<ThumbnailEvent>,
    storage: Storage,
    places: Arc<Mutex<HashMap<u64, (u64, u32)>>>,
    alerts: Alerts,
) {
    let mut sheet: Option<Sheet> = None;
    while let Some(report) = reports.recv().await {
        let (index, jpeg) = match report {
            ThumbnailEvent::Picture { tag, jpeg } => (tag, jpeg),
            ThumbnailEvent::Failed { error, restarting } => {
                let code = if restarting {
                    "thumbnailer_failed"
                } else {
                    "thumbnailer_stopped"
                };
                alerts.raise(code, error);
                continue;
            }
        };
        let Some((segment, part)) = places.lock().expect("places").remove(&index) else {
            continue;
        };
        match store_one(&storage, &mut sheet, index, jpeg, segment, part).await {
            // Numbering continues across reconnects: index 0 is the session's first picture.
            Ok(()) if index == 0 => alerts.record(IngestAction::ShowThumbnail {
                session_id: storage.stream.session_id,
                path: storage.key("latest.jpg").to_string(),
            }),
            Ok(()) => {}
            Err(error) => tracing::warn!(%error, index, "a thumbnail was not stored"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ThumbnailError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Sprite(#[from] sprite::SpriteError),
    #[error("unreadable picture")]
    Picture,
    #[error("{0}")]
    Announce(String),
}

/// Stores one picture, its sheet, and announces it.
async fn store_one(
    storage: &Storage,
    sheet: &mut Option<Sheet>,
    index: u64,
    jpeg: Bytes,
    segment: u64,
    part: u32,
) -> Result<(), ThumbnailError> {
    let (width, height) = sprite::dimensions(&jpeg).ok_or(ThumbnailError::Picture)?;
    storage.put(&numbered(index), jpeg.clone()).await?;
    storage.put("latest.jpg", jpeg.clone()).await?;
    let (number, x, y) = sprite::place(index, (width, height));
    // A new sheet (or a reconnect mid-sheet): the earlier tiles come back from the store.
    let mut tiles = Vec::new();
    let current = match sheet.take().filter(|sheet| sheet.number == number) {
        Some(current) => current,
        None => {
            for earlier in number * sprite::PER_SHEET..index {
                if let Some(picture) = storage.numbered(earlier).await {
                    tiles.push((earlier, picture));
                }
            }
            Sheet::new(number, (width, height))
        }
    };
    tiles.push((index, jpeg));
    // Decoding and encoding pictures is CPU work: off the async workers, which serve playback.
    let (current, encoded) = tokio::task::spawn_blocking(move || {
        let mut current = current;
        let ((tile, picture), earlier) = tiles.split_last().expect("the new tile");
        for (earlier, stored) in earlier {
            let _ = current.draw(*earlier, stored); // a lost earlier tile stays black
        }
        let encoded = current.draw(*tile, picture).and_then(|()| current.encode());
        (current, encoded)
    })
    .await
    .map_err(|_| ThumbnailError::Picture)?;
    *sheet = Some(current);
    storage
        .put(&format!("sprite-{number}.jpg"), encoded?.into())
        .await?;
    announce(
        storage.log.as_ref(),
        MediaEvent::ThumbnailReady {
            stream: storage.stream.clone(),
            index,
            segment,
            part,
            width,
            height,
            sheet: number,
            x,
            y,
        },
    )
    .await
    .map_err(|error| ThumbnailError::Announce(error.to_string()))
}
