//! What a live playlist reload costs the playback server as the DVR window grows: an LL-HLS
//! delta update (`_HLS_skip=YES`, what players reload once they hold the playlist) rendered
//! from scratch, and the full playlist for comparison, for a 1-minute and a 2-hour window of
//! 1 s segments with 200 ms parts. (Served reloads come from the per-version cache, so even the
//! full playlist is rendered once per change, not once per viewer.)

use criterion::{criterion_group, criterion_main, Criterion};
use sigma_playback::fixtures::{self, Recipe};
use sigma_playback::playlist;
use sigma_playback::state::Streams;
use sigma_shared::ids::ChannelId;

/// A channel with `window` seconds of DVR, full, plus two parts of the next segment.
fn live(window: u32) -> (Streams, ChannelId) {
    fixtures::live(&Recipe {
        segments: u64::from(window) + 5,
        height: 720,
        dvr_window_seconds: window,
        segment_bytes: 400_000,
        ..Recipe::default()
    })
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
