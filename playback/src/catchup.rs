//! Catch-up: every session's whole timeline per rendition, kept apart from the live state (which
//! the DVR window trims), so `/vod/{session_id}/…` can replay it — an `EVENT` playlist while the
//! session runs, a `VOD` playlist with `EXT-X-ENDLIST` once it has ended — with discontinuities
//! where the publisher reconnected and program date-times throughout. Built from media events
//! and the session's end (and, after its retention period, its expiry) from the domain events.
//! Pure.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
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

/// How long before a session's start (by the deciding process's clock) its media may be
/// stamped in the log (by another host's clock): readers that skip older records start this
/// much earlier.
pub const LOG_CLOCK_MARGIN_MS: i64 = 10 * 60 * 1000;

/// How many let-go sessions are remembered (see [`Sessions::gone`]).
const GONE_KEPT: usize = 4096;

#[derive(Default)]
pub struct Sessions {
    sessions: HashMap<SessionId, Session>,
    /// Sessions let go of (their playlists are in the store, or their media expired), newest
    /// last: their media events, which a start-up may still be reading from the log behind the
    /// domain events that let them go, are ignored. Bounded: a reader is never thousands of
    /// sessions behind.
    gone: HashSet<SessionId>,
    gone_order: VecDeque<SessionId>,
}

impl Sessions {
    /// Folds a media event in. A session is known from its first init segment on.
    pub fn apply(&mut self, event: &MediaEvent) {
        let stream = event.stream();
        if self.gone.contains(&stream.session_id) {
            return;
        }
        let prefix = format!(
            "{}/{}/{}/",
            stream.session_id, stream.connection, stream.rendition
        );
        let session = match (self.sessions.entry(stream.session_id), event) {
            (Entry::Occupied(known), _) => known.into_mut(),
            (Entry::Vacant(new), MediaEvent::InitReady { .. }) => new.insert(Session {
                channel_id: stream.channel_id,
                renditions: Vec::new(),
                ended: false,
            }),
            (Entry::Vacant(_), _) => return,
        };
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

    /// Lets the session go: its media expired (`session.media_expired`), or its final
    /// playlists are in the store, which serves them from now on.
    pub fn forget(&mut self, session: SessionId) {
        self.sessions.remove(&session);
        if self.gone.insert(session) {
            self.gone_order.push_back(session);
        }
        while self.gone_order.len() > GONE_KEPT {
            if let Some(oldest) = self.gone_order.pop_front() {
                self.gone.remove(&oldest);
            }
        }
    }

    /// How many sessions are held here.
    pub fn held(&self) -> usize {
        self.sessions.len()
    }

    /// Whether the session is held here (running, or ended and not let go yet).
    pub fn holds(&self, session: &SessionId) -> bool {
        self.sessions.contains_key(session)
    }

    /// Every playlist of an ended session's catch-up, as stored under `vod/{session}/`: each
    /// rendition's (`{name}.m3u8`), then the multivariant `index.m3u8`, which lists them and so
    /// goes last.
    pub fn stored_playlists(&self, session: &SessionId) -> Vec<(String, String)> {
        let Some(held) = self.sessions.get(session).filter(|held| held.ended) else {
            return Vec::new();
        };
        let mut playlists: Vec<(String, String)> = held
            .renditions
            .iter()
            .filter_map(|rendition| {
                let text = self.media(session, &rendition.name)?;
                Some((format!("{}.m3u8", rendition.name), text))
            })
            .collect();
        if let Some(index) = self.multivariant(session) {
            playlists.push(("index.m3u8".to_owned(), index));
        }
        playlists
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
    use crate::fixtures::{events, Recipe};

    /// Folds `segments` whole segments of one connection's rendition in.
    fn fold(
        sessions: &mut Sessions,
        (channel_id, session_id): (ChannelId, SessionId),
        connection: &str,
        rendition: &str,
        segments: u64,
    ) {
        let stream = StreamRef {
            channel_id,
            session_id,
            connection: connection.into(),
            rendition: rendition.into(),
        };
        let recipe = Recipe {
            segments,
            open_parts: 0,
            ..Recipe::default()
        };
        for event in events(&stream, &recipe) {
            sessions.apply(&event);
        }
    }

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
    fn an_ended_session_s_playlists_are_stored_renditions_first_and_a_running_one_s_are_not() {
        let (channel_id, session_id) = (ChannelId::generate(), SessionId::generate());
        let mut sessions = Sessions::default();
        for rendition in [SOURCE_RENDITION, "480p"] {
            fold(&mut sessions, (channel_id, session_id), "c1", rendition, 3);
        }
        assert!(
            sessions.stored_playlists(&session_id).is_empty(),
            "still running"
        );
        sessions.end(session_id);
        let stored = sessions.stored_playlists(&session_id);
        let names: Vec<&str> = stored.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["source.m3u8", "480p.m3u8", "index.m3u8"]);
        assert_eq!(
            Some(&stored[0].1),
            sessions.media(&session_id, "source").as_ref()
        );
        assert!(stored[0].1.ends_with("#EXT-X-ENDLIST\n"));
        assert_eq!(
            Some(&stored[2].1),
            sessions.multivariant(&session_id).as_ref()
        );
    }

    #[test]
    fn a_session_is_known_from_its_init_segment_and_let_go_sessions_stay_gone_within_a_bound() {
        let mut sessions = Sessions::default();
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
        // A reader that starts mid-session sees segments without their init: not a session.
        for event in events(&stream, &recipe).iter().skip(1) {
            sessions.apply(event);
        }
        assert_eq!(sessions.held(), 0);
        for n in 0..GONE_KEPT + 10 {
            let gone = if n == 0 {
                session_id
            } else {
                SessionId::generate()
            };
            sessions.forget(gone);
        }
        assert_eq!(sessions.gone.len(), GONE_KEPT);
        assert_eq!(sessions.gone_order.len(), GONE_KEPT);
        assert!(
            !sessions.gone.contains(&session_id),
            "the oldest went first"
        );
    }

    #[test]
    fn an_expired_session_has_no_catch_up_even_if_its_media_events_come_again() {
        let (channel_id, session_id) = (ChannelId::generate(), SessionId::generate());
        let mut sessions = Sessions::default();
        fold(
            &mut sessions,
            (channel_id, session_id),
            "c1",
            SOURCE_RENDITION,
            2,
        );
        assert!(sessions.multivariant(&session_id).is_some());
        sessions.forget(session_id);
        assert_eq!(sessions.multivariant(&session_id), None);
        // A restarted playback node replays the media topic: the expiry may come first.
        fold(
            &mut sessions,
            (channel_id, session_id),
            "c1",
            SOURCE_RENDITION,
            2,
        );
        assert_eq!(sessions.media(&session_id, "source"), None);
    }
}
