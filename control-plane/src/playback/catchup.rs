//! Catch-up: every session's whole timeline per rendition, kept apart from the live state (which
//! the DVR window trims), so `/vod/{session_id}/…` can replay it — an `EVENT` playlist while the
//! session runs, a `VOD` playlist with `EXT-X-ENDLIST` once it has ended — with discontinuities
//! where the publisher reconnected and program date-times throughout. Built from media events
//! and the session's end (and, after its retention period, its expiry) from the domain events.
//! Pure.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use chrono::{DateTime, Utc};
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::media::{MediaEvent, SOURCE_RENDITION};

#[derive(Clone, Debug, PartialEq)]
struct Segment {
    duration: f64,
    path: String,
    map: String,
    discontinuity: bool,
    program_date_time: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
struct Rendition {
    name: String,
    codecs: Vec<String>,
    resolution: Option<(u32, u32)>,
    bandwidth: Option<u64>,
    /// `{session}/{connection}/{rendition}/` of the current connection, and its init segment.
    prefix: String,
    map: String,
    pending_discontinuity: bool,
    segments: Vec<Segment>,
    bytes: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    channel_id: ChannelId,
    renditions: Vec<Rendition>,
    ended: bool,
}

#[derive(Default)]
pub struct Sessions {
    sessions: HashMap<SessionId, Session>,
    /// Sessions whose media expired: their media events (replayed from the log at start-up, in
    /// any order relative to the expiry) are ignored.
    expired: HashSet<SessionId>,
}

impl Sessions {
    /// Folds a media event in.
    pub fn apply(&mut self, event: &MediaEvent) {
        let stream = event.stream();
        if self.expired.contains(&stream.session_id) {
            return;
        }
        let prefix = format!(
            "{}/{}/{}/",
            stream.session_id, stream.connection, stream.rendition
        );
        let session = self
            .sessions
            .entry(stream.session_id)
            .or_insert_with(|| Session {
                channel_id: stream.channel_id,
                renditions: Vec::new(),
                ended: false,
            });
        match event {
            MediaEvent::InitReady {
                path,
                codecs,
                resolution,
                bandwidth,
                ..
            } => match session
                .renditions
                .iter_mut()
                .find(|r| r.name == stream.rendition)
            {
                Some(rendition) => {
                    rendition.pending_discontinuity = !rendition.segments.is_empty();
                    rendition.prefix = prefix;
                    rendition.map = path.clone();
                    rendition.codecs = codecs.clone();
                    rendition.resolution = *resolution;
                }
                None => {
                    session.renditions.push(Rendition {
                        name: stream.rendition.clone(),
                        codecs: codecs.clone(),
                        resolution: *resolution,
                        bandwidth: *bandwidth,
                        prefix,
                        map: path.clone(),
                        pending_discontinuity: false,
                        segments: Vec::new(),
                        bytes: 0,
                    });
                    session.renditions.sort_by_key(|r| {
                        (
                            r.name != SOURCE_RENDITION,
                            std::cmp::Reverse(r.resolution.map_or(0, |(_, height)| height)),
                        )
                    });
                }
            },
            MediaEvent::SegmentReady {
                duration,
                bytes,
                path,
                program_date_time,
                ..
            } => {
                let Some(rendition) = session.renditions.iter_mut().find(|r| r.prefix == prefix)
                else {
                    return;
                };
                rendition.bytes += bytes;
                rendition.segments.push(Segment {
                    duration: *duration,
                    path: path.clone(),
                    map: rendition.map.clone(),
                    discontinuity: std::mem::take(&mut rendition.pending_discontinuity),
                    program_date_time: *program_date_time,
                });
            }
            MediaEvent::PartReady { .. }
            | MediaEvent::StreamEnded { .. }
            | MediaEvent::ThumbnailReady { .. } => {}
        }
    }

    /// The session ended (`session.ended`): its playlists become `VOD`.
    pub fn end(&mut self, session: SessionId) {
        if let Some(session) = self.sessions.get_mut(&session) {
            session.ended = true;
        }
    }

    /// The session's media expired (`session.media_expired`): it has no catch-up any more.
    pub fn expire(&mut self, session: SessionId) {
        self.sessions.remove(&session);
        self.expired.insert(session);
    }

    /// The multivariant playlist of a session's catch-up.
    pub fn multivariant(&self, session: &SessionId) -> Option<String> {
        let session = self.sessions.get(session)?;
        if session.renditions.is_empty() {
            return None;
        }
        let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        for rendition in &session.renditions {
            let seconds: f64 = rendition.segments.iter().map(|s| s.duration).sum();
            let measured = (seconds > 0.0).then(|| (rendition.bytes as f64 * 8.0 / seconds) as u64);
            let bandwidth = measured.or(rendition.bandwidth).unwrap_or(2_000_000);
            let _ = write!(
                out,
                "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS=\"{}\"",
                rendition.codecs.join(",")
            );
            if let Some((width, height)) = rendition.resolution {
                let _ = write!(out, ",RESOLUTION={width}x{height}");
            }
            let _ = writeln!(out, "\n{}.m3u8", rendition.name);
        }
        Some(out)
    }

    /// A rendition's catch-up playlist; media URIs are absolute paths under `/live/{channel}/`.
    pub fn media(&self, session: &SessionId, name: &str) -> Option<String> {
        let session = self.sessions.get(session)?;
        let rendition = session.renditions.iter().find(|r| r.name == name)?;
        let longest = rendition
            .segments
            .iter()
            .map(|s| s.duration)
            .fold(1.0, f64::max);
        let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n");
        let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", longest.round() as u64);
        out.push_str("#EXT-X-MEDIA-SEQUENCE:0\n");
        let kind = if session.ended { "VOD" } else { "EVENT" };
        let _ = writeln!(out, "#EXT-X-PLAYLIST-TYPE:{kind}");
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        let base = format!("/live/{}/", session.channel_id);
        let mut map = None;
        for segment in &rendition.segments {
            if segment.discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if map != Some(&segment.map) {
                let _ = writeln!(out, "#EXT-X-MAP:URI=\"{base}{}\"", segment.map);
                map = Some(&segment.map);
            }
            let _ = writeln!(
                out,
                "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{:.3},\n{base}{}",
                segment
                    .program_date_time
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                segment.duration,
                segment.path
            );
        }
        if session.ended {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use sigma_shared::media::StreamRef;

    use super::*;
    use crate::playback::fixtures::{events, Recipe};

    #[test]
    fn a_session_with_a_reconnect_is_one_event_playlist_then_a_vod() {
        let (channel_id, session_id) = (ChannelId::generate(), SessionId::generate());
        let mut sessions = Sessions::default();
        for (connection, segments) in [("c1", 4), ("c2", 3)] {
            let stream = StreamRef {
                channel_id,
                session_id,
                connection: connection.into(),
                rendition: SOURCE_RENDITION.into(),
            };
            let recipe = Recipe {
                segments,
                open_parts: 0,
                dvr_window_seconds: 2,
                ..Recipe::default()
            };
            for event in events(&stream, &recipe) {
                sessions.apply(&event);
            }
        }
        let running = sessions.media(&session_id, "source").unwrap();
        assert!(
            running.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
            "{running}"
        );
        assert!(!running.contains("#EXT-X-ENDLIST"));
        assert_eq!(
            running.matches("#EXTINF").count(),
            7,
            "the DVR window does not apply"
        );
        assert_eq!(running.matches("#EXT-X-DISCONTINUITY").count(), 1);
        assert_eq!(running.matches("#EXT-X-MAP").count(), 2);
        assert_eq!(running.matches("#EXT-X-PROGRAM-DATE-TIME").count(), 7);
        assert!(running.contains(&format!(
            "\n/live/{channel_id}/{session_id}/c2/source/0.m4s\n"
        )));

        sessions.end(session_id);
        let ended = sessions.media(&session_id, "source").unwrap();
        assert!(ended.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"));
        assert!(ended.ends_with("#EXT-X-ENDLIST\n"));
        let top = sessions.multivariant(&session_id).unwrap();
        assert!(top.contains("\nsource.m3u8\n"), "{top}");
        assert_eq!(sessions.media(&SessionId::generate(), "source"), None);
    }

    #[test]
    fn an_expired_session_has_no_catch_up_even_if_its_media_events_come_again() {
        let (channel_id, session_id) = (ChannelId::generate(), SessionId::generate());
        let stream = StreamRef {
            channel_id,
            session_id,
            connection: "c1".into(),
            rendition: SOURCE_RENDITION.into(),
        };
        let recipe = Recipe {
            segments: 2,
            open_parts: 0,
            ..Recipe::default()
        };
        let mut sessions = Sessions::default();
        for event in events(&stream, &recipe) {
            sessions.apply(&event);
        }
        assert!(sessions.multivariant(&session_id).is_some());
        sessions.expire(session_id);
        assert_eq!(sessions.multivariant(&session_id), None);
        // A restarted playback node replays the media topic: the expiry may come first.
        for event in events(&stream, &recipe) {
            sessions.apply(&event);
        }
        assert_eq!(sessions.media(&session_id, "source"), None);
    }
}
