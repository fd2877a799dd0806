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

use sigma_shared::log::{EventLog, LogError, Pace};

pub use follow::{CaughtUp, EventsFeed};

/// `fetch.wait.max.ms` of Kafka consumers by [`Pace`]: how long the broker may hold a fetch
/// when there is nothing new. Apache Kafka answers as soon as data arrives, so there a wait only
/// bounds idle polling; tansu 0.6 always holds a fetch this long, so there it adds up to this
/// much latency per hop, and each idle fetch is work for it (a poll of its SQLite).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchWaits {
    /// For [`Pace::Prompt`] members and for every reader outside a group.
    pub prompt_ms: u32,
    /// For [`Pace::Relaxed`] members.
    pub relaxed_ms: u32,
}

/// 10 ms for a prompt member, 250 ms for a relaxed one.
impl Default for FetchWaits {
    fn default() -> Self {
        Self {
            prompt_ms: 10,
            relaxed_ms: 250,
        }
    }
}

impl FetchWaits {
    pub fn of(&self, pace: Pace) -> u32 {
        match pace {
            Pace::Prompt => self.prompt_ms,
            Pace::Relaxed => self.relaxed_ms,
        }
    }
}

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
        /// How long the broker may hold each consumer's fetches when there is nothing new.
        fetch_waits: FetchWaits,
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
            fetch_waits,
        } => Arc::new(kafka::KafkaLog::connect(
            brokers,
            *partitions,
            *fetch_waits,
        )?),
        #[cfg(not(feature = "kafka"))]
        LogConfig::Kafka { .. } => {
            return Err(LogError::Kafka("this build has no Kafka adapter".into()))
        }
    })
}
