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

/// The media playlist.
pub fn media(stream: &LiveStream) -> String {
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
    let mut map = None;
    let with_parts_from = stream.segments.len().saturating_sub(SEGMENTS_WITH_PARTS);
    for (position, segment) in stream.segments.iter().enumerate() {
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
