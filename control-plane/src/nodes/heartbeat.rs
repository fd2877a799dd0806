//! Sends this process's heartbeat every interval, keyed by its node id.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sigma_shared::log::{EventLog, HEARTBEATS_TOPIC};

use super::{Heartbeat, Publishing};

/// Runs for the life of the process. A failed append is logged and tried at the next beat: a
/// node that cannot reach the log is, for everyone else, a lost node.
pub async fn run(
    log: Arc<dyn EventLog>,
    node_id: String,
    role: &'static str,
    publishing: Publishing,
    every: Duration,
) {
    let mut beats = tokio::time::interval(every);
    loop {
        beats.tick().await;
        let heartbeat = Heartbeat {
            node_id: node_id.clone(),
            role: role.to_owned(),
            sent_at: Utc::now(),
            ingesting: publishing.snapshot(),
        };
        let payload = serde_json::to_vec(&heartbeat).expect("a heartbeat serializes");
        if let Err(error) = log.append(HEARTBEATS_TOPIC, &node_id, &payload).await {
            tracing::warn!(%error, "heartbeat not sent");
        }
    }
}
