//! Playlists, rendered by hand from a [`LiveStream`]: the multivariant playlist, and the media
//! playlist — standard HLS for `normal` and `low`, LL-HLS (RFC 8216bis: parts, preload hint,
//! server control for blocking reloads, program date-times) for `ultra_low`.

use std::fmt::Write;

use sigma_shared::settings::LatencyMode;

use super::state::LiveStream;

/// How many of the newest segments keep their parts listed (LL-HLS asks for the last few
/// target durations; older segments are listed whole).
const SEGMENTS_WITH_PARTS: usize = 3;

/// The multivariant playlist: one rendition today.
pub fn multivariant(stream: &LiveStream) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let bandwidth = stream.peak_bandwidth();
    let _ = write!(
        out,
        "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS=\"{}\"",
        stream.codecs.join(",")
    );
    if let Some((width, height)) = stream.resolution {
        let _ = write!(out, ",RESOLUTION={width}x{height}");
    }
    out.push_str("\nmedia.m3u8\n");
    out
}

fn seconds(value: f64) -> String {
    format!("{value:.3}")
}

/// How many leading segments a delta update may replace with `EXT-X-SKIP`: those that end
/// more than `CAN-SKIP-UNTIL` (six target durations) before the playlist's end.
fn skippable(stream: &LiveStream) -> usize {
    let skip_until = 6.0 * stream.target_duration() as f64;
    let mut remaining: f64 = stream.segments.iter().map(|segment| segment.duration).sum();
    let mut count = 0;
    for segment in &stream.segments {
        remaining -= segment.duration;
        if remaining < skip_until {
            break;
        }
        count += 1;
    }
    count
}

/// The media playlist; with `delta`, an LL-HLS delta update (`_HLS_skip=YES`).
pub fn media(stream: &LiveStream, delta: bool) -> String {
    let low_latency = stream.latency_mode == LatencyMode::UltraLow;
    let target = stream.target_duration();
    let mut out = String::from("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{}", if low_latency { 9 } else { 7 });
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target}");
    let first_msn = stream.segments.first().map_or(0, |segment| segment.msn);
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{first_msn}");
    out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    if low_latency {
        let _ = writeln!(
            out,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={},CAN-SKIP-UNTIL={}",
            seconds(3.0 * stream.part_target),
            seconds(6.0 * target as f64)
        );
        let _ = writeln!(
            out,
            "#EXT-X-PART-INF:PART-TARGET={}",
            seconds(stream.part_target)
        );
    }
    let skipped = if low_latency && delta {
        skippable(stream)
    } else {
        0
    };
    if skipped > 0 {
        let _ = writeln!(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
    }
    let mut map = None;
    let with_parts_from = stream.segments.len().saturating_sub(SEGMENTS_WITH_PARTS);
    for (position, segment) in stream.segments.iter().enumerate().skip(skipped) {
        if segment.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if map != Some(&segment.map) {
            let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", segment.map);
            map = Some(&segment.map);
        }
        let _ = writeln!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            segment
                .program_date_time
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        if low_latency && position >= with_parts_from {
            for part in &segment.parts {
                write_part(&mut out, part);
            }
        }
        let _ = writeln!(
            out,
            "#EXTINF:{},\n{}",
            seconds(segment.duration),
            segment.path
        );
    }
    if low_latency && !stream.publisher_gone {
        if map != Some(&stream.map) && !stream.partial.is_empty() {
            if !stream.segments.is_empty() {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", stream.map);
        }
        for part in &stream.partial {
            write_part(&mut out, part);
        }
        let _ = writeln!(
            out,
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"",
            stream.next_part_path()
        );
    }
    out
}

fn write_part(out: &mut String, part: &super::state::PartEntry) {
    let _ = write!(
        out,
        "#EXT-X-PART:DURATION={},URI=\"{}\"",
        seconds(part.duration),
        part.path
    );
    if part.independent {
        out.push_str(",INDEPENDENT=YES");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sigma_shared::ids::{ChannelId, SessionId};
    use sigma_shared::media::{MediaEvent, StreamRef};

    use super::*;
    use crate::playback::state::Streams;

    /// A stream of `segments` one-second segments of five 200 ms parts, plus two open parts.
    fn stream(segments: u64) -> LiveStream {
        let channel_id = ChannelId::generate();
        let session_id = SessionId::generate();
        let stream = StreamRef {
            channel_id,
            session_id,
            connection: "c1".into(),
        };
        let mut streams = Streams::default();
        streams.apply(&MediaEvent::InitReady {
            stream: stream.clone(),
            path: format!("{session_id}/c1/init.mp4"),
            codecs: vec!["avc1.64001f".into()],
            resolution: Some((320, 180)),
            latency_mode: LatencyMode::UltraLow,
            part_target_ms: 200,
            segment_target_ms: 1000,
        });
        for segment in 0..=segments {
            let parts = if segment == segments { 2 } else { 5 };
            for index in 0..parts {
                let path = format!("{session_id}/c1/{segment}.{index}.m4s");
                streams.apply(&MediaEvent::PartReady {
                    stream: stream.clone(),
                    segment,
                    index,
                    independent: index == 0,
                    duration: 0.2,
                    path,
                });
            }
            if segment < segments {
                let path = format!("{session_id}/c1/{segment}.m4s");
                streams.apply(&MediaEvent::SegmentReady {
                    stream: stream.clone(),
                    segment,
                    duration: 1.0,
                    bytes: 1000,
                    path,
                    program_date_time: Utc::now(),
                });
            }
        }
        streams.get(&channel_id).unwrap().clone()
    }

    #[test]
    fn a_delta_update_skips_what_lies_beyond_can_skip_until() {
        let full = media(&stream(10), false);
        let delta = media(&stream(10), true);
        assert!(full.contains("CAN-SKIP-UNTIL=6.000"), "{full}");
        assert_eq!(full.matches("#EXTINF").count(), 10);
        // Ten 1 s segments: the first four end more than 6 s before the end.
        assert!(delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4"), "{delta}");
        assert_eq!(delta.matches("#EXTINF").count(), 6);
        assert!(delta.contains("/c1/init.mp4\""), "{delta}");
        assert!(
            !media(&stream(3), true).contains("#EXT-X-SKIP"),
            "nothing to skip in a short playlist"
        );
    }

    #[test]
    fn the_live_edge_lists_recent_parts_and_hints_the_next() {
        let live = stream(4);
        let playlist = media(&live, false);
        assert_eq!(
            playlist.matches("#EXT-X-PART:").count(),
            3 * 5 + 2,
            "{playlist}"
        );
        let hint = format!(
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}/c1/4.2.m4s\"\n",
            live.session_id
        );
        assert!(playlist.ends_with(&hint), "{playlist}");
        assert_eq!(playlist.matches("INDEPENDENT=YES").count(), 4);
    }
}
