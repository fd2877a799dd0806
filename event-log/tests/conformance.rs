//! The event-log conformance suite, run against both adapters. The Kafka run talks to a real
//! tansu broker (one per test, so a broker restart in one test cannot disturb another).

use std::sync::Arc;

use async_trait::async_trait;
use sigma_event_log::conformance::{Backend, PARTITIONS};
use sigma_event_log::embedded::EmbeddedLog;
use sigma_event_log::kafka::KafkaLog;
use sigma_event_log::testing::Tansu;
use sigma_event_log::FetchWaits;
use sigma_shared::log::EventLog;
use tokio::sync::Mutex;

struct Embedded {
    dir: tempfile::TempDir,
}

#[async_trait]
impl Backend for Embedded {
    async fn open(&self) -> Arc<dyn EventLog> {
        Arc::new(EmbeddedLog::open(self.dir.path(), PARTITIONS).unwrap())
    }

    async fn restart_storage(&self) {}
}

struct Kafka {
    broker: Mutex<Tansu>,
    brokers: String,
}

#[async_trait]
impl Backend for Kafka {
    async fn open(&self) -> Arc<dyn EventLog> {
        Arc::new(KafkaLog::connect(&self.brokers, PARTITIONS, FetchWaits::default()).unwrap())
    }

    async fn restart_storage(&self) {
        self.broker.lock().await.restart().await;
    }
}

macro_rules! suite {
    ($backend:ident: $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let backend = super::$backend().await;
                sigma_event_log::conformance::$check(&backend).await;
            }
        )*
    };
}

async fn embedded() -> Embedded {
    Embedded {
        dir: tempfile::tempdir().unwrap(),
    }
}

async fn kafka() -> Kafka {
    let broker = Tansu::start().await;
    let brokers = broker.brokers();
    Kafka {
        broker: Mutex::new(broker),
        brokers,
    }
}

mod embedded {
    suite!(embedded: per_key_order, bounded_reads_stop_at_the_end_offset, followers_see_new_records,
        records_survive_a_restart, groups_resume_from_committed_offsets, a_surviving_member_takes_over,
        offsets_are_found_by_time);
}

mod kafka {
    suite!(kafka: per_key_order, bounded_reads_stop_at_the_end_offset, followers_see_new_records,
        records_survive_a_restart, groups_resume_from_committed_offsets, a_surviving_member_takes_over,
        offsets_are_found_by_time);
}
