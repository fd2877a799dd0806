//! Pure media code, with no I/O: what the edge worker and the tests use to read what publishers
//! send and to package it.
//!
//! [`flv`] parses FLV tag bodies into frames and [`h264`] reads picture sizes; [`cmaf`] packages
//! frames into an init segment, LL-HLS parts and segments cut on keyframes; [`ladder`] plans the
//! ABR renditions ffmpeg encodes and reads back what it gives; [`thumbs`] cuts ffmpeg's JPEG
//! stream into images and tiles storyboard sprites; [`health`] judges a stream's frames against
//! the alert rules. Every function here is a function of its input: the edge worker does the
//! sockets, the processes and the storage.

pub mod cmaf;
pub mod flv;
pub mod h264;
pub mod health;
pub mod ladder;
pub mod thumbs;
