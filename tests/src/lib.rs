//! The harness of the black-box tests: start `sigma` processes as users do (environment
//! variables, a data dir), talk to them over real HTTP, and look at what they stored.
//!
//! It may depend on the domain crate (to speak the log's language where a test plays an edge
//! worker) and on the log's test broker; never on the control plane's internals.

pub mod api;
pub mod browser;
pub mod database;
pub mod deployment;
pub mod edge;
pub mod front;
pub mod hls;
pub mod metrics;
pub mod probe;
pub mod process;
pub mod publish;
pub mod receiver;
pub mod rtmp;
pub mod s3;
pub mod secrets;
pub mod topology;
pub mod viewer;
pub mod wait;
pub mod witness;
