//! The ladder's fragmented-MP4 demuxer on any bytes, fed in pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigma_media::ladder::demux::Demuxer;

fuzz_target!(|data: &[u8]| {
    let mut demuxer = Demuxer::default();
    for piece in data.chunks(997) {
        if demuxer.push(piece).is_err() {
            return;
        }
    }
});
