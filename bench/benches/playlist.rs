//! What a live playlist reload costs the playback server as the DVR window grows: an LL-HLS
//! delta update (`_HLS_skip=YES`, what players reload once they hold the playlist) rendered
//! from scratch, and the full playlist for comparison, for a 1-minute and a 2-hour window of
//! 1 s segments with 200 ms parts. (Served reloads come from the per-version cache, so even the
//! full playlist is rendered once per change, not once per viewer.)

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use sigma_control_plane::playback::playlist;
use sigma_control_plane::playback::state::Streams;
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::media::{MediaEvent, StreamRef, SOURCE_RENDITION};
use sigma_shared::settings::LatencyMode;

/// A channel with `window` seconds of DVR, full, plus two parts of the next segment.
fn live(window: u32) -> (Streams, ChannelId) {
    let (channel_id, session_id) = (ChannelId::generate(), SessionId::generate());
    let stream = StreamRef {
        channel_id,
        session_id,
        connection: "c1".into(),
        rendition: SOURCE_RENDITION.into(),
    };
    let prefix = format!("{session_id}/c1/source/");
    let mut streams = Streams::default();
    streams.apply(&MediaEvent::InitReady {
        stream: stream.clone(),
        path: format!("{prefix}init.mp4"),
        codecs: vec!["avc1.64001f".into(), "mp4a.40.2".into()],
        resolution: Some((1280, 720)),
        latency_mode: LatencyMode::UltraLow,
        part_target_ms: 200,
        segment_target_ms: 1000,
        bandwidth: None,
        dvr_window_seconds: window,
    });
    let segments = u64::from(window) + 5;
    for segment in 0..=segments {
        let parts = if segment == segments { 2 } else { 5 };
        for index in 0..parts {
            streams.apply(&MediaEvent::PartReady {
                stream: stream.clone(),
                segment,
                index,
                independent: index == 0,
                duration: 0.2,
                path: format!("{prefix}{segment}.{index}.m4s"),
            });
        }
        if segment < segments {
            streams.apply(&MediaEvent::SegmentReady {
                stream: stream.clone(),
                segment,
                duration: 1.0,
                bytes: 400_000,
                path: format!("{prefix}{segment}.m4s"),
                frames: 30,
                program_date_time: Utc::now(),
            });
        }
    }
    (streams, channel_id)
}

fn reloads(c: &mut Criterion) {
    for (label, window) in [("1-minute", 60), ("2-hour", 7_200)] {
        let (streams, channel) = live(window);
        let live = streams.get(&channel).unwrap();
        let stream = &live.renditions[0];
        assert_eq!(stream.segments.len() as u32, window);
        c.bench_function(&format!("delta update, {label} DVR window"), |b| {
            b.iter(|| playlist::media(live, stream, true))
        });
        c.bench_function(&format!("full playlist, {label} DVR window"), |b| {
            b.iter(|| playlist::media(live, stream, false))
        });
    }
}

criterion_group!(benches, reloads);
criterion_main!(benches);
