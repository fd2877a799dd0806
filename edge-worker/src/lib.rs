//! The edge worker: accepts RTMP publishers, turns their FLV into CMAF parts and segments, stores
//! them and publishes their events to the log. It holds no state that another worker could not
//! rebuild, so a publisher may reconnect to any worker.
//!
//! Built so far, all pure (no I/O): [`flv`] parses FLV tag bodies into frames, [`h264`] reads
//! picture sizes, [`cmaf`] packages frames into an init segment, LL-HLS parts and segments cut
//! on keyframes. The RTMP server, storage and events come next (issue 3).

pub mod cmaf;
pub mod flv;
pub mod h264;
