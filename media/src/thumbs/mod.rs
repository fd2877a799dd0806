//! Thumbnails' pure parts: cutting ffmpeg's MJPEG stream into images ([`jpeg`]) and tiling them
//! into storyboard sprites ([`sprite`]).

pub mod jpeg;
pub mod sprite;
