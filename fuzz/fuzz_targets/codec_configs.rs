//! What a publisher's sequence headers carry: an AVCDecoderConfigurationRecord (and the SPS in
//! it), an AudioSpecificConfig. Refused or read, never a panic; a size read is within limits.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sigma_media::cmaf::{AudioTrack, VideoTrack};
use sigma_media::h264;

fuzz_target!(|data: &[u8]| {
    if let Some((width, height)) = h264::picture_size(data) {
        assert!(width <= h264::MAX_DIMENSION && height <= h264::MAX_DIMENSION);
    }
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(track) = VideoTrack::from_config(&bytes) {
        assert!(track.width <= h264::MAX_DIMENSION && track.height <= h264::MAX_DIMENSION);
    }
    let _ = AudioTrack::from_config(&bytes);
});
