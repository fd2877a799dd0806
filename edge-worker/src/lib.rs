//! The edge worker: accepts RTMP publishers, turns their FLV into CMAF parts and segments (with
//! the pure packager of `sigma-media`), stores them in the object store and announces them on
//! the log. It holds no state another worker could not rebuild from the log, so a publisher may
//! reconnect to any worker, and it opens no database.
//!
//! The flow of a publisher: [`rtmp`] accepts it and asks the [`ingest`] ports, which
//! [`publication`] answers — admission finds the stream key's channel in a directory folded
//! from the events and asks the channel's decider through the [`bus`] (within the account's
//! [`quotas`]); the stored publication writes each piece through [`storage`] (the object store,
//! or memory while it fails) and announces it on the media topic, and supervises the ABR
//! [`ladder`] (one ffmpeg per session) and the thumbnailer ([`thumbs`]), both through the
//! bounded sidecar [`ffmpeg`]. [`node`] sends the heartbeat that says what is ingested here;
//! [`metrics`] are the figures ingest reports.
//!
//! Depends on the domain (`sigma-shared`), the media code (`sigma-media`) and the log adapters;
//! never on the control plane or a database.

pub mod bus;
pub mod ffmpeg;
pub mod ingest;
pub mod ladder;
pub mod metrics;
pub mod node;
pub mod publication;
pub mod quotas;
pub mod rtmp;
pub mod storage;
pub mod thumbs;
