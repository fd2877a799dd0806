//! FLV: whole files and single audio and video tag bodies, as RTMP carries them.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sigma_media::flv;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let _ = flv::file_frames(&bytes);
    let _ = flv::video(0, &bytes);
    let _ = flv::audio(i64::MAX, &bytes);
});
