//! The Sigma Live control plane.
//!
//! Commands come in through the HTTP API, are appended to the log, decided by the single
//! decider that owns their partition, and projected into the read models the API serves.
//!
//! # Layout
//! - [`api`]: HTTP handlers, authentication, rate limits, OpenAPI and docs.
//! - [`decide`]: the deciders, one writer per partition.
//! - [`follow`]: where in-memory folds of the events started from the read models go on from.
//! - [`project`]: the projections (one file each), the live projector and replay.
//! - [`db`]: the read-model tables.
//! - [`analytics`]: viewer spans projected from the playback processes' activity reports,
//!   and the audience reports (CCU, views, watch time) read from them.
//! - [`quotas`]: the channels and webhooks an account may have, counted on the read models.
//! - [`recording`]: source recordings finalized after their sessions end.
//! - [`retention`]: catch-up media deleted when their retention period is over.
//! - [`webhooks`]: the delivery outbox, the dispatcher, signatures and target checks.
//! - [`nodes`]: the monitor that declares nodes whose heartbeats stop lost.
//! - [`health`], [`metrics`]: readiness and Prometheus metrics.
//! - [`secrets`]: the admin key, signing keys and secrets key kept in the data dir.
//! - [`sealing`]: stream keys and webhook secrets sealed under the secrets key.
//!
//! It depends on `sigma-shared` for the domain, on `sigma-event-log` for the log adapters, and
//! serves `sigma-playback` (live playlists and media for any stream, from the log) beside the API.
//! The command bus, ingest and the live store are `sigma-edge-worker`'s (the API submits through
//! the same bus). The `sigma` crate wires it all into processes.

pub mod analytics;
pub mod api;
pub mod db;
pub mod decide;
pub mod health;
pub mod metrics;
pub mod nodes;
pub mod project;
pub mod quotas;
pub mod recording;
pub mod retention;
pub mod sealing;
pub mod secrets;
pub mod webhooks;
