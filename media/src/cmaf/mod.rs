//! The CMAF packager: media frames in, an init segment and a stream of parts out, grouped into
//! segments that each start on a video keyframe. Pure and synchronous — no clocks, no I/O — so
//! timing rules are tested exactly; the ingest session feeds it and stores what it returns.
//!
//! Parts close when they reach the part target (LL-HLS parts, e.g. 200 ms); a segment closes at
//! the first keyframe after it reached the segment target. A sample's duration is the distance
//! to the next sample of its track, so each track holds one sample back.

mod clock;
mod fragment;
mod init;

use bytes::Bytes;

pub use fragment::Sample;
pub use init::{AudioTrack, VideoTrack, AUDIO_TRACK, VIDEO_TIMESCALE, VIDEO_TRACK};

use crate::flv::Frame;

/// The longest a segment may grow while no keyframe comes to end it (a publisher's segment is
/// held in memory until it ends), unless the segment target itself is longer.
pub const MAX_SEGMENT_MS: u32 = 30_000;
/// The most bytes of media one segment may hold.
pub const MAX_SEGMENT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("bad codec configuration: {0}")]
    BadConfig(String),
    #[error("a stream needs at least one audio or video track")]
    NoTracks,
    #[error("encoding boxes: {0}")]
    Encode(String),
    #[error("no keyframe for {} s: set the encoder's keyframe interval to 2 s or less", .0 / 1000)]
    NoKeyframe(u32),
    #[error("a segment grew past {} MiB: lower the bitrate or the keyframe interval", .0 >> 20)]
    SegmentTooLarge(usize),
    #[error("audio flowed for {} s without video: the encoder's video stopped", .0 / 1000)]
    VideoStalled(u32),
}

impl PackageError {
    /// A stable label for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadConfig(_) | Self::NoTracks => "bad_codec_config",
            Self::Encode(_) => "media",
            Self::NoKeyframe(_) => "no_keyframe",
            Self::SegmentTooLarge(_) => "segment_too_large",
            Self::VideoStalled(_) => "video_stalled",
        }
    }

    fn encode(error: mp4_atom::Error) -> Self {
        Self::Encode(error.to_string())
    }
}

#[derive(Clone, Copy, Debug)]
pub struct PackagerConfig {
    pub part_target_ms: u32,
    pub segment_target_ms: u32,
}

/// One chunk of a segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub segment: u64,
    /// Position in its segment, from 0.
    pub index: u32,
    /// Starts with a keyframe (or is audio-only): a player can start here.
    pub independent: bool,
    pub duration: f64,
    /// Video frames in the part (0 for audio-only streams).
    pub frames: u32,
    pub bytes: Bytes,
}

/// An init segment and what playlists say about its tracks.
#[derive(Clone, Debug, PartialEq)]
pub struct Init {
    pub bytes: Bytes,
    /// RFC 6381 codec strings, video first.
    pub codecs: Vec<String>,
    pub resolution: Option<(u32, u32)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A (new) init segment; every part after it needs it.
    Init(Init),
    Part(Part),
    /// The segment is complete: its parts, concatenated, are the segment.
    SegmentEnd {
        segment: u64,
        duration: f64,
        parts: u32,
        /// Video frames in the segment.
        frames: u32,
    },
}

/// One track's samples on their way to a part.
struct Track {
    timescale: u32,
    /// The newest sample; its duration is known once the next one arrives.
    held: Option<Sample>,
    pending: Vec<Sample>,
    /// The duration of `pending`, in the track's timescale.
    pending_ticks: u64,
    last_duration: u32,
}

impl Track {
    fn new(timescale: u32, default_duration: u32) -> Self {
        Self {
            timescale,
            held: None,
            pending: Vec::new(),
            pending_ticks: 0,
            last_duration: default_duration,
        }
    }

    /// Holds `sample` back and returns the previous one with its duration settled.
    fn hold(&mut self, sample: Sample) -> Option<Sample> {
        let mut released = self.held.replace(sample)?;
        let next_dts = self.held.as_ref().expect("just held").dts;
        // Timestamps that stand still or go back (a jump, a broken encoder) keep the last
        // good duration rather than producing a zero or negative one.
        released.duration = match next_dts.checked_sub(released.dts) {
            Some(gap) if gap > 0 && gap < u64::from(self.timescale) * 10 => gap as u32,
            _ => self.last_duration,
        };
        self.last_duration = released.duration;
        Some(released)
    }

    fn flush(&mut self) -> Option<Sample> {
        let mut last = self.held.take()?;
        last.duration = self.last_duration;
        Some(last)
    }

    fn queue(&mut self, sample: Sample) {
        self.pending_ticks += u64::from(sample.duration);
        self.pending.push(sample);
    }

    fn take_pending(&mut self) -> Vec<Sample> {
        self.pending_ticks = 0;
        std::mem::take(&mut self.pending)
    }
}

pub struct Packager {
    config: PackagerConfig,
    video_track: Option<VideoTrack>,
    audio_track: Option<AudioTrack>,
    video: Option<Track>,
    audio: Option<Track>,
    /// The first timestamp of the stream (ms): tracks start near `start_ms`.
    origin_ms: Option<i64>,
    /// Where this stream's timeline starts (ms): 0, or where a returning publisher's session
    /// left off, so one session is one timeline across reconnects.
    start_ms: i64,
    /// Unwraps and de-jumps FLV's 32-bit timestamps.
    clock: clock::Clock,
    init_sent: bool,
    sequence: u32,
    segment: Option<u64>,
    next_segment: u64,
    part_index: u32,
    /// Elapsed ticks of the driving track (video if any, else audio).
    part_ticks: u64,
    segment_ticks: u64,
    segment_parts: u32,
    segment_duration: f64,
    segment_frames: u32,
    /// Media bytes placed in the current segment so far.
    segment_bytes: usize,
    /// Audio (in its timescale) let go before the first segment began, while a video track
    /// is declared but no video was placed: video that never starts is video that stopped.
    audio_before_video: u64,
}

impl Packager {
    pub fn new(config: PackagerConfig) -> Self {
        Self {
            config,
            video_track: None,
            audio_track: None,
            video: None,
            audio: None,
            origin_ms: None,
            start_ms: 0,
            clock: clock::Clock::default(),
            init_sent: false,
            sequence: 0,
            segment: None,
            next_segment: 0,
            part_index: 0,
            audio_before_video: 0,
            part_ticks: 0,
            segment_ticks: 0,
            segment_parts: 0,
            segment_duration: 0.0,
            segment_frames: 0,
            segment_bytes: 0,
        }
    }

    /// A packager for a stream whose timestamps already start at the session's origin (the
    /// ladder's renditions, made from a packager's own output): they are kept as they are, so
    /// every rendition's parts and segments carry the source's presentation times.
    pub fn anchored(config: PackagerConfig) -> Self {
        Self {
            origin_ms: Some(0),
            ..Self::new(config)
        }
    }

    /// This packager's timeline starts at `start_ms` instead of zero.
    pub fn starting_at(self, start_ms: u64) -> Self {
        Self {
            start_ms: i64::try_from(start_ms).unwrap_or(i64::MAX / 4),
            ..self
        }
    }

    /// Bytes of media held for parts not yet closed (at most a segment's worth, see
    /// [`MAX_SEGMENT_BYTES`], plus the sample each track holds back).
    pub fn held_bytes(&self) -> usize {
        [&self.video, &self.audio]
            .into_iter()
            .flatten()
            .flat_map(|track| track.pending.iter().chain(&track.held))
            .map(|sample| sample.data.len())
            .sum()
    }

    pub fn video_track(&self) -> Option<&VideoTrack> {
        self.video_track.as_ref()
    }

    pub fn audio_track(&self) -> Option<&AudioTrack> {
        self.audio_track.as_ref()
    }

    fn ticks(&mut self, raw_ms: i64, timescale: u32) -> u64 {
        let ms = self.clock.continuous(raw_ms);
        let origin = *self.origin_ms.get_or_insert(ms);
        ((ms - origin).max(0) + self.start_ms) as u64 * u64::from(timescale) / 1000
    }

    /// Feeds one frame; returns what became ready.
    pub fn push(&mut self, frame: Frame) -> Result<Vec<Output>, PackageError> {
        let mut out = Vec::new();
        match frame {
            Frame::VideoConfig(record) => {
                let track = VideoTrack::from_config(&record)?;
                if self.video_track.as_ref() != Some(&track) {
                    self.video_track = Some(track);
                    self.video
                        .get_or_insert_with(|| Track::new(VIDEO_TIMESCALE, VIDEO_TIMESCALE / 30));
                    self.init_sent = false;
                }
            }
            Frame::AudioConfig(config) => {
                let track = AudioTrack::from_config(&config)?;
                if self.audio_track.as_ref() != Some(&track) {
                    self.audio
                        .get_or_insert_with(|| Track::new(track.sample_rate, 1024));
                    self.audio_track = Some(track);
                    self.init_sent = false;
                }
            }
            Frame::Video {
                dts,
                composition_offset,
                keyframe,
                data,
            } => {
                if self.video.is_none() {
                    return Ok(out); // no configuration yet: undecodable
                }
                self.send_init(&mut out)?;
                let sample = Sample {
                    dts: self.ticks(dts, VIDEO_TIMESCALE),
                    duration: 0,
                    composition_offset: composition_offset
                        .saturating_mul((VIDEO_TIMESCALE / 1000) as i32),
                    sync: keyframe,
                    data,
                };
                if let Some(ready) = self.video.as_mut().expect("checked").hold(sample) {
                    self.place_driving(ready, VIDEO_TRACK, &mut out)?;
                }
            }
            Frame::Audio { dts, data } => {
                let Some(rate) = self.audio.as_ref().map(|track| track.timescale) else {
                    return Ok(out);
                };
                self.send_init(&mut out)?;
                let sample = Sample {
                    dts: self.ticks(dts, rate),
                    duration: 0,
                    composition_offset: 0,
                    sync: true,
                    data,
                };
                if let Some(ready) = self.audio.as_mut().expect("checked").hold(sample) {
                    if self.video.is_some() {
                        // Audio rides along in the video's parts; before the first keyframe
                        // there is no segment to put it in.
                        if self.segment.is_some() {
                            self.ride_along(ready)?;
                        } else {
                            self.wait_for_video(&ready)?;
                        }
                    } else {
                        self.place_driving(ready, AUDIO_TRACK, &mut out)?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Where the frames taken in so far end on the timeline (ms), those not yet in a part
    /// included: the newest frame's time plus the duration of the one before it. `None`
    /// while nothing would be kept (no frame yet, or none since the start that could begin a
    /// segment).
    pub fn end_ms(&self) -> Option<u64> {
        let track = self.video.as_ref().or(self.audio.as_ref())?;
        let newest = track.held.as_ref()?;
        if self.segment.is_none() && !newest.sync {
            return None;
        }
        let end = newest.dts + u64::from(track.last_duration);
        Some((end * 1000).div_ceil(u64::from(track.timescale)))
    }

    /// Closes everything still open (the publisher is gone).
    pub fn finish(&mut self) -> Result<Vec<Output>, PackageError> {
        let mut out = Vec::new();
        if let Some(last) = self.video.as_mut().and_then(Track::flush) {
            self.place_driving(last, VIDEO_TRACK, &mut out)?;
        }
        if let Some(last) = self.audio.as_mut().and_then(Track::flush) {
            if self.video.is_some() {
                if self.segment.is_some() {
                    self.ride_along(last)?;
                }
            } else {
                self.place_driving(last, AUDIO_TRACK, &mut out)?;
            }
        }
        self.close_part(&mut out)?;
        self.close_segment(&mut out);
        Ok(out)
    }

    fn send_init(&mut self, out: &mut Vec<Output>) -> Result<(), PackageError> {
        if !self.init_sent {
            let bytes = init::init_segment(self.video_track.as_ref(), self.audio_track.as_ref())?;
            let codecs = self
                .video_track
                .iter()
                .map(VideoTrack::codec)
                .chain(self.audio_track.iter().map(AudioTrack::codec))
                .collect();
            let resolution = self
                .video_track
                .as_ref()
                .map(|video| (video.width, video.height));
            out.push(Output::Init(Init {
                bytes,
                codecs,
                resolution,
            }));
            self.init_sent = true;
        }
        Ok(())
    }

    /// Queues an audio sample for the next part of the video it rides along with. Video that
    /// stops while audio goes on would leave it queued for ever: that ends the stream.
    fn ride_along(&mut self, sample: Sample) -> Result<(), PackageError> {
        self.count_bytes(&sample)?;
        let limit_ms = self.max_segment_ms();
        let audio = self.audio.as_mut().expect("an audio track");
        audio.queue(sample);
        if audio.pending_ticks > u64::from(limit_ms) * u64::from(audio.timescale) / 1000 {
            return Err(PackageError::VideoStalled(limit_ms));
        }
        Ok(())
    }

    /// Lets go of an audio sample that came before any video was placed; ends the stream
    /// once a segment's cap of audio went by that way.
    fn wait_for_video(&mut self, sample: &Sample) -> Result<(), PackageError> {
        let limit_ms = self.max_segment_ms();
        let audio = self.audio.as_ref().expect("an audio track");
        self.audio_before_video += u64::from(sample.duration);
        if self.audio_before_video > u64::from(limit_ms) * u64::from(audio.timescale) / 1000 {
            return Err(PackageError::VideoStalled(limit_ms));
        }
        Ok(())
    }

    fn max_segment_ms(&self) -> u32 {
        MAX_SEGMENT_MS.max(self.config.segment_target_ms.saturating_mul(2))
    }

    fn count_bytes(&mut self, sample: &Sample) -> Result<(), PackageError> {
        self.segment_bytes += sample.data.len();
        if self.segment_bytes > MAX_SEGMENT_BYTES {
            return Err(PackageError::SegmentTooLarge(MAX_SEGMENT_BYTES));
        }
        Ok(())
    }

    /// Places a sample of the track that decides where parts and segments are cut.
    fn place_driving(
        &mut self,
        sample: Sample,
        track: u32,
        out: &mut Vec<Output>,
    ) -> Result<(), PackageError> {
        let timescale = u64::from(if track == VIDEO_TRACK {
            VIDEO_TIMESCALE
        } else {
            self.audio.as_ref().expect("audio").timescale
        });
        let segment_target = u64::from(self.config.segment_target_ms) * timescale / 1000;
        let part_target = u64::from(self.config.part_target_ms) * timescale / 1000;
        if self.segment.is_none() && !sample.sync {
            return Ok(()); // wait for a keyframe to start on
        }
        if sample.sync && (self.segment.is_none() || self.segment_ticks >= segment_target) {
            self.close_part(out)?;
            self.close_segment(out);
            self.segment = Some(self.next_segment);
            self.next_segment += 1;
        }
        let limit_ms = self.max_segment_ms();
        if self.segment_ticks > u64::from(limit_ms) * timescale / 1000 {
            return Err(PackageError::NoKeyframe(limit_ms));
        }
        self.count_bytes(&sample)?;
        let duration = u64::from(sample.duration);
        let state = if track == VIDEO_TRACK {
            self.video.as_mut()
        } else {
            self.audio.as_mut()
        };
        state.expect("the driving track exists").queue(sample);
        self.part_ticks += duration;
        self.segment_ticks += duration;
        // Close when the next sample would overshoot the target by more than this one would
        // fall short of it, so parts stay within the target's ±1 frame.
        if self.part_ticks + duration / 2 >= part_target {
            self.close_part(out)?;
        }
        Ok(())
    }

    fn close_part(&mut self, out: &mut Vec<Output>) -> Result<(), PackageError> {
        let Some(segment) = self.segment else {
            return Ok(());
        };
        // Audio that arrived after the video's last part rides in the next part: a part
        // without driving samples would have no duration.
        let driving_empty = match (&self.video, &self.audio) {
            (Some(video), _) => video.pending.is_empty(),
            (None, Some(audio)) => audio.pending.is_empty(),
            (None, None) => true,
        };
        if driving_empty {
            return Ok(());
        }
        let video: Vec<Sample> = self
            .video
            .as_mut()
            .map(Track::take_pending)
            .unwrap_or_default();
        let audio: Vec<Sample> = self
            .audio
            .as_mut()
            .map(Track::take_pending)
            .unwrap_or_default();
        let (driving, timescale) = if self.video.is_some() {
            (&video, VIDEO_TIMESCALE)
        } else {
            (&audio, self.audio.as_ref().expect("audio").timescale)
        };
        let independent = driving.first().is_some_and(|sample| sample.sync);
        let duration = self.part_ticks as f64 / f64::from(timescale);
        self.sequence += 1;
        let bytes = fragment::fragment(
            self.sequence,
            &[(VIDEO_TRACK, &video), (AUDIO_TRACK, &audio)],
        )?;
        let frames = video.len() as u32;
        out.push(Output::Part(Part {
            segment,
            index: self.part_index,
            independent,
            duration,
            frames,
            bytes,
        }));
        self.part_index += 1;
        self.segment_parts += 1;
        self.segment_frames += frames;
        self.segment_duration += duration;
        self.part_ticks = 0;
        Ok(())
    }

    fn close_segment(&mut self, out: &mut Vec<Output>) {
        if let Some(segment) = self.segment.take() {
            if self.segment_parts > 0 {
                out.push(Output::SegmentEnd {
                    segment,
                    duration: self.segment_duration,
                    parts: self.segment_parts,
                    frames: self.segment_frames,
                });
            }
        }
        self.part_index = 0;
        self.segment_parts = 0;
        self.segment_frames = 0;
        self.segment_duration = 0.0;
        self.segment_ticks = 0;
        self.segment_bytes = 0;
    }
}
