//! The edge worker: accepts RTMP publishers, turns their FLV into CMAF parts and segments, stores
//! them and publishes their events to the log. It holds no state that another worker could not
//! rebuild, so a publisher may reconnect to any worker.
//!
//! Not built yet: ingest arrives with the live-ingest issue. Until then the standalone `sigma`
//! process is the whole platform and this crate only reserves its place in the workspace.
