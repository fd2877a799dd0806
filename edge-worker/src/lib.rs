//! The edge worker: accepts RTMP publishers, turns their FLV into CMAF parts and segments (with
//! the pure packager of `sigma-media`), and hands them to the ingest ports, which store them and
//! publish their events to the log. It holds no state that another worker could not rebuild, so
//! a publisher may reconnect to any worker.
//!
//! [`rtmp`] accepts publishers and admits them through the [`ingest`] ports; [`ladder`] runs one
//! ffmpeg per session for the ABR renditions and packages them like the source; [`thumbs`] runs
//! the ffmpeg that takes thumbnails; [`ffmpeg`] is the bounded sidecar both use. The ports are
//! wired to the log and the object store by the process that runs ingest (`sigma`'s `ingest`
//! module).
//!
//! Depends on the domain only through the ports; never on the control plane.

pub mod ffmpeg;
pub mod ingest;
pub mod ladder;
pub mod rtmp;
pub mod thumbs;
