//! The source's timestamps, handed to the ladder's output frame by frame.
//!
//! ffmpeg 5.1's fragmented-MP4 muxer rebases every track to start at zero, whatever `-copyts`
//! says, so the renditions' own timestamps cannot be trusted to line up with the source's. They
//! do not need to: with `-fps_mode passthrough` every source frame becomes exactly one frame of
//! each rendition, in presentation order, and copied audio keeps its samples one for one. So the
//! n-th frame out of an encoder takes the presentation time of the n-th source frame, and the
//! renditions carry the source's presentation times exactly. A keyframe that lands on a source
//! non-keyframe (a frame the decoder dropped) re-aligns at the next source keyframe. Pure.

use std::collections::VecDeque;

use crate::flv::Frame;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SourceFrame {
    pts: i64,
    keyframe: bool,
}

/// One ladder process's view of the source: video frames in presentation order, audio frames
/// in order, each consumed by every output at its own pace.
#[derive(Debug)]
pub struct Timeline {
    video: VecDeque<SourceFrame>,
    /// How many video frames were dropped from the front (consumed by every rendition).
    video_base: u64,
    /// The next video frame (absolute index) of each rendition.
    cursors: Vec<u64>,
    audio: VecDeque<i64>,
}

impl Timeline {
    pub fn new(renditions: usize) -> Self {
        Self {
            video: VecDeque::new(),
            video_base: 0,
            cursors: vec![0; renditions],
            audio: VecDeque::new(),
        }
    }

    /// Records a source frame (fed to ffmpeg right after).
    pub fn source(&mut self, frame: &Frame) {
        match frame {
            Frame::Video {
                dts,
                composition_offset,
                keyframe,
                ..
            } => {
                let entry = SourceFrame {
                    pts: dts + i64::from(*composition_offset),
                    keyframe: *keyframe,
                };
                // Decode order → presentation order: B-frames land a few places back.
                let at = self
                    .video
                    .iter()
                    .rposition(|frame| frame.pts <= entry.pts)
                    .map_or(0, |position| position + 1);
                self.video.insert(at, entry);
            }
            Frame::Audio { dts, .. } => self.audio.push_back(*dts),
            Frame::VideoConfig(_) | Frame::AudioConfig(_) => {}
        }
    }

    /// The presentation time of rendition `rendition`'s next frame; `None` if the source has
    /// no frame for it (ffmpeg produced more frames than it was given).
    pub fn video(&mut self, rendition: usize, keyframe: bool) -> Option<i64> {
        let mut index = (self.cursors[rendition] - self.video_base) as usize;
        if keyframe {
            // Re-align: the encoder's keyframes are the source's keyframes.
            while self.video.get(index).is_some_and(|frame| !frame.keyframe) {
                index += 1;
            }
        }
        let pts = self.video.get(index)?.pts;
        self.cursors[rendition] = self.video_base + index as u64 + 1;
        let consumed = self.cursors.iter().min().copied().unwrap_or(0);
        while self.video_base < consumed {
            self.video.pop_front();
            self.video_base += 1;
        }
        Some(pts)
    }

    /// The timestamp of the next copied audio frame.
    pub fn audio(&mut self) -> Option<i64> {
        self.audio.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(dts: i64, composition_offset: i32, keyframe: bool) -> Frame {
        Frame::Video {
            dts,
            composition_offset,
            keyframe,
            data: bytes::Bytes::new(),
        }
    }

    #[test]
    fn b_frames_are_handed_out_in_presentation_order_to_every_rendition() {
        let mut timeline = Timeline::new(2);
        // I P B B in decode order; presentation 67, 167, 100, 133.
        for frame in [
            video(0, 67, true),
            video(33, 134, false),
            video(67, 33, false),
            video(100, 33, false),
        ] {
            timeline.source(&frame);
        }
        let first: Vec<_> = [true, false, false, false]
            .into_iter()
            .map(|key| timeline.video(0, key))
            .collect();
        assert_eq!(first, [Some(67), Some(100), Some(133), Some(167)]);
        assert_eq!(
            timeline.video(1, true),
            Some(67),
            "each rendition reads on its own"
        );
        assert_eq!(timeline.video(0, false), None, "no more source frames");
    }

    #[test]
    fn a_keyframe_realigns_on_the_next_source_keyframe() {
        let mut timeline = Timeline::new(1);
        for (n, key) in [true, false, false, true, false].into_iter().enumerate() {
            timeline.source(&video(n as i64 * 33, 0, key));
        }
        assert_eq!(timeline.video(0, true), Some(0));
        // The decoder dropped frame 1: the encoder's next keyframe is source frame 3.
        assert_eq!(timeline.video(0, false), Some(33));
        assert_eq!(timeline.video(0, true), Some(99));
        assert_eq!(timeline.video(0, false), Some(132));
    }

    #[test]
    fn audio_keeps_its_order_and_consumed_video_is_forgotten() {
        let mut timeline = Timeline::new(1);
        timeline.source(&Frame::Audio {
            dts: 46,
            data: bytes::Bytes::new(),
        });
        timeline.source(&video(0, 0, true));
        assert_eq!(timeline.audio(), Some(46));
        assert_eq!(timeline.audio(), None);
        assert_eq!(timeline.video(0, true), Some(0));
        assert!(timeline.video.is_empty());
    }
}
