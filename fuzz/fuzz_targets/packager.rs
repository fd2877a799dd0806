//! `Packager::push` with any sequence of frames after real codec configurations: timestamps
//! that jump, stand still or wrap, keyframes that never come, audio without video, frames of
//! any size. Never a panic, and never more held than a segment's worth.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sigma_media::cmaf::{Packager, PackagerConfig, MAX_SEGMENT_BYTES};
use sigma_media::flv::Frame;

/// x264's configuration record for 320x180, High profile.
const AVCC: &str =
    "0164000dffe1001a6764000dacd941419f9f0110000003001000000303c0f142996001000468ef8fcbfdf8f800";
/// AAC LC, 48 kHz, stereo.
const ASC: [u8; 2] = [0x11, 0x90];

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut packager = Packager::new(PackagerConfig {
        part_target_ms: 200,
        segment_target_ms: 1000,
    });
    let configs = [
        Frame::VideoConfig(Bytes::from(hex(AVCC))),
        Frame::AudioConfig(Bytes::from_static(&ASC)),
    ];
    for config in configs {
        packager.push(config).expect("real configurations");
    }
    let mut clock: i64 = 0;
    // Each frame is 6 bytes of instructions: kind, timestamp step, size (scaled up), offset.
    for op in data.chunks_exact(6) {
        let step = i64::from(i16::from_be_bytes([op[1], op[2]]));
        clock = clock.wrapping_add(step);
        let size = usize::from(u16::from_be_bytes([op[3], op[4]])) * 16;
        let payload = Bytes::from(vec![op[5]; size]);
        let frame = match op[0] % 4 {
            0 => Frame::Video {
                dts: clock,
                composition_offset: i32::from(op[5]) * 33,
                keyframe: true,
                data: payload,
            },
            1 => Frame::Video {
                dts: clock,
                composition_offset: 0,
                keyframe: false,
                data: payload,
            },
            2 => Frame::Audio {
                dts: clock,
                data: payload,
            },
            _ => Frame::VideoConfig(Bytes::from(hex(AVCC))),
        };
        if packager.push(frame).is_err() {
            return;
        }
        assert!(packager.held_bytes() <= MAX_SEGMENT_BYTES + 2 * 16 * usize::from(u16::MAX));
    }
    let _ = packager.finish();
});
