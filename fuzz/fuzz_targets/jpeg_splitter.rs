//! The thumbnailer's JPEG splitter on any bytes, fed in pieces: what it holds stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigma_media::thumbs::jpeg::{JpegSplitter, MAX_PICTURE_BYTES};

fuzz_target!(|data: &[u8]| {
    let mut splitter = JpegSplitter::default();
    for piece in data.chunks(1021) {
        for picture in splitter.push(piece) {
            assert!(picture.starts_with(&[0xFF, 0xD8]) && picture.ends_with(&[0xFF, 0xD9]));
        }
        assert!(splitter.held_bytes() <= MAX_PICTURE_BYTES + 1021);
    }
});
