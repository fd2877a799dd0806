//! Media events of made-up streams, for the playback state's tests and benchmarks: what an
//! edge worker would announce for a rendition with regular segments and parts.

use chrono::Utc;
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::media::{MediaEvent, StreamRef, SOURCE_RENDITION};
use sigma_shared::settings::LatencyMode;

use super::state::Streams;

/// The shape of a made-up rendition.
#[derive(Clone, Copy, Debug)]
pub struct Recipe {
    /// Whole segments, then `open_parts` parts of the next one.
    pub segments: u64,
    pub parts_per_segment: u32,
    pub part_seconds: f64,
    pub open_parts: u32,
    pub height: u32,
    pub latency_mode: LatencyMode,
    pub dvr_window_seconds: u32,
    /// Declared bits per second (a ladder rendition's), and each segment's size.
    pub bandwidth: Option<u64>,
    pub segment_bytes: u64,
}

impl Default for Recipe {
    /// 1 s segments of five 200 ms parts (30 frames each), LL-HLS, 180p, a DVR window longer
    /// than any recipe.
    fn default() -> Self {
        Self {
            segments: 3,
            parts_per_segment: 5,
            part_seconds: 0.2,
            open_parts: 2,
            height: 180,
            latency_mode: LatencyMode::UltraLow,
            dvr_window_seconds: 86_400,
            bandwidth: None,
            segment_bytes: 100_000,
        }
    }
}

/// The events of `stream` made to `recipe`, in order; objects live under
/// `{session}/{connection}/{rendition}/`.
pub fn events(stream: &StreamRef, recipe: &Recipe) -> Vec<MediaEvent> {
    let prefix = format!(
        "{}/{}/{}/",
        stream.session_id, stream.connection, stream.rendition
    );
    let segment_seconds = recipe.part_seconds * f64::from(recipe.parts_per_segment);
    let mut events = vec![MediaEvent::InitReady {
        stream: stream.clone(),
        path: format!("{prefix}init.mp4"),
        codecs: vec!["avc1.64001f".into()],
        resolution: Some((recipe.height * 16 / 9, recipe.height)),
        latency_mode: recipe.latency_mode,
        part_target_ms: (recipe.part_seconds * 1000.0).round() as u32,
        segment_target_ms: (segment_seconds * 1000.0).round() as u32,
        bandwidth: recipe.bandwidth,
        dvr_window_seconds: recipe.dvr_window_seconds,
    }];
    for segment in 0..=recipe.segments {
        let whole = segment < recipe.segments;
        let parts = if whole {
            recipe.parts_per_segment
        } else {
            recipe.open_parts
        };
        for index in 0..parts {
            events.push(MediaEvent::PartReady {
                stream: stream.clone(),
                segment,
                index,
                independent: index == 0,
                duration: recipe.part_seconds,
                path: format!("{prefix}{segment}.{index}.m4s"),
            });
        }
        if whole {
            events.push(MediaEvent::SegmentReady {
                stream: stream.clone(),
                segment,
                duration: segment_seconds,
                bytes: recipe.segment_bytes,
                path: format!("{prefix}{segment}.m4s"),
                frames: (segment_seconds * 30.0).round() as u32,
                program_date_time: Utc::now(),
            });
        }
    }
    events
}

/// A new channel's live state after the source rendition's events made to `recipe`.
pub fn live(recipe: &Recipe) -> (Streams, ChannelId) {
    let channel_id = ChannelId::generate();
    let stream = StreamRef {
        channel_id,
        session_id: SessionId::generate(),
        connection: "c1".into(),
        rendition: SOURCE_RENDITION.into(),
    };
    let mut streams = Streams::default();
    for event in events(&stream, recipe) {
        streams.apply(&event);
    }
    (streams, channel_id)
}
