//! Media events: facts an edge worker publishes after it stored a piece of a stream, so any
//! playback process can build the stream's playlists. They are not commands — nothing decides
//! them — and they go to their own topic, keyed by channel id like everything else.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, SessionId};
use crate::settings::LatencyMode;

/// The version of the media event schema; readers skip records of a newer one.
pub const MEDIA_SCHEMA_VERSION: u16 = 1;

/// The rendition that is the publisher's own encoding, passed through.
pub const SOURCE_RENDITION: &str = "source";

fn source_rendition() -> String {
    SOURCE_RENDITION.to_owned()
}

/// One rendition of one publisher connection's stream within a session: a reconnect starts a
/// new stream (a discontinuity) of the same session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRef {
    pub channel_id: ChannelId,
    pub session_id: SessionId,
    /// Distinguishes the connections of one session; object paths contain it.
    pub connection: String,
    /// [`SOURCE_RENDITION`] or a ladder rung's name (`480p`); object paths contain it.
    #[serde(default = "source_rendition")]
    pub rendition: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaEvent {
    /// The init segment is stored; parts and segments of this connection need it.
    InitReady {
        stream: StreamRef,
        path: String,
        /// RFC 6381 codec strings, e.g. `avc1.64001f`, `mp4a.40.2`.
        codecs: Vec<String>,
        resolution: Option<(u32, u32)>,
        latency_mode: LatencyMode,
        part_target_ms: u32,
        segment_target_ms: u32,
        /// The encoder's target bits per second (ladder renditions); `None` for the source,
        /// whose bandwidth is measured from its segments.
        #[serde(default)]
        bandwidth: Option<u64>,
        /// How far back live playlists reach (the channel's DVR window); 0: the whole session.
        #[serde(default)]
        dvr_window_seconds: u32,
    },
    /// A part (LL-HLS) of segment `segment` is stored.
    PartReady {
        stream: StreamRef,
        segment: u64,
        index: u32,
        independent: bool,
        duration: f64,
        path: String,
    },
    /// A whole segment is stored.
    SegmentReady {
        stream: StreamRef,
        segment: u64,
        duration: f64,
        bytes: u64,
        path: String,
        /// Video frames in the segment (0 for audio-only streams).
        #[serde(default)]
        frames: u32,
        /// Ingest wall clock at the segment's first sample.
        program_date_time: DateTime<Utc>,
    },
    /// The publisher of this connection is gone; its last segment is complete.
    StreamEnded { stream: StreamRef },
    /// Thumbnail `index` (counted across the session's connections) is stored, at
    /// `thumbs/{session}/{index:06}.jpg` and as `latest.jpg`, and drawn into storyboard sheet
    /// `sheet` (`sprite-{sheet}.jpg`) at (`x`, `y`). It shows the keyframe that starts part
    /// `part` of segment `segment` of `stream`, the source rendition.
    ThumbnailReady {
        stream: StreamRef,
        index: u64,
        segment: u64,
        part: u32,
        width: u32,
        height: u32,
        sheet: u64,
        x: u32,
        y: u32,
    },
}

/// A media event as stored in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaRecord {
    pub schema_version: u16,
    #[serde(flatten)]
    pub event: MediaEvent,
}

impl MediaEvent {
    pub fn stream(&self) -> &StreamRef {
        match self {
            Self::InitReady { stream, .. }
            | Self::PartReady { stream, .. }
            | Self::SegmentReady { stream, .. }
            | Self::StreamEnded { stream }
            | Self::ThumbnailReady { stream, .. } => stream,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&MediaRecord {
            schema_version: MEDIA_SCHEMA_VERSION,
            event: self.clone(),
        })
        .expect("a media event serializes")
    }

    /// `None` for records this version cannot read (newer schema, garbage).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let record: MediaRecord = serde_json::from_slice(bytes).ok()?;
        (record.schema_version <= MEDIA_SCHEMA_VERSION).then_some(record.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_events_round_trip_and_newer_schemas_are_skipped() {
        let stream = StreamRef {
            channel_id: ChannelId::generate(),
            session_id: SessionId::generate(),
            connection: "c1".into(),
            rendition: SOURCE_RENDITION.into(),
        };
        let event = MediaEvent::PartReady {
            stream,
            segment: 3,
            index: 1,
            independent: false,
            duration: 0.2,
            path: "p".into(),
        };
        assert_eq!(
            MediaEvent::from_bytes(&event.to_bytes()),
            Some(event.clone())
        );
        let mut newer: serde_json::Value = serde_json::from_slice(&event.to_bytes()).unwrap();
        newer["schema_version"] = 99.into();
        assert_eq!(
            MediaEvent::from_bytes(&serde_json::to_vec(&newer).unwrap()),
            None
        );
        assert_eq!(MediaEvent::from_bytes(b"garbage"), None);
    }
}
