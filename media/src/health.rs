//! Stream health: what the ingest sees of a publisher's media, turned into alerts that are
//! raised when a rule starts failing and cleared when it holds again. Pure: frames and the clock
//! come in as arguments, so every rule is tested without a socket.
//!
//! The rules, over a sliding window of [`WINDOW`] of arrival time:
//! - `no_media`: no frame for [`SILENCE`] while the publisher is connected; cleared once media
//!   have flowed again for [`RECOVERY_HOLD`] without a gap of [`RESUME_GAP`] (an input that
//!   keeps stalling and recovering stays stalled, so a primary does not flap on and off air).
//! - `frame_rate_low`: the video frame rate fell below half the stream's reference rate (the
//!   highest rate seen over a full window); cleared at 80 %.
//! - `keyframe_interval_long`: more than [`MAX_KEYFRAME_INTERVAL`] of video without a keyframe
//!   (segments cannot be cut, players cannot join); cleared by a keyframe that follows the
//!   previous one within the limit.
//! - `bitrate_low`: the input bitrate collapsed below a quarter of its running average; cleared
//!   at half of it.
//! - `av_drift`: audio and video timestamps arriving more than [`MAX_DRIFT_MS`] apart; cleared
//!   under half of it.
//!
//! Rates are judged only once a full window of media was seen, and only while frames keep
//! arriving (silence is its own alert, not a low rate).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::flv::Frame;

/// The rule of silence while connected: the one that makes a backup input take over.
pub const NO_MEDIA: &str = "no_media";
/// Not a rule over frames: the ingest disconnected the publisher for what it sent (no keyframe
/// for too long, a segment past its cap, over the bitrate ceiling, a protocol error); the
/// message says which. Raised as the publisher goes; it stays until the session ends.
pub const PUBLISHER_DROPPED: &str = "publisher_dropped";
pub const WINDOW: Duration = Duration::from_secs(3);
pub const SILENCE: Duration = Duration::from_secs(3);
pub const RECOVERY_HOLD: Duration = Duration::from_secs(5);
/// A gap between frames this long, while `no_media` holds, starts the recovery hold again.
pub const RESUME_GAP: Duration = Duration::from_secs(1);
pub const MAX_KEYFRAME_INTERVAL: Duration = Duration::from_secs(5);
pub const MAX_DRIFT_MS: i64 = 2_000;
/// How much the running bitrate average follows each new window (per check, about once a
/// second: a time constant of about 30 s).
const AVERAGE_WEIGHT: f64 = 1.0 / 30.0;

/// A rule's state changed.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthChange {
    pub code: &'static str,
    /// Raised (`true`) or cleared.
    pub raised: bool,
    /// What was measured, for the broadcaster.
    pub message: String,
    /// For `no_media` raised on a stream on air: where its media end on the session's
    /// timeline, the frames its packager still holds included (they are stored when it goes
    /// off air). An input taking over starts there, so the two do not overlap.
    pub media_end_ms: Option<u64>,
}

#[derive(Debug)]
pub struct StreamHealth {
    /// When media started, or resumed after a silence: rates are judged a window later.
    flowing_since: Instant,
    last_frame: Option<Instant>,
    /// While `no_media` holds: since when media have flowed again without a gap.
    resumed_at: Option<Instant>,
    /// Arrival time, bytes, video-or-not, of the frames of the last window.
    recent: VecDeque<(Instant, usize, bool)>,
    reference_fps: f64,
    average_bitrate: Option<f64>,
    last_video_dts: Option<i64>,
    last_audio_dts: Option<i64>,
    last_keyframe_dts: Option<i64>,
    /// The open alerts, each with the message it was raised with.
    open: BTreeMap<&'static str, String>,
    /// Changes found while observing frames, handed out by the next `check`.
    pending: Vec<HealthChange>,
}

impl StreamHealth {
    pub fn new(now: Instant) -> Self {
        Self {
            flowing_since: now,
            last_frame: None,
            resumed_at: None,
            recent: VecDeque::new(),
            reference_fps: 0.0,
            average_bitrate: None,
            last_video_dts: None,
            last_audio_dts: None,
            last_keyframe_dts: None,
            open: BTreeMap::new(),
            pending: Vec::new(),
        }
    }

    /// A frame arrived at `now`.
    pub fn observe(&mut self, frame: &Frame, now: Instant) {
        match frame {
            Frame::Video {
                dts,
                keyframe,
                data,
                ..
            } => {
                self.recent.push_back((now, data.len(), true));
                if *keyframe {
                    if let Some(previous) = self.last_keyframe_dts {
                        let interval = dts - previous;
                        if interval <= MAX_KEYFRAME_INTERVAL.as_millis() as i64 {
                            self.set("keyframe_interval_long", false, String::new());
                        }
                    }
                    self.last_keyframe_dts = Some(*dts);
                } else if let Some(key) = self.last_keyframe_dts {
                    let since = dts - key;
                    if since > MAX_KEYFRAME_INTERVAL.as_millis() as i64 {
                        self.set(
                            "keyframe_interval_long",
                            true,
                            format!(
                                "no keyframe for {:.1} s (at most {} s; set the encoder's keyframe interval to 1–2 s)",
                                since as f64 / 1000.0,
                                MAX_KEYFRAME_INTERVAL.as_secs()
                            ),
                        );
                    }
                }
                self.last_video_dts = Some(*dts);
            }
            Frame::Audio { dts, data } => {
                self.recent.push_back((now, data.len(), false));
                self.last_audio_dts = Some(*dts);
            }
            Frame::VideoConfig(_) | Frame::AudioConfig(_) => return,
        }
        let previous = self.last_frame.replace(now);
        if self.open.contains_key(NO_MEDIA) {
            self.resume(previous, now);
        }
    }

    /// A frame arrived while `no_media` holds: it clears once media flowed for the hold.
    fn resume(&mut self, previous: Option<Instant>, now: Instant) {
        let steady_since = match (self.resumed_at, previous) {
            (Some(since), Some(previous)) if now.duration_since(previous) < RESUME_GAP => since,
            _ => now,
        };
        if now.duration_since(steady_since) >= RECOVERY_HOLD {
            self.resumed_at = None;
            self.set(NO_MEDIA, false, String::new());
            self.flowing_since = now;
        } else {
            self.resumed_at = Some(steady_since);
        }
    }

    /// When the silence so far becomes `no_media` if no frame comes first; `None` while it is
    /// raised. The connection also wakes exactly then, so a stalled input (which a backup
    /// takes over from) is reported at the threshold, not up to a check period later.
    pub fn silence_deadline(&self) -> Option<Instant> {
        (!self.open.contains_key(NO_MEDIA))
            .then(|| self.last_frame.unwrap_or(self.flowing_since) + SILENCE)
    }

    /// Judges the rules at `now` (call it about once a second); returns what changed since the
    /// last call.
    pub fn check(&mut self, now: Instant) -> Vec<HealthChange> {
        while self
            .recent
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) > WINDOW)
        {
            self.recent.pop_front();
        }
        let silent_for = now.duration_since(self.last_frame.unwrap_or(self.flowing_since));
        if silent_for >= SILENCE {
            self.set(
                NO_MEDIA,
                true,
                format!(
                    "connected but no media for {:.0} s",
                    silent_for.as_secs_f64()
                ),
            );
        }
        // A stream going silent thins the window before `no_media` holds: rates are judged
        // only while frames are still arriving.
        let judged = now.duration_since(self.flowing_since) >= WINDOW
            && silent_for < SILENCE / 2
            && !self.open.contains_key(NO_MEDIA);
        if judged {
            self.judge_rates();
            self.judge_drift();
        }
        std::mem::take(&mut self.pending)
    }

    fn judge_rates(&mut self) {
        let seconds = WINDOW.as_secs_f64();
        let fps = self.recent.iter().filter(|(_, _, video)| *video).count() as f64 / seconds;
        let bitrate = self
            .recent
            .iter()
            .map(|(_, bytes, _)| *bytes)
            .sum::<usize>() as f64
            * 8.0
            / seconds;
        if fps > 0.0 || self.reference_fps > 0.0 {
            if fps < self.reference_fps * 0.5 {
                self.set(
                    "frame_rate_low",
                    true,
                    format!("{fps:.1} fps, down from {:.0} fps", self.reference_fps),
                );
            } else if fps >= self.reference_fps * 0.8 {
                self.set("frame_rate_low", false, String::new());
            }
            self.reference_fps = self.reference_fps.max(fps);
        }
        match self.average_bitrate {
            None => self.average_bitrate = Some(bitrate),
            Some(average) => {
                if bitrate < average * 0.25 {
                    self.set(
                        "bitrate_low",
                        true,
                        format!(
                            "input bitrate {:.0} kbit/s, down from about {:.0} kbit/s",
                            bitrate / 1000.0,
                            average / 1000.0
                        ),
                    );
                } else if bitrate >= average * 0.5 {
                    self.set("bitrate_low", false, String::new());
                }
                // The average learns only from healthy windows, so a collapse stays visible.
                if !self.open.contains_key("bitrate_low") {
                    self.average_bitrate = Some(average + (bitrate - average) * AVERAGE_WEIGHT);
                }
            }
        }
    }

    /// Compares the newest timestamps of both tracks, once both arrive within the window.
    fn judge_drift(&mut self) {
        let has = |video: bool| {
            self.recent
                .iter()
                .any(|(_, _, is_video)| *is_video == video)
        };
        let (Some(video), Some(audio)) = (self.last_video_dts, self.last_audio_dts) else {
            return;
        };
        if !(has(true) && has(false)) {
            return;
        }
        let drift = (video - audio).abs();
        if drift > MAX_DRIFT_MS {
            self.set(
                "av_drift",
                true,
                format!("audio and video are {drift} ms apart"),
            );
        } else if drift < MAX_DRIFT_MS / 2 {
            self.set("av_drift", false, String::new());
        }
    }

    /// The alerts open now.
    pub fn open(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.open.keys().copied()
    }

    fn set(&mut self, code: &'static str, raised: bool, message: String) {
        let was_open = self.open.contains_key(code);
        if raised && !was_open {
            self.open.insert(code, message.clone());
            self.pending.push(HealthChange {
                code,
                raised,
                message,
                media_end_ms: None,
            });
        } else if !raised && was_open {
            self.open.remove(code);
            self.pending.push(HealthChange {
                code,
                raised,
                message: "recovered".into(),
                media_end_ms: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// Feeds `seconds` of video at `fps` (a keyframe every `gop` frames, 0: only the first)
    /// with 48 kHz AAC alongside, checking once a second; returns every change.
    fn feed(
        health: &mut StreamHealth,
        start: Instant,
        from_ms: i64,
        seconds: i64,
        fps: i64,
        gop: i64,
        audio: bool,
    ) -> Vec<HealthChange> {
        let mut changes = Vec::new();
        let frames = seconds * fps;
        for n in 0..frames {
            let dts = from_ms + n * 1000 / fps;
            let at = start + Duration::from_millis(dts as u64);
            let keyframe = n == 0 || (gop > 0 && n % gop == 0);
            health.observe(
                &Frame::Video {
                    dts,
                    composition_offset: 0,
                    keyframe,
                    data: Bytes::from(vec![0; 2_000]),
                },
                at,
            );
            if audio {
                health.observe(
                    &Frame::Audio {
                        dts,
                        data: Bytes::from(vec![0; 200]),
                    },
                    at,
                );
            }
            if n % fps == fps - 1 {
                changes.extend(health.check(at));
            }
        }
        changes
    }

    fn codes(changes: &[HealthChange]) -> Vec<(&'static str, bool)> {
        changes.iter().map(|c| (c.code, c.raised)).collect()
    }

    #[test]
    fn a_steady_stream_raises_nothing() {
        let start = Instant::now();
        let mut health = StreamHealth::new(start);
        assert_eq!(
            codes(&feed(&mut health, start, 0, 20, 30, 30, true)),
            vec![]
        );
    }

    #[test]
    fn a_drop_to_one_frame_a_second_raises_frame_rate_low_until_it_recovers() {
        let start = Instant::now();
        let mut health = StreamHealth::new(start);
        feed(&mut health, start, 0, 10, 30, 30, false);
        let dropped = feed(&mut health, start, 10_000, 10, 1, 1, false);
        assert!(
            codes(&dropped).contains(&("frame_rate_low", true)),
            "{dropped:?}"
        );
        let recovered = feed(&mut health, start, 20_000, 10, 30, 30, false);
        assert!(
            codes(&recovered).contains(&("frame_rate_low", false)),
            "{recovered:?}"
        );
        assert_eq!(health.open().count(), 0);
    }

    #[test]
    fn keyframes_that_stop_raise_keyframe_interval_long_until_they_return() {
        let start = Instant::now();
        let mut health = StreamHealth::new(start);
        feed(&mut health, start, 0, 5, 30, 30, true);
        let without = feed(&mut health, start, 5_000, 10, 30, 0, true);
        assert_eq!(codes(&without), vec![("keyframe_interval_long", true)]);
        let back = feed(&mut health, start, 15_000, 5, 30, 30, true);
        assert_eq!(codes(&back), vec![("keyframe_interval_long", false)]);
    }

    #[test]
    fn silence_while_connected_raises_no_media_and_media_flowing_for_the_hold_clear_it() {
        let start = Instant::now();
        let mut health = StreamHealth::new(start);
        feed(&mut health, start, 0, 5, 30, 30, true);
        let mut silent = Vec::new();
        for second in 6..=9 {
            silent.extend(health.check(start + Duration::from_secs(second)));
        }
        assert_eq!(
            codes(&silent),
            vec![(NO_MEDIA, true)],
            "silence is not a low rate first"
        );
        // Silence is not also a low frame rate or bitrate.
        assert_eq!(
            codes(&health.check(start + Duration::from_secs(10))),
            vec![]
        );
        let resuming = feed(&mut health, start, 10_000, 4, 30, 30, true);
        assert_eq!(codes(&resuming), vec![], "not cleared before the hold");
        let back = feed(&mut health, start, 14_000, 2, 30, 30, true);
        assert_eq!(codes(&back), vec![(NO_MEDIA, false)]);
    }

    #[test]
    fn an_input_that_keeps_stalling_stays_stalled_until_it_holds() {
        let start = Instant::now();
        let mut health = StreamHealth::new(start);
        feed(&mut health, start, 0, 5, 30, 30, true);
        let mut changes = Vec::new();
        // Stalls of 2 s between 3 s bursts: never the hold's 5 s of steady media.
        for burst in 0..4 {
            let from = 8_000 + burst * 5_000;
            changes.extend(health.check(start + Duration::from_millis(from as u64)));
            changes.extend(feed(&mut health, start, from, 3, 30, 30, true));
        }
        assert_eq!(
            codes(&changes),
            vec![(NO_MEDIA, true)],
            "raised once, never cleared"
        );
        let steady = feed(&mut health, start, 28_000, 6, 30, 30, true);
        assert_eq!(codes(&steady), vec![(NO_MEDIA, false)]);
    }

    #[test]
    fn silence_is_due_exactly_the_threshold_after_the_last_frame() {
        let start = Instant::now();
        let mut health = StreamHealth::new(start);
        assert_eq!(health.silence_deadline(), Some(start + SILENCE));
        feed(&mut health, start, 0, 2, 30, 30, true);
        let last_frame = start + Duration::from_millis(59 * 1000 / 30);
        let due = health.silence_deadline().unwrap();
        assert_eq!(due, last_frame + SILENCE);
        assert_eq!(
            codes(&health.check(due - Duration::from_millis(1))),
            vec![],
            "not a moment early"
        );
        assert_eq!(codes(&health.check(due)), vec![(NO_MEDIA, true)]);
        assert_eq!(health.silence_deadline(), None, "raised once");
    }

    #[test]
    fn a_bitrate_collapse_is_raised_and_cleared() {
        let start = Instant::now();
        let mut health = StreamHealth::new(start);
        feed(&mut health, start, 0, 20, 30, 30, false);
        let mut changes = Vec::new();
        for second in 20..30 {
            for n in 0..30 {
                let dts = second * 1000 + n * 33;
                let frame = Frame::Video {
                    dts,
                    composition_offset: 0,
                    keyframe: n == 0,
                    data: Bytes::from(vec![0; 100]),
                };
                health.observe(&frame, start + Duration::from_millis(dts as u64));
            }
            changes.extend(health.check(start + Duration::from_millis(second as u64 * 1000 + 999)));
        }
        assert_eq!(codes(&changes), vec![("bitrate_low", true)]);
        let back = feed(&mut health, start, 30_000, 10, 30, 30, false);
        assert_eq!(codes(&back), vec![("bitrate_low", false)]);
    }

    #[test]
    fn audio_drifting_from_video_raises_av_drift() {
        let start = Instant::now();
        let mut health = StreamHealth::new(start);
        let at = start + WINDOW;
        let video = |dts| Frame::Video {
            dts,
            composition_offset: 0,
            keyframe: true,
            data: Bytes::new(),
        };
        health.observe(&video(10_000), at);
        health.observe(
            &Frame::Audio {
                dts: 7_000,
                data: Bytes::new(),
            },
            at,
        );
        assert_eq!(codes(&health.check(at)), vec![("av_drift", true)]);
        health.observe(
            &Frame::Audio {
                dts: 9_900,
                data: Bytes::new(),
            },
            at,
        );
        assert_eq!(codes(&health.check(at)), vec![("av_drift", false)]);
    }
}
