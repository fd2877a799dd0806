//! A session's storyboard as WebVTT: one cue per thumbnail, from where its keyframe lies in the
//! source rendition's timeline (so cues follow the playlists, reconnect gaps excluded) to where
//! the next thumbnail's does, the last one to the live edge; each cue names its tile in a
//! sprite sheet (`sprite-{n}.jpg#xywh=x,y,w,h`). Pure.

use std::collections::HashMap;
use std::fmt::Write;

use sigma_shared::media::SOURCE_RENDITION;

use super::state::{ChannelLive, PartEntry};

/// The storyboard of `live`'s session; `None` without a source rendition or thumbnails.
pub fn vtt(live: &ChannelLive, token: Option<&str>) -> Option<String> {
    let source = live.rendition(SOURCE_RENDITION)?;
    if live.thumbnails.is_empty() {
        return None;
    }
    // Where each stored segment starts in the playlist's timeline, with its parts.
    let mut starts: HashMap<&str, (f64, &[PartEntry])> = HashMap::new();
    let mut elapsed = 0.0;
    for segment in &source.segments {
        starts.insert(segment.path.as_str(), (elapsed, &segment.parts));
        elapsed += segment.duration;
    }
    let open_start = elapsed;
    let edge = open_start + source.partial.iter().map(|part| part.duration).sum::<f64>();
    let mut cues: Vec<(f64, &super::state::Thumbnail)> = live
        .thumbnails
        .iter()
        .filter_map(|thumbnail| {
            let path = format!("{}{}.m4s", thumbnail.prefix, thumbnail.segment);
            let (start, parts) = match starts.get(path.as_str()) {
                Some(found) => *found,
                None if thumbnail.prefix == source.prefix
                    && thumbnail.segment == source.open_segment =>
                {
                    (open_start, source.partial.as_slice())
                }
                None => return None,
            };
            let into: f64 = parts
                .iter()
                .take(thumbnail.part as usize)
                .map(|part| part.duration)
                .sum();
            Some((start + into, thumbnail))
        })
        .collect();
    cues.sort_by(|a, b| a.0.total_cmp(&b.0));
    // A signed storyboard hands its token on to the sprites it names.
    let query = token.map_or_else(String::new, |token| format!("?token={token}"));
    let mut out = String::from("WEBVTT\n");
    for (position, (start, thumbnail)) in cues.iter().enumerate() {
        let end = cues
            .get(position + 1)
            .map_or(edge, |(next, _)| *next)
            .max(start + 0.001);
        let _ = write!(
            out,
            "\n{} --> {}\nsprite-{}.jpg{query}#xywh={},{},{},{}\n",
            timestamp(*start),
            timestamp(end),
            thumbnail.sheet,
            thumbnail.x,
            thumbnail.y,
            thumbnail.width,
            thumbnail.height
        );
    }
    Some(out)
}

/// `hh:mm:ss.mmm`.
fn timestamp(seconds: f64) -> String {
    let millis = (seconds * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000
    )
}

#[cfg(test)]
mod tests {
    use sigma_shared::ids::{ChannelId, SessionId};
    use sigma_shared::media::{MediaEvent, StreamRef};
    use sigma_shared::settings::LatencyMode;

    use super::*;
    use crate::fixtures::{events, Recipe};
    use crate::state::Streams;

    #[test]
    fn cues_follow_the_playlist_timeline_across_a_reconnect_without_gaps() {
        let (channel_id, session_id) = (ChannelId::generate(), SessionId::generate());
        let mut streams = Streams::default();
        for (connection, segments) in [("c1", 3), ("c2", 2)] {
            let stream = StreamRef {
                channel_id,
                session_id,
                connection: connection.into(),
                rendition: SOURCE_RENDITION.into(),
            };
            let recipe = Recipe {
                segments,
                parts_per_segment: 2,
                part_seconds: 0.5,
                open_parts: 0,
                latency_mode: LatencyMode::Low,
                ..Recipe::default()
            };
            for event in events(&stream, &recipe) {
                streams.apply(&event);
                let MediaEvent::SegmentReady { segment, .. } = event else {
                    continue;
                };
                // A thumbnail every 1.5 s of the connection: parts 0 and 3 (segment 1, part 1).
                for (index, part) in [(0, 0), (1, 1)] {
                    if segment == index {
                        let number = streams.get(&channel_id).unwrap().thumbnails.len() as u64;
                        streams.apply(&MediaEvent::ThumbnailReady {
                            stream: stream.clone(),
                            index: number,
                            segment,
                            part,
                            width: 160,
                            height: 90,
                            sheet: 0,
                            x: 160 * number as u32,
                            y: 0,
                        });
                    }
                }
            }
        }
        let text = vtt(streams.session(&session_id).unwrap(), None).unwrap();
        assert_eq!(
            text,
            "WEBVTT\n\
             \n00:00:00.000 --> 00:00:01.500\nsprite-0.jpg#xywh=0,0,160,90\n\
             \n00:00:01.500 --> 00:00:03.000\nsprite-0.jpg#xywh=160,0,160,90\n\
             \n00:00:03.000 --> 00:00:04.500\nsprite-0.jpg#xywh=320,0,160,90\n\
             \n00:00:04.500 --> 00:00:05.000\nsprite-0.jpg#xywh=480,0,160,90\n"
        );
    }
}
