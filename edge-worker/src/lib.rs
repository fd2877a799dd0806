//! The edge worker: accepts RTMP publishers, turns their FLV into CMAF parts and segments, stores
//! them and publishes their events to the log. It holds no state that another worker could not
//! rebuild, so a publisher may reconnect to any worker.
//!
//! [`rtmp`] accepts publishers and admits them through the [`ingest`] ports; [`flv`] parses FLV
//! tag bodies into frames, [`h264`] reads picture sizes, [`cmaf`] packages frames into an init
//! segment, LL-HLS parts and segments cut on keyframes (all pure); [`ladder`] runs one ffmpeg
//! per session for the ABR renditions and packages them the same way. The ports are wired to
//! the log and the object store by the process that runs ingest (`sigma`'s `ingest` module).
//!
//! Depends on the domain only through the ports; never on the control plane.

pub mod cmaf;
pub mod ffmpeg;
pub mod flv;
pub mod h264;
pub mod health;
pub mod ingest;
pub mod ladder;
pub mod rtmp;
pub mod thumbs;
