//! One rendition of one publisher connection: each packaged piece is stored in the object store
//! under `live/{channel}/{session}/{connection}/{rendition}/`, then announced on the media topic.
//! Media are stored (or, while the store fails, held in this process's memory: see
//! [`crate::storage`]) before anything says they exist.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::path::Path as StorePath;
use sigma_media::cmaf::{Output, PackagerConfig};
use sigma_shared::log::{EventLog, MEDIA_TOPIC};
use sigma_shared::media::{MediaEvent, StreamRef};
use sigma_shared::settings::LatencyMode;

use crate::ingest::OutputError;
use crate::metrics::IngestMetrics;
use crate::storage::LiveStore;

/// Program date-times of a connection's segments, by segment number, set by the source and
/// reused by the ladder's renditions (whose segments are cut at the same keyframes but leave
/// the transcoder later), so every rendition carries the same date-times.
#[derive(Clone, Default)]
pub struct SegmentClock(Arc<Mutex<BTreeMap<u64, DateTime<Utc>>>>);

/// Segment date-times remembered per connection (a transcoder is never this far behind).
const REMEMBERED_SEGMENTS: usize = 64;

impl SegmentClock {
    /// The date-time of `segment`: the one already given, else now (and remembered).
    fn stamp(&self, segment: u64) -> DateTime<Utc> {
        let mut stamps = self.0.lock().expect("segment clock");
        let stamp = *stamps.entry(segment).or_insert_with(Utc::now);
        while stamps.len() > REMEMBERED_SEGMENTS {
            stamps.pop_first();
        }
        stamp
    }
}

/// Publishes a media event (after what it describes is stored), keyed by its channel.
pub async fn announce(log: &dyn EventLog, event: MediaEvent) -> Result<(), OutputError> {
    let key = event.stream().channel_id.to_string();
    log.append(MEDIA_TOPIC, &key, &event.to_bytes())
        .await
        .map(|_| ())
        .map_err(|error| OutputError(error.to_string()))
}

/// What a stored output was, for the caller's bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Init,
    Part,
    Segment,
}

impl Stored {
    fn name(self) -> &'static str {
        match self {
            Stored::Init => "init",
            Stored::Part => "part",
            Stored::Segment => "segment",
        }
    }
}

pub struct RenditionWriter {
    pub log: Arc<dyn EventLog>,
    /// The object store, or memory while it fails.
    pub store: Arc<LiveStore>,
    pub stream: StreamRef,
    pub latency_mode: LatencyMode,
    pub packaging: PackagerConfig,
    /// The encoder's target bits per second, for ladder renditions.
    pub bandwidth: Option<u64>,
    /// The channel's DVR window, for the playlists.
    pub dvr_window_seconds: u32,
    pub clock: SegmentClock,
    /// Where packaging is counted and timed (`None` in tools that only package).
    pub metrics: Option<IngestMetrics>,
    /// The current segment's parts, concatenated into the segment when it ends.
    segment_parts: Vec<Bytes>,
    /// The current segment's date-time, taken at its first part.
    segment_started: Option<DateTime<Utc>>,
}

impl RenditionWriter {
    pub fn new(
        log: Arc<dyn EventLog>,
        store: Arc<LiveStore>,
        stream: StreamRef,
        latency_mode: LatencyMode,
        packaging: PackagerConfig,
        clock: SegmentClock,
    ) -> Self {
        Self {
            log,
            store,
            stream,
            latency_mode,
            packaging,
            bandwidth: None,
            dvr_window_seconds: 0,
            clock,
            metrics: None,
            segment_parts: Vec::new(),
            segment_started: None,
        }
    }

    /// Stores `bytes` as `name`; returns the path relative to the channel's `live/{channel}/`.
    async fn put(&self, name: &str, bytes: Bytes) -> Result<String, OutputError> {
        let stream = &self.stream;
        let relative = format!(
            "{}/{}/{}/{name}",
            stream.session_id, stream.connection, stream.rendition
        );
        let path = StorePath::from(format!("live/{}/{relative}", stream.channel_id));
        self.store
            .put(&path, bytes)
            .await
            .map_err(|error| OutputError(error.to_string()))?;
        Ok(relative)
    }

    async fn announce(&self, event: MediaEvent) -> Result<(), OutputError> {
        announce(self.log.as_ref(), event).await
    }

    /// Stores one output of the packager and announces it, counted and timed: the packager
    /// hands a part over when the frame that completes it arrives, so the time to here is the
    /// latency from ingest to the part being ready for players.
    pub async fn write(&mut self, output: Output) -> Result<Stored, OutputError> {
        let started = std::time::Instant::now();
        let stored = self.store_and_announce(output).await?;
        if let Some(metrics) = &self.metrics {
            metrics.packaged.with_label_values(&[stored.name()]).inc();
            metrics
                .packaging_seconds
                .with_label_values(&[stored.name()])
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(stored)
    }

    async fn store_and_announce(&mut self, output: Output) -> Result<Stored, OutputError> {
        let stream = self.stream.clone();
        match output {
            Output::Init(init) => {
                let path = self.put("init.mp4", init.bytes).await?;
                self.announce(MediaEvent::InitReady {
                    stream,
                    path,
                    codecs: init.codecs,
                    resolution: init.resolution,
                    latency_mode: self.latency_mode,
                    part_target_ms: self.packaging.part_target_ms,
                    segment_target_ms: self.packaging.segment_target_ms,
                    bandwidth: self.bandwidth,
                    dvr_window_seconds: self.dvr_window_seconds,
                })
                .await?;
                Ok(Stored::Init)
            }
            Output::Part(part) => {
                let name = format!("{}.{}.m4s", part.segment, part.index);
                let path = self.put(&name, part.bytes.clone()).await?;
                if self.segment_started.is_none() {
                    self.segment_started = Some(self.clock.stamp(part.segment));
                }
                self.segment_parts.push(part.bytes);
                self.announce(MediaEvent::PartReady {
                    stream,
                    segment: part.segment,
                    index: part.index,
                    independent: part.independent,
                    duration: part.duration,
                    path,
                })
                .await?;
                Ok(Stored::Part)
            }
            Output::SegmentEnd {
                segment,
                duration,
                frames,
                ..
            } => {
                // The segment is its parts back to back: one copy, into a buffer of the right size.
                let mut bytes = Vec::with_capacity(self.segment_parts.iter().map(Bytes::len).sum());
                for part in self.segment_parts.drain(..) {
                    bytes.extend_from_slice(&part);
                }
                let size = bytes.len() as u64;
                let path = self.put(&format!("{segment}.m4s"), bytes.into()).await?;
                let program_date_time = self
                    .segment_started
                    .take()
                    .unwrap_or_else(|| self.clock.stamp(segment));
                self.announce(MediaEvent::SegmentReady {
                    stream,
                    segment,
                    duration,
                    bytes: size,
                    path,
                    frames,
                    program_date_time,
                })
                .await?;
                Ok(Stored::Segment)
            }
        }
    }

    /// The rendition's last segment is complete; nothing more will come.
    pub async fn ended(&self) {
        let _ = self
            .announce(MediaEvent::StreamEnded {
                stream: self.stream.clone(),
            })
            .await;
    }
}
