//! Playlists, rendered by hand from a channel's live state: the multivariant playlist (every
//! rendition), and each rendition's media playlist — standard HLS for `normal` and `low`,
//! LL-HLS (RFC 8216bis: parts, preload hint, server control for blocking reloads, delta
//! updates, rendition reports, program date-times) for `ultra_low`.

use std::fmt::Write;

use sigma_shared::settings::LatencyMode;

use super::state::{ChannelLive, LiveStream};

/// How many of the newest segments keep their parts listed (LL-HLS asks for the last few
/// target durations; older segments are listed whole).
const SEGMENTS_WITH_PARTS: usize = 3;

/// What a variant is assumed to need before any of its segments is measured.
const UNMEASURED_BANDWIDTH: u64 = 2_000_000;

/// Whether a player can start on the channel: some rendition has a segment.
pub fn is_playable(channel: &ChannelLive) -> bool {
    channel
        .renditions
        .iter()
        .any(|stream| !stream.segments.is_empty())
}

/// The multivariant playlist: every rendition that has a segment, the source first; `None`
/// while none has (a player given a rendition with nothing in it yet finds no stream to play
/// and gives up). `BANDWIDTH` is the measured peak (or the encoder's target, if higher, before
/// measurements settle); `AVERAGE-BANDWIDTH` the measured mean. Rendition URLs carry the
/// playback session, if any.
pub fn multivariant(channel: &ChannelLive, playback: Option<&str>) -> Option<String> {
    if !is_playable(channel) {
        return None;
    }
    let playable = || {
        channel
            .renditions
            .iter()
            .filter(|stream| !stream.segments.is_empty())
    };
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for stream in playable() {
        let peak = match (stream.peak_bandwidth(), stream.declared_bandwidth) {
            (Some(measured), Some(declared)) => measured.max(declared),
            (measured, declared) => measured.or(declared).unwrap_or(UNMEASURED_BANDWIDTH),
        };
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={peak},CODECS=\"{}\"",
            stream.codecs.join(",")
        );
        if let Some(average) = stream.average_bandwidth().or(stream.declared_bandwidth) {
            let _ = write!(out, ",AVERAGE-BANDWIDTH={}", average.min(peak));
        }
        if let Some((width, height)) = stream.resolution {
            let _ = write!(out, ",RESOLUTION={width}x{height}");
        }
        if let Some(rate) = stream.frame_rate() {
            let _ = write!(out, ",FRAME-RATE={rate:.3}");
        }
        let _ = write!(out, "\n{}.m3u8", stream.name);
        if let Some(playback) = playback {
            let _ = write!(out, "?pb={playback}");
        }
        out.push('\n');
    }
    Some(out)
}

/// `text` with `token` added to every URI it lists (URI lines and `URI="…"` attributes): a
/// player carries no query from a playlist's URL to the URLs inside it, so a signed playlist
/// hands its token on itself.
pub fn with_token(text: &str, token: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64 * token.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let end = &line[body.len()..];
        if body.is_empty() {
            out.push_str(line);
        } else if !body.starts_with('#') {
            push_with_token(&mut out, body, token);
            out.push_str(end);
        } else if let Some(at) = body.find("URI=\"") {
            let value = at + "URI=\"".len();
            let close = body[value..]
                .find('"')
                .map_or(body.len(), |len| value + len);
            out.push_str(&body[..value]);
            push_with_token(&mut out, &body[value..close], token);
            out.push_str(&body[close..]);
            out.push_str(end);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `uri` with the query parameter `token` appended.
fn push_with_token(out: &mut String, uri: &str, token: &str) {
    out.push_str(uri);
    out.push(if uri.contains('?') { '&' } else { '?' });
    out.push_str("token=");
    out.push_str(token);
}

fn seconds(value: f64) -> String {
    format!("{value:.3}")
}

/// How many leading segments a delta update may replace with `EXT-X-SKIP`: those that end
/// more than `CAN-SKIP-UNTIL` (six target durations) before the playlist's end. Counted from
/// the end, so the cost follows the skip boundary, not the DVR window.
fn skippable(stream: &LiveStream) -> usize {
    let skip_until = 6.0 * stream.target_duration() as f64;
    let mut after = 0.0;
    for (position, segment) in stream.segments.iter().enumerate().rev() {
        if after >= skip_until {
            return position + 1;
        }
        after += segment.duration;
    }
    0
}

/// The media playlist of `stream`, one of `channel`'s renditions; with `delta`, an LL-HLS
/// delta update (`_HLS_skip=YES`).
pub fn media(channel: &ChannelLive, stream: &LiveStream, delta: bool) -> String {
    let low_latency = stream.latency_mode == LatencyMode::UltraLow;
    let target = stream.target_duration();
    let mut out = String::from("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{}", if low_latency { 9 } else { 7 });
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target}");
    let first_msn = stream.segments.front().map_or(0, |segment| segment.msn);
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
    for (position, segment) in (skipped..).zip(stream.segments.range(skipped..)) {
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
    if low_latency && !stream.publisher_gone && !stream.ended {
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
    if low_latency {
        // Where every other rendition stands, so a player switching to it can ask for the
        // right part at once (RFC 8216bis §4.4.5.4).
        for other in channel.renditions.iter().filter(|r| r.name != stream.name) {
            if let Some((msn, part)) = other.last_part() {
                let _ = writeln!(
                    out,
                    "#EXT-X-RENDITION-REPORT:URI=\"{}.m3u8\",LAST-MSN={msn},LAST-PART={part}",
                    other.name
                );
            }
        }
    }
    if stream.ended {
        out.push_str("#EXT-X-ENDLIST\n");
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
    use sigma_shared::ids::{ChannelId, SessionId};
    use sigma_shared::media::StreamRef;

    use super::*;
    use crate::fixtures::{events, Recipe};
    use crate::state::Streams;

    /// A channel whose renditions (`source` first) each have `segments` one-second segments of
    /// five 200 ms parts (30 frames), plus two open parts, all in a day-long DVR window.
    fn channel(segments: u64, renditions: &[(&str, u32)]) -> ChannelLive {
        let channel_id = ChannelId::generate();
        let session_id = SessionId::generate();
        let mut streams = Streams::default();
        for (name, height) in renditions {
            let ids = (channel_id, session_id);
            feed(&mut streams, ids, name, segments, *height, 86_400);
        }
        streams.get(&channel_id).unwrap().clone()
    }

    fn stream(segments: u64) -> (ChannelLive, LiveStream) {
        let live = channel(segments, &[("source", 180)]);
        let stream = live.renditions[0].clone();
        (live, stream)
    }

    fn feed(
        streams: &mut Streams,
        (channel_id, session_id): (ChannelId, SessionId),
        name: &str,
        segments: u64,
        height: u32,
        dvr_window_seconds: u32,
    ) {
        let stream = StreamRef {
            channel_id,
            session_id,
            connection: "c1".into(),
            rendition: name.into(),
        };
        let recipe = Recipe {
            segments,
            height,
            dvr_window_seconds,
            bandwidth: (name != "source").then_some(400_000),
            ..Recipe::default()
        };
        for event in events(&stream, &recipe) {
            streams.apply(&event);
        }
    }

    #[test]
    fn a_delta_update_skips_what_lies_beyond_can_skip_until() {
        let (live, ten) = stream(10);
        let full = media(&live, &ten, false);
        let delta = media(&live, &ten, true);
        assert!(full.contains("CAN-SKIP-UNTIL=6.000"), "{full}");
        assert_eq!(full.matches("#EXTINF").count(), 10);
        // Ten 1 s segments: the first four end more than 6 s before the end.
        assert!(delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4"), "{delta}");
        assert_eq!(delta.matches("#EXTINF").count(), 6);
        assert!(delta.contains("/c1/source/init.mp4\""), "{delta}");
        let (live, three) = stream(3);
        assert!(
            !media(&live, &three, true).contains("#EXT-X-SKIP"),
            "nothing to skip in a short playlist"
        );
    }

    #[test]
    fn the_live_edge_lists_recent_parts_and_hints_the_next() {
        let (channel, live) = stream(4);
        let playlist = media(&channel, &live, false);
        assert_eq!(
            playlist.matches("#EXT-X-PART:").count(),
            3 * 5 + 2,
            "{playlist}"
        );
        let hint = format!(
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}/c1/source/4.2.m4s\"\n",
            live.session_id
        );
        assert!(playlist.ends_with(&hint), "{playlist}");
        assert_eq!(playlist.matches("INDEPENDENT=YES").count(), 4);
        assert!(!playlist.contains("RENDITION-REPORT"), "no other rendition");
    }

    #[test]
    fn the_dvr_window_keeps_the_newest_segments_and_moves_the_media_sequence() {
        let ids = (ChannelId::generate(), SessionId::generate());
        let mut streams = Streams::default();
        feed(&mut streams, ids, "source", 100, 180, 10);
        let live = streams.get(&ids.0).unwrap();
        let stream = &live.renditions[0];
        let playlist = media(live, stream, false);
        assert_eq!(playlist.matches("#EXTINF").count(), 10, "{playlist}");
        assert!(
            playlist.contains("#EXT-X-MEDIA-SEQUENCE:90\n"),
            "{playlist}"
        );
        assert!(playlist.contains("#EXT-X-TARGETDURATION:1\n"));
        let summary = stream.average_bandwidth().unwrap();
        assert_eq!(summary, 800_000, "averaged over the window");
        let delta = media(live, stream, true);
        assert!(delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4"), "{delta}");
    }

    #[test]
    fn without_dvr_a_live_playlist_lists_six_targets_not_the_whole_session() {
        let ids = (ChannelId::generate(), SessionId::generate());
        let mut streams = Streams::default();
        feed(&mut streams, ids, "source", 100, 180, 0);
        let live = streams.get(&ids.0).unwrap();
        let playlist = media(live, &live.renditions[0], false);
        // 1 s segments: six of them (the window holds without a seventh).
        assert_eq!(playlist.matches("#EXTINF").count(), 6, "{playlist}");
        assert!(
            playlist.contains("#EXT-X-MEDIA-SEQUENCE:94\n"),
            "{playlist}"
        );
    }

    #[test]
    fn every_rendition_is_listed_and_reported() {
        let live = channel(3, &[("120p", 120), ("source", 180), ("60p", 60)]);
        let names: Vec<&str> = live.renditions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["source", "120p", "60p"],
            "source first, then tallest"
        );
        let top = multivariant(&live, None).unwrap();
        assert_eq!(top.matches("#EXT-X-STREAM-INF:").count(), 3, "{top}");
        assert!(
            top.contains(
                "BANDWIDTH=800000,CODECS=\"avc1.64001f\",AVERAGE-BANDWIDTH=800000,RESOLUTION=320x180,FRAME-RATE=30.000\nsource.m3u8\n"
            ),
            "{top}"
        );
        assert!(
            top.contains("RESOLUTION=213x120,FRAME-RATE=30.000\n120p.m3u8\n"),
            "{top}"
        );
        assert!(
            top.contains("RESOLUTION=106x60,FRAME-RATE=30.000\n60p.m3u8\n"),
            "{top}"
        );
        let playlist = media(&live, &live.renditions[1], false);
        for other in ["source", "60p"] {
            assert!(
                playlist.contains(&format!(
                    "#EXT-X-RENDITION-REPORT:URI=\"{other}.m3u8\",LAST-MSN=3,LAST-PART=1\n"
                )),
                "{playlist}"
            );
        }
        assert!(!playlist.contains("URI=\"120p.m3u8\""));
    }

    #[test]
    fn only_renditions_with_a_segment_are_listed_and_none_before_the_first() {
        let starting = channel(0, &[("source", 180)]);
        assert!(
            !starting.renditions[0].partial.is_empty(),
            "parts, no segment"
        );
        assert_eq!(multivariant(&starting, None), None);
        let mut live = channel(2, &[("source", 180)]);
        live.renditions
            .extend(channel(0, &[("120p", 120)]).renditions);
        let top = multivariant(&live, None).unwrap();
        assert_eq!(top.matches("#EXT-X-STREAM-INF:").count(), 1, "{top}");
        assert!(
            top.contains("\nsource.m3u8\n") && !top.contains("120p"),
            "{top}"
        );
    }

    #[test]
    fn a_token_reaches_every_uri_a_playlist_lists() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsource.m3u8?pb=pb_1.ab\n\
                    #EXT-X-MAP:URI=\"se/c1/source/init.mp4\"\n\
                    #EXT-X-PART:DURATION=0.200,URI=\"se/c1/source/4.0.m4s\",INDEPENDENT=YES\n\
                    #EXTINF:1.000,\nse/c1/source/4.m4s\n\
                    #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"se/c1/source/5.1.m4s\"\n\
                    #EXT-X-RENDITION-REPORT:URI=\"480p.m3u8\",LAST-MSN=4,LAST-PART=0\n";
        let signed = with_token(text, "a.b.c");
        assert_eq!(
            signed,
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsource.m3u8?pb=pb_1.ab&token=a.b.c\n\
             #EXT-X-MAP:URI=\"se/c1/source/init.mp4?token=a.b.c\"\n\
             #EXT-X-PART:DURATION=0.200,URI=\"se/c1/source/4.0.m4s?token=a.b.c\",INDEPENDENT=YES\n\
             #EXTINF:1.000,\nse/c1/source/4.m4s?token=a.b.c\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"se/c1/source/5.1.m4s?token=a.b.c\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"480p.m3u8?token=a.b.c\",LAST-MSN=4,LAST-PART=0\n"
        );
        let (live, stream) = stream(8);
        let signed = with_token(&media(&live, &stream, false), "t");
        let uris = signed.lines().filter(|line| !line.starts_with('#')).count()
            + signed.matches("URI=\"").count();
        assert_eq!(signed.matches("token=t").count(), uris);
    }
}
