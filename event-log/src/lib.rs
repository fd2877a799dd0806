//! Adapters of the event-log port ([`sigma_shared::log::EventLog`]).
//!
//! - [`embedded`]: append-only files in the data directory, for standalone mode. Durable (each
//!   append is fsynced before it is acknowledged), with in-process wake-ups so a follower sees a
//!   new record within microseconds.
//! - [`kafka`]: Kafka through rdkafka, for scale-out: an idempotent producer, explicit
//!   partitions from [`sigma_shared::log::partition_for`], consumer groups with committed offsets.
//!
//! [`EventsFeed`] folds the events topic into a process's memory, with one follower per process.
//!
//! With the `testing` feature, [`conformance`] is the suite both adapters must pass and
//! [`testing`] starts a real Kafka-protocol broker (tansu) for it.
//!
//! This crate may depend on `sigma-shared` and I/O libraries; nothing here knows about channels.

pub mod embedded;
mod follow;
#[cfg(feature = "kafka")]
pub mod kafka;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use sigma_shared::log::{EventLog, LogError};

pub use follow::{CaughtUp, EventsFeed};

/// Where the log lives, from configuration.
#[derive(Clone, Debug)]
pub enum LogConfig {
    Embedded {
        dir: std::path::PathBuf,
        partitions: u32,
    },
    Kafka {
        brokers: String,
        partitions: u32,
        /// `fetch.wait.max.ms` of every consumer: how long the broker may hold a fetch when
        /// there is nothing new. Apache Kafka answers as soon as data arrives, so there it only
        /// bounds idle polling; tansu 0.6 always holds a fetch this long, so there it adds up
        /// to this much latency per hop.
        fetch_wait_ms: u32,
    },
}

/// Opens the configured adapter.
pub async fn open(config: &LogConfig) -> Result<Arc<dyn EventLog>, LogError> {
    Ok(match config {
        LogConfig::Embedded { dir, partitions } => {
            Arc::new(embedded::EmbeddedLog::open(dir, *partitions)?)
        }
        #[cfg(feature = "kafka")]
        LogConfig::Kafka {
            brokers,
            partitions,
            fetch_wait_ms,
        } => Arc::new(kafka::KafkaLog::connect(
            brokers,
            *partitions,
            *fetch_wait_ms,
        )?),
        #[cfg(not(feature = "kafka"))]
        LogConfig::Kafka { .. } => {
            return Err(LogError::Kafka("this build has no Kafka adapter".into()))
        }
    })
}
