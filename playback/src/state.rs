//! The live state of every channel's stream, built from media events alone, so any process that
//! follows the media topic can serve any stream: per channel, the current session's renditions
//! (the source first, then the ladder's, tallest first). Pure: events in, state out.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::media::{MediaEvent, StreamRef, SOURCE_RENDITION};
use sigma_shared::settings::LatencyMode;

/// What a live playlist lists with DVR off, in segment targets: a player starts three target
/// durations from the end (RFC 8216bis §6.3.3), and delta updates skip up to six back.
pub const LIVE_WINDOW_TARGETS: f64 = 6.0;

#[derive(Clone, Debug, PartialEq)]
pub struct PartEntry {
    pub duration: f64,
    pub independent: bool,
    pub path: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// Media sequence number, counted across the session's reconnects.
    pub msn: u64,
    pub duration: f64,
    pub bytes: u64,
    pub path: String,
    /// The init segment this segment needs.
    pub map: String,
    /// A reconnect happened just before this segment.
    pub discontinuity: bool,
    pub program_date_time: DateTime<Utc>,
    pub parts: Vec<PartEntry>,
}

/// One rendition of a channel's current session, as playlists need it.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveStream {
    /// `source` or a ladder rung (`480p`): the playlist is `{name}.m3u8`.
    pub name: String,
    pub session_id: SessionId,
    pub latency_mode: LatencyMode,
    pub part_target: f64,
    pub segment_target: f64,
    pub codecs: Vec<String>,
    pub resolution: Option<(u32, u32)>,
    /// The DVR window: the newest segments whose durations add up to at least `dvr_window`
    /// seconds; with DVR off (0), at least [`LIVE_WINDOW_TARGETS`] segment targets.
    pub segments: VecDeque<Segment>,
    dvr_window: f64,
    /// Seconds and bytes of the listed segments; the highest bitrate of any segment so far;
    /// the longest segment so far (the target duration never shrinks).
    listed_seconds: f64,
    listed_bytes: u64,
    peak: Option<u64>,
    longest: f64,
    /// Parts of the segment being produced.
    pub partial: Vec<PartEntry>,
    /// The current connection's init segment.
    pub map: String,
    /// `{session}/{connection}/` of the current connection, and the packager's number of the
    /// segment in progress (or the next one): where the next part will be stored.
    pub prefix: String,
    pub open_segment: u64,
    pending_discontinuity: bool,
    /// The publisher is gone (it may come back within the reconnect window).
    pub publisher_gone: bool,
    /// The session is over (`session.ended`: its channel stopped or deleted, its publisher
    /// gone for good): the playlist ends (`EXT-X-ENDLIST`) and nothing more is waited for.
    pub ended: bool,
    /// The encoder's target bits per second (ladder renditions).
    pub declared_bandwidth: Option<u64>,
    /// Video frames and seconds over every segment, for the frame rate.
    frames: u64,
    seconds: f64,
}

impl LiveStream {
    /// The rendition an `InitReady` announces (`None` for any other event).
    fn open(init: &MediaEvent, prefix: String) -> Option<Self> {
        let MediaEvent::InitReady {
            stream,
            path,
            codecs,
            resolution,
            latency_mode,
            part_target_ms,
            segment_target_ms,
            bandwidth,
            dvr_window_seconds,
        } = init
        else {
            return None;
        };
        Some(Self {
            name: stream.rendition.clone(),
            session_id: stream.session_id,
            latency_mode: *latency_mode,
            part_target: f64::from(*part_target_ms) / 1000.0,
            segment_target: f64::from(*segment_target_ms) / 1000.0,
            codecs: codecs.clone(),
            resolution: *resolution,
            segments: VecDeque::new(),
            dvr_window: f64::from(*dvr_window_seconds),
            listed_seconds: 0.0,
            listed_bytes: 0,
            peak: None,
            longest: 0.0,
            partial: Vec::new(),
            map: path.clone(),
            prefix,
            open_segment: 0,
            pending_discontinuity: false,
            publisher_gone: false,
            ended: false,
            declared_bandwidth: *bandwidth,
            frames: 0,
            seconds: 0.0,
        })
    }

    /// The publisher came back: same session, a new connection with its own init segment, and
    /// a discontinuity before its first segment.
    fn reopen(&mut self, init: &MediaEvent, prefix: String) {
        let MediaEvent::InitReady {
            path,
            codecs,
            resolution,
            bandwidth,
            ..
        } = init
        else {
            return;
        };
        self.pending_discontinuity = !self.segments.is_empty();
        self.map = path.clone();
        self.prefix = prefix;
        self.open_segment = 0;
        self.partial.clear();
        self.publisher_gone = false;
        self.codecs = codecs.clone();
        self.resolution = *resolution;
        self.declared_bandwidth = *bandwidth;
    }

    /// Folds in a part, a segment or the publisher's departure (other events are the
    /// channel's, not the rendition's).
    fn apply(&mut self, event: &MediaEvent) {
        match event {
            MediaEvent::PartReady {
                segment,
                duration,
                independent,
                path,
                ..
            } => {
                self.open_segment = *segment;
                self.partial.push(PartEntry {
                    duration: *duration,
                    independent: *independent,
                    path: path.clone(),
                });
            }
            MediaEvent::SegmentReady {
                segment,
                duration,
                bytes,
                path,
                program_date_time,
                frames,
                ..
            } => {
                if *frames > 0 {
                    self.frames += u64::from(*frames);
                    self.seconds += *duration;
                }
                let segment_entry = Segment {
                    msn: self.next_msn(),
                    duration: *duration,
                    bytes: *bytes,
                    path: path.clone(),
                    map: self.map.clone(),
                    discontinuity: std::mem::take(&mut self.pending_discontinuity),
                    program_date_time: *program_date_time,
                    parts: std::mem::take(&mut self.partial),
                };
                self.list(segment_entry);
                self.open_segment = segment + 1;
            }
            MediaEvent::StreamEnded { .. } => self.publisher_gone = true,
            MediaEvent::InitReady { .. } | MediaEvent::ThumbnailReady { .. } => {}
        }
    }

    /// The media sequence number the segment in progress will get.
    pub fn next_msn(&self) -> u64 {
        self.segments.back().map_or(0, |segment| segment.msn + 1)
    }

    /// Where the next part will be stored, relative to the channel.
    pub fn next_part_path(&self) -> String {
        format!(
            "{}{}.{}.m4s",
            self.prefix,
            self.open_segment,
            self.partial.len()
        )
    }

    /// The longest segment so far, rounded: `EXT-X-TARGETDURATION`.
    pub fn target_duration(&self) -> u64 {
        self.longest.max(self.segment_target).round().max(1.0) as u64
    }

    /// Peak bits per second of any segment so far.
    pub fn peak_bandwidth(&self) -> Option<u64> {
        self.peak
    }

    /// Mean bits per second over the listed segments.
    pub fn average_bandwidth(&self) -> Option<u64> {
        (self.listed_seconds > 0.0)
            .then(|| (self.listed_bytes as f64 * 8.0 / self.listed_seconds) as u64)
    }

    /// Lists a finished segment, and lets the oldest go once the window holds without them.
    fn list(&mut self, segment: Segment) {
        self.listed_seconds += segment.duration;
        self.listed_bytes += segment.bytes;
        self.longest = self.longest.max(segment.duration);
        if segment.duration > 0.0 {
            let bitrate = (segment.bytes as f64 * 8.0 / segment.duration) as u64;
            self.peak = Some(self.peak.map_or(bitrate, |peak| peak.max(bitrate)));
        }
        self.segments.push_back(segment);
        let window = if self.dvr_window > 0.0 {
            self.dvr_window
        } else {
            (LIVE_WINDOW_TARGETS * self.segment_target).max(1.0)
        };
        while let Some(oldest) = self.segments.front() {
            if self.listed_seconds - oldest.duration < window {
                break;
            }
            self.listed_seconds -= oldest.duration;
            self.listed_bytes -= oldest.bytes;
            self.segments.pop_front();
        }
    }

    /// Video frames per second, once a segment with video is stored.
    pub fn frame_rate(&self) -> Option<f64> {
        (self.frames > 0 && self.seconds > 0.0).then(|| self.frames as f64 / self.seconds)
    }

    /// The last segment or part listed: (`LAST-MSN`, `LAST-PART`) of a rendition report.
    pub fn last_part(&self) -> Option<(u64, usize)> {
        if !self.partial.is_empty() {
            return Some((self.next_msn(), self.partial.len() - 1));
        }
        let last = self.segments.back()?;
        Some((last.msn, last.parts.len().saturating_sub(1)))
    }
}

/// A thumbnail of the session, and where it is in the source's timeline and the storyboard.
#[derive(Clone, Debug, PartialEq)]
pub struct Thumbnail {
    /// The source rendition's `{session}/{connection}/source/` of the connection it shows.
    pub prefix: String,
    pub segment: u64,
    pub part: u32,
    pub width: u32,
    pub height: u32,
    pub sheet: u64,
    pub x: u32,
    pub y: u32,
}

/// One channel's current session: its renditions, the source first, and its thumbnails.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelLive {
    pub session_id: SessionId,
    pub renditions: Vec<LiveStream>,
    pub thumbnails: Vec<Thumbnail>,
    /// Bumped by every change: rendered playlists are cached per version.
    pub version: u64,
}

impl ChannelLive {
    /// The session is over: no segment will come any more.
    pub fn ended(&self) -> bool {
        self.renditions.iter().all(|rendition| rendition.ended)
    }

    /// Whether rendition `name` can be played from: it has a segment (or it is over, and its
    /// playlist is final).
    pub fn is_listed(&self, name: &str) -> bool {
        self.rendition(name)
            .is_some_and(|stream| stream.ended || !stream.segments.is_empty())
    }

    pub fn rendition(&self, name: &str) -> Option<&LiveStream> {
        self.renditions
            .iter()
            .find(|rendition| rendition.name == name)
    }

    /// Source first, then the tallest renditions first.
    fn sort(&mut self) {
        self.renditions.sort_by_key(|rendition| {
            (
                rendition.name != SOURCE_RENDITION,
                std::cmp::Reverse(rendition.resolution.map_or(0, |(_, height)| height)),
            )
        });
    }
}

#[derive(Default)]
pub struct Streams {
    channels: HashMap<ChannelId, ChannelLive>,
    /// The channel of each channel's current session.
    sessions: HashMap<SessionId, ChannelId>,
}

impl Streams {
    pub fn get(&self, channel: &ChannelId) -> Option<&ChannelLive> {
        self.channels.get(channel)
    }

    /// The live state of `session`, while it is its channel's current session.
    pub fn session(&self, session: &SessionId) -> Option<&ChannelLive> {
        self.channels
            .get(self.sessions.get(session)?)
            .filter(|live| live.session_id == *session)
    }

    /// Ends `session`'s live playlists, if it is its channel's current session; returns the
    /// channel it changed.
    pub fn end(&mut self, session: &SessionId) -> Option<ChannelId> {
        let channel = *self.sessions.get(session)?;
        let live = self
            .channels
            .get_mut(&channel)
            .filter(|live| live.session_id == *session)?;
        live.version += 1;
        for rendition in &mut live.renditions {
            rendition.ended = true;
        }
        Some(channel)
    }

    /// Forgets a deleted channel's live state.
    pub fn forget_channel(&mut self, channel: &ChannelId) {
        if let Some(live) = self.channels.remove(channel) {
            self.sessions.remove(&live.session_id);
        }
    }

    /// Folds one media event in; returns the channel it changed, if any.
    pub fn apply(&mut self, event: &MediaEvent) -> Option<ChannelId> {
        let stream = event.stream();
        let prefix = format!(
            "{}/{}/{}/",
            stream.session_id, stream.connection, stream.rendition
        );
        match event {
            MediaEvent::InitReady { .. } => self.open_rendition(event, prefix),
            MediaEvent::ThumbnailReady {
                segment,
                part,
                width,
                height,
                sheet,
                x,
                y,
                ..
            } => {
                let live = self.current(stream)?;
                live.version += 1;
                live.thumbnails.push(Thumbnail {
                    prefix,
                    segment: *segment,
                    part: *part,
                    width: *width,
                    height: *height,
                    sheet: *sheet,
                    x: *x,
                    y: *y,
                });
            }
            MediaEvent::PartReady { .. }
            | MediaEvent::SegmentReady { .. }
            | MediaEvent::StreamEnded { .. } => {
                let live = self.current(stream)?;
                live.version += 1;
                live.renditions
                    .iter_mut()
                    .find(|rendition| rendition.prefix == prefix)?
                    .apply(event);
            }
        }
        Some(stream.channel_id)
    }

    /// The live state of `stream`'s channel, while `stream` is of its current session.
    fn current(&mut self, stream: &StreamRef) -> Option<&mut ChannelLive> {
        self.channels
            .get_mut(&stream.channel_id)
            .filter(|live| live.session_id == stream.session_id)
    }

    /// An `InitReady` opens a rendition of the channel's session (a new session replaces the
    /// channel's earlier one), or opens it again after the publisher came back.
    fn open_rendition(&mut self, init: &MediaEvent, prefix: String) {
        let stream = init.stream();
        self.sessions.insert(stream.session_id, stream.channel_id);
        let fresh = || ChannelLive {
            session_id: stream.session_id,
            renditions: Vec::new(),
            thumbnails: Vec::new(),
            version: 0,
        };
        let live = self.channels.entry(stream.channel_id).or_insert_with(fresh);
        if live.session_id != stream.session_id {
            // The channel's earlier session is over: only the current one is looked up.
            self.sessions.remove(&live.session_id);
            let version = live.version;
            *live = fresh();
            live.version = version;
        }
        live.version += 1;
        match live
            .renditions
            .iter_mut()
            .find(|rendition| rendition.name == stream.rendition)
        {
            Some(rendition) => rendition.reopen(init, prefix),
            None => {
                live.renditions.extend(LiveStream::open(init, prefix));
                live.sort();
            }
        }
    }
}
