//! What viewers and players put into HTTP requests, read by pure, bounded code apart from
//! the server that answers them, so each reader can be fuzzed on its own.
//!
//! - [`range`]: `Range: bytes=…` (RFC 9110 §14) against an object's size.
//! - [`playlist`]: a playlist request's query: the playback pass and LL-HLS's blocking-reload
//!   and delta directives (RFC 8216bis §6.2.5).

pub mod playlist;
pub mod range;
