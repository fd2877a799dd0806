//! Node health: every process says it is alive on the heartbeats topic, with the sessions it
//! ingests; the node monitor declares a node lost when its heartbeats stop, and hands its
//! sessions back to the log's timers — their publishers are marked gone (so they may reconnect
//! to any other worker within the reconnect window) and a `node_lost` alert is raised.
//!
//! The edge worker's `node` module sends (`sigma_shared::heartbeat` is what a heartbeat says),
//! [`liveness`] judges (pure), [`monitor`] acts.

pub mod liveness;
pub mod monitor;

pub use sigma_shared::heartbeat::{Heartbeat, Ingesting};
