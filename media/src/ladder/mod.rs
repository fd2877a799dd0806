//! The ABR ladder's pure parts: which renditions to encode and with what ffmpeg arguments
//! ([`plan`]), reading ffmpeg's fragmented MP4 back into frames ([`demux`]), and mapping its
//! timestamps onto the source's ([`timeline`]).

pub mod demux;
pub mod plan;
pub mod timeline;

pub use plan::{parse_ladder, plan, Rendition, Rung, DEFAULT_LADDER};
